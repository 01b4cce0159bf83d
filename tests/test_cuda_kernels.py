"""The CUDA backend (``fastnn.kernels.cuda``) against the NumPy oracle ``numpy_ref``.

Run it under Numba's CUDA simulator on a machine without a GPU::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/test_cuda_kernels.py

Without the simulator and without a GPU the module is skipped (the plain ``pytest`` run
does that); with a GPU it runs on the GPU.

The simulator runs every CUDA thread as a Python thread, so the tests keep grids small:
an autouse fixture shrinks the launch configuration (32 threads per block, 4 x 4 tiles,
8 reduction threads), which also makes small shapes span several blocks and tiles. The
tests that take the ``default_config`` fixture run with the module's own settings.
Products take the one-thread-per-output kernels at these sizes unless a test forces the
tiled kernels (``TILED_MIN_WORK = 0``); the layer tests run both.

Tolerances follow the contract (``kernels/_spec.py``): float64 results equal
``numpy_ref``'s to 1e-12 relative (sums of products compared at the scale of their
terms, as in ``test_kernels_cpu.py``), float32 to 1e-5; masks, NumPy's global random
state and ``counter_uniform`` are compared bit for bit. The façade passes C-contiguous
arrays; the wrappers also accept Fortran-ordered and strided NumPy arrays (copied), which
is tested too.
"""

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    from numba import cuda as _numba_cuda

    if not _numba_cuda.is_available():
        pytest.skip("numba.cuda is unusable here: no CUDA GPU and NUMBA_ENABLE_CUDASIM is "
                    "not '1' (run: NUMBA_ENABLE_CUDASIM=1 python -m pytest "
                    "tests/test_cuda_kernels.py)", allow_module_level=True)

from fastnn.kernels import _mlp, _spec, numpy_ref
from numba import cuda

import fastnn
from fastnn import kernels

try:
    import test_seed_values as tsv
except ImportError:  # tests/ made a package: import through it
    from tests import test_seed_values as tsv

C = kernels.get("cuda")
NUMBA = kernels.get("numba")

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]
ACTS = [_spec.LINEAR, _spec.RELU, _spec.SIGMOID, _spec.TANH]
DEFAULTS = {name: getattr(C, name) for name in
            ("THREADS_PER_BLOCK", "TILE", "TILED_MIN_WORK", "REDUCE_THREADS",
             "GRAD_CHECK_CHUNK")}


@pytest.fixture(autouse=True)
def small_launches(monkeypatch, request):
    """Small blocks and tiles for the simulator, unless the test asks for the defaults."""
    if "default_config" not in request.fixturenames:
        monkeypatch.setattr(C, "THREADS_PER_BLOCK", 32)
        monkeypatch.setattr(C, "TILE", 4)
        monkeypatch.setattr(C, "REDUCE_THREADS", 8)
    yield


@pytest.fixture
def default_config():
    """Run with the module's own launch configuration."""


@pytest.fixture
def tiled(monkeypatch):
    monkeypatch.setattr(C, "TILED_MIN_WORK", 0)


def close(actual, expected, dtype=np.float64, rtol=None, atol=0.0):
    """``assert_allclose`` at the contract's tolerance for ``dtype`` (NaN equals NaN)."""
    rtol = RTOL[np.dtype(dtype).type] if rtol is None else rtol
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


def same_state(s1, s2):
    """Two ``np.random.get_state()`` tuples are identical (key, pos, Gaussian cache)."""
    assert s1[0] == s2[0]
    np.testing.assert_array_equal(s1[1], s2[1])
    assert s1[2:] == s2[2:]


def host(a):
    return a.copy_to_host() if cuda_array(a) else np.asarray(a)


def cuda_array(a):
    return C.is_device_array(a)


# --------------------------------------------------------------------------------------
# Registry and availability
# --------------------------------------------------------------------------------------

def test_cuda_registry_returns_the_module_with_every_kernel():
    assert C.NAME == "cuda"
    for name in _spec.FUNCTIONS:
        assert callable(getattr(C, name)) and name in C.__all__
        assert getattr(C, name).__doc__
    assert C.layer_views is _mlp.layer_views
    assert "cuda" in kernels.available()
    C.check_available()                      # usable here: no exception


_AVAILABILITY_SCRIPT = textwrap.dedent("""
    import sys
    import fastnn
    from fastnn import kernels
    assert "numba.cuda" not in sys.modules, "import fastnn imported numba.cuda"
    try:
        kernels.get("cuda")
    except RuntimeError as exc:
        print("ERROR:", exc)
    else:
        print("AVAILABLE")
""")


def test_cuda_check_available_without_gpu_or_simulator():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", _AVAILABILITY_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "AVAILABLE":
        pytest.skip("a CUDA GPU is present: the backend is available without the simulator")
    assert ("ERROR: backend 'cuda' cannot be used: no CUDA GPU and the simulator is off "
            "(set NUMBA_ENABLE_CUDASIM=1 before importing numba") in out.stdout


def test_cuda_use_backend_fails_cleanly_without_gpu_or_simulator():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    script = textwrap.dedent("""
        import fastnn, pytest
        try:
            with fastnn.use_backend("cuda"):
                pass
        except RuntimeError as exc:
            print("ERROR:", exc)
        else:
            print("AVAILABLE")
        print(fastnn.get_backend())
    """)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    if lines[0] == "AVAILABLE":
        pytest.skip("a CUDA GPU is present")
    assert lines[0].startswith("ERROR: backend 'cuda' cannot be used")
    assert lines[1] != "cuda"                 # the failed selection left no trace


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------

