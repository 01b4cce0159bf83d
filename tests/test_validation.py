"""The façade's error handling, and what it must accept.

DESIGN.md: bad input gets a clear error, raised before any kernel runs and before any
array is modified; the message names the argument. Every rejection below asserts the
exception type, that the message names the offending argument, and, for the in-place
updates, that no input array (parameters, gradients, optimizer state) changed.

The positive checks: integer arrays are converted, float32 stays float32, updates return
the same dict objects and change the caller's arrays in place, and Fortran-ordered or
sliced (non-contiguous) parameters give the results of C-contiguous ones.

"""

import contextlib
import copy
import io
import re

import numpy as np
import pytest

import fastnn
from fastnn import _backend, kernels
from fastnn import deep, gradient_checking, initialization, optimization, planar
from fastnn import regularization


# --------------------------------------------------------------------------------------
# Helpers and fixtures
# --------------------------------------------------------------------------------------

def names(*args):
    """A regex matching a message that contains every one of ``args`` (literally)."""
    return "".join(f"(?=.*{re.escape(a)})" for a in args)


def raises(exc, *args):
    return pytest.raises(exc, match=names(*args))


def snapshot(*objs):
    return copy.deepcopy(objs)


def assert_unchanged(before, *objs):
    """Every array of every dict in ``objs`` equals its copy in ``before``."""
    for old, new in zip(before, objs):
        if isinstance(new, dict):
            assert old.keys() == new.keys()
            for key in new:
                np.testing.assert_array_equal(new[key], old[key], err_msg=key)
        else:
            np.testing.assert_array_equal(new, old)


@pytest.fixture(autouse=True)
def _numpy_backend_and_clean_state(monkeypatch):
    """Each test starts on the numpy backend and leaves the selection as it found it."""
    monkeypatch.setattr(_backend, "_global", None)
    monkeypatch.delenv(_backend.ENV_VAR, raising=False)
    with fastnn.use_backend("numpy"):
        yield


def _net(dims=(2, 3, 2, 1), m=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(dtype)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])).astype(dtype)
        params[f"b{l}"] = (0.1 * rng.standard_normal((dims[l], 1))).astype(dtype)
    return X, Y, params


def _grads_like(params, seed=1):
    rng = np.random.default_rng(seed)
    return {"d" + k: rng.standard_normal(v.shape).astype(v.dtype)
            for k, v in params.items()}


@pytest.fixture
def net():
    return _net()


@pytest.fixture
def opt_state(net):
    _, _, params = net
    grads = _grads_like(params)
    v, s = optimization.initialize_adam(params)
    rng = np.random.default_rng(2)
    for d in (v, s):
        for k in d:
            d[k][...] = np.abs(rng.standard_normal(d[k].shape))
    return params, grads, v, s


def _quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def _without(d, key):
    d = dict(d)
    del d[key]
    return d


BAD_DTYPE_ARRAYS = {
    "complex": lambda a: a.astype(np.complex128),
    "str": lambda a: a.astype(str),
    "object": lambda a: a.astype(object),
}


# --------------------------------------------------------------------------------------
# Backends and options
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bogus", "NumPy", "", None, 1, "cpu"])
def test_set_backend_unknown_name(name):
    before = fastnn.get_backend()
    with raises(ValueError, "backend", repr(name)):
        fastnn.set_backend(name)
    assert fastnn.get_backend() == before


@pytest.mark.parametrize("name", ["bogus", None, 3.0])
def test_use_backend_unknown_name(name):
    before = fastnn.get_backend()
    with raises(ValueError, "backend"):
        with fastnn.use_backend(name):
            pass  # pragma: no cover
    assert fastnn.get_backend() == before


@pytest.mark.parametrize("name", ["bogus", None, "numpy_ref"])
def test_kernels_get_unknown_name(name):
    with raises(ValueError, "backend", repr(name)):
        kernels.get(name)


def test_unusable_backend_is_a_runtime_error_and_changes_nothing():
    if "cuda" in kernels.available():
        pytest.skip("cuda is usable here")
    before = fastnn.get_backend()
    with raises(RuntimeError, "cuda"):
        kernels.get("cuda")
    with raises(RuntimeError, "cuda"):
        fastnn.set_backend("cuda")
    with raises(RuntimeError, "cuda"):
        with fastnn.use_backend("cuda"):
            pass  # pragma: no cover
    assert fastnn.get_backend() == before


def test_use_backend_restores_after_an_exception():
    fastnn.set_backend("numpy")
    with pytest.raises(KeyError):
        with fastnn.use_backend("numpy"):
            raise KeyError("inside")
    assert fastnn.get_backend() == "numpy"


def test_bad_backend_environment_variable(monkeypatch, net):
    X, _, params = net
    monkeypatch.setenv(_backend.ENV_VAR, "bogus")
    with fastnn.use_backend("numpy"):
        initialization.forward_propagation(X, params)  # the override wins
    token = _backend._override.set(None)
    try:
        with raises(ValueError, _backend.ENV_VAR, "bogus"):
            initialization.forward_propagation(X, params)
    finally:
        _backend._override.reset(token)


def test_options_check_finite_must_be_bool():
    with raises(TypeError, "check_finite"):
        with fastnn.options(check_finite="no"):
            pass  # pragma: no cover
    assert fastnn.get_options()["check_finite"] is True


def test_options_scope():
    with fastnn.options(check_finite=False):
        assert fastnn.get_options()["check_finite"] is False
        with fastnn.options(check_finite=True):
            assert fastnn.get_options()["check_finite"] is True
    assert fastnn.get_options()["check_finite"] is True


# --------------------------------------------------------------------------------------
# initialization.forward_propagation (and the shared network-input checks)
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["W1", "b2", "W3", "b3"])
def test_forward_missing_key(net, key):
    X, _, params = net
    with raises(ValueError, "parameters", repr(key)):
        initialization.forward_propagation(X, _without(params, key))


def test_forward_parameters_not_a_dict(net):
    X, _, params = net
    with raises(TypeError, "parameters", "dict"):
        initialization.forward_propagation(X, list(params.values()))


def test_forward_wrong_shapes(net):
    X, _, params = net
    with raises(ValueError, "X", "(4, 5)"):
        initialization.forward_propagation(np.vstack([X, X]), params)
    with raises(ValueError, "X", "(1, 5)"):
        initialization.forward_propagation(X[:1], params)
    with raises(ValueError, "X"):
        initialization.forward_propagation(X[0], params)  # 1-D
    with raises(ValueError, "parameters['W2']"):
        initialization.forward_propagation(X, {**params, "W2": np.ones((2, 4))})
    with raises(ValueError, "parameters['b2']"):
        initialization.forward_propagation(X, {**params, "b2": np.ones((3, 1))})
    with raises(ValueError, "parameters['W1']"):
        initialization.forward_propagation(X, {**params, "W1": np.ones((3, 2, 1))})


