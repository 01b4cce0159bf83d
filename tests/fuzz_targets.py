"""The calls the fuzz makes: every public function and how to build a valid call to it.

``tests/fuzz_driver.py`` runs them. Each :class:`Target` names a public function (or a
small wrapper that calls one: ``MLPClassifier`` fit and predict, ``training.train`` on a
``ParamBuffer``) and a builder that draws a valid call from a :class:`Gen`: sizes
(m = 1, 1x1 layers, layers wide enough for the BLAS path), float64 / float32 / int data
at saturating scales, labels as 0/1, bool, int, 1-D or real values. Scalars the driver
may replace are wrapped in :class:`S` with the kind of bad values to draw (``POOLS``,
``NAMES``); tuples are :class:`Tup` lists while they can be mutated.

Not fuzzed: the dataset loaders without arguments (``load_dataset``,
``load_planar_dataset``, ``load_extra_datasets``), ``load_2D_dataset`` and
``load_data`` (file paths), and ``plot_decision_boundary`` (matplotlib).
"""

import contextlib
import dataclasses
import io
import math

import numpy as np
from hypothesis import strategies as st

import fastnn
from fastnn import (
    deep,
    gradcheck,
    gradient_checking,
    initialization,
    optimization,
    planar,
    regularization,
    training,
)
from fastnn.network import ParamBuffer

# =====================================================================================
# Markers of mutable scalars and tuples, and the bad values drawn for them
# =====================================================================================

class S:
    """A scalar argument with a kind naming the pool its bad values come from."""

    __slots__ = ("value", "kind")

    def __init__(self, value, kind):
        self.value, self.kind = value, kind


class Tup(list):
    """A tuple while the tree is being mutated (tuples are immutable)."""


def _decay_nan(lr0, epoch, rate):
    return float("nan")


def _decay_negative(lr0, epoch, rate):
    return -lr0


def _decay_text(lr0, epoch, rate):
    return "0.1"


HUGE = 10**400          # beyond float range: float(HUGE) raises OverflowError
POOLS = {
    "rate": [0, 0.0, -0.1, -1, 1e-300, 1e300, math.inf, -math.inf, math.nan, HUGE, 2**63,
             "0.1", True, None, np.float32(0.01), np.int64(1), 2, 1j],
    "prob": [0, 0.0, -0.5, 1, 1.0, 1.5, 1e-9, 0.999999, math.nan, math.inf, HUGE, "0.5",
             True, None, np.float32(0.7), np.float64(0.25), 2],
    "beta": [0, 0.0, 1, 1.0, -0.1, 0.999999999, math.nan, 1.5, HUGE, "0.9", None,
             np.float64(0.5), True],
    "lambd": [0, -1, 0.0, 1e300, math.inf, math.nan, HUGE, "0.7", None, 3, True,
              np.float32(0.1)],
    "real": [0, 1.5, -1e308, 1e308, math.nan, math.inf, HUGE, "1", None, True,
             np.float32(2.5), 1j, np.int64(-3)],
    # sizes and counts stay small: a huge valid size is a resource problem, not a bug
    "count": [0, 1, 2, -1, 1.0, 2.5, True, None, "3", np.int64(2), np.int32(1),
              np.uint8(2)],
    "size": [0, 1, 2, 3, -1, -3, 1.0, 2.5, True, False, None, "4", np.int64(3),
             np.uint8(2)],
    "seed": [0, 1, -1, 2**32 - 2, 2**32 - 1, 2**32, 2**63, HUGE, 1.5, True, None, "1",
             np.int64(5), np.uint32(7)],
    "rseed": [0, 1, -1, 2**32, 2**63, HUGE, 1.5, True, "1", np.int64(5)],
    "t": [1, 0, -1, 2, 1000, 2**62, 2**63, HUGE, 1.0, True, None, "2", np.int64(3)],
    "epoch": [0, 1, -1, 7, 10**6, 2**63, HUGE, 1.0, True, None, "2", np.int64(3)],
    "flag": [True, False, 0, 1, None, "yes", np.bool_(True)],
    "decay": [None, optimization.update_lr, optimization.schedule_lr_decay, _decay_nan,
              _decay_negative, _decay_text, 5, "update_lr"],
}
NAMES = {
    "activation": ["relu", "sigmoid", "tanh", "linear", "Relu", "SIGMOID"],
    "hidden": ["relu", "tanh", "sigmoid", "linear"],
    "optimizer": ["gd", "momentum", "adam", "sgd", "Adam"],
    "init": ["zeros", "random", "he", "xavier", "small", "He", "normal"],
    "dropout": ["compat", "fast", "slow"],
    "cost_mode": ["sum", "nansum", "clipped", "mean"],
    "grad_form": ["dw", "dz", "chain", "dW"],
    "backend": ["numpy", "numba", "bogus"],
}
BAD_NAMES = ["", None, 1, b"relu", "relu ", ["relu"]]


