"""NumPy's own ``exp``, ``log``, ``log1p`` and ``tanh`` loops, called from compiled code.

NumPy computes these functions with loops it picks for the CPU at import: on some CPUs
the C library's functions, on others (AVX-512, or ``tanh`` on AVX2) SIMD code of its own
whose results differ from the C library's in the last bit of a few percent of the
values. Numba's ``np.exp`` is always the C library's. So that the kernels' results are
NumPy's on every CPU, they call the very loop NumPy's ufunc runs for the dtype.

The loops are found once, at import, in the ufunc objects (their ``functions`` and
``data`` tables, public fields of NumPy's C API), checked against the ufunc on values
that cover the special cases, and stored in a table of pointers that compiled code
reaches through one external symbol (``fastnn_npy_loop_table``), registered with LLVM
before any kernel is loaded. The addresses are read at run time, not compiled in, so
Numba's on-disk cache stays valid in a new process. Should a loop not be found or not
match, its entry calls the ufunc through Python instead (slow, but NumPy's numbers) and
a warning says so.

Called one value at a time a loop costs about 18 ns, against 0.5 ns per value over an
array, so the kernels apply them to whole rows (:func:`exp_into` and the others take a
source and a destination 1-D array, which may be the same). Under ``NUMBA_DISABLE_JIT``
each is the ufunc itself.
"""

import ctypes
import warnings

import llvmlite.binding as ll
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from . import _jitcache  # noqa: F401  (stamps the kernels here; see its docstring)
from ._spec import RELU, SIGMOID, TANH

__all__ = []

_JIT = {"cache": True, "error_model": "numpy"}

#: The functions, in the table's order; each has a float32 and a float64 entry.
FUNCS = (np.exp, np.log, np.log1p, np.tanh)
_DTYPES = (np.float32, np.float64)
_SYMBOL = "fastnn_npy_loop_table"

_LOOP = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_void_p),
                         ctypes.POINTER(ctypes.c_ssize_t),
                         ctypes.POINTER(ctypes.c_ssize_t), ctypes.c_void_p)


class _UFuncHead(ctypes.Structure):
    """The leading fields of NumPy's ``PyUFuncObject`` (``numpy/ufuncobject.h``)."""

    _fields_ = [("ob_refcnt", ctypes.c_ssize_t), ("ob_type", ctypes.c_void_p),
                ("nin", ctypes.c_int), ("nout", ctypes.c_int), ("nargs", ctypes.c_int),
                ("identity", ctypes.c_int),
                ("functions", ctypes.POINTER(ctypes.c_void_p)),
                ("data", ctypes.POINTER(ctypes.c_void_p)), ("ntypes", ctypes.c_int),
                ("reserved1", ctypes.c_int), ("name", ctypes.c_char_p),
                ("types", ctypes.POINTER(ctypes.c_char))]


def _find_loop(uf, dtype):
    """``(function, data)``: the addresses of ``uf``'s loop for ``dtype -> dtype``, the
    one NumPy's type resolution picks (the first that matches); ``None`` when the ufunc
    object does not look as expected."""
    head = _UFuncHead.from_address(id(uf))
    num = np.dtype(dtype).num
    if (head.name != uf.__name__.encode() or head.nin != 1 or head.nout != 1
            or head.nargs != 2 or head.ntypes != len(uf.types)):
        return None
    codes = [ord(head.types[i]) for i in range(2 * head.ntypes)]
    for k in range(head.ntypes):
        if codes[2 * k] == num and codes[2 * k + 1] == num:
            if uf.types[k] != f"{np.dtype(dtype).char}->{np.dtype(dtype).char}":
                return None
            return head.functions[k], (head.data[k] if head.data else None)
    return None


def _call(fn, data, x, y):
    """Run the loop at address ``fn`` over 1-D ``x`` into ``y`` (for the self-check)."""
    args = (ctypes.c_void_p * 2)(x.ctypes.data, y.ctypes.data)
    dims = (ctypes.c_ssize_t * 1)(x.shape[0])
    steps = (ctypes.c_ssize_t * 2)(x.strides[0], y.strides[0])
    _LOOP(fn)(args, dims, steps, data)


def _probe(uf, dtype):
    """Values covering ``uf``'s special cases and its ordinary range, in ``dtype``."""
    rng = np.random.default_rng(20261124)
    x = np.concatenate([
        [0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 700.0,
         -745.0, 89.0, -104.0, 20.0, -20.0],
        rng.uniform(-30.0, 30.0, 240), rng.standard_normal(240),
        rng.uniform(0.0, 1.0, 240), 10.0 ** rng.uniform(-30, 30, 240)])
    with np.errstate(all="ignore"):
        return x.astype(dtype)


def _python_loop(uf, dtype):
    """A loop of the ufunc's signature that calls the ufunc itself through Python."""
    itemsize = np.dtype(dtype).itemsize

    def loop(args, dims, steps, data):
        n = dims[0]
        src = np.ndarray((n,), dtype, buffer=(ctypes.c_char * max(
            1, (n - 1) * abs(steps[0]) + itemsize)).from_address(args[0]),
            strides=(steps[0],)) if n else np.empty(0, dtype)
        dst = np.ndarray((n,), dtype, buffer=(ctypes.c_char * max(
            1, (n - 1) * abs(steps[1]) + itemsize)).from_address(args[1]),
            strides=(steps[1],)) if n else np.empty(0, dtype)
        with np.errstate(all="ignore"):
            uf(src, out=dst)

    return _LOOP(loop)


