"""Plain NumPy kernels: the notebooks' math, vectorised and allocating as they do.

This module is the oracle of the test suite and the baseline of every benchmark. It
implements the contract written in :mod:`fastnn.kernels._spec`; read that first.
"""

import sys

import numpy as np

from ._mlp import layer_views, mlp_backward, mlp_cost, mlp_forward
from ._spec import (
    CE_CLIP_EPS,
    CE_CLIP_EPS32,
    CE_CLIPPED,
    CE_LOGITS,
    CE_NANSUM,
    DROPOUT_COMPAT,
    OPT_ADAM,
    OPT_MOMENTUM,
    RELU,
    SIGMOID,
    TANH,
)

__all__ = [
    "linear_act_forward",
    "act_backward",
    "linear_backward",
    "linear_act_backward",
    "sigmoid_ce_backward",
    "cross_entropy",
    "sum_squares",
    "dropout_forward",
    "dropout_backward",
    "sgd_step",
    "momentum_step",
    "adam_step",
    "grad_check_mlp",
    "train_mlp",
    "counter_uniform",
    "layer_views",
]

NAME = "numpy"
_this = sys.modules[__name__]


# --------------------------------------------------------------------------- layers
def _activate(Z, act):
    if act == RELU:
        return np.maximum(0, Z)
    if act == SIGMOID:
        return 1 / (1 + np.exp(-Z))
    if act == TANH:
        return np.tanh(Z)
    return Z.copy()


def linear_act_forward(A_prev, W, b, act, Z, A):
    """Write ``Z = W @ A_prev + b`` and ``A = g(Z)``; see the contract."""
    Z[...] = np.dot(W, A_prev) + b
    A[...] = _activate(Z, act)


def act_backward(dA, Z, A, act, dZ):
    """Write ``dZ = dA * g'(Z)``; see the contract."""
    if act == RELU:
        dZ[...] = np.multiply(dA, np.int64(Z > 0))
    elif act == SIGMOID:
        s = 1 / (1 + np.exp(-Z))
        dZ[...] = dA * s * (1 - s)
    elif act == TANH:
        dZ[...] = np.multiply(dA, 1 - np.power(A, 2))
    else:
        dZ[...] = dA


def linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev):
    """Write ``dW``, ``db`` and (unless None) ``dA_prev``; see the contract."""
    if scale == 1.0:
        dW[...] = np.dot(dZ, A_prev.T)
        db[...] = np.sum(dZ, axis=1, keepdims=True)
    else:
        dW[...] = scale * np.dot(dZ, A_prev.T)
        db[...] = scale * np.sum(dZ, axis=1, keepdims=True)
    if l2 != 0.0:
        dW += l2 * W
    if dA_prev is not None:
        dA_prev[...] = np.dot(W.T, dZ)


def linear_act_backward(dA, Z, A, act, A_prev, W, scale, l2, dZ, dW, db, dA_prev):
    """:func:`act_backward` into ``dZ``, then :func:`linear_backward`; see the contract."""
    act_backward(dA, Z, A, act, dZ)
    linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev)


def sigmoid_ce_backward(A, Y, scale, dZ):
    """Write ``dZ = scale * (A - Y)``; see the contract."""
    if scale == 1.0:
        dZ[...] = A - Y
    else:
        dZ[...] = scale * (A - Y)


