#!/usr/bin/env python
"""Property-based fuzzing of fastnn's public API: the numba backend against the numpy one.

Every public façade function (the six notebook modules), ``fastnn.MLPClassifier``
(fit, predict, predict_proba), ``fastnn.training.train`` and
``fastnn.gradcheck.check_gradients`` gets one Hypothesis property; the calls and how
to build valid ones are in ``tests/fuzz_targets.py``. Each example builds a valid call
(random shapes, m = 1, 1x1 layers, float64 / float32 / int data, saturating scales),
then applies zero to three random mutations to its inputs: another dtype (int, bool,
complex, object, str, float16), another layout (Fortran order, strided views, nested
lists, read-only), NaN / inf / extreme values, a wrong or empty shape, a missing, extra
or renamed dict key, a dropped or reordered cache entry, an out-of-range scalar
(keep_prob, learning rates, betas, epsilon, batch size, ``t``, seeds, huge integers) or
a bad name. ``fastnn.options(check_finite=...)`` is drawn too.

The call then runs on fresh copies of the inputs (same layouts) on the ``numpy`` and the
``numba`` backend, from the same NumPy global random state. The property:

* either both backends raise the same ``ValueError`` / ``TypeError`` (same message) and
  leave every input exactly as it was (values, NaN positions, dtypes, the objects held
  by dicts and lists),
* or both return, and the numba results, the inputs after the call (in-place updates),
  the input objects returned (``parameters = update(...)``), NumPy's global random state
  and the printed lines equal numpy's: float64 to 1e-12 and float32 to 1e-5 of the
  array's largest magnitude, NaN and +-inf in exactly the same places, everything else
  exactly. Functions that do not update in place must leave their inputs unchanged.

Where the contract itself allows a difference, the comparison says so at the target:
short training runs (``MODEL_RTOL``) and gradient checks (``GRADCHECK_RTOL``) compound
rounding; with float32 inputs the numba kernels compute in float64 and round once, so a
numba value also passes when it is as close to the numpy backend's result on float64
copies as NumPy's float32 value is; NumPy's ``np.dot`` drops ``NaN * 0`` for
``(n, 1) @ (1, 1)`` products, so NaN / inf placement also passes when it matches
numpy_ref with IEEE products (counted as ``dot_drops_nan`` in the report).

Any other exception (IndexError, OverflowError, ZeroDivisionError, AttributeError, a
ComplexWarning for silently dropped imaginary parts, ...) is a failure. A crash kills
the process: run the driver in a subprocess (``tests/test_fuzz.py`` does) and read the
``--trace`` file, which holds the case being run.

Usage::

    python tests/fuzz_driver.py --calls 2000 [--seed N] [--only NAME,...] [--list]
                                [--report report.json] [--trace case.txt] [--no-shrink]
                                [--inject wrong|mutate|index|crash]

``--calls`` is split evenly over the properties (at least one example each). Each
property's Hypothesis seed is fixed (its name's CRC32, xor ``--seed``), so a run is
reproducible. Exit status 0 means no property failed; the JSON report (``--report``;
a summary is the last line of stdout) gives each property's calls, how many returned
and how many raised, and its shrunk failing case. ``--inject`` plants a bug in the
numba backend to show that the harness catches it.
"""

import argparse
import contextlib
import copy
import dataclasses
import faulthandler
import io
import json
import math
import os
import re
import sys
import time
import traceback
import warnings
import zlib

if __name__ == "__main__":          # one BLAS thread, set before NumPy loads
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastnn  # noqa: E402
from fastnn.kernels import numpy_ref  # noqa: E402
from fastnn.network import ParamBuffer  # noqa: E402
from fuzz_targets import BAD_NAMES, NAMES, POOLS, TARGETS, Gen, S, Tup  # noqa: E402

ALLOWED = (ValueError, TypeError)
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


# =====================================================================================
# The tree of inputs while it is mutated
# =====================================================================================

def _prepare(x):
    """The builder's inputs with tuples as :class:`Tup`, so mutations can change them."""
    if isinstance(x, tuple):
        return Tup(_prepare(v) for v in x)
    if isinstance(x, list):
        return [_prepare(v) for v in x]
    if isinstance(x, dict):
        return {k: _prepare(v) for k, v in x.items()}
    return x