FORWARD_CASES = [((1, 1, 1), _spec.RELU), ((5, 4, 3), _spec.SIGMOID),
                 ((3, 5, 1), _spec.TANH), ((1, 3, 7), _spec.LINEAR),
                 ((6, 9, 5), _spec.RELU), ((2, 1, 6), _spec.SIGMOID)]


def _forward_case(shape, dtype, seed):
    n_out, n_in, m = shape
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_in, m)).astype(dtype),
            rng.standard_normal((n_out, n_in)).astype(dtype),
            rng.standard_normal((n_out, 1)).astype(dtype))


def _check_forward(A_prev, W, b, act, dtype):
    n_out, m = W.shape[0], A_prev.shape[1]
    Z1, A1, Z2, A2 = (np.empty((n_out, m), dtype) for _ in range(4))
    numpy_ref.linear_act_forward(A_prev, W, b, act, Z1, A1)
    C.linear_act_forward(A_prev, W, b, act, Z2, A2)
    assert Z2.dtype == dtype and A2.dtype == dtype
    scale = np.abs(W).astype(float) @ np.abs(A_prev).astype(float) + np.abs(b)
    close(Z2, Z1, dtype, atol=RTOL[dtype] * scale.max())
    close(A2, A1, dtype, atol=RTOL[dtype] * max(1.0, np.abs(A1).max()))


