"""Reliability of the Numba backend beyond single results.

* NaN produced inside a computation (inf - inf, 0 * inf, log(0) * 0, inf / inf) reaches
  the numba backend's outputs exactly where it reaches NumPy's: forward and backward
  passes, costs, optimizer steps, training runs and gradient checks, with
  ``fastnn.options(check_finite=False)``.
* Determinism: a training run and a gradient check give the same bytes from repeated
  calls and from separate processes (thread counts: ``tests/test_kernels_cpu.py``).
* Installs and caches: the package imported from a read-only location caches its
  kernels in ``NUMBA_CACHE_DIR`` or the user-wide cache directory; several processes
  compiling into one fresh cache directory at once all succeed, and a later process
  loads from it.
* No memory growth over 1e5 small façade calls.
* ``NUMBA_BOUNDSCHECK=1`` turns an out-of-bounds read into ``IndexError`` when it
  compiles into a fresh cache directory (Numba's cache index does not record the bounds
  check setting, so a step running with it must not share a cache with other runs).
"""

import copy
import ctypes
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import deep, gradcheck, initialization, optimization, planar, regularization
from fastnn import kernels

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif("numba" not in kernels.available(),
                                reason="the numba backend is not available")


def _env(**extra):
    """The environment of a child process: one BLAS thread, no inherited Numba knobs."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NUMBA_") and k != "FASTNN_BACKEND"}
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def _run(code, timeout=300, **kw):
    """Run ``code`` in a fresh interpreter; return its stdout (the call must succeed)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=timeout, **kw)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr[-3000:]}"
    return out.stdout


# --------------------------------------------------------------------------------------
# NaN propagation
# --------------------------------------------------------------------------------------

def on_both(fn, *args, **kwargs):
    """``fn`` on the numpy and the numba backend, each on its own copy of the inputs.

    Returns ``(numpy_result, numba_result, numpy_inputs, numba_inputs)``.
    """
    runs = []
    for backend in ("numpy", "numba"):
        a, k = copy.deepcopy((args, kwargs))
        np.random.seed(0)
        with fastnn.use_backend(backend), fastnn.options(check_finite=False), \
                np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # the NaN and inf are wanted
            runs.append((fn(*a, **k), (a, k)))
    (ref, ref_in), (got, got_in) = runs
    return ref, got, ref_in, got_in


def _leaves(x):
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, (float, np.floating)):
        yield np.asarray(x)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    elif hasattr(x, "__dataclass_fields__"):
        yield from _leaves(vars(x))


def assert_same_nonfinite(ref, got, rtol=1e-12):
    """NaN, +inf and -inf in the same places; finite values within ``rtol`` of the
    largest. Returns the number of NaNs in ``ref``."""
    ref_leaves, got_leaves = list(_leaves(ref)), list(_leaves(got))
    assert len(ref_leaves) == len(got_leaves)
    nans = 0
    for a, b in zip(ref_leaves, got_leaves):
        assert a.shape == b.shape and a.dtype == b.dtype
        if a.dtype.kind != "f":
            np.testing.assert_array_equal(b, a)
            continue
        np.testing.assert_array_equal(np.isnan(b), np.isnan(a))
        np.testing.assert_array_equal(np.isposinf(b), np.isposinf(a))
        np.testing.assert_array_equal(np.isneginf(b), np.isneginf(a))
        fin = np.isfinite(a)
        if fin.any():
            scale = np.abs(a[fin]).max()
            np.testing.assert_allclose(b[fin], a[fin], rtol=0, atol=rtol * max(scale, 1e-300))
        nans += int(np.isnan(a).sum())
    return nans


