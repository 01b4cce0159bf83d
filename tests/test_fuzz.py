"""The property-based fuzz of the public API (``tests/fuzz_driver.py``), and what it found.

The fuzz runs in a subprocess, so a crash (a segmentation fault in a kernel) fails the
test instead of killing pytest; the driver's ``--trace`` file then names the case. The
count of calls defaults to a CI-sized run; ``FASTNN_FUZZ_CALLS=10000`` runs a long one.
The harness itself is checked: bugs planted in the numba backend (a wrong value, an
input changed before an error, an IndexError, a segfault) must make it fail.

The last section keeps, as plain tests, the inputs the fuzz found that broke the
"ValueError or TypeError, inputs untouched" rule.
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import deep, gradient_checking, kernels, optimization

DRIVER = Path(__file__).with_name("fuzz_driver.py")
CI_CALLS = int(os.environ.get("FASTNN_FUZZ_CALLS", "2000"))

pytestmark = pytest.mark.skipif("numba" not in kernels.available(),
                                reason="the numba backend is not available")


def run_driver(tmp_path, *args, timeout=900):
    """Run the driver; return (completed process, report dict or None, trace text)."""
    report, trace = tmp_path / "report.json", tmp_path / "trace.txt"
    env = {k: v for k, v in os.environ.items() if k != "FASTNN_BACKEND"}
    env["OPENBLAS_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, str(DRIVER), *args, "--report", str(report),
                          "--trace", str(trace)], capture_output=True, text=True,
                         timeout=timeout, env=env)
    data = json.loads(report.read_text()) if report.exists() else None
    return out, data, trace.read_text() if trace.exists() else ""


def test_fuzz_numba_matches_numpy_or_rejects_cleanly(tmp_path):
    """Every public function: numba equals numpy, or both raise ValueError/TypeError
    with every input untouched; no crash, no other exception."""
    out, report, trace = run_driver(tmp_path, "--calls", str(CI_CALLS))
    failures = "" if report is None else "\n".join(
        f"{name}:\n{entry['failure']}" for name, entry in report["properties"].items()
        if entry["failure"])
    assert out.returncode == 0, (f"exit {out.returncode}\n{failures}\nlast case: {trace}\n"
                                 f"{out.stderr[-4000:]}")
    assert report["failures"] == 0
    assert report["calls"] >= CI_CALLS
    properties = report["properties"]
    listed = subprocess.run([sys.executable, str(DRIVER), "--list"], capture_output=True,
                            text=True, timeout=300, check=True).stdout.split()
    assert sorted(properties) == sorted(listed) and len(listed) >= 70
    assert all(entry["calls"] >= 1 for entry in properties.values())
    returned = sum(entry.get("returned", 0) for entry in properties.values())
    raised = sum(entry.get("raised", 0) for entry in properties.values())
    # both paths are exercised: valid calls compared with numpy, and rejections
    assert returned >= 0.3 * report["calls"] and raised >= 0.2 * report["calls"]


@pytest.mark.parametrize("kind, expected", [
    ("wrong", "in place: inputs"),
    ("mutate", "raised and changed"),
    ("index", "IndexError: injected"),
])
def test_fuzz_harness_reports_planted_bugs(tmp_path, kind, expected):
    """A wrong in-place update, an input changed before a ValueError and an IndexError,
    planted in the numba backend's sgd_step, each fail the property."""
    out, report, _ = run_driver(tmp_path, "--calls", "30", "--no-shrink", "--inject", kind,
                                "--only", "initialization.update_parameters")
    assert out.returncode == 1, out.stderr[-3000:]
    failure = report["properties"]["initialization.update_parameters"]["failure"]
    assert expected in failure


def test_fuzz_harness_survives_a_segfault_and_names_the_case(tmp_path):
    """A segmentation fault in a kernel ends the driver with a signal, and the trace
    file holds the case that was running."""
    out, report, trace = run_driver(tmp_path, "--calls", "30", "--no-shrink", "--inject",
                                    "crash", "--only", "optimization.update_parameters_with_gd")
    assert out.returncode not in (0, 1)
    assert report is None
    assert "Fatal Python error" in out.stderr
    assert trace.startswith("optimization.update_parameters_with_gd")


# --------------------------------------------------------------------------------------
# The comparison rules of the harness
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fd():
    """The driver as a module (its comparison helpers)."""
    sys.path.insert(0, str(DRIVER.parent))
    try:
        import fuzz_driver
    finally:
        sys.path.remove(str(DRIVER.parent))
    return fuzz_driver


def _tol(dtype):
    return {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}[np.dtype(dtype)]


def test_diff_close_requires_nonfinite_values_in_the_same_places(fd):
    """NaN and +-inf must sit in the same places; finite values within tolerance."""
    a = np.array([1.0, np.nan, np.inf, -2.0])
    assert fd.diff_close(a, a.copy(), _tol) == []
    assert fd.diff_close(a, a + np.array([0, 0, 0, 1e-12]), _tol) == []
    assert fd.diff_close(a, a + np.array([0, 0, 0, 1e-9]), _tol)
    assert fd.diff_close(a, np.array([1.0, 0.0, np.inf, -2.0]), _tol)
    assert fd.diff_close(a, np.array([1.0, np.nan, -np.inf, -2.0]), _tol)
    assert fd.diff_close(a, a.astype(np.float32), _tol)             # dtype
    assert fd.diff_close({"x": a}, {"y": a}, _tol)                    # keys
    assert fd.diff_close((a,), [a], _tol)                             # container type


