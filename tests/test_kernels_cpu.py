"""The Numba CPU backend (``fastnn.kernels.cpu``) against the NumPy oracle ``numpy_ref``.

Tolerances follow the contract (``kernels/_spec.py``): float64 results equal
``numpy_ref``'s to 1e-12 relative, float32 to 1e-5 relative (float32 inputs to the
network kernels are computed in float64 and rounded once, so they are closer to the exact
value than NumPy's float32 arithmetic, not further). Where the contract says bit-exact
(dropout masks, NumPy's global random state, ``counter_uniform``) the tests compare bits.

Seeds are fixed inside each test. Whole training runs use the course's small models and
iteration counts short enough for the file to run in well under a minute once the kernels
are compiled (``cache=True``; a cold cache adds the one-time compilation).
"""

import ctypes
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numba
import numpy as np
import pytest
from fastnn.kernels import (_cpu_blas, _cpu_mlp, _cpu_rng, _cpu_ufunc, _mlp, _spec, cpu,
                           numpy_ref)
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import kernels

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]
ACTS = [_spec.LINEAR, _spec.RELU, _spec.SIGMOID, _spec.TANH]


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


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------

def test_registry_returns_the_numba_module():
    K = kernels.get("numba")
    assert K is cpu and K.NAME == "numba"
    for name in _spec.FUNCTIONS:
        assert callable(getattr(cpu, name)) and name in cpu.__all__
    assert cpu.layer_views is _mlp.layer_views
    assert "numba" in kernels.available()


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled or cached")
def test_every_cached_kernel_goes_stale_with_any_kernel_source(tmp_path):
    # the training loop compiles in _cpu_layers' and _cpu_blas' loops and every module
    # freezes _spec's constants: a kernel's disk cache must be keyed on all the kernel
    # files, not on its own file alone (Numba's default)
    import shutil

    from fastnn.kernels import _cpu_layers, _jitcache

    kernel_dir = os.path.dirname(_jitcache.__file__)
    assert _jitcache.STAMP == _jitcache.sources_hash(kernel_dir)
    copy = tmp_path / "kernels"
    shutil.copytree(kernel_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _jitcache.sources_hash(copy) == _jitcache.STAMP
    with open(copy / "_cpu_layers.py", "a") as f:
        f.write("\n")
    assert _jitcache.sources_hash(copy) != _jitcache.STAMP
    checked = 0
    for module in (_cpu_blas, _cpu_layers, _cpu_mlp, _cpu_rng, _cpu_ufunc):
        for obj in vars(module).values():
            if isinstance(obj, numba.core.dispatcher.Dispatcher) and obj._cache.cache_path:
                assert obj._cache._cache_file._source_stamp == _jitcache.STAMP, obj
                checked += 1
    assert checked > 50
    # the wrappers' exact-signature dispatchers share the kernels' cache and stamp
    assert cpu._forward_exact()._cache._cache_file._source_stamp == _jitcache.STAMP


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------

FORWARD_SHAPES = [(20, 2, 211), (3, 20, 211), (1, 3, 211), (5, 4, 3), (1, 1, 1), (4, 1, 7),
                  (3, 5, 1), (2, 300, 9), (64, 64, 64), (256, 512, 64), (5, 2, 67),
                  (3, 2, 6), (7, 2, 64)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", FORWARD_SHAPES)
def test_linear_act_forward(shape, dtype):
    n_out, n_in, m = shape
    rng = np.random.default_rng(n_out * 1000 + n_in * 10 + m)
    A_prev = rng.standard_normal((n_in, m)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal((n_out, 1)).astype(dtype)
    for act in ACTS:
        Z1, A1, Z2, A2 = (np.empty((n_out, m), dtype) for _ in range(4))
        numpy_ref.linear_act_forward(A_prev, W, b, act, Z1, A1)
        cpu.linear_act_forward(A_prev, W, b, act, Z2, A2)
        # Z is a sum of products: compare it to the scale of its terms
        scale = np.abs(W).astype(np.float64) @ np.abs(A_prev).astype(np.float64) + np.abs(b)
        close(Z2, Z1, dtype, atol=RTOL[dtype] * scale.max())
        close(A2, A1, dtype, atol=RTOL[dtype] * max(1.0, np.abs(A1).max()))
        if (dtype == np.float64 and act in (_spec.LINEAR, _spec.RELU)
                and n_out * n_in * m < cpu.BLAS_MIN_WORK):
            # the hand loops sum in OpenBLAS's order: NumPy's bits
            np.testing.assert_array_equal(Z2, Z1)
            np.testing.assert_array_equal(A2, A1)


def test_linear_act_forward_writes_into_strided_outputs():
    rng = np.random.default_rng(3)
    A_prev, W, b = rng.standard_normal((3, 6)), rng.standard_normal((4, 3)), np.ones((4, 1))
    Zbig, Abig = np.zeros((4, 12)), np.zeros((4, 12))
    Z1, A1 = np.empty((4, 6)), np.empty((4, 6))
    numpy_ref.linear_act_forward(A_prev, W, b, _spec.RELU, Z1, A1)
    cpu.linear_act_forward(A_prev, W, b, _spec.RELU, Zbig[:, ::2], Abig[:, ::2])
    close(Zbig[:, ::2], Z1)
    close(Abig[:, ::2], A1)
    assert not Zbig[:, 1::2].any() and not Abig[:, 1::2].any()


def test_linear_act_forward_fast_path_and_read_only_fallbacks():
    # C-contiguous float64 goes straight to a kernel compiled for exactly those types,
    # read-only inputs included; F-ordered input falls back to copies, a read-only
    # output raises before anything is written, and nothing else compiles
    exact = cpu._forward_exact()
    rng = np.random.default_rng(8)
    A_prev, W, b = rng.standard_normal((3, 9)), rng.standard_normal((4, 3)), np.ones((4, 1))
    Z1, A1 = np.empty((4, 9)), np.empty((4, 9))
    numpy_ref.linear_act_forward(A_prev, W, b, _spec.RELU, Z1, A1)
    n_sigs = len(exact.signatures)
    for case in ("plain", "read-only inputs", "F-ordered A_prev"):
        ins = [a.copy() for a in (A_prev, W, b)]
        if case == "read-only inputs":
            for a in ins:
                a.flags.writeable = False
        if case == "F-ordered A_prev":
            ins[0] = np.asfortranarray(ins[0])
        Z2, A2 = np.empty((4, 9)), np.empty((4, 9))
        cpu.linear_act_forward(*ins, _spec.RELU, Z2, A2)
        np.testing.assert_array_equal(Z2, Z1)
        np.testing.assert_array_equal(A2, A1)
    Z2, A2 = np.zeros((4, 9)), np.zeros((4, 9))
    Z2.flags.writeable = False
    with pytest.raises(ValueError, match="output array Z is read-only"):
        cpu.linear_act_forward(A_prev, W, b, _spec.RELU, Z2, A2)
    assert not Z2.any() and not A2.any()
    assert len(exact.signatures) == n_sigs == 1


@settings(max_examples=30, deadline=None)
@given(n_out=st.integers(1, 24), n_in=st.integers(1, 24), m=st.integers(1, 300),
       act=st.sampled_from(ACTS), seed=st.integers(0, 2**32 - 1))
def test_linear_act_forward_random_shapes(n_out, n_in, m, act, seed):
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((n_in, m))
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal((n_out, 1))
    Z1, A1, Z2, A2 = (np.empty((n_out, m)) for _ in range(4))
    numpy_ref.linear_act_forward(A_prev, W, b, act, Z1, A1)
    cpu.linear_act_forward(A_prev, W, b, act, Z2, A2)
    scale = (np.abs(W) @ np.abs(A_prev) + np.abs(b)).max()
    close(Z2, Z1, atol=1e-12 * scale)
    close(A2, A1, atol=1e-12 * max(1.0, np.abs(A1).max()))


def test_backward_fast_paths_and_read_only_fallbacks():
    # as the forward: C-contiguous inputs (read-only or not) take the kernels compiled
    # for exactly those types, anything else falls back to copies, nothing else compiles
    rng = np.random.default_rng(9)
    n, k, m = 4, 3, 9
    dA, Z, A = (rng.standard_normal((n, m)) for _ in range(3))
    dZ, A_prev, W = rng.standard_normal((n, m)), rng.standard_normal((k, m)), \
        rng.standard_normal((n, k))
    dZ1 = np.empty((n, m))
    numpy_ref.act_backward(dA, Z, A, _spec.RELU, dZ1)
    want = [np.empty((n, k)), np.empty((n, 1)), np.empty((k, m))]
    numpy_ref.linear_backward(dZ, A_prev, W, 0.5, 0.1, *want)
    exact = (cpu._act_backward_exact(), cpu._backward_exact())
    n_sigs = [len(e.signatures) for e in exact]
    for case in ("plain", "read-only inputs", "F-ordered inputs"):
        ins = [a.copy() for a in (dA, Z, A, dZ, A_prev, W)]
        if case == "read-only inputs":
            for a in ins:
                a.flags.writeable = False
        if case == "F-ordered inputs":
            ins = [np.asfortranarray(a) for a in ins]
        dZ2 = np.empty((n, m))
        cpu.act_backward(*ins[:3], _spec.RELU, dZ2)
        np.testing.assert_array_equal(dZ2, dZ1)
        got = [np.empty((n, k)), np.empty((n, 1)), np.empty((k, m))]
        cpu.linear_backward(*ins[3:], 0.5, 0.1, *got)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        got2 = [np.empty((n, k)), np.empty((n, 1))]
        cpu.linear_backward(*ins[3:], 0.5, 0.1, *got2, None)
        for g, w in zip(got2, want):
            np.testing.assert_array_equal(g, w)
    got = [np.zeros((n, k)), np.zeros((n, 1)), np.zeros((k, m))]
    got[2].flags.writeable = False
    with pytest.raises(ValueError, match="output array dA_prev is read-only"):
        cpu.linear_backward(dZ, A_prev, W, 0.5, 0.1, *got)
    assert not any(g.any() for g in got)
    assert [len(e.signatures) for e in exact] == n_sigs == [2, 2]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_act_backward(act, dtype):
    rng = np.random.default_rng(act)
    Z = rng.standard_normal((5, 37)).astype(dtype)
    Z[0, :5] = 0.0                      # ReLU's derivative at exactly 0
    A = np.empty_like(Z)
    numpy_ref.linear_act_forward(Z, np.eye(5, dtype=dtype), np.zeros((5, 1), dtype), act,
                                 np.empty_like(Z), A)
    dA = rng.standard_normal(Z.shape).astype(dtype)
    dZ1, dZ2 = np.empty_like(Z), np.empty_like(Z)
    numpy_ref.act_backward(dA, Z, A, act, dZ1)
    cpu.act_backward(dA, Z, A, act, dZ2)
    close(dZ2, dZ1, dtype)
    cpu.act_backward(dA, Z, A, act, dA)          # in place
    close(dA, dZ1, dtype)


# (6, 2, 300) and (300, 2, 3): dW's product in two k blocks, and W.T @ dZ with its k
# (n_out) in two blocks: the hand loops' scratch on each path (a short one fails under
# NUMBA_BOUNDSCHECK=1)
BACKWARD_SHAPES = [(20, 2, 211), (3, 20, 211), (1, 3, 211), (1, 20, 300), (5, 4, 3),
                   (1, 1, 5), (3, 1, 7), (2, 5, 1), (7, 9, 600), (64, 64, 64), (6, 2, 300),
                   (300, 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BACKWARD_SHAPES)
def test_linear_backward(shape, dtype):
    n_out, n_in, m = shape
    rng = np.random.default_rng(sum(shape))
    dZ = rng.standard_normal((n_out, m)).astype(dtype)
    A_prev = rng.standard_normal((n_in, m)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    for scale, l2 in ((1.0, 0.0), (1.0 / m, 0.0), (1.0 / m, 0.7 / m)):
        outs = []
        for K in (numpy_ref, cpu):
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
        if dtype == np.float64 and n_out * n_in * m < cpu.BLAS_MIN_WORK:
            # the hand loops sum in OpenBLAS's order: NumPy's bits
            for got, want in zip(outs[1], outs[0]):
                np.testing.assert_array_equal(got, want)


def _act_case(rng, act, dtype, n_out, m):
    """``dA``, ``Z`` (with exact zeros) and ``A = g(Z)`` from the NumPy forward."""
    Z = rng.standard_normal((n_out, m)).astype(dtype)
    Z[0, :3] = 0.0                      # ReLU's derivative at exactly 0
    A = np.empty_like(Z)
    numpy_ref.linear_act_forward(Z, np.eye(n_out, dtype=dtype), np.zeros((n_out, 1), dtype),
                                 act, np.empty_like(Z), A)
    return rng.standard_normal(Z.shape).astype(dtype), Z, A


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(20, 2, 211), (3, 20, 211), (5, 4, 3), (1, 1, 5),
                                   (2, 5, 1), (7, 9, 600)])
def test_linear_act_backward_is_the_two_calls(shape, act, dtype):
    # one call gives the bits of act_backward then linear_backward on this backend (the
    # hand loops for small float64, the fallback wrappers otherwise), and numpy_ref's
    # numbers within the contract's tolerance
    n_out, n_in, m = shape
    rng = np.random.default_rng(sum(shape) + act)
    dA, Z, A = _act_case(rng, act, dtype, n_out, m)
    A_prev = rng.standard_normal((n_in, m)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    args = (A_prev, W, 1.0 / m, 0.7 / m)
    for with_dA_prev in (True, False):
        outs = []
        for how in ("two calls", "fused", "numpy_ref"):
            out = [np.full((n_out, m), np.nan, dtype), np.full((n_out, n_in), np.nan, dtype),
                   np.full((n_out, 1), np.nan, dtype),
                   np.full((n_in, m), np.nan, dtype) if with_dA_prev else None]
            if how == "two calls":
                cpu.act_backward(dA, Z, A, act, out[0])
                cpu.linear_backward(out[0], *args, *out[1:])
            else:
                K = cpu if how == "fused" else numpy_ref
                assert K.linear_act_backward(dA, Z, A, act, *args, *out) is None
            outs.append(out if with_dA_prev else out[:3])
        for got, want in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(got, want)
        (dZ, dW, db, *dAp), ref = outs[1], outs[2]
        close(dZ, ref[0], dtype)
        sw = (np.abs(ref[0]).astype(float) @ np.abs(A_prev).astype(float).T).max() / m
        close(dW, ref[1], dtype, atol=RTOL[dtype] * (sw + np.abs(W).max()))
        close(db, ref[2], dtype, atol=RTOL[dtype] * np.abs(ref[0]).sum(axis=1).max() / m)
        if with_dA_prev:
            sa = (np.abs(W).astype(float).T @ np.abs(ref[0]).astype(float)).max()
            close(dAp[0], ref[3], dtype, atol=RTOL[dtype] * sa)


def test_linear_act_backward_fast_path_and_read_only_inputs():
    # read-only, in-place (dZ is dA) and F-ordered inputs give the same bits; only the
    # two signatures of the single-call kernel are ever compiled
    rng = np.random.default_rng(4)
    n_out, n_in, m = 6, 4, 50
    dA, Z, A = _act_case(rng, _spec.RELU, np.float64, n_out, m)
    A_prev, W = rng.standard_normal((n_in, m)), rng.standard_normal((n_out, n_in))
    want = [np.empty((n_out, m)), np.empty((n_out, n_in)), np.empty((n_out, 1)),
            np.empty((n_in, m))]
    numpy_ref.linear_act_backward(dA, Z, A, _spec.RELU, A_prev, W, 0.5, 0.1, *want)
    exact = cpu._act_linear_backward_exact()
    for case in ("plain", "read-only inputs", "in place", "F-ordered inputs"):
        ins = [a.copy() for a in (dA, Z, A, A_prev, W)]
        if case == "read-only inputs":
            for a in ins:
                a.flags.writeable = False
        if case == "F-ordered inputs":
            ins = [np.asfortranarray(a) for a in ins]
        got = [np.empty_like(w) for w in want]
        if case == "in place":
            got[0] = ins[0]
        cpu.linear_act_backward(*ins[:3], _spec.RELU, *ins[3:], 0.5, 0.1, *got)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    assert len(exact.signatures) == 2


# (n, p, m): X (n, m) @ A (p, m).T, W (n, p) @ B (p, m) and W (p, n).T @ B (p, m). Odd and
# even row counts, every p % 4 beside the vector tiles' 8/4/2/1 columns, m past OpenBLAS's
# k block (256) and past dgemv_t's 2048 block, rows and columns of one; the 12-row NT
# tiles for p < 4 before 2, 4, 8 and 10 rows and an odd tail row; NT products with p
# past _nt_block's blocks of NT_COLS rows of A and every p % 8 after them.
HAND_PRODUCT_SHAPES = [(5, 10, 300), (10, 2, 300), (20, 2, 211), (3, 20, 211), (5, 2, 64),
                       (4, 7, 33), (7, 5, 9), (9, 3, 16), (11, 6, 5), (6, 9, 131),
                       (2, 13, 40), (13, 4, 20), (3, 3, 3), (1, 5, 300), (5, 1, 300),
                       (8, 12, 257), (9, 37, 1), (6, 2100, 1), (1, 9, 2100),
                       (14, 3, 40), (27, 3, 300), (24, 2, 17), (16, 3, 45), (22, 2, 9),
                       (7, 700, 33), (2, 600, 5), (3, 513, 40), (6, 300, 17), (5, 1100, 3),
                       (1, 2, 64), (1, 7, 33), (6, 1, 45), (3, 1, 2), (1, 2, 3), (1, 6, 4100),
                       (3, 9, 13), (5, 16, 4), (7, 8, 20), (9, 45, 30), (7, 23, 12),
                       (5, 34, 260), (4, 40, 7), (6, 19, 40), (11, 30, 17)]


@pytest.mark.parametrize("shape", HAND_PRODUCT_SHAPES)
def test_hand_products_bit_identical_to_numpy(shape):
    # the vector-lane tiles (LLVM IR) keep OpenBLAS's per-element order: NumPy's bits
    from fastnn.kernels import _cpu_blas as blas

    n, p, m = shape
    rng = np.random.default_rng(n * 10000 + p * 100 + m)
    X, A = rng.standard_normal((n, m)), rng.standard_normal((p, m))
    W, B, WT = rng.standard_normal((n, p)), rng.standard_normal((p, m)), rng.standard_normal((p, n))
    X[0, :3] = -0.0                       # signed zeros keep their sign through the lanes
    ws = np.empty(blas.GEMM_Q * 8 + 16 * (n + p + m))
    for got, want, fn, args in ((np.empty((n, p)), X @ A.T, blas.mm_nt, (X, A)),
                                (np.empty((n, m)), W @ B, blas.mm_nn, (W, B)),
                                (np.empty((n, m)), WT.T @ B, blas.mm_tn, (WT, B))):
        fn(*args, got, ws)
        np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


#: (rows, k, columns) past the packed kernel's register tiles (8 x 24), its panels (240
#: columns) and OpenBLAS's k blocks (split in two between 256 and 512), odd rows included.
GEMM_SHAPES = [(2, 2, 2), (3, 5, 7), (9, 40, 30), (16, 7, 48), (17, 300, 50),
               (10, 520, 25), (4, 3, 250)]


@pytest.mark.parametrize("shape", GEMM_SHAPES)
def test_packed_gemm_bit_identical_to_single_thread_numpy(shape):
    # _cpu_gemm.gemm_cols (+ gemm_last_row): OpenBLAS's single-threaded bits for the
    # three layouts of the layer kernels, whatever the column ranges the threads take
    from threadpoolctl import threadpool_limits

    from fastnn.kernels import _cpu_gemm as gemm

    n, k, m = shape
    rng = np.random.default_rng(n * 10000 + k * 100 + m)
    L, R = rng.standard_normal((n, k)), rng.standard_normal((k, m))
    L[0, :2] = -0.0                       # signed zeros keep their sign through the lanes
    LT, RT = np.ascontiguousarray(L.T), np.ascontiguousarray(R.T)
    with threadpool_limits(1):
        want = L @ R
    cut = min(m, gemm.NR)
    for lt, rt, left, right in ((False, False, L, R), (False, True, L, RT),
                                (True, False, LT, R)):
        got = np.full((n, m), np.nan)
        for c0, c1 in ((0, cut), (cut, m)):
            gemm.gemm_cols(left, lt, right, rt, got, c0, c1)
        if n % 2:
            gemm.gemm_last_row(left, lt, right, rt, got)
        np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


def test_large_layers_keep_numpy_bits():
    # past GEMM_MIN_WORK the wrappers take the packed kernel (on AVX-512) or np.dot:
    # either way NumPy's single-threaded bits (the column split over threads is in
    # test_results_do_not_depend_on_thread_count)
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(5)
    n_out, n_in, m = 33, 300, 130
    assert n_out * n_in * m >= cpu.GEMM_MIN_WORK
    A_prev, W = rng.standard_normal((n_in, m)), rng.standard_normal((n_out, n_in)) * 0.1
    b, dA = rng.standard_normal((n_out, 1)), rng.standard_normal((n_out, m))
    results = []
    with threadpool_limits(1):
        for K in (numpy_ref, cpu):
            Z, A = np.empty((n_out, m)), np.empty((n_out, m))
            dZ, dW, db, dAp = (np.empty_like(dA), np.empty_like(W), np.empty((n_out, 1)),
                               np.empty_like(A_prev))
            K.linear_act_forward(A_prev, W, b, _spec.RELU, Z, A)
            K.linear_act_backward(dA, Z, A, _spec.RELU, A_prev, W, 0.5, 0.1, dZ, dW, db, dAp)
            results.append((Z, A, dZ, dW, db, dAp))
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)


@numba.njit
def _chains_reference(W, A, C, l0, nc):
    for i in range(W.shape[0]):
        for j in range(nc):
            for l in range(l0, W.shape[1]):
                C[i, j] = _cpu_blas.fma(W[i, l], A[l, j], C[i, j])


@pytest.mark.parametrize("n, k, nc", [(7, 12, 45), (4, 9, 32), (3, 5, 3), (2, 70, 9),
                                       (1, 8, 40), (6, 3, 0)])
def test_resumed_chains_continue_each_chain_in_order(n, k, nc):
    # rows_chain_resume (the gradient check's tiles): every element's chain continued
    # over l = l0 .. k-1 from the value in C, on the first nc columns only; from C = 0
    # and l0 = 0 the bits of NumPy's product
    from fastnn.kernels import _cpu_blas as blas

    rng = np.random.default_rng(n * 1000 + k * 10 + nc)
    W = rng.standard_normal((n, k))
    A = rng.standard_normal((k + 2, nc + 5))          # more rows and wider than used
    C0 = rng.standard_normal((n, nc + 3))
    for l0 in sorted({0, 1, k // 2, k}):
        C = C0.copy()
        blas.rows_chain_resume(W, A, C, 0, n, l0, nc)
        want = C0.copy()
        _chains_reference(W, A, want, l0, nc)
        np.testing.assert_array_equal(C.view(np.int64), want.view(np.int64))
    if n >= 2 and nc >= 2:
        # (the last row of an odd n is OpenBLAS's one-column kernel, another order)
        C = np.zeros((n, nc))
        blas.rows_chain_resume(W, A[:k, :nc].copy(), C, 0, n, 0, nc)
        want = W @ A[:k, :nc]
        even = n - n % 2
        np.testing.assert_array_equal(C[:even].view(np.int64), want[:even].view(np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [0, 1, 7, 8, 64, 128, 129, 211, 256, 257, 300, 400, 500,
                               520, 1100])
def test_row_sums_are_numpy_pairwise_sums(m, dtype):
    from fastnn.kernels import _cpu_blas as blas

    rng = np.random.default_rng(m)
    # rows one at a time, in groups of four, and a last group overlapping the one before
    for n in (1, 3, 4, 5, 6, 7, 9, 10):
        D = (rng.standard_normal((n, m)) * 10.0 ** rng.integers(-3, 4, (n, m))).astype(dtype)
        out = np.empty(n, dtype)
        blas.row_sums(D, 0.25, out)
        want = (dtype(0.25) * D.sum(axis=1)).astype(dtype)
        np.testing.assert_array_equal(out, want)


def test_linear_backward_without_dA_prev_and_into_views():
    rng = np.random.default_rng(7)
    dZ, A_prev, W = (rng.standard_normal(s) for s in ((3, 50), (4, 50), (3, 4)))
    dW1, db1 = np.empty((3, 4)), np.empty((3, 1))
    numpy_ref.linear_backward(dZ, A_prev, W, 0.02, 0.01, dW1, db1, None)
    flat = np.zeros(3 * 4 + 3)              # dW and db as views of a flat gradient
    dW2, db2 = flat[:12].reshape(3, 4), flat[12:].reshape(3, 1)
    cpu.linear_backward(dZ, A_prev, W, 0.02, 0.01, dW2, db2, None)
    close(dW2, dW1)
    close(db2, db1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 1.0 / 211])
def test_sigmoid_ce_backward(scale, dtype):
    rng = np.random.default_rng(1)
    A = rng.random((1, 211)).astype(dtype)
    Y = (rng.random((1, 211)) > 0.5).astype(dtype)
    dZ1, dZ2 = np.empty_like(A), np.empty_like(A)
    numpy_ref.sigmoid_ce_backward(A, Y, scale, dZ1)
    cpu.sigmoid_ce_backward(A, Y, scale, dZ2)
    close(dZ2, dZ1, dtype)


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [_spec.CE_SUM, _spec.CE_NANSUM, _spec.CE_CLIPPED])
@pytest.mark.parametrize("m", [1, 7, 211, 300, 5000])
def test_cross_entropy(m, mode, dtype):
    rng = np.random.default_rng(m)
    A = rng.random((1, m)).astype(dtype)
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    close(cpu.cross_entropy(A, Y, mode), numpy_ref.cross_entropy(A, Y, mode), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 7, 211, 5000])
def test_cross_entropy_logits(m, dtype):
    rng = np.random.default_rng(m + 1)
    Z = (rng.standard_normal((1, m)) * 40).astype(dtype)
    Z[0, 0] = 900.0 if dtype == np.float64 else 80.0      # exp would overflow
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    got = cpu.cross_entropy(Z, Y, _spec.CE_LOGITS)
    assert np.isfinite(got)
    close(got, numpy_ref.cross_entropy(Z, Y, _spec.CE_LOGITS), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [_spec.CE_SUM, _spec.CE_NANSUM, _spec.CE_CLIPPED])
def test_cross_entropy_saturated_predictions(mode, dtype):
    Y = np.array([[1, 0, 1, 0, 1, 0, 1, 1]], dtype)
    cases = [
        np.array([[1, 0, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),  # 0*log(0): nan in sum
        np.array([[0, 0, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),  # log(0) * 1: inf
        np.array([[0, 1, 0.5, 0.5, 0.9, 0.1, 0.3, 0.6]], dtype),
    ]
    with np.errstate(all="ignore"):
        for A in cases:
            got = cpu.cross_entropy(A, Y, mode)
            want = numpy_ref.cross_entropy(A, Y, mode)
            assert isinstance(got, float)
            if np.isfinite(want):
                close(got, want, dtype)
            else:
                np.testing.assert_equal(got, want)       # the same inf or nan


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_squares(dtype):
    rng = np.random.default_rng(2)
    for shape in ((20, 2), (3, 20), (1, 1), (129, 7), (300, 301)):
        x = rng.standard_normal(shape).astype(dtype)
        close(cpu.sum_squares(x), numpy_ref.sum_squares(x), dtype)
        close(cpu.sum_squares(x.T), numpy_ref.sum_squares(x.T), dtype)
        close(cpu.sum_squares(x[::2]), numpy_ref.sum_squares(x[::2]), dtype)


# --------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (20, 211), (7, 313), (1000, 1000)])
def test_dropout_compat_matches_numpy_masks_and_state(shape, dtype):
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
        cpu.dropout_forward(A2, 0.86, _spec.DROPOUT_COMPAT, 7, D2, A2)   # in place
        same_state(np.random.get_state(), after_numpy)
        np.testing.assert_array_equal(D2, D1)
        np.testing.assert_array_equal(A2, A1)


def test_dropout_compat_with_another_global_generator():
    # NumPy's global generator can be swapped (np.random.set_bit_generator): the compiled
    # MT19937 no longer applies, and NumPy draws the mask itself
    saved = np.random.get_bit_generator()
    A = np.random.default_rng(1).random((20, 211))
    try:
        runs = []
        for K in (numpy_ref, cpu):
            np.random.set_bit_generator(np.random.PCG64(3))
            D, A_out = np.empty(A.shape, bool), np.empty_like(A)
            K.dropout_forward(A, 0.8, _spec.DROPOUT_COMPAT, 7, D, A_out)
            runs.append((D, A_out, np.random.rand(3)))
    finally:
        np.random.set_bit_generator(saved)
    for want, got in zip(*runs):
        np.testing.assert_array_equal(got, want)
    assert np.random.get_bit_generator() is saved


@pytest.mark.parametrize("batch_size,keep_prob", [(64, 1.0), (0, 0.86), (0, 1.0)])
def test_train_with_another_global_generator(batch_size, keep_prob):
    # with a global generator other than MT19937 NumPy's own seeding and draws shuffle
    # and mask: the same parameters, costs and stream afterwards on both backends, and
    # nothing raised after the parameters changed
    saved = np.random.get_bit_generator()
    runs = []
    try:
        for K in (numpy_ref, cpu):
            np.random.set_bit_generator(np.random.PCG64(3))
            got = _train(K, *MOONS, [2, 5, 2, 1], 3, optimizer=_spec.OPT_ADAM, lr=0.001,
                         batch_size=batch_size, keep_prob=keep_prob, cost_every=1)
            runs.append((*got, np.random.rand(3)))
    finally:
        np.random.set_bit_generator(saved)
    for want, got in zip(*runs):
        np.testing.assert_array_equal(got, want)
    assert np.random.get_bit_generator() is saved


def test_train_shuffle_clears_the_cached_gaussian_as_numpy_does():
    # the notebook reseeds every epoch, which drops a Gaussian cached by randn
    states = []
    for K in (numpy_ref, cpu):
        np.random.seed(3)
        np.random.randn()                                      # has_gauss = 1
        _train(K, *MOONS, [2, 5, 2, 1], 2, optimizer=_spec.OPT_ADAM, lr=0.001,
               batch_size=64)
        states.append((np.random.get_state(), np.random.randn(2)))
    same_state(states[1][0], states[0][0])
    assert states[1][0][3] == 0
    np.testing.assert_array_equal(states[1][1], states[0][1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [5, 211 * 20, 30_001])
def test_dropout_fast_matches_counter_masks(size, dtype, monkeypatch):
    monkeypatch.setattr(cpu, "PAR_MIN_SIZE", 20_000)
    A = np.random.default_rng(size).standard_normal((1, size)).astype(dtype)
    np.random.seed(3)
    state = np.random.get_state()
    for seed in (0, 1, 2**40 + 5, 2**64 - 1, -3):
        D1, A1 = np.empty(A.shape, bool), np.empty_like(A)
        numpy_ref.dropout_forward(A, 0.7, _spec.DROPOUT_FAST, seed, D1, A1)
        D2, A2 = np.empty(A.shape, bool), np.empty_like(A)
        cpu.dropout_forward(A, 0.7, _spec.DROPOUT_FAST, seed, D2, A2)
        np.testing.assert_array_equal(D2, D1)
        np.testing.assert_array_equal(A2, A1)
    same_state(np.random.get_state(), state)


@pytest.mark.parametrize("n", [0, 1, 1000, 30_003])
def test_counter_uniform_bit_exact(n, monkeypatch):
    monkeypatch.setattr(cpu, "PAR_MIN_SIZE", 20_000)
    for seed in (0, 1, 123456789, 2**63 + 11, -1):
        got = cpu.counter_uniform(seed, n)
        want = numpy_ref.counter_uniform(seed, n)
        assert got.dtype == np.float64 and got.shape == (n,)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_backward(dtype):
    rng = np.random.default_rng(4)
    dA = rng.standard_normal((20, 211)).astype(dtype)
    D = rng.random((20, 211)) < 0.8
    out1, out2 = np.empty_like(dA), dA.copy()
    numpy_ref.dropout_backward(dA, D, 0.8, out1)
    cpu.dropout_backward(out2, D, 0.8, out2)
    np.testing.assert_array_equal(out2, out1)


# --------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------

def _optimizer_state(rng, dtype, size):
    return [rng.standard_normal(size).astype(dtype) for _ in range(4)]


def _step(K, name, p, g, m, v, t=3):
    if name == "sgd":
        K.sgd_step(p, g, 0.01)
    elif name == "momentum":
        K.momentum_step(p, g, m, 0.9, 0.01)
    else:
        K.adam_step(p, g, m, np.abs(v), t, 0.01, 0.9, 0.999, 1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("size", [1000, 30_005])
def test_optimizer_step_on_flat_buffer(name, size, dtype, monkeypatch):
    monkeypatch.setattr(cpu, "PAR_MIN_SIZE", 20_000)      # the prange kernels too
    rng = np.random.default_rng(size)
    p, g, m, v = _optimizer_state(rng, dtype, size)
    v = np.abs(v)
    ref = [a.copy() for a in (p, g, m, v)]
    _step(numpy_ref, name, *ref)
    _step(cpu, name, p, g, m, v)
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3])):
        close(got, want, dtype)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_step_on_views_of_a_flat_buffer(name):
    rng = np.random.default_rng(11)
    dims = np.array([2, 20, 3, 1])
    P = sum(int(dims[l + 1] * (dims[l] + 1)) for l in range(3))
    bufs = [rng.standard_normal(P) for _ in range(4)]
    bufs[3] = np.abs(bufs[3])
    refs = [b.copy() for b in bufs]
    views = [_mlp.layer_views(b, dims) for b in bufs]
    ref_views = [_mlp.layer_views(b, dims) for b in refs]
    for l in range(3):
        for j in range(2):                      # W_l then b_l, 2-D views
            args = [views[i][j][l] for i in range(4)]
            ref_args = [ref_views[i][j][l] for i in range(4)]
            _step(cpu, name, *args)
            _step(numpy_ref, name, *ref_args)
    for got, want in zip(bufs, refs):
        np.testing.assert_array_equal(got, want)


def test_optimizer_step_on_non_contiguous_views():
    rng = np.random.default_rng(12)
    p, g, m, v = (rng.standard_normal((6, 10)) for _ in range(4))
    v = np.abs(v)
    ref = [a.copy() for a in (p, g, m, v)]
    numpy_ref.adam_step(ref[0][:, ::2], ref[1][:, ::2], ref[2][:, ::2], ref[3][:, ::2], 2,
                        0.1, 0.9, 0.999, 1e-8)
    cpu.adam_step(p[:, ::2], g[:, ::2], m[:, ::2], v[:, ::2], 2, 0.1, 0.9, 0.999, 1e-8)
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3])):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_step_with_a_float64_gradient_on_float32_state(name):
    # not the fast path's types: the fallback computes it, as NumPy does, within float32
    rng = np.random.default_rng(14)
    p, m, v = (rng.standard_normal(30).astype(np.float32) for _ in range(3))
    v = np.abs(v)
    g = rng.standard_normal(30)
    ref = [p.copy(), g.copy(), m.copy(), v.copy()]
    _step(cpu, name, p, g, m, v)
    _step(numpy_ref, name, *ref)
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3])):
        assert got.dtype == np.float32
        close(got, want, np.float32)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_fast_path_and_read_only_fallbacks(name):
    # flat contiguous writable arrays go straight to a kernel compiled for exactly those
    # types; a read-only g or a strided p falls back to copies without compiling more,
    # a read-only p raises before anything changes
    # (compiled code only: make test-nojit leaves out the read_only tests)
    rng = np.random.default_rng(13)
    exact = {"sgd": cpu._sgd_exact, "momentum": cpu._momentum_exact,
             "adam": cpu._adam_exact}[name]()
    n_sigs = len(exact.signatures)
    for dtype in DTYPES:
        base = [rng.standard_normal(40).astype(dtype) for _ in range(4)]
        base[3] = np.abs(base[3])
        for case in ("plain", "readonly g", "strided p"):
            arrs = [a.copy() for a in base]
            ref = [a.copy() for a in base]
            if case == "readonly g":
                arrs[1].flags.writeable = False
            args = arrs
            if case == "strided p":
                wide = np.zeros(80, dtype)
                wide[::2] = arrs[0]
                args = [wide[::2], *arrs[1:]]
            _step(cpu, name, *args)
            _step(numpy_ref, name, *ref)
            np.testing.assert_array_equal(args[0], ref[0])
            np.testing.assert_array_equal(args[2], ref[2])
            np.testing.assert_array_equal(args[3], ref[3])
        p = base[0].copy()
        p.flags.writeable = False
        m_before = base[2].copy()
        with pytest.raises(ValueError, match="read-only"):
            _step(cpu, name, p, *base[1:])
        np.testing.assert_array_equal(base[2], m_before)
    assert len(exact.signatures) == n_sigs


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="Numba's dispatchers only")
def test_exact_dispatchers_take_common_calls_and_miss_cheaply(monkeypatch):
    # The common call (writable C-contiguous float64, which Numba converts to the
    # signatures' read-only inputs) reaches each single-call kernel, never the copying
    # fallback. A call outside the signatures falls back, and from its second time on
    # types no argument in Python: Numba's own miss path typed every argument twice,
    # 110-180 us a call, more than the kernel.
    rng = np.random.default_rng(21)
    A_prev, W, b = rng.standard_normal((2, 30)), rng.standard_normal((5, 2)), np.ones((5, 1))
    Z, A = np.empty((5, 30)), np.empty((5, 30))
    dA, dZ = rng.standard_normal((5, 30)), np.empty((5, 30))
    dW, db, dAp = np.empty((5, 2)), np.empty((5, 1)), np.empty((2, 30))
    p, g, m, v = (rng.standard_normal(40) for _ in range(4))
    v = np.abs(v)
    theta, X, Y, dims = _course_grad_case()
    gradapprox = np.empty_like(theta)

    def calls():
        cpu.linear_act_forward(A_prev, W, b, _spec.RELU, Z, A)
        cpu.linear_act_backward(dA, Z, A, _spec.RELU, A_prev, W, 1 / 30, 0, dZ, dW, db, dAp)
        cpu.adam_step(p, g, m, v, 3, 0.01, 0.9, 0.999, 1e-8)
        cpu.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, gradapprox)

    def fallback(*args, **kwargs):
        raise AssertionError("the common call took the copying fallback")

    # (only the Python wrappers' helpers are patched: compiled code reads the kernel
    # modules' attributes when it compiles, which may happen inside this block)
    with monkeypatch.context() as patch:
        for name in ("_out64", "act_backward", "linear_backward", "_inplace", "_in64"):
            patch.setattr(cpu, name, fallback)
        calls()

    typed = []
    base = numba.core.dispatcher._DispatcherBase
    original = base.typeof_pyval
    monkeypatch.setattr(base, "typeof_pyval", lambda self, val: typed.append(val)
                        or original(self, val))
    A_prev, p = np.asfortranarray(A_prev), np.zeros(80)[::2]   # outside the signatures
    p[:] = rng.standard_normal(40)
    theta, X, Y = (a.astype(np.float32) for a in (theta, X, Y))
    calls()
    typed.clear()
    calls()
    assert typed == []
    want = [np.empty_like(a) for a in (Z, A, dZ, dW, db, dAp)]
    numpy_ref.linear_act_forward(A_prev, W, b, _spec.RELU, *want[:2])
    numpy_ref.linear_act_backward(dA, *want[:2], _spec.RELU, A_prev, W, 1 / 30, 0,
                                  *want[2:])
    for got, ref in zip((Z, A, dZ, dW, db, dAp), want):
        np.testing.assert_array_equal(got, ref)


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