def _layer_with_infs(n_out, n_in, m, seed=0):
    """A layer whose product meets inf - inf, 0 * inf and lone infs."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_in, m))
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal((n_out, 1))
    A[0, 1], A[1, 1] = np.inf, -np.inf          # column 1: inf - inf where W0, W1 agree
    W[0, 0], W[0, 1] = 1.0, 1.0                 # -> NaN in row 0
    W[1, 0], W[1, 1] = 1.0, -1.0                # -> +inf in row 1
    A[2, 3] = np.inf                            # column 3: 0 * inf in row 2
    W[2, 2] = 0.0
    return A, W, b


LAYER_SHAPES = [(4, 3, 6), (40, 40, 20)]        # hand loops; NumPy's BLAS (>= 16384)


@pytest.mark.parametrize("shape", LAYER_SHAPES)
@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid"])
def test_nan_from_inf_minus_inf_in_a_layer_forward(shape, activation):
    """inf - inf and 0 * inf inside W @ A give NaN in the same places on both backends."""
    A, W, b = _layer_with_infs(*shape)
    if activation == "linear":
        ref, got, _, _ = on_both(deep.linear_forward, A, W, b)
    else:
        ref, got, _, _ = on_both(deep.linear_activation_forward, A, W, b, activation)
    assert assert_same_nonfinite(ref, got) >= 2


def test_nan_through_a_tanh_network():
    """NaN from inf - inf in the first layer reaches the planar model's output alike."""
    A, W, b = _layer_with_infs(4, 3, 6)
    params = {"W1": W, "b1": b, "W2": np.ones((1, 4)), "b2": np.zeros((1, 1))}
    ref, got, _, _ = on_both(planar.forward_propagation, A, params)
    assert assert_same_nonfinite(ref, got) >= 2


@pytest.mark.parametrize("module", [initialization, regularization, optimization])
def test_nan_through_three_layer_forward_and_backward(module):
    """An inf input gives NaN and inf through forward and backward passes alike."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 7))
    X[0, 2], X[1, 2] = np.inf, -np.inf
    X[2, 5] = np.inf
    params = {"W1": rng.standard_normal((5, 3)), "b1": np.zeros((5, 1)),
              "W2": rng.standard_normal((2, 5)), "b2": np.zeros((2, 1)),
              "W3": rng.standard_normal((1, 2)), "b3": np.zeros((1, 1))}
    params["W1"][0, :2] = 1.0                   # inf - inf in Z1[0, 2]
    Y = (rng.random((1, 7)) > 0.5) * 1.0
    ref, got, _, _ = on_both(module.forward_propagation, X, params)
    assert assert_same_nonfinite(ref, got) >= 1
    cache = ref[1]
    ref, got, _, _ = on_both(module.backward_propagation, X, Y, cache)
    assert assert_same_nonfinite(ref, got) >= 1


def test_nan_through_dropout_backward():
    """inf times a dropped unit (0 * inf) is NaN in the dropout backward pass alike."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 9))
    X[0, 4] = np.inf
    params = regularization.initialize_parameters([2, 6, 3, 1])
    params["W1"][...] = np.abs(params["W1"])    # the inf stays +inf through ReLU
    Y = (rng.random((1, 9)) > 0.5) * 1.0
    ref, got, _, _ = on_both(regularization.forward_propagation_with_dropout, X, params, 0.5)
    assert_same_nonfinite(ref, got)
    ref, got, _, _ = on_both(regularization.backward_propagation_with_dropout, X, Y, ref[1],
                             0.5)
    assert assert_same_nonfinite(ref, got) >= 1


def test_nan_in_activation_backward():
    """relu_backward: inf * 0 where Z <= 0; sigmoid_backward: inf * s(1 - s) = inf * 0."""
    dA = np.array([[np.inf, -np.inf, 1.0, np.inf], [np.nan, 2.0, np.inf, -1.0]])
    Z = np.array([[0.0, -1.0, 3.0, 2.0], [1.0, -np.inf, 50.0, np.nan]])
    for fn in (deep.relu_backward, deep.sigmoid_backward):
        ref, got, _, _ = on_both(fn, dA, Z)
        assert assert_same_nonfinite(ref, got) >= 2


@pytest.mark.parametrize("shape", [(3, 4, 5), (40, 40, 20)])
def test_nan_in_linear_backward(shape):
    """dW = dZ A^T / m with 0 * inf, db with inf - inf, dA_prev = W^T dZ with inf."""
    n_out, n_in, m = shape
    rng = np.random.default_rng(3)
    A = rng.standard_normal((n_in, m))
    A[0, :] = 0.0
    W = rng.standard_normal((n_out, n_in))
    dZ = rng.standard_normal((n_out, m))
    dZ[0, 0], dZ[0, 1] = np.inf, -np.inf
    ref, got, _, _ = on_both(deep.linear_backward, dZ, (A, W, np.zeros((n_out, 1))))
    assert assert_same_nonfinite(ref, got) >= 2


def test_nan_in_L_model_backward_from_saturated_output():
    """AL of exactly 0 and 1: dAL = -(Y/AL - (1-Y)/(1-AL)) is inf, then inf * 0 = NaN."""
    rng = np.random.default_rng(4)
    params = deep.initialize_parameters_deep([3, 4, 1])
    X = rng.standard_normal((3, 6))
    AL, caches = deep.L_model_forward(X, params)
    AL = AL.copy()
    AL[0, 0], AL[0, 3] = 0.0, 1.0
    Y = np.array([[0.0, 1.0, 0.0, 1.0, 0.5, 0.0]])
    ref, got, _, _ = on_both(deep.L_model_backward, AL, Y, caches)
    assert assert_same_nonfinite(ref, got) >= 1


