"""The "Optimization methods" notebook's API (its ``opt_utils``, mini-batches, momentum,
Adam, learning-rate decay), compiled.

Replace ``from opt_utils import *`` (and the notebook's functions) by
``from fastnn.optimization import *``. Updates change the arrays in place and return
the same dict objects, so ``parameters, v = update_parameters_with_momentum(...)`` code
keeps working. Gradient dicts use the notebook's lower-case keys (``dz3``, ``da2``, ...).
"""

import math

import numpy as np

from . import _facade as f
from . import _validation as _v
from . import datasets
from .initialization import relu, sigmoid
from .network import initialize
from .plots import plot_decision_boundary

__all__ = [
    "sigmoid",
    "relu",
    "load_params_and_grads",
    "initialize_parameters",
    "forward_propagation",
    "backward_propagation",
    "compute_cost",
    "predict",
    "predict_dec",
    "plot_decision_boundary",
    "load_dataset",
    "update_parameters_with_gd",
    "random_mini_batches",
    "initialize_velocity",
    "update_parameters_with_momentum",
    "initialize_adam",
    "update_parameters_with_adam",
    "update_lr",
    "schedule_lr_decay",
    "model",
]


def load_params_and_grads(seed=1):
    """Random parameters and gradients of a 3-2-3 network, as the course draws them.

    Parameters
    ----------
    seed : int, default 1
        ``np.random.seed(seed)`` first.

    Returns
    -------
    tuple
        ``(W1 (2, 3), b1 (2, 1), W2 (3, 3), b2 (3, 1), dW1, db1, dW2, db2)``.
    """
    np.random.seed(_v.check_int(seed, "seed", low=0))
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 3)
    b2 = np.random.randn(3, 1)
    dW1 = np.random.randn(2, 3)
    db1 = np.random.randn(2, 1)
    dW2 = np.random.randn(3, 3)
    db2 = np.random.randn(3, 1)
    return W1, b1, W2, b2, dW1, db1, dW2, db2


def initialize_parameters(layer_dims):
    """He initialisation: ``np.random.seed(3)``, ``randn(n_l, n_prev) * sqrt(2 / n_prev)``.

    Parameters
    ----------
    layer_dims : list of int

    Returns
    -------
    dict
    """
    return initialize(_v.check_layer_dims(layer_dims, "layer_dims"), "he", seed=3).params


def forward_propagation(X, parameters):
    """Forward pass of the three-layer network.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict

    Returns
    -------
    a3 : ndarray of shape (1, m)
    cache : tuple
        ``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``.
    """
    X, Ws, bs = f.net_inputs(X, parameters, L=3)
    Zs, As, Ds = f.forward(X, Ws, bs)
    return As[-1], f.three_layer_cache(Ws, bs, Zs, As, Ds)


def backward_propagation(X, Y, cache):
    """Backward pass (``dz3 = (a3 - Y) / m``).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    cache : tuple

    Returns
    -------
    dict
        ``dz3, dW3, db3, da2, dz2, dW2, db2, da1, dz1, dW1, db1``.
    """
    X, Y, Ws, Zs, As, Ds = f.unpack_three_layer_cache(X, Y, cache)
    return f.gradient_dict(*f.backward(Y, Ws, Zs, As, Ds, form="dz"), lower=True)


def compute_cost(a3, Y):
    """Mean cross-entropy (``np.sum``, no epsilon).

    Parameters
    ----------
    a3 : array_like of shape (1, m)
    Y : array_like of shape (1, m)

    Returns
    -------
    float
    """
    return f.cross_entropy(a3, Y, "sum", "a3")


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


def load_dataset():
    """The notebook's moons: ``np.random.seed(3)``, ``make_moons(300, noise=.2)``.

    Returns
    -------
    train_X : ndarray of shape (2, 300)
    train_Y : ndarray of shape (1, 300)
    """
    return datasets.moons()


