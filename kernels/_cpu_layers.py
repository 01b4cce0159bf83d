"""Compiled layer, loss, dropout and optimizer kernels of the Numba backend.

Every function is an ``@njit`` kernel on C-contiguous arrays (the public wrappers in
:mod:`.cpu` prepare them). Each computes what ``numpy_ref`` computes in the same
rounding order: scalars are cast to the arrays' dtype first (NumPy casts a Python float
to a float32 array's dtype), products and sums follow :mod:`._cpu_blas`.

Naming: ``*_hand`` kernels use the hand loops of :mod:`._cpu_blas` (fast for small
shapes, bit-exact with NumPy); ``*_blas`` kernels call NumPy's ``np.dot`` (OpenBLAS, in
object mode) and fuse only the elementwise epilogue; ``*_par`` kernels are the ``prange``
twins of elementwise
kernels, for large arrays (elementwise, so identical for any thread count).
"""

import numpy as np
from numba import njit, objmode, prange

from . import _cpu_blas as blas
from . import _cpu_rng as rng
from . import _cpu_ufunc as uf
from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)
from ._spec import (
    CE_CLIP_EPS,
    CE_CLIP_EPS32,
    CE_CLIPPED,
    CE_LOGITS,
    CE_NANSUM,
    RELU,
    SIGMOID,
    TANH,
)

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}
#: Elements per block where a kernel needs a scratch buffer beside its arrays.
_BLOCK = 256


@njit(**_JIT)
def workspace_size(n_out, n_in, m):
    """Scratch elements the ``*_hand`` layer kernels need for one layer."""
    big = max(n_out, n_in, m)
    return m * (n_out + n_in) + n_out + n_in + 10 * big + 16


@njit(inline="always", **_JIT)
def backward_workspace_size(n_out, n_in, m, want_dA):
    """Scratch elements :func:`linear_backward_hand` uses (at most :func:`workspace_size`).

    ``dZ @ A_prev.T`` needs ``n_out * n_in`` when ``m`` spans several k blocks;
    ``W.T @ dZ`` needs ``5 * m + n_out`` when it has an odd number of rows or
    ``n_out`` spans several k blocks (:func:`._cpu_blas.mm_nt`, :func:`._cpu_blas.mm_tn`).
    The notebooks' layers need none, so their backward allocates nothing.
    """
    need = n_out * n_in if m > blas.GEMM_Q else 0
    if want_dA and m > 1 and (n_in % 2 == 1 or n_out > blas.GEMM_Q):
        need = max(need, 5 * m + n_out)
    return need


@njit(inline="always", **_JIT)
def use_blas(n_out, n_in, m, blas_min_work, hand_rows):
    """Whether a layer's products go to NumPy's ``np.dot`` rather than the hand loops:
    ``n_out * n_in * m`` at least ``blas_min_work``, unless the layer has 2 to
    ``hand_rows`` units (see ``cpu.hand_rows``). Few rows make a flat product, which
    OpenBLAS packs and runs below its rate; the hand loops read each k block of the
    input once for all rows.
    """
    return n_out * n_in * m >= blas_min_work and not 2 <= n_out <= hand_rows


# --------------------------------------------------------------------------- activations
@njit(**_JIT)
def activate_row(z, a, bias, act):
    """``z += bias`` and ``a = g(z)`` on one row (in one pass, but for the sigmoid and
    tanh, whose NumPy loop then runs over the row)."""
    n = z.shape[0]
    zero = z.dtype.type(0.0)
    if act == RELU:
        for j in range(n):
            v = z[j] + bias
            z[j] = v
            a[j] = zero if v < zero else v  # noqa: FURB136 (np.maximum keeps -0.0, NaN)
    elif act == SIGMOID or act == TANH:
        for j in range(n):
            z[j] = z[j] + bias
        if act == SIGMOID:
            uf.sigmoid_into(z, a)
        else:
            uf.tanh_into(z, a)
    else:
        for j in range(n):
            v = z[j] + bias
            z[j] = v
            a[j] = v


