"""Numba CPU backend: the kernel contract of :mod:`fastnn.kernels._spec`, compiled.

Public functions here are thin Python wrappers: they make views C-contiguous (copying
only when an array is not), cast scalars, pick a serial, parallel or BLAS kernel by size,
and copy results back into ``out`` arrays that are not contiguous. On the notebooks'
small arrays the wrapper costs as much as the kernel, so the common case (C-contiguous
arrays of the kernel's dtype) goes straight to a dispatcher compiled for exactly those
argument types (``_*_exact``, built on first use): Numba's own type check replaces the
Python-level flag checks, and any other input raises TypeError there, which sends it to
the copying path instead of compiling a new specialisation. The compiled kernels live in
the private ``_cpu_*`` modules:

* :mod:`._cpu_blas` — small products and sums in NumPy's exact summation order,
* :mod:`._cpu_gemm` — large float64 products in the same order on AVX-512 and threads,
* :mod:`._cpu_rng` — NumPy's legacy MT19937 and the counter hash of fast dropout,
* :mod:`._cpu_layers` — layer, loss, dropout and optimizer kernels,
* :mod:`._cpu_mlp` — the fused training loop and the incremental gradient check.

Nothing compiles at import: kernels compile on first call (``cache=True`` keeps them on
disk) or in :func:`warmup`. float64 results equal ``numpy_ref``'s to 1e-12 relative; on
the shapes that take the hand loops they are bit for bit NumPy's on an AVX2 OpenBLAS
(the loops follow OpenBLAS's summation order), larger layers call NumPy's own ``np.dot``
(or, for float64 where the CPU has AVX-512, :mod:`._cpu_gemm` in the same order).
float32: elementwise kernels and large layers compute in float32 as NumPy does; the
small-layer hand loops, the gradient check and the training loop compute float32 inputs
in float64 and round once (within 1e-5 of NumPy's float32, and closer to exact), so one
set of compiled network kernels serves both dtypes.

Size thresholds (module constants, measured on the project's 2-vCPU AVX2 machine):
``BLAS_MIN_WORK`` / ``TRAIN_BLAS_MIN_WORK`` — layers with ``n_out * n_in * m`` at least
this use NumPy's ``np.dot`` (from the wrapper / from the compiled loop in object mode,
which costs ~10 us a call); below, the hand loops are faster.
``HAND_ROWS`` — while NumPy's BLAS runs on one thread, layers of 2 to ``HAND_ROWS`` units
take the hand loops at any size: OpenBLAS packs the input of such a flat product and
runs it well below its rate, while the hand loops read each k block of the input once
for all the rows. Measured (forward; backward without ``dA_prev``) with 12288 x 209,
1000 x 209, 300 x 1000 and 100 x 2000 inputs on the AVX-512 machine: 1.04-1.56x at 20
units, mixed at 24. Against a multi-threaded OpenBLAS (faster here up to about 12 units)
they are not used: OpenBLAS then splits some products differently (a 7 x 1100 @ 1100 x
150 product on two threads differs from its one-thread bits), so its bits are not the
hand loops' order.
``GEMM_MIN_WORK`` / ``GEMM_PAR_MIN_WORK`` — float64 products of the layer wrappers from
``GEMM_MIN_WORK`` multiply-adds take :func:`._cpu_gemm.gemm_cols` where the target has
AVX-512 (OpenBLAS runs its 4-lane Haswell kernel there; this one 8 lanes, with
OpenBLAS's single-threaded bits), split by columns over ``min(numba.get_num_threads(),
NumPy's BLAS threads)`` Python threads from ``GEMM_PAR_MIN_WORK``. Measured on the
AVX-512 machine (layer forward against ``numpy_ref``, one thread): 1.3-1.5x at 64^3 and
128^3, 1.7-2.3x from 256^3 to 1024 x 4096 x 1024; two threads halve the largest
products' time (below about 512^3 a NumPy call just before leaves OpenBLAS's threads
spinning on the second core, and the split gains nothing). Compiled for AVX2 (Haswell,
on the same machine) its 4-lane tiles measured 0.6-1.0x OpenBLAS, so there the wrappers
keep ``np.dot``. A multi-threaded OpenBLAS splits ``k`` differently from its one-thread
code for many shapes with ``k`` above 256, so there NumPy's own bits change with its
thread count (by rounding); these products keep the one-thread bits on any number of
threads.
``PAR_MIN_SIZE`` — elementwise kernels (optimizers, fast dropout) on at least this many
elements use ``prange``. On the measuring machine two threads gave no speed-up at all
(its two vCPUs deliver one core of throughput) and Numba's default OpenMP layer stalled
~8 ms per parallel region, so the threshold is where a kernel runs > 10 ms: a real
second core pays there and a stall costs little.
``GRAD_CHECK_PAR_MIN_WORK`` — gradient checks of at least this many multiply-adds split
the parameters over ``numba.get_num_threads()`` threads (the kernel releases the GIL; a
``prange`` version took 15 s longer to compile for the same speed).
Parallel work is partitioned elementwise, so results never depend on the thread count.
"""

import ctypes
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from . import _cpu_gemm as _gemm
from . import _cpu_layers as _lay
from . import _cpu_mlp as _mlp
from . import _cpu_rng as _rng
from . import numpy_ref
from ._mlp import check_train_args, layer_views
from ._spec import (
    DROPOUT_COMPAT,
    FUNCTIONS,
    LINEAR,
    OPT_ADAM,
    OPT_GD,
    OPT_MOMENTUM,
    RELU,
    SIGMOID,
    TANH,
)

__all__ = list(FUNCTIONS) + ["layer_views", "warmup"]

NAME = "numba"

