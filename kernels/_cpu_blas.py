"""Small dense products and sums in the summation order NumPy uses.

``numpy_ref`` computes ``np.dot`` (OpenBLAS) and ``np.sum`` (pairwise summation). The
Numba backend reproduces both orders in hand loops for small shapes, so its float64
results are bit-identical to NumPy's on the OpenBLAS kernels NumPy ships for x86-64 with
AVX2 (Haswell/Zen), and within a few ulps anywhere else:

* ``np.sum``: NumPy's pairwise summation (blocks of 128 with 8 accumulators, split in
  halves rounded to multiples of 8 above that).
* ``np.dot`` of two matrices: OpenBLAS's single-threaded ``dgemm`` — per output element
  a fused multiply-add chain over ``k``, in blocks of at most 256 (split as OpenBLAS
  splits ``k``); the last row of an odd number of rows (OpenBLAS's one-column tail)
  accumulates in 4 interleaved chains.
* a row vector times a matrix, or a matrix times a column vector: NumPy calls ``dgemv``;
  :func:`gemv_rows` and :func:`gemv_dots` follow OpenBLAS's ``dgemv_n`` / ``dgemv_t``;
  a row times a column calls ``ddot`` (:func:`ddot`).

Everything here is an ``@njit`` helper for the other ``_cpu_*`` modules; nothing is
public. ``fma`` is LLVM's fused multiply-add (one rounding), which OpenBLAS uses.
"""

from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}

