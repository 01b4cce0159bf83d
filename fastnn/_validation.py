"""One validation layer for every public function.

Everything a kernel receives passes through here first: the kernels run with bounds
checks off, so a wrong shape must be caught before any array is touched. Errors name the
argument and quote the bad value or shape.
"""

import contextlib
import contextvars
import numbers

import numpy as np

__all__ = ["options", "get_options"]

_check_finite = contextvars.ContextVar("fastnn_check_finite", default=True)
_numerics = contextvars.ContextVar("fastnn_numerics", default="notebook")

#: The numerics modes of :func:`options`.
NUMERICS = ("notebook", "stable")


def get_options():
    """Current options.

    Returns
    -------
    dict
        ``{"check_finite": bool, "numerics": "notebook" | "stable"}``.
    """
    return {"check_finite": _check_finite.get(), "numerics": _numerics.get()}


@contextlib.contextmanager
def options(check_finite=None, numerics=None):
    """Context manager for fastnn's options; an option left as None keeps its value.

    Parameters
    ----------
    check_finite : bool, optional
        Reject NaN and inf in inputs, parameters and gradients (as SciPy's
        ``check_finite``; on by default). Turning it off saves one pass over the data;
        NaN then propagates through the computation as it would in NumPy.
    numerics : {"notebook", "stable"}, optional
        ``"notebook"`` (the default) keeps the notebooks' formulas and numbers, including
        the inf or nan cost a saturated sigmoid gives. ``"stable"`` makes every training
        loop (the façade ``model()`` functions, :func:`fastnn.training.train`,
        :class:`fastnn.MLPClassifier`) record its cost from the output layer's logits,
        ``mean(max(Z, 0) - Z Y + log1p(exp(-|Z|)))``: the same cost wherever the
        notebook's is finite, and finite where it is not. Training itself (the gradients
        and every parameter) is identical in both modes.

    Examples
    --------
    >>> import fastnn
    >>> with fastnn.options(check_finite=False):
    ...     fastnn.get_options()["check_finite"]
    False
    >>> with fastnn.options(numerics="stable"):
    ...     fastnn.get_options()["numerics"]
    'stable'
    """
    if check_finite is not None and not isinstance(check_finite, (bool, np.bool_)):
        raise TypeError(f"check_finite must be a bool, got {check_finite!r}")
    if numerics is not None and (not isinstance(numerics, str) or numerics not in NUMERICS):
        raise ValueError(f"numerics must be one of {list(NUMERICS)}, got {numerics!r}")
    tokens = []
    if check_finite is not None:
        tokens.append((_check_finite, _check_finite.set(bool(check_finite))))
    if numerics is not None:
        tokens.append((_numerics, _numerics.set(numerics)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return repr(x) if len(repr(x)) < 80 else f"{type(x).__name__} object"


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def as_float_array(x, name, ndim=None, finite=None, copy=False):
    """Return ``x`` as a float32/float64 ndarray, or raise naming ``name``.

    float32 and float64 arrays pass through unchanged (same object, so in-place updates
    reach the caller); integers and booleans become float64; complex, object and string
    data raise TypeError.
    """
    if type(x) is np.ndarray and x.dtype in _FLOAT_DTYPES:    # the common case
        arr = x.copy() if copy else x
    else:
        if isinstance(x, (str, bytes)) or x is None or isinstance(x, dict):
            raise TypeError(f"{name} must be a real numeric array, got {_describe(x)}")
        arr = x if isinstance(x, np.ndarray) else np.asarray(x)
        kind = arr.dtype.kind
        if kind == "c":
            raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
        if kind not in "fiub":
            raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        elif copy:
            arr = arr.copy()
    if ndim is not None and arr.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if finite is None:
        finite = _check_finite.get()
    if finite and not np.isfinite(arr).all():
        raise ValueError(
            f"{name} contains NaN or inf; pass finite values "
            "(or use fastnn.options(check_finite=False))")
    return arr


def check_all_finite(flat, arrays, names):
    """Raise :func:`as_float_array`'s error for the first of ``arrays`` holding NaN or
    inf, when ``flat`` (all their values, in one array) holds any and the
    ``check_finite`` option is on: one pass instead of one call per array."""
    if _check_finite.get() and not np.isfinite(flat).all():
        for arr, name in zip(arrays, names):
            as_float_array(arr, name, finite=True)


def as_data(X, name="X", finite=None):
    """Validate a data matrix ``(features, examples)`` with at least one example."""
    X = as_float_array(X, name, ndim=2, finite=finite)
    if X.shape[1] == 0 or X.shape[0] == 0:
        raise ValueError(f"{name} must have at least one feature and one example, "
                         f"got shape {X.shape}")
    return X


def as_labels(Y, m, name="Y", dtype=np.float64, finite=None):
    """Validate labels for ``m`` examples: shape ``(1, m)`` or ``(m,)``; returns (1, m)."""
    Y = as_float_array(Y, name, ndim=(1, 2), finite=finite)
    if Y.shape not in ((1, m), (m,)):
        raise ValueError(f"{name} must have shape (1, {m}) to match the {m} examples, "
                         f"got {Y.shape}")
    return Y.reshape(1, m).astype(dtype, copy=False)


def check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a float inside the given range, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:       # an int beyond the float range
        v = float("inf")
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    bad = ((low is not None and (v <= low if low_open else v < low))
           or (high is not None and (v >= high if high_open else v > high)))
    if bad:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo or '(-inf'}, {hi or 'inf)'}, got {value!r}")
    return v


def check_positive(value, name):
    """A finite number > 0."""
    return check_real(value, name, low=0.0, low_open=True)


def check_keep_prob(value, name="keep_prob"):
    """keep_prob in (0, 1]."""
    return check_real(value, name, low=0.0, high=1.0, low_open=True)


def check_beta(value, name):
    """A decay rate in [0, 1)."""
    return check_real(value, name, low=0.0, high=1.0, high_open=True)


_INT_LIMIT = 2**63


def check_int(value, name, low=None):
    """An integer (not bool) >= ``low`` that fits in int64 (what the kernels take)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    if not -_INT_LIMIT <= v < _INT_LIMIT:
        raise ValueError(f"{name} must be below 2**63 in magnitude, got {value!r}")
    return v


def check_choice(value, name, choices):
    """``value`` must be one of ``choices`` (a dict or sequence of names)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_layer_dims(layers_dims, name="layers_dims", min_len=2):
    """A list of positive integer layer sizes."""
    try:
        dims = list(layers_dims)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of layer sizes, "
                        f"got {layers_dims!r}") from None
    if len(dims) < min_len:
        raise ValueError(f"{name} must list at least {min_len} layer sizes, got {dims!r}")
    return [check_int(d, f"{name}[{i}]", low=1) for i, d in enumerate(dims)]