@njit(inline="always", **_JIT)
def linear_act_hand(A_prev, W, b, act, Z, A, ws):
    """``Z = W @ A_prev + b``, ``A = g(Z)`` with hand loops (NumPy's exact order).

    ``ws``: scratch of :func:`workspace_size` elements (allocated here when shorter and
    needed). The product's even rows (the whole product, on layers of at least 2 rows
    and 2 examples with at most ``GEMM_Q`` inputs) take :func:`_linear_act_rows`.
    """
    n, k = W.shape
    m = A_prev.shape[1]
    rows = n - n % 2 if n >= 2 and m >= 2 and k <= blas.GEMM_Q else 0
    if rows:
        _linear_act_rows(A_prev, W, b, act, Z, A, 0, rows)
        if rows == n:
            return
        if k == 2 and act == RELU:
            _tail_row_relu2(A_prev, W, b, Z, A, n - 1)
            return
    need = workspace_size(n, k, m)
    if ws.shape[0] < need:
        ws = np.empty(need, Z.dtype)
    if rows:
        # the odd last row: OpenBLAS's one-column tail kernel, as blas.mm_nn
        blas.gemm_row(W[n - 1], A_prev, Z[n - 1], True, ws)
        _bias_act_row(Z, b, act, A, n - 1)
    else:
        blas.mm_nn(W, A_prev, Z, ws)
        bias_act(Z, b, act, A)


@njit(inline="always", **_JIT)
def _tail_row_relu2(A_prev, W, b, Z, A, i):
    """The odd last row ``i`` of a ReLU layer with two inputs, in one pass.

    With fewer than 8 inputs OpenBLAS's one-column kernel (:func:`blas.gemm_row` with
    ``tail``) is one fma chain per column, plus +0 from its three idle lanes on the first
    ``m - m % 4`` columns; then the bias and the ReLU, as :func:`_bias_act_row`.
    """
    m = A_prev.shape[1]
    m4 = m - m % 4
    zero = Z.dtype.type(0.0)
    bias = b[i]
    w0 = W[i, 0]
    w1 = W[i, 1]
    for j in range(m4):
        v = (blas.fma(w1, A_prev[1, j], blas.fma(w0, A_prev[0, j], zero)) + zero) + bias
        Z[i, j] = v
        A[i, j] = zero if v < zero else v  # noqa: FURB136 (as activate_row)
    for j in range(m4, m):
        v = blas.fma(w1, A_prev[1, j], blas.fma(w0, A_prev[0, j], zero)) + bias
        Z[i, j] = v
        A[i, j] = zero if v < zero else v  # noqa: FURB136


@njit(**_JIT)
def linear_act_small(A_prev, W, b, act, Z, A):
    """:func:`linear_act_hand` with the bias as given, ``(n_out, 1)``, and no scratch."""
    linear_act_hand(A_prev, W, b.reshape(b.shape[0]), act, Z, A, np.empty(0, Z.dtype))


@njit(inline="always", **_JIT)
def _linear_act_rows(A_prev, W, b, act, Z, A, i0, i1):
    """Rows ``i0 .. i1-1`` of ``Z = W @ A_prev + b``, ``A = g(Z)`` (``k <= GEMM_Q``).

    The fma chains of ``blas._rows_chain`` (the same bits as ``blas.mm_nn``), then the
    bias and activation row by row (the rows are still in L1). With ReLU and two inputs (the
    notebooks' first layers) chain, bias and activation are one pass.
    """
    k = A_prev.shape[0]
    m = A_prev.shape[1]
    zero = Z.dtype.type(0.0)
    if k == 2 and act == RELU:
        for i in range(i0, i1):
            bias = b[i]
            w0 = W[i, 0]
            w1 = W[i, 1]
            for j in range(m):
                v = blas.fma(w1, A_prev[1, j], blas.fma(w0, A_prev[0, j], zero)) + bias
                Z[i, j] = v
                A[i, j] = zero if v < zero else v  # noqa: FURB136 (as activate_row)
    else:
        blas._rows_chain(W, False, A_prev, Z, i0, i1)
        for i in range(i0, i1):
            _bias_act_row(Z, b, act, A, i)


