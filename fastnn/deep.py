"""The L-layer network notebooks' API ("Step by Step" and "Application"), compiled.

Replace ``from dnn_app_utils import *`` (and the step-by-step functions) by
``from fastnn.deep import *``. The network is ``[LINEAR -> RELU]*(L-1) -> LINEAR ->
SIGMOID``; caches and gradient keys are the notebooks' (``dA{l-1}``, ``dW{l}``,
``db{l}``).
"""

import numpy as np

from . import _facade as f
from . import _validation as v
from ._backend import kernel_module
from .datasets import load_cat_data
from .kernels import _spec
from .network import initialize

__all__ = [
    "sigmoid",
    "relu",
    "relu_backward",
    "sigmoid_backward",
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
    "predict",
    "two_layer_model",
    "L_layer_model",
    "load_data",
]

_ACTS = {"relu": _spec.RELU, "sigmoid": _spec.SIGMOID}


def _matrix(x, name):
    x = v.as_float_array(x, name, ndim=2)
    return np.ascontiguousarray(x)


def sigmoid(Z):
    """Sigmoid activation.

    Parameters
    ----------
    Z : array_like

    Returns
    -------
    A : ndarray
        ``1 / (1 + exp(-Z))``.
    cache : ndarray
        ``Z``, for :func:`sigmoid_backward`.
    """
    Z = v.as_float_array(Z, "Z", finite=False)
    return 1 / (1 + np.exp(-Z)), Z


def relu(Z):
    """ReLU activation.

    Parameters
    ----------
    Z : array_like

    Returns
    -------
    A : ndarray
        ``max(0, Z)``.
    cache : ndarray
        ``Z``, for :func:`relu_backward`.
    """
    Z = v.as_float_array(Z, "Z", finite=False)
    return np.maximum(0, Z), Z


def _act_inputs(dA, Z):
    dA = _matrix(dA, "dA")
    Z = _matrix(Z, "cache")
    if Z.shape != dA.shape:
        raise ValueError(f"cache (Z) must have dA's shape {dA.shape}, got {Z.shape}")
    dtype = np.result_type(dA.dtype, Z.dtype)
    return dA.astype(dtype, copy=False), Z.astype(dtype, copy=False)


def _act_backward(dA, Z, act):
    dA, Z = _act_inputs(dA, Z)
    dZ = np.empty_like(dA)
    kernel_module().act_backward(dA, Z, Z, act, dZ)
    return dZ


def relu_backward(dA, cache):
    """``dZ = dA`` where ``Z > 0``, else 0.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : array_like of shape (n, m)
        ``Z``.

    Returns
    -------
    ndarray of shape (n, m)
    """
    return _act_backward(dA, cache, _spec.RELU)


def sigmoid_backward(dA, cache):
    """``dZ = dA * s * (1 - s)`` with ``s = sigmoid(Z)``.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : array_like of shape (n, m)
        ``Z``.

    Returns
    -------
    ndarray of shape (n, m)
    """
    return _act_backward(dA, cache, _spec.SIGMOID)


def initialize_parameters(n_x, n_h, n_y):
    """Two-layer parameters: ``np.random.seed(1)``, ``randn * 0.01``, zero biases.

    Parameters
    ----------
    n_x, n_h, n_y : int

    Returns
    -------
    dict
        ``W1, b1, W2, b2``.
    """
    dims = [v.check_int(n, name, low=1) for n, name in
            ((n_x, "n_x"), (n_h, "n_h"), (n_y, "n_y"))]
    return initialize(dims, "small", seed=1).params


def initialize_parameters_deep(layer_dims):
    """L-layer parameters: ``np.random.seed(3)``, ``randn * 0.01``, zero biases.

    Parameters
    ----------
    layer_dims : list of int

    Returns
    -------
    dict
    """
    return initialize(v.check_layer_dims(layer_dims, "layer_dims"), "small",
                      seed=3).params