#: The layer wrappers call NumPy's ``np.dot`` for ``n_out * n_in * m >= BLAS_MIN_WORK``.
BLAS_MIN_WORK = 16384
#: Inside the compiled training loop (an object-mode call costs ~10 us) the threshold.
TRAIN_BLAS_MIN_WORK = 131072
#: Layers of 2 to ``HAND_ROWS`` units take the hand loops at any size (BLAS on one thread).
HAND_ROWS = 20
#: Larger float64 products take :func:`._cpu_gemm.gemm_cols` from this many multiply-adds
#: (where it has AVX-512; see :func:`_product`).
GEMM_MIN_WORK = 262144
#: ... and split their columns over threads from this many.
GEMM_PAR_MIN_WORK = 4_000_000
#: Elementwise kernels switch to ``prange`` at this many elements (see the module notes).
PAR_MIN_SIZE = 5_000_000
#: Gradient checks of at least this many multiply-adds run over threads.
GRAD_CHECK_PAR_MIN_WORK = 10_000_000

_U64 = 0xFFFFFFFFFFFFFFFF


# --------------------------------------------------------------------------- helpers
def _inp(a):
    """A writable C-contiguous view of ``a`` (a copy when ``a`` is not one).

    Read-only arrays are copied too: Numba types them apart, so passing one would compile
    every kernel again for it (seconds) instead of copying (microseconds).
    """
    flags = a.flags
    if flags.c_contiguous and flags.writeable:
        return a
    return np.array(a, order="C")


def _outp(a):
    """``a`` itself when it can be written in place, else a C-contiguous scratch copy."""
    if a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.empty(a.shape, dtype=a.dtype)


def _check_outputs(**outputs):
    """Raise ValueError naming the first read-only output, before any is written."""
    for name, a in outputs.items():
        if a is not None and not a.flags.writeable:
            raise ValueError(f"output array {name} is read-only")


def _back(dst, src):
    """Copy a scratch result back into the caller's array (no-op when it is the same)."""
    if src is not dst:
        dst[...] = src


def _flat(a):
    return a.reshape(-1)


def _seed64(seed):
    """``seed`` modulo 2**64 as a signed int64 (what the uint64 hash sees)."""
    s = int(seed) & _U64
    return s - (1 << 64) if s >= (1 << 63) else s


_F64 = np.dtype(np.float64)


@functools.cache
def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded (NumPy's among them)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:                             # (a dependency of scikit-learn)
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


def hand_rows():
    """The most units a layer may have and still take the hand loops at any size.

    ``HAND_ROWS`` while NumPy's BLAS runs on one thread (``threadpoolctl`` limits
    included), else 0. Layers of 2 to this many units take the hand loops; the others
    take NumPy's ``np.dot`` from ``BLAS_MIN_WORK`` multiply-adds (``TRAIN_BLAS_MIN_WORK``
    in the training loop).

    Returns
    -------
    int
    """
    libraries = _blas_libraries()
    if not libraries:
        return 0
    return HAND_ROWS if max(lib.get_num_threads() for lib in libraries) == 1 else 0


def _blas_layer(n_out, *arrays):
    """Whether a layer wrapper of at least ``BLAS_MIN_WORK`` multiply-adds calls NumPy's
    ``np.dot``: float32 layers always (the hand loops compute in float64, NumPy's
    products in float32), float64 layers unless they have 2 to :func:`hand_rows` units."""
    if not 2 <= n_out <= HAND_ROWS:
        return True
    return np.result_type(*arrays) != _F64 or n_out > hand_rows()


def _train_hand_rows(dims, batch):
    """:func:`hand_rows` when a layer of the training loop depends on it, else 0."""
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        if 2 <= n_out <= HAND_ROWS and n_out * n_in * batch >= TRAIN_BLAS_MIN_WORK:
            return hand_rows()
    return 0


@functools.cache
def _gemm_fast():
    """Whether :func:`._cpu_gemm.gemm_cols` runs 8-lane vectors here (AVX-512)."""
    return _gemm.gemm_lanes() == 8


@functools.cache
def _gemm_pool():
    """Threads for the column ranges of large products (made on first use)."""
    return ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1))


