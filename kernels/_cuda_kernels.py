"""Device code of the CUDA backend: ``@cuda.jit`` kernels and device functions.

Kernels that depend on the float dtype (and, for the tiled products, on the tile edge)
are built by factories, :func:`elementwise` and :func:`gemm`, one set per dtype (and
tile), cached for the process; their constants (``zero``, ``one``, the shared-array
element type, the tile edge) are compile-time closure constants, so float32 kernels
compute in float32. Kernels that only ever see float64 (the counter hash, the cost
record, the gradient check) are module-level.

Conventions
-----------
* Activations, weights and their gradients are 2-D arrays indexed ``[row, column]``;
  elementwise kernels run one thread per element over a 1-D grid and split the flat
  C-order index into ``(row, column)``, so they accept strided device views too.
* Every kernel guards its own bounds: grids are rounded up to whole blocks.
* Reductions (cross-entropy, sum of squares) are written without atomics and without
  ``syncthreads``: thread ``t`` of ``G`` adds elements ``t, t + G, ...`` in float64 into
  ``partials[t]``; the host (or :func:`record_cost`, one thread) adds the ``G`` partial
  sums in order. The result is deterministic and the same for any block size.
* Math that Python's ``math`` module would refuse (``log(0)``, ``exp`` overflow) is
  guarded with the value NumPy gives (``-inf``, ``inf``), so the kernels behave the
  same on a GPU and in Numba's CUDA simulator, which runs them as Python.
"""

import functools
import math

import numba
import numpy as np
from numba import cuda

from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)
from ._spec import CE_CLIPPED, CE_LOGITS, CE_NANSUM, RELU, SIGMOID, TANH

__all__ = []

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11 = np.uint64(11)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_INV53 = 1.0 / 9007199254740992.0
#: ``exp(x)`` overflows float64 above this (``log(DBL_MAX)``).
_EXP_MAX = 709.782712893384
_NEG_INF = -np.inf
_NAN = np.nan

_JIT = {"cache": True}


# ------------------------------------------------------------------------- device functions
@cuda.jit(device=True)
def splitmix64(x):
    """The splitmix64 finaliser on a ``uint64`` (wrap-around arithmetic)."""
    x = x ^ (x >> _S30)
    x = x * _MIX1
    x = x ^ (x >> _S27)
    x = x * _MIX2
    return x ^ (x >> _S31)


@cuda.jit(device=True)
def counter_at(key, i):
    """Element ``i`` (0-based) of the counter stream with ``key``: a double in [0, 1)."""
    z = splitmix64(key + np.uint64(i + 1) * _GOLDEN)
    return np.float64(z >> _S11) * _INV53


@cuda.jit(device=True)
def sigmoid(z, zero, one):
    """``1 / (1 + exp(-z))``; 0 where ``exp(-z)`` overflows (NumPy's ``1 / inf``)."""
    if z < -_EXP_MAX:
        return zero
    return one / (one + math.exp(-z))


@cuda.jit(device=True)
def activate(z, act, zero, one):
    """``g(z)`` for activation code ``act`` (ReLU keeps NaN, as ``np.maximum`` does)."""
    if act == RELU:
        return zero if z < zero else z  # noqa: FURB136 (keeps NaN, as np.maximum)
    if act == SIGMOID:
        return sigmoid(z, zero, one)
    if act == TANH:
        return math.tanh(z)
    return z


@cuda.jit(device=True)
def act_grad(da, z, a, act, zero, one):
    """``da * g'(z)``: ReLU ``da (z > 0)``, sigmoid ``da s (1 - s)``, tanh ``da (1 - a*a)``.

    Multiplied in NumPy's order (``(da * s) * (1 - s)``).
    """
    if act == RELU:
        return da * (one if z > zero else zero)
    if act == SIGMOID:
        s = sigmoid(z, zero, one)
        return da * s * (one - s)
    if act == TANH:
        return da * (one - a * a)
    return da


