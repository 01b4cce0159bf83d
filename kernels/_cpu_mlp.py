"""Whole-network kernels of the Numba backend: the training loop and the gradient check.

``train_kernel`` runs every epoch and batch of ``numpy_ref.train_mlp`` in one compiled
call, on preallocated flat workspaces (per-layer ``Z``, ``A`` and dropout masks at
offsets computed from ``dims``; two ping-pong gradient buffers; one flat gradient the
shape of ``theta``, so the optimizer step is one pass). Layers with
``n_out * n_in * batch < blas_min_work`` use the hand loops of :mod:`._cpu_blas`
(NumPy's exact summation order), larger ones NumPy's ``np.dot`` (see ``_cpu_layers``).
NumPy's legacy stream (per-epoch shuffle seeds, compat-dropout reseeding) runs on a
private MT19937 key; the kernel returns it so the wrapper can leave NumPy's global state
where ``numpy_ref`` would.

``grad_check_kernel`` computes two-sided differences incrementally: perturbing entry
``(r, c)`` of ``W_l`` or ``b_l[r]`` changes only row ``r`` of ``Z_l``, so that row is
recomputed (bit for bit as the full product would give it) and layers ``l+1..L`` are
recomputed from the cached activations. Every parameter is independent: the kernel runs
on a range of parameters and releases the GIL, so the wrapper splits the parameters over
threads, with identical results for any thread count.
"""

import math

import numpy as np
from numba import njit

from . import _cpu_blas as blas
from . import _cpu_layers as lay
from . import _cpu_rng as rng
from ._spec import (
    CE_LOGITS,
    CE_SUM,
    DROPOUT_COMPAT,
    FAST_STEP_STRIDE,
    GRAD_CHAIN,
    GRAD_DZ,
    OPT_ADAM,
    OPT_MOMENTUM,
    SIGMOID,
)

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}


@njit(**_JIT)
def param_offsets(dims):
    """Start of ``W_l`` and ``b_l`` in the flat parameter vector, and its length."""
    L = dims.shape[0] - 1
    off_w = np.empty(L, np.int64)
    off_b = np.empty(L, np.int64)
    k = 0
    for l in range(L):
        off_w[l] = k
        k += dims[l + 1] * dims[l]
        off_b[l] = k
        k += dims[l + 1]
    return off_w, off_b, k


@njit(**_JIT)
def _act_offsets(dims, mb):
    """Start of layer ``l``'s ``(dims[l+1], mb)`` block in a flat activation buffer."""
    L = dims.shape[0] - 1
    off = np.empty(L + 1, np.int64)
    k = 0
    for l in range(L):
        off[l] = k
        k += dims[l + 1] * mb
    off[L] = k
    return off


@njit(**_JIT)
def _max_workspace(dims, mb):
    w = 0
    for l in range(dims.shape[0] - 1):
        w = max(w, lay.workspace_size(dims[l + 1], dims[l], mb))
    return w


