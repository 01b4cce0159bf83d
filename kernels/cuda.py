"""CUDA backend: the kernel contract of :mod:`fastnn.kernels._spec` on the GPU.

Written with ``numba.cuda``. Runs on an NVIDIA GPU, or on the CPU under Numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1`` in the environment before numba is imported),
which is how the test suite checks it on machines without a GPU. Importing ``fastnn``
never imports this module; :func:`fastnn.kernels.get` imports it on first use and calls
:func:`check_available`, which raises a clear ``RuntimeError`` when neither a GPU nor
the simulator is there.

Host and device arrays
----------------------
Every public function accepts NumPy arrays or ``numba.cuda`` device arrays (anything
with ``__cuda_array_interface__`` on a real GPU), mixed freely:

* NumPy inputs are copied to the device (C-contiguous copies when they are strided or
  Fortran-ordered); NumPy outputs and in-place arguments are computed in device buffers
  and copied back into the caller's arrays (through a scratch copy when those are not
  C-contiguous), so ``out`` semantics and in-place updates are as on the other
  backends.
* Device arrays are used where they are: no host copies, results stay on the device.
  2-D device arrays may be strided views; arrays of other ranks must be C-contiguous.
  Launches on device arrays are asynchronous (the default stream orders them): call
  ``numba.cuda.synchronize()`` before timing them. A call with NumPy outputs, and every
  reduction, returns after the device has finished.

The compute
-----------
See :mod:`._cuda_kernels` for the kernels. In short:

* ``linear_act_forward``, ``linear_backward``: one fused kernel per product. Products
  with ``n_out * n_in * m >= TILED_MIN_WORK`` multiply-adds use the tiled kernels
  (``TILE x TILE`` thread blocks staging tiles of both operands in shared memory; the
  transposed operands of the backward products are read through swapped indices, never
  materialised); smaller ones use one thread per output element. The forward epilogue
  adds the bias and applies the activation; the ``dW`` epilogue applies ``scale`` and
  the L2 term, and the threads of column 0 write the ``db`` row sums.
* Elementwise kernels (activation derivative, sigmoid/cross-entropy gradient, dropout,
  optimizer steps) run one thread per element; ``adam_step`` reads ``p, g, m, v`` and
  writes ``p, m, v`` in one pass.
* ``cross_entropy`` and ``sum_squares``: ``G = min(REDUCE_THREADS, size)`` threads
  each add a strided subset in float64; the host adds the ``G`` partial sums.
* Fast dropout hashes ``(seed, flat index)`` with splitmix64 on the device: masks are
  bit-identical to ``counter_uniform`` on every backend. Compat dropout draws
  ``np.random.rand`` on the host (NumPy's global stream advances exactly as the
  notebook's) and copies the uniforms over.
* ``grad_check_mlp``: one thread per parameter; see :mod:`._cuda_mlp`.
* ``train_mlp``: a host loop launching the layer kernels, with data, parameters,
  optimizer state and every buffer on the device; see :mod:`._cuda_mlp`.

Numbers
-------
float64 results equal ``numpy_ref``'s to 1e-12 relative (sums are taken in another
order than BLAS's, so not bit for bit). float32 arrays stay float32 and the kernels
compute in float32 (``numpy_ref`` does too), except that reductions accumulate in
float64 and the gradient check runs in float64 (a float32 two-sided difference is
rounding noise); results are within 1e-5 of ``numpy_ref``'s. Kernels are compiled
without ``fastmath`` (the compiler may still contract a multiply and an add into one
FMA). Under the simulator the kernels run as Python on NumPy scalars, so float32
transcendentals are evaluated in double precision there and rounded on store.

Launch configuration (module constants, read at every call)
-----------------------------------------------------------
``THREADS_PER_BLOCK``
    Threads per block of the 1-D kernels (elementwise, one-thread-per-output products,
    reductions, the gradient check); at most 1024.
``TILE``
    Edge of the square thread blocks and shared-memory tiles of the tiled products
    (``TILE * TILE`` threads per block, so at most 32; ``2 * TILE**2`` elements of
    shared memory). Kernels are compiled once per tile edge.
``TILED_MIN_WORK``
    Products with at least this many multiply-adds use the tiled kernels.
``REDUCE_THREADS``
    Most threads (partial sums) of a reduction.
``GRAD_CHECK_CHUNK``
    Most parameters per gradient-check launch (each needs ``2 * max(dims)`` float64
    of scratch).

Kernels compile on first use, per dtype (and tile edge), with ``cache=True`` so a GPU
machine compiles them once.
"""

