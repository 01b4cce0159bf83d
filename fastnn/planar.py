"""The planar-data notebook's API (one hidden tanh layer, and ``planar_utils``), compiled.

Replace ``from planar_utils import *`` (and the notebook's functions) by
``from fastnn.planar import *``. Parameters are ``W1, b1, W2, b2``; the hidden layer is
tanh, the output a sigmoid.
"""

import numpy as np

from . import _facade as f
from . import _validation as v
from . import datasets
from .initialization import sigmoid
from .network import initialize
from .plots import plot_decision_boundary

__all__ = [
    "load_planar_dataset",
    "load_extra_datasets",
    "plot_decision_boundary",
    "sigmoid",
    "layer_sizes",
    "initialize_parameters",
    "forward_propagation",
    "compute_cost",
    "backward_propagation",
    "update_parameters",
    "nn_model",
    "predict",
]


def load_planar_dataset():
    """The two-class flower: 400 points, ``np.random.seed(1)``.

    Returns
    -------
    X : ndarray of shape (2, 400)
    Y : ndarray of shape (1, 400), dtype uint8
    """
    return datasets.flower()


def load_extra_datasets():
    """The notebook's other 2-D datasets (noisy circles, moons, blobs, quantiles, none).

    Returns
    -------
    tuple of five (X, y) pairs, ``X`` shaped (200, 2)
    """
    return datasets.extra_datasets()


def layer_sizes(X, Y):
    """``(n_x, 4, n_y)``: input size, the notebook's 4 hidden units, output size.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)

    Returns
    -------
    tuple of int
    """
    X = v.as_data(X, "X", finite=False)
    Y = v.as_float_array(Y, "Y", ndim=2, finite=False)
    return X.shape[0], 4, Y.shape[0]


def initialize_parameters(n_x, n_h, n_y):
    """``np.random.seed(2)``, weights ``randn * 0.01``, zero biases.

    Parameters
    ----------
    n_x, n_h, n_y : int
        Input, hidden and output sizes.

    Returns
    -------
    dict
        ``W1 (n_h, n_x), b1 (n_h, 1), W2 (n_y, n_h), b2 (n_y, 1)``.
    """
    dims = [v.check_int(n, name, low=1) for n, name in
            ((n_x, "n_x"), (n_h, "n_h"), (n_y, "n_y"))]
    return initialize(dims, "small", seed=2).params


def forward_propagation(X, parameters):
    """``Z1 = W1 X + b1``, ``A1 = tanh(Z1)``, ``Z2 = W2 A1 + b2``, ``A2 = sigmoid(Z2)``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict

    Returns
    -------
    A2 : ndarray of shape (1, m)
    cache : dict
        ``{"Z1", "A1", "Z2", "A2"}``.
    """
    X, Ws, bs = f.net_inputs(X, parameters, L=2)
    Zs, As, _ = f.forward(X, Ws, bs, hidden="tanh")
    return As[2], {"Z1": Zs[0], "A1": As[1], "Z2": Zs[1], "A2": As[2]}


def compute_cost(A2, Y, parameters=None):
    """Mean cross-entropy (``np.sum``; ``parameters`` is accepted and unused, as the course).

    Parameters
    ----------
    A2 : array_like of shape (1, m)
    Y : array_like of shape (1, m)
    parameters : dict, optional
        Ignored.

    Returns
    -------
    float
    """
    return f.cross_entropy(A2, Y, "sum", "A2")


def backward_propagation(parameters, cache, X, Y):
    """Gradients of the cost with respect to ``W1, b1, W2, b2``.

    Parameters
    ----------
    parameters : dict
    cache : dict
        ``A1`` and ``A2`` (and ``Z1``, ``Z2``) from :func:`forward_propagation`.
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)

    Returns
    -------
    dict
        ``dW1, db1, dW2, db2``.
    """
    X, Ws, bs = f.net_inputs(X, parameters, L=2)
    Y = f.labels_for(Y, X)
    v.check_single_output(Ws[-1], "parameters", "W2")
    if not isinstance(cache, dict):
        raise TypeError(f"cache must be the dict forward_propagation returns, "
                        f"got {type(cache).__name__}")
    m = X.shape[1]
    As, Zs = [X], []
    for l, W in enumerate(Ws, 1):
        for key, out in ((f"Z{l}", Zs), (f"A{l}", As)):
            if key not in cache:
                raise ValueError(f"cache is missing key {key!r}")
            arr = v.as_float_array(cache[key], f"cache[{key!r}]", ndim=2, finite=False)
            if arr.shape != (W.shape[0], m):
                raise ValueError(f"cache[{key!r}] must have shape {(W.shape[0], m)}, "
                                 f"got {arr.shape}")
            out.append(np.ascontiguousarray(arr, dtype=X.dtype))
    dWs, dbs, _, _ = f.backward(Y, Ws, Zs, As, [None, None], hidden="tanh", form="dw",
                                keep_dz=False)
    return {"dW1": dWs[0], "db1": dbs[0], "dW2": dWs[1], "db2": dbs[1]}


def update_parameters(parameters, grads, learning_rate=1.2):
    """Gradient-descent step ``W -= learning_rate * dW``, in place.

    Parameters
    ----------
    parameters, grads : dict
    learning_rate : float, default 1.2

    Returns
    -------
    dict
        ``parameters``, the same object.
    """
    lr = v.check_positive(learning_rate, "learning_rate")
    return f.update_step(parameters, grads, (), "sgd", (lr,))


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    """Train the one-hidden-layer tanh network with gradient descent at rate 1.2.

    As the course: ``np.random.seed(3)``, then :func:`initialize_parameters` (seed 2).
    The loop runs in compiled chunks of 1000 iterations.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    n_h : int
        Hidden units.
    num_iterations : int, default 10000
    print_cost : bool, default False
        Print ``"Cost after iteration i: cost"`` every 1000 iterations.

    Returns
    -------
    dict
        The trained ``W1, b1, W2, b2``.
    """
    n_h = v.check_int(n_h, "n_h", low=1)
    parameters, _ = f.fit(X, Y, [None, n_h, 1], init="small", seed=2, pre_seed=3,
                          hidden="tanh", learning_rate=1.2, num_epochs=num_iterations,
                          cost_mode="sum", grad_form="dw", cost_every=1000,
                          print_every=1000 if print_cost else None,
                          print_format="Cost after iteration {}: {:f}")
    return parameters


def predict(parameters, X):
    """``np.round(A2)``: the predicted class of every example, as floats.

    Parameters
    ----------
    parameters : dict
    X : array_like of shape (n_x, m)

    Returns
    -------
    ndarray of shape (1, m)
    """
    return np.round(f.output_proba(X, parameters, hidden="tanh"))