# =====================================================================================
# Generating valid calls
# =====================================================================================

class Gen:
    """Draws the pieces of a valid call: sizes, arrays, parameter dicts, labels."""

    def __init__(self, draw):
        self.draw = draw
        self.rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="values"))
        self.dtype = draw(st.sampled_from(["f8"] * 6 + ["f4"] * 3 + ["i8"]), label="dtype")
        self.scale = draw(st.sampled_from([1.0] * 6 + [1e-3, 30.0, 1e3]), label="scale")

    def pick(self, options, label=None):
        return self.draw(st.sampled_from(options), label=label)

    def int(self, lo, hi, label=None):
        return self.draw(st.integers(lo, hi), label=label)

    def m(self, hi=80):
        return self.draw(st.one_of(st.sampled_from([1, 1, 2, 3, 5, 8, 17, 64]),
                                   st.integers(1, hi)), label="m")

    def n(self, hi=6, big=True):
        options = st.integers(1, hi)
        if big:
            options = st.one_of(options, st.sampled_from([1, 20, 40]))
        return self.draw(options, label="n")

    def _cast(self, x, dtype=None):
        dtype = dtype or self.dtype
        if dtype == "i8":
            return np.round(x * 3).astype(np.int64)
        return x.astype(dtype)

    def arr(self, shape, scale=None, dtype=None):
        x = self.rng.standard_normal(shape) * (self.scale if scale is None else scale)
        return self._cast(x, dtype)

    def probs(self, shape):
        p = self.rng.uniform(0.02, 0.98, shape)
        if self.draw(st.booleans(), label="saturated"):
            p.flat[self.rng.integers(0, p.size)] = self.pick([0.0, 1.0, 1e-300])
        return p.astype("f4" if self.dtype == "f4" else "f8")

    def labels(self, m, dtype=None):
        y = (self.rng.random((1, m)) > 0.5).astype(np.float64)
        kind = dtype or self.pick(["same", "same", "same", "bool", "int", "1d", "real"],
                                  label="labels")
        if kind == "bool":
            return y.astype(bool)
        if kind == "int":
            return y.astype(np.int64)
        if kind == "1d":
            return y.ravel()
        if kind == "real":
            return self.rng.random((1, m))
        return self._cast(y) if self.dtype != "i8" else y.astype(np.int64)

    def dims(self, L, out=1, hi=6, big=True):
        return [self.n(hi, big) for _ in range(L)] + [out]

    def params(self, dims):
        p = {}
        for l in range(1, len(dims)):
            p[f"W{l}"] = self.arr((dims[l], dims[l - 1]),
                                  scale=self.scale / math.sqrt(dims[l - 1]))
            p[f"b{l}"] = self.arr((dims[l], 1), scale=0.1 * self.scale)
        return p

    def grads(self, params, lower=False):
        return {"d" + k: self.arr(np.shape(v)) for k, v in params.items()}

    def state(self, params, positive=False):
        s = {}
        for k, v in params.items():
            a = self.rng.standard_normal(np.shape(v))
            s["d" + k] = self._cast(np.abs(a) if positive else a)
        return s

    def any_x(self):
        kind = self.pick(["array", "array", "scalar", "empty", "0d", "3d"], label="x")
        if kind == "scalar":
            return S(float(self.rng.standard_normal() * self.scale), "real")
        if kind == "empty":
            return self.arr((self.int(0, 3), 0))
        if kind == "0d":
            return self.arr(())
        if kind == "3d":
            return self.arr((2, 3, self.int(1, 4)))
        return self.arr((self.n(5), self.m(30)))


def _numpy_call(fn, *args, **kwargs):
    """Run ``fn`` on the numpy backend (to build caches for a valid baseline)."""
    with fastnn.use_backend("numpy"), np.errstate(all="ignore"), \
            contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


# =====================================================================================
# The targets
# =====================================================================================