# --------------------------------------------------------------------------- training
@njit(**_JIT)
def train_kernel(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs,
                 optimizer, lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed,
                 lambd, keep_prob, dropout_mode, dropout_seed, cost_mode, grad_form,
                 cost_every, costs, blas_min_work, key_out):
    """``numpy_ref.train_mlp`` in one call; returns ``(t, rng_used, pos)``.

    When ``rng_used`` is 1, NumPy's legacy stream must be set to ``(key_out, pos)``.
    """
    dt = X.dtype
    L = dims.shape[0] - 1
    n0 = dims[0]
    m = X.shape[1]
    shuffle = batch_size > 0
    mbmax = min(batch_size, m) if shuffle else m
    off_w, off_b, _ = param_offsets(dims)
    off_a = _act_offsets(dims, mbmax)
    nmax = n0
    for l in range(L + 1):
        nmax = max(nmax, dims[l])

    z_buf = np.empty(off_a[L], dt)
    a_buf = np.empty(off_a[L], dt)
    use_dropout = keep_prob < 1.0
    compat = use_dropout and dropout_mode == DROPOUT_COMPAT
    d_buf = np.zeros(off_a[L] if use_dropout else 0, np.bool_)
    g0 = np.empty(nmax * mbmax, dt)
    g1 = np.empty(nmax * mbmax, dt)
    grad = np.zeros(theta.shape[0], dt)
    ws = np.empty(_max_workspace(dims, mbmax), dt)
    ce_buf = np.empty(mbmax, dt)
    xb = np.empty(n0 * mbmax if shuffle else 0, dt)
    yb = np.empty(mbmax if shuffle else 0, dt)
    perm = np.empty(m if shuffle else 0, np.int64)
    seed_key = np.empty(rng.MT_N, np.uint32)
    key = np.empty(rng.MT_N, np.uint32)
    pos = np.int64(rng.MT_N)
    if compat:
        rng.mt_seed(seed_key, dropout_seed)
    rng_used = 0
    n_cost = 0
    one = dt.type(1.0)

    for epoch in range(first_epoch, first_epoch + n_epochs):
        lr = lrs[epoch]
        if shuffle:
            pos = rng.mt_seed(key, shuffle_seed + epoch + 1)
            pos = rng.mt_permutation(key, pos, perm)
            rng_used = 1
            n_batches = (m + batch_size - 1) // batch_size
        else:
            n_batches = 1
        for bi in range(n_batches):
            t += 1
            # ---- batch
            if shuffle:
                k0 = bi * batch_size
                mb = min(batch_size, m - k0)
                xin = xb[:n0 * mb].reshape(n0, mb)
                for r in range(n0):
                    for j in range(mb):
                        xin[r, j] = X[r, perm[k0 + j]]
                yf = yb[:mb]
                for j in range(mb):
                    yf[j] = Y[0, perm[k0 + j]]
            else:
                mb = m
                xin = X
                yf = Y[0]
            # ---- forward
            if compat:
                for q in range(rng.MT_N):
                    key[q] = seed_key[q]
                pos = np.int64(rng.MT_N)
                rng_used = 1
            a_in = xin
            for l in range(L):
                n = dims[l + 1]
                k = dims[l]
                W = theta[off_w[l]:off_w[l] + n * k].reshape(n, k)
                b = theta[off_b[l]:off_b[l] + n]
                Z = z_buf[off_a[l]:off_a[l] + n * mb].reshape(n, mb)
                A = a_buf[off_a[l]:off_a[l] + n * mb].reshape(n, mb)
                act = SIGMOID if l == L - 1 else hidden
                if n * k * mb >= blas_min_work:
                    lay.linear_act_blas(a_in, W, b, act, Z, A)
                else:
                    lay.linear_act_hand(a_in, W, b, act, Z, A, ws)
                if use_dropout and l < L - 1:
                    af = a_buf[off_a[l]:off_a[l] + n * mb]
                    df = d_buf[off_a[l]:off_a[l] + n * mb]
                    if compat:
                        pos = lay.dropout_compat_flat(af, keep_prob, key, pos, df, af)
                    else:
                        seed = dropout_seed + FAST_STEP_STRIDE * t + l
                        lay.dropout_fast_flat(af, keep_prob, seed, df, af)
                a_in = A
            nl = dims[L]
            alf = a_buf[off_a[L - 1]:off_a[L - 1] + nl * mb]
            zlf = z_buf[off_a[L - 1]:off_a[L - 1] + nl * mb]
            # ---- cost (only where it is recorded)
            if bi == n_batches - 1 and epoch % cost_every == 0:
                cost = lay.cross_entropy_flat(zlf if cost_mode == CE_LOGITS else alf, yf, mb,
                                              cost_mode, ce_buf)
                if lambd != 0.0:
                    total = 0.0
                    for l in range(L):
                        total = total + lay.sum_squares_flat(
                            theta[off_w[l]:off_w[l] + dims[l + 1] * dims[l]])
                    cost = cost + (1.0 / mb * lambd / 2) * total
                costs[n_cost] = cost
                n_cost += 1
            # ---- backward
            dzf = g0[:nl * mb]
            if grad_form == GRAD_CHAIN:
                for i in range(nl * mb):
                    a = alf[i]
                    y = yf[i]
                    da = -(y / a - (one - y) / (one - a))
                    s = one / (one + np.exp(-zlf[i]))
                    dzf[i] = da * s * (one - s)
            else:
                s_out = 1.0 / mb if grad_form == GRAD_DZ else 1.0
                lay.sigmoid_ce_backward_flat(alf, yf, s_out, dzf)
            scale = 1.0 if grad_form == GRAD_DZ else 1.0 / mb
            l2 = lambd / mb
            cur = 0
            for l in range(L - 1, -1, -1):
                n = dims[l + 1]
                k = dims[l]
                W = theta[off_w[l]:off_w[l] + n * k].reshape(n, k)
                dW = grad[off_w[l]:off_w[l] + n * k].reshape(n, k)
                db = grad[off_b[l]:off_b[l] + n]
                gcur = g0 if cur == 0 else g1
                gnext = g1 if cur == 0 else g0
                dZ = gcur[:n * mb].reshape(n, mb)
                want = l > 0
                if want:
                    a_prev = a_buf[off_a[l - 1]:off_a[l - 1] + k * mb].reshape(k, mb)
                    dA = gnext[:k * mb].reshape(k, mb)
                else:
                    a_prev = xin
                    dA = dZ
                if n * k * mb >= blas_min_work:
                    lay.linear_backward_blas(dZ, a_prev, W, scale, l2, dW, db, dA, want)
                else:
                    lay.linear_backward_hand(dZ, a_prev, W, scale, l2, dW, db, dA, want, ws)
                if want:
                    daf = gnext[:k * mb]
                    if use_dropout:
                        lay.dropout_backward_flat(
                            daf, d_buf[off_a[l - 1]:off_a[l - 1] + k * mb], keep_prob, daf)
                    lay.act_backward_flat(daf, z_buf[off_a[l - 1]:off_a[l - 1] + k * mb],
                                          a_buf[off_a[l - 1]:off_a[l - 1] + k * mb],
                                          hidden, daf)
                    cur = 1 - cur
            # ---- optimizer: one pass over the flat parameters
            if optimizer == OPT_ADAM:
                bc1 = 1.0 - math.pow(beta1, float(t))
                bc2 = 1.0 - math.pow(beta2, float(t))
                lay.adam_flat(theta, grad, opt_m, opt_v, bc1, bc2, lr, beta1, beta2, eps)
            elif optimizer == OPT_MOMENTUM:
                lay.momentum_flat(theta, grad, opt_m, beta, lr)
            else:
                lay.sgd_flat(theta, grad, lr)
    if rng_used:
        for q in range(rng.MT_N):
            key_out[q] = key[q]
    return t, rng_used, pos


