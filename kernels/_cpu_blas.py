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

Numba compiles a loop that carries several independent accumulators (the 8 of a
pairwise leaf, the lanes of a dgemv kernel, a tile of dgemm chains) as scalar code. The
hottest of those loops are therefore written as LLVM IR (``@intrinsic``: ``_pw8``,
``_dot_*``, ``_lanes_*``, ``_nt_v*``) with one vector lane per accumulator: every lane
does exactly the scalar operations in the scalar order, so the bits do not change.
Under ``NUMBA_DISABLE_JIT`` each has a pure-Python twin doing the same operations.
"""

import threading
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}

#: OpenBLAS's GEMM_Q (the k block) for double precision on Haswell/Zen.
GEMM_Q = 256
#: OpenBLAS's NBMAX in dgemv_t (the block of the dot-product length).
GEMV_NB = 2048
#: Columns of :func:`rows_chain_from`'s blocks (a multiple of its 12-column tiles).
FROM_COLS = 48
#: Rows of ``A`` that :func:`_nt_block` takes through all its row tiles at a time (so
#: those rows stay in L1: 16 rows of a 256-column k block are 32 KB).
NT_COLS = 16


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


def _ir_for(builder, lo, hi, step, init, body_fn, tag):
    """Emit ``for v in range(lo, hi, step)`` (while ``v + step <= hi``) carrying the LLVM
    values ``init``: ``body_fn(v, carried)`` emits the body and returns the next values.
    Returns the final ``v`` and the carried values after the loop."""
    ity = lo.type
    entry = builder.basic_block
    head = builder.append_basic_block(tag + ".head")
    body = builder.append_basic_block(tag + ".body")
    done = builder.append_basic_block(tag + ".done")
    builder.branch(head)
    builder.position_at_end(head)
    v = builder.phi(ity)
    carried = [builder.phi(x.type) for x in init]
    more = builder.icmp_signed("<", builder.add(v, ir.Constant(ity, step - 1)), hi)
    builder.cbranch(more, body, done)
    builder.position_at_end(body)
    nxt = body_fn(v, list(carried))
    v1 = builder.add(v, ir.Constant(ity, step))
    end = builder.basic_block
    builder.branch(head)
    v.add_incoming(lo, entry)
    v.add_incoming(v1, end)
    for x, x0, x1 in zip(carried, init, nxt):
        x.add_incoming(x0, entry)
        x.add_incoming(x1, end)
    builder.position_at_end(done)
    return v, carried


def _pw8_codegen(context, builder, arytys, arys, n8_v):
    """LLVM IR of :func:`_pw8` over several rows: one pair of vector accumulators each."""
    fty = context.get_value_type(arytys[0].dtype)
    vty = ir.VectorType(fty, 4)
    ity = n8_v.type
    c4 = ir.Constant(ity, 4)
    c8 = ir.Constant(ity, 8)
    bases = [context.make_array(t)(context, builder, value=v).data for t, v in zip(arytys, arys)]

    def vload(base, idx):
        ptr = builder.bitcast(builder.gep(base, [idx]), vty.as_pointer())
        return builder.load(ptr, align=1)

    init = []
    for base in bases:
        init += [vload(base, ir.Constant(ity, 0)), vload(base, c4)]

    def step(u, acc):
        k = builder.mul(u, c8)
        k4 = builder.add(k, c4)
        nxt = []
        for r, base in enumerate(bases):
            nxt += [builder.fadd(acc[2 * r], vload(base, k)),
                    builder.fadd(acc[2 * r + 1], vload(base, k4))]
        return nxt

    _, acc = _ir_for(builder, ir.Constant(ity, 1), n8_v, 1, init, step, "pw8")
    add = builder.fadd
    out = []
    for r in range(len(bases)):
        x = [builder.extract_element(acc[2 * r + h], ir.Constant(ir.IntType(32), t))
             for h in range(2) for t in range(4)]
        out.append(add(add(add(x[0], x[1]), add(x[2], x[3])),
                       add(add(x[4], x[5]), add(x[6], x[7]))))
    return out


def _pw8_row_type(a):
    return (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and isinstance(a.dtype, types.Float))


@intrinsic
def _pw8(typingctx, a, n8):
    """The 8-accumulator loop of NumPy's pairwise leaf on ``a[:8*n8]``, ``n8 >= 1``.

    Accumulator ``t`` is ``a[t] + a[8+t] + ...`` in that order; returns
    ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``. Written as two 4-lane vector
    adds per step (Numba compiles the scalar loop as scalar adds); lane ``t`` is
    accumulator ``t``, so the sum is NumPy's. ``a`` is 1-D C-contiguous with at least
    ``8 * n8`` elements (the caller's guarantee: nothing is checked here).
    """
    if not _pw8_row_type(a):
        return None

    def codegen(context, builder, signature, args):
        return _pw8_codegen(context, builder, signature.args[:1], args[:1], args[1])[0]

    return a.dtype(a, types.intp), codegen


@intrinsic
def _pw8x4(typingctx, a, b, c, d, n8):
    """:func:`_pw8` of four rows of one type at once (a tuple of four sums).

    The rows' chains are independent, so the adder is kept busy where one row alone
    waits on its add latency.
    """
    if not (_pw8_row_type(a) and a == b and b == c and c == d):
        return None

    def codegen(context, builder, signature, args):
        sums = _pw8_codegen(context, builder, signature.args[:4], args[:4], args[4])
        return context.make_tuple(builder, signature.return_type, sums)

    return types.UniTuple(a.dtype, 4)(a, b, c, d, types.intp), codegen


def _dot_codegen(context, builder, arytys, arys, n_v, width, fused, combine=True):
    """LLVM IR of dgemv_t's lane loops: per row ``acc = fma(a, x, acc)`` (``fused``) or
    ``acc + a * x`` on ``width``-lane vectors over ``n_v`` elements (a multiple of
    ``width``), lanes combined ``(l0 + l2) + (l1 + l3)`` (``l0 + l1`` for 2 lanes).
    The last of ``arys`` is ``x``, the others the rows. Without ``combine``, every
    row's lanes are returned, in order."""
    fty = context.get_value_type(arytys[0].dtype)
    vty = ir.VectorType(fty, width)
    ity = n_v.type
    bases = [context.make_array(t)(context, builder, value=v).data for t, v in zip(arytys, arys)]
    xbase, rows = bases[-1], bases[:-1]

    def vload(base, idx):
        ptr = builder.bitcast(builder.gep(base, [idx]), vty.as_pointer())
        return builder.load(ptr, align=1)

    if fused:
        name = "llvm.fma.v%d%s" % (width, "f64" if fty == ir.DoubleType() else "f32")
        vfma = cgutils.get_or_insert_function(builder.module,
                                              ir.FunctionType(vty, [vty, vty, vty]), name)
    zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * width)

    def step(i, acc):
        xv = vload(xbase, i)
        nxt = []
        for a, base in zip(acc, rows):
            av = vload(base, i)
            nxt.append(builder.call(vfma, [av, xv, a]) if fused
                       else builder.fadd(a, builder.fmul(av, xv)))
        return nxt

    _, acc = _ir_for(builder, ir.Constant(ity, 0), n_v, width, [zero] * len(rows), step, "dot")
    out = []
    for a in acc:
        c = [builder.extract_element(a, ir.Constant(ir.IntType(32), t)) for t in range(width)]
        if not combine:
            out += c
        elif width == 4:
            out.append(builder.fadd(builder.fadd(c[0], c[2]), builder.fadd(c[1], c[3])))
        else:
            out.append(builder.fadd(c[0], c[1]))
    return out


def _dot_typer(arrs, n, width, fused, combine=True):
    """Signature and codegen of a :func:`_dot_codegen` intrinsic on ``arrs`` (rows, x)."""
    if not (all(_pw8_row_type(t) and t.dtype == arrs[0].dtype for t in arrs)
            and isinstance(n, types.Integer)):
        return None
    n_out = (len(arrs) - 1) * (1 if combine else width)
    ret = arrs[0].dtype if n_out == 1 else types.UniTuple(arrs[0].dtype, n_out)

    def codegen(context, builder, signature, args):
        sums = _dot_codegen(context, builder, signature.args[:-1], args[:-1], args[-1],
                            width, fused, combine)
        if n_out == 1:
            return sums[0]
        return context.make_tuple(builder, signature.return_type, sums)

    return ret(*arrs, types.intp), codegen