@dataclasses.dataclass
class Target:
    """One public function and how to build a valid call to it."""

    name: str
    fn: object
    build: object                    # Gen -> (args list, kwargs dict)
    mutates: bool = False            # updates its inputs in place on success
    rtol_factor: float = 1.0         # looser numeric tolerance (documented where used)
    compare: str = None              # name of a custom comparison (fuzz_driver.COMPARES)
    single_values_differ: bool = False   # float32 values differ by design (see use)
    scale_floor: float = 0.0         # least scale of the tolerance (see use)


TARGETS = []


def target(name, fn, **kw):
    def register(build):
        TARGETS.append(Target(name, fn, build, **kw))
        return build
    return register


# ---- shared builders ----------------------------------------------------------------
def _three_layer(g, out=1, small=False):
    dims = g.dims(3, out, hi=4 if small else 6, big=not small)
    m = g.m(30 if small else 80)
    X = g.arr((dims[0], m))
    return X, g.labels(m), g.params(dims), dims


def _update_args(g, L=None, chain=True):
    if L is None:
        L = g.int(1, 3, label="L")
    if chain:
        params = g.params(g.dims(L, g.n(4, big=False), big=False))
    else:                           # the optimizers' test shapes: not a chain
        params = {}
        for l in range(1, L + 1):
            params[f"W{l}"] = g.arr((g.n(4, big=False), g.n(4, big=False)))
            params[f"b{l}"] = g.arr((params[f"W{l}"].shape[0], 1))
    return params, g.grads(params)


def _name(value, pool):
    return S(value, "name:" + pool)


def _act_fn(name, fn):
    @target(name, fn)
    def build(g):
        return [g.any_x()], {}


for _mod in (initialization, deep):
    _act_fn(f"{_mod.__name__.split('.')[-1]}.sigmoid", _mod.sigmoid)
    _act_fn(f"{_mod.__name__.split('.')[-1]}.relu", _mod.relu)


def _dims_list(g, L=None, out=None):
    L = g.int(1, 4, label="L") if L is None else L
    dims = [S(g.n(5, big=False), "size") for _ in range(L + 1)]
    if out is not None:
        dims[-1] = S(out, "size")
    return dims


for _name_, _fn in [("initialization.initialize_parameters_zeros",
                     initialization.initialize_parameters_zeros),
                    ("initialization.initialize_parameters_random",
                     initialization.initialize_parameters_random),
                    ("initialization.initialize_parameters_he",
                     initialization.initialize_parameters_he),
                    ("regularization.initialize_parameters",
                     regularization.initialize_parameters),
                    ("optimization.initialize_parameters", optimization.initialize_parameters),
                    ("deep.initialize_parameters_deep", deep.initialize_parameters_deep)]:
    target(_name_, _fn)(lambda g: ([_dims_list(g)], {}))

for _name_, _fn in [("planar.initialize_parameters", planar.initialize_parameters),
                    ("deep.initialize_parameters", deep.initialize_parameters)]:
    target(_name_, _fn)(lambda g: ([S(g.n(5, big=False), "size") for _ in range(3)], {}))


# ---- the three-layer modules: forward, backward, costs, updates, predictions ------------
_FWD_MODULES = {"initialization": initialization, "regularization": regularization,
                "optimization": optimization}

for _mname, _mod in _FWD_MODULES.items():
    @target(f"{_mname}.forward_propagation", _mod.forward_propagation)
    def _build_fwd(g):
        X, _, params, _ = _three_layer(g)
        return [X, params], {}

    @target(f"{_mname}.backward_propagation", _mod.backward_propagation)
    def _build_bwd(g, _mod=_mod):
        X, Y, params, _ = _three_layer(g)
        _, cache = _numpy_call(_mod.forward_propagation, X, params)
        return [X, Y, cache], {}

    @target(f"{_mname}.predict", _mod.predict)
    def _build_predict(g):
        X, Y, params, _ = _three_layer(g)
        return [X, Y, params], {}

    @target(f"{_mname}.predict_dec", _mod.predict_dec)
    def _build_predict_dec(g):
        X, _, params, _ = _three_layer(g)
        return [params, X], {}


def _cost_args(g):
    m = g.m()
    shape = g.pick([(1, m), (1, m), (m,)], label="A shape")
    return [g.probs(shape), g.labels(m)], {}


