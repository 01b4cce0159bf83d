"""Reproduce the notebooks' experiments through the façade, with timings and plots.

Each experiment calls the notebook API (``fastnn.initialization.model`` and so on) on the
selected backend and, for the speed-up, again on the NumPy baseline; it returns table
rows and writes its figures into the output folder. ``fastnn reproduce`` and ``make
demo`` drive this module; it is usable from Python too::

    from fastnn.reproduce import run
    report = run(["optimization"], out="results", quick=True)
"""

import contextlib
import io
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._backend import get_backend, use_backend
from ._progress import Progress
from .training import progress_listener, recording

__all__ = ["NOTEBOOKS", "Row", "Section", "run", "format_table"]

#: The experiments, in the order ``all`` runs them.
NOTEBOOKS = ("initialization", "regularization", "gradient-checking", "optimization",
             "planar", "deep")


@dataclass
class Row:
    """One line of an experiment's table."""

    method: str
    train_acc: float = float("nan")
    test_acc: float = float("nan")
    final_cost: float = float("nan")
    seconds: float = float("nan")
    numpy_seconds: float = float("nan")
    expected: str = ""
    note: str = ""

    @property
    def speedup(self):
        """NumPy time / backend time."""
        return self.numpy_seconds / self.seconds


@dataclass
class Section:
    """One notebook's results."""

    name: str
    title: str
    rows: list = field(default_factory=list)
    images: list = field(default_factory=list)
    notes: list = field(default_factory=list)


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _quiet():
    """Swallow the notebooks' printing and their overflow warnings while timing."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


class _Timer:
    """Runs a callable on the chosen backend (after a small warm-up) and on NumPy."""

    def __init__(self, backend, baseline=True, bar=None):
        self.backend = backend
        self.baseline = baseline and backend != "numpy"
        self.bar = bar if bar is not None else Progress(None)

    def __call__(self, fn, warm):
        """``fn()`` timed on the backend; ``warm()`` compiles first. Returns result, s, s."""
        with use_backend(self.backend), _quiet():
            if self.backend != "numpy":
                self.bar.phase(f"{self.backend}: compiling")
                warm()
            self.bar.phase(self.backend)
            with recording() as runs, progress_listener(self.bar.update):
                t0 = time.perf_counter()
                result = fn()
                seconds = time.perf_counter() - t0
        numpy_seconds = float("nan")
        if self.baseline:
            self.bar.phase("numpy")
            with use_backend("numpy"), _quiet(), progress_listener(self.bar.update):
                t0 = time.perf_counter()
                fn()
                numpy_seconds = time.perf_counter() - t0
        elif self.backend == "numpy":
            numpy_seconds = seconds
        return result, runs, seconds, numpy_seconds


def _accuracy(predictions, Y):
    return float(np.mean(np.asarray(predictions).ravel() == np.asarray(Y).ravel()))


def _figure(ncols, width=4.2, height=3.6):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def _save(fig, out, name, section):
    import matplotlib.pyplot as plt

    path = Path(out) / name
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    section.images.append(name)


def _cost_figure(curves, out, name, section, title, unit="iterations"):
    from .plots import cost_curve

    fig, (ax,) = _figure(1, width=6, height=3.8)
    for label, run in curves:
        every = run.cost_epochs[1] - run.cost_epochs[0] if len(run.cost_epochs) > 1 else 1
        costs = np.asarray(run.costs, dtype=float)
        costs[~np.isfinite(costs)] = np.nan   # the notebook's inf at iteration 0
        cost_curve(costs, every=every, ax=ax, label=label, unit=unit)
    ax.set_title(title)
    _save(fig, out, name, section)


def _boundaries(models, X, Y, out, name, section, xlim, ylim, hidden="relu"):
    from . import _facade
    from .plots import decision_boundary

    fig, axes = _figure(len(models))
    for ax, (label, parameters) in zip(axes, models):
        with _quiet():
            decision_boundary(lambda x, p=parameters: _facade.predict_dec(p, x.T, hidden),
                              X, Y, ax=ax, xlim=xlim, ylim=ylim, title=label)
    _save(fig, out, name, section)


# --------------------------------------------------------------------------- notebooks
def _initialization(ctx):
    from . import initialization as nb

    sec = Section("initialization", "Initialization (make_circles, [2, 10, 5, 1], GD)")
    train_X, train_Y, test_X, test_Y = nb.load_dataset()
    iters = ctx.iters(15000)
    expected = {"zeros": "0.5 / 0.5", "random": "0.83 / 0.86", "he": "0.9933 / 0.96"}
    models, curves = [], []
    for init in ("zeros", "random", "he"):
        ctx.progress(f"initialization: {init}")
        parameters, runs, s, s_np = ctx.timer(
            lambda: nb.model(train_X, train_Y, num_iterations=iters, initialization=init),
            lambda: nb.model(train_X, train_Y, num_iterations=2, initialization=init))
        with _quiet():
            a3, _ = nb.forward_propagation(train_X, parameters)
            row = Row(f"{init} initialization",
                      _accuracy(nb.predict(train_X, train_Y, parameters), train_Y),
                      _accuracy(nb.predict(test_X, test_Y, parameters), test_Y),
                      nb.compute_loss(a3, train_Y), s, s_np, expected[init])
        sec.rows.append(row)
        models.append((f"{init} initialization", parameters))
        curves.append((init, runs[-1]))
    _cost_figure(curves, ctx.out, "initialization_costs.png", sec,
                 "Initialization: cost (lr 0.01)")
    _boundaries(models, train_X, train_Y, ctx.out, "initialization_boundaries.png", sec,
                (-1.5, 1.5), (-1.5, 1.5))
    return sec


def _regularization(ctx):
    from . import regularization as nb
    from .datasets import football_stand_in, load_2D_dataset

    sec = Section("regularization", "Regularization (football data, [2, 20, 3, 1], GD)")
    mat = ctx.find("data.mat")
    if mat is None:
        sec.notes.append("No data.mat found (pass --data DIR): a SYNTHETIC stand-in is "
                         "used, so the notebook's accuracies do not apply.")
        train_X, train_Y, test_X, test_Y = football_stand_in()
    else:
        train_X, train_Y, test_X, test_Y = load_2D_dataset(mat)
    iters = ctx.iters(30000)
    settings = [("no regularization", {}, ""),
                ("L2, lambd = 0.7", {"lambd": 0.7}, "0.9384 / 0.93"),
                ("dropout, keep_prob = 0.86", {"keep_prob": 0.86}, "0.9289 / 0.95")]
    models, curves = [], []
    for label, kwargs, want in settings:
        ctx.progress(f"regularization: {label}")
        parameters, runs, s, s_np = ctx.timer(
            lambda: nb.model(train_X, train_Y, num_iterations=iters, **kwargs),
            lambda: nb.model(train_X, train_Y, num_iterations=2, **kwargs))
        with _quiet():
            a3, _ = nb.forward_propagation(train_X, parameters)
            cost = (nb.compute_cost_with_regularization(a3, train_Y, parameters,
                                                        kwargs["lambd"])
                    if "lambd" in kwargs else nb.compute_cost(a3, train_Y))
            row = Row(label, _accuracy(nb.predict(train_X, train_Y, parameters), train_Y),
                      _accuracy(nb.predict(test_X, test_Y, parameters), test_Y),
                      cost, s, s_np, want if mat is not None else "")
        sec.rows.append(row)
        models.append((label, parameters))
        curves.append((label, runs[-1]))
    _cost_figure(curves, ctx.out, "regularization_costs.png", sec,
                 "Regularization: cost (lr 0.3)")
    _boundaries(models, train_X, train_Y, ctx.out, "regularization_boundaries.png", sec,
                (-0.75, 0.40), (-0.75, 0.65))
    return sec


def _gradient_checking(ctx):
    from . import gradient_checking as nb

    sec = Section("gradient-checking", "Gradient checking (the per-parameter loop)")
    # the course case takes microseconds: time a grader's batch of checks, not one
    cases = [("course case 4-5-3-1, m=3, 1,000 checks", [4, 5, 3, 1], 3, ctx.repeats(1000)),
             ("wider 64-64-32-1, m=64", [64, 64, 32, 1], 64, ctx.repeats(1))]
    for label, dims, m, n_checks in cases:
        rng = np.random.RandomState(1)
        X = rng.randn(dims[0], m)
        Y = (rng.rand(1, m) > 0.5).astype(float)
        parameters = {}
        for l in range(1, len(dims)):
            parameters[f"W{l}"] = rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
            parameters[f"b{l}"] = rng.randn(dims[l], 1) * 0.1
        with _quiet():
            _, cache = nb.forward_propagation_n(X, Y, parameters)
            grads = nb.backward_propagation_n(X, Y, cache)
        ctx.progress(f"gradient-checking: {label}")

        def checks(n=n_checks, args=(parameters, grads, X, Y)):
            for _ in range(n):
                difference = nb.gradient_check_n(*args, print_msg=False)
            return difference

        difference, _, s, s_np = ctx.timer(checks, lambda: checks(1))
        n = sum(a.size for a in parameters.values())
        sec.rows.append(Row(label, final_cost=difference, seconds=s, numpy_seconds=s_np,
                            note=f"{n} parameters; 'cost' column = difference"))
    sec.notes.append("The difference is ||grad - gradapprox|| / (||grad|| + ||gradapprox||)"
                     " for the correct backward pass (below 2e-7 means it passes).")
    return sec


def _optimization(ctx):
    from . import optimization as nb

    sec = Section("optimization", "Optimization (make_moons, [2, 5, 2, 1], mini-batch 64)")
    train_X, train_Y = nb.load_dataset()
    epochs = ctx.iters(10000)
    expected = {"gd": "0.7967", "momentum": "0.7967", "adam": "0.94"}
    models, curves = [], []
    for opt in ("gd", "momentum", "adam"):
        ctx.progress(f"optimization: {opt}")
        dims = [train_X.shape[0], 5, 2, 1]
        parameters, runs, s, s_np = ctx.timer(
            lambda: nb.model(train_X, train_Y, dims, opt, num_epochs=epochs),
            lambda: nb.model(train_X, train_Y, dims, opt, num_epochs=2))
        with _quiet():
            a3, _ = nb.forward_propagation(train_X, parameters)
            row = Row(f"mini-batch {opt}",
                      _accuracy(nb.predict(train_X, train_Y, parameters), train_Y),
                      final_cost=nb.compute_cost(a3, train_Y), seconds=s,
                      numpy_seconds=s_np, expected=expected[opt])
        sec.rows.append(row)
        models.append((f"{opt}", parameters))
        curves.append((opt, runs[-1]))
    _cost_figure(curves, ctx.out, "optimization_costs.png", sec,
                 "Optimization: cost of the last mini-batch (lr 0.0007)", unit="epochs")
    _boundaries(models, train_X, train_Y, ctx.out, "optimization_boundaries.png", sec,
                (-1.5, 2.5), (-1, 1.5))
    return sec


def _planar(ctx):
    from . import planar as nb

    sec = Section("planar", "Planar flower (one hidden tanh layer, GD at 1.2)")
    X, Y = nb.load_planar_dataset()
    iters = ctx.iters(10000)
    ctx.progress("planar: n_h = 4")
    parameters, runs, s, s_np = ctx.timer(
        lambda: nb.nn_model(X, Y, 4, num_iterations=iters),
        lambda: nb.nn_model(X, Y, 4, num_iterations=2))
    with _quiet():
        A2, _ = nb.forward_propagation(X, parameters)
        sec.rows.append(Row("4 hidden units", _accuracy(nb.predict(parameters, X), Y),
                            final_cost=nb.compute_cost(A2, Y), seconds=s,
                            numpy_seconds=s_np, expected="0.90"))
    _cost_figure([("n_h = 4", runs[-1])], ctx.out, "planar_costs.png", sec,
                 "Planar: cost (lr 1.2)")
    sizes = (1, 2, 3, 4, 5, 20, 50)
    sweep_iters = ctx.iters(5000)
    ctx.progress("planar: hidden-layer sweep")
    from .plots import decision_boundary

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(13, 6.6))
    axes = axes.ravel()
    axes[-1].axis("off")
    t_total = t_np = 0.0
    for ax, n_h in zip(axes, sizes):
        p, _, s, s_np = ctx.timer(lambda: nb.nn_model(X, Y, n_h, num_iterations=sweep_iters),
                                  lambda: nb.nn_model(X, Y, n_h, num_iterations=2))
        t_total += s
        t_np += s_np
        with _quiet():
            acc = _accuracy(nb.predict(p, X), Y)
            decision_boundary(lambda x, p=p: nb.predict(p, x.T), X, Y, ax=ax,
                              title=f"n_h = {n_h}: {acc:.1%}")
    _save(fig, ctx.out, "planar_hidden_sizes.png", sec)
    sec.rows.append(Row(f"sweep n_h in {list(sizes)}", seconds=t_total, numpy_seconds=t_np,
                        note=f"{sweep_iters} iterations each; accuracies in the figure"))
    return sec


def _deep(ctx):
    from . import deep as nb

    sec = Section("deep", "L-layer network (cat images, GD at 0.0075)")
    train_path, test_path = ctx.find("train_catvnoncat.h5"), ctx.find("test_catvnoncat.h5")
    if train_path is None or test_path is None:
        sec.notes.append("Skipped: the cat images (train_catvnoncat.h5, "
                         "test_catvnoncat.h5) were not found; pass --data DIR.")
        return sec
    try:
        train_x_orig, train_y, test_x_orig, test_y, _ = nb.load_data(train_path, test_path)
    except ImportError as exc:
        sec.notes.append(f"Skipped: {exc}")
        return sec
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255.0
    iters = ctx.iters(2500)
    curves = []
    for label, fn, dims in (("2-layer [12288, 7, 1]", nb.two_layer_model, [12288, 7, 1]),
                            ("4-layer [12288, 20, 7, 5, 1]", nb.L_layer_model,
                             [12288, 20, 7, 5, 1])):
        ctx.progress(f"deep: {label}")
        (parameters, costs), runs, s, s_np = ctx.timer(
            lambda: fn(train_x, train_y, dims, num_iterations=iters),
            lambda: fn(train_x, train_y, dims, num_iterations=2))
        with _quiet():
            sec.rows.append(Row(label, _accuracy(nb.predict(train_x, train_y, parameters),
                                                 train_y),
                                _accuracy(nb.predict(test_x, test_y, parameters), test_y),
                                costs[-1], s, s_np))
        curves.append((label, runs[-1]))
    _cost_figure(curves, ctx.out, "deep_costs.png", sec, "L-layer: cost (lr 0.0075)")
    return sec


_RUNNERS = {"initialization": _initialization, "regularization": _regularization,
            "gradient-checking": _gradient_checking, "optimization": _optimization,
            "planar": _planar, "deep": _deep}


# --------------------------------------------------------------------------- driver
class _Context:
    def __init__(self, out, backend, quick, data, baseline, stream):
        self.out = Path(out)
        self.quick = quick
        self.data = [Path(d) for d in data]
        self.stream = stream
        self.bar = Progress(stream)
        self.timer = _Timer(backend, baseline, self.bar)
        self.steps = 0

    def iters(self, full):
        return max(full // 10, 2) if self.quick else full

    def repeats(self, full):
        return full

    def find(self, filename):
        for d in self.data:
            if d.is_file() and d.name == filename:
                return d
            if (d / filename).is_file():
                return d / filename
        return None

    def progress(self, label):
        self.steps += 1
        self.bar.start(label)


def run(notebooks=NOTEBOOKS, out="results", backend=None, quick=False, data=(),
        baseline=True, stream=None, blas_threads=1):
    """Run experiments and write their figures and ``report.md`` into ``out``.

    Parameters
    ----------
    notebooks : sequence of str
        Names from :data:`NOTEBOOKS`.
    out : path-like
        Output folder (created).
    backend : str, optional
        Backend to time; the current one by default.
    quick : bool
        A tenth of the iterations (the numbers then differ from the notebooks').
    data : sequence of path-like
        Folders (or files) holding ``data.mat`` and the cat ``.h5`` files.
    baseline : bool
        Also time the NumPy backend, for the speed-up column.
    stream : file-like, optional
        Where progress goes (None: silent): on a terminal one line redrawn in place (the
        experiment, the backend being timed, a bar of its training run, elapsed time and
        ETA); on another stream one plain line per experiment.
    blas_threads : int or None
        BLAS threads while running (default 1; None leaves BLAS's own setting).

    Returns
    -------
    list of Section
    """
    unknown = [n for n in notebooks if n not in _RUNNERS]
    if unknown:
        raise ValueError(f"notebooks must be among {list(NOTEBOOKS)}, got {unknown}")
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    backend = backend or get_backend()
    Path(out).mkdir(parents=True, exist_ok=True)
    ctx = _Context(out, backend, quick, data, baseline, stream)
    sections = []
    from .parallel import _limit_pools

    # On small shared machines multi-threaded BLAS stalls badly on these sizes (a
    # 12288-input iteration measured 17 ms on one thread, 400 ms on two); both backends
    # run under the same limit.
    blas_threads = blas_threads or None          # 0, as None: BLAS's own setting
    limit = _limit_pools(blas_threads, "blas") if blas_threads else contextlib.nullcontext()
    try:
        with limit:
            for name in notebooks:
                t0 = time.perf_counter()
                section = _RUNNERS[name](ctx)
                section.notes.append(
                    f"wall time of this section: {time.perf_counter() - t0:.1f} s")
                sections.append(section)
    finally:
        ctx.bar.close()
    if baseline and backend != "numpy":
        _speedup_figure(sections, out, backend)
    write_report(sections, out, backend, quick, blas_threads)
    return sections


def _speedup_figure(sections, out, backend):
    import matplotlib.pyplot as plt

    rows = [(f"{s.name}: {r.method}", r.speedup) for s in sections for r in s.rows
            if np.isfinite(r.speedup)]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.2))
    labels, values = zip(*rows)
    ax.barh(range(len(rows)), values, color="tab:blue")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlim(0, max(values) * 1.15)
    ax.set_xlabel(f"speed-up of {backend} over the NumPy baseline (x)")
    for i, value in enumerate(values):
        ax.text(value, i, f" {value:.1f}x", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(out) / "speedup.png", dpi=110)
    plt.close(fig)
    sections[-1].images.append("speedup.png")


def _fmt(x, spec):
    return "" if not np.isfinite(x) else format(x, spec)


def format_table(section, backend):
    """The section's rows as a Markdown table.

    Parameters
    ----------
    section : Section
        One experiment's results.
    backend : str
        The timed backend, named in the header of its time column.

    Returns
    -------
    str
        The table, one row per :class:`Row` (empty cells where a value is NaN).
    """
    lines = [f"| method | train acc | test acc | final cost | {backend} s | numpy s | "
             "speed-up | notebook |",
             "|---|---|---|---|---|---|---|---|"]
    for r in section.rows:
        speed = _fmt(r.speedup, ".1f") + "x" if np.isfinite(r.speedup) else ""
        lines.append(f"| {r.method} | {_fmt(r.train_acc, '.4f')} | "
                     f"{_fmt(r.test_acc, '.4f')} | {_fmt(r.final_cost, '.6g')} | "
                     f"{_fmt(r.seconds, '.2f')} | {_fmt(r.numpy_seconds, '.2f')} | "
                     f"{speed} | {r.expected} |")
    return "\n".join(lines)


def write_report(sections, out, backend, quick, blas_threads=None):
    """Write ``report.md`` tying the tables and figures together.

    Its first lines name the machine and the software the timings come from: the CPU
    model, the cores this process may use, Python, NumPy and Numba, and the BLAS thread
    limit both backends ran under (``None``: BLAS's own setting).
    """
    import platform

    import numba

    from .bench import _cpu_model, _ncpus

    blas = "BLAS's default threads" if blas_threads is None else (
        f"{blas_threads} BLAS thread{'s' if blas_threads != 1 else ''}")
    lines = ["# fastnn reproduce", "",
             f"Backend: **{backend}**; baseline: numpy. Machine: {platform.machine()}, "
             f"{_cpu_model()}, {_ncpus()} cores; Python {platform.python_version()}, "
             f"NumPy {np.__version__}, Numba {numba.__version__}, {blas}.",
             ""]
    if quick:
        lines += ["**QUICK RUN: a tenth of the notebooks' iterations; the numbers are "
                  "not the notebooks'.**", ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        if s.rows:
            lines += [format_table(s, backend), ""]
        lines += [f"- {n}" for n in s.notes]
        lines += [""] + [f"![{img}]({img})" for img in s.images] + [""]
    (Path(out) / "report.md").write_text("\n".join(lines))
