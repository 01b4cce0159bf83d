"""The course notebooks' printed test-case outputs, reproduced through the façade.

Every expected number below is copied from a seed write-up in ``shared/seeds/`` (the
comment beside it names the file and line). Arrays the seeds print with NumPy's default
8-digit precision are compared to that printed precision (half a unit of the last printed
digit, see ``assert_printed``); scalars printed with all 16-17 digits are compared to
1e-12 relative, as DESIGN.md asks for single test cases. Inputs come from
``seed_cases.py``. The façade modules are imported inside fixtures, so a missing module
fails its own tests only.

Seed files: 000 = 000_8432868c951d8c5f.txt, 001 = 001_bd892e03c0789f49.txt,
002 = 002_4f7999fe1a89a8b6.txt, 003 = 003_b1193e0c2cb2f7e9.txt.
"""

import importlib
import re

import numpy as np
import pytest

try:
    import seed_cases as sc
except ImportError:  # tests/ made a package: import through it
    from tests import seed_cases as sc

SINGLE_RTOL = 1e-12


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

_ARRAY_TOKEN = re.compile(r"\[|\]|[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _half_unit(token):
    """Largest rounding error of a number NumPy printed as ``token``.

    NumPy's default print precision is 8 fractional digits (trailing zeros dropped), in
    fixed notation or in the mantissa of scientific notation.
    """
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    scale = 10.0 ** int(exponent) if exponent else 1.0
    return 0.5 * 10.0 ** (-max(decimals, 8)) * scale


def printed(text):
    """Parse an array as NumPy prints it (``str`` or ``repr``) into values and tolerances."""
    stack = [[]]
    for token in _ARRAY_TOKEN.findall(text):
        if token == "[":
            stack.append([])
        elif token == "]":
            row = stack.pop()
            stack[-1].append(row)
        else:
            stack[-1].append(token)
    assert len(stack) == 1 and len(stack[0]) == 1, f"unbalanced printed array: {text!r}"
    tokens = np.array(stack[0][0], dtype=object)
    values = np.vectorize(float, otypes=[float])(tokens)
    tolerance = np.vectorize(_half_unit, otypes=[float])(tokens)
    return values, tolerance


def assert_printed(actual, text, name="array"):
    """Assert ``actual`` has the printed shape and rounds to the printed digits."""
    expected, tolerance = printed(text)
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"{name}: shape {actual.shape}, the seed prints {expected.shape}")
    bound = tolerance + 4 * np.finfo(np.float64).eps * np.abs(expected) + 1e-15
    error = np.abs(actual - expected)
    assert np.all(error <= bound), (
        f"{name} differs from the printed value beyond its printed precision:\n"
        f"got\n{actual!r}\nprinted\n{text}\nworst excess {np.max(error - bound):.3g}")


def assert_scalar(actual, expected, rel=SINGLE_RTOL, name="value"):
    assert np.ndim(actual) == 0, f"{name} must be a scalar, got shape {np.shape(actual)}"
    assert float(actual) == pytest.approx(expected, rel=rel, abs=0), name


def _module(name):
    return importlib.import_module(f"fastnn.{name}")


@pytest.fixture(scope="module")
def init():
    return _module("initialization")


@pytest.fixture(scope="module")
def reg():
    return _module("regularization")


@pytest.fixture(scope="module")
def gradcheck():
    return _module("gradient_checking")


@pytest.fixture(scope="module")
def opt():
    return _module("optimization")


@pytest.fixture(scope="module")
def planar():
    return _module("planar")


@pytest.fixture(scope="module")
def deep():
    return _module("deep")


LOWER_GRAD_KEYS = {"dz3", "dW3", "db3", "da2", "dz2", "dW2", "db2",
                   "da1", "dz1", "dW1", "db1"}
UPPER_GRAD_KEYS = {"dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2",
                   "dA1", "dZ1", "dW1", "db1"}

