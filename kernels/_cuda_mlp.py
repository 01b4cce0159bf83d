"""Whole-network drivers of the CUDA backend: the gradient check and the training loop.

Both take the backend module ``K`` (:mod:`fastnn.kernels.cuda`) for its launch
configuration and layer launchers, so the configuration is read at call time.

Gradient check
--------------
One thread per parameter (launches of at most ``K.GRAD_CHECK_CHUNK`` parameters). The
unperturbed forward pass runs once, with the layer kernels, into a flat float64 buffer
of every layer's activations. Thread ``i`` then evaluates ``J(theta + eps e_i)`` and
``J(theta - eps e_i)`` serially: perturbing ``W_l[r, c]`` or ``b_l[r]`` changes only row
``r`` of layer ``l``, so for each example it recomputes that row's dot product in full
(the perturbed value in place of the parameter, ``theta`` itself is never written),
takes the other rows of layer ``l`` from the cached activations, runs layers
``l+1 .. L`` serially through two rows of a global scratch array (``2 * max(dims)``
float64 per thread: the nets are small, and a local array would need a compile-time
size), and adds the example's cross-entropy terms. Work per parameter is
``m * (n_in(l) + sum of later layer sizes)`` multiply-adds. Everything runs in float64;
float32 inputs are converted on the device and the result rounded to ``gradapprox``'s
dtype.

Training loop
-------------
A host loop over epochs and batches launching device kernels. ``X``, ``Y``, ``theta``,
``opt_m``, ``opt_v``, a flat gradient shaped like ``theta`` and every per-layer buffer
(``Z``, ``A``, dropout masks, two ping-pong gradient buffers, batch copies) live on the
device for the whole run, allocated once per batch width (the full batches and the last,
shorter one). Per batch: one gather kernel (mini-batches), one fused product kernel per
layer (bias, activation and dropout mask in the epilogue), the output-layer gradient,
per layer one ``dW``/``db`` kernel and one ``W.T @ dZ`` kernel fused with dropout
backward and the hidden activation's derivative, then one optimizer kernel over the
flat parameters. Costs are reduced on the device into a device array of costs only on
the epochs that record one; the host reads nothing back until the end, where it copies
the costs and (for NumPy arguments) the parameters and optimizer state.

NumPy's global stream is used on the host exactly where the NumPy loop uses it: the
per-epoch ``np.random.seed(shuffle_seed + epoch + 1); np.random.permutation(m)`` (the
permutation is copied to the device) and, in compat dropout mode, the notebook's
``np.random.seed(dropout_seed)`` then ``np.random.rand(n_l, mb)`` per hidden layer. The
latter are the same on every forward pass of the same batch width, so they are drawn
once per width and kept on the device; at the end the last batch's draws are replayed
so that NumPy's stream is left exactly where the notebook leaves it.
"""

import numpy as np
from numba import cuda

from . import _cuda_kernels as _ck
from ._mlp import check_train_args
from ._spec import (
    CE_LOGITS,
    DROPOUT_COMPAT,
    FAST_STEP_STRIDE,
    GRAD_CHAIN,
    GRAD_DZ,
    OPT_ADAM,
    OPT_MOMENTUM,
    SIGMOID,
)

__all__ = []



def param_offsets(dims):
    """Start of ``W_l`` and ``b_l`` in the flat parameter vector, and its length."""
    off_w, off_b = [], []
    k = 0
    for l in range(len(dims) - 1):
        off_w.append(k)
        k += dims[l + 1] * dims[l]
        off_b.append(k)
        k += dims[l + 1]
    return off_w, off_b, k


def _flat(d, name):
    if d.ndim == 1:
        return d
    if not d.is_c_contiguous():
        raise ValueError(f"{name} must be C-contiguous, got strides {d.strides}")
    return d.reshape(d.size)


def _layer_views(flat, dims, off_w, off_b):
    Ws, bs = [], []
    for l in range(len(dims) - 1):
        n, k = dims[l + 1], dims[l]
        Ws.append(flat[off_w[l]:off_w[l] + n * k].reshape(n, k))
        bs.append(flat[off_b[l]:off_b[l] + n].reshape(n, 1))
    return Ws, bs