@pytest.mark.parametrize("fn", [optimization.compute_cost, initialization.compute_loss,
                                deep.compute_cost, planar.compute_cost])
def test_nan_and_inf_in_costs(fn):
    """log(0) * 0 = NaN in the cross-entropy: np.sum keeps it, np.nansum drops it."""
    A = np.array([[0.0, 1.0, 0.3, 1.0]])
    Y = np.array([[0.0, 1.0, 1.0, 0.0]])        # 0*log(0) terms -> NaN; last -> inf
    ref, got, _, _ = on_both(fn, A, Y)
    assert_same_nonfinite(ref, got)
    assert not np.isfinite(ref)
    ref, got, _, _ = on_both(fn, np.array([[0.0, 0.5]]), np.array([[0.0, 1.0]]))
    assert_same_nonfinite(ref, got)


def test_nan_in_cost_with_regularization():
    """An inf weight makes the L2 term inf, inf - inf in a layer makes the output NaN."""
    params = regularization.initialize_parameters([2, 3, 2, 1])
    params["W2"][0, 0] = np.inf
    A3 = np.array([[0.2, 0.7, 0.0]])
    Y = np.array([[0.0, 1.0, 0.0]])
    ref, got, _, _ = on_both(regularization.compute_cost_with_regularization, A3, Y, params,
                             0.7)
    assert_same_nonfinite(ref, got)
    assert np.isinf(ref)


def _opt_case():
    rng = np.random.default_rng(5)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal((3, 1))}
    grads = {"dW1": rng.standard_normal((3, 4)), "db1": rng.standard_normal((3, 1))}
    v, s = optimization.initialize_adam(params)
    params["W1"][0, 0] = np.inf
    grads["dW1"][0, 0] = np.inf                 # inf - lr * inf = NaN (gd)
    grads["dW1"][1, 2] = np.inf                 # Adam: inf / inf = NaN
    grads["db1"][2, 0] = np.nan
    v["dW1"][2, 3] = -np.inf                    # momentum: beta * -inf + (1-beta) * g
    return params, grads, v, s


@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
def test_nan_in_optimizer_steps(rule):
    """inf - inf and inf / inf inside the in-place updates give NaN in the same places."""
    params, grads, v, s = _opt_case()
    if rule == "gd":
        ref, got, ref_in, got_in = on_both(optimization.update_parameters_with_gd, params,
                                           grads, 0.1)
    elif rule == "momentum":
        ref, got, ref_in, got_in = on_both(optimization.update_parameters_with_momentum,
                                           params, grads, v, 0.9, 0.1)
    else:
        ref, got, ref_in, got_in = on_both(optimization.update_parameters_with_adam,
                                           params, grads, v, s, 3, 0.1)
    assert assert_same_nonfinite(ref_in, got_in) >= 2
    assert_same_nonfinite(ref, got)