def test_forward_empty_X(net):
    _, _, params = net
    with raises(ValueError, "X", "(2, 0)"):
        initialization.forward_propagation(np.zeros((2, 0)), params)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_forward_non_finite_X(net, bad):
    X, _, params = net
    X = X.copy()
    X[1, 2] = bad
    with raises(ValueError, "X", "NaN or inf"):
        initialization.forward_propagation(X, params)
    with fastnn.options(check_finite=False):
        a3, _ = initialization.forward_propagation(X, params)
    # the bad value reaches only its own example's output
    assert np.isfinite(np.delete(a3, 2, axis=1)).all()


def test_forward_non_finite_parameter(net):
    X, _, params = net
    bad = {**params, "W2": params["W2"].copy()}
    bad["W2"][0, 0] = np.nan
    with raises(ValueError, "parameters['W2']", "NaN"):
        initialization.forward_propagation(X, bad)
    with fastnn.options(check_finite=False):
        a3, _ = initialization.forward_propagation(X, bad)
    assert a3.shape == (1, X.shape[1])


@pytest.mark.parametrize("kind", sorted(BAD_DTYPE_ARRAYS))
def test_forward_bad_dtype(net, kind):
    X, _, params = net
    with raises(TypeError, "X"):
        initialization.forward_propagation(BAD_DTYPE_ARRAYS[kind](X), params)
    with raises(TypeError, "parameters['W1']"):
        initialization.forward_propagation(
            X, {**params, "W1": BAD_DTYPE_ARRAYS[kind](params["W1"])})


@pytest.mark.parametrize("X", ["abc", None, {"a": 1}])
def test_forward_non_array_X(net, X):
    _, _, params = net
    with raises(TypeError, "X"):
        initialization.forward_propagation(X, params)


def test_forward_mixed_parameter_dtypes(net):
    X, _, params = net
    with raises(TypeError, "parameters", "dtype"):
        initialization.forward_propagation(
            X, {**params, "W2": params["W2"].astype(np.float32)})


def test_forward_int_arrays_are_converted(net):
    X, _, params = net
    Xi = np.round(X * 3).astype(np.int64)
    Wi = {k: np.round(v * 3).astype(np.int32) for k, v in params.items()}
    a3, cache = initialization.forward_propagation(Xi, Wi)
    a3_ref, _ = initialization.forward_propagation(Xi.astype(float),
                                                   {k: v.astype(float) for k, v in
                                                    Wi.items()})
    assert a3.dtype == np.float64
    np.testing.assert_array_equal(a3, a3_ref)
    # a list works as well
    a3_list, _ = initialization.forward_propagation(Xi.tolist(), Wi)
    np.testing.assert_array_equal(a3_list, a3_ref)


@pytest.mark.parametrize("module", [initialization, regularization, optimization,
                                    gradient_checking])
def test_forward_float32_stays_float32(module):
    X, Y, params = _net(dtype=np.float32)
    if module is gradient_checking:
        cost, cache = module.forward_propagation_n(X, Y, params)
        assert isinstance(cost, float)
    else:
        a3, cache = module.forward_propagation(X, params)
        assert a3.dtype == np.float32
    assert all(c.dtype == np.float32 for c in cache)
    a3_64, _ = initialization.forward_propagation(
        X.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()})
    np.testing.assert_allclose(cache[9], a3_64, rtol=1e-5)


def test_forward_float32_other_modules():
    X, Y, params = _net(dims=(2, 4, 1), dtype=np.float32)
    A2, cache = planar.forward_propagation(X, params)
    assert A2.dtype == np.float32 and cache["A1"].dtype == np.float32
    AL, caches = deep.L_model_forward(X, params)
    assert AL.dtype == np.float32
    A, _ = deep.linear_activation_forward(X, params["W1"], params["b1"], "relu")
    assert A.dtype == np.float32
    X3, _, p3 = _net(dtype=np.float32)
    A3, cache = regularization.forward_propagation_with_dropout(X3, p3, 0.8)
    assert A3.dtype == np.float32 and cache[2].dtype == np.float32


def _layouts(params):
    """The same parameters Fortran-ordered, and as strided (sliced) views."""
    fortran = {k: np.asfortranarray(v) for k, v in params.items()}
    sliced = {}
    for k, v in params.items():
        big = np.zeros((v.shape[0] * 2, v.shape[1] * 3), dtype=v.dtype)
        big[::2, ::3] = v
        sliced[k] = big[::2, ::3]
        if v.size > 1:
            assert not sliced[k].flags.c_contiguous
    return {"fortran": fortran, "sliced": sliced}


@pytest.mark.parametrize("layout", ["fortran", "sliced"])
def test_forward_non_contiguous_parameters(net, layout):
    X, _, params = net
    a3, cache = initialization.forward_propagation(X, params)
    other = _layouts(params)[layout]
    a3_o, cache_o = initialization.forward_propagation(np.asfortranarray(X), other)
    np.testing.assert_array_equal(a3_o, a3)
    for c, c_o in zip(cache, cache_o):
        np.testing.assert_array_equal(c_o, c)


def test_forward_one_dimensional_biases(net):
    X, _, params = net
    a3, _ = initialization.forward_propagation(X, params)
    flat_b = {k: (v.ravel() if k.startswith("b") else v) for k, v in params.items()}
    np.testing.assert_array_equal(initialization.forward_propagation(X, flat_b)[0], a3)


# --------------------------------------------------------------------------------------
# initialization.backward_propagation
# --------------------------------------------------------------------------------------

def test_backward_bad_labels(net):
    X, Y, params = net
    _, cache = initialization.forward_propagation(X, params)
    with raises(ValueError, "Y", "(1, 5)"):
        initialization.backward_propagation(X, Y[:, :4], cache)
    with raises(ValueError, "Y"):
        initialization.backward_propagation(X, np.vstack([Y, Y]), cache)
    Yn = Y.copy()
    Yn[0, 1] = np.nan
    with raises(ValueError, "Y", "NaN"):
        initialization.backward_propagation(X, Yn, cache)
    with raises(TypeError, "Y"):
        initialization.backward_propagation(X, Y.astype(complex), cache)