# The gradient-descent step on update_parameters_with_gd_test_case() at learning rate
# 0.01, as printed in seed 001, lines 1612-1621 (also seed 000, lines 764-775).
GD_EXPECTED = {
    "W1": "[[ 1.63535156 -0.62320365 -0.53718766]\n"    # 001:1612
          " [-1.07799357  0.85639907 -2.29470142]]",    # 001:1613
    "b1": "[[ 1.74604067]\n [-0.75184921]]",            # 001:1614-1615
    "W2": "[[ 0.32171798 -0.25467393  1.46902454]\n"    # 001:1616
          " [-2.05617317 -0.31554548 -0.3756023 ]\n"    # 001:1617
          " [ 1.1404819  -1.09976462 -0.1612551 ]]",    # 001:1618
    "b2": "[[-0.88020257]\n [ 0.02561572]\n [ 0.57539477]]",  # 001:1619-1621
}


def _assert_same_dict_updated_in_place(result, given, originals, expected, what):
    """The update returned the dict it was given and changed the given arrays."""
    assert result is given, f"{what} must return the same dict object it was given"
    for key, text in expected.items():
        assert result[key] is originals[key], (
            f"{what} replaced {key!r} by a new array instead of updating it in place")
        assert_printed(originals[key], text, f"{what}: {key}")


# --------------------------------------------------------------------------------------
# fastnn.initialization
# --------------------------------------------------------------------------------------

def _assert_zero_biases(parameters, shapes):
    for key, shape in shapes.items():
        assert parameters[key].shape == shape, key
        assert np.all(parameters[key] == 0.0), key


def test_initialize_parameters_zeros(init):
    parameters = init.initialize_parameters_zeros([3, 2, 1])
    assert set(parameters) == {"W1", "b1", "W2", "b2"}
    assert_printed(parameters["W1"], "[[0. 0. 0.]\n [0. 0. 0.]]", "W1")  # 001:183-184
    assert_printed(parameters["b1"], "[[0.]\n [0.]]", "b1")              # 001:185-186
    assert_printed(parameters["W2"], "[[0. 0.]]", "W2")                  # 001:187
    assert_printed(parameters["b2"], "[[0.]]", "b2")                     # 001:188
    for key, value in parameters.items():
        assert np.all(value == 0.0), key
        assert value.dtype == np.float64, key


def test_initialize_parameters_random(init):
    parameters = init.initialize_parameters_random([3, 2, 1])
    assert set(parameters) == {"W1", "b1", "W2", "b2"}
    assert_printed(parameters["W1"],
                   "[[ 17.88628473   4.36509851   0.96497468]\n"     # 001:319
                   " [-18.63492703  -2.77388203  -3.54758979]]",    # 001:320
                   "W1")
    assert_printed(parameters["W2"], "[[-0.82741481 -6.27000677]]", "W2")  # 001:323
    _assert_zero_biases(parameters, {"b1": (2, 1), "b2": (1, 1)})      # 001:321-324


def test_initialize_parameters_he(init):
    parameters = init.initialize_parameters_he([2, 4, 1])
    assert set(parameters) == {"W1", "b1", "W2", "b2"}
    assert_printed(parameters["W1"],
                   "[[ 1.78862847  0.43650985]\n"    # 001:450
                   " [ 0.09649747 -1.8634927 ]\n"    # 001:451
                   " [-0.2773882  -0.35475898]\n"    # 001:452
                   " [-0.08274148 -0.62700068]]",    # 001:453
                   "W1")
    assert_printed(parameters["W2"],
                   "[[-0.03098412 -0.33744411 -0.92904268  0.62552248]]",  # 001:458
                   "W2")
    _assert_zero_biases(parameters, {"b1": (4, 1), "b2": (1, 1)})      # 001:454-459


