"""Large float64 products in OpenBLAS's summation order, on AVX-512 registers and threads.

NumPy's ``np.dot`` of two float64 matrices runs OpenBLAS's ``dgemm``. On the AVX-512
machine the project is measured on (AMD Zen 5) the OpenBLAS NumPy ships (0.3.31) picks
its Haswell kernel, of 4-lane vectors: half of the core's multiply-add width.
:func:`gemm_cols` computes the same products with 8-lane vectors and the same bits:

* every element is OpenBLAS's chain: ``fma`` over ``k`` in order from 0 within a k
  block (:func:`._cpu_blas.gemm_k_block`), the first block's chain stored, each later
  block's chain added to it;
* the last row of an odd number of rows goes through OpenBLAS's one-column order
  (:func:`._cpu_blas.gemm_row`, :func:`._cpu_blas._nt_tail`).

It is blocked as the usual packed GEMMs are (Goto, van de Geijn): per thread a range of
columns, per ``NC`` of them and per k block a packed panel of the right operand (in
``NR``-column strips, so a tile reads it front to back), and ``MR x NR`` register tiles
(:func:`_tile`, written as LLVM IR: 24 vector accumulators of 8 lanes on AVX-512). The
threads split the columns, so the bits do not depend on their number.

Only the NN, NT and TN layouts the layer kernels need are supported. Where the target
has no AVX-512 the tiles run 4 lanes (the same bits, slower than OpenBLAS there): the
layer wrappers use :func:`gemm_cols` only where :func:`gemm_lanes` is 8.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from . import _cpu_blas as blas
from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}

#: Rows of a register tile (values of the left operand broadcast per step).
MR = 8
#: Columns of a register tile (3 vectors of 8 lanes); the packed strips' width.
NR = 24
#: Columns of a packed panel: a k block of them (480 KB) stays in a 1 MB L2.
NC = 240


def _tile_codegen(context, builder, sig, args):
    """LLVM IR of :func:`_tile`."""
    lty, bty, oty = sig.args[0], sig.args[4], sig.args[7]
    L = context.make_array(lty)(context, builder, value=args[0])
    B = context.make_array(bty)(context, builder, value=args[4])
    O = context.make_array(oty)(context, builder, value=args[7])
    a_off, rs, cs, _, b_off, kb, _, i_v, j_v, add = args[1:]
    fty = context.get_value_type(lty.dtype)
    ity = a_off.type
    V = blas._vector_width(context)
    vt = ir.VectorType(fty, V)
    i32 = ir.IntType(32)
    fmav = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt] * 3),
                                          f"llvm.fma.v{V}f64")
    zero = ir.Constant(vt, [ir.Constant(fty, 0.0)] * V)
    rows = [builder.gep(L.data, [builder.add(a_off, builder.mul(ir.Constant(ity, r), rs))])
            for r in range(MR)]
    bbase = builder.gep(B.data, [b_off])
    ostride = cgutils.unpack_tuple(builder, O.shape, 2)[1]
    is_add = builder.icmp_signed("!=", add, ir.Constant(add.type, 0))
    # registers: 8 rows x 3 vectors of 8 lanes (24 of 32 zmm); with 4 lanes (16 ymm)
    # the tile goes as four 4-row, 3-vector parts
    rg, cg = (8, 3) if V == 8 else (4, 3)

    def c(v):
        return ir.Constant(ity, v)

    def splat(x):
        v = builder.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(i32, 0))
        return builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined),
                                      ir.Constant(ir.VectorType(i32, V), [0] * V))

    def vptr(base, off):
        return builder.bitcast(builder.gep(base, [off]), vt.as_pointer())

    def part(r0, u0):
        def step(t, acc):
            bp = builder.gep(bbase, [builder.mul(t, c(NR))])
            bv = [builder.load(vptr(bp, c(V * (u0 + u))), align=8) for u in range(cg)]
            tc = builder.mul(t, cs)
            for r in range(rg):
                a = splat(builder.load(builder.gep(rows[r0 + r], [tc])))
                for u in range(cg):
                    acc[r * cg + u] = builder.call(fmav, [a, bv[u], acc[r * cg + u]])
            return acc

        _, acc = blas._ir_for(builder, c(0), kb, 1, [zero] * (rg * cg), step, "gemm")
        for r in range(rg):
            orow = builder.gep(O.data, [builder.add(
                builder.mul(builder.add(i_v, c(r0 + r)), ostride), j_v)])
            for u in range(cg):
                p = vptr(orow, c(V * (u0 + u)))
                chain = acc[r * cg + u]
                new = builder.select(is_add, builder.fadd(builder.load(p, align=8), chain),
                                     chain)
                builder.store(new, p, align=8)

    for r0 in range(0, MR, rg):
        for u0 in range(0, NR // V, cg):
            part(r0, u0)
    return context.get_dummy_value()


@intrinsic
def _tile(typingctx, L, a_off, rs, cs, Bp, b_off, kb, O, i, j, add):
    """Rows ``i .. i+MR-1``, columns ``j .. j+NR-1`` of ``O``: per element the fma chain
    over ``t < kb`` of ``L.flat[a_off + r*rs + t*cs] * Bp[b_off + t*NR + c]`` from 0,
    stored (``add`` 0) or added to ``O`` (``O + chain``). Nothing is checked."""
    ok = (isinstance(L, types.Array) and L.dtype == types.float64 and L.layout == "C"
          and isinstance(Bp, types.Array) and Bp.ndim == 1 and Bp.layout == "C"
          and Bp.dtype == types.float64 and isinstance(O, types.Array) and O.ndim == 2
          and O.layout == "C" and O.dtype == types.float64 and O.mutable)
    if not ok:
        return None
    n = types.intp
    return types.none(L, n, n, n, Bp, n, n, O, n, n, n), _tile_codegen


@intrinsic
def _lanes(typingctx):
    """The tiles' vector width on this target (8 with AVX-512, else 4)."""
    def codegen(context, builder, signature, args):
        return ir.Constant(context.get_value_type(types.intp), blas._vector_width(context))

    return types.intp(), codegen