# --------------------------------------------------------------------------- gradient check
def grad_check(K, theta, X, Y, dims, hidden, epsilon, gradapprox):
    """``numpy_ref.grad_check_mlp`` with one device thread per parameter."""
    dims = [int(d) for d in np.asarray(dims).ravel()]
    L = len(dims) - 1
    io = K._Io()
    th = _flat(io.inp(theta, np.float64), "theta")
    Xd = io.inp(X, np.float64)
    Yd = io.inp(Y, np.float64)
    Yd = Yd if Yd.ndim == 2 else Yd.reshape(1, Yd.size)
    out = _flat(io.out(gradapprox), "gradapprox")
    P = th.shape[0]
    if P == 0:
        io.finish()
        return
    m = Xd.shape[1]
    off_w, off_b, _ = param_offsets(dims)
    off_a = []
    k = 0
    for l in range(L):
        off_a.append(k)
        k += dims[l + 1] * m
    A0 = cuda.device_array(max(k, 1), np.float64)
    Z0 = cuda.device_array(max(k, 1), np.float64)
    Ws, bs = _layer_views(th, dims, off_w, off_b)
    a_in = Xd
    for l in range(L):
        n = dims[l + 1]
        A = A0[off_a[l]:off_a[l] + n * m].reshape(n, m)
        K._forward(Ws[l], a_in, bs[l], SIGMOID if l == L - 1 else hidden,
                   Z0[off_a[l]:off_a[l] + n * m].reshape(n, m), A)
        a_in = A
    out64 = out if out.dtype == np.float64 else cuda.device_array(P, np.float64)
    nmax = max(dims[1:])
    rows = max(1, min(int(K.GRAD_CHECK_CHUNK), P))
    scratch = cuda.device_array((rows, 2 * nmax), np.float64)
    meta = [cuda.to_device(np.asarray(a, dtype=np.int64))
            for a in (dims, off_w, off_b, off_a)]
    for lo in range(0, P, rows):
        K._launch(_ck.grad_check_kernel, min(rows, P - lo), th, Xd, Yd, *meta, A0,
                  int(hidden), float(epsilon), lo, out64, scratch)
    if out64 is not out:
        K._launch(_ck.cast2d, P, out64.reshape(1, P), out.reshape(1, P))
    io.finish()


# --------------------------------------------------------------------------------- training
class _Buffers:
    """Device work buffers for one batch width ``mb``."""

    def __init__(self, K, dims, mb, dtype, use_dropout, shuffle):
        L = len(dims) - 1
        self.Z = [cuda.device_array((dims[l + 1], mb), dtype) for l in range(L)]
        self.A = [cuda.device_array((dims[l + 1], mb), dtype) for l in range(L)]
        self.D = [cuda.device_array((dims[l + 1], mb), np.bool_) if use_dropout else None
                  for l in range(L - 1)] + [None]
        nmax = max(dims)
        self.g = [cuda.device_array(nmax * mb, dtype) for _ in range(2)]
        self.Xb = cuda.device_array((dims[0], mb), dtype) if shuffle else None
        self.Yb = cuda.device_array((1, mb), dtype) if shuffle else None
        self.part_ce = cuda.device_array(K._reduce_threads(dims[L] * mb), np.float64)
        self.U = None

    def grad_view(self, which, rows, mb):
        return self.g[which][:rows * mb].reshape(rows, mb)




