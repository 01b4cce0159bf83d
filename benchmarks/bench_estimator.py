"""asv suite: fit time and accuracy of ``fastnn.MLPClassifier`` against scikit-learn's
``MLPClassifier``, the ``estimator-football`` row of ``fastnn bench``.

Both fit the football stand-in (211 examples) with hidden layers (20, 3), Adam at 0.01,
batches of 64, 300 epochs, no L2 (see :func:`fastnn.bench.build_estimators` for what
matches and what cannot). ``setup`` fits once for 2 epochs, so Numba compilation (or
loading its cache) is never timed.
"""

import warnings

from fastnn import bench as _bench
from fastnn import kernels as _kernels

_CASE = _bench.ESTIMATOR_CASES[0]        # estimator-football


def _fit(est, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


class EstimatorFit:
    """``fit`` of a fresh estimator; ``estimator`` is ``sklearn`` or ``fastnn-BACKEND``."""

    params = [["sklearn", "fastnn-numpy", "fastnn-numba"]]  # noqa: RUF012
    param_names = ["estimator"]  # noqa: RUF012
    timeout = 300
    rounds = 1
    number = 1
    repeat = (2, 5, 10.0)

    def setup(self, estimator):
        if estimator == "sklearn":
            def make(epochs=None):
                return _bench.build_estimators(_CASE, None, epochs)[1]
        else:
            backend = estimator.split("-", 1)[1]
            try:
                _kernels.get(backend)
            except RuntimeError as exc:
                raise NotImplementedError(str(exc)) from None

            def make(epochs=None):
                return _bench.build_estimators(_CASE, backend, epochs)[0]
        self.make = make
        self.X, self.y, self.X_test, self.y_test = _CASE.data()
        _fit(make(2), self.X, self.y)            # compile / imports, untimed

    def time_fit(self, estimator):
        _fit(self.make(), self.X, self.y)

    def track_test_accuracy(self, estimator):
        return float(_fit(self.make(), self.X, self.y).score(self.X_test, self.y_test))

    track_test_accuracy.unit = "accuracy"