#: OpenBLAS's GEMM_Q (the k block) for double precision on Haswell/Zen.
GEMM_Q = 256
#: OpenBLAS's NBMAX in dgemv_t (the block of the dot-product length).
GEMV_NB = 2048


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` with a single rounding (``llvm.fma``); all three of one float type."""
    if not (isinstance(a, types.Float) and a == b and b == c):
        return None

    def codegen(context, builder, signature, args):
        lty = context.get_value_type(signature.return_type)
        name = "llvm.fma.f64" if signature.return_type == types.float64 else "llvm.fma.f32"
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(lty, [lty, lty, lty]), name)
        return builder.call(fn, args)

    return a(a, b, c), codegen


if config.DISABLE_JIT:
    # NUMBA_DISABLE_JIT=1 runs the kernels as Python (for coverage and debugging): an
    # intrinsic cannot run there, so the same single rounding is done exactly.
    def fma(a, b, c):  # noqa: F811
        """``a * b + c`` rounded once, in the type of ``a`` (pure-Python fallback)."""
        kind = type(a)
        fa, fb, fc = float(a), float(b), float(c)
        if not (np.isfinite(fa) and np.isfinite(fb) and np.isfinite(fc)):
            return kind(fa * fb + fc)
        exact = Fraction(fa) * Fraction(fb) + Fraction(fc)
        if exact == 0:
            return kind(fa * fb + fc)          # the sign of a zero, as the hardware
        try:
            return kind(float(exact)) if kind is not float else float(exact)
        except OverflowError:
            return kind(np.inf if exact > 0 else -np.inf)


# --------------------------------------------------------------------------- np.sum
@njit(**_JIT)
def _pw_block(a, lo, n):
    """NumPy's pairwise_sum leaf for ``a[lo:lo+n]``, ``n <= 128``.

    Indexes a view from offsets that are provably non-negative, so the compiled loop
    carries no negative-index wraparound (about 40% of its time on short rows).
    """
    b = a[lo:lo + n]
    if n < 8:
        res = a.dtype.type(-0.0)
        for i in range(n):
            res += b[i]
        return res
    r0 = b[0]
    r1 = b[1]
    r2 = b[2]
    r3 = b[3]
    r4 = b[4]
    r5 = b[5]
    r6 = b[6]
    r7 = b[7]
    n8 = n // 8
    for t in range(1, n8):
        i = 8 * t
        r0 += b[i]
        r1 += b[i + 1]
        r2 += b[i + 2]
        r3 += b[i + 3]
        r4 += b[i + 4]
        r5 += b[i + 5]
        r6 += b[i + 6]
        r7 += b[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(8 * n8, n):
        res += b[i]
    return res


@njit(**_JIT)
def _pw_block_sq(a, lo, n):
    """:func:`_pw_block` of the squares ``a[i] * a[i]`` (``np.square`` then sum)."""
    b = a[lo:lo + n]
    if n < 8:
        res = a.dtype.type(-0.0)
        for i in range(n):
            res += b[i] * b[i]
        return res
    r0 = b[0] * b[0]
    r1 = b[1] * b[1]
    r2 = b[2] * b[2]
    r3 = b[3] * b[3]
    r4 = b[4] * b[4]
    r5 = b[5] * b[5]
    r6 = b[6] * b[6]
    r7 = b[7] * b[7]
    n8 = n // 8
    for t in range(1, n8):
        i = 8 * t
        r0 += b[i] * b[i]
        r1 += b[i + 1] * b[i + 1]
        r2 += b[i + 2] * b[i + 2]
        r3 += b[i + 3] * b[i + 3]
        r4 += b[i + 4] * b[i + 4]
        r5 += b[i + 5] * b[i + 5]
        r6 += b[i + 6] * b[i + 6]
        r7 += b[i + 7] * b[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(8 * n8, n):
        res += b[i] * b[i]
    return res


@njit(**_JIT)
def _pw_leaf(a, lo, n, square):
    if square:
        return _pw_block_sq(a, lo, n)
    return _pw_block(a, lo, n)


@njit(**_JIT)
def _pw_stack(a, lo, n, square):
    """NumPy's pairwise recursion on an explicit stack (any ``n``)."""
    t_lo = np.empty(192, np.int64)
    t_n = np.empty(192, np.int64)
    vals = np.empty(96, a.dtype)
    t_lo[0] = lo
    t_n[0] = n
    sp = 1
    vp = 0
    while sp > 0:
        sp -= 1
        c_lo = t_lo[sp]
        c_n = t_n[sp]
        if c_n < 0:                      # combine the two values on top
            vp -= 1
            vals[vp - 1] = vals[vp - 1] + vals[vp]
        elif c_n <= 128:
            vals[vp] = _pw_leaf(a, c_lo, c_n, square)
            vp += 1
        else:
            n2 = c_n // 2
            n2 -= n2 % 8
            t_lo[sp] = 0
            t_n[sp] = -1
            t_lo[sp + 1] = c_lo + n2
            t_n[sp + 1] = c_n - n2
            t_lo[sp + 2] = c_lo
            t_n[sp + 2] = n2
            sp += 3
    return vals[0]


@njit(**_JIT)
def _pw_1(a, lo, n, square):
    """One level of the recursion unrolled (no allocation for ``n`` up to ~256)."""
    if n <= 128:
        return _pw_leaf(a, lo, n, square)
    n2 = n // 2
    n2 -= n2 % 8
    if n - n2 > 128:
        return _pw_stack(a, lo, n, square)
    return _pw_leaf(a, lo, n2, square) + _pw_leaf(a, lo + n2, n - n2, square)


@njit(**_JIT)
def _pw_3(a, lo, n, square):
    """Two more unrolled levels (no allocation for ``n`` up to ~1000)."""
    if n <= 256:
        return _pw_1(a, lo, n, square)
    n2 = n // 2
    n2 -= n2 % 8
    if n - n2 > 256:
        if n > 1000:
            return _pw_stack(a, lo, n, square)
        h = n2 // 2
        h -= h % 8
        r = n - n2
        h2 = r // 2
        h2 -= h2 % 8
        return ((_pw_1(a, lo, h, square) + _pw_1(a, lo + h, n2 - h, square))
                + (_pw_1(a, lo + n2, h2, square) + _pw_1(a, lo + n2 + h2, r - h2, square)))
    return _pw_1(a, lo, n2, square) + _pw_1(a, lo + n2, n - n2, square)


@njit(**_JIT)
def pairwise_sum(a, square):
    """``np.sum(a)`` (of ``np.square(a)`` when ``square``) in NumPy's exact order.

    ``a`` is 1-D. NumPy's pairwise recursion is unrolled for short arrays and runs on
    an explicit stack for long ones (Numba's self-recursion is avoided on purpose).
    Like ``np.sum``, the result is added to the reduction's initial ``+0.0``.
    """
    zero = a.dtype.type(0.0)
    return zero + _pw_3(a, np.int64(0), a.shape[0], square)


# --------------------------------------------------------------------------- gemm rows
@njit(**_JIT)
def gemm_k_block(k_left):
    """OpenBLAS's next k block (``min_l``) when ``k_left`` values of k remain."""
    if k_left >= 2 * GEMM_Q:
        return GEMM_Q
    if k_left > GEMM_Q:
        return ((k_left // 2 + 3) // 4) * 4
    return k_left


@njit(**_JIT)
def _chain_rows(w, B, out, init):
    """``out[j] = fma(w[l], B[l, j], out[j])`` for every ``l`` in order.

    With ``init`` the chain starts from 0 instead of ``out``. Four ``l`` per pass
    over ``j`` (the chain stays in order, in registers).
    """
    k = w.shape[0]
    m = out.shape[0]
    zero = out.dtype.type(0.0)
    l = 0
    if init:
        if k >= 4:
            w0 = w[0]
            w1 = w[1]
            w2 = w[2]
            w3 = w[3]
            B0 = B[0]
            B1 = B[1]
            B2 = B[2]
            B3 = B[3]
            for j in range(m):
                out[j] = fma(w3, B3[j],
                             fma(w2, B2[j], fma(w1, B1[j], fma(w0, B0[j], zero))))
            l = 4
        elif k >= 2:
            w0 = w[0]
            w1 = w[1]
            B0 = B[0]
            B1 = B[1]
            for j in range(m):
                out[j] = fma(w1, B1[j], fma(w0, B0[j], zero))
            l = 2
        elif k == 1:
            w0 = w[0]
            B0 = B[0]
            for j in range(m):
                out[j] = fma(w0, B0[j], zero)
            l = 1
        else:
            for j in range(m):
                out[j] = zero
    while l + 4 <= k:
        w0 = w[l]
        w1 = w[l + 1]
        w2 = w[l + 2]
        w3 = w[l + 3]
        B0 = B[l]
        B1 = B[l + 1]
        B2 = B[l + 2]
        B3 = B[l + 3]
        for j in range(m):
            out[j] = fma(w3, B3[j], fma(w2, B2[j], fma(w1, B1[j], fma(w0, B0[j], out[j]))))
        l += 4
    if l + 2 <= k:
        w0 = w[l]
        w1 = w[l + 1]
        B0 = B[l]
        B1 = B[l + 1]
        for j in range(m):
            out[j] = fma(w1, B1[j], fma(w0, B0[j], out[j]))
        l += 2
    if l < k:
        w0 = w[l]
        B0 = B[l]
        for j in range(m):
            out[j] = fma(w0, B0[j], out[j])


@njit(**_JIT)
def _tail_rows(w, B, r, ws):
    """One k block of OpenBLAS's one-column kernel into ``r`` (see :func:`gemm_row`)."""
    k = w.shape[0]
    m = r.shape[0]
    m4 = m - m % 4
    zero = r.dtype.type(0.0)
    a0 = ws[:m4]
    a1 = ws[m4:2 * m4]
    a2 = ws[2 * m4:3 * m4]
    a3 = ws[3 * m4:4 * m4]
    for j in range(m4):
        a0[j] = zero
        a1[j] = zero
        a2[j] = zero
        a3[j] = zero
    kk = 8 * (k // 8)
    for t in range(0, kk, 8):
        w0 = w[t]
        w1 = w[t + 1]
        w2 = w[t + 2]
        w3 = w[t + 3]
        w4 = w[t + 4]
        w5 = w[t + 5]
        w6 = w[t + 6]
        w7 = w[t + 7]
        B0 = B[t]
        B1 = B[t + 1]
        B2 = B[t + 2]
        B3 = B[t + 3]
        B4 = B[t + 4]
        B5 = B[t + 5]
        B6 = B[t + 6]
        B7 = B[t + 7]
        for j in range(m4):
            a0[j] = fma(w4, B4[j], fma(w0, B0[j], a0[j]))
            a1[j] = fma(w5, B5[j], fma(w1, B1[j], a1[j]))
            a2[j] = fma(w6, B6[j], fma(w2, B2[j], a2[j]))
            a3[j] = fma(w7, B7[j], fma(w3, B3[j], a3[j]))
    if kk < k:
        _chain_rows(w[kk:], B[kk:], a0, False)
    for j in range(m4):
        r[j] = (a0[j] + a1[j]) + (a2[j] + a3[j])
    for j in range(m4, m):
        s = zero
        for t in range(k):
            s = fma(w[t], B[t, j], s)
        r[j] = s


@njit(**_JIT)
def gemm_row(w, B, out, tail, ws):
    """One row of a dgemm product: ``out[j] = sum_l w[l] * B[l, j]``.

    ``w`` (k,) and ``B`` (k, m) are C-contiguous. Each k block (:func:`gemm_k_block`)
    is an fma chain per element, added to ``out``; with ``tail`` (the last row of an
    odd number of rows: OpenBLAS's one-column kernel) a block runs 4 interleaved chains
    over its unrolled-by-8 part, the rest into the first, summed
    ``(c0 + c1) + (c2 + c3)``, except the last ``m % 4`` columns (plain chains).
    ``ws`` is scratch of at least ``5 * m`` elements.
    """
    k = w.shape[0]
    m = out.shape[0]
    kb = gemm_k_block(k)
    if tail:
        _tail_rows(w[:kb], B[:kb], out, ws)
    else:
        _chain_rows(w[:kb], B[:kb], out, True)
    ls = kb
    if ls < k:
        r = ws[:m]
        scratch = ws[m:]
        while ls < k:
            kb = gemm_k_block(k - ls)
            if tail:
                _tail_rows(w[ls:ls + kb], B[ls:ls + kb], r, scratch)
            else:
                _chain_rows(w[ls:ls + kb], B[ls:ls + kb], r, True)
            for j in range(m):
                out[j] = out[j] + r[j]
            ls += kb


@njit(**_JIT)
def gemv_rows(w, B, out):
    """``out[j] = sum_l w[l] * B[l, j]`` in OpenBLAS dgemv_n order (NumPy's row @ matrix).

    Columns in groups of 4 (``y + (fma(w2, b2, w0 b0) + fma(w3, b3, w1 b1))``), then a
    pair and a single; the last ``m % 4`` outputs are plain sequential sums.
    """
    k = w.shape[0]
    m = out.shape[0]
    m4 = m - m % 4
    zero = out.dtype.type(0.0)
    for j in range(m):
        out[j] = zero
    l = 0
    while l + 4 <= k:
        w0 = w[l]
        w1 = w[l + 1]
        w2 = w[l + 2]
        w3 = w[l + 3]
        B0 = B[l]
        B1 = B[l + 1]
        B2 = B[l + 2]
        B3 = B[l + 3]
        for j in range(m4):
            out[j] = out[j] + (fma(w2, B2[j], w0 * B0[j]) + fma(w3, B3[j], w1 * B1[j]))
        l += 4
    if k - l >= 2:
        w0 = w[l]
        w1 = w[l + 1]
        B0 = B[l]
        B1 = B[l + 1]
        for j in range(m4):
            out[j] = out[j] + (w0 * B0[j] + w1 * B1[j])
        l += 2
    if k - l == 1:
        w0 = w[l]
        B0 = B[l]
        for j in range(m4):
            out[j] = out[j] + w0 * B0[j]
    for j in range(m4, m):
        s = zero
        l = 0
        if m < 4:
            # OpenBLAS's lda == m % 4 branch sums products in pairs, 4 columns a step
            while l + 4 <= k:
                s = s + (w[l] * B[l, j] + w[l + 1] * B[l + 1, j])
                s = s + (w[l + 2] * B[l + 2, j] + w[l + 3] * B[l + 3, j])
                l += 4
        while l < k:
            s = s + w[l] * B[l, j]
            l += 1
        out[j] = zero + s


@njit(**_JIT)
def _dot_lanes(a, x, kind):
    """A dgemv_t partial dot product ``a . x`` (length a multiple of 4).

    kind 0: 4 lanes of fma (the 4-row kernel); 1: 2 lanes of mul+add (2-row kernel);
    2: 4 lanes of mul+add (1-row kernel). Lanes combine as ``(l0 + l2) + (l1 + l3)``.
    """
    zero = a.dtype.type(0.0)
    c0 = zero
    c1 = zero
    c2 = zero
    c3 = zero
    n = a.shape[0]
    if kind == 0:
        for i in range(0, n, 4):
            c0 = fma(a[i], x[i], c0)
            c1 = fma(a[i + 1], x[i + 1], c1)
            c2 = fma(a[i + 2], x[i + 2], c2)
            c3 = fma(a[i + 3], x[i + 3], c3)
        return (c0 + c2) + (c1 + c3)
    if kind == 1:
        for i in range(0, n, 2):
            c0 = c0 + a[i] * x[i]
            c1 = c1 + a[i + 1] * x[i + 1]
        return c0 + c1
    for i in range(0, n, 4):
        c0 = c0 + a[i] * x[i]
        c1 = c1 + a[i + 1] * x[i + 1]
        c2 = c2 + a[i + 2] * x[i + 2]
        c3 = c3 + a[i + 3] * x[i + 3]
    return (c0 + c2) + (c1 + c3)


@njit(**_JIT)
def gemv_kind(i, n):
    """The dgemv_t kernel row ``i`` of ``n`` rows goes through (see :func:`_dot_lanes`)."""
    n4 = n - n % 4
    if i < n4:
        return 0
    if (n & 2) and i < n4 + 2:
        return 1
    return 2


@njit(**_JIT)
def gemv_dot(a, x, kind):
    """One output of OpenBLAS dgemv_t: ``a . x`` for a row going through kernel ``kind``.

    The dot length runs in blocks of 2048 (whole multiples of 4), its last ``len % 4``
    terms are added in the C tail's (fma-contracted) order.
    """
    K = a.shape[0]
    y = a.dtype.type(0.0)
    m3 = K & 3
    m1 = K - m3
    m2 = (K & (GEMV_NB - 1)) - m3
    nb = GEMV_NB
    off = 0
    while nb == GEMV_NB:
        m1 -= nb
        if m1 < 0:
            if m2 == 0:
                break
            nb = m2
        y = y + _dot_lanes(a[off:off + nb], x[off:off + nb], kind)
        off += nb
    if m3 == 1:
        y = fma(a[off], x[off], y)
    elif m3 == 2:
        y = y + fma(a[off], x[off], a[off + 1] * x[off + 1])
    elif m3 == 3:
        y = y + fma(a[off + 2], x[off + 2], fma(a[off], x[off], a[off + 1] * x[off + 1]))
    return y


@njit(**_JIT)
def gemv_dots(M, x, y):
    """``y[i] = M[i, :] . x`` in OpenBLAS dgemv_t order (NumPy's matrix @ vector).

    Rows in groups of 4 (fma lanes), then a pair and a single (mul+add lanes).
    """
    n = M.shape[0]
    for i in range(n):
        y[i] = gemv_dot(M[i], x, gemv_kind(i, n))


@njit(**_JIT)
def ddot(a, b):
    """``a . b`` in OpenBLAS ddot order (NumPy's row vector @ column vector).

    Blocks of 16 in four 4-lane fma accumulators, folded ``(l0 + l2, l1 + l3)`` each,
    summed ``(acc0 + acc1) + (acc2 + acc3)`` and the two lanes added; then the last
    ``n % 16`` products added one by one.
    """
    n = a.shape[0]
    n1 = n - n % 16
    zero = a.dtype.type(0.0)
    acc = np.zeros((4, 4), a.dtype)
    for i in range(0, n1, 16):
        for v in range(4):
            for lane in range(4):
                q = i + 4 * v + lane
                acc[v, lane] = fma(a[q], b[q], acc[v, lane])
    lo0 = (acc[0, 0] + acc[0, 2]) + (acc[1, 0] + acc[1, 2])
    hi0 = (acc[0, 1] + acc[0, 3]) + (acc[1, 1] + acc[1, 3])
    lo1 = (acc[2, 0] + acc[2, 2]) + (acc[3, 0] + acc[3, 2])
    hi1 = (acc[2, 1] + acc[2, 3]) + (acc[3, 1] + acc[3, 3])
    d = zero + ((lo0 + lo1) + (hi0 + hi1))
    for i in range(n1, n):
        d = d + a[i] * b[i]
    return d


# --------------------------------------------------------------------------- products
@njit(**_JIT)
def _w(W, i, l, trans):
    """``W[i, l]``, or ``W[l, i]`` when ``trans`` (``W.T`` without a copy)."""
    return W[l, i] if trans else W[i, l]


@njit(**_JIT)
def _rows_chain(W, trans, A, C, i0, i1):
    """Rows ``i0 .. i1-1`` of ``C = W @ A`` (``W.T @ A`` with ``trans``), ``k <= GEMM_Q``.

    Per element the fma chain over ``k`` of :func:`_chain_rows` (so the same bits as
    :func:`gemm_row` on a row that is not a tail row), indexing the 2-D arrays directly:
    no row views, which cost more than the arithmetic on the notebooks' tiny layers.
    """
    k = A.shape[0]
    m = A.shape[1]
    zero = C.dtype.type(0.0)
    for i in range(i0, i1):
        w0 = _w(W, i, 0, trans)
        if k >= 2:
            w1 = _w(W, i, 1, trans)
            for j in range(m):
                C[i, j] = fma(w1, A[1, j], fma(w0, A[0, j], zero))
            l = 2
        else:
            for j in range(m):
                C[i, j] = fma(w0, A[0, j], zero)
            l = 1
        while l + 4 <= k:
            w0 = _w(W, i, l, trans)
            w1 = _w(W, i, l + 1, trans)
            w2 = _w(W, i, l + 2, trans)
            w3 = _w(W, i, l + 3, trans)
            for j in range(m):
                C[i, j] = fma(w3, A[l + 3, j], fma(w2, A[l + 2, j],
                              fma(w1, A[l + 1, j], fma(w0, A[l, j], C[i, j]))))
            l += 4
        while l < k:
            w0 = _w(W, i, l, trans)
            for j in range(m):
                C[i, j] = fma(w0, A[l, j], C[i, j])
            l += 1


@njit(**_JIT)
def mm_nn(W, A, C, ws):
    """``C = W @ A`` (W (n, k), A (k, m), all C-contiguous) in NumPy/OpenBLAS order.

    ``ws``: scratch of at least ``5 * m + k`` elements.
    """
    n = W.shape[0]
    m = A.shape[1]
    if n == 1 and m == 1:
        C[0, 0] = ddot(W[0], A[:, 0].copy())
    elif m == 1:
        gemv_dots(W, A[:, 0].copy(), C[:, 0])
    elif n == 1:
        gemv_rows(W[0], A, C[0])
    else:
        odd = n % 2 == 1
        if A.shape[0] <= GEMM_Q:
            _rows_chain(W, False, A, C, 0, n - 1 if odd else n)
            if odd:
                gemm_row(W[n - 1], A, C[n - 1], True, ws)
        else:
            for i in range(n):
                gemm_row(W[i], A, C[i], odd and i == n - 1, ws)


@njit(**_JIT)
def mm_tn(W, B, C, ws):
    """``C = W.T @ B`` (W (k, n), B (k, m), C (n, m), all C-contiguous) in NumPy order.

    ``ws``: scratch of at least ``5 * m + k`` elements.
    """
    k, n = W.shape
    m = B.shape[1]
    w = ws[5 * m:5 * m + k]
    if n == 1 and m == 1:
        C[0, 0] = ddot(W[:, 0].copy(), B[:, 0].copy())
    elif m == 1:
        # W.T (F-contiguous) @ column: dgemv_n over the rows of W
        gemv_rows(B[:, 0].copy(), W, C[:, 0])
    elif n == 1:
        for l in range(k):
            w[l] = W[l, 0]
        gemv_rows(w, B, C[0])
    else:
        odd = n % 2 == 1
        if k <= GEMM_Q:
            _rows_chain(W, True, B, C, 0, n - 1 if odd else n)
            if odd:
                for l in range(k):
                    w[l] = W[l, n - 1]
                gemm_row(w, B, C[n - 1], True, ws)
        else:
            for i in range(n):
                for l in range(k):
                    w[l] = W[l, i]
                gemm_row(w, B, C[i], odd and i == n - 1, ws)


@njit(**_JIT)
def _nt_2x4(X, A, T, i, q, ls, le):
    """``T[i:i+2, q:q+4] = X[i:i+2, ls:le] @ A[q:q+4, ls:le].T`` as 8 chains over ``j``."""
    zero = T.dtype.type(0.0)
    c00 = zero
    c01 = zero
    c02 = zero
    c03 = zero
    c10 = zero
    c11 = zero
    c12 = zero
    c13 = zero
    x0 = X[i]
    x1 = X[i + 1]
    a0 = A[q]
    a1 = A[q + 1]
    a2 = A[q + 2]
    a3 = A[q + 3]
    for j in range(ls, le):
        u = x0[j]
        v = x1[j]
        c00 = fma(u, a0[j], c00)
        c01 = fma(u, a1[j], c01)
        c02 = fma(u, a2[j], c02)
        c03 = fma(u, a3[j], c03)
        c10 = fma(v, a0[j], c10)
        c11 = fma(v, a1[j], c11)
        c12 = fma(v, a2[j], c12)
        c13 = fma(v, a3[j], c13)
    T[i, q] = c00
    T[i, q + 1] = c01
    T[i, q + 2] = c02
    T[i, q + 3] = c03
    T[i + 1, q] = c10
    T[i + 1, q + 1] = c11
    T[i + 1, q + 2] = c12
    T[i + 1, q + 3] = c13


@njit(**_JIT)
def _nt_4x2(X, A, T, i, q, ls, le):
    """Chains over ``j`` of ``X[i:i+4] . A[q:q+2]`` into ``T`` (8 chains)."""
    zero = T.dtype.type(0.0)
    c00 = zero
    c01 = zero
    c10 = zero
    c11 = zero
    c20 = zero
    c21 = zero
    c30 = zero
    c31 = zero
    x0 = X[i]
    x1 = X[i + 1]
    x2 = X[i + 2]
    x3 = X[i + 3]
    a0 = A[q]
    a1 = A[q + 1]
    for j in range(ls, le):
        u = a0[j]
        v = a1[j]
        c00 = fma(x0[j], u, c00)
        c01 = fma(x0[j], v, c01)
        c10 = fma(x1[j], u, c10)
        c11 = fma(x1[j], v, c11)
        c20 = fma(x2[j], u, c20)
        c21 = fma(x2[j], v, c21)
        c30 = fma(x3[j], u, c30)
        c31 = fma(x3[j], v, c31)
    T[i, q] = c00
    T[i, q + 1] = c01
    T[i + 1, q] = c10
    T[i + 1, q + 1] = c11
    T[i + 2, q] = c20
    T[i + 2, q + 1] = c21
    T[i + 3, q] = c30
    T[i + 3, q + 1] = c31


@njit(**_JIT)
def _nt_4x1(X, A, T, i, q, ls, le):
    """Chains over ``j`` of ``X[i:i+4] . A[q]`` into ``T`` (4 chains)."""
    zero = T.dtype.type(0.0)
    c0 = zero
    c1 = zero
    c2 = zero
    c3 = zero
    x0 = X[i]
    x1 = X[i + 1]
    x2 = X[i + 2]
    x3 = X[i + 3]
    a0 = A[q]
    for j in range(ls, le):
        u = a0[j]
        c0 = fma(x0[j], u, c0)
        c1 = fma(x1[j], u, c1)
        c2 = fma(x2[j], u, c2)
        c3 = fma(x3[j], u, c3)
    T[i, q] = c0
    T[i + 1, q] = c1
    T[i + 2, q] = c2
    T[i + 3, q] = c3


@njit(**_JIT)
def _nt_2x1(X, A, T, i, q, ls, le):
    """Chains over ``j`` of ``X[i:i+2] . A[q]`` into ``T`` (2 chains)."""
    zero = T.dtype.type(0.0)
    c0 = zero
    c1 = zero
    x0 = X[i]
    x1 = X[i + 1]
    a0 = A[q]
    for j in range(ls, le):
        u = a0[j]
        c0 = fma(x0[j], u, c0)
        c1 = fma(x1[j], u, c1)
    T[i, q] = c0
    T[i + 1, q] = c1


@njit(**_JIT)
def _nt_tail(x, A, out, ls, le):
    """OpenBLAS's one-column kernel for ``out[q] = x . A[q]`` over ``j`` in ``[ls, le)``.

    Columns ``q < p - p % 4``: 4 lanes ``j % 4`` over the unrolled-by-8 part of the
    block, the rest into lane 0, summed ``(l0 + l1) + (l2 + l3)``; the last ``p % 4``
    columns: one chain. Written (not added) into ``out``. Two columns at a time (8
    independent chains: the lanes' fma latency, not their count, bounds this loop).
    """
    p = A.shape[0]
    p4 = p - p % 4
    zero = out.dtype.type(0.0)
    kk = ls + 8 * ((le - ls) // 8)
    for q in range(0, p4, 2):
        a = A[q]
        c = A[q + 1]
        l0 = zero
        l1 = zero
        l2 = zero
        l3 = zero
        h0 = zero
        h1 = zero
        h2 = zero
        h3 = zero
        for j in range(ls, kk, 4):
            l0 = fma(x[j], a[j], l0)
            h0 = fma(x[j], c[j], h0)
            l1 = fma(x[j + 1], a[j + 1], l1)
            h1 = fma(x[j + 1], c[j + 1], h1)
            l2 = fma(x[j + 2], a[j + 2], l2)
            h2 = fma(x[j + 2], c[j + 2], h2)
            l3 = fma(x[j + 3], a[j + 3], l3)
            h3 = fma(x[j + 3], c[j + 3], h3)
        for j in range(kk, le):
            l0 = fma(x[j], a[j], l0)
            h0 = fma(x[j], c[j], h0)
        out[q] = (l0 + l1) + (l2 + l3)
        out[q + 1] = (h0 + h1) + (h2 + h3)
    for q in range(p4, p):
        a = A[q]
        s = zero
        for j in range(ls, le):
            s = fma(x[j], a[j], s)
        out[q] = s


@njit(**_JIT)
def _nt_block(X, A, T, ls, le):
    """``T = X[:, ls:le] @ A[:, ls:le].T`` as dgemm does one k block (chains over j)."""
    n = X.shape[0]
    p = A.shape[0]
    nn = n - 1 if n % 2 == 1 else n       # rows in pairs; an odd last row is the tail
    p4 = p - p % 4
    if p >= 4:
        for i in range(0, nn, 2):
            for q in range(0, p4, 4):
                _nt_2x4(X, A, T, i, q, ls, le)
        q0 = p4
    else:
        q0 = 0
    n4 = nn - nn % 4
    q = q0
    while q + 2 <= p:
        for i in range(0, n4, 4):
            _nt_4x2(X, A, T, i, q, ls, le)
        if n4 < nn:
            _nt_2x1(X, A, T, n4, q, ls, le)
            _nt_2x1(X, A, T, n4, q + 1, ls, le)
        q += 2
    if q < p:
        for i in range(0, n4, 4):
            _nt_4x1(X, A, T, i, q, ls, le)
        if n4 < nn:
            _nt_2x1(X, A, T, n4, q, ls, le)
    if nn < n:
        _nt_tail(X[n - 1], A, T[n - 1], ls, le)


@njit(**_JIT)
def mm_nt(X, A, C, ws):
    """``C = X @ A.T`` (X (n, k), A (p, k), C (n, p), all C-contiguous) in NumPy order.

    dgemm order: per element a chain over ``k`` (in k blocks, added), the last row of
    an odd number of rows in OpenBLAS's one-column order. Computed in register tiles
    of independent chains (no transposes). ``ws``: scratch of at least ``n * p``.
    """
    n, k = X.shape
    p = A.shape[0]
    if n == 1 and p == 1:
        C[0, 0] = ddot(X[0], A[0])
    elif n == 1:
        gemv_dots(A, X[0], C[0])
    elif p == 1:
        gemv_dots(X, A[0], C[:, 0])
    else:
        kb = gemm_k_block(k)
        _nt_block(X, A, C, np.int64(0), kb)
        ls = kb
        if ls < k:
            T = ws[:n * p].reshape(n, p)
            while ls < k:
                kb = gemm_k_block(k - ls)
                _nt_block(X, A, T, ls, ls + kb)
                for i in range(n):
                    for q in range(p):
                        C[i, q] = C[i, q] + T[i, q]
                ls += kb


@njit(**_JIT)
def mm_nn_row(w, A, n, r, out, ws):
    """Row ``r`` of :func:`mm_nn` for an ``n``-row ``W`` whose row ``r`` is ``w``.

    Gives bit for bit the row :func:`mm_nn` computes (the order depends on the shape and
    on the row's position), so a perturbed row can be recomputed alone.
    """
    m = A.shape[1]
    if n == 1 and m == 1:
        out[0] = ddot(w, A[:, 0].copy())
    elif m == 1:
        out[0] = gemv_dot(w, A[:, 0].copy(), gemv_kind(r, n))
    elif n == 1:
        gemv_rows(w, A, out)
    else:
        gemm_row(w, A, out, n % 2 == 1 and r == n - 1, ws)