def test_grad_check_course_case():
    theta, X, Y, dims = _course_grad_case()
    keep = theta.copy()
    g1, g2 = np.empty_like(theta), np.empty_like(theta)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, g1)
    cpu.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, g2)
    np.testing.assert_array_equal(theta, keep)
    _assert_grad_close(g2, g1)


# Shapes that reach every path of the column-sparse check (_cpu_mlp.grad_check_cols):
# odd widths (OpenBLAS's one-column tail row), one-unit layers (dgemv), fewer than 4
# and not a multiple of 4 examples (dgemv's and the tail row's last columns), more than
# one input (resuming cached chains), a first layer wider than GEMM_Q, m >= 16 (with a
# last hidden layer a multiple of 4 wide: its tiles add up the output unit) and one
# example (the row-wise kernel). Without the JIT (make test-nojit) every fma is
# exact rational arithmetic, so that run takes the small shapes only, which still reach
# every path.
GRAD_SHAPES = [
    ([4, 5, 3, 1], 3), ([3, 11, 9, 1], 6), ([5, 12, 9, 1], 2), ([6, 9, 1], 5),
    ([3, 1, 1], 7), ([257, 1, 1], 2), ([3, 4, 1], 1), ([2, 6, 1], 17),
]
if not numba.config.DISABLE_JIT:
    GRAD_SHAPES += [([3, 16, 8, 1], 40), ([4, 17, 10, 1], 37), ([2, 20, 3, 1], 211),
                    ([10, 33, 1], 20), ([300, 8, 1], 4), ([7, 25, 19, 11, 1], 23),
                    ([9, 40, 37, 1], 70), ([4, 12, 8, 1], 37)]