def _linear_inputs(A, W, b, a_name="A"):
    A = _matrix(A, a_name)
    W = _matrix(W, "W")
    b = v.as_float_array(b, "b", ndim=(1, 2), finite=False)
    if W.shape[1] != A.shape[0]:
        raise ValueError(f"W must have {A.shape[0]} columns to multiply {a_name} "
                         f"{A.shape}, got shape {W.shape}")
    if b.shape not in ((W.shape[0], 1), (W.shape[0],)):
        raise ValueError(f"b must have shape ({W.shape[0]}, 1), got {b.shape}")
    dtype = np.result_type(A.dtype, W.dtype, b.dtype)
    return (A.astype(dtype, copy=False), W.astype(dtype, copy=False),
            np.ascontiguousarray(b.reshape(-1, 1), dtype=dtype))


def _linear_act(A, W, b, act):
    Z = np.empty((W.shape[0], A.shape[1]), dtype=A.dtype)
    out = np.empty_like(Z)
    kernel_module().linear_act_forward(A, W, b, act, Z, out)
    return Z, out


def linear_forward(A, W, b):
    """``Z = W A + b``.

    Parameters
    ----------
    A : array_like of shape (n_prev, m)
    W : array_like of shape (n, n_prev)
    b : array_like of shape (n, 1)

    Returns
    -------
    Z : ndarray of shape (n, m)
    cache : tuple
        ``(A, W, b)``.
    """
    A, W, b = _linear_inputs(A, W, b)
    Z, _ = _linear_act(A, W, b, _spec.LINEAR)
    return Z, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """``A = g(W A_prev + b)`` with ``g`` "relu" or "sigmoid", in one fused kernel.

    Parameters
    ----------
    A_prev : array_like of shape (n_prev, m)
    W : array_like of shape (n, n_prev)
    b : array_like of shape (n, 1)
    activation : {"relu", "sigmoid"}

    Returns
    -------
    A : ndarray of shape (n, m)
    cache : tuple
        ``((A_prev, W, b), Z)``.
    """
    v.check_choice(activation, "activation", _ACTS)
    A_prev, W, b = _linear_inputs(A_prev, W, b, "A_prev")
    Z, A = _linear_act(A_prev, W, b, _ACTS[activation])
    return A, ((A_prev, W, b), Z)


def L_model_forward(X, parameters):
    """Forward pass of the L-layer network.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
        ``W1, b1, ..., WL, bL``.

    Returns
    -------
    AL : ndarray of shape (1, m)
    caches : list
        One ``((A_prev, W, b), Z)`` per layer.
    """
    X, Ws, bs = f.net_inputs(X, parameters)
    Zs, As, _ = f.forward(X, Ws, bs)
    caches = [((As[l], Ws[l], bs[l]), Zs[l]) for l in range(len(Ws))]
    return As[-1], caches


def compute_cost(AL, Y):
    """Mean cross-entropy ``-(1/m) sum(Y log AL + (1 - Y) log(1 - AL))``.

    Parameters
    ----------
    AL : array_like of shape (1, m)
    Y : array_like of shape (1, m)

    Returns
    -------
    float
    """
    return f.cross_entropy(AL, Y, "sum", "AL")


def _linear_cache(cache, dZ, name="cache"):
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        raise ValueError(f"{name} must be the (A_prev, W, b) tuple linear_forward returns")
    A_prev, W, b = _linear_inputs(*cache, a_name=f"{name} A_prev")
    if dZ.shape != (W.shape[0], A_prev.shape[1]):
        raise ValueError(f"dZ must have shape {(W.shape[0], A_prev.shape[1])}, "
                         f"got {dZ.shape}")
    if dZ.shape[1] == 0:        # the gradients are means over the examples
        raise ValueError(f"dZ must hold at least one example, got shape {dZ.shape}")
    return A_prev, W.astype(dZ.dtype, copy=False)


