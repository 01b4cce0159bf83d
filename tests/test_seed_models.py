"""Whole-model training runs at the notebooks' iteration counts, against the seeds.

Every expected cost and accuracy is a value a seed write-up in ``shared/seeds/`` prints
(file and line beside each). Costs are read from the lines the façade prints
("Cost after iteration N: value", "Cost after epoch N: value") and compared to 1e-8
absolute (DESIGN.md), ``inf`` where the seed prints ``inf``; accuracies are compared
exactly, both as printed by ``predict`` ("Accuracy: <float>") and recomputed from the
returned predictions as the course does (mean of predictions == labels).

Each model is trained once per module (a memoising module-scoped fixture) and shared by
the assertions about it; module-scoped fixtures cannot use capsys, so they capture the
printed lines with ``contextlib.redirect_stdout``. The 2-D football data (``data.mat``)
comes from ``shared/datasets``; tests that need it skip when it is absent.

One run depends on the CPU: the large random initialisation is chaotic, and where
NumPy's float64 ``exp`` is not the C library's (AVX-512 CPUs), NumPy itself prints other
costs after iteration 0 than the seed. There the test reproduces NumPy's own.

Not here, because no seed prints values the façade can reproduce:
- planar ``nn_model``: seed 003 prints costs of a variant seeded with 2030 (data and
  initialisation) and stepped at learning rate 0.5, where the course and the façade use
  seeds 1 and 2 and 1.2;
- deep ``two_layer_model`` / ``L_layer_model``: no seed prints their costs;
- the no-regularisation model's accuracies and learning-rate decay runs: not printed.

Seed files: 000 = 000_8432868c951d8c5f.txt, 001 = 001_bd892e03c0789f49.txt.
"""

import contextlib
import importlib
import io
import math
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastnn  # noqa: E402

pytestmark = pytest.mark.slow

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
COST_ATOL = 1e-8

_COST_LINE = re.compile(r"Cost after (iteration|epoch) (\d+): (\S+)")
_ACCURACY_LINE = re.compile(r"Accuracy: (\S+)")


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def _module(name):
    return importlib.import_module(f"fastnn.{name}")