def _grad_case(dims, m, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    P = sum(dims[l + 1] * (dims[l] + 1) for l in range(len(dims) - 1))
    theta = rng.standard_normal(P) * scale / np.sqrt(max(dims))
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    return theta, X, Y, np.array(dims)


@pytest.mark.parametrize("dims, m", GRAD_SHAPES)
def test_grad_check_bit_identical_to_numpy(dims, m):
    # every cost is NumPy's to the bit, so the differences are too
    theta, X, Y, dims = _grad_case(dims, m, seed=len(dims) * 1000 + m, scale=2.0)
    keep = theta.copy()
    want, got = np.empty_like(theta), np.empty_like(theta)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, want)
    cpu.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, got)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(theta, keep)


def _rows_of(dims, units):
    """The parameter indices of the work units (rows: weights, then bias) ``units``."""
    off_w, off_b, _ = _cpu_mlp.param_offsets(dims)
    out, u = [], 0
    for l in range(len(dims) - 1):
        n, k = dims[l + 1], dims[l]
        for r in range(n):
            if u in units:
                out += [*range(off_w[l] + r * k, off_w[l] + (r + 1) * k), off_b[l] + r]
            u += 1
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("hidden", [_spec.RELU, _spec.TANH])
@pytest.mark.parametrize("dims, m", [s for s in GRAD_SHAPES if s[1] > 1])
def test_grad_check_sparse_columns_match_the_row_kernel(dims, m, hidden):
    # the column-sparse kernel (on threads sharing the rows) and the row-wise one agree
    # bit for bit, tanh included (Numba's tanh is not NumPy's to the last bit)
    theta, X, Y, dims = _grad_case(dims, m, seed=m, scale=3.0)
    P = theta.shape[0]
    rows = np.empty(P)
    _cpu_mlp.grad_check_kernel(theta, X, Y, dims, hidden, 1e-7, rows, 0, P)
    one = np.empty(P)
    _cpu_mlp.grad_check_sparse(theta, X, Y, dims, hidden, 1e-7, one)
    base = _cpu_mlp.grad_check_setup(theta, X, Y, dims, hidden)
    shared = np.full(P, np.nan)
    work = np.zeros(1, np.int64)
    with ThreadPoolExecutor(3) as pool:
        jobs = [pool.submit(_cpu_mlp.grad_check_cols, theta, X, Y, dims, hidden, 1e-7,
                            shared, *base, work) for _ in range(3)]
        for job in jobs:
            job.result()
    n_rows = int(dims[1:].sum())
    assert work[0] == n_rows + 3            # every call took one past the last row
    # a call whose counter starts at a later row computes only the rows from there
    later = np.full(P, np.nan)
    _cpu_mlp.grad_check_cols(theta, X, Y, dims, hidden, 1e-7, later, *base,
                             np.array([n_rows // 2]))
    done = _rows_of(dims, range(n_rows // 2, n_rows))
    np.testing.assert_array_equal(one, rows)
    np.testing.assert_array_equal(shared, rows)
    np.testing.assert_array_equal(later[done], rows[done])
    assert np.isnan(np.delete(later, done)).all()


@pytest.mark.parametrize("dims, m", [([6, 12, 10, 1], 40), ([5, 16, 9, 7, 1], 33)])
def test_grad_check_relu_inputs_at_exactly_zero(dims, m):
    # zero input columns and zero biases put pre-activations at exactly 0: perturbing such
    # a bias changes g in a column where it was 0, outside the columns a row's
    # parameters share (grad_check_cols), so those take the general path
    theta, X, Y, dims = _grad_case(dims, m, seed=m)
    X[:, [3, 7]] = 0.0
    _, off_b, _ = _cpu_mlp.param_offsets(dims)
    for l in range(len(dims) - 2):
        theta[off_b[l]:off_b[l] + dims[l + 1]:2] = 0.0
    P = theta.shape[0]
    want, rows, got = np.empty(P), np.empty(P), np.empty(P)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, want)
    _cpu_mlp.grad_check_kernel(theta, X, Y, dims, _spec.RELU, 1e-7, rows, 0, P)
    _cpu_mlp.grad_check_sparse(theta, X, Y, dims, _spec.RELU, 1e-7, got)
    np.testing.assert_array_equal(rows, want)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("gap", [1e-15, 1e-9, 3e-8, 1e-6])
def test_grad_check_relu_inputs_just_below_zero(gap):
    # pre-activations a little below 0: a perturbation of the row's bias or of a weight
    # can lift them above it (the rows' compacted columns must include them), or cannot
    # (they may be left out); either way the result is NumPy's to the bit
    dims, m = ([5, 16, 12, 1], 40) if not numba.config.DISABLE_JIT else ([4, 6, 5, 1], 17)
    theta, X, Y, dims = _grad_case(dims, m, seed=7)
    off_w, off_b, _ = _cpu_mlp.param_offsets(dims)
    A = X
    for l in range(len(dims) - 2):
        n, k = dims[l + 1], dims[l]
        W = theta[off_w[l]:off_w[l] + n * k].reshape(n, k)
        prod = W @ A
        # every other row: the bias that puts example r % m at -gap
        for r in range(0, n, 2):
            theta[off_b[l] + r] = -prod[r, r % m] - gap
        A = np.maximum(prod + theta[off_b[l]:off_b[l] + n, None], 0.0)
    P = theta.shape[0]
    want, got = np.empty(P), np.empty(P)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, want)
    _cpu_mlp.grad_check_sparse(theta, X, Y, dims, _spec.RELU, 1e-7, got)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("m, seed", [(17, 0), (40, 1), (64, 2)])
def test_grad_check_negative_margin_bounds_the_perturbed_row(m, seed):
    # the margin below which a ReLU row's column is left out: the row's pre-activation
    # moved by any one perturbation of the row, recomputed in any order, stays below 0
    rng = np.random.default_rng(seed)
    k = 9
    w = rng.standard_normal(k)
    a = rng.standard_normal((k, m)) * rng.choice([1e-3, 1.0, 1e3], size=(k, 1))
    b = 0.25
    eps = 1e-7
    T, AX = np.empty(m), np.empty(m)
    _cpu_mlp._neg_margin(w, 0, b, k, a.ravel(), 0, m, eps, T, AX)
    assert (T > 0).all()
    for j in range(m):
        col = a[:, j]
        for t in range(k + 1):
            for sign in (1.0, -1.0):
                wp, bp = w.copy(), b
                if t < k:
                    wp[t] = w[t] + sign * eps
                else:
                    bp = b + sign * eps
                # the exact change, with the rounding of any order bounded by the margin
                exact = sum(Fraction(x) * Fraction(y) for x, y in zip(wp, col))
                orig = sum(Fraction(x) * Fraction(y) for x, y in zip(w, col))
                moved = exact + Fraction(bp) - (orig + Fraction(b))
                assert abs(moved) < Fraction(T[j]) / 2


@pytest.mark.parametrize("cp_max", [0, 400, 4000])
def test_grad_check_sparse_with_sparser_cached_chains(cp_max):
    # below the cache limit the chains are kept every few terms (or not at all); the
    # resumed chains still give the row-wise kernel's bits
    dims, m = ([7, 25, 19, 11, 1], 23) if not numba.config.DISABLE_JIT else ([6, 9, 5, 1], 5)
    theta, X, Y, dims = _grad_case(dims, m, seed=cp_max, scale=3.0)
    P = theta.shape[0]
    rows, got = np.empty(P), np.full(P, np.nan)
    _cpu_mlp.grad_check_kernel(theta, X, Y, dims, _spec.RELU, 1e-7, rows, 0, P)
    base = _cpu_mlp.grad_check_setup(theta, X, Y, dims, _spec.RELU, cp_max)
    assert base[6].max() > 1 or cp_max == 0     # the strides: some above one
    _cpu_mlp.grad_check_cols(theta, X, Y, dims, _spec.RELU, 1e-7, got, *base,
                             np.zeros(1, np.int64))
    np.testing.assert_array_equal(got, rows)


@pytest.mark.parametrize("hidden", [_spec.RELU, _spec.TANH])
@pytest.mark.parametrize("batch_max", [0, 200, _cpu_mlp.BATCH_MAX])
def test_grad_check_batches_of_changed_columns(batch_max, hidden):
    # below 16 examples a row's perturbations go through the later layers in one batch
    # (batch_max 0 or 200: too small for these rows, each perturbation on its own), and
    # the costs are deferred past 8192 values (the larger net: flushed at a row's
    # start to make room for the row); either way the row-wise kernel's bits
    dims, m = ([40, 30, 9, 5, 1], 5) if not numba.config.DISABLE_JIT else ([3, 6, 5, 2, 1], 4)
    theta, X, Y, dims = _grad_case(dims, m, seed=batch_max + hidden, scale=3.0)
    P = theta.shape[0]
    rows, got = np.empty(P), np.full(P, np.nan)
    _cpu_mlp.grad_check_kernel(theta, X, Y, dims, hidden, 1e-7, rows, 0, P)
    base = _cpu_mlp.grad_check_setup(theta, X, Y, dims, hidden)
    _cpu_mlp.grad_check_cols(theta, X, Y, dims, hidden, 1e-7, got, *base,
                             np.zeros(1, np.int64), batch_max)
    assert 2 * P * m > 8192 or numba.config.DISABLE_JIT
    np.testing.assert_array_equal(got, rows)


def test_grad_check_sparse_needs_per_column_products():
    assert _cpu_mlp.sparse_check_ok(np.array([4, 5, 3, 1]), 3)
    assert _cpu_mlp.sparse_check_ok(np.array([300, 8, 1]), 4)       # wide input layer: fine
    assert not _cpu_mlp.sparse_check_ok(np.array([4, 5, 3, 1]), 1)  # one example: dgemv_t
    assert not _cpu_mlp.sparse_check_ok(np.array([4, 300, 1]), 8)   # a later k over GEMM_Q


def test_grad_check_small_runs_only_the_sparse_single_thread_case():
    theta, X, Y, dims = _course_grad_case()
    P = theta.shape[0]
    want = np.empty(P)
    _cpu_mlp.grad_check_sparse(theta, X, Y, dims, _spec.RELU, 1e-7, want)
    # per layer from the last: 2 n (k + 1) (k + later weights) m
    assert _cpu_mlp.grad_check_work(dims, 3) == 2 * 3 * (1 * 4 * 3 + 3 * 6 * 8 + 5 * 5 * 22)
    got = np.full(P, np.nan)
    assert _cpu_mlp.grad_check_small(theta, X, Y, dims, _spec.RELU, 1e-7, got, 10**7)
    np.testing.assert_array_equal(got, want)
    untouched = np.full(P, np.nan)
    # above the work threshold (the threaded path) or one example (no sparse path): no
    for Xs, Ys, limit in ((X, Y, 10), (X[:, :1].copy(), Y[:, :1].copy(), 10**7)):
        assert not _cpu_mlp.grad_check_small(theta, Xs, Ys, dims, _spec.RELU, 1e-7,
                                             untouched, limit)
    assert np.isnan(untouched).all()


@pytest.mark.parametrize("hidden", [_spec.RELU, _spec.TANH])
def test_grad_check_wide_net(hidden):
    rng = np.random.default_rng(hidden)
    dims = np.array([3, 16, 8, 1])
    P = sum(int(dims[l + 1] * (dims[l] + 1)) for l in range(3))
    theta = rng.standard_normal(P) * 0.5
    X = rng.standard_normal((3, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(float)
    g1, g2 = np.empty(P), np.empty(P)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, hidden, 1e-7, g1)
    cpu.grad_check_mlp(theta, X, Y, dims, hidden, 1e-7, g2)
    _assert_grad_close(g2, g1)


def test_grad_check_float32_inputs():
    # The network kernels compute float32 inputs in float64 (rounding the result once):
    # NumPy's float32 differences (J+ - J-) / (2 eps) are dominated by float32 rounding
    # noise (1e-2 absolute here), so the reference is numpy_ref in float64 on the same,
    # float32-rounded, inputs.
    theta, X, Y, dims = _course_grad_case()
    theta, X, Y = theta.astype(np.float32), X.astype(np.float32), Y.astype(np.float32)
    g64, g32, got = np.empty(theta.shape), np.empty_like(theta), np.empty_like(theta)
    numpy_ref.grad_check_mlp(theta.astype(np.float64), X.astype(np.float64),
                             Y.astype(np.float64), dims, _spec.RELU, 1e-3, g64)
    numpy_ref.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-3, g32)
    cpu.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-3, got)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, g64, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(got, g32, atol=2e-2)


# --------------------------------------------------------------------------------------
# Legacy seeding and permutation (the mini-batch shuffle)
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 3, 11, 12345, 2**31 + 7, 2**32 - 1])
def test_legacy_seed_matches_numpy_state(seed):
    key = np.empty(624, np.uint32)
    pos = _cpu_rng.mt_seed(key, seed)
    np.random.seed(seed)
    st_ = np.random.get_state()
    np.testing.assert_array_equal(key, st_[1])
    assert pos == st_[2] == 624