def _backward_outputs(A_prev, W):
    """``dW, db, dA_prev`` to write, for C-contiguous ``A_prev`` and ``W``."""
    return np.empty_like(W), np.empty((W.shape[0], 1), dtype=W.dtype), np.empty_like(A_prev)


def _linear_backward(dZ, A_prev, W):
    dtype = np.result_type(dZ.dtype, A_prev.dtype)
    dZ, A_prev, W = (np.ascontiguousarray(a, dtype=dtype) for a in (dZ, A_prev, W))
    dW, db, dA_prev = _backward_outputs(A_prev, W)
    kernel_module().linear_backward(dZ, A_prev, W, 1.0 / A_prev.shape[1], 0.0, dW, db,
                                    dA_prev)
    return dA_prev, dW, db


def linear_backward(dZ, cache):
    """Gradients of the linear part: ``dW = dZ A_prev.T / m``, ``db``, ``dA_prev``.

    Parameters
    ----------
    dZ : array_like of shape (n, m)
    cache : tuple
        ``(A_prev, W, b)``.

    Returns
    -------
    dA_prev, dW, db : ndarray
    """
    dZ = _matrix(dZ, "dZ")
    A_prev, W = _linear_cache(cache, dZ)
    return _linear_backward(dZ, A_prev, W)


def linear_activation_backward(dA, cache, activation):
    """Backward through ``g`` then the linear part.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : tuple
        ``((A_prev, W, b), Z)``.
    activation : {"relu", "sigmoid"}

    Returns
    -------
    dA_prev, dW, db : ndarray
    """
    v.check_choice(activation, "activation", _ACTS)
    if not isinstance(cache, (tuple, list)) or len(cache) != 2:
        raise ValueError("cache must be the ((A_prev, W, b), Z) tuple "
                         "linear_activation_forward returns")
    act = _ACTS[activation]
    dA, Z = _act_inputs(dA, cache[1])
    A_prev, W = _linear_cache(cache[0], dA, "cache[0]")     # dZ will have dA's shape
    if np.result_type(dA.dtype, A_prev.dtype) != dA.dtype:
        # g' in dA's precision, the products in A_prev's wider one: two steps
        return _linear_backward(_act_backward(dA, Z, act), A_prev, W)
    dA, Z, A_prev, W = (np.ascontiguousarray(a) for a in (dA, Z, A_prev, W))
    dW, db, dA_prev = _backward_outputs(A_prev, W)
    kernel_module().linear_act_backward(dA, Z, Z, act, A_prev, W, 1.0 / A_prev.shape[1],
                                        0.0, np.empty_like(dA), dW, db, dA_prev)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    """Backward pass of the L-layer network from ``dAL = -(Y/AL - (1-Y)/(1-AL))``.

    Parameters
    ----------
    AL : array_like of shape (1, m)
    Y : array_like of shape (1, m)
    caches : list
        From :func:`L_model_forward`.

    Returns
    -------
    dict
        ``dA{l-1}, dW{l}, db{l}`` for ``l = L..1`` (``dA0`` is the input's gradient).
    """
    if not isinstance(caches, (list, tuple)) or not caches:
        raise ValueError("caches must be the non-empty list L_model_forward returns")
    AL = _matrix(AL, "AL")
    Y = v.as_labels(Y, AL.shape[1], "Y", dtype=AL.dtype)
    parameters, Zs = {}, []
    for l, cache in enumerate(caches, 1):
        if not isinstance(cache, (tuple, list)) or len(cache) != 2 or len(cache[0]) != 3:
            raise ValueError(f"caches[{l - 1}] must be ((A_prev, W, b), Z)")
        parameters[f"W{l}"], parameters[f"b{l}"] = cache[0][1], cache[0][2]
        Zs.append(cache[1])
    X, Ws, bs = f.net_inputs(caches[0][0][0], parameters, name="caches",
                             x_name="caches[0] A_prev")
    As = [X] + [np.ascontiguousarray(c[0][0], dtype=X.dtype) for c in caches[1:]]
    As.append(np.ascontiguousarray(AL, dtype=X.dtype))
    Zs = [np.ascontiguousarray(Z, dtype=X.dtype) for Z in Zs]
    for l in range(len(Ws)):
        shape = (Ws[l].shape[0], X.shape[1])
        if Zs[l].shape != shape or As[l + 1].shape != shape:
            raise ValueError(f"caches: layer {l + 1}'s Z and A must have shape {shape}, "
                             f"got {Zs[l].shape} and {As[l + 1].shape}")
    v.check_single_output(Ws[-1], "caches", f"W{len(Ws)}")
    Y = Y.astype(X.dtype, copy=False)
    dWs, dbs, _, dAs = f.backward(Y, Ws, Zs, As, [None] * len(Ws), form="chain",
                                  input_grad=True, keep_dz=False)
    grads = {}
    for l in range(len(Ws), 0, -1):
        grads[f"dA{l - 1}"] = dAs[l - 1]
        grads[f"dW{l}"] = dWs[l - 1]
        grads[f"db{l}"] = dbs[l - 1]
    return grads