def _run(function, *args, **kwargs):
    """Call ``function`` capturing what it prints; close any figure it opens."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
        # the notebooks' own runs warn (log(0), exp overflow); the numbers are the test
        warnings.simplefilter("ignore", RuntimeWarning)
        result = function(*args, **kwargs)
    plt.close("all")
    return result, buffer.getvalue()


def _printed_costs(out, unit):
    """{N: printed token} from the "Cost after <unit> N: value" lines."""
    costs = {}
    for found_unit, number, token in _COST_LINE.findall(out):
        if found_unit == unit:
            assert int(number) not in costs, f"{unit} {number} printed twice"
            costs[int(number)] = token
    return costs


def _print_tolerance(token):
    """Half a unit of the last digit printed in ``token`` (0 for ``inf``/``nan``)."""
    mantissa, _, exponent = token.lower().partition("e")
    if not any(ch.isdigit() for ch in mantissa):
        return 0.0
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals) * (10.0 ** int(exponent) if exponent else 1.0)


def assert_costs(out, unit, expected, allow_rounded_print=False):
    """The printed costs are exactly at ``expected``'s steps and within 1e-8 of them.

    With ``allow_rounded_print`` (the optimisation notebook prints "%f"), a value printed
    with fewer digits is compared to half a unit of its last printed digit instead.
    """
    printed = _printed_costs(out, unit)
    assert sorted(printed) == sorted(expected), (
        f"printed a cost at {unit}s {sorted(printed)}, the seed at {sorted(expected)}:\n"
        f"{out[-2000:]}")
    for step, want in expected.items():
        token = printed[step]
        got = float(token)
        if math.isinf(want):
            assert got == want, f"{unit} {step}: printed {token}, the seed prints {want}"
            continue
        tolerance = COST_ATOL
        if allow_rounded_print:
            tolerance = max(COST_ATOL, _print_tolerance(token) * (1 + 1e-9))
        assert abs(got - want) <= tolerance, (
            f"{unit} {step}: printed {token}, the seed prints {want!r} "
            f"(difference {abs(got - want):.3g}, tolerance {tolerance:.3g})")


def assert_accuracy(run_output, labels, expected, where):
    """``predict`` printed "Accuracy: <expected>" and its predictions give ``expected``."""
    predictions, out = run_output
    found = _ACCURACY_LINE.findall(out)
    assert len(found) == 1, f"{where}: expected one 'Accuracy: ...' line in {out!r}"
    assert float(found[0]) == expected, (
        f"{where}: printed Accuracy: {found[0]}, the seed prints {expected!r}")
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    assert predictions.shape == labels.shape, where
    recomputed = np.mean(predictions[0, :] == labels[0, :])
    assert recomputed == expected, (
        f"{where}: mean(predictions == labels) = {recomputed!r}, the seed prints "
        f"{expected!r}")


def _memoised(build):
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = build(key)
        return cache[key]
    return get


def _every(step, count):
    return [step * i for i in range(count)]


# --------------------------------------------------------------------------------------
# Initialization notebook: model() on make_circles, 15000 iterations, lr 0.01
# --------------------------------------------------------------------------------------

INIT_COSTS = {
    "zeros": dict(zip(_every(1000, 15), [   # 001:204-218
        0.6931471805599453, 0.6931471805599453, 0.6931471805599453, 0.6931471805599453,
        0.6931471805599453, 0.6931471805599453, 0.6931471805599453, 0.6931471805599453,
        0.6931471805599453, 0.6931471805599453, 0.6931471805599455, 0.6931471805599453,
        0.6931471805599453, 0.6931471805599453, 0.6931471805599453])),
    "random": dict(zip(_every(1000, 15), [   # 001:340-354
        math.inf, 0.6247924745506072, 0.5980258056061102, 0.5637539062842213,
        0.5501256393526495, 0.5443826306793814, 0.5373895855049121, 0.47157999220550006,
        0.39770475516243037, 0.3934560146692851, 0.3920227137490125, 0.38913700035966736,
        0.3861358766546214, 0.38497629552893475, 0.38276694641706693])),
    "he": dict(zip(_every(1000, 15), [      # 001:475-489
        0.8830537463419761, 0.6879825919728063, 0.6751286264523371, 0.6526117768893805,
        0.6082958970572938, 0.5304944491717495, 0.4138645817071794, 0.3117803464844441,
        0.23696215330322562, 0.1859728720920684, 0.15015556280371808, 0.12325079292273551,
        0.09917746546525937, 0.08457055954024283, 0.07357895962677366])),
}

INIT_ACCURACY = {               # (train, test)
    "zeros": (0.5, 0.5),        # 001:220, 001:222
    "random": (0.83, 0.86),     # 001:356, 001:358
    "he": (0.9933333333333333, 0.96),  # 001:491, 001:493
}


@pytest.fixture(scope="module")
def init_runs():
    init = _module("initialization")
    (train_X, train_Y, test_X, test_Y), _ = _run(init.load_dataset)

    def build(initialization):
        parameters, out = _run(init.model, train_X, train_Y, learning_rate=0.01,
                               num_iterations=15000, print_cost=True,
                               initialization=initialization)
        return {
            "out": out,
            "train": _run(init.predict, train_X, train_Y, parameters),
            "test": _run(init.predict, test_X, test_Y, parameters),
            "train_Y": train_Y,
            "test_Y": test_Y,
        }
    return _memoised(build)


def _numpy_exp_log_are_libms():
    """Whether NumPy's float64 ``exp`` and ``log`` give the C library's bits here (on
    CPUs with AVX-512 NumPy runs SIMD loops of its own, which differ in the last bit of
    a few percent of the values)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-50.0, 50.0, 20000)
    p = rng.uniform(0.0, 1.0, 20000)
    return (np.array_equal(np.exp(x), [math.exp(v) for v in x])
            and np.array_equal(np.log(p), [math.log(v) for v in p]))


@pytest.mark.parametrize("initialization", ["zeros", "random", "he"])
def test_initialization_model_costs(init_runs, initialization):
    run = init_runs(initialization)
    expected = INIT_COSTS[initialization]
    if initialization == "random" and not _numpy_exp_log_are_libms():
        # The large random initialisation saturates the sigmoid; its run is chaotic
        # enough that one last-bit difference in exp moves the costs after iteration 0
        # by 1e-3. The seed's NumPy used the C library's exp; this CPU's does not, so
        # here the costs to reproduce are NumPy's own, to the printed digit.
        init = _module("initialization")
        (train_X, train_Y, _, _), _ = _run(init.load_dataset)
        with fastnn.use_backend("numpy"):
            _, out = _run(init.model, train_X, train_Y, learning_rate=0.01,
                          num_iterations=15000, print_cost=True, initialization="random")
        expected = {step: float(token)
                    for step, token in _printed_costs(out, "iteration").items()}
        assert expected[0] == INIT_COSTS["random"][0]
    assert_costs(run["out"], "iteration", expected)


@pytest.mark.parametrize("initialization", ["zeros", "random", "he"])
def test_initialization_model_accuracy(init_runs, initialization):
    run = init_runs(initialization)
    train, test = INIT_ACCURACY[initialization]
    assert_accuracy(run["train"], run["train_Y"], train, f"{initialization}, train set")
    assert_accuracy(run["test"], run["test_Y"], test, f"{initialization}, test set")


# --------------------------------------------------------------------------------------
# Regularization notebook: model() on data.mat, 30000 iterations
# --------------------------------------------------------------------------------------

REG_SETTINGS = {
    "none": {},
    "l2": {"lambd": 0.7},
    "dropout": {"keep_prob": 0.86, "learning_rate": 0.3},
}

REG_COSTS = {
    "none": {0: 0.6557412523481002,        # 001:661
             10000: 0.1632998752572417,    # 001:662
             20000: 0.13851642423284755},  # 001:663
    "l2": {0: 0.6974484493131264,          # 001:840
           10000: 0.2684918873282239,      # 001:841
           20000: 0.2680916337127301},     # 001:842
    "dropout": {0: 0.6543912405149825,     # 001:1071
                10000: 0.0610169865749056,  # 001:1072
                20000: 0.060582435798513114},  # 001:1073
}