def _product(L, ltrans, R, rtrans, out):
    """``out = op(L) @ op(R)`` (``op`` transposes with the flag) with ``np.dot``'s
    one-thread bits (``np.dot`` itself where it is called).

    ``L``, ``R`` and ``out`` are C-contiguous (``out`` writable). Large float64 products
    on a target with AVX-512 take :func:`._cpu_gemm.gemm_cols` (OpenBLAS's order on
    8-lane vectors; OpenBLAS runs 4-lane code there), their columns split over
    ``min(numba.get_num_threads(), NumPy's BLAS threads)`` threads from
    ``GEMM_PAR_MIN_WORK`` multiply-adds; everything else calls ``np.dot``.
    """
    n, m = out.shape
    k = L.shape[0] if ltrans else L.shape[1]
    if (n * m * k < GEMM_MIN_WORK or n < 2 or m < 2 or out.dtype is not _F64
            or L.dtype is not _F64 or R.dtype is not _F64 or not _gemm_fast()
            or np.may_share_memory(out, L) or np.may_share_memory(out, R)):
        np.dot(L.T if ltrans else L, R.T if rtrans else R, out=out)
        return
    strips = -(-m // _gemm.NR)
    parts = 1
    if n * m * k >= GEMM_PAR_MIN_WORK:
        blas_threads = [lib.get_num_threads() for lib in _blas_libraries()]
        parts = max(1, min(numba.get_num_threads(), *blas_threads, strips))
    per = -(-strips // parts) * _gemm.NR
    args = (L, bool(ltrans), R, bool(rtrans), out)
    jobs = [_gemm_pool().submit(_gemm.gemm_cols, *args, c, min(m, c + per))
            for c in range(per, m, per)]
    _gemm.gemm_cols(*args, 0, min(m, per))
    for job in jobs:
        job.result()
    if n % 2:
        _gemm.gemm_last_row(*args)


def _in64(a):
    """A writable float64 C-contiguous view of ``a`` (else a copy, as :func:`_inp`)."""
    if a.dtype is _F64:                 # the common case, checked cheaply
        flags = a.flags
        if flags.c_contiguous and flags.writeable:
            return a
    return np.array(a, dtype=np.float64, order="C")


def _out64(a):
    """``a`` when it is a writable float64 C-contiguous array, else float64 scratch."""
    if a.dtype is _F64:
        flags = a.flags
        if flags.c_contiguous and flags.writeable:
            return a
    return np.empty(a.shape, dtype=np.float64)


_MT = {}


def _numpy_mt():
    """``(bit_generator, key, pos)``: views of NumPy's global MT19937 state, or None.

    ``get_state``/``set_state`` copy the 624-word key one element at a time (about
    80 us each way, more than a notebook-sized kernel); the bit generator's ctypes
    interface gives the address of its state, ``{uint32 key[624]; int pos}``, so the
    kernels read and advance the stream in place. ``key`` and ``pos`` (a 1-element
    int32 array) view that memory; the bit generator is kept with them, so they never
    outlive it. None when the global generator is not an MT19937.
    """
    bg = np.random.get_bit_generator()
    got = _MT.get("global")
    if got is None or got[0] is not bg:
        if not isinstance(bg, np.random.MT19937):
            return None
        words = np.ctypeslib.as_array(
            (ctypes.c_uint32 * (_rng.MT_N + 1)).from_address(bg.ctypes.state_address))
        got = (bg, words[:_rng.MT_N], words[_rng.MT_N:].view(np.int32))
        _MT["global"] = got
    return got


_NO_WS = np.empty(0)      # the hand kernels allocate their scratch when given none
_KEY_UNUSED = np.empty(_rng.MT_N, np.uint32)   # train_kernel's key_out when no draw is made


# --------------------------------------------------------------------------- layers
def linear_act_forward(A_prev, W, b, act, Z, A):
    """Write ``Z = W @ A_prev + b`` and ``A = g(Z)`` in one fused pass.

    Parameters
    ----------
    A_prev : ndarray (n_in, m)
    W : ndarray (n_out, n_in)
    b : ndarray (n_out, 1)
    act : int
        Activation code (LINEAR, RELU, SIGMOID, TANH).
    Z, A : ndarray (n_out, m)
        Outputs, written in place.
    """
    n_out, n_in = W.shape
    m = A_prev.shape[1]
    if n_out * n_in * m >= BLAS_MIN_WORK and _blas_layer(n_out, A_prev, W):
        # the product in NumPy's order (np.dot, or the packed kernel), then the epilogue
        _check_outputs(Z=Z, A=A)
        Zo, Ao = _outp(Z), _outp(A)
        _product(_inp(W), False, _inp(A_prev), False, Zo)
        _lay.bias_act(Zo, _in_flat(b), int(act), Ao)
    else:
        if A_prev.dtype is _F64 and A_prev.flags.c_contiguous:
            try:
                _forward_exact()(A_prev, W, b, act, Z, A)
                return
            except TypeError:
                pass                            # not the common case: copies below
        _check_outputs(Z=Z, A=A)
        Zo, Ao = _out64(Z), _out64(A)
        _lay.linear_act_hand(_in64(A_prev), _in64(W), _flat(_in64(b)), int(act), Zo, Ao,
                             _NO_WS)
    _back(Z, Zo)
    _back(A, Ao)


@functools.cache
def _forward_exact():
    """The hand-loop forward compiled for exactly the common float64 argument types.

    C-contiguous float64 2-D ``A_prev``, ``W``, ``b`` (read-only or not: Numba converts a
    writable array to a read-only parameter at no cost), an integer code, and writable
    C-contiguous ``Z``, ``A``. Other types raise TypeError instead of compiling (see
    :func:`_exact_optimizer`); built on first use.
    """
    ro = numba.types.Array(numba.float64, 2, "C", readonly=True)
    rw = numba.types.Array(numba.float64, 2, "C")
    return _exact(_lay.linear_act_small, [(ro, ro, ro, numba.int64, rw, rw)])


def act_backward(dA, Z, A, act, dZ):
    """Write ``dZ = dA * g'(Z)`` (tanh: ``dA * (1 - A**2)``).

    Parameters
    ----------
    dA, Z, A : ndarray
        Same shape; ``A`` is only read for tanh.
    act : int
        Activation code.
    dZ : ndarray
        Output, written in place (may be ``dA``).
    """
    if dA.ndim == 2:
        try:
            _act_backward_exact()(dA, Z, A, act, dZ)
            return
        except TypeError:
            pass                                # not the common case: copies below
    out = _outp(dZ)
    _lay.act_backward_flat(_in_flat(dA), _in_flat(Z), _in_flat(A), int(act),
                           _flat(out))
    _back(dZ, out)


@functools.cache
def _act_backward_exact():
    """:func:`act_backward`'s kernel for C-contiguous 2-D float32 or float64 arrays only
    (inputs read-only or not); see :func:`_exact_optimizer`."""
    sigs = []
    for dt in (numba.float32, numba.float64):
        ro = numba.types.Array(dt, 2, "C", readonly=True)
        sigs.append((ro, ro, ro, numba.int64, numba.types.Array(dt, 2, "C")))
    return _exact(_lay.act_backward_2d, sigs)


def linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev):
    """Write ``dW = scale dZ A_prev^T + l2 W``, ``db = scale * rowsum(dZ)``, ``dA_prev``.

    Parameters
    ----------
    dZ : ndarray (n_out, m)
    A_prev : ndarray (n_in, m)
    W : ndarray (n_out, n_in)
    scale, l2 : float
    dW : ndarray (n_out, n_in)
        Output.
    db : ndarray (n_out, 1)
        Output.
    dA_prev : ndarray (n_in, m) or None
        Output ``W.T @ dZ``; skipped when None.
    """
    n_out, n_in = W.shape
    m = dZ.shape[1]
    small = n_out * n_in * m < BLAS_MIN_WORK or not _blas_layer(n_out, dZ, A_prev, W)
    if small and dZ.dtype is _F64 and A_prev.flags.c_contiguous:
        try:
            _backward_exact()(dZ, A_prev, W, float(scale), float(l2), dW, db, dA_prev)
            return
        except TypeError:
            pass                                # not the common case: copies below
    want = dA_prev is not None
    _check_outputs(dW=dW, db=db, dA_prev=dA_prev)
    if not small:
        dZ, W = _inp(dZ), _inp(W)
        dWo, dbo = _outp(dW), _outp(db)
        _product(dZ, False, _inp(A_prev), True, dWo)
        _lay.dw_db_epilogue(dZ, W, float(scale), float(l2), dWo, _flat(dbo))
        if want:
            dAo = _outp(dA_prev)
            _product(W, True, dZ, False, dAo)
    else:
        dWo, dbo = _out64(dW), _out64(db)
        dAo = _out64(dA_prev) if want else np.empty((0, 0))
        _lay.linear_backward_hand(_in64(dZ), _in64(A_prev), _in64(W), float(scale),
                                  float(l2), dWo, _flat(dbo), dAo, want, _NO_WS)
    _back(dW, dWo)
    _back(db, dbo)
    if want:
        _back(dA_prev, dAo)


@functools.cache
def _backward_exact():
    """The hand-loop :func:`linear_backward` for C-contiguous float64 2-D arrays only
    (inputs read-only or not; ``dA_prev`` an array or None); see
    :func:`_exact_optimizer`."""
    ro = numba.types.Array(numba.float64, 2, "C", readonly=True)
    rw = numba.types.Array(numba.float64, 2, "C")
    head = (ro, ro, ro, numba.float64, numba.float64, rw, rw)
    return _exact(_lay.linear_backward_small, [(*head, rw), (*head, numba.types.none)])


def linear_act_backward(dA, Z, A, act, A_prev, W, scale, l2, dZ, dW, db, dA_prev):
    """:func:`act_backward` into ``dZ``, then :func:`linear_backward`, in one call.

    Parameters
    ----------
    dA, Z, A : ndarray (n_out, m)
        As for :func:`act_backward`.
    act : int
        Activation code.
    A_prev : ndarray (n_in, m)
    W : ndarray (n_out, n_in)
    scale, l2 : float
    dZ : ndarray (n_out, m)
        Output ``dA * g'(Z)`` (may be ``dA``).
    dW, db, dA_prev : ndarray
        Outputs, as for :func:`linear_backward` (``dA_prev`` may be None).
    """
    if A_prev.dtype is _F64 and (W.size * A_prev.shape[1] < BLAS_MIN_WORK
                                 or not _blas_layer(W.shape[0], A_prev, W)):
        try:                                # small C-contiguous float64: one compiled call
            _act_linear_backward_exact()(dA, Z, A, act, A_prev, W, scale, l2, dZ, dW, db,
                                         dA_prev)
            return
        except TypeError:
            pass                            # not the common case: the two wrappers
    act_backward(dA, Z, A, act, dZ)
    linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev)


