"""Whole-network kernels of the Numba backend: the training loop and the gradient check.

``train_kernel`` runs every epoch and batch of ``numpy_ref.train_mlp`` in one compiled
call, on preallocated flat workspaces (per-layer ``Z``, ``A`` and dropout masks at
offsets computed from ``dims``; two ping-pong gradient buffers; one flat gradient the
shape of ``theta``, so the optimizer step is one pass). Layers with
``n_out * n_in * batch < blas_min_work``, or of 2 to ``hand_rows`` units, use the hand
loops of :mod:`._cpu_blas` (NumPy's exact summation order), the others NumPy's
``np.dot`` (see ``_cpu_layers.use_blas``).
NumPy's legacy stream (per-epoch shuffle seeds, compat-dropout reseeding) runs on a
private MT19937 key; the kernel returns it so the wrapper can leave NumPy's global state
where ``numpy_ref`` would.

The gradient check computes two-sided differences incrementally: perturbing entry
``(r, c)`` of ``W_l`` or ``b_l[r]`` changes only row ``r`` of ``Z_l``, so that row is
recomputed (bit for bit as the full product would give it) and the layers after it from
the cached activations. ``grad_check_cols`` goes further, still bit for bit: only the
examples (columns) where ``g`` of that row changed are recomputed, and the next layer's
fma chains resume from cached partial chains before term ``r``. ``grad_check_kernel``
recomputes whole layers and covers the shapes the other cannot (one example, or a
hidden layer wider than one OpenBLAS k block). Every parameter is independent and the
kernels release the GIL: ``grad_check_kernel`` runs on a range of parameters,
``grad_check_cols`` takes whole rows from a counter shared by its calls, so the wrapper
runs them on threads, with identical results for any thread count.
"""

import math

import numpy as np
from numba import njit

from . import _cpu_blas as blas
from . import _cpu_layers as lay
from . import _cpu_rng as rng
from . import _cpu_ufunc as uf
from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)
from ._spec import (
    CE_LOGITS,
    DROPOUT_COMPAT,
    FAST_STEP_STRIDE,
    GRAD_CHAIN,
    GRAD_DZ,
    LINEAR,
    OPT_ADAM,
    OPT_MOMENTUM,
    RELU,
    SIGMOID,
    TANH,
)

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}


@njit(inline="always", **_JIT)
def _offsets_into(dims, m, off_w, off_b, off_a):
    """:func:`param_offsets` (``off_w``, ``off_b``) and :func:`_act_offsets` (``off_a``,
    ``m`` examples) into the given arrays."""
    L = dims.shape[0] - 1
    k = 0
    a = 0
    for l in range(L):
        off_w[l] = k
        k += dims[l + 1] * dims[l]
        off_b[l] = k
        k += dims[l + 1]
        off_a[l] = a
        a += dims[l + 1] * m
    off_a[L] = a


@njit(**_JIT)
def param_offsets(dims):
    """Start of ``W_l`` and ``b_l`` in the flat parameter vector, and its length."""
    L = dims.shape[0] - 1
    off_w = np.empty(L, np.int64)
    off_b = np.empty(L, np.int64)
    _offsets_into(dims, 0, off_w, off_b, np.empty(L + 1, np.int64))
    return off_w, off_b, off_b[L - 1] + dims[L]


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


@njit(**_JIT)
def _carve(sizes):
    """Starts of segments of ``sizes`` values laid one after another in one buffer, each
    rounded up to 8 values (64 bytes), so a segment is as aligned as its own allocation
    would be (misaligned rows cost the column loops a fifth); the last entry is the
    buffer's length."""
    starts = np.empty(len(sizes) + 1, np.int64)
    k = 0
    for i in range(len(sizes)):
        starts[i] = k
        k += (sizes[i] + 7) // 8 * 8
    starts[len(sizes)] = k
    return starts


# --------------------------------------------------------------------------- training
@njit(**_JIT)
def train_kernel(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs,
                 optimizer, lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed,
                 lambd, keep_prob, dropout_mode, dropout_seed, cost_mode, grad_form,
                 cost_every, costs, blas_min_work, hand_rows, key_out):
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

    # every array the loop touches, as views that count no references (blas.borrow)
    # into one buffer per dtype; the owners stay alive to the end through keep_alive
    sizes = (off_a[L], off_a[L], nmax * mbmax, nmax * mbmax, theta.shape[0],
             _max_workspace(dims, mbmax), 2 * nmax * mbmax, n0 * mbmax if shuffle else 0,
             mbmax if shuffle else 0)
    st = _carve(sizes)
    f_own = np.empty(st[-1], dt)
    fb = blas.borrow(f_own)
    z_buf, a_buf, g0, g1, grad, ws, ce_buf, xb, yb = (
        fb[st[0]:st[0] + sizes[0]], fb[st[1]:st[1] + sizes[1]], fb[st[2]:st[2] + sizes[2]],
        fb[st[3]:st[3] + sizes[3]], fb[st[4]:st[4] + sizes[4]], fb[st[5]:st[5] + sizes[5]],
        fb[st[6]:st[6] + sizes[6]], fb[st[7]:st[7] + sizes[7]], fb[st[8]:st[8] + sizes[8]])
    grad[:] = 0.0
    use_dropout = keep_prob < 1.0
    compat = use_dropout and dropout_mode == DROPOUT_COMPAT
    d_own = np.zeros(off_a[L] if use_dropout else 0, np.bool_)
    perm_own = np.empty(m if shuffle else 0, np.int64)
    # rows 0-4 of the keys: the dropout seed's key, then the shuffle keys of four epochs
    # seeded together (rng.mt_seed4), ``key`` being the stream in use; then the
    # shuffle's scratch
    u_own = np.empty(5 * rng.MT_N + rng.MT_N + (m if shuffle else 0), np.uint32)
    ub = blas.borrow(u_own)
    seed_key = ub[:rng.MT_N]
    epoch_keys = blas.view2d(ub, rng.MT_N, 4, rng.MT_N)
    shuffle_ws = ub[5 * rng.MT_N:]
    d_buf, perm = blas.borrow(d_own), blas.borrow(perm_own)
    key = epoch_keys[0]
    X, Y, theta, opt_m, opt_v = (blas.borrow(X), blas.borrow(Y), blas.borrow(theta),
                                 blas.borrow(opt_m), blas.borrow(opt_v))
    pos = np.int64(rng.MT_N)
    if compat:
        rng.mt_seed(seed_key, dropout_seed)
    rng_used = 0
    n_cost = 0
    one = dt.type(1.0)

    for epoch in range(first_epoch, first_epoch + n_epochs):
        lr = lrs[epoch]
        if shuffle:
            ek = (epoch - first_epoch) % 4
            if ek == 0:
                rng.mt_seed4(epoch_keys, shuffle_seed + epoch + 1)
            key = epoch_keys[ek]
            pos = rng.mt_permutation_into(key, np.int64(rng.MT_N), perm,
                                          shuffle_ws[:rng.MT_N], shuffle_ws[rng.MT_N:])
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
                xin = blas.view2d(xb, 0, n0, mb)
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
                W = blas.view2d(theta, off_w[l], n, k)
                b = theta[off_b[l]:off_b[l] + n]
                Z = blas.view2d(z_buf, off_a[l], n, mb)
                A = blas.view2d(a_buf, off_a[l], n, mb)
                act = SIGMOID if l == L - 1 else hidden
                if lay.use_blas(n, k, mb, blas_min_work, hand_rows):
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
                uf.sigmoid_into(zlf[:nl * mb], dzf)
                for i in range(nl * mb):
                    a = alf[i]
                    y = yf[i]
                    da = -(y / a - (one - y) / (one - a))
                    s = dzf[i]
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
                W = blas.view2d(theta, off_w[l], n, k)
                dW = blas.view2d(grad, off_w[l], n, k)
                db = grad[off_b[l]:off_b[l] + n]
                gcur = g0 if cur == 0 else g1
                gnext = g1 if cur == 0 else g0
                dZ = blas.view2d(gcur, 0, n, mb)
                want = l > 0
                if want:
                    a_prev = blas.view2d(a_buf, off_a[l - 1], k, mb)
                    dA = blas.view2d(gnext, 0, k, mb)
                else:
                    a_prev = xin
                    dA = dZ
                if lay.use_blas(n, k, mb, blas_min_work, hand_rows):
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
    blas.keep_alive(f_own, d_own, perm_own, u_own)
    return t, rng_used, pos


