"""The "Regularization" notebook's API (its ``reg_utils``, L2 and dropout), compiled.

Replace ``from reg_utils import *`` (and the notebook's own functions) by
``from fastnn.regularization import *``. The network is
``LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID``; gradient dicts use the
notebook's upper-case keys (``dZ3``, ``dA2``, ...).
"""

import numpy as np

from . import _facade as f
from . import _validation as v
from .datasets import load_2D_dataset
from .initialization import relu, sigmoid, update_parameters
from .network import initialize
from .plots import plot_decision_boundary

__all__ = [
    "sigmoid",
    "relu",
    "load_2D_dataset",
    "initialize_parameters",
    "forward_propagation",
    "backward_propagation",
    "update_parameters",
    "compute_cost",
    "compute_cost_with_regularization",
    "backward_propagation_with_regularization",
    "forward_propagation_with_dropout",
    "backward_propagation_with_dropout",
    "predict",
    "predict_dec",
    "plot_decision_boundary",
    "model",
]


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``, then ``randn(n_l, n_prev) / sqrt(n_prev)``; zero biases.

    Parameters
    ----------
    layer_dims : list of int
        Layer sizes ``[n_x, n_1, ..., n_L]``.

    Returns
    -------
    dict
        ``{"W1": ..., "b1": ..., ...}``.
    """
    return initialize(v.check_layer_dims(layer_dims, "layer_dims"), "xavier", seed=3).params


def forward_propagation(X, parameters):
    """Forward pass of the three-layer network.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
        ``W1, b1, W2, b2, W3, b3``.

    Returns
    -------
    A3 : ndarray of shape (1, m)
    cache : tuple
        ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``.
    """
    X, Ws, bs = f.net_inputs(X, parameters, L=3)
    Zs, As, Ds = f.forward(X, Ws, bs)
    return As[-1], f.three_layer_cache(Ws, bs, Zs, As, Ds)


def _backward(X, Y, cache, lambd=0.0, keep_prob=1.0, dropout=False):
    X, Y, Ws, Zs, As, Ds = f.unpack_three_layer_cache(X, Y, cache, dropout=dropout)
    return f.gradient_dict(*f.backward(Y, Ws, Zs, As, Ds, form="dw", lambd=lambd,
                                       keep_prob=keep_prob))


def backward_propagation(X, Y, cache):
    """Backward pass without regularisation.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    cache : tuple
        From :func:`forward_propagation`.

    Returns
    -------
    dict
        ``dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1``.
    """
    return _backward(X, Y, cache)


def compute_cost(a3, Y):
    """Mean cross-entropy with ``np.nansum`` (no epsilon).

    Parameters
    ----------
    a3 : array_like of shape (1, m)
    Y : array_like of shape (1, m)

    Returns
    -------
    float
    """
    return f.cross_entropy(a3, Y, "nansum", "a3")


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy plus the L2 penalty ``(lambd / (2 m)) * sum of every W**2``.

    Parameters
    ----------
    A3 : array_like of shape (1, m)
    Y : array_like of shape (1, m)
    parameters : dict
        ``W1, b1, ...``; every ``W`` is penalised.
    lambd : float
        Regularisation strength (>= 0).

    Returns
    -------
    float
    """
    lambd = v.check_real(lambd, "lambd", low=0.0)
    Ws, _ = v.layer_arrays(parameters, "parameters", chain=False)
    cross_entropy = f.cross_entropy(A3, Y, "nansum", "A3")
    from ._backend import kernel_module

    K = kernel_module()
    m = np.shape(A3)[-1]
    squares = sum(K.sum_squares(np.ascontiguousarray(W)) for W in Ws)
    return cross_entropy + 1.0 / m * lambd / 2 * squares


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """Backward pass with the L2 term ``(lambd / m) * W`` added to every ``dW``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    cache : tuple
        From :func:`forward_propagation`.
    lambd : float
        Regularisation strength (>= 0).

    Returns
    -------
    dict
        Gradients with the notebook's upper-case keys.
    """
    lambd = v.check_real(lambd, "lambd", low=0.0)
    return _backward(X, Y, cache, lambd=lambd)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """Forward pass with inverted dropout on the two hidden layers.

    As the notebook, ``np.random.seed(1)`` is called on every call; the masks are
    ``np.random.rand(...) < keep_prob`` (bit-identical to the notebook's, and NumPy's
    global random state is left where the notebook leaves it).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
    keep_prob : float in (0, 1]

    Returns
    -------
    A3 : ndarray of shape (1, m)
    cache : tuple
        ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``, masks ``D`` boolean.
    """
    keep_prob = v.check_keep_prob(keep_prob)
    X, Ws, bs = f.net_inputs(X, parameters, L=3)
    Zs, As, Ds = f.forward(X, Ws, bs, keep_prob=keep_prob)
    if keep_prob == 1.0:
        # the notebook still seeds and draws its (all-True) masks at keep_prob = 1
        np.random.seed(1)
        Ds = [np.random.rand(*A.shape) < 1.0 for A in As[1:-1]] + [None]
    return As[-1], f.three_layer_cache(Ws, bs, Zs, As, Ds)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """Backward pass through the dropout masks: ``dA = dA * D / keep_prob``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    cache : tuple
        From :func:`forward_propagation_with_dropout` (14 entries).
    keep_prob : float in (0, 1]

    Returns
    -------
    dict
        Gradients with the notebook's upper-case keys.
    """
    keep_prob = v.check_keep_prob(keep_prob)
    return _backward(X, Y, cache, keep_prob=keep_prob, dropout=True)


def predict(X, y, parameters):
    """Predict 0/1 labels and print ``"Accuracy: <mean(p == y)>"``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    y : array_like of shape (1, m)
    parameters : dict

    Returns
    -------
    ndarray of int, shape (1, m)
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


def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0,
          keep_prob=1):
    """Train the notebook's ``[n_x, 20, 3, 1]`` network, optionally with L2 or dropout.

    Full-batch gradient descent in one compiled call per 10000 iterations. Dropout masks
    are the notebook's (reseeded with 1 on every forward pass). The notebook allows one
    of L2 and dropout at a time; fastnn accepts both together.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    learning_rate : float, default 0.3
    num_iterations : int, default 30000
    print_cost : bool, default True
        Print ``"Cost after iteration i: cost"`` every 10000 iterations.
    lambd : float, default 0
        L2 strength.
    keep_prob : float, default 1
        Dropout keep probability on the hidden layers.

    Returns
    -------
    dict
        The trained parameters.
    """
    parameters, _ = f.fit(X, Y, [None, 20, 3, 1], init="xavier", seed=3,
                          learning_rate=learning_rate, num_epochs=num_iterations,
                          lambd=lambd, keep_prob=keep_prob, dropout_seed=1,
                          cost_mode="nansum", grad_form="dw", cost_every=1000,
                          print_every=10000 if print_cost else None)
    return parameters