@pytest.mark.parametrize("seed", [0, 11, 2**32 - 4])
def test_mt_seed4_is_four_legacy_seedings(seed):
    keys = np.empty((4, 624), np.uint32)
    _cpu_rng.mt_seed4(keys, seed)
    for q in range(4):
        np.random.seed(seed + q)
        np.testing.assert_array_equal(keys[q], np.random.get_state()[1])


@pytest.mark.parametrize("m", [1, 64, 300, 5000])
def test_legacy_permutation_mid_block_matches_numpy(m):
    # the permutation starts wherever the stream is (here after 7 doubles)
    np.random.seed(5)
    np.random.rand(7)
    st0 = np.random.get_state()
    want = np.random.permutation(m)
    st1 = np.random.get_state()
    key = st0[1].copy()
    perm = np.empty(m, np.int64)
    pos = _cpu_rng.mt_permutation(key, st0[2], perm)
    np.testing.assert_array_equal(perm, want)
    np.testing.assert_array_equal(key, st1[1])
    assert pos == st1[2]


@pytest.mark.parametrize("m", [1, 2, 3, 64, 211, 299, 300, 301, 10000])
def test_legacy_permutation_and_rand_match_numpy(m):
    for seed in (1, 10, 2024):
        key = np.empty(624, np.uint32)
        pos = _cpu_rng.mt_seed(key, seed)
        perm = np.empty(m, np.int64)
        pos = _cpu_rng.mt_permutation(key, pos, perm)
        np.random.seed(seed)
        np.testing.assert_array_equal(perm, np.random.permutation(m))
        u = np.empty(1001)
        pos = _cpu_rng.mt_fill_uniform(key, pos, u)   # continues at an odd position
        np.testing.assert_array_equal(u, np.random.rand(1001))
        st_ = np.random.get_state()
        np.testing.assert_array_equal(key, st_[1])
        assert pos == st_[2]