def test_nan_in_training_runs():
    """A learning rate that overflows the parameters gives NaN in the same places, and the
    same recorded costs (NaN included), on both backends."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2, 40)) * 10
    Y = (X[:1] > 0) * 1.0
    ref, got, _, _ = on_both(initialization.model, X, Y, learning_rate=1e250,
                             num_iterations=3, print_cost=False)
    assert assert_same_nonfinite(ref, got) >= 1
    X[0, 0] = np.inf
    ref, got, _, _ = on_both(optimization.model, X, Y, [2, 3, 1], "adam", num_epochs=2,
                             mini_batch_size=16, print_cost=False)
    assert assert_same_nonfinite(ref, got) >= 1


def test_nan_in_gradient_check():
    """An inf input gives NaN two-sided differences in the same entries."""
    rng = np.random.default_rng(7)
    params = {"W1": rng.standard_normal((3, 2)), "b1": np.zeros((3, 1)),
              "W2": rng.standard_normal((1, 3)), "b2": np.zeros((1, 1))}
    grads = {"d" + k: np.ones_like(a) for k, a in params.items()}
    X = rng.standard_normal((2, 5))
    X[0, 1], X[1, 1] = np.inf, -np.inf
    Y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    ref, got, _, _ = on_both(lambda *a: gradcheck.check_gradients(*a).gradapprox,
                             params, grads, X, Y)
    assert assert_same_nonfinite(ref, got, rtol=1e-6) >= 1


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------

_DETERMINISM_SCRIPT = """
    import hashlib, io, contextlib
    import numpy as np
    import fastnn
    from fastnn import gradient_checking, optimization, regularization
    from fastnn.gradcheck import check_gradients
    from fastnn.kernels import cpu

    cpu.GRAD_CHECK_PAR_MIN_WORK = 1000          # take the threaded gradient check too
    fastnn.set_backend("numba")

    def digest(*objs):
        h = hashlib.sha256()
        for obj in objs:
            if isinstance(obj, dict):
                for k in sorted(obj):
                    h.update(k.encode()); h.update(np.ascontiguousarray(obj[k]).tobytes())
            else:
                h.update(np.ascontiguousarray(obj).tobytes())
        return h.hexdigest()[:32]

    def run():
        X, Y = optimization.load_dataset()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            p1 = optimization.model(X, Y, [2, 5, 2, 1], "adam", num_epochs=40,
                                    print_cost=True)
            p2 = regularization.model(X, Y, num_iterations=300, keep_prob=0.86,
                                      print_cost=True)
            p3 = optimization.model(X, Y, [2, 6, 1], "momentum", num_epochs=20,
                                    mini_batch_size=32, print_cost=True)
        rng = np.random.default_rng(0)
        params = {"W1": rng.standard_normal((16, 2)), "b1": rng.standard_normal((16, 1)),
                  "W2": rng.standard_normal((8, 16)), "b2": rng.standard_normal((8, 1)),
                  "W3": rng.standard_normal((1, 8)), "b3": rng.standard_normal((1, 1))}
        _, cache = gradient_checking.forward_propagation_n(X, Y, params)
        grads = gradient_checking.backward_propagation_n(X, Y, cache)
        diff = gradient_checking.gradient_check_n(params, grads, X, Y, print_msg=False)
        result = check_gradients(params, grads, X, Y, hidden="tanh")
        state = np.random.get_state()[1]
        return [digest(p1), digest(p2), digest(p3), digest(np.float64(diff)),
                digest(result.gradapprox), digest(state), out.getvalue().count("\\n")]

    first, second = run(), run()
    assert first == second, (first, second)
    print(" ".join(map(str, first)))
"""


def test_training_and_gradient_check_are_bytewise_deterministic_across_processes():
    """Two processes (different hash seeds) print the same digests of trained
    parameters, gradient checks (threaded and not) and NumPy's random state; each
    process also repeats the work and asserts identical bytes."""
    outputs = [_run(_DETERMINISM_SCRIPT, env=_env(PYTHONHASHSEED=seed)) for seed in "12"]
    assert outputs[0] == outputs[1]
    fields = outputs[0].split()
    assert len(fields) == 7 and all(len(f) == 32 for f in fields[:6])


def test_estimator_fit_is_deterministic():
    """MLPClassifier with a random_state gives the same coefficients on repeated fits."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((120, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    fits = [fastnn.MLPClassifier(hidden_layer_sizes=(6, 3), max_iter=15, keep_prob=0.8,
                                 random_state=3, backend="numba").fit(X, y)
            for _ in range(2)]
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_,
                    fits[1].coefs_ + fits[1].intercepts_):
        assert a.tobytes() == b.tobytes()
    assert fits[0].loss_curve_ == fits[1].loss_curve_


# --------------------------------------------------------------------------------------
# Installs and caches
# --------------------------------------------------------------------------------------

_KERNEL_CALL = """
    import numpy as np
    import fastnn
    from fastnn.kernels import cpu
    p = np.arange(6.0)
    cpu.sgd_step(p, np.ones(6), 0.5)
    assert p.tolist() == [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5], p
    stats = cpu._sgd_exact().stats              # float32 and float64 together
    print(fastnn.__file__)
    print(cpu.__file__)
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def _copy_package(dest):
    """fastnn/ and kernels/ laid out as an installed package: dest/fastnn/kernels."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "fastnn", dest / "fastnn", ignore=ignore)
    shutil.copytree(ROOT / "kernels", dest / "fastnn" / "kernels", ignore=ignore)


def _make_read_only(top):
    for path in [top, *top.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
                   | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                   | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if path.is_dir() else 0))


def _drop_to_nobody():
    os.setgid(65534)
    os.setuid(65534)