@cuda.jit(device=True)
def safe_log(x):
    """``log(x)``, with ``log(0) = -inf`` and ``nan`` below 0, as ``np.log`` gives."""
    if x > 0:
        return math.log(x)
    if x == 0:
        return _NEG_INF
    return _NAN


@cuda.jit(device=True)
def ce_term(a, y, mode, lo, hi, one):
    """``-log(a) y - log(1 - a)(1 - y)`` (float64), ``a`` clipped to [lo, hi] if asked.

    With ``CE_LOGITS``, ``a`` is the logit ``z``: ``max(z, 0) - z y + log1p(exp(-|z|))``.
    """
    if mode == CE_LOGITS:
        z = a
        return (z if z > 0 else 0.0) - z * y + math.log1p(math.exp(-abs(z)))
    if mode == CE_CLIPPED:
        if a < lo:
            a = lo
        elif a > hi:
            a = hi
    return (-safe_log(a)) * y + (-safe_log(one - a)) * (one - y)


@cuda.jit(device=True)
def fwd_epilogue(acc, r, c, b, act, Z, A, drop, U, key, keep, kp, D, zero, one):
    """``Z = acc + b``, ``A = g(Z)``, then (``drop`` 1: mask from ``U``; 2: from the
    counter stream ``key`` at the flat index) ``D = u < keep``, ``A = A * D / kp``."""
    z = acc + b[r, 0]
    Z[r, c] = z
    a = activate(z, act, zero, one)
    if drop != 0:
        if drop == 1:
            u = U[r, c]
        else:
            u = counter_at(key, r * Z.shape[1] + c)
        d = u < keep
        D[r, c] = d
        a = (a * (one if d else zero)) / kp
    A[r, c] = a


@cuda.jit(device=True)
def dw_epilogue(acc, r, c, W, scale, use_scale, l2, use_l2, dW):
    """``dW = scale * acc + l2 * W`` (each term only when asked, as NumPy's code does)."""
    v = acc
    if use_scale:
        v = scale * v
    if use_l2:
        v = v + l2 * W[r, c]
    dW[r, c] = v


@cuda.jit(device=True)
def db_row(dZ, r, scale, use_scale, db, zero):
    """``db[r] = scale * sum(dZ[r, :])``."""
    s = zero
    for j in range(dZ.shape[1]):
        s += dZ[r, j]
    if use_scale:
        s = scale * s
    db[r, 0] = s


@cuda.jit(device=True)
def da_epilogue(acc, r, c, fuse, use_mask, D, kp, Zp, Ap, act, dA, zero, one):
    """``dA = acc``; fused (``fuse``): dropout backward then ``act_grad`` into ``dA``."""
    v = acc
    if fuse:
        if use_mask:
            v = (v * (one if D[r, c] else zero)) / kp
        v = act_grad(v, Zp[r, c], Ap[r, c], act, zero, one)
    dA[r, c] = v


# --------------------------------------------------------------------- float64-only kernels
@cuda.jit(**_JIT)
def counter_fill(key, out):
    """``out[i] = counter_at(key, i)`` (1-D float64 ``out``)."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = counter_at(key, i)


@cuda.jit(**_JIT)
def record_cost(part_ce, part_sq, n_sq, inv_m, l2c, costs, k):
    """One thread: ``costs[k] = inv_m * sum(part_ce) + l2c * sum(part_sq[:n_sq])``."""
    if cuda.grid(1) == 0:
        total = 0.0
        for i in range(part_ce.shape[0]):
            total += part_ce[i]
        cost = inv_m * total
        if n_sq > 0:
            sq = 0.0
            for i in range(n_sq):
                sq += part_sq[i]
            cost = cost + l2c * sq
        costs[k] = cost


@cuda.jit(**_JIT)
def cast2d(src, dst):
    """``dst = src`` converted to ``dst``'s dtype (2-D, any strides)."""
    i = cuda.grid(1)
    n = src.shape[1]
    if i < src.shape[0] * n:
        r = i // n
        c = i - r * n
        dst[r, c] = src[r, c]