# --------------------------------------------------------------------------------------
# The fused training loop
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
           cost_mode=_spec.CE_SUM, grad_form=_spec.GRAD_DW, cost_every=100, first_epoch=0,
           t=0, state=None, dtype=np.float64, total_epochs=None):
    dims = np.asarray(dims, dtype=np.int64)
    theta, m_, v_ = state if state is not None else (
        _init_theta(dims).astype(dtype), np.zeros(0), np.zeros(0))
    if state is None:
        m_, v_ = np.zeros_like(theta), np.zeros_like(theta)
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


def _compare_training(n_epochs=300, **kw):
    """Run both backends from the same NumPy global state; compare everything."""
    X, Y = kw.pop("data")
    dims = kw.pop("dims")
    runs = []
    for K in (numpy_ref, cpu):
        np.random.seed(77)
        out = _train(K, X, Y, dims, n_epochs, **kw)
        runs.append((out, np.random.get_state()))
    (ref, ref_state), (got, got_state) = runs
    same_state(got_state, ref_state)
    assert got[4] == ref[4]                           # t
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got[3], ref[3], rtol=1e-9, equal_nan=True)   # costs
    for a, b in zip(got[:3], ref[:3]):                # theta, moments
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    return ref, got


FOOTBALL = _data(2, 211, seed=1)
MOONS = _data(2, 300, seed=2)