def _require_dict(d, name):
    if not isinstance(d, dict):
        raise TypeError(f"{name} must be a dict, got {type(d).__name__}")


def n_layers(parameters, name="parameters"):
    """Number of layers L of a parameters dict with keys W1, b1, ..., WL, bL."""
    _require_dict(parameters, name)
    L = 0
    while f"W{L + 1}" in parameters:
        L += 1
    if L == 0:
        raise ValueError(f"{name} is missing key 'W1'")
    for l in range(1, L + 1):
        if f"b{l}" not in parameters:
            raise ValueError(f"{name} is missing key 'b{l}'")
    return L


def layer_arrays(parameters, name="parameters", L=None, chain=True, finite=None):
    """Validated lists (Ws, bs) of a parameters dict.

    With ``chain``, W_l must be (n_l, n_{l-1}) with n_{l-1} the rows of W_{l-1}, and b_l
    must be (n_l, 1). Without it, each W is only required to be 2-D and b a column
    (what the optimizers' test cases pass).
    """
    if L is None:
        L = n_layers(parameters, name)
    else:
        _require_dict(parameters, name)
        for l in range(1, L + 1):
            for key in (f"W{l}", f"b{l}"):
                if key not in parameters:
                    raise ValueError(f"{name} is missing key {key!r}")
    Ws, bs = [], []
    for l in range(1, L + 1):
        W = as_float_array(parameters[f"W{l}"], f"{name}['W{l}']", ndim=2, finite=finite)
        b = as_float_array(parameters[f"b{l}"], f"{name}['b{l}']", ndim=(1, 2),
                           finite=finite)
        if chain:
            if b.shape not in ((W.shape[0], 1), (W.shape[0],)):
                raise ValueError(f"{name}['b{l}'] must have shape ({W.shape[0]}, 1) to "
                                 f"match {name}['W{l}'] {W.shape}, got {b.shape}")
            if l > 1 and W.shape[1] != Ws[-1].shape[0]:
                raise ValueError(
                    f"{name}['W{l}'] must have {Ws[-1].shape[0]} columns to follow "
                    f"{name}['W{l - 1}'] {Ws[-1].shape}, got shape {W.shape}")
        Ws.append(W)
        bs.append(b)
    if chain:
        dtypes = {a.dtype for a in Ws + bs}
        if len(dtypes) > 1:
            raise TypeError(f"{name} mixes dtypes {sorted(str(d) for d in dtypes)}; "
                            "use one float dtype for every array")
    return Ws, bs


def matching_array(x, name, like, like_name, finite=None):
    """``x`` as a float array of exactly ``like``'s shape."""
    arr = as_float_array(x, name, finite=finite)
    if arr.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {like_name} {like.shape}, "
                         f"got {arr.shape}")
    return arr


def check_input_width(X, W1, x_name="X", w_name="parameters['W1']"):
    """X's feature count must equal W1's columns."""
    if X.shape[0] != W1.shape[1]:
        raise ValueError(f"{x_name} must have {W1.shape[1]} rows (features) to match "
                         f"{w_name} {W1.shape}, got shape {X.shape}")


def check_single_output(W_last, name="parameters", key=None):
    """The output layer must have one unit: labels ``Y`` are ``(1, m)``."""
    if W_last.shape[0] != 1:
        where = f"{name}[{key!r}]" if key else name
        raise ValueError(f"{where} must have 1 row (one sigmoid output for labels of "
                         f"shape (1, m)), got shape {W_last.shape}")


def check_writeable(arr, name):
    """An ndarray the caller expects to be updated in place must be writeable."""
    if isinstance(arr, np.ndarray) and not arr.flags.writeable:
        raise ValueError(f"{name} is read-only; it is updated in place, so pass a "
                         "writeable array")