@njit(**_JIT)
def bias_act(Z, b, act, A):
    """The forward epilogue alone: ``Z += b`` (per row) and ``A = g(Z)``."""
    for i in range(Z.shape[0]):
        _bias_act_row(Z, b, act, A, i)


@njit(inline="always", **_JIT)
def _bias_act_row(Z, b, act, A, i):
    """:func:`activate_row` on row ``i``, indexing the 2-D arrays directly (row views cost
    more than the arithmetic on tiny layers)."""
    m = Z.shape[1]
    zero = Z.dtype.type(0.0)
    bias = b[i]
    if act == RELU:
        for j in range(m):
            v = Z[i, j] + bias
            Z[i, j] = v
            A[i, j] = zero if v < zero else v  # noqa: FURB136 (as activate_row)
    elif act == SIGMOID or act == TANH:
        for j in range(m):
            Z[i, j] = Z[i, j] + bias
        if act == SIGMOID:
            uf.sigmoid_into(Z[i], A[i])
        else:
            uf.tanh_into(Z[i], A[i])
    else:
        for j in range(m):
            v = Z[i, j] + bias
            Z[i, j] = v
            A[i, j] = v


@njit(**_JIT)
def linear_act_blas(A_prev, W, b, act, Z, A):
    """``Z = W @ A_prev + b``, ``A = g(Z)``: NumPy's ``np.dot``, then a fused epilogue.

    The product runs in object mode, i.e. through NumPy's own BLAS: the exact call
    ``numpy_ref`` makes, and no second BLAS thread pool beside NumPy's (two pools
    spinning on two cores stall each other for milliseconds).
    """
    with objmode():
        np.dot(W, A_prev, out=Z)
    bias_act(Z, b, act, A)


@njit(inline="always", **_JIT)
def act_backward_flat(dA, Z, A, act, dZ):
    """``dZ = dA * g'(Z)`` elementwise on flat arrays (tanh uses ``A``).

    ``dZ`` may be ``dA`` itself (the training loop works in place): that case runs a
    loop over the one array, which LLVM vectorizes (its overlap check sends two equal
    arrays down the scalar path).
    """
    if dZ.ctypes.data == dA.ctypes.data:
        _act_backward_inplace(dZ, Z, A, act)
        return
    n = dA.shape[0]
    zero = dZ.dtype.type(0.0)
    one = dZ.dtype.type(1.0)
    if act == RELU:
        for i in range(n):
            dZ[i] = dA[i] * (one if Z[i] > zero else zero)
    elif act == SIGMOID:
        uf.sigmoid_into(Z, dZ)
        for i in range(n):
            s = dZ[i]
            dZ[i] = dA[i] * s * (one - s)
    elif act == TANH:
        for i in range(n):
            dZ[i] = dA[i] * (one - A[i] * A[i])
    else:
        for i in range(n):
            dZ[i] = dA[i]


@njit(**_JIT)
def _act_backward_inplace(dZ, Z, A, act):
    """:func:`act_backward_flat` with ``dA`` and ``dZ`` the same array."""
    n = dZ.shape[0]
    zero = dZ.dtype.type(0.0)
    one = dZ.dtype.type(1.0)
    if act == RELU:
        for i in range(n):
            dZ[i] = dZ[i] * (one if Z[i] > zero else zero)
    elif act == SIGMOID:
        # the sigmoid needs a buffer beside dZ: a block at a time
        s = np.empty(min(n, _BLOCK), dZ.dtype)
        for i0 in range(0, n, _BLOCK):
            i1 = min(n, i0 + _BLOCK)
            sb = s[:i1 - i0]
            uf.sigmoid_into(Z[i0:i1], sb)
            for i in range(i0, i1):
                si = sb[i - i0]
                dZ[i] = dZ[i] * si * (one - si)
    elif act == TANH:
        for i in range(n):
            dZ[i] = dZ[i] * (one - A[i] * A[i])