def update_parameters_with_gd(parameters, grads, learning_rate):
    """Gradient-descent step ``W -= learning_rate * dW``, in place.

    Parameters
    ----------
    parameters : dict
        Updated in place (each ``W`` checked against its own ``dW``).
    grads : dict
    learning_rate : float

    Returns
    -------
    dict
        ``parameters``, the same object.
    """
    lr = _v.check_positive(learning_rate, "learning_rate")
    return f.update_step(parameters, grads, (), "sgd", (lr,))


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the columns once (``np.random.seed(seed)``) and cut them into mini-batches.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    mini_batch_size : int, default 64
    seed : int, default 0

    Returns
    -------
    list of (ndarray, ndarray)
        Full batches first, then the remainder.
    """
    X = _v.as_data(X, "X")
    _v.as_float_array(Y, "Y")          # checks only: the batches keep Y's own dtype
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have shape (1, {X.shape[1]}), got {Y.shape}")
    size = _v.check_int(mini_batch_size, "mini_batch_size", low=1)
    np.random.seed(_v.check_int(seed, "seed", low=0))
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((Y.shape[0], m))
    return [(shuffled_X[:, k:k + size], shuffled_Y[:, k:k + size])
            for k in range(0, m, size)]


def _zeros_like(parameters):
    L = _v.n_layers(parameters, "parameters")
    Ws, bs = _v.layer_arrays(parameters, "parameters", L=L, chain=False)
    state = {}
    for l in range(1, L + 1):
        state[f"dW{l}"] = np.zeros_like(Ws[l - 1])
        state[f"db{l}"] = np.zeros_like(bs[l - 1])
    return state


def initialize_velocity(parameters):
    """Zero velocities ``{"dW1": 0s, "db1": 0s, ...}`` shaped like the parameters.

    Parameters
    ----------
    parameters : dict

    Returns
    -------
    dict
    """
    return _zeros_like(parameters)


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """Momentum step, in place: ``v = beta v + (1 - beta) dW``; ``W -= lr v``.

    Parameters
    ----------
    parameters : dict
    grads : dict
    v : dict
        Velocities (``dW1``, ``db1``, ...), updated in place.
    beta : float in [0, 1)
    learning_rate : float

    Returns
    -------
    parameters, v : dict
        The same objects.
    """
    beta = _v.check_beta(beta, "beta")
    lr = _v.check_positive(learning_rate, "learning_rate")
    f.update_step(parameters, grads, (v,), "momentum", (beta, lr), ("v",))
    return parameters, v


def initialize_adam(parameters):
    """Zero first and second moments for Adam.

    Parameters
    ----------
    parameters : dict

    Returns
    -------
    v, s : dict
        ``{"dW1": 0s, "db1": 0s, ...}`` each.
    """
    return _zeros_like(parameters), _zeros_like(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam step, in place, with bias correction by ``t``.

    ``W -= lr * v_corrected / (sqrt(s_corrected) + epsilon)``.

    Parameters
    ----------
    parameters, grads : dict
    v, s : dict
        First and second moments, updated in place.
    t : int
        Step counter (>= 1).
    learning_rate : float, default 0.01
    beta1, beta2 : float in [0, 1)
    epsilon : float, default 1e-8

    Returns
    -------
    parameters, v, s : dict
        The same objects.
    """
    t = _v.check_int(t, "t", low=1)
    scalars = (t, _v.check_positive(learning_rate, "learning_rate"),
               _v.check_beta(beta1, "beta1"), _v.check_beta(beta2, "beta2"),
               _v.check_positive(epsilon, "epsilon"))
    f.update_step(parameters, grads, (v, s), "adam", scalars, ("v", "s"))
    return parameters, v, s


def update_lr(learning_rate0, epoch_num, decay_rate):
    """``learning_rate0 / (1 + decay_rate * epoch_num)``.

    Parameters
    ----------
    learning_rate0 : float
    epoch_num : int
    decay_rate : float

    Returns
    -------
    float
    """
    lr0 = _v.check_positive(learning_rate0, "learning_rate0")
    epoch = _v.check_int(epoch_num, "epoch_num", low=0)
    rate = _v.check_real(decay_rate, "decay_rate", low=0.0)
    return lr0 / (1 + rate * epoch)


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """``learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))``.

    Parameters
    ----------
    learning_rate0 : float
    epoch_num : int
    decay_rate : float
    time_interval : int, default 1000

    Returns
    -------
    float
    """
    lr0 = _v.check_positive(learning_rate0, "learning_rate0")
    epoch = _v.check_int(epoch_num, "epoch_num", low=0)
    rate = _v.check_real(decay_rate, "decay_rate", low=0.0)
    interval = _v.check_int(time_interval, "time_interval", low=1)
    return lr0 / (1 + rate * math.floor(epoch / interval))


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64,
          beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=10000,
          print_cost=True, decay=None, decay_rate=1):
    """Train an L-layer ReLU network with mini-batch GD, momentum or Adam.

    As the notebook: He initialisation (seed 3), mini-batches reshuffled with seeds
    11, 12, ... (one per epoch), Adam's ``t`` counting mini-batches. The epochs run
    inside one compiled call per 1000 epochs, between which the cost of the epoch's last
    mini-batch is printed.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    layers_dims : list of int
        ``[n_x, n_1, ..., 1]``.
    optimizer : {"gd", "momentum", "adam"}
    learning_rate : float, default 0.0007
    mini_batch_size : int, default 64
    beta : float, default 0.9
        Momentum.
    beta1, beta2, epsilon : float
        Adam.
    num_epochs : int, default 10000
    print_cost : bool, default True
        Print ``"Cost after epoch i: cost"`` every 1000 epochs.
    decay : callable, optional
        Like :func:`update_lr`; epoch ``e`` then runs at
        ``decay(learning_rate, e, decay_rate)``.
    decay_rate : float, default 1

    Returns
    -------
    dict
        The trained parameters.
    """
    dims = _v.check_layer_dims(layers_dims)
    parameters, _ = f.fit(X, Y, dims, init="he", seed=3, learning_rate=learning_rate,
                          num_epochs=num_epochs, optimizer=optimizer, beta=beta,
                          beta1=beta1, beta2=beta2, epsilon=epsilon,
                          batch_size=mini_batch_size, shuffle_seed=10, decay=decay,
                          decay_rate=decay_rate, cost_mode="sum", grad_form="dz",
                          cost_every=100, print_every=1000 if print_cost else None,
                          print_format="Cost after epoch {}: {}",
                          iterations_name="num_epochs")
    return parameters
