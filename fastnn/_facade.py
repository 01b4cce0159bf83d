"""Building blocks shared by the notebook façade modules.

Each façade module (``initialization``, ``regularization``, ...) keeps the notebook's
names, signatures, return structures and printed lines; the work they have in common —
validating a network's inputs, running its passes through the selected kernels, packing
caches and gradient dicts, in-place parameter updates, predictions — lives here once.
"""

import math
import warnings

import numpy as np

from . import _validation as v
from ._backend import kernel_module
from .kernels import _spec
from .kernels._mlp import mlp_backward, mlp_cost, mlp_forward

HIDDEN = {"relu": _spec.RELU, "tanh": _spec.TANH}
FORMS = {"dw": _spec.GRAD_DW, "dz": _spec.GRAD_DZ, "chain": _spec.GRAD_CHAIN}


def _contiguous(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def net_inputs(X, parameters, L=None, name="parameters", x_name="X", finite=None):
    """Validated ``(X, Ws, bs)`` for a forward pass, sharing one float dtype.

    The arrays handed to the kernels are C-contiguous with bias columns ``(n, 1)``.
    ``finite`` applies to the parameters (``X`` follows the option); a caller passing
    False checks them itself.
    """
    Ws, bs = v.layer_arrays(parameters, name, L=L, finite=finite)
    X = v.as_data(X, x_name)
    v.check_input_width(X, Ws[0], x_name, f"{name}['W1']")
    dtype = np.result_type(X.dtype, Ws[0].dtype)
    X = _contiguous(X, dtype)
    Ws = [_contiguous(W, dtype) for W in Ws]
    bs = [_contiguous(b.reshape(-1, 1), dtype) for b in bs]
    return X, Ws, bs


def forward(X, Ws, bs, hidden="relu", keep_prob=1.0, dropout_seed=1):
    """Zs, As, Ds of the ``[LINEAR -> hidden]*(L-1) -> LINEAR -> SIGMOID`` network.

    With ``keep_prob < 1`` the notebook's dropout: ``np.random.seed(dropout_seed)``, then
    a ``rand(...) < keep_prob`` mask per hidden layer (compat masks).
    """
    return mlp_forward(kernel_module(), X, Ws, bs, HIDDEN[hidden], keep_prob,
                       _spec.DROPOUT_COMPAT, dropout_seed)


def backward(Y, Ws, Zs, As, Ds, hidden="relu", form="dw", lambd=0.0, keep_prob=1.0,
             input_grad=False, keep_dz=True):
    """``(dWs, dbs, dZs, dAs)``: every gradient the notebooks' dicts hold.

    ``dAs[0]`` (the input's gradient) only with ``input_grad``; ``dZs`` entries are None
    without ``keep_dz``. What a notebook does not return is not computed or kept.
    """
    return mlp_backward(kernel_module(), Y, Ws, Zs, As, Ds, HIDDEN[hidden], keep_prob,
                        lambd, FORMS[form], full=True, input_grad=input_grad,
                        keep_dz=keep_dz)


def cross_entropy(A, Y, mode, a_name="A", y_name="Y"):
    """Validated mean cross-entropy of ``A`` (1, m) against ``Y``, as a float."""
    A = v.as_float_array(A, a_name, ndim=(1, 2), finite=False)
    if A.size == 0:
        raise ValueError(f"{a_name} must hold at least one prediction, got shape {A.shape}")
    m = A.shape[-1]
    if A.ndim == 2 and A.shape[0] != 1:
        raise ValueError(f"{a_name} must have shape (1, m), got {A.shape}")
    Y = v.as_labels(Y, m, y_name, dtype=A.dtype)
    A = _contiguous(A.reshape(1, m), A.dtype)
    cost = mlp_cost(kernel_module(), A, Y, [], _spec.CE_MODES[mode], 0.0)
    if not math.isfinite(cost):
        # what NumPy says in the notebook, once per call on every backend
        warnings.warn(f"divide by zero encountered in log: a prediction in {a_name} is "
                      "exactly 0 or 1, so the cost is inf or nan (as in the notebook)",
                      RuntimeWarning, stacklevel=3)
    return cost


def labels_for(Y, X, name="Y"):
    """Labels ``(1, m)`` in X's dtype for the ``m`` columns of ``X``."""
    return _contiguous(v.as_labels(Y, X.shape[1], name, dtype=X.dtype), X.dtype)


# --------------------------------------------------------------------------- caches
def three_layer_cache(Ws, bs, Zs, As, Ds):
    """The notebooks' 12-tuple cache, or the 14-tuple one with dropout masks."""
    if Ds[0] is None:
        return (Zs[0], As[1], Ws[0], bs[0], Zs[1], As[2], Ws[1], bs[1],
                Zs[2], As[3], Ws[2], bs[2])
    return (Zs[0], Ds[0], As[1], Ws[0], bs[0], Zs[1], Ds[1], As[2], Ws[1], bs[1],
            Zs[2], As[3], Ws[2], bs[2])


def unpack_three_layer_cache(X, Y, cache, dropout=False, name="cache"):
    """Validate a notebook cache and return ``(X, Y, Ws, Zs, As, Ds)`` for backward."""
    size = 14 if dropout else 12
    if not isinstance(cache, (tuple, list)) or len(cache) != size:
        got = len(cache) if isinstance(cache, (tuple, list)) else type(cache).__name__
        raise ValueError(f"{name} must be the {size}-tuple forward_propagation"
                         f"{'_with_dropout' if dropout else ''} returns, got {got!r}")
    if dropout:
        Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
        masks = [D1, D2]
    else:
        Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
        masks = [None, None]
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    X, Ws, _ = net_inputs(X, parameters, L=3, name=name)
    v.check_single_output(Ws[-1], name, "W3")
    dtype = X.dtype
    m = X.shape[1]
    Y = labels_for(Y, X)
    Zs, As, Ds = [], [X], []
    for l, (Z, A, D) in enumerate(zip((Z1, Z2, Z3), (A1, A2, A3), masks + [None]), 1):
        shape = (Ws[l - 1].shape[0], m)
        Z = v.as_float_array(Z, f"{name} Z{l}", ndim=2, finite=False)
        A = v.as_float_array(A, f"{name} A{l}", ndim=2, finite=False)
        for arr, what in ((Z, "Z"), (A, "A")):
            if arr.shape != shape:
                raise ValueError(f"{name} {what}{l} must have shape {shape}, "
                                 f"got {arr.shape}")
        if D is not None:
            D = np.asarray(D)
            if D.shape != shape:
                raise ValueError(f"{name} D{l} must have shape {shape}, got {D.shape}")
            D = np.ascontiguousarray(D != 0)
        Zs.append(_contiguous(Z, dtype))
        As.append(_contiguous(A, dtype))
        Ds.append(D)
    return X, Y, Ws, Zs, As, Ds


def gradient_dict(dWs, dbs, dZs, dAs, lower=False):
    """The notebooks' gradient dict: ``dZ3, dW3, db3, dA2, ...`` (or lower-case z, a)."""
    z, a = ("dz", "da") if lower else ("dZ", "dA")
    grads = {}
    for l in range(len(dWs), 0, -1):
        grads[f"{z}{l}"] = dZs[l - 1]
        grads[f"dW{l}"] = dWs[l - 1]
        grads[f"db{l}"] = dbs[l - 1]
        if l > 1:
            grads[f"{a}{l - 1}"] = dAs[l - 1]
    return grads


# --------------------------------------------------------------------------- updates
def _writable_float(d, key, name, dtype=None):
    """``d[key]`` as a float array updated in place; replaced in ``d`` when it must be."""
    arr = v.as_float_array(d[key], f"{name}[{key!r}]", finite=False)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    if arr is not d[key]:
        d[key] = arr
    return arr


def _run_inplace(call, targets):
    """``call(*targets)`` so that ``targets`` change in place.

    Non-contiguous targets are updated through contiguous copies, written back after.
    """
    work = [t if t.flags.c_contiguous else np.ascontiguousarray(t) for t in targets]
    call(*work)
    for t, w in zip(targets, work):
        if w is not t:
            t[...] = w


def update_step(parameters, grads, states, rule, scalars, state_names=()):
    """One optimizer step on every ``W``/``b`` of ``parameters``, in place.

    ``rule`` is "sgd", "momentum" or "adam"; ``states`` the dicts of optimizer state
    (keys ``dW1``, ``db1``, ...). Everything is validated before anything changes.
    Returns ``parameters`` (the same dict).
    """
    L = v.n_layers(parameters, "parameters")
    Ws, bs = v.layer_arrays(parameters, "parameters", L=L, chain=False)
    for d, dname in ((grads, "grads"), *zip(states, state_names)):
        if not isinstance(d, dict):
            raise TypeError(f"{dname} must be a dict, got {type(d).__name__}")
        for l in range(1, L + 1):
            for key, like in ((f"dW{l}", Ws[l - 1]), (f"db{l}", bs[l - 1])):
                if key not in d:
                    raise ValueError(f"{dname} is missing key {key!r}")
                v.matching_array(d[key], f"{dname}[{key!r}]", like,
                                 f"parameters[{key[1:]!r}]",
                                 finite=None if dname == "grads" else False)
    for l in range(1, L + 1):
        for key in (f"W{l}", f"b{l}"):
            v.check_writeable(parameters[key], f"parameters[{key!r}]")
            for d, dname in zip(states, state_names):
                v.check_writeable(d["d" + key], f"{dname}[{'d' + key!r}]")
    K = kernel_module()
    kernel = {"sgd": K.sgd_step, "momentum": K.momentum_step, "adam": K.adam_step}[rule]
    for l in range(1, L + 1):
        for key in (f"W{l}", f"b{l}"):
            p = _writable_float(parameters, key, "parameters")
            extra = [_writable_float(s, "d" + key, n, p.dtype)
                     for s, n in zip(states, state_names)]
            g = _contiguous(grads["d" + key], p.dtype)
            _run_inplace(lambda p_, *st, g=g: kernel(p_, g, *st, *scalars), [p, *extra])
    return parameters


# --------------------------------------------------------------------------- predictions
def output_proba(X, parameters, hidden="relu", name="parameters"):
    """``A_L`` (1, m) for inputs ``X``."""
    X, Ws, bs = net_inputs(X, parameters, name=name)
    _, As, _ = forward(X, Ws, bs, hidden)
    return As[-1]


def predict_labels(X, y, parameters, hidden="relu", dtype=int, accuracy="mean"):
    """Predictions ``(A_L > 0.5)`` as ``dtype`` (1, m), printing "Accuracy: ...".

    ``accuracy`` "mean" prints ``np.mean(p[0, :] == y[0, :])`` (the improving-deep-
    networks notebooks); "sum" prints ``np.sum((p == y) / m)`` (the L-layer notebook).
    """
    A = output_proba(X, parameters, hidden)
    m = A.shape[1]
    y = v.as_labels(y, m, "y")
    p = (A > 0.5).astype(dtype)
    if accuracy == "mean":
        print("Accuracy: " + str(np.mean((p[0, :] == y[0, :]))))
    else:
        print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


def predict_dec(parameters, X, hidden="relu"):
    """Boolean predictions ``A_L > 0.5`` of shape (1, m), for decision-boundary plots."""
    return output_proba(X, parameters, hidden) > 0.5


# --------------------------------------------------------------------------- models
def fit(X, Y, dims, *, init, seed, pre_seed=None, iterations_name="num_iterations",
        **train_options):
    """Initialise a network as a notebook does and train it with the fused loop.

    ``dims[0]`` may be None, meaning ``X.shape[0]``. Returns ``(parameters, result)``
    with ``parameters`` the dict views into the trained flat buffer.
    """
    from .network import initialize
    from .training import train

    X = v.as_data(X, "X")
    Y = labels_for(Y, X)
    # what the notebooks call these, checked before any seeding moves NumPy's state
    v.check_positive(train_options.get("learning_rate"), "learning_rate")
    v.check_int(train_options.get("num_epochs"), iterations_name, low=0)
    if train_options.get("batch_size") is not None:
        v.check_int(train_options["batch_size"], "mini_batch_size", low=1)
    if "optimizer" in train_options:
        v.check_choice(train_options["optimizer"], "optimizer", _spec.OPTIMIZERS)
    dims = [X.shape[0] if d is None else d for d in dims]
    if dims[0] != X.shape[0]:
        raise ValueError(f"layers_dims[0] must equal the {X.shape[0]} rows of X, "
                         f"got {dims[0]}")
    if dims[-1] != 1:
        raise ValueError(f"layers_dims[-1] must be 1 (one sigmoid output for labels of "
                         f"shape (1, m)), got {dims[-1]}")
    if pre_seed is not None:
        np.random.seed(pre_seed)
    buffer = initialize(dims, init, seed=seed, dtype=X.dtype)
    result = train(X, Y, buffer, **train_options)
    return buffer.params, result