def _finalize(x):
    """The inputs to call with: markers unwrapped, :class:`Tup` back to tuples."""
    if isinstance(x, S):
        return x.value
    if isinstance(x, Tup):
        return tuple(_finalize(v) for v in x)
    if isinstance(x, list):
        return [_finalize(v) for v in x]
    if isinstance(x, dict):
        return {k: _finalize(v) for k, v in x.items()}
    return x


# =====================================================================================
# Mutations
# =====================================================================================

def _nodes(tree):
    """Every (parent, key, value) below the top level that a mutation may change."""
    out = []

    def walk(parent, key, x, depth):
        if isinstance(x, (np.ndarray, S)):
            out.append((parent, key, x))
        elif isinstance(x, dict):
            if depth > 1:
                out.append((parent, key, x))
            for k, v in x.items():
                walk(x, k, v, depth + 1)
        elif isinstance(x, list):               # lists and Tup
            if depth > 1:
                out.append((parent, key, x))
            for i, v in enumerate(x):
                walk(x, i, v, depth + 1)

    args, kwargs = tree
    for i, v in enumerate(args):
        walk(args, i, v, 1)
    for k, v in kwargs.items():
        walk(kwargs, k, v, 1)
    return out


def _strided(a):
    base = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
    view = base[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _mutate_array(a, g, draw):
    op = draw(st.sampled_from(["dtype", "layout", "layout", "nonfinite", "nonfinite",
                               "special", "shape", "replace"]), label="array op")
    if op == "dtype":
        dt = draw(st.sampled_from(["f4", "f8", "i8", "i4", "u1", "bool", "c16", "object",
                                   "str", "f2"]), label="to dtype")
        if dt == "object":
            return a.astype(object), "object"
        if dt == "str":
            return a.astype(str), "str"
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return a.astype(dt), dt
            # e.g. "0.5" strings to int, or Python ints in an object array out of
            # uint8's range (NumPy 2 raises OverflowError): keep them
            except (TypeError, ValueError, OverflowError):
                return a, f"{dt} (not convertible)"
    if op == "layout":
        how = draw(st.sampled_from(["fortran", "strided", "list", "readonly"]),
                   label="layout")
        if how == "fortran":
            return np.asfortranarray(a), how
        if how == "strided":
            return _strided(a), how
        if how == "list":
            return a.tolist(), how
        b = a.copy()
        b.flags.writeable = False
        return b, how
    if op in ("nonfinite", "special"):
        if a.size == 0 or a.dtype.kind not in "fciub":
            return a, f"{op} (skipped)"
        b = a.astype(np.float64) if a.dtype.kind not in "fc" else a.copy()
        pool = ([math.nan, math.inf, -math.inf] if op == "nonfinite" else
                [1e308, -1e308, 5e-324, -0.0, 0.0, 1e-300, 50.0, -50.0, 800.0, 1e150])
        value = draw(st.sampled_from(pool), label="value")
        count = draw(st.sampled_from([1, 1, 2, a.size]), label="count")
        idx = g.rng.choice(a.size, size=min(count, a.size), replace=False)
        with np.errstate(all="ignore"):
            b.flat[idx] = value
            b = b.astype(a.dtype) if a.dtype.kind == "f" else b
        return b, f"{op} {value!r} x{count}"
    if op == "shape":
        how = draw(st.sampled_from(["transpose", "ravel", "expand", "drop_col", "add_col",
                                    "drop_row", "add_row", "empty_cols", "empty_rows"]),
                   label="reshape")
        if a.ndim < 2 and how in ("transpose", "drop_col", "add_col", "empty_cols",
                                  "drop_row", "add_row", "empty_rows"):
            how = "expand"
        if how == "transpose":
            return a.T, how
        if how == "ravel":
            return a.ravel(), how
        if how == "expand":
            return a[None], how
        if how == "drop_col":
            return a[:, :-1], how
        if how == "add_col":
            return np.concatenate([a, a[:, :1]], axis=1) if a.shape[1] else a[:, :0], how
        if how == "drop_row":
            return a[:-1], how
        if how == "add_row":
            return np.concatenate([a, a[:1]], axis=0) if a.shape[0] else a[:0], how
        if how == "empty_cols":
            return a[:, :0], how
        return a[:0], how
    value = draw(st.sampled_from([None, "abc", 3.0, np.float64(1.5), True, (), {}]),
                 label="replacement")
    return value, f"replace {value!r}"


def _mutate_dict(d, g, draw):
    op = draw(st.sampled_from(["drop", "drop", "extra", "rename", "as_list"]),
              label="dict op")
    keys = list(d)
    if op == "drop" and keys:
        key = draw(st.sampled_from(keys), label="key")
        return {k: v for k, v in d.items() if k != key}, f"drop {key!r}"
    if op == "extra":
        key = draw(st.sampled_from(["W9", "b9", "dW9", "extra", "W0", 1, ("W1",), "W1 ",
                                    "A7", "Z9"]), label="extra key")
        return {**d, key: g.arr((2, 2))}, f"extra {key!r}"
    if op == "rename" and keys:
        key = draw(st.sampled_from(keys), label="key")
        new = key.lower() if isinstance(key, str) and key != key.lower() else f"{key}x"
        return {(new if k == key else k): v for k, v in d.items()}, f"rename {key!r}"
    return list(d.values()), "as_list"


def _mutate_seq(x, g, draw):
    op = draw(st.sampled_from(["drop", "extra", "swap", "retype"]), label="seq op")
    items = list(x)
    if op == "drop" and items:
        i = draw(st.integers(0, len(items) - 1), label="index")
        del items[i]
    elif op == "extra":
        items.append(items[-1] if items else None)
    elif op == "swap" and len(items) > 1:
        i = draw(st.integers(0, len(items) - 2), label="index")
        items[i], items[i + 1] = items[i + 1], items[i]
    else:
        op = "retype"
    if op == "retype":
        return (list(items) if isinstance(x, Tup) else Tup(items)), op
    return (Tup(items) if isinstance(x, Tup) else items), op


def _mutate_scalar(s, draw):
    if s.kind.startswith("name:"):
        pool = NAMES[s.kind[5:]] + BAD_NAMES
    else:
        pool = POOLS[s.kind]
    value = draw(st.sampled_from(pool), label=f"{s.kind} value")
    return S(value, s.kind), f"{value!r}"


def mutate(tree, g, draw, log):
    nodes = _nodes(tree)
    if not nodes:
        return
    parent, key, value = nodes[draw(st.integers(0, len(nodes) - 1), label="node")]
    if isinstance(value, S):
        new, what = _mutate_scalar(value, draw)
    elif isinstance(value, np.ndarray):
        new, what = _mutate_array(value, g, draw)
    elif isinstance(value, dict):
        new, what = _mutate_dict(value, g, draw)
    else:
        new, what = _mutate_seq(value, g, draw)
    parent[key] = new
    log.append(f"[{key!r}] {what}")


# =====================================================================================
# Copies and comparisons
# =====================================================================================

def clone(x, memo=None):
    """A deep copy that keeps each array's layout (C, Fortran, strided, read-only)."""
    memo = {} if memo is None else memo
    if id(x) in memo:
        return memo[id(x)]
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            c = copy.deepcopy(x)
        elif x.ndim == 0 or x.flags.c_contiguous:
            c = np.array(x, order="C", copy=True)
        elif x.flags.f_contiguous:
            c = np.array(x, order="F", copy=True)
        else:
            c = _strided(x)
        if not x.flags.writeable:
            c.flags.writeable = False
    elif isinstance(x, dict):
        c = {}
        memo[id(x)] = c
        for k, v in x.items():
            c[k] = clone(v, memo)
    elif isinstance(x, list):
        c = []
        memo[id(x)] = c
        c.extend(clone(v, memo) for v in x)
    elif isinstance(x, tuple):
        c = tuple(clone(v, memo) for v in x)
    else:
        c = x
    memo[id(x)] = c
    return c


def _float_array(x):
    return isinstance(x, np.ndarray) and x.dtype.kind in "fc"


def diff_exact(a, b, path="inputs"):
    """Differences between ``a`` and ``b`` (values, NaN positions, types, dtypes)."""
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} became {type(b).__name__}"]
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return [f"{path}: {a.dtype}{a.shape} became {b.dtype}{b.shape}"]
        if a.dtype == object:
            same = all(not diff_exact(u, v) for u, v in zip(a.ravel(), b.ravel()))
        else:
            same = np.array_equal(a, b, equal_nan=_float_array(a))
        if not same:
            return [f"{path}: values changed"]
        if _float_array(a) and not np.array_equal(np.signbit(a.real), np.signbit(b.real)):
            return [f"{path}: signs of zeros changed"]
        return []
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} became {list(b)}"]
        return [d for k in a for d in diff_exact(a[k], b[k], f"{path}[{k!r}]")]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} became {len(b)}"]
        return [d for i, (u, v) in enumerate(zip(a, b)) for d in diff_exact(u, v,
                                                                             f"{path}[{i}]")]
    if isinstance(a, (float, complex, np.floating, np.complexfloating)):
        if not (a == b or (a != a and b != b)):
            return [f"{path}: {a!r} became {b!r}"]
        return []
    if isinstance(a, ParamBuffer):
        return diff_exact(a.theta, b.theta, f"{path}.theta")
    try:
        same = a is b or bool(a == b)
    except Exception:       # noqa: BLE001 - objects without a usable ==
        same = True
    return [] if same else [f"{path}: {a!r} became {b!r}"]