for _name_, _fn in [("initialization.compute_loss", initialization.compute_loss),
                    ("regularization.compute_cost", regularization.compute_cost),
                    ("optimization.compute_cost", optimization.compute_cost),
                    ("planar.compute_cost", planar.compute_cost),
                    ("deep.compute_cost", deep.compute_cost)]:
    target(_name_, _fn)(_cost_args)


for _name_, _fn in [("initialization.update_parameters", initialization.update_parameters),
                    ("regularization.update_parameters", regularization.update_parameters),
                    ("optimization.update_parameters_with_gd",
                     optimization.update_parameters_with_gd),
                    ("planar.update_parameters", planar.update_parameters),
                    ("deep.update_parameters", deep.update_parameters)]:
    @target(_name_, _fn, mutates=True)
    def _build_gd(g):
        params, grads = _update_args(g, chain=g.draw(st.booleans(), label="chain"))
        return [params, grads, S(g.pick([0.1, 1.2, 0.0075]), "rate")], {}


@target("optimization.update_parameters_with_momentum",
        optimization.update_parameters_with_momentum, mutates=True)
def _build_momentum(g):
    params, grads = _update_args(g, chain=False)
    return [params, grads, g.state(params), S(g.pick([0.9, 0.0, 0.5]), "beta"),
            S(g.pick([0.1, 0.01]), "rate")], {}


@target("optimization.update_parameters_with_adam", optimization.update_parameters_with_adam,
        mutates=True)
def _build_adam(g):
    params, grads = _update_args(g, chain=False)
    kwargs = {}
    for key, value, kind in (("learning_rate", 0.01, "rate"), ("beta1", 0.9, "beta"),
                             ("beta2", 0.999, "beta"), ("epsilon", 1e-8, "rate")):
        if g.draw(st.booleans(), label=key):
            kwargs[key] = S(value, kind)
    return [params, grads, g.state(params), g.state(params, positive=True),
            S(g.int(1, 5), "t")], kwargs


@target("optimization.initialize_velocity", optimization.initialize_velocity)
def _build_velocity(g):
    return [_update_args(g, chain=False)[0]], {}


@target("optimization.initialize_adam", optimization.initialize_adam)
def _build_init_adam(g):
    return [_update_args(g, chain=False)[0]], {}


@target("optimization.load_params_and_grads", optimization.load_params_and_grads)
def _build_load_pg(g):
    return ([S(g.int(0, 20), "seed")] if g.draw(st.booleans()) else []), {}


@target("optimization.random_mini_batches", optimization.random_mini_batches)
def _build_batches(g):
    m = g.m(150)
    X = g.arr((g.n(4, big=False), m))
    return [X, g.labels(m, "same"), S(g.pick([1, 2, 64, m, m + 1]), "size"),
            S(g.int(0, 20), "seed")], {}


@target("optimization.update_lr", optimization.update_lr)
def _build_update_lr(g):
    return [S(0.1, "rate"), S(g.int(0, 100), "epoch"), S(g.pick([1, 0.5, 0]), "lambd")], {}


@target("optimization.schedule_lr_decay", optimization.schedule_lr_decay)
def _build_schedule(g):
    args = [S(0.1, "rate"), S(g.int(0, 5000), "epoch"), S(g.pick([1, 0.3]), "lambd")]
    if g.draw(st.booleans()):
        args.append(S(g.pick([1, 1000]), "size"))
    return args, {}


# ---- regularization ------------------------------------------------------------------
@target("regularization.compute_cost_with_regularization",
        regularization.compute_cost_with_regularization)
def _build_cost_reg(g):
    X, Y, params, _ = _three_layer(g)
    A3, _ = _numpy_call(regularization.forward_propagation, X, params)
    return [A3, Y, params, S(g.pick([0.0, 0.1, 0.7]), "lambd")], {}


@target("regularization.backward_propagation_with_regularization",
        regularization.backward_propagation_with_regularization)
def _build_bwd_reg(g):
    X, Y, params, _ = _three_layer(g)
    _, cache = _numpy_call(regularization.forward_propagation, X, params)
    return [X, Y, cache, S(g.pick([0.0, 0.1, 0.7]), "lambd")], {}


@target("regularization.forward_propagation_with_dropout",
        regularization.forward_propagation_with_dropout)
def _build_fwd_drop(g):
    X, _, params, _ = _three_layer(g)
    kwargs = {}
    if g.draw(st.booleans(), label="keep_prob given"):
        kwargs["keep_prob"] = S(g.pick([0.5, 0.86, 1.0, 0.01]), "prob")
    return [X, params], kwargs


