"""Layer-by-layer forward and backward passes written once over any kernel module.

``K`` is a backend module implementing :mod:`._spec`. The NumPy baseline trains with
these; the façade uses them on whichever backend is selected.
"""

import numpy as np

from ._spec import DROPOUT_COMPAT, FAST_STEP_STRIDE, GRAD_CHAIN, GRAD_DZ, SIGMOID

__all__ = ["layer_views", "mlp_forward", "mlp_backward", "mlp_cost", "check_train_args",
           "check_seed"]


def layer_views(theta, dims):
    """Views ``(Ws, bs)`` of the flat buffer ``theta`` for layer sizes ``dims``."""
    Ws, bs = [], []
    k = 0
    for l in range(1, len(dims)):
        n_out, n_in = int(dims[l]), int(dims[l - 1])
        Ws.append(theta[k:k + n_out * n_in].reshape(n_out, n_in))
        k += n_out * n_in
        bs.append(theta[k:k + n_out].reshape(n_out, 1))
        k += n_out
    return Ws, bs


def mlp_forward(K, X, Ws, bs, hidden, keep_prob=1.0, dropout_mode=DROPOUT_COMPAT,
                dropout_seed=1, step=0):
    """Forward pass; returns per-layer lists (Z, A, D) with ``A[0] = X``."""
    L = len(Ws)
    Zs, As, Ds = [], [X], []
    if keep_prob < 1.0 and dropout_mode == DROPOUT_COMPAT:
        np.random.seed(dropout_seed)
    for l in range(L):
        act = SIGMOID if l == L - 1 else hidden
        Z = np.empty((Ws[l].shape[0], X.shape[1]), dtype=X.dtype)
        A = np.empty_like(Z)
        K.linear_act_forward(As[-1], Ws[l], bs[l], act, Z, A)
        D = None
        if keep_prob < 1.0 and l < L - 1:
            D = np.empty(A.shape, dtype=bool)
            K.dropout_forward(A, keep_prob, dropout_mode,
                              dropout_seed + FAST_STEP_STRIDE * step + l, D, A)
        Zs.append(Z)
        As.append(A)
        Ds.append(D)
    return Zs, As, Ds


def mlp_cost(K, AL, Y, Ws, cost_mode, lambd):
    """Cross-entropy plus the L2 penalty ``(lambd / (2m)) sum W**2``."""
    cost = K.cross_entropy(AL, Y, cost_mode)
    if lambd != 0.0:
        m = Y.shape[1]
        cost = cost + (1.0 / m * lambd / 2) * sum(K.sum_squares(W) for W in Ws)
    return cost


def mlp_backward(K, Y, Ws, Zs, As, Ds, hidden, keep_prob, lambd, grad_form, full=False,
                 input_grad=True, keep_dz=True):
    """Backward pass; returns lists ``(dWs, dbs)``.

    With ``full``, returns ``(dWs, dbs, dZs, dAs)`` where ``dZs[l]`` is the gradient of
    layer ``l + 1``'s pre-activation and ``dAs[l]`` the gradient of ``As[l]`` (after the
    dropout mask; ``dAs[0]`` is the gradient of the input, computed only with
    ``input_grad``). Without ``keep_dz`` the ``dZs`` entries are None, so each is freed as
    soon as the layer below is done (less peak memory on long inputs).
    """
    L = len(Ws)
    m = Y.shape[1]
    AL = As[-1]
    dZ = np.empty_like(AL)
    if grad_form == GRAD_CHAIN:
        dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        K.act_backward(dAL, Zs[-1], AL, SIGMOID, dZ)
    else:
        K.sigmoid_ce_backward(AL, Y, 1.0 / m if grad_form == GRAD_DZ else 1.0, dZ)
    scale = 1.0 if grad_form == GRAD_DZ else 1.0 / m
    l2 = lambd / m
    dWs, dbs, dZs, dAs = [None] * L, [None] * L, [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        dW = np.empty_like(Ws[l])
        db = np.empty((Ws[l].shape[0], 1), dtype=dW.dtype)
        dA_prev = np.empty_like(As[l]) if (l > 0 or (full and input_grad)) else None
        if l == L - 1:
            K.linear_backward(dZ, As[l], Ws[l], scale, l2, dW, db, dA_prev)
        else:       # a hidden layer: g' of the gradient from above, then its products
            dZ = np.empty_like(dA_up)
            K.linear_act_backward(dA_up, Zs[l], As[l + 1], hidden, As[l], Ws[l], scale, l2,
                                  dZ, dW, db, dA_prev)
        dZs[l] = dZ if keep_dz else None
        dWs[l], dbs[l], dAs[l] = dW, db, dA_prev
        if l > 0:
            if Ds[l - 1] is not None:
                K.dropout_backward(dA_prev, Ds[l - 1], keep_prob, dA_prev)
            dA_up = dA_prev
    if full:
        return dWs, dbs, dZs, dAs
    return dWs, dbs


def check_seed(seed):
    """Raise NumPy's error for a legacy seed outside [0, 2**32)."""
    if not 0 <= seed <= 2**32 - 1:
        raise ValueError("Seed must be between 0 and 2**32 - 1")


def check_train_args(X, Y, dims, theta, opt_m, opt_v, first_epoch, n_epochs, lrs,
                     batch_size, shuffle_seed, keep_prob, dropout_mode, dropout_seed,
                     cost_every, costs):
    """Check a ``train_mlp`` call before anything runs; return the number of costs recorded.

    Shared by the compiled backends (host or device arrays: only shapes are read), so a
    call NumPy would reject midway is rejected before any parameter changes.
    """
    P = 0
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        P += n_out * (n_in + 1)
    y_cols = Y.shape[len(Y.shape) - 1] if len(Y.shape) else -1
    if len(dims) < 2 or len(X.shape) != 2 or X.shape[0] != dims[0] or y_cols != X.shape[1]:
        raise ValueError(f"X {tuple(X.shape)} and Y {tuple(Y.shape)} do not match "
                         f"dims {dims}")
    if theta.size != P or opt_m.size != P or opt_v.size != P:
        raise ValueError(f"theta, opt_m, opt_v need {P} entries for dims {dims}")
    if cost_every < 1:
        raise ValueError(f"cost_every must be >= 1, got {cost_every}")
    if n_epochs > 0 and first_epoch + n_epochs > lrs.shape[0]:
        raise IndexError(f"lrs has {lrs.shape[0]} entries, epochs run to "
                         f"{first_epoch + n_epochs - 1}")
    # the multiples of cost_every in [first_epoch, first_epoch + n_epochs)
    n_rec = (max(0, (first_epoch + n_epochs - 1) // cost_every - (first_epoch - 1) // cost_every)
             if n_epochs > 0 else 0)
    if costs.size < n_rec:
        raise IndexError(f"costs has {costs.size} entries, {n_rec} costs are recorded")
    if n_epochs > 0:
        if batch_size > 0:
            check_seed(shuffle_seed + first_epoch + 1)
            check_seed(shuffle_seed + first_epoch + n_epochs)
        if keep_prob < 1.0 and dropout_mode == DROPOUT_COMPAT:
            check_seed(dropout_seed)
    return n_rec