@functools.cache
def _act_linear_backward_exact():
    """:func:`linear_act_backward`'s single kernel, for the argument types of
    :func:`_backward_exact` (after ``dA``, ``Z``, ``A`` and the activation code)."""
    ro = numba.types.Array(numba.float64, 2, "C", readonly=True)
    rw = numba.types.Array(numba.float64, 2, "C")
    head = (ro, ro, ro, numba.int64, ro, ro, numba.float64, numba.float64, rw, rw, rw)
    return _exact(_lay.linear_act_backward_small, [(*head, rw), (*head, numba.types.none)])


def sigmoid_ce_backward(A, Y, scale, dZ):
    """Write ``dZ = scale * (A - Y)`` (``A - Y`` when ``scale == 1``).

    Parameters
    ----------
    A, Y : ndarray (1, m)
    scale : float
    dZ : ndarray (1, m)
        Output.
    """
    out = _outp(dZ)
    A, Y = np.broadcast_arrays(A, Y)
    _lay.sigmoid_ce_backward_flat(_in_flat(A), _in_flat(Y), float(scale), _flat(out))
    _back(dZ, out)


def cross_entropy(A, Y, mode):
    """Mean binary cross-entropy ``(1/m) sum(-log(A) Y - log(1-A)(1-Y))``.

    Parameters
    ----------
    A, Y : ndarray (1, m)
        Predictions and labels.
    mode : int
        CE_SUM (a saturated prediction gives inf or nan), CE_NANSUM or CE_CLIPPED.

    Returns
    -------
    float
    """
    m = Y.shape[1]
    A, Y = np.broadcast_arrays(A, Y)
    Af = _in_flat(A)
    return float(_lay.cross_entropy_flat(Af, _in_flat(Y), m, int(mode),
                                         np.empty(2 * Af.shape[0], Af.dtype)))


def sum_squares(x):
    """``np.sum(np.square(x))`` as a Python float, in NumPy's pairwise order.

    Parameters
    ----------
    x : ndarray

    Returns
    -------
    float
    """
    return float(_lay.sum_squares_flat(_inp(np.ravel(x, order="K"))))