def test_train_full_batch_gd_relu():
    _compare_training(2000, data=FOOTBALL, dims=[2, 20, 3, 1], lr=0.3)


@pytest.mark.parametrize("optimizer", [_spec.OPT_ADAM, _spec.OPT_MOMENTUM, _spec.OPT_GD])
def test_train_mini_batch(optimizer):
    ref, _ = _compare_training(200, data=MOONS, dims=[2, 5, 2, 1], optimizer=optimizer,
                               lr=0.0007 if optimizer != _spec.OPT_GD else 0.1,
                               batch_size=64, cost_every=10)
    assert ref[4] == 200 * 5


@pytest.mark.parametrize("keep_prob, lambd", [(0.86, 0.0), (1.0, 0.7), (0.86, 0.7)])
def test_train_dropout_compat_and_l2(keep_prob, lambd):
    _compare_training(300, data=FOOTBALL, dims=[2, 20, 3, 1], keep_prob=keep_prob,
                      lambd=lambd, cost_mode=_spec.CE_NANSUM, cost_every=10)


def test_train_dropout_compat_with_mini_batches():
    _compare_training(60, data=MOONS, dims=[2, 5, 2, 1], optimizer=_spec.OPT_ADAM,
                      lr=0.001, batch_size=64, keep_prob=0.8, cost_every=1)