import contextlib
import os
import warnings

import numpy as np
from numba import config as _numba_config
from numba import cuda

from . import _cuda_kernels as _ck
from . import _cuda_mlp as _cmlp
from ._mlp import layer_views
from ._spec import CE_CLIP_EPS, CE_CLIP_EPS32, DROPOUT_COMPAT, FUNCTIONS

__all__ = list(FUNCTIONS) + ["layer_views", "check_available", "is_device_array"]

NAME = "cuda"

#: Threads per block of the 1-D kernels.
THREADS_PER_BLOCK = 256
#: Edge of the tiled products' square blocks and shared-memory tiles.
TILE = 16
#: Products of at least this many multiply-adds use the tiled shared-memory kernels.
TILED_MIN_WORK = 32768
#: Most partial sums (threads) of a reduction.
REDUCE_THREADS = 1024
#: Most parameters handled by one gradient-check launch.
GRAD_CHECK_CHUNK = 65536

_U64 = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB

_SIMULATOR = bool(_numba_config.ENABLE_CUDASIM)


# ----------------------------------------------------------------------------- availability
def check_available():
    """Raise unless a CUDA GPU or Numba's CUDA simulator can run the kernels.

    Raises
    ------
    RuntimeError
        When ``numba.cuda.is_available()`` is False: no usable GPU (or driver) and the
        simulator is off.
    """
    if cuda.is_available():
        return
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and not _SIMULATOR:
        hint = ("NUMBA_ENABLE_CUDASIM=1 was set after numba had been imported; set it "
                "before importing numba")
    else:
        hint = "set NUMBA_ENABLE_CUDASIM=1 before importing numba to use the CUDA simulator"
    raise RuntimeError(f"backend 'cuda' cannot be used: no CUDA GPU and the simulator "
                       f"is off ({hint})")


# ------------------------------------------------------------------- transfers and launches
def is_device_array(a):
    """Whether ``a`` is a CUDA device array (used in place, never copied to the host).

    Parameters
    ----------
    a : object

    Returns
    -------
    bool
        True for ``numba.cuda`` device arrays (real or simulated) and, on a GPU, for
        any object exposing ``__cuda_array_interface__``.
    """
    if getattr(a, "__cuda_ndarray__", False):
        return True
    return not _SIMULATOR and hasattr(a, "__cuda_array_interface__")


def _as_device(a):
    if getattr(a, "__cuda_ndarray__", False):
        return a
    return cuda.as_cuda_array(a)


class _Io:
    """Device buffers of one call: host inputs copied in, host outputs copied back.

    The same host array passed twice (an output that is also an input, an in-place
    update) gets one device buffer.
    """

    def __init__(self):
        self._bufs = {}
        self._outs = []

    def inp(self, a, dtype=None):
        if is_device_array(a):
            d = _as_device(a)
            if dtype is not None and d.dtype != np.dtype(dtype):
                d = _device_cast(d, dtype)
            return d
        key = id(a)
        if key in self._bufs:
            return self._bufs[key][1]
        h = np.ascontiguousarray(a, dtype=dtype)
        d = cuda.to_device(h)
        self._bufs[key] = (a, d)
        return d

    def out(self, a, copy_in=False):
        if is_device_array(a):
            return _as_device(a)
        key = id(a)
        if key in self._bufs:
            d = self._bufs[key][1]
        else:
            if copy_in:
                d = cuda.to_device(np.ascontiguousarray(a))
            else:
                d = cuda.device_array(a.shape, dtype=a.dtype)
            self._bufs[key] = (a, d)
        self._outs.append((a, d))
        return d

    def finish(self):
        for a, d in self._outs:
            if a.flags.c_contiguous and a.flags.writeable:
                d.copy_to_host(a)
            else:
                a[...] = d.copy_to_host()
        self._outs = []