# --------------------------------------------------------------------------- grad check
@njit(nogil=True, **_JIT)
def grad_check_kernel(theta, X, Y, dims, hidden, epsilon, out, lo, hi):
    """``out[i]`` for the parameters ``i`` in ``[lo, hi)`` (releases the GIL).

    Computes the unperturbed forward pass once, then for each parameter recomputes the
    perturbed row and the layers after it into private buffers, up to the output
    layer's pre-activations; the sigmoid and the cost terms of every perturbation then
    run at once (two calls of NumPy's loops, whose fixed cost exceeds a small network's
    arithmetic). Every entry is computed the same way whatever ``[lo, hi)`` is, so
    ranges can run on any number of threads with identical results.
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
    Zp[:] = Z0
    wrow = np.empty(kmax, dt)
    e = dt.type(epsilon)
    nz = off_a[L] - off_a[L - 1]
    # every perturbation's output pre-activations, then their sigmoid and cost terms
    # (with room for _ce_terms' scratch)
    nq = 2 * (hi - lo) * nz
    ZL = np.empty(3 * nq, dt)
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
        act = LINEAR if l == L - 1 else hidden
        Al = Ap[off_a[l]:off_a[l] + n * m].reshape(n, m)
        Zl = Zp[off_a[l]:off_a[l] + n * m].reshape(n, m)
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
                                    LINEAR if j == L - 1 else hidden, Zj, Aj, ws)
                a_in = Aj
            q0 = (2 * (i - lo) + sign) * nz
            ZL[q0:q0 + nz] = Zp[off_a[L - 1]:off_a[L]]
            if l == L - 1:
                Zl[r] = Z0[off_a[l] + r * m:off_a[l] + (r + 1) * m]
    # the cost of each: lay.cross_entropy_flat (CE_SUM) of its sigmoid
    uf.sigmoid_into(ZL[:nq], ZL[:nq])
    _ce_terms(ZL, nq, Y, np.arange(nq) % nz)
    inv_m = dt.type(1.0 / m)
    for i in range(lo, hi):
        q0 = 2 * (i - lo) * nz
        j_plus = np.float64(inv_m * blas.pairwise_sum(ZL[q0:q0 + nz], False))
        j_minus = np.float64(inv_m * blas.pairwise_sum(ZL[q0 + nz:q0 + 2 * nz], False))
        out[i] = (j_plus - j_minus) / (2.0 * epsilon)


# ------------------------------------------------------------- grad check, sparse columns
#: Most cached chain values per layer (8 bytes each): a layer caches its chains after
#: every term if they fit, else every few terms (see :func:`grad_check_setup`); a
#: perturbed row's own chains get a quarter of it.
CP_MAX = 1 << 22
#: Most values of the batch in which, below 16 examples, a row's perturbations go
#: through the later layers together (:func:`grad_check_cols`): changed columns times
#: the widest layer.
BATCH_MAX = 1 << 16


@njit(**_JIT)
def sparse_check_ok(dims, m):
    """Whether :func:`grad_check_cols` reproduces every product of the network.

    It needs every example-column product to be NumPy's per-column order: at least 2
    examples (one example is a ``dgemv_t``/``ddot``) and layers after the first with
    at most ``GEMM_Q`` inputs (one k block).
    """
    if m < 2:
        return False
    for l in range(1, dims.shape[0] - 1):
        if dims[l] > blas.GEMM_Q:
            return False
    return True


@njit(**_JIT)
def grad_check_work(dims, m):
    """Multiply-adds of a full recompute from the perturbed layer on (both signs)."""
    work = 0
    later = 0
    for l in range(dims.shape[0] - 2, -1, -1):
        work += 2 * dims[l + 1] * (dims[l] + 1) * (dims[l] + later) * m
        later += dims[l + 1] * dims[l]
    return work


@njit(**_JIT)
def grad_check_small(theta, X, Y, dims, hidden, epsilon, out, max_work):
    """:func:`grad_check_sparse` when it applies and the work is below ``max_work`` (one
    thread); returns whether it ran. The wrapper's common case in one compiled call."""
    m = X.shape[1]
    theta, X, Y, dims, out = (blas.borrow(theta), blas.borrow(X), blas.borrow(Y),
                              blas.borrow(dims), blas.borrow(out))
    if not sparse_check_ok(dims, m) or grad_check_work(dims, m) >= max_work:
        return False
    grad_check_sparse(theta, X, Y, dims, hidden, epsilon, out)
    return True