@intrinsic
def _dot_f4(typingctx, a, x, n):
    """``a[:n] . x[:n]`` as dgemv_t's 4-row kernel: 4 fma lanes (``n % 4 == 0``)."""
    return _dot_typer((a, x), n, 4, True)


@intrinsic
def _dot_m2(typingctx, a, x, n):
    """``a[:n] . x[:n]`` as dgemv_t's 2-row kernel: 2 mul+add lanes."""
    return _dot_typer((a, x), n, 2, False)


@intrinsic
def _dot_m2x2(typingctx, a, b, x, n):
    """:func:`_dot_m2` of two rows at once (their chains overlap): a 2-tuple."""
    return _dot_typer((a, b, x), n, 2, False)


@intrinsic
def _dot_m4(typingctx, a, x, n):
    """``a[:n] . x[:n]`` as dgemv_t's 1-row kernel: 4 mul+add lanes."""
    return _dot_typer((a, x), n, 4, False)


@intrinsic
def _lanes_f4x4(typingctx, a, b, c, d, x, n):
    """The 4 fma lanes of :func:`_dot_f4` for four rows, uncombined (a 16-tuple, row by
    row)."""
    return _dot_typer((a, b, c, d, x), n, 4, True, False)


@intrinsic
def _dot_f4x4(typingctx, a, b, c, d, x, n):
    """:func:`_dot_f4` of four rows at once (their chains overlap): a 4-tuple."""
    return _dot_typer((a, b, c, d, x), n, 4, True)