@njit(**_JIT)
def act_backward_2d(dA, Z, A, act, dZ):
    """:func:`act_backward_flat` on C-contiguous 2-D arrays."""
    act_backward_flat(dA.reshape(dA.size), Z.reshape(Z.size), A.reshape(A.size), act,
                      dZ.reshape(dZ.size))


# --------------------------------------------------------------------------- backward
@njit(inline="always", **_JIT)
def dw_db_epilogue(dZ, W, scale, l2, dW, db):
    """Given ``dW = dZ @ A_prev.T``: ``dW = scale dW + l2 W``, ``db = scale rowsum(dZ)``."""
    s = dW.dtype.type(scale)
    c = dW.dtype.type(l2)
    n_out, n_in = dW.shape
    for i in range(n_out):
        for p in range(n_in):
            dW[i, p] = s * dW[i, p]
        if l2 != 0.0:
            for p in range(n_in):
                dW[i, p] = dW[i, p] + c * W[i, p]
    blas.row_sums(dZ, scale, db)


@njit(inline="always", **_JIT)
def linear_backward_hand(dZ, A_prev, W, scale, l2, dW, db, dA_prev, want_dA, ws):
    """``dW = scale dZ A_prev^T + l2 W``, ``db = scale rowsum(dZ)``, ``dA_prev = W^T dZ``.

    ``ws``: scratch of :func:`backward_workspace_size` elements (allocated here when
    shorter; :func:`workspace_size` is enough).
    """
    need = backward_workspace_size(W.shape[0], W.shape[1], dZ.shape[1], want_dA)
    if ws.shape[0] < need:
        ws = np.empty(need, dW.dtype)
    blas.mm_nt(dZ, A_prev, dW, ws)
    dw_db_epilogue(dZ, W, scale, l2, dW, db)
    if want_dA:
        blas.mm_tn(W, dZ, dA_prev, ws)


@njit(**_JIT)
def linear_backward_small(dZ, A_prev, W, scale, l2, dW, db, dA_prev):
    """:func:`linear_backward_hand` with ``db`` as given, ``(n_out, 1)``, and no scratch;
    ``dA_prev`` None skips ``W^T dZ``."""
    ws = np.empty(0, dW.dtype)
    dbf = db.reshape(db.shape[0])
    if dA_prev is None:
        linear_backward_hand(dZ, A_prev, W, scale, l2, dW, dbf, np.empty((0, 0), dW.dtype),
                             False, ws)
    else:
        linear_backward_hand(dZ, A_prev, W, scale, l2, dW, dbf, dA_prev, True, ws)


@njit(**_JIT)
def linear_act_backward_small(dA, Z, A, act, A_prev, W, scale, l2, dZ, dW, db, dA_prev):
    """:func:`act_backward_2d` then :func:`linear_backward_small`, in one compiled call.

    ``dZ`` goes on as read-only, so the callee is the specialisation ``linear_backward``'s
    fast path compiles (loaded from the cache, not compiled again). The arrays go on as
    views that count no references (:func:`._cpu_blas.borrow`; the caller holds them):
    on the notebook's layers the atomic counts of the calls below cost as much as their
    arithmetic.
    """
    dA, Z, A, A_prev, W, dZ, dW, db = (blas.borrow(dA), blas.borrow(Z), blas.borrow(A),
                                       blas.borrow(A_prev), blas.borrow(W),
                                       blas.borrow(dZ), blas.borrow(dW), blas.borrow(db))
    act_backward_2d(dA, Z, A, act, dZ)
    linear_backward_small(blas.read_only(dZ), A_prev, W, scale, l2, dW, db, dA_prev)


@njit(**_JIT)
def linear_backward_blas(dZ, A_prev, W, scale, l2, dW, db, dA_prev, want_dA):
    """:func:`linear_backward_hand` with NumPy's ``np.dot`` (as :func:`linear_act_blas`)."""
    with objmode():
        np.dot(dZ, A_prev.T, out=dW)
    dw_db_epilogue(dZ, W, scale, l2, dW, db)
    if want_dA:
        with objmode():
            np.dot(W.T, dZ, out=dA_prev)