@cuda.jit(**_JIT)
def gather_batch(X, Y, perm, k0, Xb, Yb):
    """Columns ``perm[k0:k0 + mb]`` of ``X`` and ``Y`` into ``Xb`` and ``Yb``."""
    i = cuda.grid(1)
    mb = Xb.shape[1]
    n0 = Xb.shape[0]
    if i < (n0 + 1) * mb:
        r = i // mb
        j = i - r * mb
        src = perm[k0 + j]
        if r < n0:
            Xb[r, j] = X[r, src]
        else:
            Yb[0, j] = Y[0, src]


@cuda.jit(**_JIT)
def grad_check_kernel(theta, X, Y, dims, off_w, off_b, off_a, A0, hidden, eps, lo,
                      out, scratch):
    """Two-sided difference of the cost for parameter ``lo + thread`` (float64).

    ``A0`` holds the unperturbed activations of every layer (layer ``l`` at
    ``off_a[l]``, ``dims[l + 1] x m`` in C order). Perturbing entry ``(r, c)`` of
    ``W_l`` or ``b_l[r]`` changes only row ``r`` of layer ``l``: for each example the
    thread recomputes that row's dot product in full, takes the other rows from ``A0``,
    runs the later layers serially through its two ``scratch`` rows, and adds the
    example's cross-entropy terms in example order.
    """
    t = cuda.grid(1)
    i = lo + t
    if t >= scratch.shape[0] or i >= theta.shape[0]:
        return
    L = dims.shape[0] - 1
    m = X.shape[1]
    half = scratch.shape[1] // 2
    layer = 0
    while layer < L - 1 and i >= off_w[layer + 1]:
        layer += 1
    n = dims[layer + 1]
    k = dims[layer]
    is_w = i < off_b[layer]
    if is_w:
        r = (i - off_w[layer]) // k
        c = (i - off_w[layer]) - r * k
    else:
        r = i - off_b[layer]
        c = -1
    act = SIGMOID if layer == L - 1 else hidden
    j_plus = 0.0
    j_minus = 0.0
    for sign in range(2):
        val = theta[i] + eps if sign == 0 else theta[i] - eps
        total = 0.0
        for j in range(m):
            acc = 0.0
            row = off_w[layer] + r * k
            for q in range(k):
                w = val if q == c else theta[row + q]
                if layer == 0:
                    acc += w * X[q, j]
                else:
                    acc += w * A0[off_a[layer - 1] + q * m + j]
            bias = theta[off_b[layer] + r] if is_w else val
            a_r = activate(acc + bias, act, 0.0, 1.0)
            cur = 0
            for q in range(n):
                scratch[t, q] = A0[off_a[layer] + q * m + j]
            scratch[t, r] = a_r
            for lj in range(layer + 1, L):
                nj = dims[lj + 1]
                kj = dims[lj]
                nxt = half - cur
                actj = SIGMOID if lj == L - 1 else hidden
                for p in range(nj):
                    s = 0.0
                    rowj = off_w[lj] + p * kj
                    for q in range(kj):
                        s += theta[rowj + q] * scratch[t, cur + q]
                    scratch[t, nxt + p] = activate(s + theta[off_b[lj] + p], actj,
                                                   0.0, 1.0)
                cur = nxt
            y = Y[0, j]
            for u in range(dims[L]):
                total += ce_term(scratch[t, cur + u], y, 0, 0.0, 1.0, 1.0)
        if sign == 0:
            j_plus = (1.0 / m) * total
        else:
            j_minus = (1.0 / m) * total
    out[i] = (j_plus - j_minus) / (2.0 * eps)