def _nt_vec_codegen(context, builder, sig, args, blocks, Q, tail=False):
    """LLVM IR of the vector NT tiles: rows ``i ..`` in ``blocks`` (widths 4 or 2) by
    ``Q`` columns ``q ..`` of independent chains over ``j`` in ``[ls, le)``.

    A block's rows are loaded 4 values of ``j`` at a time and transposed in registers,
    so one vector holds the block's ``X[i, j]`` and each chain is a lane: per output
    ``fma(X[i, j], A[q, j], c)`` for ``j`` in order, as OpenBLAS's dgemm kernel does.
    With ``tail``, row ``tr`` (the last argument) gets the same ``Q`` columns as plain
    scalar chains in the same loop: OpenBLAS's one-column kernel sums its last
    ``p % 4`` columns that way, and alone those chains wait on their fma latency.
    """
    xty, aty, tty = sig.args[:3]
    X, A, T = (context.make_array(t)(context, builder, value=v)
               for t, v in zip((xty, aty, tty), args[:3]))
    i_v, q_v, ls_v, le_v = args[3:7]
    fty = context.get_value_type(xty.dtype)
    fname = "f64" if fty == ir.DoubleType() else "f32"
    ity = i_v.type
    i32 = ir.IntType(32)
    v4 = ir.VectorType(fty, 4)
    vt = {w: ir.VectorType(fty, w) for w in set(blocks) | {4}}
    vfma = {w: cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vt[w], [vt[w]] * 3), "llvm.fma.v%d%s" % (w, fname))
        for w in vt}
    kx = cgutils.unpack_tuple(builder, X.shape, 2)[1]
    ka = cgutils.unpack_tuple(builder, A.shape, 2)[1]
    kt = cgutils.unpack_tuple(builder, T.shape, 2)[1]

    def c(v):
        return ir.Constant(ity, v)

    def mask(m):
        return ir.Constant(ir.VectorType(i32, len(m)), m)

    starts = [sum(blocks[:b]) for b in range(len(blocks))]
    n_rows = sum(blocks)
    xrows = [builder.gep(X.data, [builder.mul(builder.add(i_v, c(r)), kx)])
             for r in range(n_rows)]
    arows = [builder.gep(A.data, [builder.mul(builder.add(q_v, c(u)), ka)]) for u in range(Q)]

    def vload(base, idx):
        ptr = builder.bitcast(builder.gep(base, [idx]), v4.as_pointer())
        return builder.load(ptr, align=1)

    def splat(x, w):
        v = builder.insert_element(ir.Constant(vt[w], ir.Undefined), x, ir.Constant(i32, 0))
        return builder.shuffle_vector(v, ir.Constant(vt[w], ir.Undefined), mask([0] * w))

    n_acc = len(blocks) * Q
    if tail:
        xtail = builder.gep(X.data, [builder.mul(args[7], kx)])
    n_all = n_acc + (Q if tail else 0)
    span = builder.sub(le_v, ls_v)
    j4 = builder.add(ls_v, builder.mul(builder.sdiv(span, c(4)), c(4)))

    def body4(j, acc):
        cols = []                # cols[b][t]: the block's X[i.., j + t]
        for b, w in enumerate(blocks):
            r0 = starts[b]
            v = [vload(xrows[r0 + t], j) for t in range(w)]
            if w == 4:
                lo01 = builder.shuffle_vector(v[0], v[1], mask([0, 4, 2, 6]))
                hi01 = builder.shuffle_vector(v[0], v[1], mask([1, 5, 3, 7]))
                lo23 = builder.shuffle_vector(v[2], v[3], mask([0, 4, 2, 6]))
                hi23 = builder.shuffle_vector(v[2], v[3], mask([1, 5, 3, 7]))
                cols.append([builder.shuffle_vector(lo01, lo23, mask([0, 1, 4, 5])),
                             builder.shuffle_vector(hi01, hi23, mask([0, 1, 4, 5])),
                             builder.shuffle_vector(lo01, lo23, mask([2, 3, 6, 7])),
                             builder.shuffle_vector(hi01, hi23, mask([2, 3, 6, 7]))])
            else:
                cols.append([builder.shuffle_vector(v[0], v[1], mask([t, 4 + t]))
                             for t in range(4)])
        for t in range(4):
            jt = builder.add(j, c(t))
            for u in range(Q):
                a = builder.load(builder.gep(arows[u], [jt]))
                sp = {w: splat(a, w) for w in set(blocks)}
                for b, w in enumerate(blocks):
                    k = b * Q + u
                    acc[k] = builder.call(vfma[w], [cols[b][t], sp[w], acc[k]])
                if tail:
                    xt = builder.load(builder.gep(xtail, [jt]))
                    acc[n_acc + u] = builder.call(sfma, [xt, a, acc[n_acc + u]])
        return acc

    def body1(j, acc):
        cols = []
        for b, w in enumerate(blocks):
            col = ir.Constant(vt[w], ir.Undefined)
            for t in range(w):
                col = builder.insert_element(
                    col, builder.load(builder.gep(xrows[starts[b] + t], [j])),
                    ir.Constant(i32, t))
            cols.append(col)
        for u in range(Q):
            a = builder.load(builder.gep(arows[u], [j]))
            for b, w in enumerate(blocks):
                k = b * Q + u
                acc[k] = builder.call(vfma[w], [cols[b], splat(a, w), acc[k]])
            if tail:
                xt = builder.load(builder.gep(xtail, [j]))
                acc[n_acc + u] = builder.call(sfma, [xt, a, acc[n_acc + u]])
        return acc

    zeros = [ir.Constant(vt[blocks[k // Q]], [ir.Constant(fty, 0.0)] * blocks[k // Q])
             for k in range(n_acc)] + [ir.Constant(fty, 0.0)] * (n_all - n_acc)
    sfma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(fty, [fty] * 3),
                                          "llvm.fma." + fname)
    _, acc = _ir_for(builder, ls_v, j4, 4, zeros, body4, "ntv4")
    _, acc = _ir_for(builder, j4, le_v, 1, acc, body1, "ntv1")
    for b, w in enumerate(blocks):
        for t in range(w):
            trow = builder.gep(T.data, [builder.mul(builder.add(i_v, c(starts[b] + t)), kt)])
            for u in range(Q):
                val = builder.extract_element(acc[b * Q + u], ir.Constant(i32, t))
                builder.store(val, builder.gep(trow, [builder.add(q_v, c(u))]))
    if tail:
        ttrow = builder.gep(T.data, [builder.mul(args[7], kt)])
        for u in range(Q):
            builder.store(acc[n_acc + u], builder.gep(ttrow, [builder.add(q_v, c(u))]))
    return context.get_dummy_value()


def _nt_vec_typer(X, A, T, blocks, Q, tail=False):
    ok = all(isinstance(t, types.Array) and t.ndim == 2 and t.layout == "C"
             and t.dtype == X.dtype and isinstance(t.dtype, types.Float) for t in (X, A, T))
    if not ok or not T.mutable:
        return None

    def codegen(context, builder, signature, args):
        return _nt_vec_codegen(context, builder, signature, args, blocks, Q, tail)

    n_idx = 5 if tail else 4
    return types.none(X, A, T, *([types.intp] * n_idx)), codegen


def _make_nt_vec(blocks, Q, tail=False):
    if tail:
        def impl(typingctx, X, A, T, i, q, ls, le, tr):
            return _nt_vec_typer(X, A, T, blocks, Q, True)
    else:
        def impl(typingctx, X, A, T, i, q, ls, le):
            return _nt_vec_typer(X, A, T, blocks, Q)
    rows = sum(blocks)
    impl.__name__ = impl.__qualname__ = f"_nt_vec_{rows}x{Q}{'t' if tail else ''}"
    impl.__doc__ = (f"``T[i:i+{rows}, q:q+{Q}] = X[i:i+{rows}, ls:le] @ A[q:q+{Q}, ls:le].T``"
                    " as independent chains over ``j`` (see :func:`_nt_vec_codegen`)"
                    + ("; row ``tr`` too, as plain chains." if tail else "."))
    return intrinsic(impl)


def _vector_width(context):
    """Lanes of the NN tiles' vectors: 8 where the target has AVX-512 (32 vector
    registers of 8 doubles), else 4. Numba's cache keys compiled code by the target's
    features, so code of one width is never loaded on a machine of the other."""
    feats = getattr(context.codegen(), "_tm_features", "") or ""
    return 8 if "+avx512f" in feats.split(",") else 4


def _nn_vec_codegen(context, builder, sig, args, R, trans, resume=False, src=False):
    """LLVM IR of the vector NN tiles: rows ``i .. i+R-1`` of ``C = W @ A`` (``W.T @ A``
    with ``trans``), each element the fma chain over ``l`` from 0 in order (as
    :func:`_rows_chain`), ``max(2, 8 // R)`` vectors of ``V`` lanes (3 on 4 rows with
    ``src``, then 2) a step, then 8 and 4 columns, then one: the rows' chains in
    registers (8 or 12 vector chains in flight). ``V`` is 8 where the target has
    AVX-512, else 4 (:func:`_vector_width`).

    With ``resume`` (not ``trans``; two more arguments ``l0, nc``) every chain starts
    from the value in ``C`` and runs over ``l = l0 .. W.shape[1]-1``, on the first ``nc``
    columns; ``A`` may have more rows and ``A``, ``C`` more columns (their row strides).
    With ``src`` (arguments ``W, A, C, I, b, wo, yo, i, j0, l0, nc, relu, out``) the
    chains start from ``I`` instead, on the columns ``j0 .. nc-1``, and, when ``relu``
    is not 0, ``C`` gets ``max(chain + b[row], 0)`` as ``0.0 if v < 0.0 else v`` (NaN
    and -0.0 kept) instead of the chain. When ``out`` is not 0 (4 rows only), the 4
    values of a column then feed a one-unit output layer as its ``dgemv_n`` adds them
    (:func:`._cpu_mlp._layer_cols`): ``yo[j] += fma(w2, x2, w0 * x0) + fma(w3, x3, w1 *
    x1)``, ``w_r = wo[i + r]``.
    """
    wty, aty, cty = sig.args[:3]
    W, A, C = (context.make_array(t)(context, builder, value=v)
               for t, v in zip((wty, aty, cty), args[:3]))
    if src:
        Ini, bias, wout, yout = (context.make_array(t)(context, builder, value=v)
                                 for t, v in zip(sig.args[3:7], args[3:7]))
        j0 = args[8]
        args = args[:3] + args[7:8] + args[9:]
    i_v = args[3]
    fty = context.get_value_type(wty.dtype)
    fname = "f64" if fty == ir.DoubleType() else "f32"
    ity = i_v.type
    i32 = ir.IntType(32)
    V = _vector_width(context)
    vt = {w: ir.VectorType(fty, w) for w in {V, 4}}
    vt[1] = fty
    fmas = {w: cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vt[w], [vt[w]] * 3),
                f"llvm.fma.v{w}{fname}" if w > 1 else "llvm.fma." + fname) for w in vt}
    kw = cgutils.unpack_tuple(builder, W.shape, 2)[1]
    k, m = cgutils.unpack_tuple(builder, A.shape, 2)
    kc = cgutils.unpack_tuple(builder, C.shape, 2)[1]
    astride, l0, ncols, nv_main = m, ir.Constant(ity, 0), m, max(2, 8 // R)
    if resume:
        k, l0, ncols = kw, args[4], args[5]
    if src:
        ki = cgutils.unpack_tuple(builder, Ini.shape, 2)[1]
        relu = builder.icmp_signed("!=", args[6], ir.Constant(args[6].type, 0))
        to_out = builder.icmp_signed("!=", args[7], ir.Constant(args[7].type, 0))

    def c(v):
        return ir.Constant(ity, v)

    def w_at(r, l):
        if trans:
            idx = builder.add(builder.mul(l, kw), builder.add(i_v, c(r)))
        else:
            idx = builder.add(builder.mul(builder.add(i_v, c(r)), kw), l)
        return builder.load(builder.gep(W.data, [idx]))

    def splat(x, width):
        if width == 1:
            return x
        v = builder.insert_element(ir.Constant(vt[width], ir.Undefined), x,
                                   ir.Constant(i32, 0))
        return builder.shuffle_vector(v, ir.Constant(vt[width], ir.Undefined),
                                      ir.Constant(ir.VectorType(i32, width), [0] * width))

    def load(base, idx, width):
        ptr = builder.gep(base, [idx])
        if width == 1:
            return builder.load(ptr)
        return builder.load(builder.bitcast(ptr, vt[width].as_pointer()), align=1)

    def columns(j, nv, width):
        """Rows' chains for columns ``j .. j + nv*width - 1``, stored into ``C``."""
        zero = (ir.Constant(vt[width], [ir.Constant(fty, 0.0)] * width) if width > 1
                else ir.Constant(fty, 0.0))
        al = 1 if width > 1 else None

        def step(l, acc):
            arow = builder.mul(l, astride)
            av = [load(A.data, builder.add(arow, builder.add(j, c(width * t))), width)
                  for t in range(nv)]
            for r in range(R):
                w = splat(w_at(r, l), width)
                for t in range(nv):
                    acc[r * nv + t] = builder.call(fmas[width], [w, av[t], acc[r * nv + t]])
            return acc

        def c_ptr(r, t, arr=C, stride=kc):
            crow = builder.mul(builder.add(i_v, c(r)), stride)
            ptr = builder.gep(arr.data, [builder.add(crow, builder.add(j, c(width * t)))])
            return builder.bitcast(ptr, vt[width].as_pointer()) if width > 1 else ptr

        if src:
            init = [builder.load(c_ptr(r, t, Ini, ki), align=al)
                    for r in range(R) for t in range(nv)]
        elif resume:
            init = [builder.load(c_ptr(r, t), align=al)
                    for r in range(R) for t in range(nv)]
        else:
            init = [zero] * (R * nv)
        _, acc = _ir_for(builder, l0, k, 1, init, step, "nnl")
        for r in range(R):
            if src:
                b = splat(builder.load(builder.gep(bias.data, [builder.add(i_v, c(r))])),
                          width)
            for t in range(nv):
                out = acc[r * nv + t]
                if src:
                    v = builder.fadd(out, b)
                    v = builder.select(builder.fcmp_ordered("<", v, zero), zero, v)
                    out = builder.select(relu, v, out)
                    acc[r * nv + t] = out
                builder.store(out, c_ptr(r, t), align=al)
        if src and R == 4:
            with builder.if_then(to_out):
                w = [splat(builder.load(builder.gep(wout.data, [builder.add(i_v, c(r))])),
                           width) for r in range(4)]
                for t in range(nv):
                    x = [acc[r * nv + t] for r in range(4)]
                    seg = builder.fadd(
                        builder.call(fmas[width], [w[2], x[2], builder.fmul(w[0], x[0])]),
                        builder.call(fmas[width], [w[3], x[3], builder.fmul(w[1], x[1])]))
                    ptr = builder.gep(yout.data, [builder.add(j, c(width * t))])
                    if width > 1:
                        ptr = builder.bitcast(ptr, vt[width].as_pointer())
                    builder.store(builder.fadd(builder.load(ptr, align=al), seg), ptr,
                                  align=al)

    def block(nv, width):
        def body(j, carried):
            columns(j, nv, width)
            return []
        return body

    if src and R == 4:
        nv_main = 3
    j_end, _ = _ir_for(builder, j0 if src else c(0), ncols, V * nv_main, [],
                       block(nv_main, V), "nn8")
    if nv_main == 3:
        # 2V left: two vectors a row still keep 8 chains in flight
        j_end, _ = _ir_for(builder, j_end, ncols, 2 * V, [], block(2, V), "nn8t")
    if V == 8:
        j_end, _ = _ir_for(builder, j_end, ncols, 8, [], block(1, 8), "nn8v")
    j_end, _ = _ir_for(builder, j_end, ncols, 4, [], block(1, 4), "nn4")
    _ir_for(builder, j_end, ncols, 1, [], block(1, 1), "nn1")
    return context.get_dummy_value()


def _make_nn_vec(R, trans, resume=False, src=False):
    def typer(W, A, C, *more):
        ok = all(isinstance(t, types.Array) and t.ndim == 2 and t.layout == "C"
                 and t.dtype == W.dtype and isinstance(t.dtype, types.Float)
                 for t in (W, A, C) + more[:1])
        if src:
            ok = ok and all(isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C"
                            and t.dtype == W.dtype for t in more[1:4]) and more[3].mutable
        if not ok or not C.mutable:
            return None

        def codegen(context, builder, signature, args):
            return _nn_vec_codegen(context, builder, signature, args, R, trans, resume, src)

        nint = 6 if src else 3 if resume else 1
        return types.none(W, A, C, *more, *([types.intp] * nint)), codegen

    if src:
        def impl(typingctx, W, A, C, Ini, b, wo, yo, i, j0, l0, nc, relu, out):
            return typer(W, A, C, Ini, b, wo, yo)
    elif resume:
        def impl(typingctx, W, A, C, i, l0, nc):
            return typer(W, A, C)
    else:
        def impl(typingctx, W, A, C, i):
            return typer(W, A, C)
    what = "W.T" if trans else "W"
    impl.__name__ = impl.__qualname__ = (f"_nn_v{R}{'t' if trans else ''}"
                                         f"{'_resume' if resume else ''}"
                                         f"{'_from' if src else ''}")
    impl.__doc__ = (f"Rows ``i .. i+{R - 1}`` of ``C = {what} @ A`` as fma chains over ``l``"
                    + (", resumed from ``C`` at ``l0`` on ``nc`` columns"
                       if resume and not src else "")
                    + (", resumed from ``I`` at ``l0`` on columns ``j0 .. nc-1``, then "
                       "ReLU of the chain plus ``b`` if ``relu``, and with ``out`` (4 "
                       "rows) ``yo`` plus the rows' dgemv_n segment with weights ``wo``"
                       if src else "")
                    + " (see :func:`_nn_vec_codegen`).")
    return intrinsic(impl)


def _tail_vec_codegen(context, builder, sig, args):
    """LLVM IR of :func:`_tail_v`: OpenBLAS's one-column kernel on 8 columns a step (the
    last 4 of ``m4`` on 4), one vector lane per column."""
    wty, bty, rty = sig.args[:3]
    w, B, r = (context.make_array(t)(context, builder, value=v)
               for t, v in zip((wty, bty, rty), args[:3]))
    m4_v = args[3]
    fty = context.get_value_type(wty.dtype)
    fname = "f64" if fty == ir.DoubleType() else "f32"
    ity = m4_v.type
    i32 = ir.IntType(32)
    k, m = cgutils.unpack_tuple(builder, B.shape, 2)

    def c(v):
        return ir.Constant(ity, v)

    kk = builder.mul(builder.sdiv(k, c(8)), c(8))

    def column_block(width):
        vty = ir.VectorType(fty, width)
        vfma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{width}{fname}")
        zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * width)

        def term(l, j):
            wl = builder.load(builder.gep(w.data, [l]))
            sp = builder.insert_element(ir.Constant(vty, ir.Undefined), wl,
                                        ir.Constant(i32, 0))
            sp = builder.shuffle_vector(sp, ir.Constant(vty, ir.Undefined),
                                        ir.Constant(ir.VectorType(i32, width), [0] * width))
            ptr = builder.gep(B.data, [builder.add(builder.mul(l, m), j)])
            return sp, builder.load(builder.bitcast(ptr, vty.as_pointer()), align=1)

        def block(j, _):
            def unrolled(t, lanes):
                for h in range(2):                 # l = t + 4h + lane
                    for lane in range(4):
                        wv, bv = term(builder.add(t, c(4 * h + lane)), j)
                        lanes[lane] = builder.call(vfma, [wv, bv, lanes[lane]])
                return lanes

            _, lanes = _ir_for(builder, c(0), kk, 8, [zero] * 4, unrolled, "tail8")

            def rest(l, acc):
                wv, bv = term(l, j)
                return [builder.call(vfma, [wv, bv, acc[0]])]

            _, (l0,) = _ir_for(builder, kk, k, 1, [lanes[0]], rest, "tail1")
            out = builder.fadd(builder.fadd(l0, lanes[1]), builder.fadd(lanes[2], lanes[3]))
            builder.store(out, builder.bitcast(builder.gep(r.data, [j]), vty.as_pointer()),
                          align=1)
            return []

        return block

    j8, _ = _ir_for(builder, c(0), m4_v, 8, [], column_block(8), "tailj8")
    _ir_for(builder, j8, m4_v, 4, [], column_block(4), "tailj4")
    return context.get_dummy_value()