def test_train_dropout_fast_leaves_numpy_state_alone():
    _compare_training(300, data=FOOTBALL, dims=[2, 20, 3, 1], keep_prob=0.86,
                      dropout=_spec.DROPOUT_FAST, cost_mode=_spec.CE_CLIPPED)
    np.random.seed(77)
    before = np.random.get_state()
    _train(cpu, *FOOTBALL, [2, 20, 3, 1], 5, keep_prob=0.86, dropout=_spec.DROPOUT_FAST)
    same_state(np.random.get_state(), before)


def test_train_logits_cost_is_finite_and_leaves_training_unchanged():
    """The stable cost mode changes the recorded costs only, never the parameters."""
    X, Y = FOOTBALL
    dims = [2, 20, 3, 1]
    P = sum(dims[l + 1] * (dims[l] + 1) for l in range(len(dims) - 1))
    results = {}
    for name, K in (("numpy", numpy_ref), ("numba", cpu)):
        for mode in (_spec.CE_SUM, _spec.CE_LOGITS):
            theta = np.random.default_rng(7).standard_normal(P) * 10   # saturating init
            costs = np.zeros(3)
            with np.errstate(all="ignore"):
                K.train_mlp(X, Y, np.array(dims), _spec.RELU, theta, np.zeros(P),
                            np.zeros(P), 0, 201, _spec.OPT_GD, np.full(201, 0.01), 0.9,
                            0.9, 0.999, 1e-8, 0, 0, 0, 0.0, 1.0, _spec.DROPOUT_COMPAT, 1,
                            mode, _spec.GRAD_DW, 100, costs)
            results[name, mode] = theta, costs
    for name in ("numpy", "numba"):
        assert not np.all(np.isfinite(results[name, _spec.CE_SUM][1]))
        assert np.all(np.isfinite(results[name, _spec.CE_LOGITS][1]))
        np.testing.assert_array_equal(results[name, _spec.CE_SUM][0],
                                      results[name, _spec.CE_LOGITS][0])
    close(results["numba", _spec.CE_LOGITS][1], results["numpy", _spec.CE_LOGITS][1])
    close(results["numba", _spec.CE_LOGITS][0], results["numpy", _spec.CE_LOGITS][0])


def test_train_tanh_hidden():
    _compare_training(500, data=FOOTBALL, dims=[2, 4, 1], hidden=_spec.TANH, lr=1.2)


@pytest.mark.parametrize("grad_form", [_spec.GRAD_CHAIN, _spec.GRAD_DZ])
def test_train_grad_forms(grad_form):
    _compare_training(300, data=FOOTBALL, dims=[2, 20, 3, 1], grad_form=grad_form)


def test_train_deeper_net_and_long_k_blocks():
    X, Y = _data(5, 600, seed=4)                     # m > 256: OpenBLAS splits k
    _compare_training(100, data=(X, Y), dims=[5, 10, 7, 5, 1], lr=0.05, cost_every=7)


@pytest.mark.parametrize("threads", [1, 2])
def test_flat_wide_layers_take_the_hand_loops_with_numpys_bits(threads):
    # on one BLAS thread, layers of 2 to HAND_ROWS units take the hand loops at any size
    # (the k-blocked products: 1100 inputs is five OpenBLAS k blocks); on more, NumPy's
    # np.dot (a multi-threaded OpenBLAS splits some products in another order). Every
    # output is NumPy's to the bit either way
    from threadpoolctl import threadpool_limits

    n_out, n_in, m = 7, 1100, 40
    assert n_out * n_in * m >= cpu.BLAS_MIN_WORK
    rng = np.random.default_rng(threads)
    A_prev, W = rng.standard_normal((n_in, m)), rng.standard_normal((n_out, n_in)) * 0.05
    b, dA = rng.standard_normal((n_out, 1)), rng.standard_normal((n_out, m))
    with threadpool_limits(threads, "blas"):
        assert cpu.hand_rows() == (cpu.HAND_ROWS if threads == 1 else 0)
        assert cpu._blas_layer(n_out, A_prev, W) == (threads > 1)
        assert cpu._blas_layer(n_out, A_prev.astype(np.float32), W.astype(np.float32))
        assert cpu._blas_layer(cpu.HAND_ROWS + 1, A_prev, W)
        assert cpu._blas_layer(1, A_prev, W)
        outs = []
        for K in (numpy_ref, cpu):
            Z, A = np.empty((n_out, m)), np.empty((n_out, m))
            K.linear_act_forward(A_prev, W, b, _spec.RELU, Z, A)
            dZ, dW, db = np.empty_like(dA), np.empty_like(W), np.empty((n_out, 1))
            dAp = np.empty_like(A_prev)
            K.linear_act_backward(dA, Z, A, _spec.RELU, A_prev, W, 1.0 / m, 0.1, dZ, dW, db,
                                  dAp)
            outs.append((Z, A, dZ, dW, db, dAp))
        for got, want in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("threads", [1, 2])
def test_train_flat_wide_first_layer_has_numpys_bits(threads):
    # a first layer of 7 units on 1100 inputs: the hand loops on one BLAS thread, np.dot
    # on two (150 examples: a product two OpenBLAS threads split in another order)
    from threadpoolctl import threadpool_limits

    X, Y = _data(1100, 150, seed=5)
    with threadpool_limits(threads, "blas"):
        assert cpu._train_hand_rows([1100, 7, 3, 1], 150) == (cpu.HAND_ROWS
                                                              if threads == 1 else 0)
        ref, got = _compare_training(20, data=(X, Y), dims=[1100, 7, 3, 1], lr=0.05,
                                     cost_every=3)
    for a, b in zip(got[:4], ref[:4]):
        np.testing.assert_array_equal(a, b)


def test_train_chunks_equal_one_call():
    X, Y = MOONS
    dims = [2, 5, 2, 1]
    kw = {"optimizer": _spec.OPT_ADAM, "lr": 0.001, "batch_size": 64, "cost_every": 100,
          "total_epochs": 1000}
    np.random.seed(0)
    one = _train(cpu, X, Y, dims, 1000, **kw)
    np.random.seed(0)
    first = _train(cpu, X, Y, dims, 500, **kw)
    middle = [a.copy() for a in first[:3]]
    second = _train(cpu, X, Y, dims, 500, first_epoch=500, t=first[4],
                    state=first[:3], **kw)
    np.testing.assert_array_equal(np.concatenate([first[3], second[3]]), one[3])
    for a, b in zip(second[:3], one[:3]):
        np.testing.assert_array_equal(a, b)
    assert second[4] == one[4] == 5000
    np.random.seed(0)
    ref = _train(numpy_ref, X, Y, dims, 500, first_epoch=500, t=first[4], state=middle,
                 **kw)
    np.testing.assert_allclose(second[3], ref[3], rtol=1e-9)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled")