if config.DISABLE_JIT:
    def _tile(L, a_off, rs, cs, Bp, b_off, kb, O, i, j, add):  # noqa: F811
        """The tile's chains (pure-Python fallback: the same operations, scalar)."""
        flat = L.reshape(-1)
        for r in range(MR):
            for q in range(NR):
                acc = 0.0
                for t in range(kb):
                    acc = blas.fma(flat[a_off + r * rs + t * cs], Bp[b_off + t * NR + q],
                                   acc)
                O[i + r, j + q] = O[i + r, j + q] + acc if add else acc

    def _lanes():  # noqa: F811
        """4 (pure-Python fallback)."""
        return 4


@njit(**_JIT)
def gemm_lanes():
    """The vector width :func:`gemm_cols`'s tiles compile to here: 8 where the target has
    AVX-512 (where :func:`gemm_cols` is faster than OpenBLAS), else 4."""
    return _lanes()


@njit(**_JIT)
def _pack(R, rtrans, ls, kb, j0, j1, Bp):
    """Rows ``ls .. ls+kb-1``, columns ``j0 .. j1-1`` of the right operand (``R``, or
    ``R.T`` with ``rtrans``) into ``Bp`` in ``NR``-column strips (``kb x NR`` each, row
    by row), the last strip padded with zeros. ``R`` is read along its rows."""
    nfull = (j1 - j0) // NR
    rest = (j1 - j0) - nfull * NR
    if rtrans:
        for q in range(j0, j1):
            s = (q - j0) // NR
            base = s * kb * NR + (q - j0 - s * NR)
            row = R[q]
            for t in range(kb):
                Bp[base + t * NR] = row[ls + t]
    else:
        for t in range(kb):
            row = R[ls + t]
            for s in range(nfull):
                base = s * kb * NR + t * NR
                js = j0 + s * NR
                for q in range(NR):
                    Bp[base + q] = row[js + q]
            base = nfull * kb * NR + t * NR
            js = j0 + nfull * NR
            for q in range(rest):
                Bp[base + q] = row[js + q]
    if rest:
        base = nfull * kb * NR
        for t in range(kb):
            for q in range(rest, NR):
                Bp[base + t * NR + q] = 0.0