def diff_close(a, b, tol, path="result", alt=None):
    """Differences of ``b`` from the reference ``a`` beyond ``tol(dtype)``.

    Float arrays compare with :func:`_leaf_close` (``tol.floor``, if set, is the least
    scale); ``alt``, when given, has the structure of ``a`` and holds the numpy backend's
    results on float64 copies of float32 inputs (see :func:`_leaf_close_alt`).
    """
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} vs {type(b).__name__}"]
    if isinstance(a, (float, np.floating)):
        return diff_close(np.asarray(a), np.asarray(b), tol, path,
                          None if alt is None else np.asarray(alt, dtype=np.float64))
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return [f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"]
        if a.dtype.kind != "f":
            return diff_exact(a, b, path)
        rtol = tol(a.dtype)
        floor = getattr(tol, "floor", 0.0)
        problem = _leaf_close(a, b, rtol, floor)
        if problem and isinstance(alt, np.ndarray) and alt.shape == a.shape:
            other = _leaf_close_alt(a, b, alt.astype(np.float64), rtol, floor)
            problem = other and f"{problem}; {other}"
        return [f"{path}: {problem}"] if problem else []
    if dataclasses.is_dataclass(a):
        return diff_close(dataclasses.asdict(a), dataclasses.asdict(b), tol, path,
                          dataclasses.asdict(alt) if dataclasses.is_dataclass(alt) else None)
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} vs {list(b)}"]
        alt = alt if isinstance(alt, dict) and list(alt) == list(a) else {}
        return [d for k in a for d in diff_close(a[k], b[k], tol, f"{path}[{k!r}]",
                                                 alt.get(k))]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} vs {len(b)}"]
        alt = alt if isinstance(alt, (list, tuple)) and len(alt) == len(a) else [None] * len(a)
        return [d for i, (u, v, w) in enumerate(zip(a, b, alt))
                for d in diff_close(u, v, tol, f"{path}[{i}]", w)]
    return diff_exact(a, b, path)