# ------------------------------------------------------------------------ per-dtype kernels
@functools.cache
def elementwise(dtype_str):
    """The elementwise and reduction kernels for one float dtype (``np.dtype.str``).

    Returns
    -------
    dict
        Kernel name -> ``cuda.jit`` kernel, each launched over a 1-D grid.
    """
    dt = np.dtype(dtype_str).type
    ZERO = dt(0.0)
    ONE = dt(1.0)

    @cuda.jit(**_JIT)
    def act_backward(dA, Z, A, act, dZ):
        i = cuda.grid(1)
        n = dZ.shape[1]
        if i < dZ.shape[0] * n:
            r = i // n
            c = i - r * n
            dZ[r, c] = act_grad(dA[r, c], Z[r, c], A[r, c], act, ZERO, ONE)

    @cuda.jit(**_JIT)
    def sigmoid_ce_backward(A, Y, scale, use_scale, dZ):
        i = cuda.grid(1)
        n = dZ.shape[1]
        if i < dZ.shape[0] * n:
            r = i // n
            c = i - r * n
            v = A[r, c] - Y[r, c]
            if use_scale:
                v = scale * v
            dZ[r, c] = v

    @cuda.jit(**_JIT)
    def chain_backward(AL, Y, ZL, dZ):
        # dA_L = -(Y / A_L - (1 - Y) / (1 - A_L)) through the sigmoid derivative
        i = cuda.grid(1)
        n = dZ.shape[1]
        if i < dZ.shape[0] * n:
            r = i // n
            c = i - r * n
            a = AL[r, c]
            y = Y[r, c]
            da = -(y / a - (ONE - y) / (ONE - a))
            dZ[r, c] = act_grad(da, ZL[r, c], a, SIGMOID, ZERO, ONE)

    @cuda.jit(**_JIT)
    def dropout_forward(A, U, use_u, key, keep, kp, D, A_out):
        i = cuda.grid(1)
        n = A.shape[1]
        if i < A.shape[0] * n:
            r = i // n
            c = i - r * n
            u = U[r, c] if use_u else counter_at(key, i)
            d = u < keep
            D[r, c] = d
            A_out[r, c] = (A[r, c] * (ONE if d else ZERO)) / kp

    @cuda.jit(**_JIT)
    def dropout_backward(dA, D, kp, out):
        i = cuda.grid(1)
        n = out.shape[1]
        if i < out.shape[0] * n:
            r = i // n
            c = i - r * n
            out[r, c] = (dA[r, c] * (ONE if D[r, c] else ZERO)) / kp

    @cuda.jit(**_JIT)
    def sgd(p, g, lr):
        i = cuda.grid(1)
        n = p.shape[1]
        if i < p.shape[0] * n:
            r = i // n
            c = i - r * n
            p[r, c] = p[r, c] - lr * g[r, c]

    @cuda.jit(**_JIT)
    def momentum(p, g, v, beta, one_minus_beta, lr):
        i = cuda.grid(1)
        n = p.shape[1]
        if i < p.shape[0] * n:
            r = i // n
            c = i - r * n
            vi = beta * v[r, c] + one_minus_beta * g[r, c]
            v[r, c] = vi
            p[r, c] = p[r, c] - lr * vi

    @cuda.jit(**_JIT)
    def adam(p, g, m, v, b1, ob1, b2, ob2, bc1, bc2, lr, eps):
        # one pass: reads p, g, m, v once, writes p, m, v once
        i = cuda.grid(1)
        n = p.shape[1]
        if i < p.shape[0] * n:
            r = i // n
            c = i - r * n
            gi = g[r, c]
            mi = b1 * m[r, c] + ob1 * gi
            vi = b2 * v[r, c] + ob2 * (gi * gi)
            m[r, c] = mi
            v[r, c] = vi
            p[r, c] = p[r, c] - lr * (mi / bc1) / (math.sqrt(vi / bc2) + eps)

    @cuda.jit(**_JIT)
    def ce_partials(A, Y, mode, lo, hi, part):
        t = cuda.grid(1)
        g = part.shape[0]
        if t < g:
            n = A.shape[1]
            size = A.shape[0] * n
            s = 0.0
            for i in range(t, size, g):
                r = i // n
                c = i - r * n
                term = ce_term(A[r, c], Y[r, c], mode, lo, hi, ONE)
                if mode == CE_NANSUM and math.isnan(term):
                    term = 0.0
                s += term
            part[t] = s

    @cuda.jit(**_JIT)
    def sumsq_partials(x, part):
        t = cuda.grid(1)
        g = part.shape[0]
        if t < g:
            n = x.shape[1]
            size = x.shape[0] * n
            s = 0.0
            for i in range(t, size, g):
                r = i // n
                c = i - r * n
                v = np.float64(x[r, c])
                s += v * v
            part[t] = s

    return {"act_backward": act_backward, "sigmoid_ce_backward": sigmoid_ce_backward,
            "chain_backward": chain_backward, "dropout_forward": dropout_forward,
            "dropout_backward": dropout_backward, "sgd": sgd, "momentum": momentum,
            "adam": adam, "ce_partials": ce_partials, "sumsq_partials": sumsq_partials}