@pytest.mark.parametrize("module_name", ["initialization", "optimization"])
def test_forward_cache_and_lower_case_gradient_keys(module_name):
    """NOTEBOOK_API: 12-entry cache; lower-case gradient keys in these two modules."""
    module = _module(module_name)
    X, parameters = sc.forward_propagation_with_dropout_test_case()
    Y = np.array([[1, 1, 0, 1, 0]])
    a3, cache = module.forward_propagation(X, parameters)
    assert a3.shape == (1, 5)
    assert isinstance(cache, tuple) and len(cache) == 12
    for position, key in ((2, "W1"), (3, "b1"), (6, "W2"), (7, "b2"), (10, "W3"),
                          (11, "b3")):
        np.testing.assert_array_equal(cache[position], parameters[key])
    grads = module.backward_propagation(X, Y, cache)
    assert set(grads) == LOWER_GRAD_KEYS


# --------------------------------------------------------------------------------------
# The notebooks' plain update_parameters, on the gradient-descent test case
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("module_name", ["initialization", "regularization", "deep"])
def test_update_parameters_gives_the_printed_gd_step(module_name):
    """Each notebook's update_parameters is the plain step W - lr * dW: on the GD test
    case it must print what update_parameters_with_gd prints (seed 001:1612-1621)."""
    module = _module(module_name)
    parameters, grads, learning_rate = sc.update_parameters_with_gd_test_case()
    originals = dict(parameters)
    result = module.update_parameters(parameters, grads, learning_rate)
    _assert_same_dict_updated_in_place(result, parameters, originals, GD_EXPECTED,
                                       f"{module_name}.update_parameters")


# --------------------------------------------------------------------------------------
# fastnn.regularization
# --------------------------------------------------------------------------------------

def test_compute_cost_with_regularization(reg):
    A3, Y, parameters = sc.compute_cost_with_regularization_test_case()
    cost = reg.compute_cost_with_regularization(A3, Y, parameters, lambd=0.1)
    assert_scalar(cost, 1.7864859451590758, name="cost")  # 001:749


def test_backward_propagation_with_regularization(reg):
    X, Y, cache = sc.backward_propagation_with_regularization_test_case()
    grads = reg.backward_propagation_with_regularization(X, Y, cache, lambd=0.7)
    assert set(grads) == UPPER_GRAD_KEYS
    assert_printed(grads["dW1"],
                   "[[-0.25604646  0.12298827 -0.28297129]\n"   # 001:816
                   " [-0.17706303  0.34536094 -0.4410571 ]]",   # 001:817
                   "dW1")
    assert_printed(grads["dW2"],
                   "[[ 0.79276486  0.85133918]\n"    # 001:818
                   " [-0.0957219  -0.01720463]\n"    # 001:819
                   " [-0.13100772 -0.03750433]]",    # 001:820
                   "dW2")
    assert_printed(grads["dW3"], "[[-1.77691347 -0.11832879 -0.09397446]]",  # 001:821
                   "dW3")


def test_backward_propagation_with_dropout(reg):
    X, Y, cache = sc.backward_propagation_with_dropout_test_case()
    grads = reg.backward_propagation_with_dropout(X, Y, cache, keep_prob=0.8)
    assert set(grads) == UPPER_GRAD_KEYS
    assert_printed(grads["dA1"],
                   "[[ 0.36544439  0.         -0.00188233  0.         -0.17408748]\n"  # 001:1047
                   " [ 0.65515713  0.         -0.00337459  0.         -0.        ]]",  # 001:1048
                   "dA1")
    assert_printed(grads["dA2"],
                   "[[ 0.58180856  0.         -0.00299679  0.         -0.27715731]\n"  # 001:1049
                   " [ 0.          0.53159854 -0.          0.53159854 -0.34089673]\n"  # 001:1050
                   " [ 0.          0.         -0.00292733  0.         -0.        ]]",  # 001:1051
                   "dA2")