@pytest.mark.parametrize("path", ["naive", "tiled"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, act", FORWARD_CASES)
def test_cuda_linear_act_forward(shape, act, dtype, path, monkeypatch):
    if path == "tiled":
        monkeypatch.setattr(C, "TILED_MIN_WORK", 0)
    A_prev, W, b = _forward_case(shape, dtype, sum(shape) + act)
    _check_forward(A_prev, W, b, act, dtype)


def test_cuda_linear_act_forward_every_activation_both_paths(monkeypatch):
    A_prev, W, b = _forward_case((3, 6, 5), np.float64, 11)
    A_prev[0, 0] = 800.0                 # saturates the sigmoid: exp overflow gives 0
    W[0, 0] = -1.0
    for threshold in (0, 10**9):
        monkeypatch.setattr(C, "TILED_MIN_WORK", threshold)
        for act in ACTS:
            with np.errstate(over="ignore"):
                _check_forward(A_prev, W, b, act, np.float64)


def test_cuda_linear_act_forward_default_tile(default_config, tiled):
    # TILE = 16: a k dimension over one tile, output not a multiple of the tile
    A_prev, W, b = _forward_case((3, 18, 5), np.float64, 5)
    _check_forward(A_prev, W, b, _spec.TANH, np.float64)


def test_cuda_forward_accepts_fortran_and_strided_host_arrays(tiled):
    A_prev, W, b = _forward_case((4, 6, 5), np.float64, 3)
    Z1, A1 = np.empty((4, 5)), np.empty((4, 5))
    numpy_ref.linear_act_forward(A_prev, W, b, _spec.RELU, Z1, A1)
    Zbig, Abig = np.zeros((4, 10)), np.zeros((4, 10), order="F")
    C.linear_act_forward(np.asfortranarray(A_prev), np.asfortranarray(W), b,
                         _spec.RELU, Zbig[:, ::2], Abig[:, 1::2])
    close(Zbig[:, ::2], Z1, atol=1e-13)
    close(Abig[:, 1::2], A1, atol=1e-13)
    assert not Zbig[:, 1::2].any() and not Abig[:, ::2].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_cuda_act_backward(act, dtype):
    rng = np.random.default_rng(act)
    Z = rng.standard_normal((3, 7)).astype(dtype)
    Z[0, :3] = 0.0                      # ReLU's derivative at exactly 0
    A = np.empty_like(Z)
    numpy_ref.linear_act_forward(Z, np.eye(3, dtype=dtype), np.zeros((3, 1), dtype), act,
                                 np.empty_like(Z), A)
    dA = rng.standard_normal(Z.shape).astype(dtype)
    dZ1, dZ2 = np.empty_like(Z), np.empty_like(Z)
    numpy_ref.act_backward(dA, Z, A, act, dZ1)
    C.act_backward(dA, Z, A, act, dZ2)
    close(dZ2, dZ1, dtype)
    C.act_backward(dA, Z, A, act, dA)            # in place
    close(dA, dZ1, dtype)


BACKWARD_SHAPES = [(1, 1, 1), (5, 4, 3), (1, 3, 9), (3, 1, 7), (2, 5, 1), (6, 7, 10)]


@pytest.mark.parametrize("path", ["naive", "tiled"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BACKWARD_SHAPES)
def test_cuda_linear_backward(shape, dtype, path, monkeypatch):
    if path == "tiled":
        monkeypatch.setattr(C, "TILED_MIN_WORK", 0)
    n_out, n_in, m = shape
    rng = np.random.default_rng(sum(shape))
    dZ = rng.standard_normal((n_out, m)).astype(dtype)
    A_prev = rng.standard_normal((n_in, m)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    for scale, l2 in ((1.0, 0.0), (1.0 / m, 0.7 / m)):
        outs = []
        for K in (numpy_ref, C):
            dW = np.empty((n_out, n_in), dtype)
            db = np.empty((n_out, 1), dtype)
            dA = np.empty((n_in, m), dtype)
            K.linear_backward(dZ, A_prev, W, scale, l2, dW, db, dA)
            outs.append((dW, db, dA))
        (dW1, db1, dA1), (dW2, db2, dA2) = outs
        sw = (np.abs(dZ).astype(float) @ np.abs(A_prev).astype(float).T).max() * scale
        close(dW2, dW1, dtype, atol=RTOL[dtype] * (sw + l2 * np.abs(W).max()))
        close(db2, db1, dtype, atol=RTOL[dtype] * np.abs(dZ).sum(axis=1).max() * scale)
        sa = (np.abs(W).astype(float).T @ np.abs(dZ).astype(float)).max()
        close(dA2, dA1, dtype, atol=RTOL[dtype] * sa)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_cuda_linear_act_backward(act, dtype):
    # both steps in one call, dZ kept on the device between them; host and device
    # outputs, with and without dA_prev
    from numba import cuda

    n_out, n_in, m = 3, 4, 7
    rng = np.random.default_rng(act)
    Z = rng.standard_normal((n_out, m)).astype(dtype)
    Z[0, :3] = 0.0
    A = np.empty_like(Z)
    numpy_ref.linear_act_forward(Z, np.eye(n_out, dtype=dtype), np.zeros((n_out, 1), dtype),
                                 act, np.empty_like(Z), A)
    dA = rng.standard_normal(Z.shape).astype(dtype)
    A_prev = rng.standard_normal((n_in, m)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    want = [np.empty((n_out, m), dtype), np.empty((n_out, n_in), dtype),
            np.empty((n_out, 1), dtype), np.empty((n_in, m), dtype)]
    numpy_ref.linear_act_backward(dA, Z, A, act, A_prev, W, 1 / m, 0.1, *want)
    tol = [RTOL[dtype] * 10 * (1 + np.abs(w).max()) for w in want]
    for on_device in (False, True):
        got = [np.full_like(w, np.nan) for w in want]
        outs = [cuda.to_device(g) for g in got] if on_device else got
        C.linear_act_backward(dA, Z, A, act, A_prev, W, 1 / m, 0.1, *outs)
        if on_device:
            got = [o.copy_to_host() for o in outs]
        for g, w, t in zip(got, want, tol):
            close(g, w, dtype, atol=t)
    got = [np.full_like(w, np.nan) for w in want[:3]]
    C.linear_act_backward(dA, Z, A, act, A_prev, W, 1 / m, 0.1, *got, None)
    for g, w, t in zip(got, want, tol):
        close(g, w, dtype, atol=t)


def test_cuda_linear_backward_default_tile(default_config, tiled):
    rng = np.random.default_rng(8)
    dZ, A_prev, W = (rng.standard_normal(s) for s in ((3, 18), (2, 18), (3, 2)))
    got = [np.empty((3, 2)), np.empty((3, 1)), np.empty((2, 18))]
    want = [np.empty((3, 2)), np.empty((3, 1)), np.empty((2, 18))]
    numpy_ref.linear_backward(dZ, A_prev, W, 1 / 18, 0.1, *want)
    C.linear_backward(dZ, A_prev, W, 1 / 18, 0.1, *got)
    for g, w in zip(got, want):
        close(g, w, atol=1e-14)


def test_cuda_linear_backward_without_dA_prev_and_into_views():
    rng = np.random.default_rng(7)
    dZ, A_prev, W = (rng.standard_normal(s) for s in ((3, 9), (4, 9), (3, 4)))
    dW1, db1 = np.empty((3, 4)), np.empty((3, 1))
    numpy_ref.linear_backward(dZ, A_prev, W, 0.02, 0.01, dW1, db1, None)
    flat = np.zeros(3 * 4 + 3)              # dW and db as views of a flat gradient
    dW2, db2 = flat[:12].reshape(3, 4), flat[12:].reshape(3, 1)
    C.linear_backward(dZ, A_prev, W, 0.02, 0.01, dW2, db2, None)
    close(dW2, dW1, atol=1e-15)
    close(db2, db1, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 1.0 / 37])
def test_cuda_sigmoid_ce_backward(scale, dtype):
    rng = np.random.default_rng(1)
    A = rng.random((1, 37)).astype(dtype)
    Y = (rng.random((1, 37)) > 0.5).astype(dtype)
    dZ1, dZ2 = np.empty_like(A), np.empty_like(A)
    numpy_ref.sigmoid_ce_backward(A, Y, scale, dZ1)
    C.sigmoid_ce_backward(A, Y, scale, dZ2)
    close(dZ2, dZ1, dtype)


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [_spec.CE_SUM, _spec.CE_NANSUM, _spec.CE_CLIPPED])
@pytest.mark.parametrize("m", [1, 7, 50])
def test_cuda_cross_entropy(m, mode, dtype):
    rng = np.random.default_rng(m)
    A = rng.random((1, m)).astype(dtype)
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    got = C.cross_entropy(A, Y, mode)
    assert isinstance(got, float)
    close(got, numpy_ref.cross_entropy(A, Y, mode), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 7, 50])
def test_cuda_cross_entropy_logits(m, dtype):
    rng = np.random.default_rng(m + 3)
    Z = (rng.standard_normal((1, m)) * 40).astype(dtype)
    Z[0, 0] = 900.0 if dtype == np.float64 else 80.0       # exp would overflow
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    got = C.cross_entropy(Z, Y, _spec.CE_LOGITS)
    assert np.isfinite(got)
    close(got, numpy_ref.cross_entropy(Z, Y, _spec.CE_LOGITS), dtype)


def test_cuda_train_logits_cost():
    _compare_training(5, data=SMALL, dims=[2, 5, 3, 1], lr=0.3, cost_mode=_spec.CE_LOGITS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [_spec.CE_SUM, _spec.CE_NANSUM, _spec.CE_CLIPPED])
def test_cuda_cross_entropy_saturated_predictions(mode, dtype):
    Y = np.array([[1, 0, 1, 0, 1, 0, 1, 1]], dtype)
    cases = [
        np.array([[1, 0, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),  # 0*log(0): nan in sum
        np.array([[0, 0, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),  # log(0) * 1: inf
        np.array([[0, 1, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),
        np.array([[1 - 1e-9, 1e-9, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),
    ]
    with np.errstate(all="ignore"):
        for A in cases:
            got = C.cross_entropy(A, Y, mode)
            want = numpy_ref.cross_entropy(A, Y, mode)
            if np.isfinite(want):
                close(got, want, dtype)
            else:
                np.testing.assert_equal(got, want)       # the same inf or nan


@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_sum_squares(dtype):
    rng = np.random.default_rng(2)
    for shape in ((20, 2), (1, 1), (13, 7)):
        x = rng.standard_normal(shape).astype(dtype)
        close(C.sum_squares(x), numpy_ref.sum_squares(x), dtype)
        close(C.sum_squares(x.T), numpy_ref.sum_squares(x.T), dtype)
        close(C.sum_squares(x[::2]), numpy_ref.sum_squares(x[::2]), dtype)
        close(C.sum_squares(x.ravel()), numpy_ref.sum_squares(x), dtype)


def test_cuda_reductions_default_config(default_config):
    rng = np.random.default_rng(3)
    A = rng.random((1, 40))
    Y = (rng.random((1, 40)) > 0.5) * 1.0
    close(C.cross_entropy(A, Y, _spec.CE_SUM), numpy_ref.cross_entropy(A, Y, _spec.CE_SUM))
    close(C.sum_squares(A), numpy_ref.sum_squares(A))


# --------------------------------------------------------------------------------------
# Dropout and the counter stream
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (7, 13)])
def test_cuda_dropout_compat_matches_numpy_masks_and_state(shape, dtype):
    A = np.random.default_rng(5).random(shape).astype(dtype)
    for before in ("seed", "odd position", "cached gaussian"):
        np.random.seed(42)
        if before == "odd position":
            np.random.randint(0, 10, size=3)           # one 32-bit draw each
        elif before == "cached gaussian":
            np.random.randn()                           # has_gauss = 1
        start = np.random.get_state()
        D1, A1 = np.empty(shape, bool), np.empty(shape, dtype)
        numpy_ref.dropout_forward(A, 0.86, _spec.DROPOUT_COMPAT, 7, D1, A1)
        after_numpy = np.random.get_state()
        np.random.set_state(start)
        D2, A2 = np.empty(shape, bool), A.copy()
        C.dropout_forward(A2, 0.86, _spec.DROPOUT_COMPAT, 7, D2, A2)   # in place
        same_state(np.random.get_state(), after_numpy)
        np.testing.assert_array_equal(D2, D1)
        np.testing.assert_array_equal(A2, A1)


SEEDS = (0, 1, 2**40 + 5, 2**64 - 1, -3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 5), (3, 37)])
def test_cuda_dropout_fast_masks_equal_the_numba_backends(shape, dtype):
    A = np.random.default_rng(shape[1]).standard_normal(shape).astype(dtype)
    np.random.seed(3)
    state = np.random.get_state()
    for seed in SEEDS:
        outs = []
        for K in (numpy_ref, NUMBA, C):
            D, Ao = np.empty(shape, bool), np.empty_like(A)
            K.dropout_forward(A, 0.7, _spec.DROPOUT_FAST, seed, D, Ao)
            outs.append((D, Ao))
        for D, Ao in outs[1:]:
            np.testing.assert_array_equal(D, outs[0][0])
            np.testing.assert_array_equal(Ao, outs[0][1])
    same_state(np.random.get_state(), state)


@pytest.mark.parametrize("n", [0, 1, 100])
def test_cuda_counter_uniform_bit_exact(n):
    for seed in (0, 1, 123456789, 2**63 + 11, -1):
        got = C.counter_uniform(seed, n)
        assert got.dtype == np.float64 and got.shape == (n,)
        np.testing.assert_array_equal(got, numpy_ref.counter_uniform(seed, n))
        np.testing.assert_array_equal(got, NUMBA.counter_uniform(seed, n))


def test_cuda_counter_uniform_default_config(default_config):
    np.testing.assert_array_equal(C.counter_uniform(99, 300),
                                  NUMBA.counter_uniform(99, 300))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_dropout_backward(dtype):
    rng = np.random.default_rng(4)
    dA = rng.standard_normal((5, 11)).astype(dtype)
    D = rng.random((5, 11)) < 0.8
    out1, out2 = np.empty_like(dA), dA.copy()
    numpy_ref.dropout_backward(dA, D, 0.8, out1)
    C.dropout_backward(out2, D, 0.8, out2)
    np.testing.assert_array_equal(out2, out1)


# --------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------

def _step(K, name, p, g, m, v, t=3):
    if name == "sgd":
        K.sgd_step(p, g, 0.01)
    elif name == "momentum":
        K.momentum_step(p, g, m, 0.9, 0.01)
    else:
        K.adam_step(p, g, m, v, t, 0.01, 0.9, 0.999, 1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_cuda_optimizer_step_in_place(name, dtype):
    rng = np.random.default_rng(9)
    p, g, m, v = (rng.standard_normal(53).astype(dtype) for _ in range(4))
    v = np.abs(v)
    ref = [a.copy() for a in (p, g, m, v)]
    ids = [id(a) for a in (p, m, v)]
    _step(numpy_ref, name, *ref)
    _step(C, name, p, g, m, v)
    assert [id(a) for a in (p, m, v)] == ids
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3])):
        assert got.dtype == dtype
        close(got, want, dtype)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_cuda_optimizer_step_on_views_of_a_flat_buffer(name):
    rng = np.random.default_rng(11)
    dims = np.array([2, 5, 3, 1])
    P = sum(int(dims[l + 1] * (dims[l] + 1)) for l in range(3))
    bufs = [rng.standard_normal(P) for _ in range(4)]
    bufs[3] = np.abs(bufs[3])
    refs = [b.copy() for b in bufs]
    views = [_mlp.layer_views(b, dims) for b in bufs]
    ref_views = [_mlp.layer_views(b, dims) for b in refs]
    for l in range(3):
        for j in range(2):                      # W_l then b_l, 2-D views
            _step(C, name, *[views[i][j][l] for i in range(4)])
            _step(numpy_ref, name, *[ref_views[i][j][l] for i in range(4)])
    for got, want in zip(bufs, refs):
        close(got, want, atol=1e-15)


def test_cuda_optimizer_step_on_non_contiguous_views():
    rng = np.random.default_rng(12)
    p, g, m, v = (rng.standard_normal((6, 10)) for _ in range(4))
    v = np.abs(v)
    ref = [a.copy() for a in (p, g, m, v)]
    _step(numpy_ref, "adam", *(a[:, ::3] for a in ref))
    _step(C, "adam", *(a[:, ::3] for a in (p, g, m, v)))
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3])):
        close(got, want, atol=1e-15)
    np.testing.assert_array_equal(p[:, 1::3], ref[0][:, 1::3])


def test_cuda_adam_step_default_config(default_config):
    rng = np.random.default_rng(13)
    p, g, m, v = (rng.standard_normal(300) for _ in range(4))
    v = np.abs(v)
    ref = [a.copy() for a in (p, g, m, v)]
    _step(numpy_ref, "adam", *ref, t=7)
    _step(C, "adam", p, g, m, v, t=7)
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3])):
        close(got, want)