def _build_table():
    """The table of ``(function, data)`` address pairs, and what keeps it alive."""
    table = (ctypes.c_void_p * (4 * len(FUNCS)))()
    keep = [table]
    for f, uf in enumerate(FUNCS):
        for d, dtype in enumerate(_DTYPES):
            slot = 2 * (2 * f + d)
            found = None
            try:
                found = _find_loop(uf, dtype)
            except (ValueError, TypeError, OSError):
                found = None
            if found is not None:
                x = _probe(uf, dtype)
                y = np.empty_like(x)
                _call(found[0], found[1], x, y)
                with np.errstate(all="ignore"):
                    want = uf(x)
                if not np.array_equal(y, want, equal_nan=True):
                    found = None
            if found is None:
                warnings.warn(f"fastnn: NumPy's {uf.__name__} loop for "
                              f"{np.dtype(dtype).name} was not found; the compiled "
                              "kernels call it through Python (slow)", RuntimeWarning,
                              stacklevel=2)
                cb = _python_loop(uf, dtype)
                keep.append(cb)
                found = (ctypes.cast(cb, ctypes.c_void_p).value, None)
            table[slot] = found[0]
            table[slot + 1] = found[1]
    return table, keep


_TABLE, _KEEP = _build_table()
ll.add_symbol(_SYMBOL, ctypes.addressof(_TABLE))


def _loop_intrinsic(f):
    """An intrinsic ``(src, dst) -> None``: ``dst = FUNCS[f](src)`` elementwise by
    NumPy's loop; 1-D float32 or float64 arrays of one dtype and length (unchecked)."""

    @intrinsic
    def apply(typingctx, src, dst):
        if not (isinstance(src, types.Array) and isinstance(dst, types.Array)
                and src.ndim == 1 and dst.ndim == 1 and src.dtype == dst.dtype
                and src.dtype in (types.float32, types.float64) and dst.mutable):
            return None
        slot = 2 * (2 * f + (1 if src.dtype == types.float64 else 0))

        def codegen(context, builder, signature, args):
            i8p = ir.IntType(8).as_pointer()
            i64 = ir.IntType(64)
            mod = builder.module
            try:
                table = mod.get_global(_SYMBOL)
            except KeyError:
                table = ir.GlobalVariable(mod, ir.ArrayType(i8p, 4 * len(FUNCS)), _SYMBOL)
            base = builder.bitcast(table, i8p.as_pointer())
            fnty = ir.FunctionType(ir.VoidType(), [i8p.as_pointer(), i64.as_pointer(),
                                                   i64.as_pointer(), i8p])
            fn = builder.bitcast(builder.load(builder.gep(base, [ir.Constant(i64, slot)])),
                                 fnty.as_pointer())
            data = builder.load(builder.gep(base, [ir.Constant(i64, slot + 1)]))
            a = context.make_array(signature.args[0])(context, builder, args[0])
            b = context.make_array(signature.args[1])(context, builder, args[1])
            argv = cgutils.alloca_once(builder, i8p, size=2)
            builder.store(builder.bitcast(a.data, i8p), argv)
            builder.store(builder.bitcast(b.data, i8p),
                          builder.gep(argv, [ir.Constant(i64, 1)]))
            size = cgutils.unpack_tuple(builder, a.shape)[0]
            n = cgutils.alloca_once_value(builder, size)
            steps = cgutils.alloca_once(builder, i64, size=2)
            builder.store(cgutils.unpack_tuple(builder, a.strides)[0], steps)
            builder.store(cgutils.unpack_tuple(builder, b.strides)[0],
                          builder.gep(steps, [ir.Constant(i64, 1)]))
            with builder.if_then(builder.icmp_signed(">", builder.load(n),
                                                     ir.Constant(i64, 0))):
                builder.call(fn, [argv, n, steps, data])
            return context.get_dummy_value()

        return types.none(src, dst), codegen

    return apply


exp_into = _loop_intrinsic(0)
log_into = _loop_intrinsic(1)
log1p_into = _loop_intrinsic(2)
tanh_into = _loop_intrinsic(3)

if config.DISABLE_JIT:
    def _python_twin(uf):
        def apply(src, dst):
            with np.errstate(all="ignore"):
                uf(src, out=dst)
        apply.__doc__ = f"``dst = np.{uf.__name__}(src)`` (pure-Python fallback)."
        return apply

    exp_into, log_into, log1p_into, tanh_into = (_python_twin(uf) for uf in FUNCS)


@njit(inline="always", **_JIT)
def act_inplace(x, act):
    """``x = g(x)`` on a 1-D array, as ``numpy_ref`` applies the activation ``act``
    (sigmoid: ``1 / (1 + exp(-x))``, its ``exp`` NumPy's loop)."""
    n = x.shape[0]
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    if act == RELU:
        for j in range(n):
            v = x[j]
            x[j] = zero if v < zero else v  # noqa: FURB136 (np.maximum keeps -0.0, NaN)
    elif act == SIGMOID:
        for j in range(n):
            x[j] = -x[j]
        exp_into(x, x)
        for j in range(n):
            x[j] = one / (one + x[j])
    elif act == TANH:
        tanh_into(x, x)


@njit(inline="always", **_JIT)
def sigmoid_into(z, s):
    """``s = 1 / (1 + exp(-z))`` on 1-D arrays (``s`` may be ``z``)."""
    one = s.dtype.type(1.0)
    for j in range(z.shape[0]):
        s[j] = -z[j]
    exp_into(s, s)
    for j in range(s.shape[0]):
        s[j] = one / (one + s[j])