def _drop_file_capabilities():
    """Root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH / CAP_FOWNER: file modes
    apply to it as to its owner, so a 0o555 directory is not writable."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):                       # from linux/capability.h
        if libc.prctl(24, cap, 0, 0, 0) != 0:   # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _unprivileged(probe_dir):
    """A ``preexec_fn`` under which ``probe_dir`` (read-only) cannot be written, or None.

    Root ignores file modes: it runs as uid 65534 when that uid can run this Python,
    else as root without the capabilities that bypass file modes.
    """
    if os.geteuid() != 0:
        return lambda: None
    probe = (f"import os\ntry:\n    open(os.path.join({str(probe_dir)!r}, 'probe'), 'w')\n"
             "except PermissionError:\n    print('denied')\n")
    for preexec in (_drop_to_nobody, _drop_file_capabilities):
        try:
            out = subprocess.run([sys.executable, "-c", probe], preexec_fn=preexec,
                                 capture_output=True, text=True, timeout=60,
                                 env=_env(HOME=str(probe_dir)))
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip() == "denied":
            return preexec
    return None


def _cache_files(top):
    return sorted(str(p.relative_to(top)) for p in Path(top).rglob("*")
                  if p.suffix in (".nbi", ".nbc"))


@pytest.fixture
def read_only_install():
    """A read-only copy of the package, a writable home, and a preexec_fn to run as."""
    tmp = Path(tempfile.mkdtemp(prefix="fastnn-ro-"))
    try:
        tmp.chmod(0o755)
        site = tmp / "site"
        site.mkdir()
        _copy_package(site)
        home = tmp / "home"
        home.mkdir()
        home.chmod(0o777)
        _make_read_only(site)
        preexec = _unprivileged(site / "fastnn")
        if preexec is None:
            pytest.skip("cannot run a process for which a read-only directory is "
                        "unwritable (running as root without setuid / prctl)")
        yield site, home, preexec
    finally:
        for path in [tmp, *tmp.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(tmp, ignore_errors=True)


def _run_from(site, home, preexec, cache_dir=None):
    env = _env(PYTHONPATH=str(site), HOME=str(home), NUMBA_CACHE_DIR=cache_dir,
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("XDG_CACHE_HOME", None)
    lines = _run(_KERNEL_CALL, cwd=str(home), env=env, preexec_fn=preexec).split()
    fastnn_file, cpu_file, hits, misses = lines
    assert fastnn_file.startswith(str(site)) and cpu_file.startswith(str(site))
    return int(hits), int(misses)


def test_read_only_install_caches_in_numba_cache_dir(read_only_install):
    """From a read-only location with NUMBA_CACHE_DIR set: the kernel runs, its cache goes
    to NUMBA_CACHE_DIR (a second process loads it) and nothing is written in the tree."""
    site, home, preexec = read_only_install
    cache_dir = home / "numba-cache"
    assert _run_from(site, home, preexec, str(cache_dir)) == (0, 2)
    files = _cache_files(cache_dir)
    assert any("sgd_flat" in f and f.endswith(".nbi") for f in files), files
    assert any("sgd_flat" in f and f.endswith(".nbc") for f in files), files
    assert _run_from(site, home, preexec, str(cache_dir)) == (2, 0)
    assert _cache_files(site) == []
    assert not (home / ".cache").exists()


def test_read_only_install_falls_back_to_the_user_cache_dir(read_only_install):
    """Without NUMBA_CACHE_DIR the cache falls back to ~/.cache/numba, not the tree."""
    site, home, preexec = read_only_install
    assert _run_from(site, home, preexec) == (0, 2)
    user_cache = home / ".cache" / "numba"
    files = _cache_files(user_cache)
    assert any("sgd_flat" in f and f.endswith(".nbc") for f in files), files
    assert _run_from(site, home, preexec) == (2, 0)
    assert _cache_files(site) == []


_CONCURRENT = """
    import hashlib, os, sys, time
    import numpy as np
    from fastnn.kernels import cpu
    ready, go = sys.argv[1], sys.argv[2]
    open(ready, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.005)
    rng = np.random.default_rng(0)
    p, g, m, v = (rng.standard_normal(100) for _ in range(4))
    v = np.abs(v)
    cpu.sgd_step(p, g, 0.1)
    cpu.momentum_step(p, g, m, 0.9, 0.1)
    cpu.adam_step(p, g, m, v, 3, 0.01, 0.9, 0.999, 1e-8)
    kernels = (cpu._sgd_exact(), cpu._momentum_exact(), cpu._adam_exact())
    hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
    misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
    print(hashlib.sha256(p.tobytes() + m.tobytes() + v.tobytes()).hexdigest(), hits, misses)