def test_train_takes_read_only_and_list_learning_rates_without_compiling():
    # a read-only (or list) lrs is copied, not passed on as a type the training loop
    # would compile a second time for
    X, Y = MOONS
    dims = np.array([2, 5, 2, 1])
    kw = {"optimizer": _spec.OPT_ADAM, "batch_size": 64, "cost_every": 1}
    np.random.seed(0)
    want = _train(cpu, X, Y, dims, 3, **kw)
    n_sigs = len(_cpu_mlp.train_kernel.signatures)
    for how in ("read-only", "list"):
        theta, m_, v_ = _init_theta(dims), np.zeros(want[0].size), np.zeros(want[0].size)
        lrs = 0.3 / (1.0 + 0.001 * np.arange(3))
        if how == "read-only":
            lrs.flags.writeable = False
        else:
            lrs = lrs.tolist()
        costs = np.zeros(3)
        np.random.seed(0)
        t = cpu.train_mlp(X, Y, dims, _spec.RELU, theta, m_, v_, 0, 3, _spec.OPT_ADAM, lrs,
                          0.9, 0.9, 0.999, 1e-8, 0, 64, 10, 0.0, 1.0, _spec.DROPOUT_COMPAT,
                          1, _spec.CE_SUM, _spec.GRAD_DW, 1, costs)
        for got, ref in zip((theta, m_, v_, costs, t), want):
            np.testing.assert_array_equal(got, ref)
    assert len(_cpu_mlp.train_kernel.signatures) == n_sigs


def test_train_float32():
    X, Y = FOOTBALL
    runs = [_train(K, X, Y, [2, 20, 3, 1], 50, dtype=np.float32, cost_every=5)
            for K in (numpy_ref, cpu)]
    assert runs[1][0].dtype == np.float32
    np.testing.assert_allclose(runs[1][3], runs[0][3], rtol=1e-5)
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-4, atol=1e-5)


def test_train_leaves_numpy_state_alone_without_shuffle_or_compat_dropout():
    np.random.seed(5)
    before = np.random.get_state()
    _train(cpu, *FOOTBALL, [2, 20, 3, 1], 20)
    same_state(np.random.get_state(), before)


def test_train_rejects_what_numpy_would_reject():
    X, Y = FOOTBALL
    with pytest.raises(ValueError, match="Seed must be between"):
        cpu.train_mlp(X, Y, np.array([2, 3, 1]), _spec.RELU, _init_theta([2, 3, 1]),
                      np.zeros(13), np.zeros(13), 0, 2, _spec.OPT_GD, np.ones(2), 0.9, 0.9,
                      0.999, 1e-8, 0, 64, 2**32, 0.0, 1.0, 0, 1, 0, 0, 1, np.zeros(2))
    with pytest.raises(IndexError):
        cpu.train_mlp(X, Y, np.array([2, 3, 1]), _spec.RELU, _init_theta([2, 3, 1]),
                      np.zeros(13), np.zeros(13), 0, 5, _spec.OPT_GD, np.ones(5), 0.9, 0.9,
                      0.999, 1e-8, 0, 0, 0, 0.0, 1.0, 0, 1, 0, 0, 1, np.zeros(2))


# --------------------------------------------------------------------------------------
# Threads and warm-up
# --------------------------------------------------------------------------------------

_THREAD_SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np
    from fastnn.kernels import cpu, _spec
    cpu.PAR_MIN_SIZE = 1000                   # take the parallel paths at test sizes
    cpu.GRAD_CHECK_PAR_MIN_WORK = 1000
    rng = np.random.default_rng(0)
    n = 20_001
    p, g, m, v = (rng.standard_normal(n) for _ in range(4)); v = np.abs(v)
    cpu.adam_step(p, g, m, v, 7, 0.01, 0.9, 0.999, 1e-8)
    A = rng.standard_normal((3, n)); D = np.empty(A.shape, bool)
    cpu.dropout_forward(A, 0.8, _spec.DROPOUT_FAST, 99, D, A)
    dims = np.array([3, 24, 24, 1])
    P = int(sum(dims[l + 1] * (dims[l] + 1) for l in range(3)))
    theta = rng.standard_normal(P) * 0.3; X = rng.standard_normal((3, 64))
    Y = (rng.random((1, 64)) > 0.5) * 1.0; ga = np.empty(P)
    cpu.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, ga)
    cpu.GEMM_PAR_MIN_WORK = 1000              # the large products' column split too
    Wl, Xl = rng.standard_normal((40, 300)), rng.standard_normal((300, 250))
    Zl, Al = np.empty((40, 250)), np.empty((40, 250))
    cpu.linear_act_forward(Xl, Wl, np.zeros((40, 1)), _spec.RELU, Zl, Al)
    h = hashlib.sha256()
    for a in (p, m, v, A, D, ga, cpu.counter_uniform(5, n), Zl):
        h.update(np.ascontiguousarray(a).tobytes())
    print(h.hexdigest())
""")


def test_results_do_not_depend_on_thread_count():
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", _THREAD_SCRIPT], env=env,
                             capture_output=True, text=True, timeout=600, check=True)
        digests.append(out.stdout.strip())
    assert digests[0] == digests[1] and len(digests[0]) == 64


def test_warmup_runs_and_restores_numpy_state():
    np.random.seed(9)
    before = np.random.get_state()
    seconds = cpu.warmup((np.float64,))
    assert isinstance(seconds, float) and seconds >= 0
    same_state(np.random.get_state(), before)


# --------------------------------------------------------------------------------------
# NumPy's own exp / log / log1p / tanh loops, as the kernels call them
# --------------------------------------------------------------------------------------

@numba.njit
def _run_numpy_loop(f, x, y):
    if f == 0:
        _cpu_ufunc.exp_into(x, y)
    elif f == 1:
        _cpu_ufunc.log_into(x, y)
    elif f == 2:
        _cpu_ufunc.log1p_into(x, y)
    else:
        _cpu_ufunc.tanh_into(x, y)


def _loop_inputs(f, dtype):
    rng = np.random.default_rng(f)
    x = np.concatenate([[0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-310, 710.0,
                         -746.0, 89.5, -104.0], rng.uniform(-40.0, 40.0, 3000),
                        rng.standard_normal(1000), rng.random(1000),
                        10.0 ** rng.uniform(-40.0, 40.0, 1000)])
    with np.errstate(all="ignore"):
        return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("f", range(len(_cpu_ufunc.FUNCS)))
def test_numpy_loops_are_the_ufuncs_to_the_bit(f, dtype):
    # the loop NumPy picked for this CPU (SIMD code on some CPUs, libm on others)
    uf = _cpu_ufunc.FUNCS[f]
    x = _loop_inputs(f, dtype)
    with np.errstate(all="ignore"):
        for n in (0, 1, 3, 17, x.size):
            y = np.full(n, 7.0, dtype)
            _run_numpy_loop(f, x[:n], y)
            np.testing.assert_array_equal(y, uf(x[:n]))
        y = np.empty(x.size // 2 + x.size % 2, dtype)
        _run_numpy_loop(f, x[::2], y)                   # a strided source
        np.testing.assert_array_equal(y, uf(x[::2]))
        z = x.copy()
        _run_numpy_loop(f, z, z)                        # in place
        np.testing.assert_array_equal(z, uf(x))


def test_numpy_loops_were_all_found():
    # every table entry is NumPy's compiled loop, none the slow Python stand-in
    assert len(_cpu_ufunc._KEEP) == 1
    for f, uf in enumerate(_cpu_ufunc.FUNCS):
        for d, dtype in enumerate((np.float32, np.float64)):
            assert _cpu_ufunc._TABLE[2 * (2 * f + d)] == _cpu_ufunc._find_loop(uf, dtype)[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_python_stand_in_loop_computes_the_ufunc(dtype):
    x = _loop_inputs(0, dtype)[::3]
    y = np.empty_like(x)
    loop = _cpu_ufunc._python_loop(np.tanh, dtype)
    _cpu_ufunc._call(ctypes.cast(loop, ctypes.c_void_p).value, None, x, y)
    np.testing.assert_array_equal(y, np.tanh(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", [_spec.SIGMOID, _spec.TANH])
def test_sigmoid_and_tanh_are_numpys_to_the_bit(act, dtype):
    rng = np.random.default_rng(act + 10)
    Z = (rng.standard_normal((4, 301)) * 8).astype(dtype)
    eye = np.eye(4, dtype=dtype)
    b = rng.standard_normal((4, 1)).astype(dtype)
    got, want = [np.empty_like(Z) for _ in range(2)], [np.empty_like(Z) for _ in range(2)]
    cpu.linear_act_forward(Z, eye, b, act, *got)
    numpy_ref.linear_act_forward(Z, eye, b, act, *want)
    if dtype == np.float64:      # small float32 layers compute in float64 (RTOL)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    dA = rng.standard_normal(Z.shape).astype(dtype)
    dZ1, dZ2 = np.empty_like(Z), np.empty_like(Z)
    numpy_ref.act_backward(dA, want[0], want[1], act, dZ1)
    cpu.act_backward(dA, want[0], want[1], act, dZ2)
    np.testing.assert_array_equal(dZ2, dZ1)
    cpu.act_backward(dA, want[0], want[1], act, dA)   # in place, in blocks
    np.testing.assert_array_equal(dA, dZ1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [_spec.CE_SUM, _spec.CE_NANSUM, _spec.CE_CLIPPED,
                                  _spec.CE_LOGITS])
@pytest.mark.parametrize("m", [1, 255, 256, 257, 700])
def test_cross_entropy_is_numpys_to_the_bit(m, mode, dtype):
    # blocks of 256 for the second logarithm; saturated predictions included
    rng = np.random.default_rng(m + mode)
    A = rng.random((1, m)).astype(dtype)
    if mode == _spec.CE_LOGITS:
        A = ((A - 0.5) * 60).astype(dtype)
    elif m > 2:
        A[0, :2] = (0.0, 1.0)
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    with np.errstate(all="ignore"):
        want = numpy_ref.cross_entropy(A, Y, mode)
    got = cpu.cross_entropy(A, Y, mode)
    assert got == want or (np.isnan(got) and np.isnan(want))
