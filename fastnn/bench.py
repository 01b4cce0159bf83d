"""``fastnn bench``: the NumPy baseline and the compiled backends side by side, and the CI
speed-regression gate.

One process times every *workload* on the NumPy baseline and on each selected backend,
interleaving the contenders' samples (so that drift on a shared machine hits them alike)
and keeping the median of several samples. Each sample repeats the call until it lasts
at least ``--min-time`` seconds. Compilation happens before any timing: every contender
is called once first (that call's duration is reported as ``compile_s``).

For every workload it reports the NumPy time, each backend's time, the ratio
``numpy / backend`` and the fraction of the machine's limit the backend reaches: memory
bandwidth for element-wise kernels (bytes the kernel must move / time, against an
in-place ``np.add`` measured in the same run on 1 and on all cores) and BLAS GFLOP/s for
the products (the kernel's flops / time, against ``np.dot`` on a 1024 x 1024 matrix in the
same run and dtype). Each limit is probed twice (when first needed and at the end) and
the fastest sample kept. Arrays of 1e6 float64 elements fit in the 32 MB L3 cache, so
their "bandwidth" fraction can exceed 100%.

The gate (``--check``) compares each measured *ratio* (never a time) with a committed
floor, ``benchmarks/floors.json`` by default::

    {
      "_comment": "how the floors were set",
      "required_backends": ["numba"],
      "quick": {"numba": {"adam-1e7-f64": 5.0, ...}},
      "full":  {"numba": {"adam-1e7-f64": 5.0, ...}}
    }

Exit status: 0 every floor of the mode (``quick`` or ``full``) is met; 1 a ratio is below
its floor, or the backend raised on a floored workload (each failure is named with its
ratio and floor); 2 the gate cannot be evaluated: the floors file is missing or has no
section for the mode, a floor names a workload that does not exist, or a backend listed
in ``required_backends`` that has floors is unavailable or was not selected. Floors of
other backends (``cuda`` on a machine without a GPU) are skipped and reported. So a CI
machine without Numba cannot pass vacuously. A workload below its floor is re-measured
(``--retries``, default once) and its best attempt kept before the verdict: noise on a
shared machine only ever slows a contender down, a real regression stays below.

Estimator, memory and startup rows
----------------------------------
Three more sections, never gated (the gate compares ratios against the NumPy baseline
only) and selectable with ``--only`` like the workloads:

* ``estimator`` (:data:`ESTIMATOR_CASES`): :class:`fastnn.MLPClassifier` against
  scikit-learn's ``MLPClassifier`` on the same data, network and Adam settings for the
  same number of epochs (:func:`build_estimators`): median fit time of each, the ratio
  scikit-learn time / fastnn time, train and test accuracy of both. ``estimator-football``
  is in the quick set (about a second), the 20,000-example case in the full run.
* ``memory`` (:data:`MEMORY_CASES`, full run only): one full-batch forward and backward
  pass through the façade on 1e6 examples, on the NumPy baseline and on each backend,
  each in a fresh process: the peak resident-memory increase over the inputs, beside the
  bytes of the arrays the pass returns (:meth:`MemoryCase.minimum_bytes`, a lower bound
  of any implementation), so that extra copies show.
* ``startup`` (:data:`STARTUP_CASES`, full run only): the first call of a kernel in a
  new process with its compiled code in Numba's disk cache (:func:`run_startup_cases`):
  the import of fastnn and the backend's modules, the first call and the second, each
  the median of three new processes, against :data:`STARTUP_GOAL_S`.

They are fastnn's own rows: ``--workloads`` (another project's set) leaves them out.

Workloads of another project
----------------------------
A :class:`Workload` is a name, a ``setup(backend) -> callable`` and optional
bytes/flops; ``setup`` returns a zero-argument callable that runs the kernel once on
preallocated data, or raises ``NotImplementedError`` when that backend cannot run it.
``fastnn bench --workloads mypkg.bench:WORKLOADS --floors mypkg/floors.json --check``
times them the same way (``MODULE:ATTR`` names a list of workloads or a function returning
one; the option can be repeated; ``fastnn.bench:WORKLOADS`` is this module's own set).
The same is available from Python: :func:`run_workloads`, :func:`check_floors`,
:func:`cli`.

JSON (``--json FILE``; ``--json -`` writes it to stdout and moves the table to stderr)::

    {"mode": "quick", "baseline": "numpy", "backends": [...], "skipped_backends": {...},
     "machine": {"bandwidth_gbs": ..., "blas_gflops": {"float64": ...},
                 "blas_threads": ..., ...},
     "workloads": [{"name": ..., "kernel": ..., "limit": "bandwidth" | "blas" | null,
                    "bytes": ..., "flops": ..., "numpy": {"median_s": ..., ...},
                    "results": {"numba": {"median_s": ..., "ratio": ...,
                                          "limit_fraction": ..., "compile_s": ...,
                                          "samples_s": [...], "attempts": [...]}},
                    "skipped": {"cuda": "reason"}, "errors": {}}],
     "estimator": [{"name": ..., "data": {"n_train": ..., "n_test": ..., "n_features": ...},
                    "settings": {...},
                    "sklearn": {"fit_s": ..., "samples_s": [...], "warmup_s": ...,
                                "train_acc": ..., "test_acc": ..., "n_iter": ...,
                                "version": ...},
                    "results": {"numba": {"fit_s": ..., "ratio": ..., "train_acc": ...,
                                          "test_acc": ..., ...}},
                    "skipped": {}, "errors": {}}],
     "memory": [{"name": ..., "api": ..., "dims": [...], "m": ..., "minimum_bytes": ...,
                 "baseline": "numpy",
                 "results": {"numpy": {"peak_bytes": ..., "held_bytes": ...,
                                       "results_bytes": ..., "tracemalloc_peak_bytes": ...,
                                       "vs_minimum": ..., "vs_baseline": 1.0, ...},
                             "numba": {...}},
                 "skipped": {}, "errors": {}}],
     "startup": [{"name": ..., "target": ..., "goal_s": 1.0,
                  "results": {"numba": {"import_s": ..., "first_s": ..., "second_s": ...,
                                        "ready_s": ..., "samples": [...],
                                        "prime_first_s": ...}},
                  "skipped": {}, "errors": {}}],
     "check": {...}, "total_s": ...}

``estimator``, ``memory`` and ``startup`` are empty lists when none of their rows was
selected, and absent from :func:`run_workloads`'s own output.
"""

import argparse
import concurrent.futures
import contextlib
import fnmatch
import functools
import gc
import importlib
import io
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import kernels
from .kernels import _spec

__all__ = [
    "SIZES",
    "DTYPES",
    "FAMILIES",
    "Case",
    "Workload",
    "WORKLOADS",
    "case_info",
    "build_case",
    "MODELS",
    "build_model",
    "workloads",
    "run_workloads",
    "EstimatorCase",
    "ESTIMATOR_CASES",
    "estimator_cases",
    "build_estimators",
    "run_estimator_cases",
    "MemoryCase",
    "MEMORY_CASES",
    "memory_cases",
    "run_memory_cases",
    "StartupCase",
    "STARTUP_CASES",
    "STARTUP_GOAL_S",
    "startup_cases",
    "run_startup_cases",
    "format_table",
    "format_estimator_table",
    "format_memory_table",
    "format_startup_table",
    "check_floors",
    "derive_floors",
    "default_floors_path",
    "add_arguments",
    "main",
    "cli",
]

#: Size labels shared by the asv suite, the pytest-benchmark suite and the workloads.
SIZES = ("notebook", "medium", "large")
#: Float dtypes every kernel accepts.
DTYPES = ("float32", "float64")
_DT_SHORT = {"float32": "f32", "float64": "f64"}
MODES = ("quick", "full")

# family -> size -> (label used in workload names, parameters)
_LIN = {"notebook": ("tiny", (20, 2, 211)), "medium": ("medium", (256, 256, 256)),
        "large": ("large", (1024, 4096, 1024))}
_DROP = {"notebook": ("notebook", (20, 211)), "medium": ("1e6", (1000, 1000)),
         "large": ("1e7", (2000, 5000))}
_VEC = {"notebook": ("1e3", 1000), "medium": ("1e6", 10**6), "large": ("1e7", 10**7)}
_GC = {"notebook": ("course", ([4, 5, 3, 1], 3)), "medium": ("32wide", ([16, 32, 16, 1], 32)),
       "large": ("64wide", ([64, 64, 64, 1], 256))}


def _train_sizes(m0):
    return {"notebook": ("notebook", m0), "medium": ("10x", 10 * m0),
            "large": ("100x", 100 * m0)}


# The notebooks' training loops: (dataset, dims, optimizer, lr, batch, grad_form,
# cost_mode, shuffle_seed, epochs per timed call at the notebook size).
_TRAIN = {
    "train_regularization": ("football", [2, 20, 3, 1], _spec.OPT_GD, 0.3, 0,
                             _spec.GRAD_DW, _spec.CE_NANSUM, 0, 50),
    "train_optimization": ("moons", [2, 5, 2, 1], _spec.OPT_ADAM, 0.0007, 64,
                           _spec.GRAD_DZ, _spec.CE_SUM, 10, 5),
    "train_initialization": ("circles", [2, 10, 5, 1], _spec.OPT_GD, 0.01, 0,
                             _spec.GRAD_DZ, _spec.CE_NANSUM, 0, 50),
}
_TRAIN_M0 = {"football": 211, "moons": 300, "circles": 300}

_CASES = {
    "linear_relu_fwd": _LIN,
    "linear_relu_bwd": _LIN,
    "dropout_compat": _DROP,
    "dropout_fast": _DROP,
    "sgd": _VEC,
    "momentum": _VEC,
    "adam": _VEC,
    "grad_check": _GC,
    **{name: _train_sizes(_TRAIN_M0[spec[0]]) for name, spec in _TRAIN.items()},
}
#: Every kernel family benchmarked.
FAMILIES = tuple(_CASES)

# Arrays an element-wise kernel reads plus writes, per element (the traffic counted
# against memory bandwidth): sgd reads p, g and writes p; momentum p, g, v / p, v;
# Adam p, g, m, v / p, m, v.
_VEC_ARRAYS = {"sgd": 3, "momentum": 5, "adam": 7}


# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One kernel family at one size and dtype (the callable is set by build_case)."""

    family: str
    size: str
    dtype: str
    label: str
    description: str
    limit: object = None        # "bandwidth", "blas" or None
    bytes: float = 0.0
    flops: float = 0.0
    fn: object = None