REG_ACCURACY = {                                # (train, test)
    "l2": (0.9383886255924171, 0.93),           # 001:844, 001:846
    "dropout": (0.9289099526066351, 0.95),      # 001:1075, 001:1077
}


@pytest.fixture(scope="module")
def reg_runs():
    data_path = DATASETS / "data.mat"
    if not data_path.is_file():
        pytest.skip(f"the course's 2-D football data is not at {data_path}")
    reg = _module("regularization")
    (train_X, train_Y, test_X, test_Y), _ = _run(reg.load_2D_dataset, str(data_path))

    def build(setting):
        kwargs = {"learning_rate": 0.3, "num_iterations": 30000, "print_cost": True}
        kwargs.update(REG_SETTINGS[setting])
        parameters, out = _run(reg.model, train_X, train_Y, **kwargs)
        return {
            "out": out,
            "train": _run(reg.predict, train_X, train_Y, parameters),
            "test": _run(reg.predict, test_X, test_Y, parameters),
            "train_Y": train_Y,
            "test_Y": test_Y,
        }
    return _memoised(build)


def test_load_2d_dataset_shapes():
    data_path = DATASETS / "data.mat"
    if not data_path.is_file():
        pytest.skip(f"the course's 2-D football data is not at {data_path}")
    (train_X, train_Y, test_X, test_Y), _ = _run(
        _module("regularization").load_2D_dataset, str(data_path))
    assert train_X.shape == (2, 211) and train_Y.shape == (1, 211)
    assert test_X.shape == (2, 200) and test_Y.shape == (1, 200)


@pytest.mark.parametrize("setting", ["none", "l2", "dropout"])
def test_regularization_model_costs(reg_runs, setting):
    assert_costs(reg_runs(setting)["out"], "iteration", REG_COSTS[setting])


@pytest.mark.parametrize("setting", ["l2", "dropout"])
def test_regularization_model_accuracy(reg_runs, setting):
    run = reg_runs(setting)
    train, test = REG_ACCURACY[setting]
    assert_accuracy(run["train"], run["train_Y"], train, f"{setting}, train set")
    assert_accuracy(run["test"], run["test_Y"], test, f"{setting}, test set")


# --------------------------------------------------------------------------------------
# Optimization notebook: model() on make_moons, layers [2, 5, 2, 1], 10000 epochs
# --------------------------------------------------------------------------------------

# Seed 000 prints these (its own "cost after epoch N" lines, full precision) from a
# re-implementation whose numbers equal the course code's to ~1e-10; the course notebook
# itself prints "%f", so a façade printing six decimals is compared to that precision.
OPT_COSTS = {
    "gd": dict(zip(_every(1000, 10), [          # 000:1487-1496
        0.6907355122911127, 0.6852725328458241, 0.6470722240719001, 0.6195245549970403,
        0.5765844355950943, 0.6072426395968578, 0.5294033317684573, 0.4607682398593011,
        0.465586082399045, 0.46451797221676827])),
    "momentum": dict(zip(_every(1000, 10), [    # 000:1540-1549
        0.6907412988351506, 0.6853405261267576, 0.6471448370095255, 0.6195943032076023,
        0.576665034407302, 0.607323821900647, 0.5294761758786997, 0.46093619004872377,
        0.4657800937012721, 0.4647395967922749])),
    "adam": dict(zip(_every(1000, 10), [        # 000:1593-1602
        0.6905522282919487, 0.1855671862856554, 0.15085206145242497, 0.0744535775981412,
        0.1259357502178564, 0.10423511812705896, 0.10055245705694958, 0.031601421955873635,
        0.11170898323416338, 0.19764808192436198])),
}

OPT_ACCURACY = {                     # train set
    "gd": 0.7966666666666666,        # 000:1517
    "momentum": 0.7966666666666666,  # 000:1570
    "adam": 0.94,                    # 000:1623
}


@pytest.fixture(scope="module")
def opt_runs():
    opt = _module("optimization")
    (train_X, train_Y), _ = _run(opt.load_dataset)

    def build(optimizer):
        parameters, out = _run(opt.model, train_X, train_Y, [train_X.shape[0], 5, 2, 1],
                               optimizer, learning_rate=0.0007, mini_batch_size=64,
                               beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8,
                               num_epochs=10000, print_cost=True)
        return {
            "out": out,
            "train": _run(opt.predict, train_X, train_Y, parameters),
            "train_Y": train_Y,
        }
    return _memoised(build)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_optimization_model_costs(opt_runs, optimizer):
    assert_costs(opt_runs(optimizer)["out"], "epoch", OPT_COSTS[optimizer],
                 allow_rounded_print=True)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_optimization_model_accuracy(opt_runs, optimizer):
    run = opt_runs(optimizer)
    assert_accuracy(run["train"], run["train_Y"], OPT_ACCURACY[optimizer],
                    f"{optimizer}, train set")