@functools.cache
def gemm(dtype_str, tile):
    """The layer products for one float dtype and tile edge.

    Three products, each in two forms, with a fused epilogue:

    * ``fwd``: ``Z = W @ X + b``, ``A = g(Z)`` (and optionally the dropout mask);
    * ``dw``: ``dW = scale * dZ @ Ap.T + l2 * W`` and ``db = scale * rowsum(dZ)``
      (the threads of output column 0 add the rows of ``dZ``);
    * ``da``: ``dA = W.T @ dZ``, optionally fused with dropout backward and the hidden
      activation's derivative (the training loop's ``dZ`` of the layer below).

    ``*_naive`` kernels run one thread per output element over a 1-D grid, looping over
    the inner dimension in global memory. ``*_tiled`` kernels run ``tile x tile``
    blocks over a 2-D grid: each block stages ``tile x tile`` tiles of both operands in
    shared memory (transposed operands are loaded so that consecutive threads read
    consecutive addresses), synchronises, and accumulates ``tile`` products per stage.

    Returns
    -------
    dict
        Kernel name -> ``cuda.jit`` kernel.
    """
    dt = np.dtype(dtype_str).type
    nbt = numba.from_dtype(np.dtype(dtype_str))
    ZERO = dt(0.0)
    ONE = dt(1.0)
    T = int(tile)

    @cuda.jit(**_JIT)
    def fwd_naive(W, X, b, act, Z, A, drop, U, key, keep, kp, D):
        i = cuda.grid(1)
        m = Z.shape[1]
        if i < Z.shape[0] * m:
            r = i // m
            c = i - r * m
            acc = ZERO
            for q in range(W.shape[1]):
                acc += W[r, q] * X[q, c]
            fwd_epilogue(acc, r, c, b, act, Z, A, drop, U, key, keep, kp, D, ZERO, ONE)

    @cuda.jit(**_JIT)
    def fwd_tiled(W, X, b, act, Z, A, drop, U, key, keep, kp, D):
        sW = cuda.shared.array((T, T), nbt)
        sX = cuda.shared.array((T, T), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        r = cuda.blockIdx.y * T + ty
        c = cuda.blockIdx.x * T + tx
        n = Z.shape[0]
        m = Z.shape[1]
        k = W.shape[1]
        acc = ZERO
        for k0 in range(0, k, T):
            q = k0 + tx
            if r < n and q < k:
                sW[ty, tx] = W[r, q]
            else:
                sW[ty, tx] = ZERO
            q = k0 + ty
            if q < k and c < m:
                sX[ty, tx] = X[q, c]
            else:
                sX[ty, tx] = ZERO
            cuda.syncthreads()
            for s in range(T):
                acc += sW[ty, s] * sX[s, tx]
            cuda.syncthreads()
        if r < n and c < m:
            fwd_epilogue(acc, r, c, b, act, Z, A, drop, U, key, keep, kp, D, ZERO, ONE)

    @cuda.jit(**_JIT)
    def dw_naive(dZ, Ap, W, scale, use_scale, l2, use_l2, dW, db):
        i = cuda.grid(1)
        k = dW.shape[1]
        if i < dW.shape[0] * k:
            r = i // k
            c = i - r * k
            acc = ZERO
            for j in range(dZ.shape[1]):
                acc += dZ[r, j] * Ap[c, j]
            dw_epilogue(acc, r, c, W, scale, use_scale, l2, use_l2, dW)
            if c == 0:
                db_row(dZ, r, scale, use_scale, db, ZERO)

    @cuda.jit(**_JIT)
    def dw_tiled(dZ, Ap, W, scale, use_scale, l2, use_l2, dW, db):
        sA = cuda.shared.array((T, T), nbt)
        sB = cuda.shared.array((T, T), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        r = cuda.blockIdx.y * T + ty
        cb = cuda.blockIdx.x * T
        c = cb + tx
        n = dZ.shape[0]
        m = dZ.shape[1]
        k = Ap.shape[0]
        acc = ZERO
        for j0 in range(0, m, T):
            j = j0 + tx
            if r < n and j < m:
                sA[ty, tx] = dZ[r, j]
            else:
                sA[ty, tx] = ZERO
            p = cb + ty
            if p < k and j < m:
                sB[tx, ty] = Ap[p, j]       # sB[s, col] = Ap[cb + col, j0 + s]
            else:
                sB[tx, ty] = ZERO
            cuda.syncthreads()
            for s in range(T):
                acc += sA[ty, s] * sB[s, tx]
            cuda.syncthreads()
        if r < n and c < k:
            dw_epilogue(acc, r, c, W, scale, use_scale, l2, use_l2, dW)
            if c == 0:
                db_row(dZ, r, scale, use_scale, db, ZERO)

    @cuda.jit(**_JIT)
    def da_naive(W, dZ, fuse, use_mask, D, kp, Zp, Ap, act, dA):
        i = cuda.grid(1)
        m = dA.shape[1]
        if i < dA.shape[0] * m:
            r = i // m
            c = i - r * m
            acc = ZERO
            for q in range(W.shape[0]):
                acc += W[q, r] * dZ[q, c]
            da_epilogue(acc, r, c, fuse, use_mask, D, kp, Zp, Ap, act, dA, ZERO, ONE)

    @cuda.jit(**_JIT)
    def da_tiled(W, dZ, fuse, use_mask, D, kp, Zp, Ap, act, dA):
        sA = cuda.shared.array((T, T), nbt)
        sB = cuda.shared.array((T, T), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        rb = cuda.blockIdx.y * T
        r = rb + ty
        c = cuda.blockIdx.x * T + tx
        k = dA.shape[0]
        m = dA.shape[1]
        n = W.shape[0]
        acc = ZERO
        for i0 in range(0, n, T):
            q = i0 + ty
            p = rb + tx
            if q < n and p < k:
                sA[tx, ty] = W[q, p]        # sA[row, s] = W[i0 + s, rb + row]
            else:
                sA[tx, ty] = ZERO
            if q < n and c < m:
                sB[ty, tx] = dZ[q, c]
            else:
                sB[ty, tx] = ZERO
            cuda.syncthreads()
            for s in range(T):
                acc += sA[ty, s] * sB[s, tx]
            cuda.syncthreads()
        if r < k and c < m:
            da_epilogue(acc, r, c, fuse, use_mask, D, kp, Zp, Ap, act, dA, ZERO, ONE)

    return {"fwd_naive": fwd_naive, "fwd_tiled": fwd_tiled, "dw_naive": dw_naive,
            "dw_tiled": dw_tiled, "da_naive": da_naive, "da_tiled": da_tiled}