def train(K, X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs, optimizer,
          lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed, lambd, keep_prob,
          dropout_mode, dropout_seed, cost_mode, grad_form, cost_every, costs):
    """``numpy_ref.train_mlp`` as a host loop over device kernels; returns ``t``."""
    dims = [int(d) for d in np.asarray(dims).ravel()]
    first_epoch, n_epochs, t = int(first_epoch), int(n_epochs), int(t)
    batch_size, cost_every = int(batch_size), int(cost_every)
    shuffle_seed, dropout_seed = int(shuffle_seed), int(dropout_seed)
    keep_prob, lambd = float(keep_prob), float(lambd)
    lrs = np.asarray(lrs, dtype=np.float64).ravel()
    n_rec = check_train_args(X, Y, dims, theta, opt_m, opt_v, first_epoch, n_epochs, lrs,
                      batch_size, shuffle_seed, keep_prob, dropout_mode, dropout_seed,
                      cost_every, costs)
    if n_epochs <= 0:
        return t

    L = len(dims) - 1
    io = K._Io()
    th = _flat(io.out(theta, copy_in=True), "theta")
    om = _flat(io.out(opt_m, copy_in=True), "opt_m")
    ov = _flat(io.out(opt_v, copy_in=True), "opt_v")
    dt = th.dtype
    Xd = io.inp(X, dt)
    Yd = io.inp(Y, dt)
    Yd = Yd if Yd.ndim == 2 else Yd.reshape(1, Yd.size)
    costs_dev = K.is_device_array(costs)
    costs_d = (_flat(costs, "costs") if costs_dev
               else cuda.device_array(max(n_rec, 1), np.float64))
    m = Xd.shape[1]
    P = th.shape[0]
    off_w, off_b, _ = param_offsets(dims)
    grad = cuda.device_array(P, dt)
    Ws, bs = _layer_views(th, dims, off_w, off_b)
    gWs, gbs = _layer_views(grad, dims, off_w, off_b)
    th2, grad2, om2, ov2 = (a.reshape(1, P) for a in (th, grad, om, ov))
    ew = K._ew(dt)
    tdt = dt.type

    use_dropout = keep_prob < 1.0
    compat = use_dropout and dropout_mode == DROPOUT_COMPAT
    shuffle = batch_size > 0
    sq_sizes = [K._reduce_threads(dims[l + 1] * dims[l]) for l in range(L)]
    sq_offsets = np.concatenate([[0], np.cumsum(sq_sizes)]).astype(int)
    part_sq = cuda.device_array(int(sq_offsets[-1]), np.float64)
    part_sq_views = [part_sq[sq_offsets[l]:sq_offsets[l + 1]] for l in range(L)]
    n_sq = int(sq_offsets[-1]) if lambd != 0.0 else 0
    buffers = {}
    perm_d = cuda.device_array(m, np.int64) if shuffle else None
    last_mb = None
    k_cost = 0

    for epoch in range(first_epoch, first_epoch + n_epochs):
        if shuffle:
            np.random.seed(shuffle_seed + epoch + 1)
            perm_d.copy_to_device(np.random.permutation(m).astype(np.int64))
            batches = [(k0, min(batch_size, m - k0)) for k0 in range(0, m, batch_size)]
        else:
            batches = [(0, m)]
        lr = float(lrs[epoch])
        for bi, (k0, mb) in enumerate(batches):
            t += 1
            buf = buffers.get(mb)
            if buf is None:
                buf = buffers[mb] = _Buffers(K, dims, mb, dt, use_dropout, shuffle)
                if compat:
                    np.random.seed(dropout_seed)
                    buf.U = [cuda.to_device(np.random.rand(dims[l + 1], mb))
                             for l in range(L - 1)]
            last_mb = mb
            # ---- batch
            if shuffle:
                K._launch(_ck.gather_batch, (dims[0] + 1) * mb, Xd, Yd, perm_d, k0,
                          buf.Xb, buf.Yb)
                xin, yin = buf.Xb, buf.Yb
            else:
                xin, yin = Xd, Yd
            # ---- forward (dropout fused into the hidden layers' epilogue)
            a_in = xin
            for l in range(L):
                act = SIGMOID if l == L - 1 else hidden
                if use_dropout and l < L - 1:
                    if compat:
                        K._forward(Ws[l], a_in, bs[l], act, buf.Z[l], buf.A[l], 1,
                                   buf.U[l], 0, keep_prob, buf.D[l])
                    else:
                        key = K._seed_key(dropout_seed + FAST_STEP_STRIDE * t + l)
                        K._forward(Ws[l], a_in, bs[l], act, buf.Z[l], buf.A[l], 2,
                                   None, key, keep_prob, buf.D[l])
                else:
                    K._forward(Ws[l], a_in, bs[l], act, buf.Z[l], buf.A[l])
                a_in = buf.A[l]
            AL, ZL = buf.A[L - 1], buf.Z[L - 1]
            # ---- cost, on the epochs that record one
            if bi == len(batches) - 1 and epoch % cost_every == 0:
                K._ce_partials(ZL if cost_mode == CE_LOGITS else AL, yin, cost_mode,
                               buf.part_ce)
                if n_sq:
                    for l in range(L):
                        K._sumsq_partials(Ws[l], part_sq_views[l])
                K._launch(_ck.record_cost, 1, buf.part_ce, part_sq, n_sq, 1.0 / mb,
                          1.0 / mb * lambd / 2, costs_d, k_cost)
                k_cost += 1
            # ---- backward
            nl = dims[L]
            dZ = buf.grad_view(0, nl, mb)
            if grad_form == GRAD_CHAIN:
                K._launch(ew["chain_backward"], nl * mb, AL, yin, ZL, dZ)
            else:
                s_out = 1.0 / mb if grad_form == GRAD_DZ else 1.0
                K._launch(ew["sigmoid_ce_backward"], nl * mb, AL, yin, tdt(s_out),
                          bool(s_out != 1.0), dZ)
            scale = 1.0 if grad_form == GRAD_DZ else 1.0 / mb
            l2 = lambd / mb
            cur = 0
            for l in range(L - 1, -1, -1):
                a_prev = buf.A[l - 1] if l > 0 else xin
                K._weight_grads(dZ, a_prev, Ws[l], scale, l2, gWs[l], gbs[l])
                if l > 0:
                    d_next = buf.grad_view(1 - cur, dims[l], mb)
                    K._input_grad(Ws[l], dZ, d_next, fuse=True, D=buf.D[l - 1],
                                  keep=keep_prob, Zp=buf.Z[l - 1], Ap=buf.A[l - 1],
                                  act=hidden)
                    dZ = d_next
                    cur = 1 - cur
            # ---- optimizer: one pass over the flat parameters
            if optimizer == OPT_ADAM:
                K._adam(th2, grad2, om2, ov2, t, lr, beta1, beta2, eps)
            elif optimizer == OPT_MOMENTUM:
                K._launch(ew["momentum"], P, th2, grad2, om2, tdt(beta), tdt(1 - beta),
                          tdt(lr))
            else:
                K._launch(ew["sgd"], P, th2, grad2, tdt(lr))

    if compat:
        # leave NumPy's stream after the last forward pass's draws, as the notebook does
        np.random.seed(dropout_seed)
        for l in range(L - 1):
            np.random.rand(dims[l + 1], last_mb)
    if not costs_dev and n_rec:
        costs.flat[:n_rec] = costs_d.copy_to_host()[:n_rec]
    io.finish()
    return t