@target("regularization.backward_propagation_with_dropout",
        regularization.backward_propagation_with_dropout)
def _build_bwd_drop(g):
    X, Y, params, _ = _three_layer(g)
    keep_prob = g.pick([0.5, 0.86, 1.0])
    _, cache = _numpy_call(regularization.forward_propagation_with_dropout, X, params,
                           keep_prob)
    return [X, Y, cache, S(keep_prob, "prob")], {}


# ---- models (short runs) ---------------------------------------------------------------
# A training run compounds rounding over its iterations: the tolerance is the contract's
# 1e-12 (float64) / 1e-5 (float32) per step, times this factor for at most 4 steps.
MODEL_RTOL = 1e3


def _model_data(g, n_x=None, m_hi=80):
    m = g.m(m_hi)
    n_x = n_x or g.n(4, big=False)
    return g.arr((n_x, m), scale=g.pick([1.0, 1.0, 30.0])), g.labels(m), n_x


@target("initialization.model", initialization.model, rtol_factor=MODEL_RTOL)
def _build_init_model(g):
    X, Y, _ = _model_data(g)
    return [X, Y], {"learning_rate": S(g.pick([0.01, 0.5]), "rate"),
                    "num_iterations": S(g.int(0, 3), "count"),
                    "print_cost": S(g.draw(st.booleans()), "flag"),
                    "initialization": _name(g.pick(["he", "zeros", "random"]), "init")}


@target("regularization.model", regularization.model, rtol_factor=MODEL_RTOL)
def _build_reg_model(g):
    X, Y, _ = _model_data(g)
    return [X, Y], {"learning_rate": S(g.pick([0.3, 0.01]), "rate"),
                    "num_iterations": S(g.int(0, 3), "count"),
                    "print_cost": S(g.draw(st.booleans()), "flag"),
                    "lambd": S(g.pick([0, 0.7]), "lambd"),
                    "keep_prob": S(g.pick([1, 0.86]), "prob")}


@target("optimization.model", optimization.model, rtol_factor=MODEL_RTOL)
def _build_opt_model(g):
    X, Y, n_x = _model_data(g, m_hi=150)
    dims = [S(n_x, "size")] + [S(g.n(5, big=False), "size")
                               for _ in range(g.int(1, 2))] + [S(1, "size")]
    kwargs = {"num_epochs": S(g.int(0, 3), "count"),
              "print_cost": S(g.draw(st.booleans()), "flag"),
              "mini_batch_size": S(g.pick([64, 1, 7, 1000]), "size")}
    for key, value, kind in (("learning_rate", 0.0007, "rate"), ("beta", 0.9, "beta"),
                             ("beta1", 0.9, "beta"), ("beta2", 0.999, "beta"),
                             ("epsilon", 1e-8, "rate"), ("decay", None, "decay"),
                             ("decay_rate", 1, "lambd")):
        if g.draw(st.booleans(), label=key):
            kwargs[key] = S(value, kind)
    return [X, Y, dims, _name(g.pick(["gd", "momentum", "adam"]), "optimizer")], kwargs


@target("planar.nn_model", planar.nn_model, rtol_factor=MODEL_RTOL)
def _build_nn_model(g):
    X, Y, _ = _model_data(g)
    return [X, Y, S(g.n(5, big=False), "size")], {
        "num_iterations": S(g.int(0, 3), "count"),
        "print_cost": S(g.draw(st.booleans()), "flag")}


@target("deep.two_layer_model", deep.two_layer_model, rtol_factor=MODEL_RTOL)
def _build_two_layer(g):
    X, Y, n_x = _model_data(g)
    return [X, Y, Tup([S(n_x, "size"), S(g.n(5, big=False), "size"), S(1, "size")])], {
        "learning_rate": S(0.0075, "rate"), "num_iterations": S(g.int(0, 3), "count"),
        "print_cost": S(g.draw(st.booleans()), "flag")}


@target("deep.L_layer_model", deep.L_layer_model, rtol_factor=MODEL_RTOL)
def _build_L_layer(g):
    X, Y, n_x = _model_data(g)
    dims = [S(n_x, "size")] + [S(g.n(5, big=False), "size")
                               for _ in range(g.int(1, 3))] + [S(1, "size")]
    return [X, Y, dims], {"learning_rate": S(0.0075, "rate"),
                          "num_iterations": S(g.int(0, 3), "count"),
                          "print_cost": S(g.draw(st.booleans()), "flag")}