def test_backward_bad_cache(net):
    X, Y, params = net
    _, cache = initialization.forward_propagation(X, params)
    with raises(ValueError, "cache", "12"):
        initialization.backward_propagation(X, Y, cache[:11])
    with raises(ValueError, "cache"):
        initialization.backward_propagation(X, Y, "cache")
    bad = list(cache)
    bad[4] = bad[4][:, :3]  # z2 of the wrong width
    with raises(ValueError, "cache", "Z2"):
        initialization.backward_propagation(X, Y, tuple(bad))
    # X and the cache disagree on m: either may be the one to blame
    with pytest.raises(ValueError, match="cache|X"):
        initialization.backward_propagation(X[:, :4], Y[:, :4], cache)


def test_backward_accepts_1d_and_bool_labels(net):
    X, Y, params = net
    _, cache = initialization.forward_propagation(X, params)
    ref = initialization.backward_propagation(X, Y, cache)
    for Yv in (Y.ravel(), Y.astype(bool), Y.astype(np.int64), Y.tolist()):
        grads = initialization.backward_propagation(X, Yv, cache)
        for k in ref:
            np.testing.assert_array_equal(grads[k], ref[k])


# --------------------------------------------------------------------------------------
# In-place updates: rejections leave everything untouched
# --------------------------------------------------------------------------------------

def _gd(params, grads, v, s, **kw):
    return initialization.update_parameters(params, grads, kw.get("learning_rate", 0.1))


def _momentum(params, grads, v, s, **kw):
    return optimization.update_parameters_with_momentum(
        params, grads, v, kw.get("beta", 0.9), kw.get("learning_rate", 0.1))


def _adam(params, grads, v, s, **kw):
    kw.setdefault("learning_rate", 0.1)
    return optimization.update_parameters_with_adam(params, grads, v, s, kw.pop("t", 2),
                                                    **kw)


UPDATES = {"gd": _gd, "momentum": _momentum, "adam": _adam}


@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_missing_parameter_key(opt_state, rule):
    params, grads, v, s = opt_state
    bad = _without(params, "b2")
    before = snapshot(bad, grads, v, s)
    with raises(ValueError, "parameters", "'b2'"):
        UPDATES[rule](bad, grads, v, s)
    assert_unchanged(before, bad, grads, v, s)


@pytest.mark.parametrize("key", ["dW1", "db2", "dW3"])
@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_missing_gradient_key(opt_state, rule, key):
    params, grads, v, s = opt_state
    bad = _without(grads, key)
    before = snapshot(params, bad, v, s)
    with raises(ValueError, "grads", repr(key)):
        UPDATES[rule](params, bad, v, s)
    assert_unchanged(before, params, bad, v, s)


@pytest.mark.parametrize("shape", [(2,), (1, 2), (2, 2), (2, 1, 1)])
@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_bad_gradient_shape(opt_state, rule, shape):
    # W1, b1, W2 (and their v, s) come before db2: a late check would update them
    params, grads, v, s = opt_state
    grads["db2"] = np.ones(shape)
    before = snapshot(params, grads, v, s)
    with raises(ValueError, "grads['db2']"):
        UPDATES[rule](params, grads, v, s)
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("rule", ["momentum", "adam"])
def test_update_bad_state(opt_state, rule):
    params, grads, v, s = opt_state
    v["dW3"] = np.zeros((2, 1))
    before = snapshot(params, grads, v, s)
    with raises(ValueError, "v['dW3']"):
        UPDATES[rule](params, grads, v, s)
    assert_unchanged(before, params, grads, v, s)
    v2 = _without(snapshot(v)[0], "db1")
    with raises(ValueError, "v", "'db1'"):
        UPDATES[rule](params, grads, v2, s)
    with raises(TypeError, "v", "dict"):
        UPDATES[rule](params, grads, list(v.values()), s)
    assert_unchanged(before[:2], params, grads)


def test_adam_bad_second_moment(opt_state):
    params, grads, v, s = opt_state
    s["db3"] = np.zeros((3, 1))
    before = snapshot(params, grads, v, s)
    with raises(ValueError, "s['db3']"):
        _adam(params, grads, v, s)
    with raises(ValueError, "s", "'dW1'"):
        _adam(params, grads, v, _without(s, "dW1"))
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_non_finite_gradient(opt_state, rule):
    params, grads, v, s = opt_state
    grads["dW2"][1, 0] = np.nan
    before = snapshot(params, grads, v, s)
    with raises(ValueError, "grads['dW2']", "NaN"):
        UPDATES[rule](params, grads, v, s)
    assert_unchanged(before, params, grads, v, s)
    with fastnn.options(check_finite=False):
        UPDATES[rule](params, grads, v, s)
    assert np.isnan(params["W2"][1, 0])
    assert np.isfinite(params["W1"]).all()


@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_non_finite_parameter(opt_state, rule):
    params, grads, v, s = opt_state
    params["b3"][0, 0] = np.inf
    before = snapshot(params, grads, v, s)
    with raises(ValueError, "parameters['b3']", "NaN or inf"):
        UPDATES[rule](params, grads, v, s)
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("kind", sorted(BAD_DTYPE_ARRAYS))
@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_bad_dtype(opt_state, rule, kind):
    params, grads, v, s = opt_state
    bad = {**grads, "db3": BAD_DTYPE_ARRAYS[kind](grads["db3"])}
    before = snapshot(params, grads, v, s)
    with raises(TypeError, "grads['db3']"):
        UPDATES[rule](params, bad, v, s)
    badp = {**params, "W3": BAD_DTYPE_ARRAYS[kind](params["W3"])}
    with raises(TypeError, "parameters['W3']"):
        UPDATES[rule](badp, grads, v, s)
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_not_dicts(opt_state, rule):
    params, grads, v, s = opt_state
    with raises(TypeError, "grads", "dict"):
        UPDATES[rule](params, list(grads.values()), v, s)
    with raises(TypeError, "parameters", "dict"):
        UPDATES[rule](list(params.values()), grads, v, s)


@pytest.mark.parametrize("lr,exc", [(0, ValueError), (0.0, ValueError), (-0.1, ValueError),
                                    (np.nan, ValueError), (np.inf, ValueError),
                                    ("0.1", TypeError), (True, TypeError),
                                    (None, TypeError)])