@njit(**_JIT)
def sigmoid_ce_backward_flat(A, Y, scale, dZ):
    """``dZ = scale * (A - Y)`` (``A - Y`` when ``scale == 1``)."""
    s = dZ.dtype.type(scale)
    if scale == 1.0:
        for i in range(A.shape[0]):
            dZ[i] = A[i] - Y[i]
    else:
        for i in range(A.shape[0]):
            dZ[i] = s * (A[i] - Y[i])


# --------------------------------------------------------------------------- losses
@njit(**_JIT)
def cross_entropy_flat(A, Y, m, mode, buf):
    """``(1/m) * sum(-log(A) Y - log(1 - A)(1 - Y))`` in ``mode``; ``buf`` is scratch of
    at least ``2 * A.shape[0]`` elements."""
    n = A.shape[0]
    one = A.dtype.type(1.0)
    zero = A.dtype.type(0.0)
    eps = CE_CLIP_EPS32 if A.itemsize == 4 else CE_CLIP_EPS
    lo = A.dtype.type(eps)
    hi = A.dtype.type(1 - eps)
    if mode == CE_LOGITS:
        for i in range(n):          # A holds the logits Z
            buf[i] = -np.abs(A[i])
        uf.exp_into(buf[:n], buf[:n])
        uf.log1p_into(buf[:n], buf[:n])
        for i in range(n):
            z = A[i]
            buf[i] = (zero if z < zero else z) - z * Y[i] + buf[i]
        return np.float64(A.dtype.type(1.0 / m) * blas.pairwise_sum(buf[:n], False))
    # A into buf[:n] and 1 - A beside it, then NumPy's log over both in one call
    for i in range(n):
        a = A[i]
        if mode == CE_CLIPPED:
            if a < lo:
                a = lo
            elif a > hi:
                a = hi
        buf[i] = a
        buf[n + i] = one - a
    uf.log_into(buf[:2 * n], buf[:2 * n])
    for i in range(n):
        y = Y[i]
        t = (-buf[i]) * y + (-buf[n + i]) * (one - y)
        if mode == CE_NANSUM and np.isnan(t):
            t = zero
        buf[i] = t
    total = blas.pairwise_sum(buf[:n], False)
    return np.float64(A.dtype.type(1.0 / m) * total)


@njit(**_JIT)
def sum_squares_flat(x):
    """``np.sum(np.square(x))`` of a flat array, as float64."""
    return np.float64(blas.pairwise_sum(x, True))


# --------------------------------------------------------------------------- dropout
@njit(**_JIT)
def dropout_compat_flat(A, keep_prob, key, pos, D, A_out):
    """Masks from the legacy MT19937 state ``(key, pos)``; returns the new position."""
    kp = A_out.dtype.type(keep_prob)
    zero = A_out.dtype.type(0.0)
    one = A_out.dtype.type(1.0)
    n = A.shape[0]
    u = np.empty(min(n, 512), np.float64)
    for start in range(0, n, 512):
        cnt = min(512, n - start)
        pos = rng.mt_fill_uniform(key, pos, u[:cnt])
        d = D[start:start + cnt]
        a = A[start:start + cnt]
        out = A_out[start:start + cnt]
        for c in range(cnt):            # two loops over slices: both vectorize
            d[c] = u[c] < keep_prob
        for c in range(cnt):
            out[c] = (a[c] * (one if d[c] else zero)) / kp
    return pos


@njit(**_JIT)
def dropout_fast_flat(A, keep_prob, seed, D, A_out):
    """Masks from the counter hash of ``seed`` (serial)."""
    key = rng.counter_key(seed)
    kp = A_out.dtype.type(keep_prob)
    zero = A_out.dtype.type(0.0)
    one = A_out.dtype.type(1.0)
    for i in range(A.shape[0]):
        d = rng.counter_uniform_at(key, i) < keep_prob
        D[i] = d
        A_out[i] = (A[i] * (one if d else zero)) / kp


