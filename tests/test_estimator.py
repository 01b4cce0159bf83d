"""fastnn.MLPClassifier as a scikit-learn estimator, and fastnn.sweep."""

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastnn
from fastnn import MLPClassifier


@parametrize_with_checks([MLPClassifier(max_iter=50)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def moons():
    return make_moons(300, noise=0.2, random_state=3)


def test_learns_moons_and_keeps_global_random_state(moons):
    X, y = moons
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    clf = MLPClassifier(hidden_layer_sizes=(5, 2), max_iter=300, random_state=0).fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert clf.score(X, y) > 0.85
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_same_random_state_same_model(moons):
    X, y = moons
    a = MLPClassifier(random_state=7, max_iter=20, keep_prob=0.8).fit(X, y)
    b = MLPClassifier(random_state=7, max_iter=20, keep_prob=0.8).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)


def test_string_labels(moons):
    X, y = moons
    labels = np.where(y == 1, "cat", "dog")
    clf = MLPClassifier(random_state=0, max_iter=100).fit(X, labels)
    assert set(clf.predict(X)) <= {"cat", "dog"}
    assert list(clf.classes_) == ["cat", "dog"]


def test_multiclass_is_refused_clearly():
    X = np.random.RandomState(0).randn(30, 2)
    y = np.arange(30) % 3
    with pytest.raises(ValueError, match="Only binary classification"):
        MLPClassifier().fit(X, y)


@pytest.mark.parametrize("name, value, match", [
    ("optimizer", "sgd", "optimizer"),
    ("learning_rate", 0.0, "learning_rate"),
    ("keep_prob", 1.5, "keep_prob"),
    ("hidden_layer_sizes", (0,), "hidden_layer_sizes"),
    ("init", "glorot", "init"),
    ("batch_size", 0, "batch_size"),
])
def test_bad_parameters_name_the_parameter(moons, name, value, match):
    X, y = moons
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**{name: value}).fit(X, y)


def test_numpy_and_default_backend_agree(moons):
    X, y = moons
    ref = MLPClassifier(random_state=1, max_iter=30, backend="numpy").fit(X, y)
    fast = MLPClassifier(random_state=1, max_iter=30).fit(X, y)
    for wa, wb in zip(ref.coefs_, fast.coefs_):
        np.testing.assert_allclose(wa, wb, rtol=1e-9, atol=1e-12)


def test_pipeline_and_grid_search_in_parallel(moons):
    X, y = moons
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=60, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (8, 3)]},
                          cv=3, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.8
    assert len(search.cv_results_["mean_test_score"]) == 2


def _train_regularized(keep_prob):
    from fastnn import regularization as reg
    from fastnn.datasets import football_stand_in

    train_X, train_Y, _, _ = football_stand_in()
    parameters = reg.model(train_X, train_Y, num_iterations=200, print_cost=False,
                           keep_prob=keep_prob)
    return float(parameters["W1"].sum())


def test_sweep_with_loky_matches_serial():
    grid = {"keep_prob": [0.86, 1.0]}
    parallel = fastnn.sweep(_train_regularized, grid, n_jobs=2)
    serial = [(p, _train_regularized(**p)) for p in [{"keep_prob": 0.86},
                                                      {"keep_prob": 1.0}]]
    assert [p for p, _ in parallel] == [p for p, _ in serial]
    np.testing.assert_allclose([r for _, r in parallel], [r for _, r in serial],
                               rtol=1e-12)


def test_sweep_on_dask():
    distributed = pytest.importorskip("dask.distributed")
    from joblib import parallel_config

    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2):
        with parallel_config(backend="dask"):
            results = fastnn.sweep(_train_regularized, {"keep_prob": [1.0]})
    assert np.isfinite(results[0][1])