# --------------------------------------------------------------------------------------
# Gradient check
# --------------------------------------------------------------------------------------

def _course_grad_case():
    np.random.seed(1)
    X = np.random.randn(4, 3)
    Y = np.array([[1.0, 1.0, 0.0]])
    theta = np.concatenate([np.random.randn(*s).ravel() for s in
                            ((5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1))])
    return theta, X, Y, np.array([4, 5, 3, 1])


def _assert_grad_close(got, want, eps=1e-7):
    # (J+ - J-) / (2 eps) carries the cost's rounding error divided by eps
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-16 / eps * 10)


def test_cuda_grad_check_course_case():
    theta, X, Y, dims = _course_grad_case()
    assert theta.shape == (47,)
    keep = theta.copy()
    g1, g2 = np.empty_like(theta), np.empty_like(theta)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, g1)
    C.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, g2)
    np.testing.assert_array_equal(theta, keep)
    _assert_grad_close(g2, g1)


@pytest.mark.parametrize("hidden", [_spec.RELU, _spec.TANH])
def test_cuda_grad_check_wider_net_in_chunks(hidden, monkeypatch):
    monkeypatch.setattr(C, "GRAD_CHECK_CHUNK", 25)      # several launches
    rng = np.random.default_rng(hidden)
    dims = np.array([3, 6, 4, 1])
    P = sum(int(dims[l + 1] * (dims[l] + 1)) for l in range(3))
    theta = rng.standard_normal(P) * 0.5
    X = rng.standard_normal((3, 9))
    Y = (rng.random((1, 9)) > 0.5).astype(float)
    g1, g2 = np.empty(P), np.empty(P)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, hidden, 1e-7, g1)
    C.grad_check_mlp(theta, X, Y, dims, hidden, 1e-7, g2)
    _assert_grad_close(g2, g1)