@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_bad_learning_rate(opt_state, rule, lr, exc):
    params, grads, v, s = opt_state
    before = snapshot(params, grads, v, s)
    with raises(exc, "learning_rate"):
        UPDATES[rule](params, grads, v, s, learning_rate=lr)
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("beta", [1.0, 1.5, -0.1, np.nan])
def test_momentum_bad_beta(opt_state, beta):
    params, grads, v, s = opt_state
    before = snapshot(params, grads, v, s)
    with raises(ValueError, "beta"):
        _momentum(params, grads, v, s, beta=beta)
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("kw,exc,name", [
    ({"beta1": 1.0}, ValueError, "beta1"),
    ({"beta1": -0.5}, ValueError, "beta1"),
    ({"beta2": 1.0}, ValueError, "beta2"),
    ({"beta2": 2}, ValueError, "beta2"),
    ({"epsilon": 0}, ValueError, "epsilon"),
    ({"epsilon": -1e-8}, ValueError, "epsilon"),
    ({"t": 0}, ValueError, "t"),
    ({"t": -3}, ValueError, "t"),
    ({"t": 1.0}, TypeError, "t"),
    ({"t": True}, TypeError, "t"),
    ({"t": "1"}, TypeError, "t"),
])
def test_adam_bad_hyperparameters(opt_state, kw, exc, name):
    params, grads, v, s = opt_state
    before = snapshot(params, grads, v, s)
    with pytest.raises(exc, match=rf"^{name} must"):
        _adam(params, grads, v, s, **kw)
    assert_unchanged(before, params, grads, v, s)


@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_read_only_parameter_changes_nothing(opt_state, rule):
    params, grads, v, s = opt_state
    params["b3"].flags.writeable = False
    before = snapshot(params, grads, v, s)
    with pytest.raises(ValueError, match=re.escape("parameters['b3']")):
        UPDATES[rule](params, grads, v, s)
    assert_unchanged(before, params, grads, v, s)


# --------------------------------------------------------------------------------------
# In-place updates: what must work
# --------------------------------------------------------------------------------------

def _expected(rule, params, grads, v, s, lr=0.1, beta=0.9, t=2, b1=0.9, b2=0.999,
              eps=1e-8):
    """The notebooks' update formulas, on float64 copies."""
    P = {k: np.array(x, dtype=np.float64) for k, x in params.items()}
    V = {k: np.array(x, dtype=np.float64) for k, x in v.items()}
    S = {k: np.array(x, dtype=np.float64) for k, x in s.items()}
    for k in P:
        g = np.asarray(grads["d" + k], dtype=np.float64)
        if rule == "gd":
            P[k] = P[k] - lr * g
        elif rule == "momentum":
            V["d" + k] = beta * V["d" + k] + (1 - beta) * g
            P[k] = P[k] - lr * V["d" + k]
        else:
            V["d" + k] = b1 * V["d" + k] + (1 - b1) * g
            S["d" + k] = b2 * S["d" + k] + (1 - b2) * g ** 2
            P[k] = P[k] - lr * (V["d" + k] / (1 - b1 ** t)) / (
                np.sqrt(S["d" + k] / (1 - b2 ** t)) + eps)
    return P, V, S


def _backends():
    return [pytest.param(name, marks=pytest.mark.skipif(
        name not in kernels.available(), reason=f"backend {name} not available"))
        for name in ("numpy", "numba")]