def cross_entropy(A, Y, mode):
    """Mean binary cross-entropy of predictions ``A`` against labels ``Y``."""
    m = Y.shape[1]
    if mode == CE_LOGITS:
        Z = A     # the logits: log-sum-exp form, finite for every finite Z
        total = np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z))))
        return float(1.0 / m * total)
    if mode == CE_CLIPPED:
        eps = CE_CLIP_EPS32 if A.dtype == np.float32 else CE_CLIP_EPS
        A = np.clip(A, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
    total = np.nansum(logprobs) if mode == CE_NANSUM else np.sum(logprobs)
    return float(1.0 / m * total)


def sum_squares(x):
    """``np.sum(np.square(x))`` as a Python float."""
    return float(np.sum(np.square(x)))


# --------------------------------------------------------------------------- dropout
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_U64 = 0xFFFFFFFFFFFFFFFF


def _splitmix(x):
    """splitmix64 finaliser on a uint64 array (wrap-around arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(_MIX1)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(_MIX2)
    return x ^ (x >> np.uint64(31))


def counter_uniform(seed, n):
    """``n`` uniforms in [0, 1) from a splitmix64 hash of ``(seed, index)``.

    The key is ``splitmix64(seed + golden)``; element ``i`` is
    ``splitmix64(key + (i + 1) * golden) >> 11`` scaled by ``2**-53``.
    """
    key = _splitmix(np.array([(int(seed) + _GOLDEN) & _U64], dtype=np.uint64))
    idx = np.arange(1, n + 1, dtype=np.uint64)
    z = _splitmix(key + idx * np.uint64(_GOLDEN))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def dropout_forward(A, keep_prob, mode, seed, D, A_out):
    """Write the mask ``D`` and ``A_out = A * D / keep_prob``; see the contract."""
    if mode == DROPOUT_COMPAT:
        U = np.random.rand(A.shape[0], A.shape[1])
    else:
        U = counter_uniform(seed, A.size).reshape(A.shape)
    D[...] = U < keep_prob
    A_out[...] = A * D / keep_prob


def dropout_backward(dA, D, keep_prob, dA_out):
    """Write ``dA_out = dA * D / keep_prob``."""
    dA_out[...] = dA * D / keep_prob


# --------------------------------------------------------------------------- optimizers
def sgd_step(p, g, lr):
    """In place: ``p -= lr * g``."""
    p[...] = p - lr * g


def momentum_step(p, g, v, beta, lr):
    """In place: ``v = beta v + (1 - beta) g``; ``p -= lr v``."""
    v[...] = beta * v + (1 - beta) * g
    p[...] = p - lr * v


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """In place Adam step with bias correction by ``t``; eps outside the sqrt."""
    m[...] = beta1 * m + (1 - beta1) * g
    m_corrected = m / (1 - beta1**t)
    v[...] = beta2 * v + (1 - beta2) * np.power(g, 2)
    v_corrected = v / (1 - beta2**t)
    p[...] = p - lr * m_corrected / (np.sqrt(v_corrected) + eps)


# --------------------------------------------------------------------------- networks
def _forward(X, Ws, bs, hidden, keep_prob=1.0, dropout_mode=DROPOUT_COMPAT,
             dropout_seed=1, step=0):
    return mlp_forward(_this, X, Ws, bs, hidden, keep_prob, dropout_mode,
                       dropout_seed, step)


def _backward(Y, Ws, Zs, As, Ds, hidden, keep_prob, lambd, grad_form):
    return mlp_backward(_this, Y, Ws, Zs, As, Ds, hidden, keep_prob, lambd, grad_form)


def _cost(AL, Y, Ws, cost_mode, lambd):
    return mlp_cost(_this, AL, Y, Ws, cost_mode, lambd)


def _mlp_cost(theta, X, Y, dims, hidden):
    Ws, bs = layer_views(theta, dims)
    _, As, _ = _forward(X, Ws, bs, hidden)
    return cross_entropy(As[-1], Y, 0)


def grad_check_mlp(theta, X, Y, dims, hidden, epsilon, gradapprox):
    """Two-sided difference of the MLP cost for every parameter; see the contract."""
    for i in range(theta.shape[0]):
        thetaplus = np.copy(theta)
        thetaplus[i] = thetaplus[i] + epsilon
        J_plus = _mlp_cost(thetaplus, X, Y, dims, hidden)
        thetaminus = np.copy(theta)
        thetaminus[i] = thetaminus[i] - epsilon
        J_minus = _mlp_cost(thetaminus, X, Y, dims, hidden)
        gradapprox[i] = (J_plus - J_minus) / (2.0 * epsilon)


def train_mlp(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs, optimizer,
              lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed, lambd, keep_prob,
              dropout_mode, dropout_seed, cost_mode, grad_form, cost_every, costs):
    """Train the MLP in place, the notebook way; see the contract."""
    Ws, bs = layer_views(theta, dims)
    mWs, mbs = layer_views(opt_m, dims)
    vWs, vbs = layer_views(opt_v, dims)
    m = X.shape[1]
    k = 0
    for epoch in range(first_epoch, first_epoch + n_epochs):
        if batch_size == 0:
            batches = [(X, Y)]
        else:
            np.random.seed(shuffle_seed + epoch + 1)
            permutation = list(np.random.permutation(m))
            Xs, Ys = X[:, permutation], Y[:, permutation]
            batches = [(Xs[:, k:k + batch_size], Ys[:, k:k + batch_size])
                       for k in range(0, m, batch_size)]
        lr = lrs[epoch]
        for Xb, Yb in batches:
            t += 1
            Zs, As, Ds = _forward(Xb, Ws, bs, hidden, keep_prob, dropout_mode,
                                  dropout_seed, t)
            cost = _cost(Zs[-1] if cost_mode == CE_LOGITS else As[-1], Yb, Ws, cost_mode,
                         lambd)
            dWs, dbs = _backward(Yb, Ws, Zs, As, Ds, hidden, keep_prob, lambd, grad_form)
            for l in range(len(Ws)):
                for p, g, mm, vv in ((Ws[l], dWs[l], mWs[l], vWs[l]),
                                     (bs[l], dbs[l], mbs[l], vbs[l])):
                    if optimizer == OPT_ADAM:
                        adam_step(p, g, mm, vv, t, lr, beta1, beta2, eps)
                    elif optimizer == OPT_MOMENTUM:
                        momentum_step(p, g, mm, beta, lr)
                    else:
                        sgd_step(p, g, lr)
        if epoch % cost_every == 0:
            costs[k] = cost
            k += 1
    return t