def test_cuda_grad_check_float32_inputs():
    # computed in float64 on the float32-rounded inputs (a float32 two-sided
    # difference is rounding noise), the result rounded to float32
    theta, X, Y, dims = _course_grad_case()
    theta, X, Y = theta.astype(np.float32), X.astype(np.float32), Y.astype(np.float32)
    g64, got = np.empty(theta.shape), np.empty_like(theta)
    numpy_ref.grad_check_mlp(theta.astype(np.float64), X.astype(np.float64),
                             Y.astype(np.float64), dims, _spec.RELU, 1e-3, g64)
    C.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-3, got)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, g64, rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------

def _init_theta(dims, seed=3):
    rng = np.random.RandomState(seed)
    parts = []
    for l in range(1, len(dims)):
        parts.append((rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])).ravel())
        parts.append(np.zeros(dims[l]))
    return np.concatenate(parts)


def _data(n_x, m, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    Y = (X[:1] * X[-1:] + 0.3 * rng.randn(1, m) > 0).astype(float)
    return X, Y


def _train(K, X, Y, dims, n_epochs, *, hidden=_spec.RELU, optimizer=_spec.OPT_GD,
           lr=0.3, batch_size=0, lambd=0.0, keep_prob=1.0, dropout=_spec.DROPOUT_COMPAT,
           cost_mode=_spec.CE_SUM, grad_form=_spec.GRAD_DW, cost_every=1, first_epoch=0,
           t=0, state=None, dtype=np.float64, total_epochs=None):
    dims = np.asarray(dims, dtype=np.int64)
    if state is None:
        theta = _init_theta(dims).astype(dtype)
        m_, v_ = np.zeros_like(theta), np.zeros_like(theta)
    else:
        theta, m_, v_ = state
    total = first_epoch + n_epochs if total_epochs is None else total_epochs
    lrs = lr / (1.0 + 0.001 * np.arange(total))
    n_rec = len([e for e in range(first_epoch, first_epoch + n_epochs)
                 if e % cost_every == 0])
    costs = np.zeros(n_rec)
    t = K.train_mlp(X.astype(dtype), Y.astype(dtype), dims, hidden, theta, m_, v_,
                    first_epoch, n_epochs, optimizer, lrs, 0.9, 0.9, 0.999, 1e-8, t,
                    batch_size, 10, lambd, keep_prob, dropout, 1, cost_mode, grad_form,
                    cost_every, costs)
    return theta, m_, v_, costs, t


def _compare_training(n_epochs=4, **kw):
    """Run numpy_ref and the CUDA backend from the same NumPy global state."""
    X, Y = kw.pop("data")
    dims = kw.pop("dims")
    runs = []
    for K in (numpy_ref, C):
        np.random.seed(77)
        out = _train(K, X, Y, dims, n_epochs, **kw)
        runs.append((out, np.random.get_state()))
    (ref, ref_state), (got, got_state) = runs
    same_state(got_state, ref_state)
    assert got[4] == ref[4]                           # t
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got[3], ref[3], rtol=1e-12, equal_nan=True)  # costs
    for a, b in zip(got[:3], ref[:3]):                # theta, moments
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
    return ref, got