# ---- gradient checking ---------------------------------------------------------------
# The two-sided difference divides a cost difference by 2 epsilon: one rounding of the
# cost J (1e-16 relative) becomes an absolute error of about 1e-16 * J / 1e-7 in every
# gradapprox entry, whatever the gradient's size, and the difference
# ||grad - gradapprox|| / (||grad|| + ||gradapprox||), a number in [0, 1], inherits it.
# Tolerance: the contract's times 1e5, on a scale of at least 1.
GRADCHECK_RTOL = 1e5

for _name_, _fn in [("gradient_checking.forward_propagation",
                     gradient_checking.forward_propagation),
                    ("gradient_checking.backward_propagation",
                     gradient_checking.backward_propagation)]:
    target(_name_, _fn)(lambda g: ([S(g.pick([2.0, -0.5, 0]), "real"),
                                    S(g.pick([4.0, 1e-3]), "real")], {}))


@target("gradient_checking.gradient_check", gradient_checking.gradient_check)
def _build_gc1(g):
    args = [S(g.pick([2.0, -0.5, 0.0, 3]), "real"), S(g.pick([4.0, 1e-3]), "real")]
    if g.draw(st.booleans()):
        args.append(S(1e-7, "rate"))
    return args, {}


@target("gradient_checking.dictionary_to_vector", gradient_checking.dictionary_to_vector)
def _build_d2v(g):
    return [g.params(g.dims(g.int(1, 3), hi=4, big=False))], {}


@target("gradient_checking.gradients_to_vector", gradient_checking.gradients_to_vector)
def _build_g2v(g):
    return [g.grads(g.params(g.dims(g.int(1, 3), hi=4, big=False)))], {}


@target("gradient_checking.vector_to_dictionary", gradient_checking.vector_to_dictionary)
def _build_v2d(g):
    if g.draw(st.booleans(), label="template"):
        template = g.params(g.dims(g.int(1, 3), hi=4, big=False))
        n = sum(np.size(v) for v in template.values())
        return [g.arr((n, 1)), template], {}
    return [g.arr((47, 1))], {}


@target("gradient_checking.forward_propagation_n", gradient_checking.forward_propagation_n)
def _build_fwd_n(g):
    X, Y, params, _ = _three_layer(g, small=True)
    return [X, Y, params], {}


@target("gradient_checking.backward_propagation_n", gradient_checking.backward_propagation_n)
def _build_bwd_n(g):
    X, Y, params, _ = _three_layer(g, small=True)
    _, cache = _numpy_call(gradient_checking.forward_propagation_n, X, Y, params)
    return [X, Y, cache], {}


def _gc_case(g, L=3, hidden="relu"):
    dims = g.dims(L, hi=4, big=False)
    m = g.m(20)
    X = g.arr((dims[0], m))
    Y = g.labels(m)
    params = g.params(dims)
    if g.draw(st.booleans(), label="true gradients"):
        buf = _numpy_call(ParamBuffer.from_params,
                          {k: np.asarray(v, dtype=np.float64) for k, v in params.items()})
        Xf = np.asarray(X, np.float64)
        Yf = np.asarray(Y, np.float64).reshape(1, -1)
        with fastnn.use_backend("numpy"), np.errstate(all="ignore"):
            from fastnn import network
            Ws = [buf.params[f"W{l}"] for l in range(1, L + 1)]
            bs = [buf.params[f"b{l}"] for l in range(1, L + 1)]
            Zs, As, Ds = network.forward(Xf, Ws, bs, hidden)
            dWs, dbs = network.backward(Yf, Ws, Zs, As, Ds, hidden)
        grads = {}
        for l in range(1, L + 1):
            grads[f"dW{l}"] = dWs[l - 1]
            grads[f"db{l}"] = dbs[l - 1]
    else:
        grads = g.grads(params)
    return params, grads, X, Y


# In float32 a 1e-7 perturbation is below the rounding of the cost: NumPy's float32
# differences are rounding noise, while the numba kernel computes float32 inputs in
# float64 (kernels/cpu.py; fastnn warns). Only the structure of the result is compared.
@target("gradient_checking.gradient_check_n", gradient_checking.gradient_check_n,
        rtol_factor=GRADCHECK_RTOL, single_values_differ=True, scale_floor=1.0)