def _check_update(rule, params, grads, v, s, dtype, rtol):
    ids = {k: id(x) for k, x in params.items()}
    sids = {k: (id(v[k]), id(s[k])) for k in v}
    P, V, S = _expected(rule, params, grads, v, s)
    out = UPDATES[rule](params, grads, v, s)
    if rule == "gd":
        assert out is params
    elif rule == "momentum":
        assert out[0] is params and out[1] is v
    else:
        assert out[0] is params and out[1] is v and out[2] is s
    for k in params:
        assert id(params[k]) == ids[k], f"parameters[{k!r}] was replaced"
        assert params[k].dtype == dtype
        np.testing.assert_allclose(params[k], P[k], rtol=rtol, atol=rtol)
    if rule != "gd":
        for k in v:
            assert (id(v[k]), id(s[k])) == sids[k]
            np.testing.assert_allclose(v[k], V[k], rtol=rtol, atol=rtol)
            if rule == "adam":
                np.testing.assert_allclose(s[k], S[k], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_in_place_same_objects(rule, dtype, backend):
    _, _, params = _net(dtype=dtype)
    grads = _grads_like(params)
    v, s = optimization.initialize_adam(params)
    for d in (v, s):
        for k in d:
            d[k][...] = 0.5
    with fastnn.use_backend(backend):
        _check_update(rule, params, grads, v, s, dtype,
                      1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("layout", ["fortran", "sliced"])
@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_update_non_contiguous_in_place(rule, layout, backend):
    _, _, params = _net()
    grads = _grads_like(params)
    v, s = optimization.initialize_adam(params)
    for d in (v, s):
        for k in d:
            d[k][...] = 0.25
    ref_params, ref_v, ref_s = copy.deepcopy((params, v, s))
    with fastnn.use_backend(backend):
        UPDATES[rule](ref_params, grads, ref_v, ref_s)  # C-contiguous reference
        other = _layouts(params)[layout]
        ov, os_ = _layouts(v)[layout], _layouts(s)[layout]
        og = _layouts(grads)[layout]
        bases = {k: x.base for k, x in other.items()}
        _check_update(rule, other, og, ov, os_, np.float64, 1e-12)
    for k in other:
        np.testing.assert_array_equal(other[k], ref_params[k])
        if layout == "sliced":  # the strided entries of the big buffer changed
            big = bases[k]
            np.testing.assert_array_equal(big[::2, ::3], ref_params[k])
            rest = big.copy()
            rest[::2, ::3] = 0.0
            assert not rest.any()
        else:
            assert other[k].flags.f_contiguous
    for k in ov:
        np.testing.assert_array_equal(ov[k], ref_v[k])
        np.testing.assert_array_equal(os_[k], ref_s[k])


def test_update_view_into_flat_buffer_in_place():
    buffer = np.arange(1.0, 9.0)
    params = {"W1": buffer[:6].reshape(2, 3), "b1": buffer[6:].reshape(2, 1)}
    grads = {"dW1": np.ones((2, 3)), "db1": np.ones((2, 1))}
    initialization.update_parameters(params, grads, 0.5)
    np.testing.assert_array_equal(buffer, np.arange(1.0, 9.0) - 0.5)


def test_update_int_arrays_are_converted():
    params = {"W1": np.array([[1, 2], [3, 4]]), "b1": np.array([[0], [1]])}
    grads = {"dW1": np.array([[1, 0], [0, 1]]), "db1": [[1], [1]]}
    out = initialization.update_parameters(params, grads, 0.5)
    assert out is params
    assert params["W1"].dtype == np.float64
    np.testing.assert_array_equal(params["W1"], [[0.5, 2.0], [3.0, 3.5]])
    np.testing.assert_array_equal(params["b1"], [[-0.5], [0.5]])
    np.testing.assert_array_equal(grads["dW1"], [[1, 0], [0, 1]])  # untouched


def test_update_optimizer_shapes_need_not_chain():
    # the optimization notebook's test cases: W2 (3, 3) after W1 (2, 3)
    W1, b1, W2, b2, dW1, db1, dW2, db2 = optimization.load_params_and_grads()
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    v, s = optimization.initialize_adam(params)
    optimization.update_parameters_with_adam(params, grads, v, s, 2)
    assert params["W2"] is W2


# --------------------------------------------------------------------------------------
# regularization
# --------------------------------------------------------------------------------------

def test_cost_with_regularization_errors(net):
    X, Y, params = net
    A3, _ = regularization.forward_propagation(X, params)
    with raises(ValueError, "lambd"):
        regularization.compute_cost_with_regularization(A3, Y, params, -0.1)
    with raises(ValueError, "lambd"):
        regularization.compute_cost_with_regularization(A3, Y, params, np.nan)
    with raises(TypeError, "lambd"):
        regularization.compute_cost_with_regularization(A3, Y, params, "0.1")
    with raises(ValueError, "parameters", "'b2'"):
        regularization.compute_cost_with_regularization(A3, Y, _without(params, "b2"),
                                                        0.1)
    with raises(ValueError, "Y"):
        regularization.compute_cost_with_regularization(A3, Y[:, :3], params, 0.1)
    with raises(ValueError, "A3"):
        regularization.compute_cost_with_regularization(np.zeros((1, 0)), Y, params, 0.1)
    with raises(ValueError, "A3"):
        regularization.compute_cost_with_regularization(np.vstack([A3, A3]), Y, params,
                                                        0.1)
    with raises(TypeError, "A3"):
        regularization.compute_cost_with_regularization(A3.astype(complex), Y, params,
                                                        0.1)


def test_cost_with_regularization_non_finite_weights(net):
    X, Y, params = net
    A3, _ = regularization.forward_propagation(X, params)
    bad = {**params, "W3": params["W3"].copy()}
    bad["W3"][0, 0] = np.inf
    with raises(ValueError, "parameters['W3']", "NaN or inf"):
        regularization.compute_cost_with_regularization(A3, Y, bad, 0.1)
    with fastnn.options(check_finite=False):
        assert regularization.compute_cost_with_regularization(A3, Y, bad, 0.1) == np.inf


def test_cost_with_regularization_value_and_int_labels(net):
    X, Y, params = net
    A3, _ = regularization.forward_propagation(X, params)
    m = Y.shape[1]
    ce = -np.mean(Y * np.log(A3) + (1 - Y) * np.log(1 - A3))
    l2 = sum(np.sum(params[f"W{l}"] ** 2) for l in (1, 2, 3)) * 0.7 / (2 * m)
    got = regularization.compute_cost_with_regularization(A3, Y.astype(int), params, 0.7)
    np.testing.assert_allclose(got, ce + l2, rtol=1e-12)


@pytest.mark.parametrize("keep_prob,exc", [(0, ValueError), (0.0, ValueError),
                                           (1.5, ValueError), (-0.2, ValueError),
                                           (np.nan, ValueError), (True, TypeError),
                                           ("0.5", TypeError)])
def test_dropout_bad_keep_prob(net, keep_prob, exc):
    X, _, params = net
    state = np.random.get_state()
    with raises(exc, "keep_prob"):
        regularization.forward_propagation_with_dropout(X, params, keep_prob)
    after = np.random.get_state()  # nothing drawn before the error
    assert np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_dropout_bad_inputs(net):
    X, _, params = net
    with raises(ValueError, "parameters", "'b2'"):
        regularization.forward_propagation_with_dropout(X, _without(params, "b2"), 0.8)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with raises(ValueError, "X", "NaN"):
        regularization.forward_propagation_with_dropout(Xn, params, 0.8)
    with fastnn.options(check_finite=False):
        A3, _ = regularization.forward_propagation_with_dropout(Xn, params, 0.8)
    assert np.isnan(A3[0, 0])
    with raises(ValueError, "X"):
        regularization.forward_propagation_with_dropout(np.zeros((2, 0)), params, 0.8)
    with raises(TypeError, "X"):
        regularization.forward_propagation_with_dropout(X.astype(object), params, 0.8)


def test_dropout_keep_prob_one_and_int(net):
    X, _, params = net
    A3, cache = regularization.forward_propagation_with_dropout(X, params, 1)
    A3_plain, _ = regularization.forward_propagation(X, params)
    np.testing.assert_array_equal(A3, A3_plain)
    assert cache[1].all() and cache[6].all()


def test_backward_with_dropout_bad_keep_prob(net):
    X, Y, params = net
    _, cache = regularization.forward_propagation_with_dropout(X, params, 0.8)
    with raises(ValueError, "keep_prob"):
        regularization.backward_propagation_with_dropout(X, Y, cache, 0)
    with raises(ValueError, "cache", "14"):
        regularization.backward_propagation_with_dropout(X, Y, cache[:12], 0.8)


# --------------------------------------------------------------------------------------
# optimization: mini-batches and the model
# --------------------------------------------------------------------------------------

def test_random_mini_batches_errors(net):
    X, Y, _ = net
    with raises(ValueError, "mini_batch_size"):
        optimization.random_mini_batches(X, Y, 0)
    with raises(ValueError, "mini_batch_size"):
        optimization.random_mini_batches(X, Y, -2)
    with raises(TypeError, "mini_batch_size"):
        optimization.random_mini_batches(X, Y, 2.5)
    with raises(ValueError, "seed"):
        optimization.random_mini_batches(X, Y, 2, seed=-1)
    with raises(ValueError, "Y"):
        optimization.random_mini_batches(X, Y[:, :4], 2)
    with raises(ValueError, "Y"):
        optimization.random_mini_batches(X, Y.ravel(), 2)
    with raises(ValueError, "X", "(2, 0)"):
        optimization.random_mini_batches(np.zeros((2, 0)), np.zeros((1, 0)), 2)
    with raises(TypeError, "X"):
        optimization.random_mini_batches(X.astype(complex), Y, 2)
    Xn = X.copy()
    Xn[1, 1] = np.inf
    with raises(ValueError, "X", "NaN or inf"):
        optimization.random_mini_batches(Xn, Y, 2)
    with fastnn.options(check_finite=False):
        batches = optimization.random_mini_batches(Xn, Y, 2)
    assert sum(b[0].shape[1] for b in batches) == X.shape[1]
    assert np.isinf(np.hstack([b[0] for b in batches])).sum() == 1


def test_random_mini_batches_int_data(net):
    X, Y, _ = net
    Xi = np.arange(10).reshape(2, 5)
    batches = optimization.random_mini_batches(Xi, Y, 2, seed=3)
    assert [b[0].shape[1] for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.sort(np.hstack([b[0] for b in batches]), axis=1),
                                  Xi)


def test_random_mini_batches_non_finite_Y_array(net):
    X, Y, _ = net
    Yn = Y.copy()
    Yn[0, 2] = np.nan
    with raises(ValueError, "Y", "NaN"):
        optimization.random_mini_batches(X, Yn.tolist(), 2)  # passes
    with raises(ValueError, "Y", "NaN"):
        optimization.random_mini_batches(X, Yn, 2)


@pytest.mark.parametrize("kind", sorted(BAD_DTYPE_ARRAYS))
def test_random_mini_batches_bad_dtype_Y_array(net, kind):
    X, Y, _ = net
    with raises(TypeError, "Y"):
        optimization.random_mini_batches(X, BAD_DTYPE_ARRAYS[kind](Y), 2)


def _opt_model(X, Y, dims=(2, 3, 1), optimizer="adam", **kw):
    kw.setdefault("num_epochs", 2)
    kw.setdefault("print_cost", False)
    return optimization.model(X, Y, list(dims), optimizer, **kw)


@pytest.mark.parametrize("kw,exc,name", [
    ({"optimizer": "sgd"}, ValueError, "optimizer"),
    ({"optimizer": "Adam"}, ValueError, "optimizer"),
    ({"optimizer": None}, ValueError, "optimizer"),
    ({"learning_rate": 0}, ValueError, "learning_rate"),
    ({"learning_rate": -0.01}, ValueError, "learning_rate"),
    ({"beta": 1.0}, ValueError, "beta"),
    ({"beta1": 1.0}, ValueError, "beta1"),
    ({"beta2": 1.0}, ValueError, "beta2"),
    ({"epsilon": 0}, ValueError, "epsilon"),
    ({"num_epochs": -1}, ValueError, "num_epochs"),
    ({"num_epochs": 2.0}, TypeError, "num_epochs"),
    ({"dims": (3, 3, 1)}, ValueError, "layers_dims"),
    ({"dims": (2,)}, ValueError, "layers_dims"),
    ({"dims": (2, 0, 1)}, ValueError, "layers_dims[1]"),
    ({"dims": (2, 2.5, 1)}, TypeError, "layers_dims[1]"),
    ({"decay": "update_lr"}, TypeError, "decay"),
])
def test_optimization_model_errors(net, kw, exc, name):
    X, Y, _ = net
    with raises(exc, name):
        _opt_model(X, Y, **kw)


def test_optimization_model_bad_data(net):
    X, Y, _ = net
    with raises(ValueError, "X"):
        _opt_model(np.zeros((2, 0)), np.zeros((1, 0)))
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with raises(ValueError, "X", "NaN"):
        _opt_model(Xn, Y)
    with raises(ValueError, "Y"):
        _opt_model(X, Y[:, :2])
    with raises(TypeError, "Y"):
        _opt_model(X, Y.astype(str))


def test_optimization_model_int_data(net):
    X, Y, _ = net
    params = _opt_model(np.round(X * 2).astype(int), Y.astype(int), num_epochs=3)
    assert params["W1"].dtype == np.float64 and np.isfinite(params["W1"]).all()


def test_optimization_model_bad_mini_batch_size(net):
    X, Y, _ = net
    with raises(ValueError, "mini_batch_size"):
        _opt_model(X, Y, mini_batch_size=0)


def test_optimization_model_output_layer_must_match_labels(net):
    X, Y, _ = net
    with raises(ValueError, "layers_dims"):
        _opt_model(X, Y, dims=(2, 3, 2), optimizer="gd")


# --------------------------------------------------------------------------------------
# Models taking num_iterations
# --------------------------------------------------------------------------------------

def test_model_unknown_initialization(net):
    X, Y, _ = net
    with raises(ValueError, "initialization", "'xavier'"):
        initialization.model(X, Y, num_iterations=1, print_cost=False,
                             initialization="xavier")


def test_regularization_model_bad_arguments(net):
    X, Y, _ = net
    with raises(ValueError, "keep_prob"):
        regularization.model(X, Y, num_iterations=1, print_cost=False, keep_prob=0)
    with raises(ValueError, "lambd"):
        regularization.model(X, Y, num_iterations=1, print_cost=False, lambd=-1)
    with raises(ValueError, "learning_rate"):
        regularization.model(X, Y, num_iterations=1, print_cost=False, learning_rate=0)


NUM_ITERATION_MODELS = {
    "initialization.model": lambda X, Y, n: initialization.model(
        X, Y, num_iterations=n, print_cost=False),
    "regularization.model": lambda X, Y, n: regularization.model(
        X, Y, num_iterations=n, print_cost=False),
    "planar.nn_model": lambda X, Y, n: planar.nn_model(X, Y, 2, num_iterations=n),
    "deep.L_layer_model": lambda X, Y, n: deep.L_layer_model(
        X, Y, [2, 3, 1], num_iterations=n),
}


@pytest.mark.parametrize("n,exc", [(-1, ValueError), (1.5, TypeError)])
@pytest.mark.parametrize("model", sorted(NUM_ITERATION_MODELS))
def test_models_bad_num_iterations(net, model, n, exc):
    X, Y, _ = net
    with raises(exc, "num_iterations"):
        NUM_ITERATION_MODELS[model](X, Y, n)


# --------------------------------------------------------------------------------------
# gradient_checking
# --------------------------------------------------------------------------------------

def _gc_case(seed=0):
    X, Y, params = _net(dims=(3, 4, 2, 1), m=4, seed=seed)
    _, cache = gradient_checking.forward_propagation_n(X, Y, params)
    grads = gradient_checking.backward_propagation_n(X, Y, cache)
    return X, Y, params, grads


def test_gradient_check_n_correct_gradients_pass():
    X, Y, params, grads = _gc_case()
    d = gradient_checking.gradient_check_n(params, grads, X, Y, print_msg=False)
    assert d < 2e-7
    # integer-valued inputs as int arrays give the same difference
    Xi = np.round(X * 4)
    _, cache = gradient_checking.forward_propagation_n(Xi, Y, params)
    gi = gradient_checking.backward_propagation_n(Xi, Y, cache)
    d_float = gradient_checking.gradient_check_n(params, gi, Xi, Y, print_msg=False)
    d_int = gradient_checking.gradient_check_n(params, gi, Xi.astype(int),
                                               Y.astype(int), print_msg=False)
    assert d_int == d_float


def test_gradient_check_n_errors():
    X, Y, params, grads = _gc_case()
    gc = gradient_checking.gradient_check_n
    for eps in (0, -1e-7, np.nan):
        with raises(ValueError, "epsilon"):
            gc(params, grads, X, Y, epsilon=eps, print_msg=False)
    with raises(ValueError, "parameters", "'b2'"):
        gc(_without(params, "b2"), grads, X, Y, print_msg=False)
    with raises(ValueError, "gradients", "'db2'"):
        gc(params, _without(grads, "db2"), X, Y, print_msg=False)
    with raises(TypeError, "gradients", "dict"):
        gc(params, list(grads.values()), X, Y, print_msg=False)
    with raises(ValueError, "gradients['dW2']"):
        gc(params, {**grads, "dW2": np.ones((2, 3))}, X, Y, print_msg=False)
    bad = {**grads, "db1": grads["db1"].copy()}
    bad["db1"][0, 0] = np.nan
    with raises(ValueError, "gradients['db1']", "NaN"):
        gc(params, bad, X, Y, print_msg=False)
    with raises(TypeError, "gradients['dW1']"):
        gc(params, {**grads, "dW1": grads["dW1"].astype(complex)}, X, Y, print_msg=False)
    Xn = X.copy()
    Xn[0, 0] = np.inf
    with raises(ValueError, "X", "NaN or inf"):
        gc(params, grads, Xn, Y, print_msg=False)
    bad_p = {**params, "W2": params["W2"].copy()}
    bad_p["W2"][1, 0] = -np.inf
    with raises(ValueError, "parameters['W2']", "NaN or inf"):
        gc(bad_p, grads, X, Y, print_msg=False)
    with raises(ValueError, "X"):
        gc(params, grads, X[:, :0], Y[:, :0], print_msg=False)
    with raises(ValueError, "Y"):
        gc(params, grads, X, Y[:, :3], print_msg=False)
    with raises(ValueError, "X"):
        gc(params, grads, X[:2], Y, print_msg=False)


@pytest.mark.parametrize("key,index", [("dW2", (1, 2)), ("db1", (3, 0)), ("dW1", (0, 0)),
                                       ("db3", (0, 0))])
def test_check_gradients_names_the_worst_entry(key, index):
    from fastnn.gradcheck import check_gradients

    X, Y, params, grads = _gc_case()
    wrong = {k: g.copy() for k, g in grads.items()}
    wrong[key][index] += 0.5
    result = check_gradients(params, wrong, X, Y)
    assert (result.worst_key, result.worst_index) == (key, index)
    assert result.worst_grad == wrong[key][index]
    assert abs(result.worst_grad - result.worst_approx) == pytest.approx(0.5, abs=1e-6)
    assert result.describe_worst().startswith(f"{key}[{index[0]}, {index[1]}]: backprop ")
    flat = np.concatenate([wrong[k].ravel() for k in ("dW1", "db1", "dW2", "db2", "dW3",
                                                        "db3")])
    np.testing.assert_array_equal(result.grad, flat)
    gap = result.grad - result.gradapprox
    assert result.difference == pytest.approx(
        np.linalg.norm(gap) / (np.linalg.norm(result.grad)
                               + np.linalg.norm(result.gradapprox)), rel=1e-15)


def test_gradient_check_n_leaves_inputs_alone():
    X, Y, params, grads = _gc_case()
    before = snapshot(params, grads, X, Y)
    gradient_checking.gradient_check_n(params, grads, X, Y, print_msg=False)
    assert_unchanged(before, params, grads, X, Y)


def test_gradient_check_n_output_layer_must_match_labels():
    X, Y, params = _net(dims=(3, 4, 2), m=4)
    grads = _grads_like(params)
    with pytest.raises(ValueError, match="W2|Y|output"):
        gradient_checking.gradient_check_n(params, grads, X, Y, print_msg=False)


def test_vector_to_dictionary_errors():
    with raises(ValueError, "theta", "47"):
        gradient_checking.vector_to_dictionary(np.zeros((46, 1)))
    with raises(TypeError, "theta"):
        gradient_checking.vector_to_dictionary(np.zeros((47, 1), dtype=complex))
    with raises(TypeError, "theta"):
        gradient_checking.vector_to_dictionary("theta")
    with raises(TypeError, "theta"):
        gradient_checking.vector_to_dictionary(np.zeros(47).astype(str))
    _, _, params = _net()
    with raises(ValueError, "template", "'b2'"):
        gradient_checking.vector_to_dictionary(np.zeros(23), _without(params, "b2"))
    with raises(ValueError, "theta"):
        gradient_checking.vector_to_dictionary(np.zeros(22), params)


def test_vector_to_dictionary_round_trip():
    _, _, params = _net()
    theta, _ = gradient_checking.dictionary_to_vector(params)
    out = gradient_checking.vector_to_dictionary(theta, params)
    for k in params:
        np.testing.assert_array_equal(out[k], params[k])
    default = gradient_checking.vector_to_dictionary(np.arange(47))  # ints converted
    assert default["W1"].shape == (5, 4) and default["b3"].shape == (1, 1)
    assert default["W1"].dtype == np.float64


# --------------------------------------------------------------------------------------
# planar
# --------------------------------------------------------------------------------------

def test_planar_initialize_parameters_errors():
    with raises(ValueError, "n_x"):
        planar.initialize_parameters(0, 4, 1)
    with raises(ValueError, "n_h"):
        planar.initialize_parameters(2, -1, 1)
    with raises(TypeError, "n_y"):
        planar.initialize_parameters(2, 4, "1")
    with raises(TypeError, "n_x"):
        planar.initialize_parameters(2.0, 4, 1)
    p = planar.initialize_parameters(np.int64(2), 4, 1)
    assert p["W1"].shape == (4, 2)


def test_nn_model_errors(net):
    X, Y, _ = net
    for n_h, exc in ((0, ValueError), (-3, ValueError), (2.5, TypeError),
                     (True, TypeError), ("4", TypeError)):
        with raises(exc, "n_h"):
            planar.nn_model(X, Y, n_h, num_iterations=1)
    with raises(ValueError, "X"):
        planar.nn_model(np.zeros((2, 0)), np.zeros((1, 0)), 4, num_iterations=1)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with raises(ValueError, "X", "NaN"):
        planar.nn_model(Xn, Y, 4, num_iterations=1)
    with raises(ValueError, "Y"):
        planar.nn_model(X, Y[:, :2], 4, num_iterations=1)
    with raises(ValueError, "Y"):
        planar.nn_model(X, np.vstack([Y, Y]), 4, num_iterations=1)
    with raises(TypeError, "X"):
        planar.nn_model(X.astype(complex), Y, 4, num_iterations=1)


def test_nn_model_accepts_int_and_uint8(net):
    X, Y, _ = net
    p1 = planar.nn_model(X, Y.astype(np.uint8), 3, num_iterations=5)
    p2 = planar.nn_model(X, Y, 3, num_iterations=5)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])
    p3 = planar.nn_model(np.round(X).astype(int), Y.ravel(), 3, num_iterations=5)
    assert p3["W1"].dtype == np.float64


