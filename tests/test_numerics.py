"""The notebook's numerics by default, the opt-in stable mode, and how costs warn."""

import math
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import initialization
from fastnn.training import recording

BACKENDS = ["numpy", "numba"]


def _train_large_init(backend, numerics=None):
    """The initialization notebook's large random initialisation, 2000 iterations."""
    train_X, train_Y, _, _ = initialization.load_dataset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fastnn.use_backend(backend), fastnn.options(numerics=numerics), \
                recording() as runs:
            params = initialization.model(train_X, train_Y, num_iterations=2000,
                                          print_cost=False, initialization="random")
    ours = [w for w in caught if "cost is not finite" in str(w.message)]
    return params, runs[0], ours


@pytest.mark.parametrize("backend", BACKENDS)
def test_notebook_numerics_keep_the_inf_cost_and_warn_once(backend):
    _, run, ours = _train_large_init(backend)
    assert run.costs[0] == math.inf             # the course prints inf at iteration 0
    assert len(ours) == 1
    assert issubclass(ours[0].category, RuntimeWarning)
    assert "epoch 0" in str(ours[0].message)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stable_numerics_give_finite_costs_and_the_same_training(backend):
    params_nb, run_nb, _ = _train_large_init(backend)
    params_st, run_st, ours = _train_large_init(backend, numerics="stable")
    assert ours == []
    assert all(math.isfinite(c) for c in run_st.costs)
    assert run_st.cost_epochs == run_nb.cost_epochs
    for key in params_nb:                        # the cost formula never feeds training
        np.testing.assert_array_equal(params_st[key], params_nb[key])
    for c_nb, c_st in zip(run_nb.costs, run_st.costs):
        if math.isfinite(c_nb):
            assert c_st == pytest.approx(c_nb, rel=1e-6)


def test_stable_costs_agree_across_backends():
    _, run_np, _ = _train_large_init("numpy", numerics="stable")
    _, run_nb, _ = _train_large_init("numba", numerics="stable")
    np.testing.assert_allclose(run_nb.costs, run_np.costs, rtol=1e-10)


def test_options_nest_and_restore():
    before = fastnn.get_options()
    with fastnn.options(check_finite=False):
        with fastnn.options(numerics="stable"):
            assert fastnn.get_options() == {"check_finite": False, "numerics": "stable"}
        assert fastnn.get_options() == {"check_finite": False,
                                        "numerics": before["numerics"]}
    assert fastnn.get_options() == before


@pytest.mark.parametrize("bad, exc", [("fast", ValueError), (1, ValueError),
                                      (None, None)])
def test_options_reject_unknown_numerics(bad, exc):
    if exc is None:
        with fastnn.options(numerics=bad):
            assert fastnn.get_options()["numerics"] == "notebook"
        return
    with pytest.raises(exc, match="numerics"):
        with fastnn.options(numerics=bad):
            pass


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_compute_cost_is_inf_and_warns_once(backend):
    from fastnn import regularization

    a3 = np.array([[0.5, 1.0, 0.2]])
    Y = np.array([[1, 0, 0]])
    with warnings.catch_warnings(record=True) as caught, fastnn.use_backend(backend):
        warnings.simplefilter("always")
        cost = regularization.compute_cost(a3, Y)
        finite = regularization.compute_cost(np.array([[0.5, 0.9, 0.2]]), Y)
    assert cost == math.inf
    assert math.isfinite(finite)
    ours = [w for w in caught if "divide by zero" in str(w.message)]
    assert len(ours) == 1 and "a3" in str(ours[0].message)
    assert ours[0].filename == __file__           # points at the caller's line