def _build_gc_n(g):
    params, grads, X, Y = _gc_case(g)
    kwargs = {}
    if g.draw(st.booleans(), label="epsilon given"):
        kwargs["epsilon"] = S(g.pick([1e-7, 1e-4]), "rate")
    kwargs["print_msg"] = S(g.draw(st.booleans()), "flag")
    return [params, grads, X, Y], kwargs


@target("gradcheck.check_gradients", gradcheck.check_gradients, rtol_factor=GRADCHECK_RTOL,
        compare="gradcheck", single_values_differ=True, scale_floor=1.0)
def _build_check_gradients(g):
    hidden = g.pick(["relu", "tanh"])
    params, grads, X, Y = _gc_case(g, L=g.int(1, 3), hidden=hidden)
    kwargs = {"hidden": _name(hidden, "hidden")}
    if g.draw(st.booleans(), label="epsilon given"):
        kwargs["epsilon"] = S(g.pick([1e-7, 1e-5]), "rate")
    return [params, grads, X, Y], kwargs


# ---- planar ------------------------------------------------------------------------
def _planar_case(g):
    n_x, n_h = g.n(4), g.n(6)
    m = g.m()
    return g.arr((n_x, m)), g.labels(m), g.params([n_x, n_h, 1])


@target("planar.layer_sizes", planar.layer_sizes)
def _build_layer_sizes(g):
    X, Y, _ = _planar_case(g)
    return [X, Y if np.ndim(Y) == 2 else Y.reshape(1, -1)], {}


@target("planar.forward_propagation", planar.forward_propagation)
def _build_pl_fwd(g):
    X, _, params = _planar_case(g)
    return [X, params], {}


@target("planar.backward_propagation", planar.backward_propagation)
def _build_pl_bwd(g):
    X, Y, params = _planar_case(g)
    _, cache = _numpy_call(planar.forward_propagation, X, params)
    return [params, cache, X, Y], {}


@target("planar.predict", planar.predict)
def _build_pl_predict(g):
    X, _, params = _planar_case(g)
    return [params, X], {}


# ---- deep: building blocks -------------------------------------------------------------
def _layer_args(g):
    n_out, n_in, m = g.n(), g.n(), g.m()
    return g.arr((n_in, m)), g.arr((n_out, n_in)), g.arr((n_out, 1), scale=0.1)


@target("deep.linear_forward", deep.linear_forward)
def _build_linear_forward(g):
    return list(_layer_args(g)), {}


@target("deep.linear_activation_forward", deep.linear_activation_forward)
def _build_laf(g):
    return list(_layer_args(g)) + [_name(g.pick(["relu", "sigmoid"]), "activation")], {}


for _name_, _fn in [("deep.relu_backward", deep.relu_backward),
                    ("deep.sigmoid_backward", deep.sigmoid_backward)]:
    @target(_name_, _fn)
    def _build_act_bwd(g):
        shape = (g.n(), g.m())
        return [g.arr(shape), g.arr(shape)], {}


@target("deep.linear_backward", deep.linear_backward)
def _build_linear_backward(g):
    A, W, b = _layer_args(g)
    Z, cache = _numpy_call(deep.linear_forward, A, W, b)
    return [g.arr(Z.shape), cache], {}


@target("deep.linear_activation_backward", deep.linear_activation_backward)
def _build_lab(g):
    A, W, b = _layer_args(g)
    act = g.pick(["relu", "sigmoid"])
    out, cache = _numpy_call(deep.linear_activation_forward, A, W, b, act)
    return [g.arr(out.shape), cache, _name(act, "activation")], {}


@target("deep.L_model_forward", deep.L_model_forward)
def _build_L_fwd(g):
    dims = g.dims(g.int(1, 4), out=g.pick([1, 1, 2]))
    m = g.m()
    return [g.arr((dims[0], m)), g.params(dims)], {}


@target("deep.L_model_backward", deep.L_model_backward)
def _build_L_bwd(g):
    dims = g.dims(g.int(1, 4))
    m = g.m()
    AL, caches = _numpy_call(deep.L_model_forward, g.arr((dims[0], m)), g.params(dims))
    if g.draw(st.booleans(), label="AL from elsewhere"):
        AL = g.probs((1, m))
    return [AL, g.labels(m), caches], {}


@target("deep.predict", deep.predict)
def _build_deep_predict(g):
    dims = g.dims(g.int(1, 3))
    m = g.m()
    return [g.arr((dims[0], m)), g.labels(m), g.params(dims)], {}