@intrinsic
def _tail_v(typingctx, w, B, r, m4):
    """``r[:m4]`` of OpenBLAS's one-column kernel (see :func:`_tail_rows`), 8 columns a
    step in vector lanes (the last 4 of ``m4`` on 4): lane ``t`` of the unrolled-by-8
    part, the rest into lane 0, summed ``(l0 + l1) + (l2 + l3)``, per column as the
    scalar code does it."""
    ok = (_pw8_row_type(w) and _pw8_row_type(r) and isinstance(B, types.Array)
          and B.ndim == 2 and B.layout == "C" and B.dtype == w.dtype and r.dtype == w.dtype
          and r.mutable and isinstance(m4, types.Integer))
    if not ok:
        return None

    def codegen(context, builder, signature, args):
        return _tail_vec_codegen(context, builder, signature, args)

    return types.none(w, B, r, types.intp), codegen


@intrinsic
def borrow(typingctx, a):
    """A view of the array ``a`` that holds no reference to its memory.

    Numba counts references to an array's memory atomically, on every view made and
    dropped and on every array passed to a compiled call (about 10 ns a call with five
    arrays). Views of the result (slices, reshapes, arguments passed on) count nothing.
    The caller keeps ``a`` alive for as long as the result is used.
    """
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, signature, args):
        view = cgutils.create_struct_proxy(signature.return_type)(context, builder,
                                                                   value=args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return a(a), codegen


@intrinsic
def read_only(typingctx, a):
    """``a`` itself, typed as a read-only array (nothing is copied).

    A compiled callee is specialised on its arguments' writability: passing a read-only
    array lets a caller reuse the specialisation an exact-signature dispatcher already
    compiled (and cached) for read-only inputs, instead of compiling another.
    """
    if not isinstance(a, types.Array):
        return None
    ret = a.copy(readonly=True)

    def codegen(context, builder, signature, args):
        context.nrt.incref(builder, signature.args[0], args[0])
        return args[0]

    return ret(a), codegen


@intrinsic
def view2d(typingctx, a, start, n, k):
    """``a[start:start + n * k].reshape(n, k)`` of a C-contiguous 1-D ``a``, as a view
    that holds no reference (as :func:`borrow`), without NumPy's reshape checks.

    Nothing is checked: the caller guarantees ``0 <= start``, ``start + n * k <= a.size``
    and keeps ``a`` alive while the view is used.
    """
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and all(isinstance(x, types.Integer) for x in (start, n, k))):
        return None
    ret = types.Array(a.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        src = context.make_array(signature.args[0])(context, builder, args[0])
        lo, rows, cols = (context.cast(builder, v, t, types.intp)
                          for v, t in zip(args[1:], signature.args[1:]))
        out = context.make_array(ret)(context, builder)
        itemsize = src.itemsize
        populate_array(out, data=builder.gep(src.data, [lo]), shape=[rows, cols],
                       strides=[builder.mul(cols, itemsize), itemsize], itemsize=itemsize,
                       meminfo=None)
        return out._getvalue()

    return ret(a, start, n, k), codegen


@intrinsic
def fetch_add(typingctx, a, i, v):
    """``a[i] += v`` as one atomic step; returns the value before it. ``a``: a
    C-contiguous 1-D int64 array, ``i`` unchecked. Threads that share ``a`` take
    distinct values (a work counter)."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and a.dtype == types.int64 and a.mutable
            and isinstance(i, types.Integer) and isinstance(v, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", builder.gep(arr.data, [idx]), val, "seq_cst")

    return types.int64(a, i, v), codegen


class _VolatileLoad(ir.instructions.LoadInstr):
    """A ``load volatile`` (llvmlite's builder has no flag for it)."""

    def descr(self, buf):
        super().descr(buf)
        buf[-1] = buf[-1].replace("load ", "load volatile ", 1)


@intrinsic
def touch_rows(typingctx, a, l0, l1):
    """Read one value of every 64 bytes of rows ``l0 .. l1-1`` of the C-contiguous 2-D
    ``a`` (unchecked), front to back, so that those rows are in the cache before a tile
    loop walks them by columns. The loads are volatile (kept though unused) and
    independent of one another, so many are in flight at once.
    """
    if not (isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"
            and isinstance(l0, types.Integer) and isinstance(l1, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        lo, hi = (context.cast(builder, v, t, types.intp)
                  for v, t in zip(args[1:], signature.args[1:]))
        m = cgutils.unpack_tuple(builder, arr.shape, 2)[1]
        step = max(1, 64 // context.get_abi_sizeof(context.get_data_type(a.dtype)))

        def emit(i, carried):
            builder._insert(_VolatileLoad(builder.block, builder.gep(arr.data, [i])))
            return []

        _ir_for(builder, builder.mul(lo, m), builder.mul(hi, m), step, [], emit, "touch")
        return context.get_dummy_value()

    return types.none(a, l0, l1), codegen


@njit(**_JIT)
def keep_alive(*owners):
    """Nothing: a use of ``owners`` that keeps them alive up to this call, for the
    views :func:`borrow` made of them."""

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

    def borrow(a):  # noqa: F811
        """``a`` itself (pure-Python fallback: nothing is reference-counted here)."""
        return a

    def read_only(a):  # noqa: F811
        """``a`` itself (pure-Python fallback: nothing is typed here)."""
        return a

    def touch_rows(a, l0, l1):  # noqa: F811
        """Nothing (pure-Python fallback: there is no cache to warm)."""

    def view2d(a, start, n, k):  # noqa: F811
        """``a[start:start + n * k].reshape(n, k)`` (pure-Python fallback)."""
        return a[start:start + n * k].reshape(n, k)

    _fetch_lock = threading.Lock()

    def fetch_add(a, i, v):  # noqa: F811
        """``a[i] += v`` under a lock; the value before it (pure-Python fallback)."""
        with _fetch_lock:
            old = int(a[i])
            a[i] = old + v
        return old

    def _pw8(a, n8):  # noqa: F811
        """The 8-accumulator leaf loop in NumPy's order (pure-Python fallback)."""
        r = [a[t] for t in range(8)]
        for u in range(1, n8):
            for t in range(8):
                r[t] = r[t] + a[8 * u + t]
        return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))

    def _dot_py(a, x, n, width, fused):
        c = [a.dtype.type(0.0)] * width
        for i in range(0, n, width):
            for t in range(width):
                c[t] = fma(a[i + t], x[i + t], c[t]) if fused else c[t] + a[i + t] * x[i + t]
        return (c[0] + c[2]) + (c[1] + c[3]) if width == 4 else c[0] + c[1]

    def _dot_f4(a, x, n):  # noqa: F811
        """4 fma lanes (pure-Python fallback)."""
        return _dot_py(a, x, n, 4, True)

    def _dot_m2(a, x, n):  # noqa: F811
        """2 mul+add lanes (pure-Python fallback)."""
        return _dot_py(a, x, n, 2, False)

    def _dot_m2x2(a, b, x, n):  # noqa: F811
        """Two rows of 2 mul+add lanes (pure-Python fallback)."""
        return tuple(_dot_py(r, x, n, 2, False) for r in (a, b))

    def _dot_m4(a, x, n):  # noqa: F811
        """4 mul+add lanes (pure-Python fallback)."""
        return _dot_py(a, x, n, 4, False)

    def _lanes_py(a, x, n):
        c = [a.dtype.type(0.0)] * 4
        for i in range(0, n, 4):
            for t in range(4):
                c[t] = fma(a[i + t], x[i + t], c[t])
        return tuple(c)

    def _lanes_f4x4(a, b, c, d, x, n):  # noqa: F811
        """Four rows of 4 fma lanes, uncombined (pure-Python fallback)."""
        return sum((_lanes_py(r, x, n) for r in (a, b, c, d)), ())

    def _dot_f4x4(a, b, c, d, x, n):  # noqa: F811
        """Four rows of 4 fma lanes (pure-Python fallback)."""
        return tuple(_dot_py(r, x, n, 4, True) for r in (a, b, c, d))

    def _make_nt_vec(blocks, Q, tail=False):  # noqa: F811
        def impl(X, A, T, i, q, ls, le, tr=-1):
            """Vector NT tile (pure-Python fallback: the same chains, scalar)."""
            rows = [i + r for r in range(sum(blocks))] + ([tr] if tail else [])
            for row in rows:
                for u in range(Q):
                    acc = T.dtype.type(0.0)
                    for j in range(ls, le):
                        acc = fma(X[row, j], A[q + u, j], acc)
                    T[row, q + u] = acc
        return impl

    def _make_nn_vec(R, trans, resume=False, src=False):  # noqa: F811
        def impl(W, A, C, i, l0=0, nc=None):
            """Vector NN tile (pure-Python fallback: the same chains, scalar)."""
            k = W.shape[1] if resume else A.shape[0]
            for r in range(R):
                for j in range(nc if resume else A.shape[1]):
                    acc = C[i + r, j] if resume else C.dtype.type(0.0)
                    for l in range(l0, k):
                        acc = fma(W[l, i + r] if trans else W[i + r, l], A[l, j], acc)
                    C[i + r, j] = acc

        def impl_from(W, A, C, Ini, b, wo, yo, i, j0, l0, nc, relu, out):
            """Vector NN tile from ``Ini`` (pure-Python fallback: the same operations)."""
            for r in range(R):
                for j in range(j0, nc):
                    acc = Ini[i + r, j]
                    for l in range(l0, W.shape[1]):
                        acc = fma(W[i + r, l], A[l, j], acc)
                    if relu:
                        v = acc + b[i + r]
                        acc = C.dtype.type(0.0) if v < 0.0 else v
                    C[i + r, j] = acc
            if out and R == 4:
                for j in range(j0, nc):
                    yo[j] = yo[j] + (fma(wo[i + 2], C[i + 2, j], wo[i] * C[i, j])
                                     + fma(wo[i + 3], C[i + 3, j], wo[i + 1] * C[i + 1, j]))
        return impl_from if src else impl

    def _tail_v(w, B, r, m4):  # noqa: F811
        """The one-column kernel's lanes (pure-Python fallback: the same operations)."""
        k = w.shape[0]
        kk = 8 * (k // 8)
        for j in range(m4):
            lanes = [r.dtype.type(0.0)] * 4
            for t in range(0, kk, 8):
                for h in range(2):
                    for lane in range(4):
                        lanes[lane] = fma(w[t + 4 * h + lane], B[t + 4 * h + lane, j], lanes[lane])
            for t in range(kk, k):
                lanes[0] = fma(w[t], B[t, j], lanes[0])
            r[j] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])

    def _pw8x4(a, b, c, d, n8):  # noqa: F811
        """Four rows of :func:`_pw8` (pure-Python fallback)."""
        return _pw8(a, n8), _pw8(b, n8), _pw8(c, n8), _pw8(d, n8)


#: Vector NT tiles, ``_nt_v{rows}_{Q}``: rows in blocks of 4 (a last block of 2), ``Q``
#: columns. The callers keep every index in range (nothing is checked here).
_nt_v4_8 = _make_nt_vec((4,), 8)
_nt_v4_4 = _make_nt_vec((4,), 4)
_nt_v4_2 = _make_nt_vec((4,), 2)
_nt_v4_1 = _make_nt_vec((4,), 1)
_nt_v2_8 = _make_nt_vec((2,), 8)
_nt_v2_4 = _make_nt_vec((2,), 4)
_nt_v2_2 = _make_nt_vec((2,), 2)
_nt_v2_1 = _make_nt_vec((2,), 1)
_nt_v8_2 = _make_nt_vec((4, 4), 2)
_nt_v8_1 = _make_nt_vec((4, 4), 1)
_nt_v10_2 = _make_nt_vec((4, 4, 2), 2)
_nt_v10_1 = _make_nt_vec((4, 4, 2), 1)
_nt_v12_2 = _make_nt_vec((4, 4, 4), 2)
_nt_v12_1 = _make_nt_vec((4, 4, 4), 1)
_nt_v6_2 = _make_nt_vec((4, 2), 2)
_nt_v6_1 = _make_nt_vec((4, 2), 1)
#: ... and with the tail row's last ``Q = p % 4`` columns (or all ``Q = p < 4``) as
#: scalar chains in the same loop.
_nt_v4_1t = _make_nt_vec((4,), 1, True)
_nt_v4_2t = _make_nt_vec((4,), 2, True)
_nt_v4_3t = _make_nt_vec((4,), 3, True)
_nt_v2_1t = _make_nt_vec((2,), 1, True)
_nt_v2_2t = _make_nt_vec((2,), 2, True)
_nt_v2_3t = _make_nt_vec((2,), 3, True)
#: Vector NN tiles: 4 or 2 rows of ``W @ A`` (``t``: of ``W.T @ A``).
_nn_v4 = _make_nn_vec(4, False)
_nn_v2 = _make_nn_vec(2, False)
_nn_v4t = _make_nn_vec(4, True)
_nn_v2t = _make_nn_vec(2, True)
#: ... and 4, 2 or 1 rows of ``W @ A`` resuming chains already in ``C``, or in another
#: array (with the bias and ReLU applied on the way out).
_nn_v4_resume = _make_nn_vec(4, False, True)
_nn_v2_resume = _make_nn_vec(2, False, True)
_nn_v1_resume = _make_nn_vec(1, False, True)
_nn_v4_from = _make_nn_vec(4, False, True, True)
_nn_v2_from = _make_nn_vec(2, False, True, True)
_nn_v1_from = _make_nn_vec(1, False, True, True)


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
    n8 = n // 8
    res = _pw8(b, n8)
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


@njit(inline="always", **_JIT)
def pairwise_sum(a, square):
    """``np.sum(a)`` (of ``np.square(a)`` when ``square``) in NumPy's exact order.

    ``a`` is 1-D. NumPy's pairwise recursion is unrolled for short arrays and runs on
    an explicit stack for long ones (Numba's self-recursion is avoided on purpose).
    Like ``np.sum``, the result is added to the reduction's initial ``+0.0``.
    """
    zero = a.dtype.type(0.0)
    n = a.shape[0]
    if n < 8:                           # the leaf's plain loop, without the calls
        res = a.dtype.type(-0.0)
        for i in range(n):
            res += a[i] * a[i] if square else a[i]
        return zero + res
    return zero + _pw_3(a, np.int64(0), n, square)


@njit(**_JIT)
def _pw_block4(D, i, lo, n):
    """:func:`_pw_block` of rows ``i .. i+3`` of ``D`` over ``[lo, lo+n)``: four sums."""
    b0 = D[i][lo:lo + n]
    b1 = D[i + 1][lo:lo + n]
    b2 = D[i + 2][lo:lo + n]
    b3 = D[i + 3][lo:lo + n]
    if n < 8:
        s0 = D.dtype.type(-0.0)
        s1 = s0
        s2 = s0
        s3 = s0
        start = 0
    else:
        n8 = n // 8
        s0, s1, s2, s3 = _pw8x4(b0, b1, b2, b3, n8)
        start = 8 * n8
    for k in range(start, n):
        s0 += b0[k]
        s1 += b1[k]
        s2 += b2[k]
        s3 += b3[k]
    return s0, s1, s2, s3


@njit(**_JIT)
def _pw_rows4(D, i, n, t_lo, t_n, vals):
    """NumPy's pairwise recursion (as :func:`_pw_stack`) on rows ``i .. i+3`` at once,
    for rows longer than one leaf (128).

    The recursion depends on ``n`` only, so the four rows share it; ``t_lo``, ``t_n``
    (192 entries) and ``vals`` (96 x 4) are the explicit stack.
    """
    t_lo[0] = 0
    t_n[0] = n
    sp = 1
    vp = 0
    while sp > 0:
        sp -= 1
        c_lo = t_lo[sp]
        c_n = t_n[sp]
        if c_n < 0:                      # combine the two values on top
            vp -= 1
            for q in range(4):
                vals[vp - 1, q] = vals[vp - 1, q] + vals[vp, q]
        elif c_n <= 128:
            s0, s1, s2, s3 = _pw_block4(D, i, c_lo, c_n)
            vals[vp, 0] = s0
            vals[vp, 1] = s1
            vals[vp, 2] = s2
            vals[vp, 3] = s3
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
    return vals[0, 0], vals[0, 1], vals[0, 2], vals[0, 3]


@njit(inline="always", **_JIT)
def row_sums(D, scale, out):
    """``out[i] = scale * np.sum(D[i])`` for every row of a C-contiguous 2-D ``D``.

    Each row is :func:`pairwise_sum` bit for bit; rows go four at a time.
    """
    n_rows, n = D.shape
    n4 = n_rows - n_rows % 4
    half = n // 2 - (n // 2) % 8            # where the pairwise recursion splits a row
    # two or three rows left after the groups of four: one more group, overlapping the
    # one before (a row summed twice gets the same bits; a group costs about one row)
    last = n_rows >= 4 and n_rows % 4 >= 2
    whole = _two_leaves(n)                  # one or two leaves a row
    if n4 > 0 and (whole or (_two_leaves(half) and _two_leaves(n - half))):
        # the recursion unrolled (up to four leaves a row), no stack
        _row_sums4_unrolled(D, scale, out, 0, n4, whole)
        if last:
            _row_sums4_unrolled(D, scale, out, n_rows - 4, n_rows, whole)
            return
    elif n4 > 0:
        _row_sums4(D, scale, out, n4, np.empty(192, np.int64), np.empty(192, np.int64),
                   np.empty((96, 4), D.dtype))
    s = D.dtype.type(scale)
    for i in range(n4, n_rows):
        out[i] = s * pairwise_sum(D[i], False)


@njit(inline="always", **_JIT)
def _two_leaves(c):
    """Whether NumPy's pairwise recursion sums ``c`` values in at most two leaves."""
    h = c // 2 - (c // 2) % 8
    return c <= 128 or c - h <= 128


@njit(inline="always", **_JIT)
def _pw_seg4(D, i, lo, c):
    """The pairwise sums of rows ``i .. i+3`` over ``[lo, lo+c)``, ``c`` in one or two
    leaves (:func:`_two_leaves`)."""
    if c <= 128:
        return _pw_block4(D, i, lo, c)
    h = c // 2 - (c // 2) % 8
    l0, l1, l2, l3 = _pw_block4(D, i, lo, h)
    r0, r1, r2, r3 = _pw_block4(D, i, lo + h, c - h)
    return l0 + r0, l1 + r1, l2 + r2, l3 + r3


@njit(**_JIT)
def _row_sums4_unrolled(D, scale, out, i0, i1, whole):
    """Rows ``i0 .. i1-1`` (a multiple of 4 of them) of :func:`row_sums` without the
    explicit stack: with ``whole`` a row is one pairwise leaf or two, else each half of
    NumPy's first split is (rows of up to about 500 values)."""
    zero = D.dtype.type(0.0)
    s = D.dtype.type(scale)
    n = D.shape[1]
    half = n // 2 - (n // 2) % 8
    for i in range(i0, i1, 4):
        if whole:
            s0, s1, s2, s3 = _pw_seg4(D, i, np.int64(0), n)
        else:
            l0, l1, l2, l3 = _pw_seg4(D, i, np.int64(0), half)
            r0, r1, r2, r3 = _pw_seg4(D, i, half, n - half)
            s0, s1, s2, s3 = l0 + r0, l1 + r1, l2 + r2, l3 + r3
        out[i] = s * (zero + s0)
        out[i + 1] = s * (zero + s1)
        out[i + 2] = s * (zero + s2)
        out[i + 3] = s * (zero + s3)


@njit(**_JIT)
def _row_sums4(D, scale, out, n4, t_lo, t_n, vals):
    """Rows ``0 .. n4-1`` of :func:`row_sums` on the explicit pairwise stack."""
    zero = D.dtype.type(0.0)
    s = D.dtype.type(scale)
    n = D.shape[1]
    for i in range(0, n4, 4):
        s0, s1, s2, s3 = _pw_rows4(D, i, n, t_lo, t_n, vals)
        out[i] = s * (zero + s0)
        out[i + 1] = s * (zero + s1)
        out[i + 2] = s * (zero + s2)
        out[i + 3] = s * (zero + s3)


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
    """One k block of OpenBLAS's one-column kernel into ``r`` (see :func:`gemm_row`).

    Columns ``j < m - m % 4``: 4 lanes over the unrolled-by-8 part of ``k`` (lane ``t``
    takes ``l = t, t+4`` of each 8), the rest into lane 0, summed
    ``(l0 + l1) + (l2 + l3)`` (:func:`_tail_v`); the last ``m % 4``: one chain each.
    """
    k = w.shape[0]
    m = r.shape[0]
    m4 = m - m % 4
    zero = r.dtype.type(0.0)
    if k < 8:
        # no unrolled part: lanes 1-3 stay +0, so the sum is lane 0's chain plus +0
        _chain_rows(w, B, r[:m4], True)
        for j in range(m4):
            r[j] = r[j] + zero
    else:
        _tail_v(w, B, r, m4)
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
    n = a.shape[0]
    if kind == 0:
        return _dot_f4(a, x, n)
    if kind == 1:
        return _dot_m2(a, x, n)
    return _dot_m4(a, x, n)


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
def _gemv_tail(a, x, off, m3, y):
    """dgemv_t's last ``m3 = len % 4`` terms from ``off``, added to ``y`` (C tail order)."""
    if m3 == 1:
        y = fma(a[off], x[off], y)
    elif m3 == 2:
        y = y + fma(a[off], x[off], a[off + 1] * x[off + 1])
    elif m3 == 3:
        y = y + fma(a[off + 2], x[off + 2], fma(a[off], x[off], a[off + 1] * x[off + 1]))
    return y


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
    return _gemv_tail(a, x, off, m3, y)


@njit(**_JIT)
def gemv_dots(M, x, y):
    """``y[i] = M[i, :] . x`` in OpenBLAS dgemv_t order (NumPy's matrix @ vector).

    Rows in groups of 4 (fma lanes), then a pair and a single (mul+add lanes). Below
    one block of the dot length the rows of a group of 4, and of the pair, run together
    (each as :func:`gemv_dot`).
    """
    n, K = M.shape
    n4 = n - n % 4
    i0 = 0
    if K < GEMV_NB:
        m3 = K & 3
        K4 = K - m3
        zero = M.dtype.type(0.0)
        for i in range(0, n4, 4):
            y0 = zero
            y1 = zero
            y2 = zero
            y3 = zero
            if K4 > 0:
                s0, s1, s2, s3 = _dot_f4x4(M[i], M[i + 1], M[i + 2], M[i + 3], x, K4)
                y0 = y0 + s0
                y1 = y1 + s1
                y2 = y2 + s2
                y3 = y3 + s3
            y[i] = _gemv_tail(M[i], x, K4, m3, y0)
            y[i + 1] = _gemv_tail(M[i + 1], x, K4, m3, y1)
            y[i + 2] = _gemv_tail(M[i + 2], x, K4, m3, y2)
            y[i + 3] = _gemv_tail(M[i + 3], x, K4, m3, y3)
        i0 = n4
        if n & 2:
            y0 = zero
            y1 = zero
            if K4 > 0:
                s0, s1 = _dot_m2x2(M[n4], M[n4 + 1], x, K4)
                y0 = y0 + s0
                y1 = y1 + s1
            y[n4] = _gemv_tail(M[n4], x, K4, m3, y0)
            y[n4 + 1] = _gemv_tail(M[n4 + 1], x, K4, m3, y1)
            i0 = n4 + 2
    for i in range(i0, n):
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
    :func:`gemm_row` on a row that is not a tail row): 4 rows at a time in the vector
    tiles, then 2, then one.
    """
    i = i0
    while i + 4 <= i1:
        if trans:
            _nn_v4t(W, A, C, i)
        else:
            _nn_v4(W, A, C, i)
        i += 4
    if i + 2 <= i1:
        if trans:
            _nn_v2t(W, A, C, i)
        else:
            _nn_v2(W, A, C, i)
        i += 2
    if i < i1:
        _rows_chain1(W, trans, A, C, i)


@njit(**_JIT)
def rows_chain_resume(W, A, C, i0, i1, l0, nc):
    """Rows ``i0 .. i1-1`` of ``C[:, :nc]``: every element's fma chain continued with the
    terms ``W[i, l] * A[l, j]``, ``l = l0 .. W.shape[1]-1`` in order (so from ``C = 0``
    and ``l0 = 0``, :func:`_rows_chain`'s bits); 4, 2, then 1 row a tile.

    ``A`` needs at least ``W.shape[1]`` rows (those below ``l0`` are not read), ``A``
    and ``C`` at least ``nc`` columns; unchecked.
    """
    i = i0
    while i + 4 <= i1:
        _nn_v4_resume(W, A, C, i, l0, nc)
        i += 4
    if i + 2 <= i1:
        _nn_v2_resume(W, A, C, i, l0, nc)
        i += 2
    if i < i1:
        _nn_v1_resume(W, A, C, i, l0, nc)


@njit(**_JIT)
def rows_chain_from(W, A, C, I, b, i0, i1, l0, nc, relu, wo, yo, out):
    """:func:`rows_chain_resume` with every chain starting from ``I`` (same layout as
    ``C``) instead of ``C``; with ``relu``, ``C`` gets ``g(chain + b[i])`` for the ReLU
    ``g`` (as :func:`._cpu_layers.bias_act` computes it) instead of the chain.
    With ``out`` (``i0`` and ``i1 - i0`` multiples of 4), ``yo[:nc]`` also gets the
    ``dgemv_n`` sum of a one-unit layer with weights ``wo`` over those rows of ``C``,
    added to it in the order :func:`._cpu_mlp._layer_cols` adds them (``yo`` at 0 and
    ``i0 = 0``: that layer's product).
    Unchecked, as :func:`rows_chain_resume`; ``b`` needs ``i1`` values. The columns go
    in blocks of ``FROM_COLS`` through all the rows, so a block of ``A`` stays in L1.
    """
    for j0 in range(0, nc, FROM_COLS):
        j1 = min(nc, j0 + FROM_COLS)
        i = i0
        while i + 4 <= i1:
            _nn_v4_from(W, A, C, I, b, wo, yo, i, j0, l0, j1, relu, out)
            i += 4
        if i + 2 <= i1:
            _nn_v2_from(W, A, C, I, b, wo, yo, i, j0, l0, j1, relu, 0)
            i += 2
        if i < i1:
            _nn_v1_from(W, A, C, I, b, wo, yo, i, j0, l0, j1, relu, 0)


@njit(**_JIT)
def _rows_chain1(W, trans, A, C, i):
    """Row ``i`` of :func:`_rows_chain` in scalar loops."""
    k = A.shape[0]
    m = A.shape[1]
    zero = C.dtype.type(0.0)
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
            _mm_nn_k_blocks(W, A, C, odd)


@njit(**_JIT)
def _mm_nn_k_blocks(W, A, C, odd):
    """:func:`mm_nn` for ``k > GEMM_Q`` (and ``n, m >= 2``): each k block of ``A`` is
    read once for all the rows (row by row, :func:`gemm_row` would stream the whole of
    ``A`` from memory once per row), in the vector tiles of :func:`_rows_chain`, after
    one pass front to back has brought it into the cache (:func:`touch_rows`; walked
    by columns straight from memory, the tiles waited on it); the odd
    last row in the one-column order. Every element gets :func:`gemm_row`'s bits: the
    first block's chain, then each further block's chain added to it.
    """
    n, k = W.shape
    m = A.shape[1]
    ne = n - 1 if odd else n
    Wb = np.empty(n * GEMM_Q, C.dtype)
    T = np.empty((n, m), C.dtype)
    ls = 0
    while ls < k:
        kb = gemm_k_block(k - ls)
        Wk = Wb[:n * kb].reshape(n, kb)     # the block's columns of W, C-contiguous
        for i in range(n):
            for t in range(kb):
                Wk[i, t] = W[i, ls + t]
        Ak = A[ls:ls + kb]
        touch_rows(A, ls, ls + kb)
        dst = C if ls == 0 else T
        _rows_chain(Wk, False, Ak, dst, 0, ne)
        if odd:
            _tail_rows(Wk[n - 1], Ak, dst[n - 1], T[0])
        if ls > 0:
            for i in range(n):
                for j in range(m):
                    C[i, j] = C[i, j] + T[i, j]
        ls += kb


@njit(inline="always", **_JIT)
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
def _nt_tail(x, A, out, ls, le, singles):
    """OpenBLAS's one-column kernel for ``out[q] = x . A[q]`` over ``j`` in ``[ls, le)``.

    Columns ``q < p - p % 4``: 4 lanes ``j % 4`` over the unrolled-by-8 part of the
    block, the rest into lane 0, summed ``(l0 + l1) + (l2 + l3)``; the last ``p % 4``
    columns (only with ``singles``: else a vector tile did them): one chain. Written
    (not added) into ``out``. The lanes are one vector (4 columns at a time, so 4 vector
    chains overlap).
    """
    p = A.shape[0]
    p4 = p - p % 4
    zero = out.dtype.type(0.0)
    kk = ls + 8 * ((le - ls) // 8)
    xs = x[ls:kk]
    nk = kk - ls
    for q in range(0, p4, 4):
        lanes = _lanes_f4x4(A[q][ls:kk], A[q + 1][ls:kk], A[q + 2][ls:kk], A[q + 3][ls:kk],
                            xs, nk)
        for u in range(4):
            a = A[q + u]
            l0 = lanes[4 * u]
            for j in range(kk, le):
                l0 = fma(x[j], a[j], l0)
            out[q + u] = (l0 + lanes[4 * u + 1]) + (lanes[4 * u + 2] + lanes[4 * u + 3])
    if singles:
        for q in range(p4, p):
            a = A[q]
            s = zero
            for j in range(ls, le):
                s = fma(x[j], a[j], s)
            out[q] = s


@njit(**_JIT)
def _nt_cols_tail(X, A, T, i, q, ls, le, two, tr):
    """Columns ``q ..`` (1 to 3 of them) of the 2 or 4 rows at ``i`` and, as plain
    chains, of row ``tr`` (see :func:`_nt_vec_codegen`)."""
    e = A.shape[0] - q
    if two:
        if e == 1:
            _nt_v2_1t(X, A, T, i, q, ls, le, tr)
        elif e == 2:
            _nt_v2_2t(X, A, T, i, q, ls, le, tr)
        else:
            _nt_v2_3t(X, A, T, i, q, ls, le, tr)
    elif e == 1:
        _nt_v4_1t(X, A, T, i, q, ls, le, tr)
    elif e == 2:
        _nt_v4_2t(X, A, T, i, q, ls, le, tr)
    else:
        _nt_v4_3t(X, A, T, i, q, ls, le, tr)


@njit(**_JIT)
def _nt_block(X, A, T, ls, le):
    """``T = X[:, ls:le] @ A[:, ls:le].T`` as dgemm does one k block (chains over j).

    Every row but an odd last one is a plain chain per element: those rows go through
    the vector tiles (one chain per lane; with fewer than 4 columns, up to 12 rows per
    tile so that enough chains overlap). The last row of an odd count is OpenBLAS's
    one-column tail. With 4 or more columns the 8-column tiles take ``NT_COLS`` rows
    of ``A`` at a time through every row tile, so ``A`` streams from memory once.
    """
    n = X.shape[0]
    p = A.shape[0]
    nn = n - 1 if n % 2 == 1 else n       # rows in pairs; an odd last row is the tail
    singles = True                         # the tail row's plain chains still to do
    i = 0
    if p < 4:
        while i < nn:
            left = nn - i
            q = 0
            if nn < n and (left == 4 or left == 2):
                # the last tile takes the tail row's plain chains (all its columns)
                _nt_cols_tail(X, A, T, i, 0, ls, le, left == 2, n - 1)
                singles = False
                i = nn
            elif left == 10 or left == 2 or left == 6:
                while q + 2 <= p:
                    if left == 10:
                        _nt_v10_2(X, A, T, i, q, ls, le)
                    elif left == 6:
                        _nt_v6_2(X, A, T, i, q, ls, le)
                    else:
                        _nt_v2_2(X, A, T, i, q, ls, le)
                    q += 2
                if q < p:
                    if left == 10:
                        _nt_v10_1(X, A, T, i, q, ls, le)
                    elif left == 6:
                        _nt_v6_1(X, A, T, i, q, ls, le)
                    else:
                        _nt_v2_1(X, A, T, i, q, ls, le)
                i = nn
            elif left >= 8:
                big = left >= 12            # 6 vector chains: more of them in flight
                while q + 2 <= p:
                    if big:
                        _nt_v12_2(X, A, T, i, q, ls, le)
                    else:
                        _nt_v8_2(X, A, T, i, q, ls, le)
                    q += 2
                if q < p:
                    if big:
                        _nt_v12_1(X, A, T, i, q, ls, le)
                    else:
                        _nt_v8_1(X, A, T, i, q, ls, le)
                i += 12 if big else 8
            else:                          # 4 rows
                while q + 2 <= p:
                    _nt_v4_2(X, A, T, i, q, ls, le)
                    q += 2
                if q < p:
                    _nt_v4_1(X, A, T, i, q, ls, le)
                i += 4
    else:
        # the 8-column tiles first, NT_COLS rows of A at a time for all the row tiles
        # (and the tail row's lanes), so that A streams from memory once, not once per
        # row tile; each element's chain is the same wherever it is computed
        p8 = p - p % 8
        for q0 in range(0, p8, NT_COLS):
            q1 = min(p8, q0 + NT_COLS)
            while i < nn:
                two = nn - i == 2
                for q in range(q0, q1, 8):
                    if two:
                        _nt_v2_8(X, A, T, i, q, ls, le)
                    else:
                        _nt_v4_8(X, A, T, i, q, ls, le)
                i += 2 if two else 4
            i = 0
            if nn < n:
                _nt_tail(X[n - 1], A[q0:q1], T[n - 1, q0:q1], ls, le, False)
        while i < nn:
            two = nn - i == 2
            step = 2 if two else 4
            q = p8
            if q + 4 <= p:
                if two:
                    _nt_v2_4(X, A, T, i, q, ls, le)
                else:
                    _nt_v4_4(X, A, T, i, q, ls, le)
                q += 4
            if q < p and nn < n and i + step == nn:
                # the last tile takes the tail row's last p % 4 columns (plain chains)
                _nt_cols_tail(X, A, T, i, q, ls, le, two, n - 1)
                singles = False
                q = p
            if q + 2 <= p:
                if two:
                    _nt_v2_2(X, A, T, i, q, ls, le)
                else:
                    _nt_v4_2(X, A, T, i, q, ls, le)
                q += 2
            if q < p:
                if two:
                    _nt_v2_1(X, A, T, i, q, ls, le)
                else:
                    _nt_v4_1(X, A, T, i, q, ls, le)
            i += step
    if nn < n:
        if p < 4:
            _nt_tail(X[n - 1], A, T[n - 1], ls, le, singles)
        else:                              # the columns left after the 8-column tiles
            p8 = p - p % 8
            _nt_tail(X[n - 1], A[p8:], T[n - 1, p8:], ls, le, singles)


@njit(inline="always", **_JIT)
def mm_nt(X, A, C, ws):
    """``C = X @ A.T`` (X (n, k), A (p, k), C (n, p), all C-contiguous) in NumPy order.

    dgemm order: per element a chain over ``k`` (in k blocks, added), the last row of
    an odd number of rows in OpenBLAS's one-column order. Computed in vector tiles of
    independent chains (:func:`_nt_block`). ``ws``: scratch of at least ``n * p``.
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