def test_forward_propagation_with_dropout_reseeds_and_caches_14_entries(reg):
    """NOTEBOOK_API: the masks are rand(...) < keep_prob drawn after seeding 1 on every
    call, hidden layers only; the cache has 14 entries. (Seed 001 shows the code but not
    the printed A3, lines 975-979, so A3's value is not asserted here.)"""
    X, parameters = sc.forward_propagation_with_dropout_test_case()
    keep_prob = 0.7
    np.random.seed(12345)          # disturb the global stream: the call must reseed
    np.random.rand(17)
    A3, cache = reg.forward_propagation_with_dropout(X, parameters, keep_prob=keep_prob)
    assert A3.shape == (1, 5)
    assert np.all((A3 > 0) & (A3 < 1))
    assert isinstance(cache, tuple) and len(cache) == 14
    rng = np.random.RandomState(1)
    expected_D1 = rng.rand(2, 5) < keep_prob
    expected_D2 = rng.rand(3, 5) < keep_prob
    np.testing.assert_array_equal(np.asarray(cache[1]).astype(bool), expected_D1)
    np.testing.assert_array_equal(np.asarray(cache[6]).astype(bool), expected_D2)
    for position, key in ((3, "W1"), (4, "b1"), (8, "W2"), (9, "b2"), (12, "W3"),
                          (13, "b3")):
        np.testing.assert_array_equal(cache[position], parameters[key])


def test_regularization_forward_cache_and_upper_case_keys(reg):
    X, parameters = sc.forward_propagation_with_dropout_test_case()
    Y = np.array([[1, 1, 0, 1, 0]])
    a3, cache = reg.forward_propagation(X, parameters)
    assert a3.shape == (1, 5)
    assert isinstance(cache, tuple) and len(cache) == 12
    assert set(reg.backward_propagation(X, Y, cache)) == UPPER_GRAD_KEYS


# --------------------------------------------------------------------------------------
# fastnn.gradient_checking
# --------------------------------------------------------------------------------------

def test_gradient_check_1d(gradcheck, capsys):
    difference = gradcheck.gradient_check(2, 4)
    out = capsys.readouterr().out
    assert "The gradient is correct!" in out            # 001:1300, 002:286
    assert "The gradient is wrong!" not in out
    assert_scalar(difference, 2.919335883291695e-10, name="difference")  # 001:1301, 002:287