@njit(nogil=True, **_JIT)
def gemm_cols(L, ltrans, R, rtrans, C, c0, c1):
    """Columns ``c0 .. c1-1`` of ``C = op(L) @ op(R)`` with NumPy's (OpenBLAS's) float64
    bits, but for the last row of an odd number of rows (:func:`gemm_last_row`).

    ``op(L)`` is ``L.T`` with ``ltrans``, ``op(R)`` is ``R.T`` with ``rtrans``, not both
    (NN: ``W @ A``, NT: ``dZ @ A.T``, TN: ``W.T @ dZ``). All three arrays are C-contiguous
    float64 of matching shapes, ``C`` at least 2 x 2 and not overlapping the others;
    nothing is checked (the layer wrappers of :mod:`.cpu` validate). Releases the GIL:
    threads may take disjoint column ranges (the bits do not depend on the split).
    """
    n, m = C.shape
    ne = n - n % 2
    k = R.shape[1] if rtrans else R.shape[0]
    ne8 = ne - ne % MR
    Bp = np.empty(blas.GEMM_Q * (min(NC, m) + NR))
    To = np.empty((MR, NR))
    Ae = np.zeros(MR * blas.GEMM_Q)
    rs, cs = (1, n) if ltrans else (k, 1)
    for jc in range(c0, c1, NC):
        jc1 = min(c1, jc + NC)
        nstrip = (jc1 - jc + NR - 1) // NR
        ls = 0
        while ls < k:
            kb = blas.gemm_k_block(k - ls)
            add = 1 if ls > 0 else 0
            _pack(R, rtrans, ls, kb, jc, jc1, Bp)
            if ne8 < ne:
                # the rows past the last whole tile, packed t-major with zero rows
                for t in range(kb):
                    for r in range(MR):
                        v = 0.0
                        if ne8 + r < ne:
                            v = L[ls + t, ne8 + r] if ltrans else L[ne8 + r, ls + t]
                        Ae[t * MR + r] = v
            for i in range(0, ne, MR):
                edge = i == ne8
                for s in range(nstrip):
                    js = jc + s * NR
                    w = min(NR, jc1 - js)
                    if not edge and w == NR:
                        _tile(L, ls * cs + i * rs, rs, cs, Bp, s * kb * NR, kb, C, i, js,
                              add)
                        continue
                    if edge:
                        _tile(Ae, 0, 1, MR, Bp, s * kb * NR, kb, To, 0, 0, 0)
                    else:
                        _tile(L, ls * cs + i * rs, rs, cs, Bp, s * kb * NR, kb, To, 0, 0, 0)
                    for r in range(min(MR, ne - i)):
                        for q in range(w):
                            v = To[r, q]
                            C[i + r, js + q] = C[i + r, js + q] + v if add else v
            ls += kb


@njit(**_JIT)
def gemm_last_row(L, ltrans, R, rtrans, C):
    """The last row of :func:`gemm_cols`'s product when ``C`` has an odd number of rows:
    OpenBLAS's one-column kernel (:func:`._cpu_blas.gemm_row`,
    :func:`._cpu_blas._nt_tail`)."""
    n, m = C.shape
    if rtrans:
        x = L[n - 1]
        k = x.shape[0]
        T = np.empty(m)
        ls = 0
        while ls < k:
            kb = blas.gemm_k_block(k - ls)
            blas._nt_tail(x, R, C[n - 1] if ls == 0 else T, ls, ls + kb, True)
            if ls > 0:
                for q in range(m):
                    C[n - 1, q] = C[n - 1, q] + T[q]
            ls += kb
    else:
        w = L[:, n - 1].copy() if ltrans else L[n - 1]
        blas.gemm_row(w, R, C[n - 1], True, np.empty(5 * m))
