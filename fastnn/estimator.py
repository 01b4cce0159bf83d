"""A scikit-learn binary classifier on fastnn's compiled training loop."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as v
from ._backend import kernel_module, use_backend
from .kernels import _spec
from .kernels._mlp import mlp_forward
from .network import INIT_SCHEMES, ParamBuffer
from .training import train

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier: ``[LINEAR -> RELU] * k -> LINEAR -> SIGMOID``, trained by fastnn.

    The network, optimizers and cost are the course notebooks'; the whole training run
    is one compiled kernel call on the chosen backend. Binary only: ``y`` must hold
    exactly two classes (of any type); more raise ``ValueError``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (20, 3)
        Units of each hidden ReLU layer.
    optimizer : {"gd", "momentum", "adam"}, default "adam"
    learning_rate : float, default 0.01
    batch_size : int or None, default 64
        Mini-batch size (reshuffled every epoch); None for full-batch.
    max_iter : int, default 200
        Epochs.
    l2 : float, default 0.0
        L2 strength (the notebooks' ``lambd``).
    keep_prob : float, default 1.0
        Dropout keep probability on hidden layers (counter-based "fast" masks).
    init : {"he", "xavier", "small", "random", "zeros"}, default "he"
    random_state : int or None
        Seeds the initialisation, the shuffles and the dropout masks. NumPy's global
        random state is left as it was.
    backend : {"numpy", "numba", "cuda"} or None
        Backend for training and prediction; None uses the current one.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    coefs_, intercepts_ : list of ndarray
        ``W_l`` (n_l, n_{l-1}) and ``b_l`` (n_l, 1), the notebooks' layout.
    loss_curve_ : list of float
        The cost of the last mini-batch of every 10th epoch.
    n_iter_ : int
        Epochs run.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from fastnn import MLPClassifier
    >>> X, y = make_moons(300, noise=0.2, random_state=0)
    >>> clf = MLPClassifier(hidden_layer_sizes=(5, 2), random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    def __init__(self, hidden_layer_sizes=(20, 3), optimizer="adam", learning_rate=0.01,
                 batch_size=64, max_iter=200, l2=0.0, keep_prob=1.0, init="he",
                 random_state=None, backend=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.l2 = l2
        self.keep_prob = keep_prob
        self.init = init
        self.random_state = random_state
        self.backend = backend

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _backend_context(self):
        if self.backend is None:
            import contextlib

            return contextlib.nullcontext()
        return use_backend(self.backend)

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and binary labels ``y``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Two classes, any label type.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if self.classes_.size != 2:
            raise ValueError(
                "Only binary classification is supported: y must hold 2 classes, got "
                f"{self.classes_.size} class{'es' if self.classes_.size > 1 else ''} "
                f"({self.classes_[:5].tolist()})")
        try:
            sizes = [int(h) for h in np.atleast_1d(self.hidden_layer_sizes)]
        except (TypeError, ValueError):
            raise TypeError("hidden_layer_sizes must be a tuple of ints, got "
                            f"{self.hidden_layer_sizes!r}") from None
        dims = v.check_layer_dims([X.shape[1], *sizes, 1], "hidden_layer_sizes")
        v.check_choice(self.init, "init", INIT_SCHEMES)
        max_iter = v.check_int(self.max_iter, "max_iter", low=1)
        seed = (np.random.SeedSequence().entropy if self.random_state is None
                else v.check_int(self.random_state, "random_state", low=0))
        rng = np.random.RandomState(seed % 2**32)
        buffer = ParamBuffer(dims, dtype=X.dtype)
        rule = INIT_SCHEMES[self.init]
        if rule is not None:
            for l in range(1, len(dims)):
                buffer.params[f"W{l}"][...] = rule(rng.randn(dims[l], dims[l - 1]),
                                                   dims[l - 1])
        batch = self.batch_size
        if batch is not None:
            batch = min(v.check_int(batch, "batch_size", low=1), X.shape[0])
        state = np.random.get_state()
        try:
            with self._backend_context():
                result = train(
                    np.ascontiguousarray(X.T), y01.reshape(1, -1).astype(X.dtype), buffer,
                    learning_rate=self.learning_rate, num_epochs=max_iter,
                    optimizer=self.optimizer, batch_size=batch,
                    shuffle_seed=int(rng.randint(2**31)), lambd=self.l2,
                    keep_prob=self.keep_prob, dropout="fast",
                    dropout_seed=int(rng.randint(2**31)), cost_mode="clipped",
                    grad_form="dz", cost_every=10)
        finally:
            np.random.set_state(state)
        self.coefs_ = [buffer.params[f"W{l}"].copy() for l in range(1, len(dims))]
        self.intercepts_ = [buffer.params[f"b{l}"].copy() for l in range(1, len(dims))]
        self.loss_curve_ = result.costs
        self.n_iter_ = max_iter
        return self

    def _proba1(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        dtype = self.coefs_[0].dtype
        Xt = np.ascontiguousarray(X.T, dtype=dtype)
        with self._backend_context():
            _, As, _ = mlp_forward(kernel_module(), Xt, self.coefs_, self.intercepts_,
                                   _spec.RELU)
        return As[-1][0]

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``.
        """
        p = self._proba1(X).astype(np.float64)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        p = self._proba1(X)
        return self.classes_[(p > 0.5).astype(int)]