def _nonfinite(x):
    return np.where(np.isnan(x), 2, np.where(np.isinf(x), np.sign(x), 0))


def _leaf_close(a, b, rtol, floor=0.0):
    """None when float array ``b`` matches ``a``: NaN and +-inf in the same places, the
    finite values within ``rtol`` times ``a``'s largest finite magnitude (or ``floor``)."""
    if not np.array_equal(_nonfinite(a), _nonfinite(b)):
        return (f"NaN/inf at {np.argwhere(~np.isfinite(a)).tolist()[:4]} vs "
                f"{np.argwhere(~np.isfinite(b)).tolist()[:4]}")
    fin = np.isfinite(a)
    if not fin.any():
        return None
    x, y = a[fin].astype(np.float64), b[fin].astype(np.float64)
    scale = max(float(np.max(np.abs(x))), floor)
    err = np.abs(x - y)
    if (err <= rtol * scale).all():
        return None
    i = int(np.argmax(err))
    return f"max error {err[i]:.3g} at {x[i]!r} vs {y[i]!r} (scale {scale:.3g}, rtol {rtol:g})"


def _leaf_close_alt(a, b, exact, rtol, floor=0.0):
    """None when the float32 result ``b`` is as close to ``exact`` (the float64 run) as
    NumPy's float32 result ``a`` is (within a factor 4), or within ``rtol`` of it."""
    nb, ne = _nonfinite(b), _nonfinite(exact)
    if not (np.array_equal(nb, _nonfinite(a)) or np.array_equal(nb, ne)):
        return "NaN/inf differ from the float32 and the float64 runs"
    both = np.isfinite(b) & np.isfinite(exact)
    if not both.any():
        return None
    scale = max(float(np.max(np.abs(exact[both]))), floor)
    err_b = float(np.max(np.abs(b[both] - exact[both])))
    usable = both & np.isfinite(a)
    err_a = float(np.max(np.abs(a[usable] - exact[usable]))) if usable.any() else 0.0
    if err_b <= 4 * err_a + rtol * scale:
        return None
    return f"float64 run: error {err_b:.3g} vs numpy float32's {err_a:.3g} (scale {scale:.3g})"