def case_info(family, size, dtype="float64"):
    """Description and cost model of a case, without building it.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    size : {"notebook", "medium", "large"}
    dtype : {"float32", "float64"}

    Returns
    -------
    Case
        With ``fn`` None.
    """
    if family not in _CASES:
        raise ValueError(f"unknown kernel family {family!r}; one of {list(_CASES)}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    label, p = _CASES[family][size]
    s = np.dtype(dtype).itemsize
    case = Case(family, size, dtype, label, "")
    if family.startswith("linear_relu"):
        n_out, n_in, m = p
        mult = 2 if family.endswith("fwd") else 4
        case.limit, case.flops = "blas", float(mult * n_out * n_in * m)
        what = "Z=W@A+b, A=relu(Z)" if family.endswith("fwd") else "relu' then dW, db, dA_prev"
        case.description = f"{what}: ({n_out}x{n_in}) @ ({n_in}x{m})"
    elif family.startswith("dropout"):
        r, c = p
        case.limit, case.bytes = "bandwidth", float(r * c * (2 * s + 1))
        case.description = f"dropout_forward {family[8:]} on {r}x{c}, keep 0.8"
    elif family in _VEC_ARRAYS:
        case.limit, case.bytes = "bandwidth", float(_VEC_ARRAYS[family] * p * s)
        case.description = f"{family} step on {p:.0e} elements ({_VEC_ARRAYS[family]} arrays moved)"
    elif family == "grad_check":
        dims, m = p
        n = sum(dims[i + 1] * (dims[i] + 1) for i in range(len(dims) - 1))
        case.description = f"grad_check_mlp {dims}, m={m} ({n} params)"
    else:
        data, dims, opt, lr, batch, *_ = _TRAIN[family]
        m = p
        epochs = _train_epochs(family, size)
        optname = {v: k for k, v in _spec.OPTIMIZERS.items()}[opt]
        how = f"batch {batch}" if batch else "full batch"
        case.description = (f"train_mlp {dims} on {m} examples ({data}), {optname} lr {lr}, "
                            f"{how}, {epochs} epochs per call")
    return case


def _train_epochs(family, size):
    base = _TRAIN[family][8]
    return max(1, base * _TRAIN_M0[_TRAIN[family][0]] // _CASES[family][size][1])


@functools.cache
def _dataset(name):
    from . import datasets

    state = np.random.get_state()
    try:
        if name == "football":
            X, Y = datasets.football_stand_in()[:2]
        elif name == "moons":
            X, Y = datasets.moons()
        else:
            X, Y = datasets.circles()[:2]
    finally:
        np.random.set_state(state)
    return np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64).reshape(1, -1)


def _theta(rng, dims, dtype):
    parts = []
    for l in range(1, len(dims)):
        parts.append((rng.standard_normal((dims[l], dims[l - 1]))
                      * np.sqrt(2.0 / dims[l - 1])).ravel())
        parts.append(rng.standard_normal(dims[l]) * 0.1)
    return np.concatenate(parts).astype(dtype)


def _kernel_module(backend):
    try:
        return kernels.get(backend)
    except RuntimeError as exc:
        raise NotImplementedError(f"backend {backend!r} unavailable: {exc}") from None


def build_case(family, size, dtype, backend):
    """Build one case on one backend: fresh inputs, preallocated outputs, not yet called.

    The inputs depend only on ``(family, size, dtype)``: every backend sees the same
    numbers. ``case.fn()`` runs the kernel once (the first call compiles).

    Parameters
    ----------
    family, size, dtype : str
        See :func:`case_info`.
    backend : str
        A name of :data:`fastnn.kernels.BACKENDS`.

    Returns
    -------
    Case

    Raises
    ------
    NotImplementedError
        If the backend cannot be used here.
    """
    case = case_info(family, size, dtype)
    K = _kernel_module(backend)
    dt = np.dtype(dtype)
    rng = np.random.RandomState(1234)
    p = _CASES[family][size][1]
    if family.startswith("linear_relu"):
        n_out, n_in, m = p
        A_prev = rng.standard_normal((n_in, m)).astype(dt)
        W = (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(dt)
        b = (rng.standard_normal((n_out, 1)) * 0.1).astype(dt)
        Z = np.empty((n_out, m), dt)
        A = np.empty((n_out, m), dt)
        if family.endswith("fwd"):
            def fn():
                K.linear_act_forward(A_prev, W, b, _spec.RELU, Z, A)
        else:
            _kernel_module("numpy").linear_act_forward(A_prev, W, b, _spec.RELU, Z, A)
            dA = rng.standard_normal((n_out, m)).astype(dt)
            dZ = np.empty_like(dA)
            dW = np.empty_like(W)
            db = np.empty((n_out, 1), dt)
            dA_prev = np.empty_like(A_prev)
            scale = 1.0 / m

            def fn():
                K.linear_act_backward(dA, Z, A, _spec.RELU, A_prev, W, scale, 0.0, dZ, dW,
                                      db, dA_prev)
    elif family.startswith("dropout"):
        A = rng.standard_normal(p).astype(dt)
        D = np.empty(p, dtype=bool)
        A_out = np.empty_like(A)
        mode = _spec.DROPOUT_MODES[family[8:]]

        def fn():
            K.dropout_forward(A, 0.8, mode, 7, D, A_out)
    elif family in _VEC_ARRAYS:
        n = p
        prm = rng.standard_normal(n).astype(dt)
        g = (rng.standard_normal(n) * 0.1).astype(dt)
        mm = (rng.standard_normal(n) * 0.01).astype(dt)
        vv = (rng.random_sample(n) * 0.01).astype(dt)
        if family == "sgd":
            def fn():
                K.sgd_step(prm, g, 1e-4)
        elif family == "momentum":
            def fn():
                K.momentum_step(prm, g, mm, 0.9, 1e-4)
        else:
            def fn():
                K.adam_step(prm, g, mm, vv, 10, 1e-4, 0.9, 0.999, 1e-8)
    elif family == "grad_check":
        dims_l, m = p
        dims = np.asarray(dims_l, dtype=np.int64)
        theta = _theta(rng, dims_l, dt)
        X = rng.standard_normal((dims_l[0], m)).astype(dt)
        Y = (rng.random_sample((1, m)) > 0.5).astype(dt)
        out = np.empty_like(theta)

        def fn():
            K.grad_check_mlp(theta, X, Y, dims, _spec.RELU, 1e-7, out)
    else:
        data, dims_l, opt, lr, batch, form, cost_mode, seed, _ = _TRAIN[family]
        m = p
        X0, Y0 = _dataset(data)
        reps = -(-m // X0.shape[1])
        X = np.tile(X0, reps)[:, :m]
        Y = np.tile(Y0, reps)[:, :m]
        if m > X0.shape[1]:
            X = X + rng.standard_normal(X.shape) * 0.01
        X = np.ascontiguousarray(X, dtype=dt)
        Y = np.ascontiguousarray(Y, dtype=dt)
        dims = np.asarray(dims_l, dtype=np.int64)
        theta0 = _theta(rng, dims_l, dt)
        theta = theta0.copy()
        opt_m = np.zeros_like(theta)
        opt_v = np.zeros_like(theta)
        epochs = _train_epochs(family, size)
        lrs = np.full(epochs, lr)
        costs = np.zeros(epochs // 1000 + 1)

        def fn():
            np.copyto(theta, theta0)
            opt_m.fill(0)
            opt_v.fill(0)
            K.train_mlp(X, Y, dims, _spec.RELU, theta, opt_m, opt_v, 0, epochs, opt, lrs,
                        0.9, 0.9, 0.999, 1e-8, 0, batch, seed, 0.0, 1.0,
                        _spec.DROPOUT_COMPAT, 1, cost_mode, form, 1000, costs)
    case.fn = fn
    return case


# ------------------------------------------------------------------ the façade's model()
# The notebooks' model() calls through the public API, the rows the speed goals name:
# name -> (module, dataset, arguments, iterations argument, iterations per call,
# description). A call of 1000 iterations (epochs) is one chunk of model()'s compiled
# loop between two prints, with model()'s fixed work (initialisation, checks, the
# returned dict) once, as in the notebook's call of 10 to 30 such chunks.
_MODELS = {
    "model_regularization-notebook-f64": (
        "regularization", "football", {}, "num_iterations", 1000,
        "regularization.model(): [2, 20, 3, 1], 211 examples, GD lr 0.3"),
    "model_initialization-notebook-f64": (
        "initialization", "circles", {"initialization": "he"}, "num_iterations", 1000,
        "initialization.model(): [2, 10, 5, 1], 300 examples, He, GD lr 0.01"),
    "model_optimization-adam-f64": (
        "optimization", "moons", {"layers_dims": [2, 5, 2, 1], "optimizer": "adam"},
        "num_epochs", 1000,
        "optimization.model(): [2, 5, 2, 1], 300 examples, Adam, batch 64"),
}


#: The façade rows' names.
MODELS = tuple(_MODELS)


def build_model(name, backend):
    """A façade row's callable: the notebook's ``model()`` call on one backend.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    backend : str
        ``"numpy"`` (the baseline) or a compiled backend.

    Returns
    -------
    callable
        ``fn()`` trains from the notebook's initialisation (the same work every call)
        with ``print_cost=False``, inside ``fastnn.use_backend(backend)``.

    Raises
    ------
    NotImplementedError
        If the backend cannot be used here.
    """
    from ._backend import use_backend

    if name not in _MODELS:
        raise ValueError(f"unknown façade row {name!r}; one of {list(MODELS)}")

    module, data, kwargs, iters_arg, iters, _ = _MODELS[name]
    _kernel_module(backend)                 # NotImplementedError when unavailable
    nb = importlib.import_module(f"{__package__}.{module}")
    X, Y = _dataset(data)
    kw = dict(kwargs, print_cost=False, **{iters_arg: iters})

    def fn():
        with use_backend(backend):
            nb.model(X, Y, **kw)

    return fn


def _model_workload(name):
    *_, iters_arg, iters, what = _MODELS[name]
    unit = "epochs" if iters_arg == "num_epochs" else "iterations"
    return Workload(name=name, setup=functools.partial(build_model, name), kernel="model",
                    description=f"{what}, {iters} {unit} per call (façade)")


# --------------------------------------------------------------------------- workloads
@dataclass
class Workload:
    """One row of ``fastnn bench``.

    Parameters
    ----------
    name : str
        Stable name: the key of its floor in the floors file.
    setup : callable
        ``setup(backend) -> fn``: builds the inputs for ``backend`` (``"numpy"`` is the
        baseline) and returns a zero-argument callable running the kernel once. Raise
        ``NotImplementedError`` when the backend cannot run it (the row is skipped);
        any other exception, in ``setup`` or in the first call, is recorded as an
        error, which fails the gate for a workload with a floor.
    kernel : str
        Kernel family (for grouping and the plot).
    description : str
    limit : {"bandwidth", "blas", None}
        Which machine limit the kernel is compared with.
    bytes : float
        Bytes the kernel must move per call (for ``limit="bandwidth"``).
    flops : float
        Floating-point operations per call (for ``limit="blas"``).
    dtype : str
        dtype of the BLAS limit to compare with.
    modes : tuple of str
        ``"quick"``, ``"full"``: the modes whose workload set includes this one.
    """

    name: str
    setup: object
    kernel: str = ""
    description: str = ""
    limit: object = None
    bytes: float = 0.0
    flops: float = 0.0
    dtype: str = "float64"
    modes: tuple = MODES


def _builtin_setup(family, size, dtype, backend):
    return build_case(family, size, dtype, backend).fn


def _w(family, size, dtype="float64", modes=MODES):
    info = case_info(family, size, dtype)
    return Workload(
        name=f"{family}-{info.label}-{_DT_SHORT[dtype]}",
        setup=functools.partial(_builtin_setup, family, size, dtype),
        kernel=family, description=info.description, limit=info.limit,
        bytes=info.bytes, flops=info.flops, dtype=dtype, modes=tuple(modes))


_F = ("full",)

#: fastnn's own workloads. Quick mode (CI's gate) runs a subset: the notebook shapes, the
#: large BLAS products, 1e6-element dropout, 1e3 and 1e7-element optimizer steps, the
#: course and a 32-wide gradient check, the three notebooks' training loops and their
#: ``model()`` calls through the façade (the rows of the speed goals). The full
#: run adds medium shapes, 1e7 dropout, in-cache 1e6 optimizer steps, float32 rows, the
#: 64-wide gradient check and 10x larger training sets. A name always means the same
#: work, so floors of both modes can share names.
WORKLOADS = [
    _w("linear_relu_fwd", "notebook"),
    _w("linear_relu_fwd", "medium", modes=_F),
    _w("linear_relu_fwd", "large"),
    _w("linear_relu_fwd", "large", "float32", _F),
    _w("linear_relu_bwd", "notebook"),
    _w("linear_relu_bwd", "medium", modes=_F),
    _w("linear_relu_bwd", "large"),
    _w("dropout_compat", "medium"),
    _w("dropout_compat", "large", modes=_F),
    _w("dropout_fast", "medium"),
    _w("dropout_fast", "large", modes=_F),
    _w("sgd", "notebook"),
    _w("sgd", "medium", modes=_F),
    _w("sgd", "large"),
    _w("momentum", "notebook"),
    _w("momentum", "medium", modes=_F),
    _w("momentum", "large"),
    _w("adam", "notebook"),
    _w("adam", "medium", modes=_F),
    _w("adam", "large"),
    _w("adam", "notebook", "float32", _F),
    _w("adam", "large", "float32"),
    _w("grad_check", "notebook"),
    _w("grad_check", "medium"),
    _w("grad_check", "large", modes=_F),
    _w("train_regularization", "notebook"),
    _w("train_regularization", "medium", modes=_F),
    _w("train_optimization", "notebook"),
    _w("train_optimization", "medium", modes=_F),
    _w("train_initialization", "notebook"),
    _w("train_initialization", "medium", modes=_F),
    *[_model_workload(name) for name in _MODELS],
]


def workloads(mode="full", specs=None, only=None):
    """The workload list of a mode.

    Parameters
    ----------
    mode : {"quick", "full"}
    specs : list of str, optional
        ``"module:ATTR"`` names of workload lists (or functions returning one); default
        fastnn's :data:`WORKLOADS`.
    only : list of str, optional
        Glob patterns (or substrings); keep the workloads whose name matches one.

    Returns
    -------
    list of Workload
    """
    pool = []
    for spec in specs or ["fastnn.bench:WORKLOADS"]:
        pool.extend(_load_spec(spec))
    names = [w.name for w in pool]
    dup = sorted({n for n in names if names.count(n) > 1
                  and len({w.modes for w in pool if w.name == n}) == 1})
    if dup:
        raise ValueError(f"duplicate workload names: {dup}")
    out = [w for w in pool if mode in w.modes]
    if only:
        out = [w for w in out if any(fnmatch.fnmatchcase(w.name, pat) or pat in w.name
                                     for pat in only)]
    return out


def _load_spec(spec):
    if ":" not in spec:
        raise ValueError(f"--workloads wants MODULE:ATTR, got {spec!r}")
    mod_name, attr = spec.split(":", 1)
    try:
        obj = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load workloads {spec!r}: {exc}") from exc
    if callable(obj) and not isinstance(obj, (list, tuple)):
        obj = obj()
    items = list(obj)
    for w in items:
        if not isinstance(w, Workload):
            raise TypeError(f"{spec} must hold fastnn.bench.Workload objects, "
                            f"got {type(w).__name__}")
    return items


# --------------------------------------------------------------------------- timing
def _time_n(fn, n):
    loop = itertools.repeat(None, n)
    t0 = time.perf_counter()
    for _ in loop:
        fn()
    return time.perf_counter() - t0


def _calibrate(fn, min_time):
    """Calls per sample so that a sample lasts about ``min_time`` (at least 1)."""
    n, t = 1, _time_n(fn, 1)
    while t < min_time / 4 and n < 10**8:
        grow = 10 if t <= 0 else min(10, max(2, int(min_time / 4 / t) + 1))
        n *= grow
        t = _time_n(fn, n)
    return max(1, math.ceil(n * min_time / t)) if t > 0 else n


def _median(xs):
    return statistics.median(xs)


class _Limits:
    """Machine limits, each probed twice per run (when first needed and at the end).

    A limit is a capability, so the fastest sample of all probes is kept: on a shared
    machine a single probe can land on a busy moment and understate it.
    """

    def __init__(self, quick, stream):
        self.quick = quick
        self.stream = stream
        self._bw = None
        self._blas = {}

    def _say(self, msg):
        if self.stream is not None:
            print(msg, file=self.stream, flush=True)

    def _probe_bandwidth(self, reps=None):
        n = 2**23 if self.quick else 2**24
        a = np.ones(n)
        b = np.ones(n)
        nthreads = max(1, _ncpus())
        chunks = [(a[i * n // nthreads:(i + 1) * n // nthreads],
                   b[i * n // nthreads:(i + 1) * n // nthreads]) for i in range(nthreads)]

        def one():
            np.add(a, b, out=a)

        with concurrent.futures.ThreadPoolExecutor(nthreads) as pool:
            def many():
                list(pool.map(lambda ab: np.add(ab[0], ab[1], out=ab[0]), chunks))

            one()
            many()
            t1, tn = [], []
            for _ in range(reps or (5 if self.quick else 9)):
                t1.append(_time_n(one, 1))
                tn.append(_time_n(many, 1))
        moved = 3 * a.nbytes
        old = self._bw or {"gbs_1thread": 0.0, "gbs_all_threads": 0.0}
        g1 = max(old["gbs_1thread"], moved / min(t1) / 1e9)
        gn = max(old["gbs_all_threads"], moved / min(tn) / 1e9)
        self._bw = {"gbs": max(g1, gn), "gbs_1thread": g1, "gbs_all_threads": gn,
                    "threads": nthreads}

    def _probe_blas(self, dtype, reps=None):
        n = 1024
        rng = np.random.RandomState(0)
        A = rng.standard_normal((n, n)).astype(dtype)
        B = rng.standard_normal((n, n)).astype(dtype)
        C = np.empty((n, n), dtype)
        np.dot(A, B, out=C)
        reps = reps or (5 if self.quick else 7)
        ts = [_time_n(lambda: np.dot(A, B, out=C), 1) for _ in range(reps)]
        self._blas[dtype] = max(self._blas.get(dtype, 0.0), 2.0 * n**3 / min(ts) / 1e9)

    def bandwidth(self):
        """In-place ``np.add`` GB/s (3 arrays moved), fastest of 1 thread and all cores."""
        if self._bw is None:
            self._say("measuring memory bandwidth (in-place np.add, 1 and all cores)...")
            self._probe_bandwidth()
        return self._bw["gbs"]

    def blas(self, dtype):
        """``np.dot`` GFLOP/s on 1024 x 1024 matrices of ``dtype`` (fastest sample)."""
        dtype = np.dtype(dtype).name
        if dtype not in self._blas:
            self._say(f"measuring BLAS GFLOP/s (np.dot 1024x1024 {dtype})...")
            self._probe_blas(dtype)
        return self._blas[dtype]

    def reprobe(self):
        """Probe every limit measured so far once more (keeping the best)."""
        if self._bw is not None or self._blas:
            self._say("probing the limits again...")
        if self._bw is not None:
            self._probe_bandwidth(3)
        for dtype in list(self._blas):
            self._probe_blas(dtype, 3)

    def as_dict(self):
        return {"bandwidth_gbs": None if self._bw is None else self._bw["gbs"],
                "bandwidth_detail": self._bw,
                "blas_gflops": dict(self._blas)}


def _git_commit():
    """Short commit of the source tree (with ``+dirty``), or None outside a checkout."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_threads():
    """The most threads any loaded BLAS library would use now (None: none found)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def _ncpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _fmt_frac(frac, limit):
    if frac is None:
        return "-"
    return f"{100 * frac:.0f}% {'BW' if limit == 'bandwidth' else 'BLAS'}"


def _resolve_backends(backends, baseline):
    """Selected backends (baseline excluded unless asked for) and the unavailable ones."""
    if not backends or backends == ["all"]:
        backends = [b for b in kernels.BACKENDS if b != baseline]
    usable, skipped = [], {}
    for b in backends:
        if b == "cuda" and os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
            skipped[b] = "the CUDA simulator is on (NUMBA_ENABLE_CUDASIM): no GPU timings"
            continue
        if b in kernels.BACKENDS:
            try:
                kernels.get(b)
            except RuntimeError as exc:
                skipped[b] = str(exc)
                continue
        if b not in usable:
            usable.append(b)
    return usable, skipped


def run_workloads(wls, backends=None, *, baseline="numpy", mode="full", repeats=None,
                  min_time=None, stream=sys.stderr):
    """Time every workload on the baseline and the backends.

    Parameters
    ----------
    wls : list of Workload
    backends : list of str, optional
        Default: every backend of :data:`fastnn.kernels.BACKENDS` but the baseline;
        unavailable ones are skipped and reported.
    baseline : str
        Backend of the reference times (the ratio's numerator).
    mode : {"quick", "full"}
    repeats : int, optional
        Samples per contender (median kept); default 3 quick, 5 full.
    min_time : float, optional
        Seconds per sample (calls repeated until reached); default 0.05 quick, 0.2 full.
    stream : file or None
        Progress lines (one per workload).

    Returns
    -------
    dict
        The JSON document described in the module docstring (without ``check``).
    """
    quick = mode == "quick"
    repeats = int(repeats or (3 if quick else 5))
    min_time = float(min_time if min_time is not None else (0.05 if quick else 0.2))
    if repeats < 1 or min_time <= 0:
        raise ValueError("--repeats must be >= 1 and --min-time > 0")
    t_start = time.perf_counter()
    usable, skipped_backends = _resolve_backends(list(backends or []), baseline)
    limits = _Limits(quick, stream)

    def say(msg):
        if stream is not None:
            print(msg, file=stream, flush=True)

    if wls:
        say(f"fastnn bench ({mode}): {len(wls)} workloads, baseline {baseline}, backends "
            f"{', '.join(usable) or 'none'}"
            + "".join(f"; {b} skipped ({why})" for b, why in skipped_backends.items())
            + f"; median of {repeats} interleaved samples of >= {min_time:g} s")
    rows = []
    for i, w in enumerate(wls, 1):
        t_w = time.perf_counter()
        row = {"name": w.name, "kernel": w.kernel, "description": w.description,
               "dtype": w.dtype, "limit": w.limit, "bytes": w.bytes, "flops": w.flops,
               "numpy": None, "results": {}, "skipped": {}}
        row["errors"] = {}
        contenders = []          # (key, fn, compile seconds)
        for label in [baseline] + usable:
            try:
                fn = w.setup(label)
                t0 = time.perf_counter()
                fn()                                   # compile / first touch: never timed
                compile_s = time.perf_counter() - t0
            except Exception as exc:
                if label == baseline:
                    raise RuntimeError(f"{w.name}: the baseline {baseline!r} failed: "
                                       f"{exc!r}") from exc
                if isinstance(exc, NotImplementedError):
                    row["skipped"][label] = str(exc) or "NotImplementedError"
                else:                                  # a broken kernel: the gate fails
                    row["errors"][label] = f"{type(exc).__name__}: {exc}"
                continue
            key = f"#{len(contenders)}" if label in [c[0] for c in contenders] else label
            contenders.append((key, fn, compile_s))
        counts = {key: _calibrate(fn, min_time) for key, fn, _ in contenders}
        samples = {key: [] for key, _, _ in contenders}
        gc_was = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            for r in range(repeats):              # rotate who goes first
                k = r % len(contenders)
                order = contenders[k:] + contenders[:k]
                for key, fn, _ in order:
                    samples[key].append(_time_n(fn, counts[key]) / counts[key])
        finally:
            if gc_was:
                gc.enable()
        base_key = contenders[0][0]
        base_med = _median(samples[base_key])
        row["numpy"] = {"backend": baseline, "median_s": base_med,
                        "samples_s": samples[base_key], "calls_per_sample": counts[base_key],
                        "compile_s": contenders[0][2]}
        for key, fn, compile_s in contenders[1:]:
            med = _median(samples[key])
            label = baseline if key.startswith("#") else key
            frac = None
            if w.limit == "bandwidth" and w.bytes:
                frac = w.bytes / med / 1e9 / limits.bandwidth()
            elif w.limit == "blas" and w.flops:
                frac = w.flops / med / 1e9 / limits.blas(w.dtype)
            base_frac = None
            if frac is not None:
                base_frac = frac * med / base_med
            row["results"][label] = {
                "median_s": med, "samples_s": samples[key], "calls_per_sample": counts[key],
                "compile_s": compile_s, "ratio": base_med / med, "numpy_median_s": base_med,
                "limit_fraction": frac, "numpy_limit_fraction": base_frac}
        rows.append(row)
        parts = [f"{baseline} {_fmt_time(base_med)}"]
        for b, res in row["results"].items():
            parts.append(f"{b} {_fmt_time(res['median_s'])} ({res['ratio']:.2f}x"
                         + (f", {_fmt_frac(res['limit_fraction'], w.limit)}"
                            if res["limit_fraction"] is not None else "") + ")")
        for b in row["skipped"]:
            parts.append(f"{b} skipped")
        for b, err in row["errors"].items():
            parts.append(f"{b} ERROR ({err})")
        say(f"[{i:2d}/{len(wls)}] {w.name:<34} " + " | ".join(parts)
            + f"  [{time.perf_counter() - t_w:.1f} s]")
    limits.reprobe()
    for row in rows:                     # fractions against the final (best) limits
        for res in row["results"].values():
            per_s = None
            if row["limit"] == "bandwidth" and row["bytes"]:
                per_s, lim = row["bytes"] / 1e9, limits.bandwidth()
            elif row["limit"] == "blas" and row["flops"]:
                per_s, lim = row["flops"] / 1e9, limits.blas(row["dtype"])
            if per_s is not None:
                res["limit_fraction"] = per_s / res["median_s"] / lim
                res["numpy_limit_fraction"] = per_s / res["numpy_median_s"] / lim
    machine = {"cpus": _ncpus(), "platform": platform.platform(),
               "processor": _cpu_model(),
               "python": platform.python_version(), "numpy": np.__version__,
               "blas_threads": _blas_threads()}
    try:
        import numba

        machine["numba"] = numba.__version__
    except ImportError:
        machine["numba"] = None
    machine.update(limits.as_dict())
    from . import __version__

    return {"fastnn_version": __version__, "git_commit": _git_commit(), "mode": mode,
            "baseline": baseline,
            "backends": usable, "skipped_backends": skipped_backends,
            "repeats": repeats, "min_time_s": min_time, "machine": machine,
            "workloads": rows, "total_s": time.perf_counter() - t_start}


# --------------------------------------------------------------------------- output
def format_table(doc):
    """The workload results as a plain-text table (workload | numpy | backend | ratio |
    limit), with the machine limits measured in the run.

    Parameters
    ----------
    doc : dict
        Output of :func:`run_workloads`.

    Returns
    -------
    str
    """
    backends = []
    for row in doc["workloads"]:
        for b in row["results"]:
            if b not in backends:
                backends.append(b)
    header = ["workload", doc["baseline"]]
    for b in backends:
        header += [b, "ratio", "limit"]
    lines = [header]
    for row in doc["workloads"]:
        cells = [row["name"], _fmt_time(row["numpy"]["median_s"])]
        for b in backends:
            res = row["results"].get(b)
            if res is None:
                cells += ["ERROR" if b in row.get("errors", {}) else
                          "skipped" if b in row["skipped"] else "-", "-", "-"]
            else:
                mark = "*" if len(res.get("attempts") or []) > 1 else ""
                cells += [_fmt_time(res["median_s"]), f"{res['ratio']:.2f}x{mark}",
                          _fmt_frac(res["limit_fraction"], row["limit"])]
        lines.append(cells)
    widths = [max(len(r[c]) for r in lines) for c in range(len(header))]
    out = []
    for k, r in enumerate(lines):
        out.append(" | ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                              for j, c in enumerate(r)))
        if k == 0:
            out.append("-+-".join("-" * w for w in widths))
    m = doc["machine"]
    notes = []
    if m.get("bandwidth_gbs"):
        d = m["bandwidth_detail"]
        notes.append(f"memory bandwidth {m['bandwidth_gbs']:.1f} GB/s (in-place np.add: "
                     f"{d['gbs_1thread']:.1f} on 1 thread, {d['gbs_all_threads']:.1f} on "
                     f"{d['threads']})")
    threads = m.get("blas_threads")
    on = "" if threads is None else f" on {threads} thread{'s' if threads != 1 else ''}"
    for dt, g in m.get("blas_gflops", {}).items():
        notes.append(f"BLAS {g:.1f} GFLOP/s {dt} (np.dot 1024x1024{on})")
    if notes:
        out.append("")
        out.append("limits measured in this run: " + "; ".join(notes))
    out.append(f"ratio = {doc['baseline']} time / backend time (median of {doc['repeats']} "
               f"interleaved samples); limit = fraction of that limit the backend reaches")
    if any(len(res.get("attempts") or []) > 1
           for row in doc["workloads"] for res in row["results"].values()):
        out.append("* re-measured after falling below its floor (--retries): the best "
                   "attempt is shown, every attempt's ratio is in the JSON")
    return "\n".join(out)


def plot(doc, path, floors=None):
    """Horizontal bar chart of the ratios (log scale), floors marked when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["workloads"]
    backends = []
    for row in rows:
        for b in row["results"]:
            if b not in backends:
                backends.append(b)
    n = len(rows)
    fig, ax = plt.subplots(figsize=(9, 0.35 * n + 1.6))
    h = 0.8 / max(1, len(backends))
    for j, b in enumerate(backends):
        ys = [i + (j - (len(backends) - 1) / 2) * h for i in range(n)]
        vals = [row["results"].get(b, {}).get("ratio", float("nan")) for row in rows]
        ax.barh(ys, vals, height=h, label=b)
        for y, v in zip(ys, vals):
            if math.isfinite(v):
                ax.text(v, y, f" {v:.1f}x", va="center", fontsize=7)
        if floors and b in floors:
            fy = [y for y, row in zip(ys, rows) if row["name"] in floors[b]]
            fx = [floors[b][row["name"]] for row in rows if row["name"] in floors[b]]
            ax.scatter(fx, fy, marker="|", s=120, color="black", zorder=3,
                       label="floor" if j == 0 else None)
    ax.axvline(1.0, color="gray", lw=1, ls="--")
    ax.set_xscale("log")
    finite = [res["ratio"] for row in rows for res in row["results"].values()
              if math.isfinite(res["ratio"])]
    if finite:
        ax.set_xlim(min(0.5, min(finite) / 1.5), max(2.0, max(finite) * 2.0))
    ax.set_yticks(range(n))
    ax.set_yticklabels([row["name"] for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"speed-up over {doc['baseline']} (time ratio, log scale)")
    ax.set_title(f"fastnn bench ({doc['mode']})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- estimator rows
def _football_data():
    """The football stand-in (as ``train_regularization``), samples in rows."""
    from .datasets import football_stand_in

    Xtr, Ytr, Xte, Yte = football_stand_in()
    return (np.ascontiguousarray(Xtr.T), Ytr.ravel().astype(np.int64),
            np.ascontiguousarray(Xte.T), Yte.ravel().astype(np.int64))


def _synthetic_data(n_train=20000, n_test=5000, n_features=20):
    """``make_classification``: 20 features (10 informative), 2% flipped labels."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n_train + n_test, n_features=n_features,
                               n_informative=10, n_redundant=4, flip_y=0.02,
                               random_state=0)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


@dataclass
class EstimatorCase:
    """One row of the ``estimator`` section: :class:`fastnn.MLPClassifier` against
    scikit-learn's ``MLPClassifier`` on the same data with the same network and optimizer.

    Parameters
    ----------
    name : str
        Stable name (``--only`` matches it).
    data : callable
        ``data() -> (X_train, y_train, X_test, y_test)``, samples in rows, two classes.
    hidden_layer_sizes : tuple of int
        Hidden ReLU layers of both networks (one logistic output unit follows).
    learning_rate : float
        Adam's step size (scikit-learn's ``learning_rate_init``).
    batch_size : int
        Mini-batch size, reshuffled every epoch by both.
    epochs : int
        Epochs both run, every one of them (scikit-learn's ``max_iter``, its early
        stopping disabled).
    random_state : int
        Seed given to both estimators.
    description : str
    modes : tuple of str
        ``"quick"``, ``"full"``: the modes whose run includes this row.
    """

    name: str
    data: object
    hidden_layer_sizes: tuple = (20, 3)
    learning_rate: float = 0.01
    batch_size: int = 64
    epochs: int = 300
    random_state: int = 0
    description: str = ""
    modes: tuple = MODES


#: fastnn's estimator rows: the football data with the Regularization notebook's network
#: (in quick mode too: about a second), and a larger synthetic set (full run only).
ESTIMATOR_CASES = [
    EstimatorCase("estimator-football", _football_data, (20, 3), 0.01, 64, 300,
                  description="football stand-in (211 train / 200 test, 2 features), "
                  "hidden (20, 3), Adam lr 0.01, batch 64, 300 epochs"),
    EstimatorCase("estimator-synthetic-20k", _synthetic_data, (64, 32), 0.001, 128, 10,
                  description="make_classification (20,000 train / 5,000 test, 20 "
                  "features), hidden (64, 32), Adam lr 0.001, batch 128, 10 epochs",
                  modes=_F),
]


def build_estimators(case, backend=None, epochs=None):
    """The two unfitted classifiers of an estimator row, with matching settings.

    Both: hidden ReLU layers ``case.hidden_layer_sizes`` and one logistic output unit,
    mean log-loss, Adam (beta1 0.9, beta2 0.999, epsilon 1e-8) at a constant
    ``case.learning_rate``, mini-batches of ``case.batch_size`` reshuffled every epoch,
    no L2 (scikit-learn ``alpha=0``), no dropout, ``case.epochs`` epochs run in full
    (scikit-learn: ``tol=0``, ``n_iter_no_change=epochs``, no early stopping). What
    cannot match: the initialisation (fastnn: He-normal, as the notebooks; scikit-learn:
    Glorot-uniform), the random streams, and where Adam's epsilon enters (scikit-learn
    adds it before the bias correction of the step size).

    Parameters
    ----------
    case : EstimatorCase
    backend : str, optional
        fastnn backend (default: the current one).
    epochs : int, optional
        Overrides ``case.epochs`` (a short warm-up fit).

    Returns
    -------
    (fastnn.MLPClassifier, sklearn.neural_network.MLPClassifier)
    """
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from .estimator import MLPClassifier

    n = int(case.epochs if epochs is None else epochs)
    hidden = tuple(int(h) for h in case.hidden_layer_sizes)
    ours = MLPClassifier(hidden_layer_sizes=hidden, optimizer="adam",
                         learning_rate=case.learning_rate, batch_size=case.batch_size,
                         max_iter=n, l2=0.0, keep_prob=1.0,
                         random_state=case.random_state, backend=backend)
    theirs = SkMLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                             alpha=0.0, batch_size=case.batch_size,
                             learning_rate="constant",
                             learning_rate_init=case.learning_rate, max_iter=n,
                             shuffle=True, random_state=case.random_state, tol=0.0,
                             n_iter_no_change=n, early_stopping=False, beta_1=0.9,
                             beta_2=0.999, epsilon=1e-8)
    return ours, theirs


@contextlib.contextmanager
def _no_convergence_warnings():
    """scikit-learn warns that a fixed number of epochs did not converge: expected here."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def run_estimator_cases(cases, backends=None, *, repeats=3, stream=sys.stderr):
    """Fit time and accuracy of ``fastnn.MLPClassifier`` and scikit-learn's.

    Each contender is fitted once for 2 epochs first (compilation, imports: never
    timed), then ``repeats`` times in an interleaved order on fresh estimators; the
    median fit time is kept. Accuracies are those of the last fit (both estimators are
    seeded, so every fit gives the same model).

    Parameters
    ----------
    cases : list of EstimatorCase
    backends : list of str, optional
        fastnn backends to fit with; default every backend but ``numpy`` (unavailable
        ones are skipped and reported).
    repeats : int
        Timed fits per contender.
    stream : file or None
        Progress lines (one per row).

    Returns
    -------
    list of dict
        One per case: ``name``, ``description``, ``data`` (sizes), ``settings``,
        ``sklearn`` (``fit_s``, ``samples_s``, ``warmup_s``, ``train_acc``,
        ``test_acc``, ``n_iter``, ``version``), ``results`` (per backend: the same and
        ``ratio`` = scikit-learn fit time / fastnn fit time), ``skipped``, ``errors``.
    """
    import sklearn

    repeats = int(repeats)
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    usable, skipped_backends = _resolve_backends(list(backends or []), "numpy")
    rows = []
    for i, case in enumerate(cases, 1):
        t_row = time.perf_counter()
        Xtr, ytr, Xte, yte = case.data()
        row = {"name": case.name, "description": case.description,
               "data": {"n_train": int(Xtr.shape[0]), "n_test": int(Xte.shape[0]),
                        "n_features": int(Xtr.shape[1])},
               "settings": {"hidden_layer_sizes": list(case.hidden_layer_sizes),
                            "activation": "relu", "output": "logistic",
                            "optimizer": "adam", "learning_rate": case.learning_rate,
                            "batch_size": case.batch_size, "epochs": case.epochs,
                            "l2": 0.0, "random_state": case.random_state},
               "sklearn": None, "results": {}, "skipped": dict(skipped_backends),
               "errors": {}}
        makers = {"sklearn": lambda n=None: build_estimators(case, None, n)[1]}
        for b in usable:
            makers[b] = lambda n=None, b=b: build_estimators(case, b, n)[0]
        warm = {}
        for key in list(makers):
            try:
                t0 = time.perf_counter()
                with _no_convergence_warnings():
                    makers[key](2).fit(Xtr, ytr)
                warm[key] = time.perf_counter() - t0
            except Exception as exc:
                if key == "sklearn":
                    raise RuntimeError(f"{case.name}: scikit-learn's fit failed: "
                                       f"{exc!r}") from exc
                if isinstance(exc, NotImplementedError):
                    row["skipped"][key] = str(exc) or "NotImplementedError"
                else:
                    row["errors"][key] = f"{type(exc).__name__}: {exc}"
                del makers[key]
        keys = list(makers)
        samples = {k: [] for k in keys}
        fitted = {}
        for r in range(repeats):                  # rotate who goes first
            for key in keys[r % len(keys):] + keys[:r % len(keys)]:
                est = makers[key]()
                gc.collect()
                t0 = time.perf_counter()
                with _no_convergence_warnings():
                    est.fit(Xtr, ytr)
                samples[key].append(time.perf_counter() - t0)
                fitted[key] = est
        for key in keys:
            est = fitted[key]
            res = {"fit_s": _median(samples[key]), "samples_s": samples[key],
                   "warmup_s": warm[key],
                   "train_acc": float(est.score(Xtr, ytr)),
                   "test_acc": float(est.score(Xte, yte)), "n_iter": int(est.n_iter_)}
            if key == "sklearn":
                row["sklearn"] = dict(res, version=sklearn.__version__)
            else:
                res["ratio"] = row["sklearn"]["fit_s"] / res["fit_s"]
                row["results"][key] = res
        rows.append(row)
        if stream is not None:
            sk = row["sklearn"]
            parts = [f"sklearn {_fmt_time(sk['fit_s'])} (test acc {sk['test_acc']:.3f})"]
            for b, res in row["results"].items():
                parts.append(f"{b} {_fmt_time(res['fit_s'])} ({res['ratio']:.1f}x, test "
                             f"acc {res['test_acc']:.3f})")
            parts += [f"{b} ERROR ({err})" for b, err in row["errors"].items()]
            print(f"[{i:2d}/{len(cases)}] {case.name:<34} " + " | ".join(parts)
                  + f"  [{time.perf_counter() - t_row:.1f} s]", file=stream, flush=True)
    return rows


# --------------------------------------------------------------------------- memory rows
_MEMORY_APIS = ("regularization", "deep")


@dataclass
class MemoryCase:
    """One row of the ``memory`` section: the peak memory of one full-batch forward and
    backward pass through the façade, on each backend in a fresh process.

    Parameters
    ----------
    name : str
        Stable name (``--only`` matches it).
    api : {"regularization", "deep"}
        ``"regularization"``: ``fastnn.regularization.forward_propagation`` then
        ``backward_propagation`` (the notebook's three-layer network: ``dims`` has four
        entries); ``"deep"``: ``fastnn.deep.L_model_forward`` then ``L_model_backward``.
    dims : list of int
        Layer sizes ``[n_x, n_1, ..., 1]``.
    m : int
        Examples (columns of ``X``).
    dtype : str
    description : str
    modes : tuple of str
    """

    name: str
    api: str = "regularization"
    dims: tuple = (2, 20, 3, 1)
    m: int = 10**6
    dtype: str = "float64"
    description: str = ""
    modes: tuple = _F

    def minimum_bytes(self):
        """Bytes of the arrays the pass returns, a lower bound of any implementation.

        The forward cache holds ``Z`` and ``A`` of every layer; the gradients are, for
        ``"regularization"``, ``dZ`` of every layer and ``dA`` of every hidden layer, for
        ``"deep"``, ``dA`` of every layer's input (``dA0`` included); both add ``dW``
        and ``db``. The inputs (``X``, ``Y``, parameters) are not counted.

        Returns
        -------
        int
        """
        if self.api not in _MEMORY_APIS:
            raise ValueError(f"api must be one of {_MEMORY_APIS}, got {self.api!r}")
        dims = [int(d) for d in self.dims]
        s = np.dtype(self.dtype).itemsize
        layers = dims[1:]
        rows = 2 * sum(layers)                          # Z, A
        if self.api == "regularization":
            rows += sum(layers) + sum(layers[:-1])      # dZ of every layer, dA of hidden
        else:
            rows += sum(dims[:-1])                      # dA0 ... dA(L-1)
        params = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims)))
        return int(rows * self.m * s + params * s)


#: fastnn's memory rows (full run only): the Regularization notebook's network on 1e6
#: examples, through both façades that expose a forward and a backward pass.
MEMORY_CASES = [
    MemoryCase("peakmem-regularization-1e6", "regularization", (2, 20, 3, 1), 10**6,
               description="regularization.forward_propagation + backward_propagation, "
               "[2, 20, 3, 1], 1e6 examples, float64"),
    MemoryCase("peakmem-deep-1e6", "deep", (2, 20, 3, 1), 10**6,
               description="deep.L_model_forward + L_model_backward, [2, 20, 3, 1], "
               "1e6 examples, float64"),
]


def _memory_pass(api):
    """``(fn, init)``: ``fn(X, Y, parameters)`` runs one forward and backward pass."""
    if api == "regularization":
        from . import regularization as nb

        def fn(X, Y, parameters):
            a3, cache = nb.forward_propagation(X, parameters)
            return a3, cache, nb.backward_propagation(X, Y, cache)

        return fn, nb.initialize_parameters
    if api == "deep":
        from . import deep as nb

        def fn(X, Y, parameters):
            AL, caches = nb.L_model_forward(X, parameters)
            return AL, caches, nb.L_model_backward(AL, Y, caches)

        return fn, nb.initialize_parameters_deep
    raise ValueError(f"api must be one of {_MEMORY_APIS}, got {api!r}")


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _arrays(x)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _arrays(x)


def _proc_memory():
    """``{"VmRSS": bytes, "VmHWM": bytes}`` of this process, or None without /proc."""
    try:
        out = {}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
        return out if len(out) == 2 else None
    except OSError:
        return None


def _reset_peak_rss():
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _max_rss():
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def _memory_child(spec_json):
    """Body of the fresh process of a memory row: measure, print one JSON line."""
    import tracemalloc

    from ._backend import use_backend

    spec = json.loads(spec_json)
    fn, init = _memory_pass(spec["api"])
    dims, m, dtype = list(spec["dims"]), int(spec["m"]), np.dtype(spec["dtype"])
    parameters = {k: np.ascontiguousarray(v, dtype=dtype)
                  for k, v in init(dims).items()}
    rng = np.random.default_rng(0)

    def inputs(n):
        X = np.ascontiguousarray(rng.standard_normal((dims[0], n)), dtype=dtype)
        Y = (X[:1] + 0.5 * X[-1:] > 0).astype(dtype)
        return X, Y

    with use_backend(spec["backend"]):
        out = fn(*inputs(min(m, 1000)), parameters)   # compile / load the cache, untimed
        del out
        X, Y = inputs(m)
        gc.collect()
        before = _proc_memory()
        if before is not None and _reset_peak_rss():
            method = "VmHWM - VmRSS before (peak reset via /proc/self/clear_refs)"
            base = _proc_memory()["VmRSS"]
        else:
            method = "ru_maxrss increase (no /proc: lower bound)"
            base = _max_rss()
        t0 = time.perf_counter()
        out = fn(X, Y, parameters)
        seconds = time.perf_counter() - t0
        now = _proc_memory()
        if method.startswith("VmHWM"):
            peak, held = now["VmHWM"] - base, now["VmRSS"] - base
        else:
            peak, held = _max_rss() - base, None
        skip = {a.__array_interface__["data"][0] for a in (X, Y, *parameters.values())}
        seen = {}
        for a in _arrays(out):
            ptr = a.__array_interface__["data"][0]
            if ptr not in skip:
                seen[ptr] = max(seen.get(ptr, 0), a.nbytes)
        results_bytes = sum(seen.values())
        del out
        gc.collect()
        tracemalloc.start()
        out = fn(X, Y, parameters)
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del out
    print(json.dumps({"backend": spec["backend"], "peak_bytes": int(peak),
                      "held_bytes": None if held is None else int(held),
                      "results_bytes": int(results_bytes),
                      "tracemalloc_peak_bytes": int(traced),
                      "inputs_bytes": int(X.nbytes + Y.nbytes), "base_rss_bytes": int(base),
                      "seconds": seconds, "method": method}))


def _run_child(entry, spec, timeout, env=None):
    """Run ``fastnn.bench.<entry>(json.dumps(spec))`` in a new Python process; return the
    JSON object of its last output line (RuntimeError, with its last error line, when
    it fails)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; from fastnn.bench import {entry}; "
         f"{entry}(sys.argv[1])", json.dumps(spec)],
        capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the measuring process exited with {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_memory_child(case, backend, timeout):
    spec = {"api": case.api, "dims": list(case.dims), "m": int(case.m),
            "dtype": case.dtype, "backend": backend}
    # A fixed mmap threshold: every large array is its own mapping, returned to the
    # system when freed, so the peak counts allocations, not allocator slack.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    return _run_child("_memory_child", spec, timeout, env)


def run_memory_cases(cases, backends=None, *, baseline="numpy", stream=sys.stderr,
                     timeout=600):
    """Peak memory of one forward and backward pass per backend, each in a fresh process.

    The process builds the parameters and the inputs, runs the pass once on 1,000
    examples (compilation), then measures the pass on ``case.m`` examples: the peak
    resident set size during the pass minus the resident size just before it (Linux:
    ``VmHWM`` after resetting it through ``/proc/self/clear_refs``; elsewhere the
    increase of ``ru_maxrss``). Resident memory counts every allocation: NumPy's,
    Numba's runtime, BLAS work buffers. ``tracemalloc``'s peak of a second pass is
    reported beside it; it sees the allocations made through Python's allocators (NumPy
    arrays, arrays created inside Numba-compiled code) but not BLAS's own buffers.

    Parameters
    ----------
    cases : list of MemoryCase
    backends : list of str, optional
        Default every backend but the baseline; unavailable ones are skipped.
    baseline : str
        Measured first; ``vs_baseline`` of the others is relative to it.
    stream : file or None
        Progress lines (one per row).
    timeout : float
        Seconds one measuring process may take.

    Returns
    -------
    list of dict
        One per case: ``name``, ``description``, ``api``, ``dims``, ``m``, ``dtype``,
        ``minimum_bytes`` (:meth:`MemoryCase.minimum_bytes`), ``baseline``, ``results``
        (per backend: ``peak_bytes``, ``held_bytes`` (resident increase with the results
        still alive), ``results_bytes`` (bytes of the arrays returned),
        ``tracemalloc_peak_bytes``, ``inputs_bytes``, ``seconds``, ``method``,
        ``vs_minimum`` = peak / minimum and ``vs_baseline`` = peak / baseline's peak),
        ``skipped``, ``errors``.
    """
    usable, skipped_backends = _resolve_backends(list(backends or []), baseline)
    rows = []
    for i, case in enumerate(cases, 1):
        t_row = time.perf_counter()
        minimum = case.minimum_bytes()
        row = {"name": case.name, "description": case.description, "api": case.api,
               "dims": [int(d) for d in case.dims], "m": int(case.m), "dtype": case.dtype,
               "minimum_bytes": minimum, "baseline": baseline, "results": {},
               "skipped": dict(skipped_backends), "errors": {}}
        for b in [baseline] + [u for u in usable if u != baseline]:
            try:
                res = _run_memory_child(case, b, timeout)
            except Exception as exc:
                row["errors"][b] = f"{type(exc).__name__}: {exc}"
                continue
            res["vs_minimum"] = res["peak_bytes"] / minimum
            row["results"][b] = res
        base = row["results"].get(baseline)
        for res in row["results"].values():
            res["vs_baseline"] = (res["peak_bytes"] / base["peak_bytes"]
                                  if base and base["peak_bytes"] > 0 else None)
        rows.append(row)
        if stream is not None:
            parts = [f"minimum {_fmt_bytes(minimum)}"]
            parts += [f"{b} peak {_fmt_bytes(r['peak_bytes'])} ({r['vs_minimum']:.2f}x min)"
                      for b, r in row["results"].items()]
            parts += [f"{b} ERROR ({err})" for b, err in row["errors"].items()]
            print(f"[{i:2d}/{len(cases)}] {case.name:<34} " + " | ".join(parts)
                  + f"  [{time.perf_counter() - t_row:.1f} s]", file=stream, flush=True)
    return rows


def _select(items, mode, only):
    out = [w for w in items if mode in w.modes]
    if only:
        out = [w for w in out if any(fnmatch.fnmatchcase(w.name, pat) or pat in w.name
                                     for pat in only)]
    return out


def estimator_cases(mode="full", only=None):
    """The estimator rows of a mode.

    Parameters
    ----------
    mode : {"quick", "full"}
    only : list of str, optional
        Glob patterns (or substrings), as for :func:`workloads`.

    Returns
    -------
    list of EstimatorCase
    """
    return _select(ESTIMATOR_CASES, mode, only)


def memory_cases(mode="full", only=None):
    """The memory rows of a mode (none in quick mode).

    Parameters
    ----------
    mode : {"quick", "full"}
    only : list of str, optional
        Glob patterns (or substrings), as for :func:`workloads`.

    Returns
    -------
    list of MemoryCase
    """
    return _select(MEMORY_CASES, mode, only)


def _fmt_bytes(n):
    if n is None:
        return "-"
    if abs(n) >= 1e9:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.1f} MB"


def _text_table(lines):
    widths = [max(len(r[c]) for r in lines) for c in range(len(lines[0]))]
    out = []
    for k, r in enumerate(lines):
        out.append(" | ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                              for j, c in enumerate(r)))
        if k == 0:
            out.append("-+-".join("-" * w for w in widths))
    return out


def format_estimator_table(rows):
    """The estimator rows as a plain-text table.

    Parameters
    ----------
    rows : list of dict
        Output of :func:`run_estimator_cases`.

    Returns
    -------
    str
    """
    backends = []
    for row in rows:
        backends += [b for b in row["results"] if b not in backends]
    header = ["estimator", "sklearn fit", "acc train/test"]
    for b in backends:
        header += [f"fastnn[{b}] fit", "ratio", "acc train/test"]
    lines = [header]
    for row in rows:
        sk = row["sklearn"]
        cells = [row["name"], _fmt_time(sk["fit_s"]),
                 f"{sk['train_acc']:.3f} / {sk['test_acc']:.3f}"]
        for b in backends:
            res = row["results"].get(b)
            if res is None:
                cells += ["ERROR" if b in row["errors"] else "skipped", "-", "-"]
            else:
                cells += [_fmt_time(res["fit_s"]), f"{res['ratio']:.2f}x",
                          f"{res['train_acc']:.3f} / {res['test_acc']:.3f}"]
        lines.append(cells)
    out = _text_table(lines)
    out.append("ratio = scikit-learn MLPClassifier fit time / fastnn.MLPClassifier fit time "
               "(same data, network, Adam settings and epochs; median of "
               f"{len(rows[0]['sklearn']['samples_s']) if rows else 0} fits); "
               "scikit-learn is not the baseline: not gated")
    return "\n".join(out)


def format_memory_table(rows):
    """The memory rows as a plain-text table.

    Parameters
    ----------
    rows : list of dict
        Output of :func:`run_memory_cases`.

    Returns
    -------
    str
    """
    contenders = []
    for row in rows:
        contenders += [b for b in row["results"] if b not in contenders]
    header = ["memory", "minimum"]
    for b in contenders:
        header += [f"{b} peak", "x min"]
        if rows and b != rows[0]["baseline"]:
            header.append(f"x {rows[0]['baseline']}")
    lines = [header]
    for row in rows:
        cells = [row["name"], _fmt_bytes(row["minimum_bytes"])]
        for b in contenders:
            res = row["results"].get(b)
            extra = 1 if b != row["baseline"] else 0
            if res is None:
                cells += ["ERROR" if b in row["errors"] else "skipped"] + ["-"] * (1 + extra)
                continue
            cells += [_fmt_bytes(res["peak_bytes"]), f"{res['vs_minimum']:.2f}x"]
            if extra:
                vb = res["vs_baseline"]
                cells.append("-" if vb is None else f"{vb:.2f}x")
        lines.append(cells)
    out = _text_table(lines)
    out.append("peak = resident memory increase during one forward + backward pass over the "
               "inputs (fresh process per backend); minimum = bytes of the arrays the pass "
               "returns (caches Z, A and the gradients); not gated")
    return "\n".join(out)


# --------------------------------------------------------------------------- startup rows
#: What a new process may take to get a kernel whose compiled code is in the cache
#: ready: its first call, with the backend's import before it (seconds).
STARTUP_GOAL_S = 1.0


@dataclass
class StartupCase:
    """One row of the ``startup`` section: the first call of a kernel in a new process,
    its compiled code already in Numba's disk cache.

    Parameters
    ----------
    name : str
        Stable name (``--only`` matches it).
    target : str
        ``"FAMILY/SIZE"``: the workload :func:`build_case` builds (float64), called
        once; or ``"model"``: the optimization notebook's ``model()`` with Adam through
        the façade (``[2, 5, 2, 1]`` on the moons data, 10 epochs).
    description : str
    modes : tuple of str
    """

    name: str
    target: str
    description: str = ""
    modes: tuple = _F


#: fastnn's startup rows (full run only): a fused layer, the gradient check, the
#: training loop (the largest compiled function) and a whole notebook call.
STARTUP_CASES = [
    StartupCase("startup-linear_relu_fwd", "linear_relu_fwd/notebook",
                "first linear_act_forward call, (20x2) @ (2x211)"),
    StartupCase("startup-grad_check", "grad_check/notebook",
                "first grad_check_mlp call, course case (47 parameters)"),
    StartupCase("startup-train_mlp", "train_optimization/notebook",
                "first train_mlp call, Adam, [2, 5, 2, 1], batch 64"),
    StartupCase("startup-model", "model",
                "first optimization.model() call with Adam, 10 epochs (façade)"),
]


def startup_cases(mode="full", only=None):
    """The startup rows of a mode (none in quick mode).

    Parameters
    ----------
    mode : {"quick", "full"}
    only : list of str, optional
        Glob patterns (or substrings), as for :func:`workloads`.

    Returns
    -------
    list of StartupCase
    """
    return _select(STARTUP_CASES, mode, only)


def _startup_call(target, backend):
    """A zero-argument callable running ``target`` once on ``backend`` (inputs built)."""
    if target == "model":
        from . import optimization as nb
        from ._backend import use_backend

        X, Y = _dataset("moons")

        def fn():
            with use_backend(backend), contextlib.redirect_stdout(io.StringIO()):
                nb.model(X, Y, [X.shape[0], 5, 2, 1], "adam", num_epochs=10,
                         print_cost=False)

        return fn
    family, size = target.split("/")
    return build_case(family, size, "float64", backend).fn


def _startup_child(spec_json):
    """Body of the fresh process of a startup row: measure, print one JSON line.

    ``import_s``: ``import fastnn`` and the backend's kernel module (Numba and the
    compiled modules' imports, nothing compiled or loaded); ``first_s``: the first call
    (Numba loads the kernel from its cache, or compiles it); ``second_s``: the next.
    Building the inputs between them is not timed.
    """
    t0 = time.perf_counter()
    import fastnn  # noqa: F401  (timed: what a user's first import costs)

    spec = json.loads(spec_json)
    kernels.get(spec["backend"])
    t1 = time.perf_counter()
    fn = _startup_call(spec["target"], spec["backend"])
    t2 = time.perf_counter()
    fn()
    t3 = time.perf_counter()
    fn()
    t4 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "first_s": t3 - t2, "second_s": t4 - t3}))


def _run_startup_child(case, backend, timeout):
    return _run_child("_startup_child", {"target": case.target, "backend": backend},
                      timeout)


def run_startup_cases(cases, backends=None, *, repeats=3, stream=sys.stderr, timeout=600):
    """First call of each case's kernel in new processes, per compiled backend.

    A first process fills Numba's disk cache when it lacks the kernel (its first call
    is reported as ``prime_first_s``: the compile time when the cache was cold); then
    ``repeats`` new processes each time the backend's import, the first call and the
    second call, and the medians are kept. ``ready_s`` = import + first call, compared
    with :data:`STARTUP_GOAL_S`. The NumPy baseline compiles nothing and is not run.

    Parameters
    ----------
    cases : list of StartupCase
    backends : list of str, optional
        Default every compiled backend; unavailable ones are skipped.
    repeats : int
        Measuring processes per case and backend.
    stream : file or None
        Progress lines (one per row).
    timeout : float
        Seconds one process may take.

    Returns
    -------
    list of dict
        One per case: ``name``, ``description``, ``target``, ``goal_s``, ``results``
        (per backend: ``import_s``, ``first_s``, ``second_s``, ``ready_s`` (medians),
        ``samples`` (each process's three), ``prime_first_s``), ``skipped``, ``errors``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    usable, skipped_backends = _resolve_backends(list(backends or []), "numpy")
    usable = [b for b in usable if b != "numpy"]
    rows = []
    for i, case in enumerate(cases, 1):
        t_row = time.perf_counter()
        row = {"name": case.name, "description": case.description, "target": case.target,
               "goal_s": STARTUP_GOAL_S, "results": {}, "skipped": dict(skipped_backends),
               "errors": {}}
        for b in usable:
            try:
                prime = _run_startup_child(case, b, timeout)
                samples = [_run_startup_child(case, b, timeout) for _ in range(repeats)]
            except Exception as exc:
                row["errors"][b] = f"{type(exc).__name__}: {exc}"
                continue
            res = {k: statistics.median(s[k] for s in samples)
                   for k in ("import_s", "first_s", "second_s")}
            res["ready_s"] = statistics.median(s["import_s"] + s["first_s"] for s in samples)
            res["samples"] = samples
            res["prime_first_s"] = prime["first_s"]
            row["results"][b] = res
        rows.append(row)
        if stream is not None:
            parts = [f"{b} import {_fmt_time(r['import_s'])} + first call "
                     f"{_fmt_time(r['first_s'])} (then {_fmt_time(r['second_s'])})"
                     for b, r in row["results"].items()]
            parts += [f"{b} ERROR ({err})" for b, err in row["errors"].items()]
            print(f"[{i:2d}/{len(cases)}] {case.name:<34} " + " | ".join(parts)
                  + f"  [{time.perf_counter() - t_row:.1f} s]", file=stream, flush=True)
    return rows


def format_startup_table(rows):
    """The startup rows as a plain-text table.

    Parameters
    ----------
    rows : list of dict
        Output of :func:`run_startup_cases`.

    Returns
    -------
    str
    """
    lines = [["startup", "backend", "import", "first call", "second call",
              "import + first", "goal"]]
    for row in rows:
        for b, res in row["results"].items():
            ok = "met" if res["ready_s"] <= row["goal_s"] else "NOT met"
            lines.append([row["name"], b, _fmt_time(res["import_s"]),
                          _fmt_time(res["first_s"]), _fmt_time(res["second_s"]),
                          _fmt_time(res["ready_s"]), f"<= {row['goal_s']:g} s: {ok}"])
        for b, err in row["errors"].items():
            lines.append([row["name"], b, "ERROR", "-", "-", "-", "-"])
    out = _text_table(lines)
    n = len(next(iter(rows[0]["results"].values()))["samples"]) if rows and rows[0][
        "results"] else 0
    out.append(f"a new process per sample (median of {n}), the kernels already in Numba's "
               "disk cache; import = fastnn and the backend's modules; not gated")
    return "\n".join(out)


# --------------------------------------------------------------------------- the gate
def default_floors_path():
    """``benchmarks/floors.json`` of the source tree (else of the current directory)."""
    here = Path(__file__).resolve().parent.parent / "benchmarks" / "floors.json"
    if here.exists():
        return here
    return Path("benchmarks") / "floors.json"


def load_floors(path):
    """Read a floors file; raises FileNotFoundError / ValueError when unusable."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"floors file {path} not found")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"floors file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TypeError(f"floors file {path} must hold a JSON object")
    return doc


def check_floors(doc, floors_doc, *, selected=None, all_names=None):
    """Compare the measured ratios of ``doc`` with the floors of its mode.

    Parameters
    ----------
    doc : dict
        Output of :func:`run_workloads`.
    floors_doc : dict
        The floors file's content.
    selected : set of str, optional
        Names of the workloads that were run (default: those in ``doc``).
    all_names : set of str, optional
        Names of every workload of the mode (to tell a filtered-out workload from a
        stale floor); default ``selected``.

    Returns
    -------
    dict
        ``status`` (0 pass, 1 a ratio below its floor, 2 the gate cannot be evaluated),
        ``passed``, ``failures``, ``errors``, ``skipped``, ``unfloored`` lists and
        ``lines`` (the human-readable report).
    """
    mode = doc["mode"]
    measured = {row["name"]: row for row in doc["workloads"]}
    selected = set(measured) if selected is None else set(selected)
    all_names = selected if all_names is None else set(all_names)
    required = list(floors_doc.get("required_backends", []))
    section = floors_doc.get(mode)
    out = {"mode": mode, "status": 0, "passed": [], "failures": [], "errors": [],
           "skipped": [], "unfloored": [], "lines": []}
    if not isinstance(section, dict) or not any(
            isinstance(v, dict) and v for v in section.values()):
        out["errors"].append(f"the floors file has no {mode!r} floors")
    else:
        for backend, table in section.items():
            if backend.startswith("_") or not isinstance(table, dict):
                continue
            missing_backend = None
            if backend not in doc["backends"]:
                missing_backend = doc["skipped_backends"].get(
                    backend, "not selected (--backend)")
            if missing_backend is not None:
                names = [n for n in table if not n.startswith("_") and n in selected]
                if backend in required:
                    out["errors"].append(
                        f"backend {backend!r} is required by the floors file but "
                        f"unavailable here: {missing_backend}. {len(names)} floor(s) "
                        f"need it; the gate cannot pass without it")
                else:
                    out["skipped"].extend(
                        {"workload": n, "backend": backend, "why": missing_backend}
                        for n in names)
                continue
            for name, floor in table.items():
                if name.startswith("_"):
                    continue
                if name not in all_names:
                    out["errors"].append(
                        f"floor for unknown {mode} workload {name!r} [{backend}] "
                        "(renamed or removed? update the floors file)")
                    continue
                if name not in selected:
                    continue        # filtered out with --only
                row = measured.get(name)
                res = row["results"].get(backend) if row else None
                err = (row or {}).get("errors", {}).get(backend)
                if err is not None:
                    out["failures"].append({"workload": name, "backend": backend,
                                            "ratio": None, "floor": float(floor),
                                            "error": err})
                    continue
                if res is None:
                    why = (row or {}).get("skipped", {}).get(backend, "not measured")
                    if backend in required:
                        out["errors"].append(f"{name} [{backend}]: not measured ({why})")
                    else:
                        out["skipped"].append({"workload": name, "backend": backend,
                                               "why": why})
                    continue
                item = {"workload": name, "backend": backend, "ratio": res["ratio"],
                        "floor": float(floor)}
                (out["passed"] if res["ratio"] >= float(floor) else out["failures"]).append(item)
        for row in doc["workloads"]:
            for backend in row["results"]:
                table = section.get(backend, {})
                if isinstance(table, dict) and row["name"] not in table:
                    out["unfloored"].append(f"{row['name']} [{backend}]")
    lines = out["lines"]
    for f in out["failures"]:
        if f.get("error"):
            lines.append(f"FAIL {f['workload']} [{f['backend']}]: the kernel raised "
                         f"{f['error']} (floor {f['floor']:.2f}x)")
        else:
            lines.append(f"FAIL {f['workload']} [{f['backend']}]: ratio {f['ratio']:.2f}x "
                         f"is below its floor {f['floor']:.2f}x")
    for e in out["errors"]:
        lines.append(f"ERROR {e}")
    for s in out["skipped"]:
        lines.append(f"skipped {s['workload']} [{s['backend']}]: {s['why']}")
    if out["unfloored"]:
        lines.append(f"not gated (no floor): {', '.join(out['unfloored'])}")
    if out["errors"]:
        out["status"] = 2
        lines.append(f"bench check ERROR ({mode}): the gate could not be evaluated")
    elif out["failures"]:
        out["status"] = 1
        lines.append(f"bench check FAILED ({mode}): {len(out['failures'])} of "
                     f"{len(out['failures']) + len(out['passed'])} ratios below their floors")
    else:
        out["status"] = 0
        lines.append(f"bench check passed ({mode}): {len(out['passed'])} ratios at or above "
                     f"their floors" + (f", {len(out['skipped'])} skipped"
                                        if out["skipped"] else ""))
    return out


def derive_floors(docs, factor=0.5, median_cap=0.6):
    """Floors from several runs: ``min(factor * min ratio, median_cap * median ratio)``.

    Parameters
    ----------
    docs : list of dict
        Outputs of :func:`run_workloads` (``--json`` files), all of one mode.

    Returns
    -------
    (str, dict)
        The mode and ``{backend: {workload: floor}}`` (floors rounded down to 2 decimals).
    """
    modes = {d["mode"] for d in docs}
    if len(modes) != 1:
        raise ValueError(f"runs of one mode expected, got {sorted(modes)}")
    ratios = {}
    for d in docs:
        for row in d["workloads"]:
            for b, res in row["results"].items():
                ratios.setdefault(b, {}).setdefault(row["name"], []).append(res["ratio"])
    floors = {}
    for b, table in ratios.items():
        floors[b] = {}
        for name, rs in table.items():
            f = min(factor * min(rs), median_cap * _median(rs))
            floors[b][name] = math.floor(f * 100) / 100
    return modes.pop(), floors


# --------------------------------------------------------------------------- CLI
def add_arguments(parser):
    """Add the ``fastnn bench`` options to an argparse parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Returns
    -------
    argparse.ArgumentParser
        The same parser.
    """
    parser.description = ("Time the NumPy baseline and the compiled backends side by side "
                          "(ratios, fraction of the machine's bandwidth / BLAS limit), "
                          "fastnn.MLPClassifier against scikit-learn's, the peak "
                          "memory of a forward + backward pass and the first call in a "
                          "new process; --check gates the ratios against committed "
                          "floors.")
    parser.add_argument("--quick", action="store_true",
                        help="the quick workload set, 3 samples of >= 0.05 s (under a "
                        "minute); CI's gate")
    parser.add_argument("--backend", action="append", metavar="NAME",
                        help="backend(s) to compare with the baseline (repeat or comma-"
                        "separate; default all but numpy; unavailable ones are skipped)")
    parser.add_argument("--baseline", default="numpy", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=None,
                        help="samples per contender, median kept (default 5, quick 3; "
                        "estimator rows: fits per contender, default 3)")
    parser.add_argument("--min-time", type=float, default=None, metavar="SECONDS",
                        help="minimum duration of one sample (default 0.2, quick 0.05)")
    parser.add_argument("--only", action="append", metavar="PATTERN",
                        help="run only workloads (and estimator-*, peakmem-* rows) "
                        "matching this glob or substring (repeatable)")
    parser.add_argument("--workloads", action="append", metavar="MODULE:ATTR",
                        help="workload list to run instead of fastnn's "
                        "(fastnn.bench:WORKLOADS); repeatable")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="write the results as JSON to FILE ('-' = stdout; the table "
                        "then goes to stderr)")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="horizontal bar chart of the ratios (PNG)")
    parser.add_argument("--check", action="store_true",
                        help="fail (exit 1) when a ratio is below its floor; exit 2 when "
                        "the gate cannot be evaluated (e.g. a required backend is missing)")
    parser.add_argument("--retries", type=int, default=1, metavar="N",
                        help="with --check, re-measure the workloads below their floors up "
                        "to N times and keep the best ratio (default 1; 0 = never)")
    parser.add_argument("--floors", metavar="FILE", default=None,
                        help="floors file (default benchmarks/floors.json)")
    parser.add_argument("--derive-floors", nargs="+", metavar="JSON", default=None,
                        help="no timing: set the floors of the runs' mode from these --json "
                        "results (min(0.5 x min, 0.6 x median) of the ratios) and write "
                        "them into --floors")
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="BLAS threads of every contender while timing (default 1, as "
                        "fastnn reproduce; 0 = BLAS's own setting). After a multi-threaded "
                        "call OpenBLAS's idle threads spin for about 0.1 s, taking the "
                        "cores from the next sample's parallel kernels")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return parser


def _split(values):
    out = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def main(args):
    """Run ``fastnn bench`` with parsed arguments.

    Times the selected workloads, then the selected estimator, memory and startup rows
    (fastnn's own set only, not with ``--workloads``), prints the tables, applies
    ``--check``, ``--plot`` and ``--json``; all of it with every BLAS library limited to
    ``--blas-threads`` threads (0: BLAS's own setting).

    Parameters
    ----------
    args : argparse.Namespace
        As parsed with the options of :func:`add_arguments`.

    Returns
    -------
    int
        The exit status: 0, or the gate's 1 / 2 with ``--check``.
    """
    g = functools.partial(getattr, args)
    blas_threads = g("blas_threads", 1)
    if blas_threads is None or blas_threads < 0:
        raise ValueError(f"--blas-threads must be 0 (BLAS's own setting) or a positive "
                         f"number of threads, got {blas_threads}")
    if blas_threads == 0 or g("list", False) or g("derive_floors", None):
        return _main(g)
    from .parallel import _limit_pools

    with _limit_pools(blas_threads, "blas"):
        return _main(g)


def _main(g):
    """:func:`main` under its BLAS thread limit (``g``: the arguments' getter)."""
    quick = bool(g("quick", False))
    mode = "quick" if quick else "full"
    floors_path = Path(g("floors", None) or default_floors_path())
    if g("derive_floors", None):
        return _derive_main(g("derive_floors"), floors_path)
    only = _split(g("only", None))
    wls = workloads(mode, g("workloads", None), only)
    # the estimator, memory and startup rows are fastnn's own: not with --workloads
    own = not g("workloads", None)
    est_cases = estimator_cases(mode, only) if own else []
    mem_cases = memory_cases(mode, only) if own else []
    up_cases = startup_cases(mode, only) if own else []
    if g("list", False):
        for w in [*wls, *est_cases, *mem_cases, *up_cases]:
            print(f"{w.name:<34} {w.description}")
        return 0
    if not (wls or est_cases or mem_cases or up_cases):
        raise ValueError(f"no {mode} workload matches --only {g('only', None)}")
    floors_doc = load_floors(floors_path) if g("check", False) else None
    json_target = g("json", None)
    table_stream = sys.stderr if json_target == "-" else sys.stdout
    stream = None if g("quiet", False) else sys.stderr
    backends = _split(g("backend", None))
    doc = run_workloads(wls, backends, baseline=g("baseline", "numpy"),
                        mode=mode, repeats=g("repeats", None), min_time=g("min_time", None),
                        stream=stream)
    if doc["workloads"]:
        print(format_table(doc), file=table_stream)
    doc["estimator"] = []
    doc["memory"] = []
    doc["startup"] = []
    if est_cases:
        t0 = time.perf_counter()
        repeats = int(g("repeats", None) or 3)
        if stream is not None:
            print(f"estimator: fastnn.MLPClassifier vs scikit-learn's MLPClassifier, "
                  f"{len(est_cases)} row(s), median of {repeats} fits", file=stream,
                  flush=True)
        doc["estimator"] = run_estimator_cases(est_cases, backends, repeats=repeats,
                                               stream=stream)
        doc["total_s"] += time.perf_counter() - t0
        print(("\n" if doc["workloads"] else "")
              + format_estimator_table(doc["estimator"]), file=table_stream)
    if mem_cases:
        t0 = time.perf_counter()
        if stream is not None:
            print(f"memory: peak of one forward + backward pass, {len(mem_cases)} row(s), "
                  "a fresh process per backend", file=stream, flush=True)
        doc["memory"] = run_memory_cases(mem_cases, backends,
                                         baseline=g("baseline", "numpy"), stream=stream)
        doc["total_s"] += time.perf_counter() - t0
        print(("\n" if doc["workloads"] or doc["estimator"] else "")
              + format_memory_table(doc["memory"]), file=table_stream)
    if up_cases:
        t0 = time.perf_counter()
        if stream is not None:
            print(f"startup: first call in a new process, {len(up_cases)} row(s), "
                  "a fresh process per sample", file=stream, flush=True)
        doc["startup"] = run_startup_cases(up_cases, backends, stream=stream)
        doc["total_s"] += time.perf_counter() - t0
        print(("\n" if doc["workloads"] or doc["estimator"] or doc["memory"] else "")
              + format_startup_table(doc["startup"]), file=table_stream)
    print(f"total {doc['total_s']:.1f} s", file=table_stream)
    status = 0
    if floors_doc is not None:
        all_names = {w.name for w in workloads(mode, g("workloads", None))}
        res = check_floors(doc, floors_doc, all_names=all_names)
        retries = g("retries", 1)
        retries = 1 if retries is None else int(retries)
        for _ in range(retries):
            failing = {f["workload"] for f in res["failures"] if not f.get("error")}
            if not failing or res["errors"]:
                break
            print(f"\nre-measuring {len(failing)} workload(s) below their floors, to tell "
                  f"a regression from a noisy moment: {', '.join(sorted(failing))}",
                  file=table_stream)
            redo = run_workloads([w for w in wls if w.name in failing],
                                 _split(g("backend", None)), baseline=g("baseline", "numpy"),
                                 mode=mode, repeats=g("repeats", None),
                                 min_time=g("min_time", None), stream=stream)
            _merge_retry(doc, redo)
            print(format_table({**doc, "workloads": [r for r in doc["workloads"]
                                                     if r["name"] in failing]}),
                  file=table_stream)
            res = check_floors(doc, floors_doc, all_names=all_names)
        res["floors_file"] = str(floors_path)
        print(file=table_stream)
        for line in res["lines"]:
            print(line, file=table_stream)
        doc["check"] = {k: v for k, v in res.items() if k != "lines"}
        status = res["status"]
    if g("plot", None) and doc["workloads"]:
        floors = None
        if floors_doc is not None:
            floors = floors_doc.get(mode)
        plot(doc, g("plot"), floors)
        print(f"plot written to {g('plot')}", file=table_stream)
    if json_target:
        text = json.dumps(doc, indent=1)
        if json_target == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(json_target).write_text(text + "\n")
            print(f"JSON written to {json_target}", file=table_stream)
    return status


def _merge_retry(doc, redo):
    """Keep, per workload and backend, the attempt with the best ratio (noise only
    ever slows a contender down, so the best attempt is the least disturbed one)."""
    rows = {row["name"]: row for row in doc["workloads"]}
    for new in redo["workloads"]:
        row = rows[new["name"]]
        for b, res in new["results"].items():
            old = row["results"].get(b)
            attempts = (old or {}).get("attempts") or ([old["ratio"]] if old else [])
            best = res if old is None or res["ratio"] > old["ratio"] else old
            best = dict(best, attempts=[*attempts, res["ratio"]])
            row["results"][b] = best
    doc["total_s"] += redo["total_s"]


FLOORS_COMMENT = (
    "Floors of the speed-up ratio numpy_time / backend_time, per workload name and "
    "backend, per mode; `fastnn bench --check` (quick section: `fastnn bench --quick "
    "--check`, CI's `make bench-check`) exits 1 when a measured ratio is below its floor. "
    "Rule: run the mode several times on the reference machine (a shared 2-core AMD EPYC "
    "Zen 3 VM) with --json, then floor = min(0.5 x the lowest observed ratio, 0.6 x the "
    "median ratio), rounded down to 2 decimals (`fastnn bench [--quick] --derive-floors "
    "run1.json run2.json ...` applies it). Ratios on a shared 2-core machine vary up to 2x "
    "between runs, hence the margin: a failure means the compiled kernel lost about half "
    "of its lead, not noise. Ratios, never times, so a slower or faster CI machine does "
    "not matter. required_backends: the gate exits 2 (cannot be evaluated) when one of "
    "these has floors but is unavailable, so a machine without Numba never passes "
    "vacuously; floors of other backends (cuda) are skipped there.")


def _derive_main(paths, floors_path):
    docs = [json.loads(Path(p).read_text()) for p in paths]
    mode, floors = derive_floors(docs)
    doc = load_floors(floors_path) if Path(floors_path).exists() else {}
    doc["_comment"] = doc.get("_comment") or FLOORS_COMMENT
    doc.setdefault("required_backends", ["numba"])
    m = docs[0].get("machine", {})
    prov = doc.setdefault("_provenance", {})
    prov[mode] = (f"{len(docs)} runs on {time.strftime('%Y-%m-%d')}: fastnn "
                  f"{docs[0].get('fastnn_version')} (git {docs[0].get('git_commit')}), "
                  f"numpy {m.get('numpy')}, numba "
                  f"{m.get('numba')}, {m.get('cpus')} CPUs ({m.get('processor')}); "
                  f"{docs[0].get('repeats')} samples per run")
    doc[mode] = floors
    Path(floors_path).write_text(json.dumps(doc, indent=2) + "\n")
    n = sum(len(t) for t in floors.values())
    print(f"{n} {mode} floors from {len(docs)} runs written to {floors_path}")
    return 0


def cli(argv=None):
    """``python -m fastnn.bench [options]``: the same as ``fastnn bench``.

    Parameters
    ----------
    argv : list of str, optional
        The command-line arguments after the program name (``sys.argv[1:]`` when None);
        ``fastnn bench --help`` lists them.

    Returns
    -------
    int
        The exit status: 0 on success, 1 when ``--check`` finds a ratio below its
        floor, 2 when the benchmark cannot run (the error is printed on stderr).
    """
    parser = add_arguments(argparse.ArgumentParser(prog="fastnn bench"))
    args = parser.parse_args(argv)
    try:
        return main(args)
    except (ValueError, TypeError, RuntimeError, FileNotFoundError, ImportError) as exc:
        print(f"fastnn bench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
