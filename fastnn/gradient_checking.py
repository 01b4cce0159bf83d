"""The "Gradient Checking" notebook's API (its ``gc_utils`` and checks), compiled.

Replace ``from gc_utils import *`` (and the notebook's functions) by
``from fastnn.gradient_checking import *``. :func:`gradient_check_n` runs the expensive
per-parameter loop as one kernel call; :func:`backward_propagation_n` is the correct
backward pass (without the notebook's planted bugs).
"""

import numpy as np

from . import _facade as f
from . import _validation as v
from .gradcheck import check_gradients
from .initialization import relu, sigmoid

__all__ = [
    "sigmoid",
    "relu",
    "forward_propagation",
    "backward_propagation",
    "gradient_check",
    "dictionary_to_vector",
    "vector_to_dictionary",
    "gradients_to_vector",
    "forward_propagation_n",
    "backward_propagation_n",
    "gradient_check_n",
]

_DEFAULT_SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1),
                   "W3": (1, 3), "b3": (1, 1)}


def forward_propagation(x, theta):
    """The one-dimensional example ``J = theta * x``.

    Parameters
    ----------
    x, theta : float

    Returns
    -------
    float
    """
    return v.check_real(theta, "theta") * v.check_real(x, "x")


def backward_propagation(x, theta):
    """Derivative of ``J = theta * x`` with respect to ``theta``: ``x``.

    Parameters
    ----------
    x, theta : float

    Returns
    -------
    float
    """
    v.check_real(theta, "theta")
    return v.check_real(x, "x")


def gradient_check(x, theta, epsilon=1e-7):
    """Check the one-dimensional gradient; prints "The gradient is correct!" below 1e-7.

    Parameters
    ----------
    x, theta : float
    epsilon : float, default 1e-7

    Returns
    -------
    float
        The relative difference ``|grad - gradapprox| / (|grad| + |gradapprox|)``.
    """
    epsilon = v.check_positive(epsilon, "epsilon")
    v.check_real(x, "x")
    v.check_real(theta, "theta")        # before theta + epsilon can overflow
    J_plus = forward_propagation(x, theta + epsilon)
    J_minus = forward_propagation(x, theta - epsilon)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    difference = np.linalg.norm(grad - gradapprox) / (
        np.linalg.norm(grad) + np.linalg.norm(gradapprox))
    print("The gradient is correct!" if difference < 1e-7 else "The gradient is wrong!")
    return difference


def _layer_keys(d, name, prefix=""):
    L = v.n_layers({k[len(prefix):]: None for k in d
                    if isinstance(k, str) and k.startswith(prefix)} if prefix else d, name)
    return [f"{prefix}{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]


def dictionary_to_vector(parameters):
    """Stack ``W1, b1, W2, b2, ...`` (each flattened in C order) into one column.

    Parameters
    ----------
    parameters : dict

    Returns
    -------
    theta : ndarray of shape (n, 1)
    keys : list of str
        The parameter name of every entry of ``theta``.
    """
    v.n_layers(parameters, "parameters")
    keys, parts = [], []
    for key in _layer_keys(parameters, "parameters"):
        arr = v.as_float_array(parameters[key], f"parameters[{key!r}]", finite=False)
        parts.append(arr.reshape(-1, 1))
        keys += [key] * arr.size
    return np.concatenate(parts, axis=0), keys


def vector_to_dictionary(theta, template=None):
    """Unstack a column ``theta`` into a parameters dict.

    Parameters
    ----------
    theta : array_like with n entries
    template : dict, optional
        Parameters whose keys and shapes to use; by default the notebook's fixed
        4-5-3-1 network (47 entries).

    Returns
    -------
    dict
        Copies shaped like the template.
    """
    theta = v.as_float_array(theta, "theta", finite=False).ravel()
    if template is None:
        shapes = _DEFAULT_SHAPES
    else:
        shapes = {k: np.shape(template[k]) for k in _layer_keys(template, "template")}
    total = sum(int(np.prod(s)) for s in shapes.values())
    if theta.size != total:
        raise ValueError(f"theta must have {total} entries for shapes {shapes}, "
                         f"got {theta.size}")
    out, k = {}, 0
    for key, shape in shapes.items():
        n = int(np.prod(shape))
        out[key] = theta[k:k + n].reshape(shape).copy()
        k += n
    return out


def gradients_to_vector(gradients):
    """Stack ``dW1, db1, dW2, db2, ...`` into one column, as :func:`dictionary_to_vector`.

    Parameters
    ----------
    gradients : dict

    Returns
    -------
    ndarray of shape (n, 1)
    """
    if not isinstance(gradients, dict):
        raise TypeError(f"gradients must be a dict, got {type(gradients).__name__}")
    parts = []
    for key in _layer_keys(gradients, "gradients", prefix="d"):
        arr = v.as_float_array(gradients[key], f"gradients[{key!r}]", finite=False)
        parts.append(arr.reshape(-1, 1))
    return np.concatenate(parts, axis=0)


def forward_propagation_n(X, Y, parameters):
    """Forward pass of the three-layer network and its cost.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    parameters : dict
        ``W1, b1, W2, b2, W3, b3`` (any sizes).

    Returns
    -------
    cost : float
        Mean cross-entropy (``np.sum``; no epsilon).
    cache : tuple
        ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``.
    """
    X, Ws, bs = f.net_inputs(X, parameters, L=3)
    Y = f.labels_for(Y, X)
    Zs, As, Ds = f.forward(X, Ws, bs)
    cost = f.cross_entropy(As[-1], Y, "sum")
    return cost, f.three_layer_cache(Ws, bs, Zs, As, Ds)


def backward_propagation_n(X, Y, cache):
    """The correct backward pass of :func:`forward_propagation_n`.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    cache : tuple

    Returns
    -------
    dict
        ``dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1``.
    """
    X, Y, Ws, Zs, As, Ds = f.unpack_three_layer_cache(X, Y, cache)
    return f.gradient_dict(*f.backward(Y, Ws, Zs, As, Ds, form="dw"))


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=True):
    """Check backpropagation's gradients against two-sided differences of the cost.

    Prints the notebook's verdict around a 2e-7 threshold: "There is a mistake in the
    backward propagation! difference = ..." (followed by the worst entry) or "Your
    backward propagation works perfectly fine! difference = ...".

    Parameters
    ----------
    parameters : dict
        ``W1, b1, ..., WL, bL`` (shapes taken from here; any sizes).
    gradients : dict
        ``dW1, db1, ...`` to check.
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    epsilon : float, default 1e-7
    print_msg : bool, default True

    Returns
    -------
    float
        ``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``.
    """
    result = check_gradients(parameters, gradients, X, Y, epsilon)
    difference = result.difference
    if print_msg:
        if difference > 2e-7:
            print("There is a mistake in the backward propagation! difference = "
                  + str(difference))
            print("Worst entry: " + result.describe_worst())
        else:
            print("Your backward propagation works perfectly fine! difference = "
                  + str(difference))
    return difference