def test_planar_backward_errors(net):
    X, Y, _ = net
    params = planar.initialize_parameters(2, 4, 1)
    _, cache = planar.forward_propagation(X, params)
    with raises(ValueError, "cache", "'A1'"):
        planar.backward_propagation(params, _without(cache, "A1"), X, Y)
    with raises(ValueError, "cache['Z2']"):
        planar.backward_propagation(params, {**cache, "Z2": cache["Z2"][:, :2]}, X, Y)
    with raises(TypeError, "cache"):
        planar.backward_propagation(params, list(cache.values()), X, Y)
    with raises(ValueError, "parameters", "'b2'"):
        planar.backward_propagation(_without(params, "b2"), cache, X, Y)


def test_planar_backward_output_layer_must_match_labels(net):
    X, Y, _ = net
    params = planar.initialize_parameters(2, 4, 2)
    _, cache = planar.forward_propagation(X, params)
    with pytest.raises(ValueError, match="W2|Y|n_y"):
        planar.backward_propagation(params, cache, X, Y)


# --------------------------------------------------------------------------------------
# deep
# --------------------------------------------------------------------------------------

def _layer(m=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, m)), rng.standard_normal((2, 3)),
            rng.standard_normal((2, 1)))


@pytest.mark.parametrize("activation", ["tanh", "Relu", "linear", None, 1])
def test_linear_activation_forward_unknown_activation(activation):
    A, W, b = _layer()
    with raises(ValueError, "activation"):
        deep.linear_activation_forward(A, W, b, activation)