"""


def test_concurrent_compiles_into_one_fresh_cache_dir(tmp_path):
    """Three processes released together compile into one empty NUMBA_CACHE_DIR: all
    succeed with identical results, and a fourth process loads every kernel from it."""
    cache_dir = tmp_path / "cache"
    env = _env(NUMBA_CACHE_DIR=str(cache_dir))
    go = tmp_path / "go"
    script = textwrap.dedent(_CONCURRENT)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"ready{i}"),
                               str(go)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    try:
        deadline = time.time() + 120
        while not all((tmp_path / f"ready{i}").exists() for i in range(3)):
            assert time.time() < deadline, "the processes did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [out.split() for out, _ in outs]
    assert len({r[0] for r in results}) == 1
    assert all(int(r[1]) + int(r[2]) == 6 for r in results)     # 3 kernels x 2 dtypes
    assert any(int(r[2]) > 0 for r in results)          # someone compiled
    later = subprocess.run([sys.executable, "-c", script, str(tmp_path / "ready3"), str(go)],
                           env=env, capture_output=True, text=True, timeout=300)
    assert later.returncode == 0, later.stderr[-3000:]
    digest, hits, misses = later.stdout.split()
    assert digest == results[0][0]
    assert (int(hits), int(misses)) == (6, 0)


# --------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------

_MEMORY = """
    import gc, os, tracemalloc
    import numpy as np
    import fastnn
    from fastnn import optimization as o

    fastnn.set_backend("numba")
    page = os.sysconf("SC_PAGE_SIZE")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 211))
    Y = (rng.random((1, 211)) > 0.5) * 1.0
    p = o.initialize_parameters([2, 20, 3, 1])
    v, s = o.initialize_adam(p)
    step = [0]

    def calls(n):                      # n façade calls: forward, backward, Adam update
        for _ in range(n // 3):
            step[0] += 1
            _, cache = o.forward_propagation(X, p)
            grads = o.backward_propagation(X, Y, cache)
            o.update_parameters_with_adam(p, grads, v, s, step[0], 1e-4)

    def rss():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page

    calls(3000)
    gc.collect()
    r0 = rss()
    calls(100_000)
    gc.collect()
    r1 = rss()
    tracemalloc.start()
    calls(900)
    gc.collect()
    t0 = tracemalloc.get_traced_memory()[0]
    calls(3000)
    gc.collect()
    t1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert np.isfinite(p["W1"]).all()
    print(r1 - r0, t1 - t0)
"""


@pytest.mark.slow
def test_no_memory_growth_over_1e5_facade_calls():
    """1e5 small façade calls (forward, backward, Adam update on the course's
    [2, 20, 3, 1] net) grow RSS by less than 2 MiB (20 bytes a call), and 3000 more
    calls under tracemalloc grow traced memory by less than 16 KiB (5 bytes a call)."""
    rss_growth, traced_growth = map(int, _run(_MEMORY, timeout=600, env=_env()).split())
    assert rss_growth < 2 * 2**20, f"RSS grew by {rss_growth / 2**20:.1f} MiB"
    assert traced_growth < 16 * 2**10, f"traced memory grew by {traced_growth} bytes"


# --------------------------------------------------------------------------------------
# Bounds checking
# --------------------------------------------------------------------------------------

_OUT_OF_BOUNDS = """
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def read_past_end(a):
        s = 0.0
        for i in range(a.shape[0] + 3):
            s += a[i]
        return s
"""


def test_boundscheck_env_turns_out_of_bounds_reads_into_index_error(tmp_path):
    """NUMBA_BOUNDSCHECK=1 with a fresh NUMBA_CACHE_DIR raises IndexError on a deliberate
    out-of-bounds read in a cache=True kernel (what the CI bounds-check step relies on)."""
    (tmp_path / "oob_toy.py").write_text(textwrap.dedent(_OUT_OF_BOUNDS))
    code = ("import numpy as np, oob_toy\n"
            "try:\n    oob_toy.read_past_end(np.ones(4))\n    print('no error')\n"
            "except IndexError as exc:\n    print('IndexError', exc)\n")
    out = _run(code, cwd=str(tmp_path), env=_env(NUMBA_BOUNDSCHECK=1, PYTHONPATH=tmp_path,
                                                 NUMBA_CACHE_DIR=tmp_path / "cache"))
    assert out.startswith("IndexError")