SMALL = _data(2, 24, seed=1)
BATCHED = _data(2, 37, seed=2)


def test_cuda_train_full_batch_gd():
    _compare_training(5, data=SMALL, dims=[2, 5, 3, 1], lr=0.3)


@pytest.mark.parametrize("optimizer", [_spec.OPT_ADAM, _spec.OPT_MOMENTUM, _spec.OPT_GD])
def test_cuda_train_mini_batch(optimizer):
    ref, _ = _compare_training(2, data=BATCHED, dims=[2, 4, 2, 1], optimizer=optimizer,
                               lr=0.01 if optimizer != _spec.OPT_GD else 0.1,
                               batch_size=16)
    assert ref[4] == 2 * 3                            # last batch shorter (37 = 16+16+5)


@pytest.mark.parametrize("keep_prob, lambd", [(0.8, 0.0), (1.0, 0.7), (0.8, 0.7)])
def test_cuda_train_dropout_compat_and_l2(keep_prob, lambd):
    _compare_training(3, data=SMALL, dims=[2, 5, 3, 1], keep_prob=keep_prob,
                      lambd=lambd, cost_mode=_spec.CE_NANSUM)


def test_cuda_train_dropout_compat_with_mini_batches():
    _compare_training(2, data=BATCHED, dims=[2, 4, 2, 1], optimizer=_spec.OPT_ADAM,
                      lr=0.01, batch_size=16, keep_prob=0.8)


def test_cuda_train_dropout_fast_equals_the_other_backends_and_leaves_numpy_alone():
    _, got = _compare_training(3, data=SMALL, dims=[2, 5, 3, 1], keep_prob=0.8,
                               dropout=_spec.DROPOUT_FAST, cost_mode=_spec.CE_CLIPPED)
    np.random.seed(77)
    before = np.random.get_state()
    cpu_run = _train(NUMBA, *SMALL, [2, 5, 3, 1], 3, keep_prob=0.8,
                     dropout=_spec.DROPOUT_FAST, cost_mode=_spec.CE_CLIPPED)
    same_state(np.random.get_state(), before)
    np.testing.assert_allclose(got[0], cpu_run[0], rtol=1e-11, atol=1e-14)


def test_cuda_train_tanh_hidden_and_grad_forms():
    _compare_training(4, data=SMALL, dims=[2, 4, 1], hidden=_spec.TANH, lr=1.2)
    for form in (_spec.GRAD_CHAIN, _spec.GRAD_DZ):
        _compare_training(2, data=SMALL, dims=[2, 5, 3, 1], grad_form=form,
                          cost_every=2)


def test_cuda_train_tiled_products(tiled):
    _compare_training(2, data=(SMALL[0][:, :8], SMALL[1][:, :8]), dims=[2, 5, 3, 1],
                      keep_prob=0.8, lambd=0.3, dropout=_spec.DROPOUT_FAST,
                      optimizer=_spec.OPT_ADAM, lr=0.01)