def test_linear_activation_forward_errors():
    A, W, b = _layer()
    f = deep.linear_activation_forward
    with raises(ValueError, "W", "columns"):
        f(A, np.ones((2, 4)), b, "relu")
    with raises(ValueError, "b"):
        f(A, W, np.ones((3, 1)), "relu")
    with raises(ValueError, "b"):
        f(A, W, np.ones((1, 2)), "relu")
    with raises(ValueError, "A_prev"):
        f(A[0], W, b, "relu")
    for kind, conv in BAD_DTYPE_ARRAYS.items():
        with raises(TypeError, "A_prev"):
            f(conv(A), W, b, "relu")
        with raises(TypeError, "W"):
            f(A, conv(W), b, "sigmoid")
        with raises(TypeError, "b"):
            f(A, W, conv(b), "sigmoid")


def test_linear_activation_forward_accepts_int_float32_and_layouts():
    A, W, b = _layer()
    ref, _ = deep.linear_activation_forward(A, W, b, "relu")
    A32, cache = deep.linear_activation_forward(A.astype(np.float32), W.astype(np.float32),
                                                b.astype(np.float32), "sigmoid")
    assert A32.dtype == np.float32 and cache[1].dtype == np.float32
    Ai = np.round(A * 3)
    out_int, _ = deep.linear_activation_forward(Ai.astype(int), W, b, "relu")
    out_float, _ = deep.linear_activation_forward(Ai, W, b, "relu")
    np.testing.assert_array_equal(out_int, out_float)
    bigW = np.zeros((4, 9))
    bigW[::2, ::3] = W
    out_f, _ = deep.linear_activation_forward(np.asfortranarray(A), bigW[::2, ::3],
                                              b.ravel(), "relu")
    np.testing.assert_array_equal(out_f, ref)