def upcast(x):
    """``clone(x)`` with float32 arrays made float64 (same layouts)."""
    x = clone(x)
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        y = x.astype(np.float64, order="K")
        if not (x.flags.c_contiguous or x.flags.f_contiguous):
            y = _strided(y)
        y.flags.writeable = x.flags.writeable
        return y
    if isinstance(x, dict):
        return {k: upcast(v) for k, v in x.items()}
    if isinstance(x, list):
        return [upcast(v) for v in x]
    if isinstance(x, tuple):
        return tuple(upcast(v) for v in x)
    return x


def diff_structure(a, b, path="result"):
    """Types, shapes, dtypes and keys only."""
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} vs {type(b).__name__}"]
    if isinstance(a, np.ndarray):
        return [] if (a.shape, a.dtype) == (b.shape, b.dtype) else [
            f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"]
    if dataclasses.is_dataclass(a):
        a, b = vars(a), vars(b)
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} vs {list(b)}"]
        return [d for k in a for d in diff_structure(a[k], b[k], f"{path}[{k!r}]")]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} vs {len(b)}"]
        return [d for i, (u, v) in enumerate(zip(a, b))
                for d in diff_structure(u, v, f"{path}[{i}]")]
    return []


def _has_single_precision(x):
    """Whether any array in ``x`` is float32 or float16."""
    if isinstance(x, np.ndarray):
        return x.dtype in (np.float32, np.float16)
    if isinstance(x, dict):
        return any(_has_single_precision(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_single_precision(v) for v in x)
    return False


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")


def diff_printed(a, b, tol, alt=None):
    """Printed lines: the text must match, the numbers in it to tolerance."""
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return [f"printed {a!r} vs {b!r}"]
    xs, ys = ([float(t) for t in _NUMBER.findall(text)] for text in (a, b))
    zs = [float(t) for t in _NUMBER.findall(alt)] if alt is not None else None
    return diff_close(np.array(xs), np.array(ys), tol, "printed numbers",
                      np.array(zs) if zs is not None and len(zs) == len(xs) else None)


def _identities(inputs):
    """Where each container's entries point, to tell replaced entries from kept ones."""
    seen = []

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                seen.append((f"{path}[{k!r}]", x, k, id(v)))
                walk(v, f"{path}[{k!r}]")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                seen.append((f"{path}[{i}]", x, i, id(v)))
                walk(v, f"{path}[{i}]")

    walk(inputs, "inputs")
    return seen


def _returned_inputs(result, inputs):
    """Paths of the inputs that ``result`` (or its items) returns as the same objects."""
    where = {}

    def index(x, path):
        if isinstance(x, (dict, list, np.ndarray)):
            where.setdefault(id(x), path)
        if isinstance(x, dict):
            for k, v in x.items():
                index(v, f"{path}[{k!r}]")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                index(v, f"{path}[{i}]")

    index(inputs, "inputs")
    items = list(result) if isinstance(result, tuple) else [result]
    return [where.get(id(r)) for r in items if isinstance(r, (dict, list, np.ndarray))]


def _compare_gradcheck(a, b, tol, path):
    """GradCheckResult: numbers to tolerance; the worst entry may differ only on a tie."""
    out = []
    for key in ("difference", "grad", "gradapprox"):
        out += diff_close(getattr(a, key), getattr(b, key), tol, f"{path}.{key}")
    if (a.worst_key, a.worst_index) != (b.worst_key, b.worst_index):
        gap = np.abs(a.grad - a.gradapprox)
        scale = max(1.0, float(np.nanmax(np.abs(a.gradapprox), initial=0.0)))
        if not abs(np.nanmax(gap, initial=0.0) - abs(b.worst_grad - b.worst_approx)) <= \
                tol(np.float64) * scale:
            out.append(f"{path}.worst: {a.worst_key}{a.worst_index} vs "
                       f"{b.worst_key}{b.worst_index}")
    return out


COMPARES = {"gradcheck": _compare_gradcheck}


# =====================================================================================
# Running one case
# =====================================================================================

@dataclasses.dataclass
class Outcome:
    error: BaseException = None
    result: object = None
    inputs: object = None
    printed: str = ""
    rng: tuple = None
    returned: list = None
    replaced: list = None


def _call(t, inputs, backend, check_finite):
    args, kwargs = inputs
    ids = _identities(inputs)
    out = Outcome(inputs=inputs)
    buf = io.StringIO()
    np.random.seed(4321)
    try:
        with fastnn.use_backend(backend), fastnn.options(check_finite=check_finite), \
                contextlib.redirect_stdout(buf), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            out.result = t.fn(*args, **kwargs)
    except Exception as exc:        # noqa: BLE001 - every exception is judged below
        out.error = exc
    out.printed = buf.getvalue()
    state = np.random.get_state()
    out.rng = (state[1].tobytes(), state[2])
    out.replaced = [path for path, parent, key, old in ids if id(parent[key]) != old]
    if out.error is None:
        out.returned = _returned_inputs(out.result, inputs)
    return out


class _IEEEDotNumpy:
    """The ``numpy`` module as numpy_ref sees it, with ``np.dot`` computed by matmul."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def dot(a, b, out=None):
        return np.matmul(a, b, out=out)


def _call_ieee_dot(t, inputs, check_finite):
    """The numpy backend with IEEE products in place of np.dot (see :func:`check`)."""
    saved = numpy_ref.np
    numpy_ref.np = _IEEEDotNumpy()
    try:
        return _call(t, inputs, "numpy", check_finite)
    finally:
        numpy_ref.np = saved


def _describe(x):
    if isinstance(x, np.ndarray):
        flags = ("" if x.flags.c_contiguous else "F" if x.flags.f_contiguous else "strided")
        flags += "" if x.flags.writeable else " read-only"
        text = f"ndarray{x.shape} {x.dtype} {flags}".rstrip()
        if x.dtype.kind in "fc" and x.size and not np.isfinite(x).all():
            text += f" nonfinite={int((~np.isfinite(x)).sum())}"
        return text
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in x.items()) + "}"
    if isinstance(x, list):
        if len(x) > 12:
            return f"list[{len(x)}]"
        return "[" + ", ".join(_describe(v) for v in x) + "]"
    if isinstance(x, tuple):
        return "(" + ", ".join(_describe(v) for v in x) + ",)"
    if isinstance(x, ParamBuffer):
        return repr(x)
    if callable(x):
        return getattr(x, "__name__", repr(x))
    text = repr(x)
    return text if len(text) < 60 else text[:57] + "..."


class CaseFailure(AssertionError):
    """A property violation, with a description of the case."""


STATS = {"calls": 0}
TRACE = {"path": None}
CURRENT = {"case": ""}


def run_case(t, data):
    g = Gen(data.draw)
    args, kwargs = t.build(g)
    tree = [_prepare(list(args)), _prepare(dict(kwargs))]
    log = []
    for _ in range(data.draw(st.sampled_from([0, 1, 1, 1, 2, 3]), label="mutations")):
        mutate(tree, g, data.draw, log)
    check_finite = data.draw(st.booleans(), label="check_finite")
    inputs = _finalize(tree)
    case = (f"{t.name}  check_finite={check_finite}  mutations={log}\n"
            f"  args={_describe(inputs[0])}\n  kwargs={_describe(inputs[1])}")
    CURRENT["case"] = case
    STATS["calls"] += 1
    if TRACE["path"]:
        with open(TRACE["path"], "w") as fh:
            fh.write(case + "\n")
    pristine = clone(inputs)
    ref = _call(t, clone(inputs), "numpy", check_finite)
    got = _call(t, clone(inputs), "numba", check_finite)
    outcome = "raised" if got.error is not None else "returned"
    STATS.setdefault(t.name, {"returned": 0, "raised": 0})[outcome] += 1
    problems = check(t, pristine, ref, got,
                     lambda: _call(t, upcast(pristine), "numpy", check_finite),
                     lambda: _call_ieee_dot(t, clone(pristine), check_finite))
    if problems:
        raise CaseFailure("\n".join(problems) + "\ncase: " + case)


def _error_text(exc):
    return f"{type(exc).__name__}: {exc}"


def check(t, pristine, ref, got, rerun64=None, rerun_ieee=None):
    """Every way ``got`` (numba) and ``ref`` (numpy) break the property."""
    problems = []
    for label, out in (("numpy", ref), ("numba", got)):
        if out.error is not None:
            if not isinstance(out.error, ALLOWED):
                tb = "".join(traceback.format_exception(out.error)[-4:])
                problems.append(f"{label} raised {_error_text(out.error)}\n{tb}")
            problems += [f"{label} raised and changed {d}"
                         for d in diff_exact(pristine, out.inputs)]
            problems += [f"{label} raised and replaced {p}" for p in out.replaced]
    if problems:
        return problems
    if (ref.error is None) != (got.error is None):
        return [f"numpy {'raised ' + _error_text(ref.error) if ref.error else 'returned'}, "
                f"numba {'raised ' + _error_text(got.error) if got.error else 'returned'}"]
    if ref.error is not None:
        if type(ref.error) is not type(got.error) or str(ref.error) != str(got.error):
            problems.append(f"errors differ: numpy {_error_text(ref.error)} / "
                            f"numba {_error_text(got.error)}")
        return problems

    single = _has_single_precision(pristine)

    def tol(dtype):
        rtol = RTOL.get(np.dtype(dtype), RTOL[np.dtype(np.float64)])
        if single:      # float32 inputs: results are float32-accurate, whatever their type
            rtol = max(rtol, RTOL[np.dtype(np.float32)])
        return rtol * t.rtol_factor

    tol.floor = t.scale_floor
    compare = COMPARES[t.compare] if t.compare else diff_close
    if single and t.single_values_differ:
        problems += diff_structure(ref.result, got.result, "result")
    else:
        values = compare(ref.result, got.result, tol, "result")
        values += [f"in place: {d}" for d in diff_close(ref.inputs, got.inputs, tol, "inputs")]
        values += diff_printed(ref.printed, got.printed, tol)
        if values and single and rerun64 is not None:
            # float32: numba computes the network kernels in float64 and rounds once, so
            # it may sit closer to the float64 result than to NumPy's float32 one
            alt = rerun64()
            if alt.error is None:
                values = compare(ref.result, got.result, tol, "result") if t.compare \
                    else diff_close(ref.result, got.result, tol, "result", alt.result)
                values += [f"in place: {d}" for d in
                           diff_close(ref.inputs, got.inputs, tol, "inputs", alt.inputs)]
                values += diff_printed(ref.printed, got.printed, tol, alt.printed)
        if values and rerun_ieee is not None and any("NaN/inf" in v for v in values):
            # NumPy's np.dot drops NaN * 0 for (n, 1) @ (1, 1) and (1, 1) @ (1, n) (BLAS
            # scal with alpha = 0); the numba kernels multiply. Accept numba's result when
            # it is numpy_ref's with IEEE products (np.matmul for np.dot).
            alt = rerun_ieee()
            if alt.error is None:
                again = (compare(alt.result, got.result, tol, "result")
                         + diff_close(alt.inputs, got.inputs, tol, "inputs")
                         + diff_printed(alt.printed, got.printed, tol))
                if not again:
                    STATS["dot_drops_nan"] = STATS.get("dot_drops_nan", 0) + 1
                    values = []
        problems += values
    if not t.mutates:
        for label, out in (("numpy", ref), ("numba", got)):
            problems += [f"{label} changed an input: {d}"
                         for d in diff_exact(pristine, out.inputs)]
    if ref.returned != got.returned:
        problems.append(f"returned input objects: numpy {ref.returned}, numba {got.returned}")
    if ref.replaced != got.replaced:
        problems.append(f"replaced entries: numpy {ref.replaced}, numba {got.replaced}")
    if ref.rng != got.rng:
        problems.append("NumPy's global random state differs after the call")
    return problems


def make_property(t, n, seed_value, shrink):
    """The Hypothesis test of target ``t``: ``n`` examples, seeded by its name."""
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

    def prop(data):
        run_case(t, data)

    prop.__name__ = prop.__qualname__ = "fuzz_" + re.sub(r"\W", "_", t.name)
    prop = given(data=st.data())(prop)
    prop = settings(max_examples=n, deadline=None, database=None, phases=phases,
                    suppress_health_check=list(HealthCheck), derandomize=False,
                    print_blob=False)(prop)
    return seed(zlib.crc32(t.name.encode()) ^ (seed_value or 0))(prop)


def _failure_text(exc):
    """A failure with Hypothesis's notes (the draws of the shrunk example)."""
    text = str(exc)
    if not isinstance(exc, CaseFailure):       # an error of the driver itself
        text = (f"driver error {type(exc).__name__}: {exc}\n"
                + "".join(traceback.format_tb(exc.__traceback__)[-4:]))
    return text + "\n" + "\n".join(getattr(exc, "__notes__", []))


def split_calls(calls, n):
    base, extra = divmod(max(calls, n), n)
    return [base + (i < extra) for i in range(n)]


def inject(kind):
    """Plant a bug in the numba backend's ``sgd_step``, to show the harness catches it.

    ``wrong``: a learning rate off by 1e-6 relative; ``mutate``: update, then raise
    ValueError (an input changed before an error); ``index``: raise IndexError;
    ``crash``: read address 0 (a segmentation fault).
    """
    import ctypes

    from fastnn.kernels import cpu

    original = cpu.sgd_step

    def sgd_step(p, g, lr):
        if kind == "wrong":
            return original(p, g, lr * (1 + 1e-6))
        if kind == "mutate":
            original(p, g, lr)
            raise ValueError("injected after the update")
        if kind == "index":
            raise IndexError("injected")
        return ctypes.string_at(0)

    cpu.sgd_step = sgd_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000,
                        help="examples in all (split evenly over the properties)")
    parser.add_argument("--seed", type=int, default=None,
                        help="Hypothesis seed (default: derandomized, reproducible)")
    parser.add_argument("--only", default="", help="comma-separated property names")
    parser.add_argument("--report", default=None, help="write the JSON report here")
    parser.add_argument("--trace", default=None,
                        help="file holding the case being run (read it after a crash)")
    parser.add_argument("--no-shrink", action="store_true", help="report unshrunk failures")
    parser.add_argument("--list", action="store_true", help="list the properties and exit")
    parser.add_argument("--inject", choices=["wrong", "mutate", "index", "crash"],
                        help="plant a bug in the numba backend (checks the harness)")
    opts = parser.parse_args(argv)
    faulthandler.enable()
    targets = TARGETS
    if opts.only:
        wanted = set(opts.only.split(","))
        unknown = wanted - {t.name for t in TARGETS}
        if unknown:
            parser.error(f"unknown properties {sorted(unknown)}")
        targets = [t for t in TARGETS if t.name in wanted]
    if opts.list:
        print("\n".join(t.name for t in targets))
        return 0
    TRACE["path"] = opts.trace
    fastnn.warmup("numba")
    if opts.inject:
        inject(opts.inject)
    start = time.perf_counter()
    report = {"calls_requested": opts.calls, "seed": opts.seed, "properties": {},
              "failures": 0}
    for t, n in zip(targets, split_calls(opts.calls, len(targets))):
        before = STATS["calls"]
        t0 = time.perf_counter()
        entry = {"examples": n, "failure": None}
        try:
            make_property(t, n, opts.seed, not opts.no_shrink)()
        except Exception as exc:     # noqa: BLE001 - a failing property, reported
            entry["failure"] = "\n\n".join(_failure_text(e) for e in
                                           getattr(exc, "exceptions", [exc]))
            report["failures"] += 1
        entry["calls"] = STATS["calls"] - before
        entry.update(STATS.get(t.name, {}))
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        report["properties"][t.name] = entry
    report["calls"] = STATS["calls"]
    report["dot_drops_nan"] = STATS.get("dot_drops_nan", 0)
    report["seconds"] = round(time.perf_counter() - start, 2)
    text = json.dumps(report, indent=1)
    if opts.report:
        with open(opts.report, "w") as fh:
            fh.write(text)
    for name, entry in report["properties"].items():
        if entry["failure"]:
            print(f"FAIL {name}\n{entry['failure']}\n", file=sys.stderr)
    print(json.dumps({k: report[k] for k in ("calls", "failures", "seconds")}))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
