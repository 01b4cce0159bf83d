"""The "Initialization" notebook's API (its ``init_utils`` and model), compiled.

Replace ``from init_utils import *`` by ``from fastnn.initialization import *``: the same
names, signatures, seeds, return structures and printed lines, computed by the kernels
of the selected backend (:func:`fastnn.set_backend`).

The network is ``LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID``; gradient dicts
use the notebook's lower-case keys (``dz3``, ``da2``, ...).
"""

import numpy as np

from . import _facade as f
from . import _validation as v
from . import datasets
from .network import initialize
from .plots import plot_decision_boundary

__all__ = [
    "sigmoid",
    "relu",
    "load_dataset",
    "initialize_parameters_zeros",
    "initialize_parameters_random",
    "initialize_parameters_he",
    "forward_propagation",
    "backward_propagation",
    "compute_loss",
    "update_parameters",
    "predict",
    "predict_dec",
    "plot_decision_boundary",
    "model",
]


def sigmoid(x):
    """Sigmoid of ``x``, ``1 / (1 + exp(-x))``, elementwise.

    Parameters
    ----------
    x : scalar or array_like

    Returns
    -------
    ndarray or float
    """
    x = v.as_float_array(x, "x", finite=False)
    return 1 / (1 + np.exp(-x))


def relu(x):
    """ReLU of ``x``, ``max(0, x)``, elementwise.

    Parameters
    ----------
    x : scalar or array_like

    Returns
    -------
    ndarray or float
    """
    x = v.as_float_array(x, "x", finite=False)
    return np.maximum(0, x)


def load_dataset():
    """The notebook's circles: 300 training points (seed 1) and 100 test points (seed 2).

    Returns
    -------
    train_X : ndarray of shape (2, 300)
    train_Y : ndarray of shape (1, 300)
    test_X : ndarray of shape (2, 100)
    test_Y : ndarray of shape (1, 100)
    """
    return datasets.circles()


def _init(layers_dims, scheme):
    return initialize(v.check_layer_dims(layers_dims), scheme, seed=3).params


def initialize_parameters_zeros(layers_dims):
    """All weights and biases zero.

    Parameters
    ----------
    layers_dims : list of int
        Layer sizes ``[n_x, n_1, ..., n_L]``.

    Returns
    -------
    dict
        ``{"W1": (n_1, n_x), "b1": (n_1, 1), ...}``.
    """
    return _init(layers_dims, "zeros")


def initialize_parameters_random(layers_dims):
    """Large random weights: ``np.random.seed(3)``, ``randn(n_l, n_prev) * 10``.

    Parameters
    ----------
    layers_dims : list of int

    Returns
    -------
    dict
        Weights and zero biases.
    """
    return _init(layers_dims, "random")


def initialize_parameters_he(layers_dims):
    """He initialisation: ``np.random.seed(3)``, ``randn(n_l, n_prev) * sqrt(2 / n_prev)``.

    Parameters
    ----------
    layers_dims : list of int

    Returns
    -------
    dict
        Weights and zero biases.
    """
    return _init(layers_dims, "he")


def forward_propagation(X, parameters):
    """Forward pass of the three-layer network.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
        ``W1, b1, W2, b2, W3, b3``.

    Returns
    -------
    a3 : ndarray of shape (1, m)
        The sigmoid output.
    cache : tuple
        ``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``.
    """
    X, Ws, bs = f.net_inputs(X, parameters, L=3)
    Zs, As, Ds = f.forward(X, Ws, bs)
    return As[-1], f.three_layer_cache(Ws, bs, Zs, As, Ds)


def backward_propagation(X, Y, cache):
    """Backward pass: gradients of the mean cross-entropy.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
        Labels.
    cache : tuple
        What :func:`forward_propagation` returned.

    Returns
    -------
    dict
        ``dz3, dW3, db3, da2, dz2, dW2, db2, da1, dz1, dW1, db1`` (``dz3 = (a3 - Y) / m``).
    """
    X, Y, Ws, Zs, As, Ds = f.unpack_three_layer_cache(X, Y, cache)
    return f.gradient_dict(*f.backward(Y, Ws, Zs, As, Ds, form="dz"), lower=True)


def compute_loss(a3, Y):
    """Mean cross-entropy with ``np.nansum`` (no epsilon: a saturated output gives inf).

    Parameters
    ----------
    a3 : array_like of shape (1, m)
        Predicted probabilities.
    Y : array_like of shape (1, m)
        Labels.

    Returns
    -------
    float
    """
    return f.cross_entropy(a3, Y, "nansum", "a3")


def update_parameters(parameters, grads, learning_rate):
    """Gradient-descent step ``W -= learning_rate * dW``, in place.

    Parameters
    ----------
    parameters : dict
        ``W1, b1, ...``; the arrays are updated in place.
    grads : dict
        ``dW1, db1, ...`` of matching shapes.
    learning_rate : float
        Positive.

    Returns
    -------
    dict
        ``parameters``, the same dict object.
    """
    lr = v.check_positive(learning_rate, "learning_rate")
    return f.update_step(parameters, grads, (), "sgd", (lr,))


def predict(X, y, parameters):
    """Predict 0/1 labels and print the accuracy, as the notebook does.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    y : array_like of shape (1, m)
        True labels.
    parameters : dict

    Returns
    -------
    ndarray of int, shape (1, m)
        Prints ``"Accuracy: <mean(p == y)>"``.
    """
    return f.predict_labels(X, y, parameters)


def predict_dec(parameters, X):
    """Boolean predictions ``a3 > 0.5`` for decision-boundary plots.

    Parameters
    ----------
    parameters : dict
    X : array_like of shape (n_x, m)

    Returns
    -------
    ndarray of bool, shape (1, m)
    """
    return f.predict_dec(parameters, X)


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True,
          initialization="he"):
    """Train the notebook's ``[n_x, 10, 5, 1]`` network with full-batch gradient descent.

    The whole loop runs in one compiled call per 1000 iterations (between which the
    cost is printed).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    learning_rate : float, default 0.01
    num_iterations : int, default 15000
    print_cost : bool, default True
        Print ``"Cost after iteration i: cost"`` every 1000 iterations.
    initialization : {"zeros", "random", "he"}

    Returns
    -------
    dict
        The trained parameters.
    """
    v.check_choice(initialization, "initialization", ("zeros", "random", "he"))
    parameters, _ = f.fit(X, Y, [None, 10, 5, 1], init=initialization, seed=3,
                          learning_rate=learning_rate, num_epochs=num_iterations,
                          cost_mode="nansum", grad_form="dz", cost_every=1000,
                          print_every=1000 if print_cost else None)
    return parameters