def test_linear_activation_forward_non_finite():
    A, W, b = _layer()
    W = W.copy()
    W[0, 0] = np.nan
    with raises(ValueError, "W", "NaN"):
        deep.linear_activation_forward(A, W, b, "relu")


def test_linear_activation_forward_non_finite_allowed_when_unchecked():
    A, W, b = _layer()
    A = A.copy()
    A[0, 0] = np.nan
    with fastnn.options(check_finite=False):
        out, _ = deep.linear_activation_forward(A, W, b, "sigmoid")
    assert np.isnan(out[:, 0]).all() and np.isfinite(out[:, 1:]).all()


def _deep_case(m=5):
    X, Y, params = _net(dims=(3, 4, 2, 1), m=m)
    AL, caches = deep.L_model_forward(X, params)
    return X, Y, params, AL, caches


def test_L_model_backward_errors():
    X, Y, params, AL, caches = _deep_case()
    with raises(ValueError, "caches"):
        deep.L_model_backward(AL, Y, [])
    with raises(ValueError, "caches"):
        deep.L_model_backward(AL, Y, None)
    with raises(ValueError, "Y", "(1, 5)"):
        deep.L_model_backward(AL, Y[:, :3], caches)
    Yn = Y.copy()
    Yn[0, 0] = np.inf
    with raises(ValueError, "Y", "NaN or inf"):
        deep.L_model_backward(AL, Yn, caches)
    with raises(TypeError, "Y"):
        deep.L_model_backward(AL, Y.astype(complex), caches)
    with raises(ValueError, "caches"):
        deep.L_model_backward(AL[:, :3], Y[:, :3], caches)
    bad = list(caches)
    bad[1] = (bad[1][0],)  # not ((A_prev, W, b), Z)
    with raises(ValueError, "caches[1]"):
        deep.L_model_backward(AL, Y, bad)
    bad = list(caches)
    (A_prev, W, b), Z = bad[1]
    bad[1] = ((A_prev, W, b[:1]), Z)
    with raises(ValueError, "caches['b2']"):
        deep.L_model_backward(AL, Y, bad)
    with raises(TypeError, "AL"):
        deep.L_model_backward(AL.astype(str), Y, caches)


def test_L_model_backward_accepts_1d_labels_and_int():
    X, Y, params, AL, caches = _deep_case()
    ref = deep.L_model_backward(AL, Y, caches)
    for Yv in (Y.ravel(), Y.astype(int), Y.astype(bool)):
        grads = deep.L_model_backward(AL, Yv, caches)
        for k in ref:
            np.testing.assert_array_equal(grads[k], ref[k])


def test_deep_update_and_two_layer_model_errors():
    X, Y, params, AL, caches = _deep_case()
    grads = deep.L_model_backward(AL, Y, caches)
    before = snapshot(params, grads)
    with raises(ValueError, "grads", "'db3'"):
        deep.update_parameters(params, _without(grads, "db3"), 0.1)
    with raises(ValueError, "learning_rate"):
        deep.update_parameters(params, grads, 0)
    assert_unchanged(before, params, grads)
    with raises(ValueError, "layers_dims"):
        deep.two_layer_model(X, Y, [3, 4, 2, 1], num_iterations=1)
    with raises(ValueError, "layers_dims"):
        deep.L_layer_model(X, Y, [2, 4, 1], num_iterations=1)