# --------------------------------------------------------------------------- dropout
def counter_uniform(seed, n):
    """``n`` uniforms in [0, 1) from the splitmix64 hash of ``(seed, index)``.

    Parameters
    ----------
    seed : int
    n : int

    Returns
    -------
    ndarray (n,) float64
        Bit-identical to ``numpy_ref.counter_uniform(seed, n)``.
    """
    out = np.empty(int(n), dtype=np.float64)
    if out.shape[0] >= PAR_MIN_SIZE:
        _rng.counter_fill_par(_seed64(seed), out)
    else:
        _rng.counter_fill(_seed64(seed), out)
    return out


def dropout_forward(A, keep_prob, mode, seed, D, A_out):
    """Write the mask ``D = U < keep_prob`` and ``A_out = A * D / keep_prob``.

    Parameters
    ----------
    A : ndarray (n, m)
    keep_prob : float
    mode : int
        DROPOUT_COMPAT: ``U`` is what ``np.random.rand(n, m)`` would draw from NumPy's
        global legacy stream, which is advanced exactly as NumPy would (``seed``
        ignored; a global generator other than MT19937 is left to NumPy to draw).
        DROPOUT_FAST: ``U = counter_uniform(seed, n * m)``; NumPy's stream is not
        touched.
    seed : int
    D : ndarray (n, m) bool
        Output mask.
    A_out : ndarray (n, m)
        Output; may be ``A`` itself.
    """
    mt = _numpy_mt() if mode == DROPOUT_COMPAT else None
    if mode == DROPOUT_COMPAT and mt is None:
        # the global generator is not NumPy's default MT19937: let NumPy draw
        numpy_ref.dropout_forward(A, keep_prob, mode, seed, D, A_out)
        return
    Af = _in_flat(A)
    Do, Ao = _outp(D), _outp(A_out)
    if mode == DROPOUT_COMPAT:
        bg, key, pos = mt                # NumPy's own state, advanced in place
        with bg.lock:
            pos[0] = _lay.dropout_compat_flat(Af, float(keep_prob), key, int(pos[0]),
                                              _flat(Do), _flat(Ao))
    elif Af.shape[0] >= PAR_MIN_SIZE:
        _lay.dropout_fast_flat_par(Af, float(keep_prob), _seed64(seed), _flat(Do),
                                   _flat(Ao))
    else:
        _lay.dropout_fast_flat(Af, float(keep_prob), _seed64(seed), _flat(Do), _flat(Ao))
    _back(D, Do)
    _back(A_out, Ao)


def dropout_backward(dA, D, keep_prob, dA_out):
    """Write ``dA_out = dA * D / keep_prob``.

    Parameters
    ----------
    dA : ndarray
    D : ndarray bool
    keep_prob : float
    dA_out : ndarray
        Output; may be ``dA``.
    """
    out = _outp(dA_out)
    _lay.dropout_backward_flat(_in_flat(dA), _in_flat(D), float(keep_prob),
                               _flat(out))
    _back(dA_out, out)


# --------------------------------------------------------------------------- optimizers
def _inplace(*arrays):
    """Flat views of arrays updated in place, or flat copies when one is not contiguous.

    Returns ``(flats, copied)``; after a copy the caller writes back with
    :func:`_write_back`.
    """
    flats = []
    for a in arrays:
        flags = a.flags
        if not (flags.c_contiguous and flags.writeable):
            return [np.array(x, order="C").reshape(-1) for x in arrays], True
        flats.append(a if a.ndim == 1 else a.reshape(-1))
    return flats, False


def _type_key(a):
    """What Numba's type of an argument depends on, read without typing it."""
    if isinstance(a, np.ndarray):
        f = a.flags
        return (type(a), a.dtype, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable,
                f.aligned)
    return type(a)


def _no_match(*args, **kws):
    raise TypeError("argument types outside the compiled signatures")


def _exact(kernel, sigs):
    """A second dispatcher of ``kernel``'s Python function, compiled for ``sigs`` only.

    It shares the kernel's on-disk cache. Arguments of other types raise TypeError, and
    the caller falls back to copies. On a miss, Numba's dispatcher calls two Python
    hooks that type every argument, one to look for conversions (a writable array where
    the signature says read-only, say) and one to write the message: 110-180 us a call,
    more than the copies. Here the search runs once per combination of argument kinds
    (a conversion it finds is kept by Numba, so that combination no longer misses) and
    the message is not written. With ``NUMBA_DISABLE_JIT`` set, the plain function.
    """
    dispatcher = numba.njit(sigs, **_lay._JIT)(getattr(kernel, "py_func", kernel))
    if not isinstance(dispatcher, numba.core.dispatcher.Dispatcher):
        return dispatcher
    search = dispatcher._search_new_conversions
    no_conversion = set()

    def search_once(*args):
        key = tuple(map(_type_key, args))
        if key in no_conversion:
            return False
        if search(*args):
            return True
        no_conversion.add(key)
        return False

    dispatcher._search_new_conversions = search_once
    dispatcher._explain_matching_error = _no_match
    return dispatcher


def _exact_optimizer(kernel, n_arrays, n_scalars):
    """``kernel`` compiled for exactly the optimizers' common argument types.

    Those are ``n_arrays`` writable C-contiguous 1-D arrays of one float dtype, then
    ``n_scalars`` float64 scalars. Other argument types raise TypeError instead of
    compiling another specialisation, so a wrapper can pass the caller's arrays straight
    in and, on that TypeError, fall back to copies and the kernel's own (lazily
    compiling) dispatcher, as for any other input: Numba's dispatcher checks dtype, layout
    and writability anyway, and the common call pays for no Python-level flag checks
    (they were a quarter of a 1000-element step). Built on first use (nothing compiles
    at import); float32 and float64 compile together.
    """
    sigs = [(*[numba.types.Array(dt, 1, "C")] * n_arrays, *[numba.float64] * n_scalars)
            for dt in (numba.float32, numba.float64)]
    return _exact(kernel, sigs)