@njit(parallel=True, **_JIT)
def dropout_fast_flat_par(A, keep_prob, seed, D, A_out):
    """:func:`dropout_fast_flat` over threads (each element independent)."""
    key = rng.counter_key(seed)
    kp = A_out.dtype.type(keep_prob)
    zero = A_out.dtype.type(0.0)
    one = A_out.dtype.type(1.0)
    for i in prange(A.shape[0]):
        d = rng.counter_uniform_at(key, i) < keep_prob
        D[i] = d
        A_out[i] = (A[i] * (one if d else zero)) / kp


@njit(**_JIT)
def dropout_backward_flat(dA, D, keep_prob, dA_out):
    """``dA_out = dA * D / keep_prob`` (``dA_out`` may be ``dA``: one array's loop)."""
    kp = dA_out.dtype.type(keep_prob)
    zero = dA_out.dtype.type(0.0)
    one = dA_out.dtype.type(1.0)
    if dA_out.ctypes.data == dA.ctypes.data:
        for i in range(dA.shape[0]):
            dA_out[i] = (dA_out[i] * (one if D[i] else zero)) / kp
    else:
        for i in range(dA.shape[0]):
            dA_out[i] = (dA[i] * (one if D[i] else zero)) / kp


# --------------------------------------------------------------------------- optimizers
@njit(**_JIT)
def sgd_flat(p, g, lr):
    """``p = p - lr * g``."""
    c = p.dtype.type(lr)
    for i in range(p.shape[0]):
        p[i] = p[i] - c * g[i]


@njit(parallel=True, **_JIT)
def sgd_flat_par(p, g, lr):
    """:func:`sgd_flat` over threads."""
    c = p.dtype.type(lr)
    for i in prange(p.shape[0]):
        p[i] = p[i] - c * g[i]


@njit(**_JIT)
def momentum_flat(p, g, v, beta, lr):
    """``v = beta v + (1 - beta) g``; ``p = p - lr v``."""
    b = p.dtype.type(beta)
    ob = p.dtype.type(1 - beta)
    c = p.dtype.type(lr)
    for i in range(p.shape[0]):
        vi = b * v[i] + ob * g[i]
        v[i] = vi
        p[i] = p[i] - c * vi


@njit(parallel=True, **_JIT)
def momentum_flat_par(p, g, v, beta, lr):
    """:func:`momentum_flat` over threads."""
    b = p.dtype.type(beta)
    ob = p.dtype.type(1 - beta)
    c = p.dtype.type(lr)
    for i in prange(p.shape[0]):
        vi = b * v[i] + ob * g[i]
        v[i] = vi
        p[i] = p[i] - c * vi


@njit(**_JIT)
def adam_flat(p, g, m, v, bc1, bc2, lr, beta1, beta2, eps):
    """One Adam step; ``bc1 = 1 - beta1**t`` and ``bc2 = 1 - beta2**t`` precomputed."""
    b1 = p.dtype.type(beta1)
    ob1 = p.dtype.type(1 - beta1)
    b2 = p.dtype.type(beta2)
    ob2 = p.dtype.type(1 - beta2)
    c1 = p.dtype.type(bc1)
    c2 = p.dtype.type(bc2)
    c = p.dtype.type(lr)
    e = p.dtype.type(eps)
    for i in range(p.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + ob1 * gi
        vi = b2 * v[i] + ob2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - c * (mi / c1) / (np.sqrt(vi / c2) + e)


@njit(parallel=True, **_JIT)
def adam_flat_par(p, g, m, v, bc1, bc2, lr, beta1, beta2, eps):
    """:func:`adam_flat` over threads."""
    b1 = p.dtype.type(beta1)
    ob1 = p.dtype.type(1 - beta1)
    b2 = p.dtype.type(beta2)
    ob2 = p.dtype.type(1 - beta2)
    c1 = p.dtype.type(bc1)
    c2 = p.dtype.type(bc2)
    c = p.dtype.type(lr)
    e = p.dtype.type(eps)
    for i in prange(p.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + ob1 * gi
        vi = b2 * v[i] + ob2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - c * (mi / c1) / (np.sqrt(vi / c2) + e)