def test_cuda_train_chunks_equal_one_call():
    X, Y = BATCHED
    dims = [2, 4, 2, 1]
    kw = {"optimizer": _spec.OPT_ADAM, "lr": 0.01, "batch_size": 16, "cost_every": 1,
          "total_epochs": 4}
    np.random.seed(0)
    one = _train(C, X, Y, dims, 4, **kw)
    np.random.seed(0)
    first = _train(C, X, Y, dims, 2, **kw)
    middle = [a.copy() for a in first[:3]]
    second = _train(C, X, Y, dims, 2, first_epoch=2, t=first[4], state=first[:3], **kw)
    np.testing.assert_array_equal(np.concatenate([first[3], second[3]]), one[3])
    for a, b in zip(second[:3], one[:3]):
        np.testing.assert_array_equal(a, b)
    assert second[4] == one[4] == 12
    np.random.seed(0)
    ref = _train(numpy_ref, X, Y, dims, 2, first_epoch=2, t=first[4], state=middle, **kw)
    np.testing.assert_allclose(second[3], ref[3], rtol=1e-12)


def test_cuda_train_float32():
    X, Y = SMALL
    runs = [_train(K, X, Y, [2, 5, 3, 1], 4, dtype=np.float32) for K in (numpy_ref, C)]
    assert runs[1][0].dtype == np.float32 and runs[1][1].dtype == np.float32
    np.testing.assert_allclose(runs[1][3], runs[0][3], rtol=1e-5)
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-5, atol=1e-6)


def test_cuda_train_leaves_numpy_state_alone_without_shuffle_or_compat_dropout():
    np.random.seed(5)
    before = np.random.get_state()
    _train(C, *SMALL, [2, 3, 1], 2)
    same_state(np.random.get_state(), before)


def test_cuda_train_rejects_what_numpy_would_reject():
    X, Y = SMALL
    theta = _init_theta([2, 3, 1])
    keep = theta.copy()
    with pytest.raises(ValueError, match="Seed must be between"):
        C.train_mlp(X, Y, np.array([2, 3, 1]), _spec.RELU, theta, np.zeros(13),
                    np.zeros(13), 0, 2, _spec.OPT_GD, np.ones(2), 0.9, 0.9, 0.999, 1e-8, 0,
                    64, 2**32, 0.0, 1.0, 0, 1, 0, 0, 1, np.zeros(2))
    with pytest.raises(IndexError):
        C.train_mlp(X, Y, np.array([2, 3, 1]), _spec.RELU, theta, np.zeros(13),
                    np.zeros(13), 0, 5, _spec.OPT_GD, np.ones(5), 0.9, 0.9, 0.999, 1e-8, 0,
                    0, 0, 0.0, 1.0, 0, 1, 0, 0, 1, np.zeros(2))
    np.testing.assert_array_equal(theta, keep)


# --------------------------------------------------------------------------------------
# Device arrays: used in place, no host copies
# --------------------------------------------------------------------------------------

@pytest.fixture
def count_transfers(monkeypatch):
    """Counts host<->device copies made through numba.cuda while the test runs."""
    counts = {"to_device": 0, "copy_to_host": 0}
    dev_type = type(cuda.device_array(1))
    real_to_device = cuda.to_device
    real_copy = dev_type.copy_to_host
    C._dummies()                                # the cached placeholders, made once

    def to_device(*args, **kwargs):
        counts["to_device"] += 1
        return real_to_device(*args, **kwargs)

    def copy_to_host(self, *args, **kwargs):
        counts["copy_to_host"] += 1
        return real_copy(self, *args, **kwargs)

    monkeypatch.setattr(cuda, "to_device", to_device)
    monkeypatch.setattr(dev_type, "copy_to_host", copy_to_host)
    return counts


def test_cuda_device_arrays_layers_without_host_copies(count_transfers):
    rng = np.random.default_rng(21)
    A_prev, W, b = (rng.standard_normal(s) for s in ((4, 6), (3, 4), (3, 1)))
    dZ = rng.standard_normal((3, 6))
    ref = {k: np.empty(s) for k, s in (("Z", (3, 6)), ("A", (3, 6)), ("dW", (3, 4)),
                                         ("db", (3, 1)), ("dA", (4, 6)), ("dZr", (3, 6)))}
    numpy_ref.linear_act_forward(A_prev, W, b, _spec.SIGMOID, ref["Z"], ref["A"])
    numpy_ref.linear_backward(dZ, A_prev, W, 0.5, 0.1, ref["dW"], ref["db"], ref["dA"])
    numpy_ref.act_backward(dZ, ref["Z"], ref["A"], _spec.SIGMOID, ref["dZr"])
    d = {k: cuda.device_array(v.shape) for k, v in ref.items()}
    dA_prev, dW_, db_, dZ_ = (cuda.device_array(a.shape) for a in (A_prev, W, b, dZ))
    dA_prev.copy_to_device(A_prev)
    dW_.copy_to_device(W)
    db_.copy_to_device(b)
    dZ_.copy_to_device(dZ)
    start = dict(count_transfers)
    C.linear_act_forward(dA_prev, dW_, db_, _spec.SIGMOID, d["Z"], d["A"])
    C.linear_backward(dZ_, dA_prev, dW_, 0.5, 0.1, d["dW"], d["db"], d["dA"])
    C.act_backward(dZ_, d["Z"], d["A"], _spec.SIGMOID, d["dZr"])
    p, g, m, v = (cuda.device_array(7) for _ in range(4))
    for a in (p, g, m, v):
        a.copy_to_device(np.full(7, 0.5))
    C.adam_step(p, g, m, v, 1, 0.1, 0.9, 0.999, 1e-8)
    D = cuda.device_array((3, 6), np.bool_)
    C.dropout_forward(d["A"], 0.5, _spec.DROPOUT_FAST, 3, D, d["A"])
    assert count_transfers == start            # nothing copied either way
    for k, want in ref.items():
        if k != "A":
            close(d[k].copy_to_host(), want, atol=1e-15)
    pp, mm, vv = np.full(7, 0.5), np.full(7, 0.5), np.full(7, 0.5)
    numpy_ref.adam_step(pp, np.full(7, 0.5), mm, vv, 1, 0.1, 0.9, 0.999, 1e-8)
    close(p.copy_to_host(), pp)
    close(v.copy_to_host(), vv)