@functools.cache
def _sgd_exact():
    return _exact_optimizer(_lay.sgd_flat, 2, 1)


@functools.cache
def _momentum_exact():
    return _exact_optimizer(_lay.momentum_flat, 3, 2)


@functools.cache
def _adam_exact():
    return _exact_optimizer(_lay.adam_flat, 4, 6)


def _in_flat(a):
    """A flat C-contiguous view of ``a`` (a copy only when ``a`` is not contiguous)."""
    flags = a.flags
    if flags.c_contiguous and flags.writeable:
        return a if a.ndim == 1 else a.reshape(-1)
    return np.array(a, order="C").reshape(-1)


def _write_back(arrays, flats):
    for a, f in zip(arrays, flats):
        a[...] = f.reshape(a.shape)


def sgd_step(p, g, lr):
    """In place: ``p -= lr * g``.

    Parameters
    ----------
    p : ndarray
        Parameters, updated in place (any shape; contiguous views stay views).
    g : ndarray
        Gradient, same shape.
    lr : float
    """
    lr = float(lr)
    if p.ndim == 1 and p.shape[0] < PAR_MIN_SIZE:
        try:
            _sgd_exact()(p, g, lr)
            return
        except TypeError:
            pass                                # not the common case: copies below
    (pf,), copied = _inplace(p)
    gf = _in_flat(g)
    (_lay.sgd_flat_par if pf.shape[0] >= PAR_MIN_SIZE else _lay.sgd_flat)(pf, gf, lr)
    if copied:
        _write_back((p,), (pf,))


def momentum_step(p, g, v, beta, lr):
    """In place: ``v = beta v + (1 - beta) g``; ``p -= lr v``.

    Parameters
    ----------
    p, v : ndarray
        Parameters and velocity, updated in place.
    g : ndarray
    beta, lr : float
    """
    beta, lr = float(beta), float(lr)
    if p.ndim == 1 and p.shape[0] < PAR_MIN_SIZE:
        try:
            _momentum_exact()(p, g, v, beta, lr)
            return
        except TypeError:
            pass                                # not the common case: copies below
    (pf, vf), copied = _inplace(p, v)
    gf = _in_flat(g)
    kernel = _lay.momentum_flat_par if pf.shape[0] >= PAR_MIN_SIZE else _lay.momentum_flat
    kernel(pf, gf, vf, beta, lr)
    if copied:
        _write_back((p, v), (pf, vf))


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """In place Adam step with bias correction by ``t`` (eps outside the square root).

    Parameters
    ----------
    p, m, v : ndarray
        Parameters and moments, updated in place in one pass.
    g : ndarray
    t : int
        Step counter (>= 1).
    lr, beta1, beta2, eps : float
    """
    scalars = (float(1 - beta1**t), float(1 - beta2**t), float(lr), float(beta1),
               float(beta2), float(eps))
    if p.ndim == 1 and p.shape[0] < PAR_MIN_SIZE:
        try:
            _adam_exact()(p, g, m, v, *scalars)
            return
        except TypeError:
            pass                                # not the common case: copies below
    (pf, mf, vf), copied = _inplace(p, m, v)
    gf = _in_flat(g)
    kernel = _lay.adam_flat_par if pf.shape[0] >= PAR_MIN_SIZE else _lay.adam_flat
    kernel(pf, gf, mf, vf, *scalars)
    if copied:
        _write_back((p, m, v), (pf, mf, vf))