# ---- core: training.train, MLPClassifier ------------------------------------------------
def _train_call(X, Y, dims, theta, **kwargs):
    """``training.train`` on a ParamBuffer made from ``dims`` and ``theta``."""
    buffer = ParamBuffer(dims, dtype=np.asarray(theta).dtype)
    buffer.theta[...] = theta
    result = training.train(X, Y, buffer, **kwargs)
    return buffer.theta, result


@target("training.train", _train_call, rtol_factor=MODEL_RTOL)
def _build_train(g):
    dims = g.dims(g.int(1, 3), hi=5, big=False)
    m = g.m(120)
    X = g.arr((dims[0], m))
    theta_dtype = np.float32 if g.dtype == "f4" else np.float64
    P = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims)))
    theta = (g.rng.standard_normal(P) * 0.5).astype(theta_dtype)
    hidden = g.pick(["relu", "relu", "tanh"])
    kwargs = {"learning_rate": S(g.pick([0.1, 0.01]), "rate"),
              "num_epochs": S(g.int(0, 3), "count"), "hidden": _name(hidden, "hidden")}
    optional = [("optimizer", _name(g.pick(["gd", "momentum", "adam"]), "optimizer")),
                ("beta", S(0.9, "beta")), ("beta1", S(0.9, "beta")),
                ("beta2", S(0.999, "beta")), ("epsilon", S(1e-8, "rate")),
                ("batch_size", S(g.pick([None, 1, 16, 64]), "size")),
                ("shuffle_seed", S(g.int(0, 50), "seed")),
                ("decay", S(None, "decay")), ("decay_rate", S(0.5, "lambd")),
                ("lambd", S(g.pick([0.0, 0.7]), "lambd")),
                ("keep_prob", S(1.0 if hidden == "tanh" else g.pick([1.0, 0.8]), "prob")),
                ("dropout", _name(g.pick(["compat", "fast"]), "dropout")),
                ("dropout_seed", S(g.int(0, 50), "seed")),
                ("cost_mode", _name(g.pick(["sum", "nansum", "clipped"]), "cost_mode")),
                ("grad_form", _name(g.pick(["dw", "dz", "chain"]), "grad_form")),
                ("cost_every", S(g.pick([1, 2]), "size"))]
    for key, value in optional:
        if g.draw(st.booleans(), label=key):
            kwargs[key] = value
    return [X, g.labels(m), dims, theta], kwargs


def _mlp_fit_predict(X, y, X_new, **params):
    """Fit ``fastnn.MLPClassifier`` and predict: the attributes and predictions."""
    clf = fastnn.MLPClassifier(**params).fit(X, y)
    return (clf.coefs_, clf.intercepts_, clf.loss_curve_, clf.n_iter_, clf.classes_,
            clf.predict(X_new), clf.predict_proba(X_new))


@target("MLPClassifier.fit_predict", _mlp_fit_predict, rtol_factor=MODEL_RTOL)
def _build_mlp(g):
    m, n_x = g.m(120), g.n(4, big=False)
    X = g.arr((m, n_x))
    y = (g.rng.random(m) > 0.5).astype(int)
    y[0], y[-1] = 0, 1                          # two classes (unless m == 1)
    kind = g.pick(["int", "str", "float", "bool"], label="classes")
    if kind == "str":
        y = np.where(y == 1, "cat", "dog")
    elif kind == "float":
        y = y * 2.5 - 1
    elif kind == "bool":
        y = y.astype(bool)
    params = {"hidden_layer_sizes": Tup(S(g.n(5, big=False), "size")
                                        for _ in range(g.int(0, 2))),
              "max_iter": S(g.int(1, 4), "count"),
              "random_state": S(g.int(0, 99), "rseed")}
    optional = [("optimizer", _name(g.pick(["gd", "momentum", "adam"]), "optimizer")),
                ("learning_rate", S(g.pick([0.01, 0.1]), "rate")),
                ("batch_size", S(g.pick([None, 1, 16, 64]), "size")),
                ("l2", S(g.pick([0.0, 0.1]), "lambd")),
                ("keep_prob", S(g.pick([1.0, 0.8]), "prob")),
                ("init", _name(g.pick(["he", "xavier", "small", "zeros"]), "init")),
                ("backend", S(None, "name:backend"))]
    for key, value in optional:
        if g.draw(st.booleans(), label=key):
            params[key] = value
    return [X, y, g.arr((g.m(20), n_x))], params