def update_parameters(parameters, grads, learning_rate):
    """Gradient-descent step ``W -= learning_rate * dW``, in place.

    Parameters
    ----------
    parameters, grads : dict
    learning_rate : float

    Returns
    -------
    dict
        ``parameters``, the same object.
    """
    lr = v.check_positive(learning_rate, "learning_rate")
    return f.update_step(parameters, grads, (), "sgd", (lr,))


def predict(X, y, parameters):
    """Predict 0/1 labels (floats) and print ``"Accuracy: <sum((p == y) / m)>"``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    y : array_like of shape (1, m)
    parameters : dict

    Returns
    -------
    ndarray of float, shape (1, m)
    """
    return f.predict_labels(X, y, parameters, dtype=float, accuracy="sum")


def _model(X, Y, layers_dims, init, learning_rate, num_iterations, print_cost):
    dims = v.check_layer_dims(layers_dims)
    parameters, result = f.fit(X, Y, dims, init=init, seed=1,
                               learning_rate=learning_rate, num_epochs=num_iterations,
                               cost_mode="sum", grad_form="chain", cost_every=100,
                               print_every=100 if print_cost else None)
    return parameters, result.costs


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False):
    """Train ``LINEAR -> RELU -> LINEAR -> SIGMOID`` with gradient descent.

    Initialised as the Application notebook (``np.random.seed(1)``, ``randn * 0.01``).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    layers_dims : (int, int, int)
        ``(n_x, n_h, n_y)``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print ``"Cost after iteration i: cost"`` every 100 iterations.

    Returns
    -------
    parameters : dict
    costs : list of float
        Every 100 iterations.
    """
    if len(layers_dims) != 3:
        raise ValueError(f"layers_dims must be (n_x, n_h, n_y), got {layers_dims!r}")
    return _model(X, Y, layers_dims, "small", learning_rate, num_iterations, print_cost)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False):
    """Train the L-layer network with gradient descent.

    Initialised as the Application notebook (``np.random.seed(1)``,
    ``randn / sqrt(n_prev)``).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    layers_dims : list of int
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False

    Returns
    -------
    parameters : dict
    costs : list of float
        Every 100 iterations.
    """
    return _model(X, Y, layers_dims, "xavier", learning_rate, num_iterations, print_cost)


def load_data(train_path="datasets/train_catvnoncat.h5",
              test_path="datasets/test_catvnoncat.h5"):
    """The cat / non-cat images (needs ``h5py``).

    Parameters
    ----------
    train_path, test_path : str or path-like

    Returns
    -------
    train_x_orig, train_y, test_x_orig, test_y, classes : ndarray
    """
    return load_cat_data(train_path, test_path)