@njit(inline="always", **_JIT)
def _ce_terms(T, n, Y, cols):
    """The cost terms of :func:`._cpu_layers.cross_entropy_flat` (``CE_SUM``) of the
    ``n`` predictions ``T[:n]``, in place; ``T[c]`` is example ``cols[c]``'s (its label
    ``Y[0, cols[c]]``). ``T[n:3 * n]`` is scratch, for ``log(a)`` and ``log(1 - a)``
    (one call of NumPy's loop).

    For a label of exactly 0 or 1 and ``0 < a < 1`` the other term is ``+0.0`` and
    adding it changes nothing, so it is not added.
    """
    one = T.dtype.type(1.0)
    for c in range(n):
        T[n + c] = T[c]
        T[2 * n + c] = one - T[c]
    uf.log_into(T[n:3 * n], T[n:3 * n])
    for c in range(n):
        a = T[c]
        y = Y[0, cols[c]]
        la = T[n + c]
        lb = T[2 * n + c]
        if 0.0 < a < 1.0 and y == 1.0:
            T[c] = -la
        elif 0.0 < a < 1.0 and y == 0.0:
            T[c] = -lb
        else:
            T[c] = (-la) * y + (-lb) * (one - y)


@njit(inline="always", **_JIT)
def _costs_of(PZ, PC, roff, rid, nrec, Y, lossp, loss0, inv_m, JS, out, epsilon):
    """The deferred costs of :func:`grad_check_cols`: record ``q < nrec`` holds the
    output pre-activations ``PZ[roff[q]:roff[q + 1]]`` of one perturbation at the
    examples ``PC[...]`` (every other example keeps its cost term); its cost goes to
    ``JS[rid[q]]``, ``rid[q] = 2 p`` for parameter ``p`` moved up, ``2 p + 1`` moved
    down (the record after), which also gives ``out[p]``. The sigmoid and the
    logarithms run once over every record (``PZ`` has room for three times the
    values)."""
    nv = roff[nrec]
    uf.sigmoid_into(PZ[:nv], PZ[:nv])
    _ce_terms(PZ, nv, Y, PC)
    for q in range(nrec):
        for v in range(roff[q], roff[q + 1]):
            lossp[PC[v]] = PZ[v]
        JS[rid[q]] = inv_m * blas.pairwise_sum(lossp, False)
        for v in range(roff[q], roff[q + 1]):
            lossp[PC[v]] = loss0[PC[v]]
        if rid[q] % 2 == 1:
            p = rid[q] // 2
            out[p] = (JS[2 * p] - JS[2 * p + 1]) / (2.0 * epsilon)


@njit(inline="always", **_JIT)
def _same(a, b):
    """``a`` and ``b`` are the same float, the sign of zero included (NaN never is)."""
    return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))