# --------------------------------------------------------------------------- networks
def grad_check_mlp(theta, X, Y, dims, hidden, epsilon, gradapprox):
    """Two-sided differences of the MLP cost for every parameter, computed incrementally.

    Bit for bit what ``numpy_ref`` computes (the same costs, in NumPy's summation order),
    but only the examples and layers a perturbation changes are recomputed (see
    ``_cpu_mlp``); large checks run on Numba's thread count, sharing rows of parameters.

    Parameters
    ----------
    theta : ndarray (P,)
        Flat parameters (W1 in C order, b1, W2, b2, ...); left unchanged.
    X : ndarray (n_x, m)
    Y : ndarray (1, m)
    dims : sequence of int
        Layer sizes.
    hidden : int
        Hidden activation code; the output is sigmoid.
    epsilon : float
    gradapprox : ndarray (P,)
        Output ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``.
    """
    if not numba.config.DISABLE_JIT:        # (the plain function would take any type)
        try:
            # the common case (C-contiguous float64, int64 dims, one thread) in one call
            if _grad_check_exact()(theta, X, Y, dims, hidden, epsilon, gradapprox,
                                   GRAD_CHECK_PAR_MIN_WORK):
                return
        except TypeError:
            pass                            # other types: converted below
    dims = np.array(dims, dtype=np.int64)     # a copy: writable, C-contiguous
    th = _in64(theta)
    X, Y = _in64(X), _in64(Y)
    out = _out64(gradapprox)
    of = out if out.ndim == 1 else _flat(out)
    P = th.shape[0]
    big = _mlp.grad_check_work(dims, X.shape[1]) >= GRAD_CHECK_PAR_MIN_WORK
    n_chunks = min(P, numba.get_num_threads()) if big else 1
    hidden, epsilon = int(hidden), float(epsilon)
    sparse = _mlp.sparse_check_ok(dims, X.shape[1])
    if n_chunks == 1 and sparse:
        _mlp.grad_check_sparse(th, X, Y, dims, hidden, epsilon, of)
    elif n_chunks == 1:
        _mlp.grad_check_kernel(th, X, Y, dims, hidden, epsilon, of, 0, P)
    else:
        # the kernels release the GIL: rows or ranges of parameters on threads
        if sparse:      # every thread takes the next row from one shared counter
            base = _mlp.grad_check_setup(th, X, Y, dims, hidden)
            args = (th, X, Y, dims, hidden, epsilon, of, *base, np.zeros(1, np.int64))
            kernel, ranges = _mlp.grad_check_cols, [(_mlp.BATCH_MAX,)] * n_chunks
        else:
            args = (th, X, Y, dims, hidden, epsilon, of)
            bounds = [c * P // n_chunks for c in range(n_chunks + 1)]
            kernel, ranges = _mlp.grad_check_kernel, list(zip(bounds[:-1], bounds[1:]))
        with ThreadPoolExecutor(n_chunks) as pool:
            for job in [pool.submit(kernel, *args, *rng) for rng in ranges]:
                job.result()
    _back(gradapprox, out)


@functools.cache
def _grad_check_exact():
    """:func:`._cpu_mlp.grad_check_small` for writable C-contiguous float64 arrays and
    int64 ``dims`` only (the inputs also all read-only); see :func:`_exact_optimizer`."""
    sigs = []
    for ro in (False, True):
        v1 = numba.types.Array(numba.float64, 1, "C", readonly=ro)
        v2 = numba.types.Array(numba.float64, 2, "C", readonly=ro)
        d = numba.types.Array(numba.int64, 1, "C", readonly=ro)
        sigs.append((v1, v2, v2, d, numba.int64, numba.float64,
                     numba.types.Array(numba.float64, 1, "C"), numba.int64))
    return _exact(_mlp.grad_check_small, sigs)


def train_mlp(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs, optimizer,
              lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed, lambd, keep_prob,
              dropout_mode, dropout_seed, cost_mode, grad_form, cost_every, costs):
    """Train the MLP in place with every epoch inside one compiled call.

    Same arguments and numbers as ``numpy_ref.train_mlp`` (see the contract in
    :mod:`fastnn.kernels._spec`): ``theta``, ``opt_m``, ``opt_v`` are updated in place,
    ``costs`` receives the recorded costs, NumPy's global legacy stream is left where
    the NumPy loop leaves it (after the last shuffle or compat-dropout draw).

    Parameters
    ----------
    X : ndarray (n_x, m)
    Y : ndarray (1, m)
    dims : sequence of int
    hidden : int
    theta, opt_m, opt_v : ndarray (P,)
    first_epoch, n_epochs : int
    optimizer : int
    lrs : ndarray
        Learning rate of every epoch (indexed by absolute epoch).
    beta, beta1, beta2, eps : float
    t : int
        Step counter before the first step.
    batch_size : int
        0 for full batch.
    shuffle_seed : int
    lambd, keep_prob : float
    dropout_mode, dropout_seed, cost_mode, grad_form, cost_every : int
    costs : ndarray float64
        Output, one entry per recorded epoch.

    Returns
    -------
    int
        The step counter after the last step.

    Raises
    ------
    ValueError
        A seed NumPy would reject, or arrays inconsistent with ``dims``.
    IndexError
        ``lrs`` or ``costs`` too short (NumPy would fail the same way, mid-run).
    """
    dims = np.array(dims, dtype=np.int64)     # a copy: writable, C-contiguous
    dims_l = dims.tolist()
    first_epoch, n_epochs, t = int(first_epoch), int(n_epochs), int(t)
    batch_size, cost_every = int(batch_size), int(cost_every)
    keep_prob, dropout_mode = float(keep_prob), int(dropout_mode)
    X = _in64(X)                              # writable C-contiguous float64 (or a copy)
    Y = _in64(Y)
    if Y.ndim != 2 or Y.shape[0] != 1:
        Y = Y.reshape(1, -1)
    lrs = _in64(lrs) if isinstance(lrs, np.ndarray) else np.array(lrs, dtype=np.float64)
    check_train_args(X, Y, dims_l, theta, opt_m, opt_v, first_epoch, n_epochs, lrs,
                     batch_size, shuffle_seed, keep_prob, dropout_mode, dropout_seed,
                     cost_every, costs)
    # the kernel draws the shuffles and compat masks from NumPy's legacy MT19937 stream
    # and leaves NumPy's own state where NumPy's loop would (after its last draw)
    uses_rng = n_epochs > 0 and (batch_size > 0 or (keep_prob < 1.0
                                                    and dropout_mode == DROPOUT_COMPAT))
    mt = _numpy_mt() if uses_rng else None
    if uses_rng and mt is None:
        # the global generator is not NumPy's MT19937: NumPy draws (as dropout_forward)
        return int(numpy_ref.train_mlp(
            X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs, optimizer,
            lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed, lambd, keep_prob,
            dropout_mode, dropout_seed, cost_mode, grad_form, cost_every, costs))
    if theta.dtype == np.float64:
        (th, om, ov), copied = _inplace(theta, opt_m, opt_v)
    else:
        th, om, ov = (_in64(a).reshape(-1).copy() for a in (theta, opt_m, opt_v))
        copied = True
    direct = (costs.flags.c_contiguous and costs.flags.writeable
              and costs.dtype == np.float64)
    costs_o = costs if direct else np.zeros(costs.shape, np.float64)
    args = (X, Y, dims, int(hidden), th, om, ov, first_epoch, n_epochs, int(optimizer), lrs,
            float(beta), float(beta1), float(beta2), float(eps), t, batch_size,
            int(shuffle_seed), float(lambd), keep_prob, dropout_mode,
            _seed64(dropout_seed), int(cost_mode), int(grad_form), cost_every,
            costs_o if costs_o.ndim == 1 else _flat(costs_o), int(TRAIN_BLAS_MIN_WORK),
            _train_hand_rows(dims_l, min(batch_size, X.shape[1]) if batch_size > 0
                             else X.shape[1]))
    if mt is None:
        t, used, pos = _mlp.train_kernel(*args, _KEY_UNUSED)
    else:
        bg, key, p = mt
        np.random.seed(0)      # clears the legacy Gaussian cache, as the notebook's seeding
        with bg.lock:
            t, used, pos = _mlp.train_kernel(*args, key)
            p[0] = pos
    if copied:
        _write_back((theta, opt_m, opt_v), (th, om, ov))
    if not direct:
        costs[...] = costs_o
    return int(t)


# --------------------------------------------------------------------------- warmup
def warmup(dtypes=(np.float64, np.float32)):
    """Compile (or load from the cache) the kernels for the common signatures.

    Calls every kernel, including the BLAS-path and parallel variants, on tiny arrays
    of each dtype. NumPy's global random state is restored afterwards.

    Parameters
    ----------
    dtypes : sequence of dtype
        Float dtypes to compile for.

    Returns
    -------
    float
        Seconds taken.
    """
    start = time.perf_counter()
    state = np.random.get_state()
    try:
        for dt in dtypes:
            _warm_one(np.dtype(dt))
        counter_uniform(1, 4)
        _rng.counter_fill_par(1, np.empty(4))
    finally:
        np.random.set_state(state)
    return time.perf_counter() - start


def _warm_one(dt):
    r = np.random.default_rng(0)
    A_prev = r.random((3, 5)).astype(dt)
    W = r.random((2, 3)).astype(dt)
    b = np.zeros((2, 1), dt)
    Z = np.empty((2, 5), dt)
    A = np.empty((2, 5), dt)
    for act in (LINEAR, RELU, SIGMOID, TANH):
        linear_act_forward(A_prev, W, b, act, Z, A)
    _lay.bias_act(Z, b.reshape(-1), RELU, A)
    _lay.dw_db_epilogue(Z, W, 0.5, 0.1, np.empty((2, 3), dt), np.empty(2, dt))
    if dt == np.float64:
        _gemm.gemm_lanes()
        C, sq, At = np.empty((3, 5)), r.random((3, 3)), A_prev.T.copy()
        for lt, rt, R in ((False, False, A_prev), (False, True, At), (True, False, A_prev)):
            _gemm.gemm_cols(sq, lt, R, rt, C, 0, 5)
            _gemm.gemm_last_row(sq, lt, R, rt, C)
    dZ = np.empty_like(Z)
    act_backward(A, Z, A, RELU, dZ)
    dW = np.empty_like(W)
    db = np.empty((2, 1), dt)
    dA = np.empty_like(A_prev)
    linear_backward(dZ, A_prev, W, 0.5, 0.1, dW, db, dA)
    linear_backward(dZ, A_prev, W, 0.5, 0.0, dW, db, None)
    linear_act_backward(A, Z, A, RELU, A_prev, W, 0.5, 0.1, dZ, dW, db, dA)
    Y = (r.random((1, 5)) > 0.5).astype(dt)
    AL = r.random((1, 5)).astype(dt)
    sigmoid_ce_backward(AL, Y, 0.2, np.empty_like(AL))
    for mode in (0, 1, 2):
        cross_entropy(AL, Y, mode)
    sum_squares(W)
    D = np.empty(A.shape, bool)
    dropout_forward(A, 0.8, DROPOUT_COMPAT, 1, D, A)
    dropout_forward(A, 0.8, 1, 1, D, A)
    _lay.dropout_fast_flat_par(A.reshape(-1), 0.8, 1, D.reshape(-1), A.reshape(-1))
    dropout_backward(A, D, 0.8, A)
    p = r.random(6).astype(dt)
    g = r.random(6).astype(dt)
    mm = np.zeros(6, dt)
    vv = np.zeros(6, dt)
    for shape in ((6,), (2, 3)):        # flat buffers, and the notebooks' 2-D arrays
        sgd_step(p.reshape(shape), g.reshape(shape), 0.1)
        momentum_step(p.reshape(shape), g.reshape(shape), mm.reshape(shape), 0.9, 0.1)
        adam_step(p.reshape(shape), g.reshape(shape), mm.reshape(shape), vv.reshape(shape),
                  1, 0.1, 0.9, 0.999, 1e-8)
    _lay.sgd_flat_par(p, g, 0.1)
    _lay.momentum_flat_par(p, g, mm, 0.9, 0.1)
    _lay.adam_flat_par(p, g, mm, vv, 0.1, 0.001, 0.1, 0.9, 0.999, 1e-8)
    dims = np.array([3, 2, 1], dtype=np.int64)      # network kernels run in float64
    theta = r.standard_normal(11).astype(dt)
    X = r.standard_normal((3, 5)).astype(dt)
    grad_check_mlp(theta, X, Y, dims, RELU, 1e-7, np.empty_like(theta))
    grad_check_mlp(theta, X[:, :1], Y[:, :1], dims, RELU, 1e-7, np.empty_like(theta))
    costs = np.zeros(2)
    lrs = np.full(2, 0.1)
    for batch, opt in ((0, OPT_GD), (2, OPT_ADAM), (2, OPT_MOMENTUM)):
        train_mlp(X, Y, dims, RELU, theta, np.zeros_like(theta), np.zeros_like(theta), 0, 2,
                  opt, lrs, 0.9, 0.9, 0.999, 1e-8, 0, batch, 0, 0.1, 0.8, DROPOUT_COMPAT, 1,
                  0, 0, 1, costs)