def test_cuda_device_arrays_train_and_grad_check_without_host_copies(count_transfers):
    X, Y = SMALL
    dims = np.array([2, 5, 3, 1])
    theta = _init_theta(dims)
    ref = _train(numpy_ref, X, Y, dims, 3, lambd=0.5)
    dX, dY, dth, dm, dv, dcosts = (cuda.device_array(a.shape) for a in
                                   (X, Y, theta, theta, theta, np.zeros(3)))
    dX.copy_to_device(X)
    dY.copy_to_device(Y)
    dth.copy_to_device(theta)
    dm.copy_to_device(np.zeros_like(theta))
    dv.copy_to_device(np.zeros_like(theta))
    start = dict(count_transfers)
    t = C.train_mlp(dX, dY, dims, _spec.RELU, dth, dm, dv, 0, 3, _spec.OPT_GD,
                    0.3 / (1.0 + 0.001 * np.arange(3)), 0.9, 0.9, 0.999, 1e-8, 0, 0, 10,
                    0.5, 1.0, 0, 1, 0, 0, 1, dcosts)
    assert count_transfers["copy_to_host"] == start["copy_to_host"]
    # only the small index arrays of the layer sizes go to the device
    assert count_transfers["to_device"] == start["to_device"]
    assert t == 3
    close(dcosts.copy_to_host(), ref[3])
    close(dth.copy_to_host(), ref[0], atol=1e-14, rtol=1e-11)
    gout = cuda.device_array(theta.shape)
    before = dict(count_transfers)
    C.grad_check_mlp(dth, dX, dY, dims, _spec.RELU, 1e-7, gout)
    assert count_transfers["copy_to_host"] == before["copy_to_host"]
    assert count_transfers["to_device"] - before["to_device"] == 4   # dims and offsets
    g1 = np.empty_like(theta)
    numpy_ref.grad_check_mlp(ref[0], X, Y, dims, _spec.RELU, 1e-7, g1)
    _assert_grad_close(gout.copy_to_host(), g1)


# --------------------------------------------------------------------------------------
# The façade on the cuda backend: seed test cases (printed values)
# --------------------------------------------------------------------------------------

_FIXTURE_MODULES = {"init": "initialization", "reg": "regularization",
                    "gradcheck": "gradient_checking", "opt": "optimization",
                    "planar": "planar", "deep": "deep"}

SEED_CASES = [
    "test_update_parameters_gives_the_printed_gd_step",
    "test_update_parameters_with_momentum",
    "test_update_parameters_with_adam",
    "test_compute_cost_with_regularization",
    "test_backward_propagation_with_regularization",
    "test_backward_propagation_with_dropout",
    "test_forward_propagation_with_dropout_reseeds_and_caches_14_entries",
    "test_gradient_check_n_finds_the_planted_bugs",
    "test_gradient_check_n_accepts_the_correct_gradients",
    "test_planar_forward_propagation",
    "test_planar_compute_cost",
    "test_planar_backward_propagation",
    "test_planar_update_parameters",
    "test_planar_predict",
]


@pytest.mark.parametrize("case", SEED_CASES)
def test_cuda_facade_seed_case(case, capsys):
    func = getattr(tsv, case)
    kwargs = {}
    for name in func.__code__.co_varnames[:func.__code__.co_argcount]:
        if name == "capsys":
            kwargs[name] = capsys
        elif name == "module_name":
            kwargs[name] = "regularization"
        else:
            kwargs[name] = importlib.import_module(f"fastnn.{_FIXTURE_MODULES[name]}")
    with fastnn.use_backend("cuda"):
        assert fastnn.get_backend() == "cuda"
        func(**kwargs)


def test_cuda_facade_optimization_model_matches_numpy_backend(capsys):
    from fastnn import optimization
    X, Y = _data(2, 40, seed=6)
    Y = Y.astype(int)
    results = []
    for backend in ("numpy", "cuda"):
        with fastnn.use_backend(backend):
            parameters = optimization.model(X, Y, [2, 4, 3, 1], "adam",
                                            mini_batch_size=16, num_epochs=2,
                                            print_cost=True)
        results.append((parameters, capsys.readouterr().out))
    (p1, out1), (p2, out2) = results
    assert out1 == out2 and "Cost after epoch 0" in out1
    for key in p1:
        close(p2[key], p1[key], rtol=1e-11, atol=1e-15)