@njit(inline="always", **_JIT)
def _elem(W, wo, n, k, i, x, xo, xs, m, j):
    """``(W @ A)[i, j]`` as :func:`._cpu_blas.mm_nn` computes it, for ``m >= 2``, ``k <=
    GEMM_Q``: ``W`` is ``(n, k)`` at ``W[wo:]`` and column ``j`` of the ``(k, m)`` ``A`` is
    ``x[xo + t * xs]``, ``t = 0 .. k-1``.

    ``n == 1``: the ``dgemv_n`` order of :func:`._cpu_blas.gemv_rows`; the last row of an
    odd ``n``: the one-column kernel of :func:`._cpu_blas._tail_rows`; any other row: one
    fma chain from 0.
    """
    m4 = m - m % 4
    w = wo + i * k
    if n == 1:
        acc = 0.0
        t = 0
        if j < m4:
            while t + 4 <= k:
                p = xo + t * xs
                acc = acc + (blas.fma(W[w + t + 2], x[p + 2 * xs], W[w + t] * x[p])
                             + blas.fma(W[w + t + 3], x[p + 3 * xs],
                                        W[w + t + 1] * x[p + xs]))
                t += 4
            if k - t >= 2:
                p = xo + t * xs
                acc = acc + (W[w + t] * x[p] + W[w + t + 1] * x[p + xs])
                t += 2
            if k - t == 1:
                acc = acc + W[w + t] * x[xo + t * xs]
            return acc
        s = 0.0
        if m < 4:
            while t + 4 <= k:
                p = xo + t * xs
                s = s + (W[w + t] * x[p] + W[w + t + 1] * x[p + xs])
                s = s + (W[w + t + 2] * x[p + 2 * xs] + W[w + t + 3] * x[p + 3 * xs])
                t += 4
        while t < k:
            s = s + W[w + t] * x[xo + t * xs]
            t += 1
        return acc + s
    if n % 2 == 1 and i == n - 1 and j < m4:
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        kk = 8 * (k // 8)
        for t in range(0, kk, 8):
            p = xo + t * xs
            a0 = blas.fma(W[w + t + 4], x[p + 4 * xs], blas.fma(W[w + t], x[p], a0))
            a1 = blas.fma(W[w + t + 5], x[p + 5 * xs],
                          blas.fma(W[w + t + 1], x[p + xs], a1))
            a2 = blas.fma(W[w + t + 6], x[p + 6 * xs],
                          blas.fma(W[w + t + 2], x[p + 2 * xs], a2))
            a3 = blas.fma(W[w + t + 7], x[p + 7 * xs],
                          blas.fma(W[w + t + 3], x[p + 3 * xs], a3))
        for t in range(kk, k):
            a0 = blas.fma(W[w + t], x[xo + t * xs], a0)
        return (a0 + a1) + (a2 + a3)
    s = 0.0
    for t in range(k):
        s = blas.fma(W[w + t], x[xo + t * xs], s)
    return s


@njit(inline="always", **_JIT)
def _layer_cols(th, wo, bo, n, k, act, In, Inf, Out, nc, cols, m, t0, CP, cpb, Init,
                cached, yo, out_w):
    """Layer ``(n, k)`` at the compact columns: ``Out[:n, :nc]`` from ``In[:k, :nc]``.

    ``Inf`` is ``In`` flat. Compact column ``c`` is example ``cols[c]``; every value in
    the order NumPy's full product computes it. Rows that are plain fma chains run in
    register tiles of rows by columns (:func:`._cpu_blas.rows_chain_resume`); with
    ``t0 > 0`` they resume after their first ``t0`` terms from the cached chains
    ``CP[cpb + i * m + j]``, or with ``cached`` from ``Init[i, c]`` (those chains
    already compacted; :func:`._cpu_blas.rows_chain_from`, which applies a ReLU on the
    way out; ``In`` rows below ``t0`` are not read). The ``dgemv_n``
    row of ``n == 1`` runs vectorized too, except for the examples ``j >= m - m % 4``,
    which NumPy sums another way; the one-column tail row of an odd ``n``: :func:`_elem`.
    With ``out_w >= 0`` (on the tiles' path, ``n`` a multiple of 4) the tiles also add
    the one-unit layer with weights ``th[out_w:out_w + n]`` after this one into
    ``yo[:nc]`` (zero before), its ``dgemv_n`` product at every column ``cols[c] < m4``.
    """
    m4 = m - m % 4
    fused = n > 1 and t0 > 0 and cached
    if n == 1:
        w = wo
        for c in range(nc):
            Out[0, c] = 0.0
        t = 0
        while t + 4 <= k:
            w0 = th[w + t]
            w1 = th[w + t + 1]
            w2 = th[w + t + 2]
            w3 = th[w + t + 3]
            for c in range(nc):
                Out[0, c] = Out[0, c] + (blas.fma(w2, In[t + 2, c], w0 * In[t, c])
                                         + blas.fma(w3, In[t + 3, c], w1 * In[t + 1, c]))
            t += 4
        if k - t >= 2:
            w0 = th[w + t]
            w1 = th[w + t + 1]
            for c in range(nc):
                Out[0, c] = Out[0, c] + (w0 * In[t, c] + w1 * In[t + 1, c])
            t += 2
        if k - t == 1:
            w0 = th[w + t]
            for c in range(nc):
                Out[0, c] = Out[0, c] + w0 * In[t, c]
        for c in range(nc):
            if cols[c] >= m4:
                Out[0, c] = _elem(th, wo, 1, k, 0, Inf, c, In.shape[1], m, cols[c])
    else:
        ne = n - n % 2
        if fused:
            # a ReLU layer's chain rows leave the tiles with the bias and g applied
            ow = out_w if out_w >= 0 else bo
            blas.rows_chain_from(blas.view2d(th, wo, n, k), In, Out, Init, th[bo:bo + n],
                                 0, ne, t0, nc, 1 if act == RELU else 0, th[ow:ow + n], yo,
                                 1 if out_w >= 0 else 0)
        else:
            for i in range(ne):
                if t0 > 0:
                    for c in range(nc):
                        Out[i, c] = CP[cpb + i * m + cols[c]]
                else:
                    for c in range(nc):
                        Out[i, c] = 0.0
            blas.rows_chain_resume(blas.view2d(th, wo, n, k), In, Out, 0, ne, t0, nc)
        if ne < n:
            for c in range(nc):
                Out[n - 1, c] = _elem(th, wo, n, k, n - 1, Inf, c, In.shape[1], m,
                                    cols[c])
    for i in range(n - n % 2 if fused and act == RELU else 0, n):
        bias = th[bo + i]
        for c in range(nc):
            Out[i, c] = Out[i, c] + bias
        uf.act_inplace(Out[i, :nc], act)


@njit(**_JIT)
def grad_check_setup(theta, X, Y, dims, hidden, cp_max=CP_MAX):
    """The unperturbed network, shared read-only by every :func:`grad_check_cols` call.

    Returns ``(Z0, A0, loss0, CP, cp_off, cp_nq, cp_st, row_st)``: the pre-activations
    and activations of every layer (flat, layer ``l`` at ``_act_offsets``), every
    example's cost term, the cached fma chains: for a layer ``l >= 1`` whose rows are
    plain chains, ``CP[cp_off[l] + ((q - 1) * n + i) * m + j]`` is row ``i``'s chain at
    column ``j`` after its first ``q * cp_st[l]`` terms, ``q = 1 .. cp_nq[l] - 1``; the
    stride ``cp_st[l]`` is the smallest that keeps the layer within ``cp_max`` values
    (at least 4 below 16 examples).
    ``row_st[l]``: the stride of a perturbed row's chains in :func:`grad_check_cols`,
    within ``cp_max // 4`` values.

    The results are views of two buffers (one of floats, one of integers). Inside, every
    array is a view that counts no references (:func:`._cpu_blas.borrow`): on the
    course's network the atomic reference counts of the views made and the calls here
    took about a third of this function's time.
    """
    L = dims.shape[0] - 1
    m = X.shape[1]
    theta, X, Y, dims = blas.borrow(theta), blas.borrow(X), blas.borrow(Y), blas.borrow(dims)
    i_own = np.empty(7 * L + 2 + m, np.int64)
    ib = blas.borrow(i_own)
    off_w, off_b, off_a = ib[:L], ib[L:2 * L], ib[2 * L:3 * L + 1]
    cp_off, cp_nq = ib[3 * L + 1:4 * L + 2], ib[4 * L + 2:5 * L + 2]
    cp_st, row_st = ib[5 * L + 2:6 * L + 2], ib[6 * L + 2:7 * L + 2]
    cols = ib[7 * L + 2:]
    _offsets_into(dims, m, off_w, off_b, off_a)
    for l in range(L):
        k = dims[l]
        row_st[l] = 1
        while row_st[l] <= k and (k // row_st[l] + 1) * m > cp_max // 4:
            row_st[l] += 1
    cp_off[0] = 0
    cp_off[1] = 0
    cp_nq[0] = 1
    cp_st[0] = 1
    wq = 1
    nmax = 1
    for l in range(1, L):
        n = dims[l + 1]
        k = dims[l]
        # below 16 examples every 4 terms (fewer setup steps, each costing more than
        # the terms it saves); else every term, or as often as cp_max allows
        st = 1 if m >= 16 else min(4, k)
        while st < k and (k - 1) // st * m * n > cp_max:
            st += 1
        cp_st[l] = st
        cp_nq[l] = 1 if n < 2 else (k - 1) // st + 1
        cp_off[l + 1] = cp_off[l] + (cp_nq[l] - 1) * m * n
        wq = max(wq, n * st)
        nmax = max(nmax, n)
    sizes = (off_a[L], off_a[L], m, cp_off[L], _max_workspace(dims, m), 3 * m, wq, nmax * m)
    seg = _carve(sizes)
    f_own = np.empty(seg[-1])
    fb = blas.borrow(f_own)
    Z0, A0, loss0, CP, ws, T, Wqf, Sf = (
        fb[seg[0]:seg[0] + sizes[0]], fb[seg[1]:seg[1] + sizes[1]],
        fb[seg[2]:seg[2] + sizes[2]], fb[seg[3]:seg[3] + sizes[3]],
        fb[seg[4]:seg[4] + sizes[4]], fb[seg[5]:seg[5] + sizes[5]],
        fb[seg[6]:seg[6] + sizes[6]], fb[seg[7]:seg[7] + sizes[7]])
    a_in = X
    for l in range(L):
        n = dims[l + 1]
        k = dims[l]
        Al = blas.view2d(A0, off_a[l], n, m)
        lay.linear_act_hand(a_in, theta[off_w[l]:off_w[l] + n * k].reshape(n, k),
                            theta[off_b[l]:off_b[l] + n], SIGMOID if l == L - 1 else hidden,
                            blas.view2d(Z0, off_a[l], n, m), Al, ws)
        a_in = Al
    for j in range(m):
        T[j] = A0[off_a[L - 1] + j]
        cols[j] = j
    _ce_terms(T, m, Y, cols)
    for j in range(m):
        loss0[j] = T[j]
    for l in range(1, L):
        n = dims[l + 1]
        st = cp_st[l]
        if cp_nq[l] > 1:
            # every chain st terms further, in the register tiles
            Wl = theta[off_w[l]:off_w[l] + n * dims[l]].reshape(n, dims[l])
            Wq = blas.view2d(Wqf, 0, n, st)
            S = blas.view2d(Sf, 0, n, m)
            for v in range(n * m):
                Sf[v] = 0.0
            for q in range(1, cp_nq[l]):
                t0 = (q - 1) * st
                for i in range(n):
                    for e in range(st):
                        Wq[i, e] = Wl[i, t0 + e]
                blas.rows_chain_resume(
                    Wq, blas.view2d(A0, off_a[l - 1] + t0 * m, st, m), S, 0, n, 0, m)
                b = cp_off[l] + (q - 1) * n * m
                for v in range(n * m):
                    CP[b + v] = Sf[v]
    # the results: views that count references to the two buffers
    return (f_own[seg[0]:seg[0] + sizes[0]], f_own[seg[1]:seg[1] + sizes[1]],
            f_own[seg[2]:seg[2] + sizes[2]], f_own[seg[3]:seg[3] + sizes[3]],
            i_own[3 * L + 1:4 * L + 2], i_own[4 * L + 2:5 * L + 2],
            i_own[5 * L + 2:6 * L + 2], i_own[6 * L + 2:7 * L + 2])


@njit(**_JIT)
def grad_check_sparse(theta, X, Y, dims, hidden, epsilon, out):
    """:func:`grad_check_setup` then :func:`grad_check_cols` on every parameter (the
    arrays passed on as views that count no references)."""
    theta, X, Y, dims, out = (blas.borrow(theta), blas.borrow(X), blas.borrow(Y),
                              blas.borrow(dims), blas.borrow(out))
    Z0, A0, loss0, CP, cp_off, cp_nq, cp_st, row_st = grad_check_setup(theta, X, Y, dims,
                                                                       hidden)
    work = np.zeros(1, np.int64)
    grad_check_cols(theta, X, Y, dims, hidden, epsilon, out, blas.borrow(Z0),
                    blas.borrow(A0), blas.borrow(loss0), blas.borrow(CP),
                    blas.borrow(cp_off), blas.borrow(cp_nq), blas.borrow(cp_st),
                    blas.borrow(row_st), blas.borrow(work))
    blas.keep_alive(Z0, A0, loss0, CP, cp_off, cp_nq, cp_st, row_st, work)


@njit(inline="always", **_JIT)
def _gather_cols(Dst, src, off, t0, n, m, cols, nc):
    """``Dst[t, c] = src[off + t * m + cols[c]]`` for ``t = t0 .. n-1``, ``c < nc``: rows
    of a flat ``(n, m)`` block at the compact columns."""
    for t in range(t0, n):
        for c in range(nc):
            Dst[t, c] = src[off + t * m + cols[c]]


@njit(inline="always", **_JIT)
def _cols_forward(th, dims, off_w, off_b, hidden, l, In0, In0f, U, Uf, V, Vf, nc, cols, m,
                  t0, CP, cpb, Init, cached, PZ, PC, o, nl, yo):
    """Layers ``l + 1 ..`` at the compact columns from the input ``In0`` (layer ``l``'s
    activations, ``nc`` apart), up to the output's pre-activation: those of the first
    ``nl`` columns go to ``PZ[o:o + nl]``, their examples to ``PC`` (the sigmoid and
    the cost follow in :func:`_costs_of`). The layers after the first
    alternate between ``V`` and ``U`` (``In0f``, ``Uf``, ``Vf``: the same flat). When
    the first is a ReLU layer on the tiles' path just before one output unit, the tiles
    add up that unit's product as they go (``yo``: scratch of ``nc`` values)."""
    L = dims.shape[0] - 1
    fuse = (cached and t0 > 0 and l + 1 == L - 2 and dims[L] == 1 and hidden == RELU
            and dims[L - 1] > 1 and dims[L - 1] % 4 == 0)
    m4 = m - m % 4
    odd = True
    for g in range(l + 1, L):
        odd = not odd
        first = g == l + 1
        In = In0 if first else (V if odd else U)
        Inf = In0f if first else (Vf if odd else Uf)
        Out = U if odd else V
        if fuse and g == L - 1:
            bias = th[off_b[g]]
            for c in range(nc):
                v = yo[c] if cols[c] < m4 else _elem(th, off_w[g], 1, dims[g], 0, Inf, c,
                                                     In.shape[1], m, cols[c])
                Out[0, c] = v + bias
        else:
            if fuse:
                for c in range(nc):
                    yo[c] = 0.0
            _layer_cols(th, off_w[g], off_b[g], dims[g + 1], dims[g],
                        LINEAR if g == L - 1 else hidden, In, Inf, Out, nc, cols, m,
                        t0 if first else 0, CP, cpb, Init, cached, yo,
                        off_w[L - 1] if fuse else -1)
    last = U if odd else V
    for c in range(nl):
        PZ[o + c] = last[0, c]
        PC[o + c] = cols[c]


@njit(nogil=True, **_JIT)
def grad_check_cols(theta, X, Y, dims, hidden, epsilon, out, Z0, A0, loss0, CP, cp_off,
                    cp_nq, cp_st, row_st, work, batch_max=BATCH_MAX):
    """``out`` for the parameters of the rows this call takes (releases the GIL); float64.

    The work is the rows of every layer, a row's weights and its bias together; each
    call takes the next row from the shared counter ``work[0]`` (atomically) until none
    is left, so calls on several threads share the rows, and every entry is computed the
    same way whichever call takes it.

    Perturbing ``W_l[r, c]`` or ``b_l[r]`` changes row ``r`` of ``Z_l``; the examples
    (columns) where ``g`` of that row keeps its value keep every later value too, so
    only the other columns are recomputed, each value in the order NumPy's product
    computes it (:func:`_elem`). In layer ``l + 1`` only input row ``r`` changed, so the
    rows that are plain fma chains resume from the cached chain before term ``r``
    (:func:`grad_check_setup`). The cost is NumPy's pairwise sum of the per-example
    terms. Needs :func:`sparse_check_ok`.

    The parameters of one row share work, built when the row is taken (from 16
    examples): the row's chains after every ``row_st[l]`` terms, from which a perturbed
    weight's row resumes at its own term, and for a row with layers after it, its
    columns where ``g`` may change, with the layer's input, its activations and the next
    layer's cached chains there, compacted once. For a ReLU row those are the columns
    not provably negative under any of the row's perturbations (:func:`_neg_margin`),
    so the others are never computed; for other activations, every column. A
    perturbation recomputes those columns, padded to a multiple of 4 with unchanged
    ones (recomputing a column gives its cached bits). Rows that do not qualify (fewer
    than 16 examples, the rows of the general product) recompute the perturbed row at
    every column, then the columns where ``g`` changed. Below 16 examples, those
    columns of all the row's perturbations go through the later layers together, in
    one batch, if it fits in ``batch_max`` values (columns times the widest layer) and
    unless the next layer is the one output unit (a ``dgemv_n`` row over every example,
    in place).

    The costs are deferred: the sigmoid and the logarithms run over the outputs of
    many perturbations at once (up to 8192 values), then each difference is formed.
    """
    L = dims.shape[0] - 1
    m = X.shape[1]
    # every array a view that counts no references (blas.borrow): the caller keeps the
    # arguments alive, keep_alive the buffers made here
    dims, out, cp_off, cp_nq, cp_st, row_st, work = (
        blas.borrow(dims), blas.borrow(out), blas.borrow(cp_off), blas.borrow(cp_nq),
        blas.borrow(cp_st), blas.borrow(row_st), blas.borrow(work))
    nmax = 1
    kmax = 1
    ncr = m
    for l in range(L):
        nmax = max(nmax, dims[l + 1])
        kmax = max(kmax, dims[l])
        ncr = max(ncr, (dims[l] // row_st[l] + 1) * m)
    # room for the deferred costs of every perturbation (at least one; at most 8192 values)
    P = theta.shape[0]
    cap = max(m, min(8192, 2 * P * m))
    rcap = min(2 * P, cap + 2 * kmax + 2)      # records (some have no values)
    # below 16 examples a row's perturbations go through the later layers together:
    # room for bw of their changed columns (at least m)
    bw = m if m >= 16 else max(m, min(2 * (kmax + 1) * m, batch_max // nmax))
    # the loop's arrays as views that count no references (blas.borrow) into one
    # buffer; the owners stay alive to the end through keep_alive
    sizes = (theta.shape[0], A0.shape[0], m, m, nmax * bw, nmax * bw, _max_workspace(dims, m),
             ncr, nmax * m, nmax * m, m, 2 * m, 2 * kmax, kmax * m, m, m, m, 3 * cap,
             2 * P)
    st = _carve(sizes)
    f_own = np.empty(st[-1])
    i_own = np.empty(4 * m + cap + 2 * rcap + 1 + bw + 3 * L + 1, np.int64)
    fb = blas.borrow(f_own)
    th, Ap, lossp, row, Uf, Vf, ws, CRf, Rf, Kf, anew, RS, W2f, Xcf, Tm, AX, yo, PZ, JS = (
        fb[st[0]:st[0] + sizes[0]], fb[st[1]:st[1] + sizes[1]], fb[st[2]:st[2] + sizes[2]],
        fb[st[3]:st[3] + sizes[3]], fb[st[4]:st[4] + sizes[4]], fb[st[5]:st[5] + sizes[5]],
        fb[st[6]:st[6] + sizes[6]], fb[st[7]:st[7] + sizes[7]], fb[st[8]:st[8] + sizes[8]],
        fb[st[9]:st[9] + sizes[9]], fb[st[10]:st[10] + sizes[10]],
        fb[st[11]:st[11] + sizes[11]], fb[st[12]:st[12] + sizes[12]],
        fb[st[13]:st[13] + sizes[13]], fb[st[14]:st[14] + sizes[14]],
        fb[st[15]:st[15] + sizes[15]], fb[st[16]:st[16] + sizes[16]],
        fb[st[17]:st[17] + sizes[17]], fb[st[18]:st[18] + sizes[18]])
    th[:] = theta
    Ap[:] = A0
    lossp[:] = loss0
    ib = blas.borrow(i_own)
    cols, S, mark, rest = ib[:m], ib[m:2 * m], ib[2 * m:3 * m], ib[3 * m:4 * m]
    # the deferred costs: values, examples, record bounds and ids (see _costs_of)
    PC = ib[4 * m:4 * m + cap]
    roff = ib[4 * m + cap:4 * m + cap + rcap + 1]
    rid = ib[4 * m + cap + rcap + 1:4 * m + cap + 2 * rcap + 1]
    # the batch of changed columns (see bw): their examples
    BC = ib[4 * m + cap + 2 * rcap + 1:4 * m + cap + 2 * rcap + 1 + bw]
    o_i = 4 * m + cap + 2 * rcap + 1 + bw
    off_w, off_b, off_a = ib[o_i:o_i + L], ib[o_i + L:o_i + 2 * L], ib[o_i + 2 * L:]
    _offsets_into(dims, m, off_w, off_b, off_a)
    Ub = blas.view2d(Uf, 0, nmax, bw)
    Vb = blas.view2d(Vf, 0, nmax, bw)
    theta, X, Y, Z0, A0, loss0, CP = (blas.borrow(theta), blas.borrow(X), blas.borrow(Y),
                                      blas.borrow(Z0), blas.borrow(A0), blas.borrow(loss0),
                                      blas.borrow(CP))
    Xf = X.ravel()
    inv_m = 1.0 / m
    nrec = 0
    roff[0] = 0
    n_rows = 0
    for l in range(L):
        n_rows += dims[l + 1]
    while True:
        u = blas.fetch_add(work, 0, 1)
        if u >= n_rows:
            break
        l = 0
        while u >= dims[l + 1]:
            u -= dims[l + 1]
            l += 1
        r = u
        n = dims[l + 1]
        k = dims[l]
        act = SIGMOID if l == L - 1 else hidden
        chain = n >= 2 and not (n % 2 == 1 and r == n - 1)
        prefix = chain and k <= blas.GEMM_Q and m >= 16
        # the layers after l run on the row's compacted columns (below 16 examples the
        # compaction costs more than it saves: only the changed columns, gathered)
        later = l < L - 1 and m >= 16
        # with both, the perturbed row too, at those columns only
        compact = prefix and later
        a_src = Xf if l == 0 else Ap
        ao = 0 if l == 0 else off_a[l - 1]
        base = off_a[l] + r * m
        g = l + 1
        gn = dims[g + 1] if l < L - 1 else 1
        q_cp = r // cp_st[g] if l < L - 1 and cp_nq[g] > 1 else 0
        t0 = q_cp * cp_st[g] if q_cp > 0 else 0
        cpb = cp_off[g] + (q_cp - 1) * gn * m if l < L - 1 else 0
        # the row's shared work
        ncp = 0
        ns = 0
        nrest = 0
        R = blas.view2d(Rf, 0, nmax, 0)
        K = blas.view2d(Kf, 0, nmax, 0)
        if later:
            if compact and act == RELU:
                _neg_margin(theta, off_w[l] + r * k, theta[off_b[l] + r], k, a_src, ao,
                            m, epsilon, Tm, AX)
            # the columns where g can change, padded to a multiple of 4
            for j in range(m):
                if act != RELU:
                    keep = True
                elif compact:
                    keep = not Z0[base + j] < -Tm[j]
                else:
                    keep = A0[base + j] != 0.0
                mark[j] = 1 if keep else 0
                if keep:
                    S[ncp] = j
                    ncp += 1
            ns = ncp
            want = min(m, (ncp + 3) // 4 * 4)
            for j in range(m):
                if mark[j] == 0:
                    rest[nrest] = j
                    nrest += 1
                    if ncp < want:
                        S[ncp] = j
                        ncp += 1
            # layer l's activations at them, and layer g's cached chains at t0
            R = blas.view2d(Rf, 0, nmax, ncp)
            K = blas.view2d(Kf, 0, nmax, ncp)
            _gather_cols(R, A0, off_a[l], 0 if gn % 2 == 1 else t0, n, m, S, ncp)
            if t0 > 0 and gn >= 2:
                _gather_cols(K, CP, cpb, 0, gn - gn % 2, m, S, ncp)
        # the perturbed row's input: every column, or the compacted ones
        wd = m
        x_src = a_src
        xo = ao
        if compact and ns < m:
            wd = ncp
            x_src = Xcf
            xo = 0
            _gather_cols(blas.view2d(Xcf, 0, k, ncp), a_src, ao, 0, k, m, S, ncp)
        s_row = row_st[l]
        # below 16 examples, before a layer other than one output unit's: the row's
        # perturbations gather their changed columns in one batch (Ub, from PZ[ob] on)
        # (when all of them fit: the batch and the deferred costs get room for them here)
        row_vals = 2 * (k + 1) * m
        batched = (not later and (l < L - 2 or (l == L - 2 and dims[L] != 1))
                   and row_vals <= bw and row_vals <= cap)
        if batched and (roff[nrec] + row_vals > cap or nrec + 2 * (k + 1) > rcap):
            _costs_of(PZ, PC, roff, rid, nrec, Y, lossp, loss0, inv_m, JS, out, epsilon)
            nrec = 0
        nb = 0
        ob = roff[nrec]
        if prefix:
            # the row's chains after every s_row terms: CR[q] after q * s_row
            for j in range(wd):
                CRf[j] = 0.0
            wr = off_w[l] + r * k
            for q in range(1, k // s_row + 1):
                CRf[q * wd:(q + 1) * wd] = CRf[(q - 1) * wd:q * wd]
                blas.rows_chain_resume(
                    blas.view2d(theta, wr + (q - 1) * s_row, 1, s_row),
                    blas.view2d(x_src, xo + (q - 1) * s_row * wd, s_row, wd),
                    blas.view2d(CRf, q * wd, 1, wd), 0, 1, 0, wd)
        for t in range(k + 1):
            p = off_w[l] + r * k + t if t < k else off_b[l] + r
            if prefix:
                # the perturbed row of Z_l for both signs in one two-row tile, resumed at
                # the perturbed term (a bias: the whole unperturbed product)
                q = t // s_row
                W2 = blas.view2d(W2f, 0, 2, k)
                for sign in range(2):
                    for e in range(k):
                        W2[sign, e] = theta[off_w[l] + r * k + e]
                    RS[sign * wd:(sign + 1) * wd] = CRf[q * wd:(q + 1) * wd]
                if t < k:
                    W2[0, t] = theta[p] + epsilon
                    W2[1, t] = theta[p] - epsilon
                blas.rows_chain_resume(W2, blas.view2d(x_src, xo, k, wd),
                                       blas.view2d(RS, 0, 2, wd), 0, 2, q * s_row, wd)
            for sign in range(2):
                if not batched and (roff[nrec] + m > cap or nrec == rcap):
                    _costs_of(PZ, PC, roff, rid, nrec, Y, lossp, loss0, inv_m, JS, out,
                              epsilon)
                    nrec = 0
                o = roff[nrec]
                th[p] = theta[p] + epsilon if sign == 0 else theta[p] - epsilon
                # the perturbed row of Z_l (with prefix: computed above)
                zr = RS[sign * wd:(sign + 1) * wd] if prefix else row
                if not prefix and (k > blas.GEMM_Q or (m >= 16 and not chain)):
                    a_prev = X if l == 0 else blas.view2d(Ap, ao, k, m)
                    blas.mm_nn_row(th[off_w[l] + r * k:off_w[l] + (r + 1) * k], a_prev, n,
                                   r, row, ws)
                elif not prefix:
                    for j in range(m):
                        row[j] = _elem(th, off_w[l], n, k, r, a_src, ao + j, m, m, j)
                bias = th[off_b[l] + r]
                inside = later
                nv = 0
                if l == L - 1:
                    # an output row: its pre-activations at every example
                    for j in range(m):
                        PZ[o + j] = zr[j] + bias
                        PC[o + j] = j
                    nv = m
                elif compact:
                    # g of it at the compacted columns; the others provably keep theirs
                    for c in range(ncp):
                        R[r, c] = zr[c] + bias
                    uf.act_inplace(R[r, :ncp], act)
                else:
                    # g of it; with the row's columns compacted, whether it changed only
                    # there
                    if act == RELU:
                        for j in range(m):
                            v = zr[j] + bias
                            anew[j] = 0.0 if v < 0.0 else v   # noqa: FURB136 (act_inplace)
                    else:
                        for j in range(m):
                            anew[j] = zr[j] + bias
                        uf.act_inplace(anew[:m], act)
                    if later:
                        for c in range(nrest):
                            if not _same(anew[rest[c]], Ap[base + rest[c]]):
                                inside = False
                                break
                        if inside:
                            for c in range(ncp):
                                R[r, c] = anew[S[c]]
                if l == L - 1:
                    pass
                elif inside:
                    U = blas.view2d(Uf, 0, nmax, ncp)
                    V = blas.view2d(Vf, 0, nmax, ncp)
                    _cols_forward(th, dims, off_w, off_b, hidden, l, R, Rf, U, Uf, V, Vf,
                                  ncp, S, m, t0, CP, cpb, K, True, PZ, PC, o, ns, yo)
                    nv = ns
                elif batched:
                    # the columns where g changed, into the batch
                    for j in range(m):
                        if not _same(anew[j], Ap[base + j]):
                            BC[nb] = j
                            for tt in range(0 if gn % 2 == 1 else t0, n):
                                Ub[tt, nb] = Ap[off_a[l] + tt * m + j]
                            Ub[r, nb] = anew[j]
                            nb += 1
                            nv += 1
                else:
                    # the columns where g changed
                    nc = 0
                    for j in range(m):
                        if not _same(anew[j], Ap[base + j]):
                            Ap[base + j] = anew[j]
                            cols[nc] = j
                            nc += 1
                    # the later layers at those columns, compacted
                    nv = nc
                    if l == L - 2 and dims[L] == 1 and nc > 0:
                        # one output after this layer: its dgemv_n row over every
                        # example reads the activations in place (cheaper than
                        # compacting them)
                        wl = off_w[L - 1]
                        blas.gemv_rows(th[wl:wl + n], blas.view2d(Ap, off_a[l], n, m), row)
                        bias = th[off_b[L - 1]]
                        for c in range(nc):
                            PZ[o + c] = row[cols[c]] + bias
                            PC[o + c] = cols[c]
                    elif nc > 0:
                        U = blas.view2d(Uf, 0, nmax, nc)
                        V = blas.view2d(Vf, 0, nmax, nc)
                        # the one-column tail row of an odd layer reads every input row
                        _gather_cols(U, Ap, off_a[l], 0 if gn % 2 == 1 else t0, n, m, cols,
                                     nc)
                        _cols_forward(th, dims, off_w, off_b, hidden, l, U, Uf, U, Uf, V,
                                      Vf, nc, cols, m, t0, CP, cpb, K, False, PZ, PC, o,
                                      nc, yo)
                    # back to the unperturbed state
                    for c in range(nc):
                        j = cols[c]
                        Ap[base + j] = A0[base + j]
                roff[nrec + 1] = o + nv
                rid[nrec] = 2 * p + sign
                nrec += 1
                th[p] = theta[p]
        # the row's batch (its costs and differences follow with later rows')
        if nb > 0:
            _cols_forward(th, dims, off_w, off_b, hidden, l, Ub, Uf, Ub, Uf, Vb, Vf, nb, BC,
                          m, t0, CP, cpb, K, False, PZ, PC, ob, nb, yo)
    _costs_of(PZ, PC, roff, rid, nrec, Y, lossp, loss0, inv_m, JS, out, epsilon)
    blas.keep_alive(f_own, i_own)


@njit(inline="always", **_JIT)
def _neg_margin(theta, w0, b, k, a, ao, m, epsilon, T, AX):
    """``T[j]``: a margin such that a pre-activation ``Z[j] < -T[j]`` of the row
    ``theta[w0:w0 + k]`` (bias ``b``) over the input columns ``a[ao + t * m + j]`` stays
    negative when one of the row's weights or its bias is moved by ``+-epsilon`` (as the
    check rounds it) and the row is recomputed in any order (``AX``: scratch).

    The computed product is within ``gamma_k * sum_t |w_t a_tj|`` of the exact one
    (``gamma_k = k u / (1 - k u)``, any summation order, fma or not), for the
    perturbed weights as for the original; a weight moves by at most ``e_w = epsilon +
    u_1 (|w| + epsilon)`` (``u_1 = 2**-52``), the bias by ``e_b``, likewise. So the
    perturbed pre-activation is below ``Z[j] + e_w max_t |a_tj| + e_b + 2 gamma_k
    (sum_t |w_t a_tj| + e_w max_t |a_tj|)``, and it is rounded to a negative number (or
    its sum, exactly, is negative) if that bound is. Every factor is taken at twice its
    value, which also covers the rounding of this computation. Non-finite values give a
    non-finite or NaN margin, and no column passes the test.
    """
    u1 = 2.0 ** -52
    eps = abs(epsilon)
    wmax = 0.0
    for j in range(m):
        T[j] = 0.0
        AX[j] = 0.0
    for t in range(k):
        w = abs(theta[w0 + t])
        wmax = max(wmax, w)
        for j in range(m):
            x = abs(a[ao + t * m + j])
            T[j] += w * x
            AX[j] = x if x > AX[j] else AX[j]
    e_w = 2.0 * (eps + u1 * (wmax + eps))
    e_b = 2.0 * (eps + u1 * (abs(b) + eps))
    gam = 2.0 * (k + 2) * u1
    for j in range(m):
        T[j] = 2.0 * (e_w * AX[j] + e_b + 2.0 * gam * (T[j] + e_w * AX[j]))