def test_float32_results_may_be_closer_to_float64_than_numpy_float32(fd):
    """A float32 result off from NumPy's float32 passes when it is nearer the float64
    result than NumPy's is, and fails when it is further."""
    exact = np.array([1e-4, -1e-4])
    numpy32 = np.array([1.02e-4, -1e-4], dtype=np.float32)
    closer = np.array([1.0001e-4, -1e-4], dtype=np.float32)
    further = np.array([1.2e-4, -1e-4], dtype=np.float32)
    assert fd.diff_close(numpy32, closer, _tol, alt=exact) == []
    assert fd.diff_close(numpy32, further, _tol, alt=exact)
    assert fd.diff_close(numpy32, closer, _tol)                       # without alt


def test_clone_keeps_layouts_and_shared_objects(fd):
    """Copies keep Fortran order, strides, read-only flags and shared entries."""
    base = np.arange(24.0).reshape(4, 6)
    ro = base.copy()
    ro.flags.writeable = False
    shared = np.ones(3)
    inputs = [np.asfortranarray(base), base[::2, ::3], ro, {"a": shared, "b": shared}]
    c = fd.clone(inputs)
    assert c[0].flags.f_contiguous and not c[0].flags.c_contiguous
    assert not (c[1].flags.c_contiguous or c[1].flags.f_contiguous)
    assert not c[2].flags.writeable
    assert c[3]["a"] is c[3]["b"] and c[3]["a"] is not shared
    assert fd.diff_exact(inputs, c) == []
    c[1][0, 0] = -1.0
    assert fd.diff_exact(inputs, c) and base[0, 0] == 0.0


def test_diff_exact_sees_dtype_sign_and_replacement_changes(fd):
    """Inputs 'unchanged' means same dtypes, same signs of zeros, same values."""
    a = np.array([0.0, 1.0])
    assert fd.diff_exact(a, a.astype(np.float32))
    assert fd.diff_exact(a, np.array([-0.0, 1.0]))
    assert fd.diff_exact({"W1": a}, {"W1": a.tolist()})
    assert fd.diff_exact([np.array([np.nan])], [np.array([np.nan])]) == []


# --------------------------------------------------------------------------------------
# What the fuzz found (each failed with an exception other than ValueError/TypeError)
# --------------------------------------------------------------------------------------

BACKENDS = ["numpy", "numba"]


def _update_case():
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((2, 3)), "b1": rng.standard_normal((2, 1))}
    grads = {"d" + k: rng.standard_normal(a.shape) for k, a in params.items()}
    v, s = optimization.initialize_adam(params)
    return params, grads, v, s


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("call", [
    lambda p, g, v, s: optimization.update_parameters_with_momentum(p, g, v, 10**400, 0.1),
    lambda p, g, v, s: optimization.update_parameters_with_gd(p, g, 10**400),
    lambda p, g, v, s: optimization.update_parameters_with_adam(p, g, v, s, 1,
                                                                epsilon=-(10**400)),
    lambda p, g, v, s: optimization.update_parameters_with_adam(p, g, v, s, 10**400),
    lambda p, g, v, s: optimization.update_parameters_with_adam(p, g, v, s, 2**63),
], ids=["beta", "learning_rate", "epsilon", "t-beyond-float", "t-beyond-int64"])
def test_integers_beyond_float_or_int64_range_are_value_errors(backend, call):
    """10**400 as a real number (float() overflows) or an integer beyond int64 raised
    OverflowError; now ValueError, with nothing updated."""
    params, grads, v, s = _update_case()
    before = copy.deepcopy((params, grads, v, s))
    with fastnn.use_backend(backend), pytest.raises(ValueError, match="must be"):
        call(params, grads, v, s)
    for old, new in zip(before, (params, grads, v, s)):
        for k in old:
            np.testing.assert_array_equal(new[k], old[k])


@pytest.mark.parametrize("call, name", [
    (lambda: optimization.update_lr(0.1, 10**400, 1.0), "epoch_num"),
    (lambda: optimization.schedule_lr_decay(0.1, 5, 1.0, 10**400), "time_interval"),
    (lambda: optimization.update_lr(10**400, 1, 1.0), "learning_rate0"),
    (lambda: gradient_checking.gradient_check(2.0, 10**400), "theta"),
    (lambda: gradient_checking.forward_propagation(10**400, 1.0), "x"),
])
def test_huge_integers_in_scalar_functions_are_value_errors(call, name):
    """update_lr, schedule_lr_decay and gradient_check computed with 10**400 (and raised
    OverflowError); they now reject it naming the argument."""
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_to_vector_ignores_keys_that_are_not_strings(backend):
    """An extra non-string key (1) in the gradients dict raised AttributeError."""
    grads = {"dW1": np.ones((2, 3)), "db1": np.zeros((2, 1)), 1: "extra"}
    with fastnn.use_backend(backend):
        theta = gradient_checking.gradients_to_vector(grads)
    np.testing.assert_array_equal(theta.ravel(), [1.0] * 6 + [0.0] * 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_backward_without_examples_is_a_value_error(backend):
    """dZ and A_prev with zero columns (m = 0) divided by m: ZeroDivisionError."""
    W, b = np.ones((2, 3)), np.zeros((2, 1))
    with fastnn.use_backend(backend):
        with pytest.raises(ValueError, match="dZ"):
            deep.linear_backward(np.zeros((2, 0)), (np.zeros((3, 0)), W, b))
        with pytest.raises(ValueError, match="dZ"):
            deep.linear_activation_backward(
                np.zeros((2, 0)), ((np.zeros((3, 0)), W, b), np.zeros((2, 0))), "relu")