def _planted_bug_gradients(X, Y, cache):
    """The course's backward_propagation_n with its two planted bugs (dW2 doubled, 4/m in
    db1), written here in plain NumPy from the cache the façade returns."""
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    m = X.shape[1]
    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = dA2 * (A2 > 0)
    dW2 = 2.0 * np.dot(dZ2, A1.T) / m                       # planted bug 1
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * (A1 > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = 4.0 * np.sum(dZ1, axis=1, keepdims=True) / m     # planted bug 2
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2,
            "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


_MISTAKE = re.compile(r"There is a mistake in the backward propagation! difference = "
                      r"(\S+?)(?:\x1b\[0m)?\s*$", re.M)
_FINE = re.compile(r"Your backward propagation works perfectly fine! difference = "
                   r"(\S+?)(?:\x1b\[0m)?\s*$", re.M)


def test_gradient_check_n_finds_the_planted_bugs(gradcheck, capsys):
    X, Y, parameters = sc.gradient_check_n_test_case()
    cost, cache = gradcheck.forward_propagation_n(X, Y, parameters)
    assert np.ndim(cost) == 0
    assert isinstance(cache, tuple) and len(cache) == 12
    capsys.readouterr()
    buggy = _planted_bug_gradients(X, Y, cache)
    difference = gradcheck.gradient_check_n(parameters, buggy, X, Y)
    out = capsys.readouterr().out
    match = _MISTAKE.search(out)
    assert match, f"missing the notebook's 'There is a mistake' line in {out!r}"
    assert "works perfectly fine" not in out
    # 001:1511 prints 0.2850931567761624 and 002:324 prints 0.28509315648437444 for the
    # same test case: a finite-difference result differs at ~1e-9 relative between
    # correct implementations, so compare to 1e-8 relative instead of 1e-12.
    assert_scalar(difference, 0.2850931567761624, rel=1e-8, name="difference")  # 001:1511
    assert float(match.group(1)) == pytest.approx(0.2850931567761624, rel=1e-8)  # 001:1511


def test_gradient_check_n_accepts_the_correct_gradients(gradcheck, capsys):
    X, Y, parameters = sc.gradient_check_n_test_case()
    _, cache = gradcheck.forward_propagation_n(X, Y, parameters)
    gradients = gradcheck.backward_propagation_n(X, Y, cache)
    assert set(gradients) == UPPER_GRAD_KEYS
    capsys.readouterr()
    difference = gradcheck.gradient_check_n(parameters, gradients, X, Y)
    out = capsys.readouterr().out
    # 002:364 prints "Your backward propagation works perfectly fine! difference =
    # 1.1872208949889946e-07" for the corrected backward pass (threshold 2e-7).
    assert float(difference) < 2e-7
    match = _FINE.search(out)
    assert match, f"missing the notebook's 'works perfectly fine' line in {out!r}"
    assert "There is a mistake" not in out
    assert float(match.group(1)) < 2e-7


def test_gradient_check_vectors_follow_the_notebook_layout(gradcheck):
    """theta stacks W1, b1, W2, b2, W3, b3 column-wise flattened: 47 values for 4-5-3-1."""
    X, Y, parameters = sc.gradient_check_n_test_case()
    theta, _ = gradcheck.dictionary_to_vector(parameters)
    order = ["W1", "b1", "W2", "b2", "W3", "b3"]
    expected = np.concatenate([parameters[k].reshape(-1, 1) for k in order])
    assert theta.shape == (47, 1)
    np.testing.assert_array_equal(theta, expected)
    back = gradcheck.vector_to_dictionary(theta)
    for key in order:
        np.testing.assert_array_equal(back[key], parameters[key])
    grads = {"d" + k: parameters[k] * 2.0 for k in order}
    np.testing.assert_array_equal(gradcheck.gradients_to_vector(grads), expected * 2.0)


# --------------------------------------------------------------------------------------
# fastnn.optimization
# --------------------------------------------------------------------------------------

def test_update_parameters_with_gd(opt):
    parameters, grads, learning_rate = sc.update_parameters_with_gd_test_case()
    originals = dict(parameters)
    result = opt.update_parameters_with_gd(parameters, grads, learning_rate)
    _assert_same_dict_updated_in_place(result, parameters, originals, GD_EXPECTED,
                                       "update_parameters_with_gd")


def test_random_mini_batches(opt):
    X, Y, mini_batch_size = sc.random_mini_batches_test_case()
    mini_batches = opt.random_mini_batches(X, Y, mini_batch_size)
    assert len(mini_batches) == 3
    shapes_x = [(12288, 64), (12288, 64), (12288, 20)]   # 001:1818-1820, 000:844-846
    shapes_y = [(1, 64), (1, 64), (1, 20)]               # 001:1821-1823, 000:847-849
    for (batch_x, batch_y), shape_x, shape_y in zip(mini_batches, shapes_x, shapes_y):
        assert batch_x.shape == shape_x
        assert batch_y.shape == shape_y
    assert_printed(mini_batches[0][0][0][0:3],
                   "[ 0.90085595 -0.7612069   0.2344157 ]",  # 001:1824, 000:850
                   "mini batch sanity check")
    # NOTEBOOK_API: seed, one permutation of the columns, full batches then the rest.
    permutation = np.random.RandomState(0).permutation(148)
    np.testing.assert_array_equal(np.hstack([b[0] for b in mini_batches]),
                                  X[:, permutation])
    np.testing.assert_array_equal(np.hstack([b[1] for b in mini_batches]),
                                  Y[:, permutation])


_ZERO_MOMENTS = {
    "dW1": "[[0. 0. 0.]\n [0. 0. 0.]]",             # 001:1909-1910, 000:1203-1204
    "db1": "[[0.]\n [0.]]",                         # 001:1911-1912, 000:1205-1206
    "dW2": "[[0. 0. 0.]\n [0. 0. 0.]\n [0. 0. 0.]]",  # 001:1913-1915, 000:1207-1209
    "db2": "[[0.]\n [0.]\n [0.]]",                  # 001:1916-1918, 000:1210-1212
}


def test_initialize_velocity(opt):
    parameters = sc.initialize_velocity_test_case()
    v = opt.initialize_velocity(parameters)
    assert set(v) == set(_ZERO_MOMENTS)
    for key, text in _ZERO_MOMENTS.items():
        assert_printed(v[key], text, f"v[{key!r}]")
        assert np.all(v[key] == 0.0)


def test_update_parameters_with_momentum(opt):
    parameters, grads, v = sc.update_parameters_with_momentum_test_case()
    originals = dict(parameters)
    v_originals = dict(v)
    result, v_result = opt.update_parameters_with_momentum(parameters, grads, v,
                                                           beta=0.9, learning_rate=0.01)
    expected_parameters = {
        "W1": "[[ 1.62544598 -0.61290114 -0.52907334]\n"   # 001:2006
              " [-1.07347112  0.86450677 -2.30085497]]",   # 001:2007
        "b1": "[[ 1.74493465]\n [-0.76027113]]",           # 001:2008-2009
        "W2": "[[ 0.31930698 -0.24990073  1.4627996 ]\n"   # 001:2010
              " [-2.05974396 -0.32173003 -0.38320915]\n"   # 001:2011
              " [ 1.13444069 -1.0998786  -0.1713109 ]]",   # 001:2012
        "b2": "[[-0.87809283]\n [ 0.04055394]\n [ 0.58207317]]",  # 001:2013-2015
    }
    expected_v = {
        "dW1": "[[-0.11006192  0.11447237  0.09015907]\n"   # 001:2016
               " [ 0.05024943  0.09008559 -0.06837279]]",   # 001:2017
        "db1": "[[-0.01228902]\n [-0.09357694]]",           # 001:2018-2019
        "dW2": "[[-0.02678881  0.05303555 -0.06916608]\n"   # 001:2020
               " [-0.03967535 -0.06871727 -0.08452056]\n"   # 001:2021
               " [-0.06712461 -0.00126646 -0.11173103]]",   # 001:2022
        "db2": "[[0.02344157]\n [0.16598022]\n [0.07420442]]",  # 001:2023-2025
    }
    _assert_same_dict_updated_in_place(result, parameters, originals, expected_parameters,
                                       "update_parameters_with_momentum: parameters")
    _assert_same_dict_updated_in_place(v_result, v, v_originals, expected_v,
                                       "update_parameters_with_momentum: v")


def test_initialize_adam(opt):
    parameters = sc.initialize_adam_test_case()
    v, s = opt.initialize_adam(parameters)
    assert v is not s
    for moments, name in ((v, "v"), (s, "s")):
        assert set(moments) == set(_ZERO_MOMENTS)
        for key, text in _ZERO_MOMENTS.items():
            assert_printed(moments[key], text, f"{name}[{key!r}]")
            assert np.all(moments[key] == 0.0)
    for key in _ZERO_MOMENTS:   # updated in place, so v and s must not share memory
        assert not np.shares_memory(v[key], s[key]), key


def test_update_parameters_with_adam(opt):
    parameters, grads, v, s = sc.update_parameters_with_adam_test_case()
    originals, v_originals, s_originals = dict(parameters), dict(v), dict(s)
    result, v_result, s_result = opt.update_parameters_with_adam(
        parameters, grads, v, s, t=2, learning_rate=0.01, beta1=0.9, beta2=0.999,
        epsilon=1e-8)
    # 000:1338-1367 (the same numbers, badly OCR'd, at 002:682-711)
    expected_parameters = {
        "W1": "array([[ 1.63178673, -0.61919778, -0.53561312],"    # 000:1338
              "       [-1.08040999,  0.85796626, -2.29409733]])",  # 000:1339
        "b1": "array([[ 1.75225313], [-0.75376553]])",              # 000:1340-1341
        "W2": "array([[ 0.32648046, -0.25681174,  1.46954931],"    # 000:1342
              "       [-2.05269934, -0.31497584, -0.37661299],"    # 000:1343
              "       [ 1.14121081, -1.09244991, -0.16498684]])",  # 000:1344
        "b2": "array([[-0.88529979], [ 0.03477238], [ 0.57537385]])",  # 000:1345-1347
    }
    expected_v = {
        "dW1": "array([[-0.11006192,  0.11447237,  0.09015907],"    # 000:1348
               "       [ 0.05024943,  0.09008559, -0.06837279]])",  # 000:1349
        "dW2": "array([[-0.02678881,  0.05303555, -0.06916608],"    # 000:1350
               "       [-0.03967535, -0.06871727, -0.08452056],"    # 000:1351
               "       [-0.06712461, -0.00126646, -0.11173103]])",  # 000:1352
        "db1": "array([[-0.01228902], [-0.09357694]])",              # 000:1353-1354
        "db2": "array([[0.02344157], [0.16598022], [0.07420442]])",  # 000:1355-1357
    }
    expected_s = {
        "dW1": "array([[0.00121136, 0.00131039, 0.00081287],"       # 000:1358
               "       [0.0002525 , 0.00081154, 0.00046748]])",     # 000:1359
        "dW2": "array([[7.17640232e-05, 2.81276921e-04, 4.78394595e-04],"  # 000:1360
               "       [1.57413361e-04, 4.72206320e-04, 7.14372576e-04],"  # 000:1361
               "       [4.50571368e-04, 1.60392066e-07, 1.24838242e-03]])",  # 000:1362
        "db1": "array([[1.51020075e-05], [8.75664434e-04]])",       # 000:1363-1364
        "db2": "array([[5.49507194e-05], [2.75494327e-03], [5.50629536e-04]])",  # 000:1365-1367
    }
    _assert_same_dict_updated_in_place(result, parameters, originals, expected_parameters,
                                       "update_parameters_with_adam: parameters")
    _assert_same_dict_updated_in_place(v_result, v, v_originals, expected_v,
                                       "update_parameters_with_adam: v")
    _assert_same_dict_updated_in_place(s_result, s, s_originals, expected_s,
                                       "update_parameters_with_adam: s")


# --------------------------------------------------------------------------------------
# fastnn.planar (seed 003 prints the seed-2030 variant of the course's test cases)
# --------------------------------------------------------------------------------------

def test_planar_layer_sizes(planar):
    X, Y = sc.planar_layer_sizes_test_case()
    assert tuple(planar.layer_sizes(X, Y)) == (5, 4, 2)  # 003:461


def test_planar_initialize_parameters(planar):
    """The course's seed-2 initialisation of a 2-4-1 network. Seed 003 prints these
    weights as the parameters of its forward/cost/backward test cases (003:621-633)."""
    parameters = planar.initialize_parameters(*sc.planar_initialize_parameters_test_case())
    assert set(parameters) == {"W1", "b1", "W2", "b2"}
    assert_printed(parameters["W1"],
                   "[[-0.00416758 -0.00056267]\n"   # 003:621
                   " [-0.02136196  0.01640271]\n"   # 003:622
                   " [-0.01793436 -0.00841747]\n"   # 003:623
                   " [ 0.00502881 -0.01245288]]",   # 003:624
                   "W1")
    assert_printed(parameters["W2"],
                   "[[-0.01057952 -0.00909008  0.00551454  0.02292208]]",  # 003:626
                   "W2")
    _assert_zero_biases(parameters, {"b1": (4, 1), "b2": (1, 1)})  # 003:628-633


def test_planar_forward_propagation(planar):
    X, parameters = sc.planar_forward_propagation_test_case()
    A2, cache = planar.forward_propagation(X, parameters)
    assert {"Z1", "A1", "Z2", "A2"} <= set(cache)
    assert_printed(A2, "[[0.50004521 0.49988914 0.49993832]]", "returned A2")  # 003:677
    expected = {
        "Z1": ("[[-0.00605859  0.00449566 -0.00110208]\n"    # 003:662
               " [-0.02388616  0.02943629  0.00624179]\n"    # 003:663
               " [-0.0283006   0.01735875 -0.00843933]\n"    # 003:664
               " [ 0.00242969 -0.00977727 -0.00676625]]",    # 003:665
               -0.002030674846044073),                       # 003:667
        "A1": ("[[-0.00605851  0.00449563 -0.00110208]\n"    # 003:668
               " [-0.02388161  0.02942779  0.00624171]\n"    # 003:669
               " [-0.02829305  0.01735701 -0.00843913]\n"    # 003:670
               " [ 0.00242968 -0.00977696 -0.00676615]]",    # 003:671
               -0.0020304726884621785),                      # 003:673
        "Z2": ("[[ 0.00018085 -0.00044345 -0.00024671]]",    # 003:674
               -0.00016977098916522824),                     # 003:676
        "A2": ("[[0.50004521 0.49988914 0.49993832]]",       # 003:677
               0.4999575572533775),                          # 003:679
    }
    for key, (text, mean) in expected.items():
        assert_printed(cache[key], text, key)
        assert_scalar(np.mean(cache[key]), mean, name=f"mean of {key}")


def test_planar_compute_cost(planar):
    A2, Y, parameters = sc.planar_compute_cost_test_case()
    cost = planar.compute_cost(A2, Y, parameters)
    assert_scalar(cost, 0.6926644838406011, name="cost")  # 003:767


def test_planar_backward_propagation(planar):
    parameters, cache, X, Y = sc.planar_backward_propagation_test_case()
    grads = planar.backward_propagation(parameters, cache, X, Y)
    assert {"dW1", "db1", "dW2", "db2"} <= set(grads)
    assert_printed(grads["dW2"],
                   "[[-0.00013434 -0.03767573  0.01092386  0.02535612]]",  # 003:878
                   "dW2")
    assert_printed(grads["db2"], "[[1.09982824]]", "db2")                   # 003:880
    assert_printed(grads["dW1"],
                   "[[-0.00687442 -0.0060129 ]\n"    # 003:882
                   " [-0.00589216 -0.00516006]\n"    # 003:883
                   " [ 0.00358158  0.00313207]\n"    # 003:884
                   " [ 0.01488723  0.01302015]]",    # 003:885
                   "dW1")
    assert_printed(grads["db1"],
                   "[[-0.0116354 ]\n [-0.00998301]\n [ 0.00606112]\n [ 0.02519569]]",  # 003:887-890
                   "db1")


def test_planar_update_parameters(planar):
    parameters, grads = sc.planar_update_parameters_test_case()
    originals = dict(parameters)
    # seed 003 runs this step with a learning rate of 0.5 (its function's default)
    result = planar.update_parameters(parameters, grads, learning_rate=0.5)
    expected = {
        "W1": "[[-0.006267    0.01792921]\n"    # 003:951
              " [-0.02352903  0.03487509]\n"    # 003:952
              " [-0.01676255 -0.01895725]\n"    # 003:953
              " [ 0.00981865 -0.05423187]]",    # 003:954
        "b1": "[[-9.50308498e-07]\n [ 1.00646934e-05]\n"     # 003:956-957
              " [ 6.99888206e-07]\n [-2.81884090e-06]]",     # 003:958-959
        "W2": "[[-0.01042311 -0.04204123  0.01670053  0.04568113]]",  # 003:961
        "b2": "[[9.69415948e-05]]",                                   # 003:963
    }
    _assert_same_dict_updated_in_place(result, parameters, originals, expected,
                                       "planar.update_parameters")


def test_planar_predict(planar):
    parameters, X = sc.planar_predict_test_case()
    predictions = planar.predict(parameters, X)
    assert np.asarray(predictions).dtype.kind == "f"   # np.round(A2): floats, as printed
    assert_printed(predictions, "array([[1., 0., 0.]])", "predictions")  # 003:1107