def _2d(d, name="array"):
    """A 2-D view of device array ``d`` (2-D arrays as they are; others reshaped)."""
    if d.ndim == 2:
        return d
    if not d.is_c_contiguous():
        raise ValueError(f"{name}: device arrays that are not 2-D must be C-contiguous, "
                         f"got shape {d.shape} with strides {d.strides}")
    return d.reshape(1, d.size)


@contextlib.contextmanager
def _quiet():
    """Under the simulator, silence NumPy's scalar RuntimeWarnings of the kernel threads.

    The simulator runs kernels as Python on NumPy scalars, which warn where the GPU
    silently wraps (the uint64 hash) or gives inf/nan as NumPy's arrays would.
    """
    if not _SIMULATOR:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _launch(kernel, n, *args):
    """``kernel`` over a 1-D grid of at least ``n`` threads (nothing when ``n == 0``)."""
    if n <= 0:
        return
    tpb = int(THREADS_PER_BLOCK)
    with _quiet():
        kernel[(n + tpb - 1) // tpb, tpb](*args)


def _launch_tiled(kernel, rows, cols, *args):
    """``kernel`` over ``TILE x TILE`` blocks covering a ``rows x cols`` output."""
    if rows <= 0 or cols <= 0:
        return
    t = int(TILE)
    with _quiet():
        kernel[((cols + t - 1) // t, (rows + t - 1) // t), (t, t)](*args)


def _ew(dtype):
    return _ck.elementwise(np.dtype(dtype).str)


def _gm(dtype):
    return _ck.gemm(np.dtype(dtype).str, int(TILE))


_dummy_cache = {}


def _dummies():
    """Placeholder device arrays for unused kernel arguments (uniforms, mask)."""
    if "u" not in _dummy_cache:
        _dummy_cache["u"] = cuda.to_device(np.zeros((1, 1), np.float64))
        _dummy_cache["d"] = cuda.to_device(np.zeros((1, 1), np.bool_))
    return _dummy_cache["u"], _dummy_cache["d"]


def _device_cast(d, dtype):
    """A new device array: ``d`` converted to ``dtype`` on the device."""
    src = _2d(d)
    out = cuda.device_array(src.shape, dtype=dtype)
    _launch(_ck.cast2d, src.shape[0] * src.shape[1], src, out)
    return out if d.ndim == 2 else out.reshape(d.shape)


def _seed_key(seed):
    """The counter stream key ``splitmix64(seed + golden)`` of ``seed`` (mod 2**64)."""
    x = (int(seed) + _GOLDEN) & _U64
    x ^= x >> 30
    x = (x * _MIX1) & _U64
    x ^= x >> 27
    x = (x * _MIX2) & _U64
    return np.uint64(x ^ (x >> 31))


def _reduce_threads(size):
    return max(1, min(int(REDUCE_THREADS), int(size)))


# ------------------------------------------------------------------- device-level layer ops
def _forward(W, X, b, act, Z, A, drop=0, U=None, key=0, keep=1.0, D=None):
    """``Z = W @ X + b``, ``A = g(Z)`` (+ dropout when ``drop``) on device arrays."""
    n, k = W.shape
    m = X.shape[1]
    dt = Z.dtype
    ud, dd = _dummies()
    args = (W, X, b, int(act), Z, A, int(drop), ud if U is None else U, np.uint64(key),
            float(keep), dt.type(keep), dd if D is None else D)
    g = _gm(dt)
    if n * k * m >= TILED_MIN_WORK:
        _launch_tiled(g["fwd_tiled"], n, m, *args)
    else:
        _launch(g["fwd_naive"], n * m, *args)


def _weight_grads(dZ, Ap, W, scale, l2, dW, db):
    """``dW = scale dZ Ap^T + l2 W``, ``db = scale rowsum(dZ)`` on device arrays."""
    n, k = dW.shape
    m = dZ.shape[1]
    dt = dW.dtype
    args = (dZ, Ap, W, dt.type(scale), bool(scale != 1.0), dt.type(l2), bool(l2 != 0.0),
            dW, db)
    g = _gm(dt)
    if n * k * m >= TILED_MIN_WORK:
        _launch_tiled(g["dw_tiled"], n, k, *args)
    else:
        _launch(g["dw_naive"], n * k, *args)


def _input_grad(W, dZ, dA, fuse=False, D=None, keep=1.0, Zp=None, Ap=None, act=0):
    """``dA = W^T dZ`` on device arrays; fused: ``g'(Zp) * (mask * dA / keep)``."""
    n, k = W.shape
    m = dZ.shape[1]
    dt = dA.dtype
    _, dd = _dummies()
    args = (W, dZ, bool(fuse), D is not None, dd if D is None else D, dt.type(keep),
            dA if Zp is None else Zp, dA if Ap is None else Ap, int(act), dA)
    g = _gm(dt)
    if n * k * m >= TILED_MIN_WORK:
        _launch_tiled(g["da_tiled"], k, m, *args)
    else:
        _launch(g["da_naive"], k * m, *args)


def _ce_partials(A, Y, mode, part):
    dt = A.dtype
    eps = CE_CLIP_EPS32 if dt == np.float32 else CE_CLIP_EPS
    _launch(_ew(dt)["ce_partials"], part.shape[0], A, Y, int(mode), dt.type(eps),
            dt.type(1 - eps), part)


def _sumsq_partials(x, part):
    _launch(_ew(x.dtype)["sumsq_partials"], part.shape[0], x, part)


# ----------------------------------------------------------------------------------- layers
def linear_act_forward(A_prev, W, b, act, Z, A):
    """Write ``Z = W @ A_prev + b`` and ``A = g(Z)`` with one fused kernel.

    Parameters
    ----------
    A_prev : ndarray or device array (n_in, m)
    W : ndarray or device array (n_out, n_in)
    b : ndarray or device array (n_out, 1)
    act : int
        Activation code (LINEAR, RELU, SIGMOID, TANH).
    Z, A : ndarray or device array (n_out, m)
        Outputs, written in place.
    """
    io = _Io()
    Xd, Wd, bd = io.inp(A_prev), io.inp(W), io.inp(b)
    bd = bd if bd.ndim == 2 else bd.reshape(bd.size, 1)
    Zd, Ad = io.out(Z), io.out(A)
    _forward(Wd, Xd, bd, act, Zd, Ad)
    io.finish()


def act_backward(dA, Z, A, act, dZ):
    """Write ``dZ = dA * g'(Z)`` (tanh: ``dA * (1 - A**2)``).

    Parameters
    ----------
    dA, Z, A : ndarray or device array
        Same 2-D shape; ``A`` is only read for tanh.
    act : int
        Activation code.
    dZ : ndarray or device array
        Output, written in place (may be ``dA``).
    """
    io = _Io()
    _act_backward(io, dA, Z, A, act, dZ)
    io.finish()


def _act_backward(io, dA, Z, A, act, dZ):
    """:func:`act_backward` on ``io``'s device buffers; returns ``dZ``'s."""
    dAd, Zd, Ad = io.inp(dA), io.inp(Z), io.inp(A)
    out = io.out(dZ)
    o2 = _2d(out, "dZ")
    _launch(_ew(o2.dtype)["act_backward"], o2.shape[0] * o2.shape[1], _2d(dAd, "dA"),
            _2d(Zd, "Z"), _2d(Ad, "A"), int(act), o2)
    return out


def linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA_prev):
    """Write ``dW = scale dZ A_prev^T + l2 W``, ``db = scale rowsum(dZ)``, ``dA_prev``.

    Parameters
    ----------
    dZ : ndarray or device array (n_out, m)
    A_prev : ndarray or device array (n_in, m)
    W : ndarray or device array (n_out, n_in)
    scale, l2 : float
    dW : ndarray or device array (n_out, n_in)
        Output.
    db : ndarray or device array (n_out, 1)
        Output.
    dA_prev : ndarray or device array (n_in, m) or None
        Output ``W.T @ dZ``; skipped when None.
    """
    io = _Io()
    _linear_backward(io, io.inp(dZ), A_prev, W, scale, l2, dW, db, dA_prev)
    io.finish()


def _linear_backward(io, dZd, A_prev, W, scale, l2, dW, db, dA_prev):
    """:func:`linear_backward` of the device array ``dZd``, on ``io``'s buffers."""
    Apd, Wd = io.inp(A_prev), io.inp(W)
    dWd, dbd = io.out(dW), io.out(db)
    dbd = dbd if dbd.ndim == 2 else dbd.reshape(dbd.size, 1)
    _weight_grads(dZd, Apd, Wd, float(scale), float(l2), dWd, dbd)
    if dA_prev is not None:
        _input_grad(Wd, dZd, io.out(dA_prev))


def linear_act_backward(dA, Z, A, act, A_prev, W, scale, l2, dZ, dW, db, dA_prev):
    """:func:`act_backward` into ``dZ``, then :func:`linear_backward`, with ``dZ`` kept
    on the device in between.

    Parameters
    ----------
    dA, Z, A : ndarray or device array (n_out, m)
        As for :func:`act_backward`.
    act : int
        Activation code.
    A_prev : ndarray or device array (n_in, m)
    W : ndarray or device array (n_out, n_in)
    scale, l2 : float
    dZ : ndarray or device array (n_out, m)
        Output ``dA * g'(Z)`` (may be ``dA``).
    dW, db, dA_prev : ndarray or device array
        Outputs, as for :func:`linear_backward` (``dA_prev`` may be None).
    """
    io = _Io()
    dZd = _act_backward(io, dA, Z, A, act, dZ)
    _linear_backward(io, dZd, A_prev, W, scale, l2, dW, db, dA_prev)
    io.finish()


def sigmoid_ce_backward(A, Y, scale, dZ):
    """Write ``dZ = scale * (A - Y)`` (``A - Y`` when ``scale == 1``).

    Parameters
    ----------
    A, Y : ndarray or device array (1, m)
    scale : float
    dZ : ndarray or device array (1, m)
        Output.
    """
    io = _Io()
    if not is_device_array(A) and not is_device_array(Y):
        A, Y = np.broadcast_arrays(A, Y)
    Ad, Yd = io.inp(A), io.inp(Y)
    out = _2d(io.out(dZ), "dZ")
    dt = out.dtype
    _launch(_ew(dt)["sigmoid_ce_backward"], out.shape[0] * out.shape[1], _2d(Ad, "A"),
            _2d(Yd, "Y"), dt.type(scale), bool(scale != 1.0), out)
    io.finish()


def cross_entropy(A, Y, mode):
    """Mean binary cross-entropy ``(1/m) sum(-log(A) Y - log(1-A)(1-Y))``.

    Parameters
    ----------
    A, Y : ndarray or device array (1, m)
        Predictions and labels.
    mode : int
        CE_SUM (a saturated prediction gives inf or nan), CE_NANSUM, CE_CLIPPED, or
        CE_LOGITS (``A`` holds the logits ``Z``; finite for every finite ``Z``).

    Returns
    -------
    float
        Partial sums are taken on the device in float64 and added on the host.
    """
    m = Y.shape[1]
    io = _Io()
    if not is_device_array(A) and not is_device_array(Y):
        A, Y = np.broadcast_arrays(A, Y)
    Ad, Yd = _2d(io.inp(A), "A"), _2d(io.inp(Y), "Y")
    part = cuda.device_array(_reduce_threads(Ad.shape[0] * Ad.shape[1]), np.float64)
    _ce_partials(Ad, Yd, mode, part)
    total = float(np.sum(part.copy_to_host()))
    return float(1.0 / m * total)


def sum_squares(x):
    """``np.sum(np.square(x))`` as a Python float.

    Parameters
    ----------
    x : ndarray or device array

    Returns
    -------
    float
        Partial sums are taken on the device in float64 and added on the host.
    """
    if is_device_array(x):
        xd = _2d(_as_device(x), "x")
    else:
        xd = cuda.to_device(np.ascontiguousarray(x).reshape(1, -1))
    size = xd.shape[0] * xd.shape[1]
    if size == 0:
        return 0.0
    part = cuda.device_array(_reduce_threads(size), np.float64)
    _sumsq_partials(xd, part)
    return float(np.sum(part.copy_to_host()))


# ---------------------------------------------------------------------------------- dropout
def counter_uniform(seed, n):
    """``n`` uniforms in [0, 1) from the splitmix64 hash of ``(seed, index)``.

    Parameters
    ----------
    seed : int
        Any integer (taken modulo 2**64).
    n : int

    Returns
    -------
    ndarray (n,) float64
        Computed on the device; bit-identical to ``numpy_ref.counter_uniform(seed, n)``.
    """
    n = int(n)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    out = cuda.device_array(n, dtype=np.float64)
    _launch(_ck.counter_fill, n, _seed_key(seed), out)
    return out.copy_to_host()


def dropout_forward(A, keep_prob, mode, seed, D, A_out):
    """Write the mask ``D = U < keep_prob`` and ``A_out = A * D / keep_prob``.

    Parameters
    ----------
    A : ndarray or device array (n, m)
    keep_prob : float
    mode : int
        DROPOUT_COMPAT: ``U`` is drawn on the host with ``np.random.rand(n, m)`` (NumPy's
        global stream advances exactly as the notebook's; ``seed`` ignored) and copied
        to the device. DROPOUT_FAST: ``U = counter_uniform(seed, n * m)`` computed on
        the device; NumPy's stream is not touched.
    seed : int
    D : ndarray or device array (n, m) bool
        Output mask.
    A_out : ndarray or device array (n, m)
        Output; may be ``A`` itself.
    """
    io = _Io()
    Ad = _2d(io.inp(A), "A")
    Dd = _2d(io.out(D), "D")
    Ao = _2d(io.out(A_out), "A_out")
    dt = Ao.dtype
    ud, _ = _dummies()
    if mode == DROPOUT_COMPAT:
        U = cuda.to_device(np.random.rand(Ad.shape[0], Ad.shape[1]))
        use_u, key = True, np.uint64(0)
    else:
        U, use_u, key = ud, False, _seed_key(seed)
    _launch(_ew(dt)["dropout_forward"], Ad.shape[0] * Ad.shape[1], Ad, U, use_u, key,
            float(keep_prob), dt.type(keep_prob), Dd, Ao)
    io.finish()


def dropout_backward(dA, D, keep_prob, dA_out):
    """Write ``dA_out = dA * D / keep_prob``.

    Parameters
    ----------
    dA : ndarray or device array
    D : ndarray or device array, bool
    keep_prob : float
    dA_out : ndarray or device array
        Output; may be ``dA``.
    """
    io = _Io()
    dAd, Dd = _2d(io.inp(dA), "dA"), _2d(io.inp(D), "D")
    out = _2d(io.out(dA_out), "dA_out")
    dt = out.dtype
    _launch(_ew(dt)["dropout_backward"], out.shape[0] * out.shape[1], dAd, Dd,
            dt.type(keep_prob), out)
    io.finish()


# ------------------------------------------------------------------------------- optimizers
def sgd_step(p, g, lr):
    """In place: ``p -= lr * g``.

    Parameters
    ----------
    p : ndarray or device array
        Parameters, updated in place (any shape).
    g : ndarray or device array
        Gradient, same shape.
    lr : float
    """
    io = _Io()
    pd = _2d(io.out(p, copy_in=True), "p")
    gd = _2d(io.inp(g), "g")
    dt = pd.dtype
    _launch(_ew(dt)["sgd"], pd.shape[0] * pd.shape[1], pd, gd, dt.type(lr))
    io.finish()


def momentum_step(p, g, v, beta, lr):
    """In place: ``v = beta v + (1 - beta) g``; ``p -= lr v``.

    Parameters
    ----------
    p, v : ndarray or device array
        Parameters and velocity, updated in place.
    g : ndarray or device array
    beta, lr : float
    """
    io = _Io()
    pd = _2d(io.out(p, copy_in=True), "p")
    vd = _2d(io.out(v, copy_in=True), "v")
    gd = _2d(io.inp(g), "g")
    dt = pd.dtype
    _launch(_ew(dt)["momentum"], pd.shape[0] * pd.shape[1], pd, gd, vd, dt.type(beta),
            dt.type(1 - beta), dt.type(lr))
    io.finish()


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """In place Adam step with bias correction by ``t`` (eps outside the square root).

    Parameters
    ----------
    p, m, v : ndarray or device array
        Parameters and moments, updated in place in one pass.
    g : ndarray or device array
    t : int
        Step counter (>= 1).
    lr, beta1, beta2, eps : float
    """
    io = _Io()
    pd = _2d(io.out(p, copy_in=True), "p")
    md = _2d(io.out(m, copy_in=True), "m")
    vd = _2d(io.out(v, copy_in=True), "v")
    gd = _2d(io.inp(g), "g")
    _adam(pd, gd, md, vd, t, lr, beta1, beta2, eps)
    io.finish()


def _adam(p, g, m, v, t, lr, beta1, beta2, eps):
    dt = p.dtype.type
    _launch(_ew(p.dtype)["adam"], p.shape[0] * p.shape[1], p, g, m, v, dt(beta1),
            dt(1 - beta1), dt(beta2), dt(1 - beta2), dt(1 - beta1**t), dt(1 - beta2**t),
            dt(lr), dt(eps))


# --------------------------------------------------------------------------------- networks
def grad_check_mlp(theta, X, Y, dims, hidden, epsilon, gradapprox):
    """Two-sided differences of the MLP cost for every parameter, one thread each.

    Parameters
    ----------
    theta : ndarray or device array (P,)
        Flat parameters (W1 in C order, b1, W2, b2, ...); left unchanged.
    X : ndarray or device array (n_x, m)
    Y : ndarray or device array (1, m)
    dims : sequence of int
        Layer sizes.
    hidden : int
        Hidden activation code; the output is sigmoid.
    epsilon : float
    gradapprox : ndarray or device array (P,)
        Output ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``; computed in
        float64 and rounded to its dtype.
    """
    _cmlp.grad_check(_this(), theta, X, Y, dims, hidden, epsilon, gradapprox)


def train_mlp(X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch, n_epochs, optimizer,
              lrs, beta, beta1, beta2, eps, t, batch_size, shuffle_seed, lambd, keep_prob,
              dropout_mode, dropout_seed, cost_mode, grad_form, cost_every, costs):
    """Train the MLP in place on the device, the notebook way.

    Same arguments and numbers as ``numpy_ref.train_mlp`` (see the contract in
    :mod:`fastnn.kernels._spec`). Data, parameters, optimizer state and all work
    buffers stay on the device for the whole run; only the recorded costs and (for
    NumPy arguments) the final ``theta``, ``opt_m``, ``opt_v`` are copied back. NumPy's
    global legacy stream is left where the NumPy loop leaves it.

    Parameters
    ----------
    X : ndarray or device array (n_x, m)
    Y : ndarray or device array (1, m)
    dims : sequence of int
    hidden : int
    theta, opt_m, opt_v : ndarray or device array (P,)
        Updated in place; float32 trains in float32.
    first_epoch, n_epochs : int
    optimizer : int
    lrs : sequence of float
        Learning rate of every epoch (indexed by absolute epoch).
    beta, beta1, beta2, eps : float
    t : int
        Step counter before the first step.
    batch_size : int
        0 for full batch.
    shuffle_seed : int
    lambd, keep_prob : float
    dropout_mode, dropout_seed, cost_mode, grad_form, cost_every : int
    costs : ndarray or device array
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
    return _cmlp.train(_this(), X, Y, dims, hidden, theta, opt_m, opt_v, first_epoch,
                      n_epochs, optimizer, lrs, beta, beta1, beta2, eps, t, batch_size,
                      shuffle_seed, lambd, keep_prob, dropout_mode, dropout_seed,
                      cost_mode, grad_form, cost_every, costs)


def _this():
    import sys
    return sys.modules[__name__]