# --------------------------------------------------------------------------- grad check
@njit(nogil=True, **_JIT)
def grad_check_kernel(theta, X, Y, dims, hidden, epsilon, out, lo, hi):
    """``out[i]`` for the parameters ``i`` in ``[lo, hi)`` (releases the GIL).

    Computes the unperturbed forward pass once, then for each parameter recomputes the
    perturbed row and the layers after it into private buffers. Every entry is computed
    the same way whatever ``[lo, hi)`` is, so ranges can run on any number of threads
    with identical results.
    """
    dt = theta.dtype
    L = dims.shape[0] - 1
    m = X.shape[1]
    off_w, off_b, _ = param_offsets(dims)
    off_a = _act_offsets(dims, m)
    kmax = 1
    for l in range(L):
        kmax = max(kmax, dims[l])
    Z0 = np.empty(off_a[L], dt)
    A0 = np.empty(off_a[L], dt)
    Zp = np.empty(off_a[L], dt)
    Ap = np.empty(off_a[L], dt)
    ws = np.empty(_max_workspace(dims, m), dt)
    a_in = X
    for l in range(L):
        n = dims[l + 1]
        k = dims[l]
        lay.linear_act_hand(a_in, theta[off_w[l]:off_w[l] + n * k].reshape(n, k),
                            theta[off_b[l]:off_b[l] + n], SIGMOID if l == L - 1 else hidden,
                            Z0[off_a[l]:off_a[l] + n * m].reshape(n, m),
                            A0[off_a[l]:off_a[l] + n * m].reshape(n, m), ws)
        a_in = A0[off_a[l]:off_a[l] + n * m].reshape(n, m)
    wrow = np.empty(kmax, dt)
    ce_buf = np.empty(m, dt)
    e = dt.type(epsilon)
    yf = Y[0]
    ce_sum = np.int64(CE_SUM)
    for i in range(lo, hi):
        l = 0
        while l < L - 1 and i >= off_w[l + 1]:
            l += 1
        n = dims[l + 1]
        k = dims[l]
        if i < off_b[l]:
            r = (i - off_w[l]) // k
            c = (i - off_w[l]) % k
            is_w = True
        else:
            r = i - off_b[l]
            c = 0
            is_w = False
        a_prev = X if l == 0 else A0[off_a[l - 1]:off_a[l - 1] + k * m].reshape(k, m)
        act = SIGMOID if l == L - 1 else hidden
        Al = Ap[off_a[l]:off_a[l] + n * m].reshape(n, m)
        Zl = Zp[off_a[l]:off_a[l] + n * m].reshape(n, m)
        J_plus = 0.0
        J_minus = 0.0
        for sign in range(2):
            val = theta[i] + e if sign == 0 else theta[i] - e
            w = wrow[:k]
            for q in range(k):
                w[q] = theta[off_w[l] + r * k + q]
            bval = theta[off_b[l] + r]
            if is_w:
                w[c] = val
            else:
                bval = val
            a_base = A0[off_a[l]:off_a[l] + n * m]
            a_priv = Ap[off_a[l]:off_a[l] + n * m]
            for q in range(n * m):
                a_priv[q] = a_base[q]
            blas.mm_nn_row(w, a_prev, n, r, Zl[r], ws)
            lay.activate_row(Zl[r], Al[r], bval, act)
            a_in = Al
            for j in range(l + 1, L):
                nj = dims[j + 1]
                kj = dims[j]
                Zj = Zp[off_a[j]:off_a[j] + nj * m].reshape(nj, m)
                Aj = Ap[off_a[j]:off_a[j] + nj * m].reshape(nj, m)
                Wj = theta[off_w[j]:off_w[j] + nj * kj].reshape(nj, kj)
                lay.linear_act_hand(a_in, Wj, theta[off_b[j]:off_b[j] + nj],
                                    SIGMOID if j == L - 1 else hidden, Zj, Aj, ws)
                a_in = Aj
            J = lay.cross_entropy_flat(Ap[off_a[L - 1]:off_a[L]], yf, m, ce_sum, ce_buf)
            if sign == 0:
                J_plus = J
            else:
                J_minus = J
        out[i] = (J_plus - J_minus) / (2.0 * epsilon)
