"""The notebooks' datasets: generated ones with the notebooks' seeds, and file loaders.

Arrays are returned as the notebooks return them: ``X`` shaped (features, examples) and
labels ``Y`` shaped (1, examples). The generators call ``np.random.seed`` exactly as the
notebooks do, so NumPy's global random state moves the same way.
"""

import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "circles",
    "moons",
    "flower",
    "extra_datasets",
    "load_2D_dataset",
    "football_stand_in",
    "load_cat_data",
]


def _columns(X, y):
    return X.T, y.reshape(1, y.shape[0])


def circles():
    """The Initialization notebook's data: two noisy concentric circles.

    ``np.random.seed(1)`` then 300 training points, ``np.random.seed(2)`` then 100 test
    points, from ``sklearn.datasets.make_circles(noise=.05)``.

    Returns
    -------
    train_X : ndarray of shape (2, 300)
    train_Y : ndarray of shape (1, 300)
    test_X : ndarray of shape (2, 100)
    test_Y : ndarray of shape (1, 100)
    """
    from sklearn.datasets import make_circles

    np.random.seed(1)
    train = make_circles(n_samples=300, noise=0.05)
    np.random.seed(2)
    test = make_circles(n_samples=100, noise=0.05)
    return (*_columns(*train), *_columns(*test))


def moons():
    """The Optimization notebook's data: ``np.random.seed(3)``, ``make_moons(300, noise=.2)``.

    Returns
    -------
    train_X : ndarray of shape (2, 300)
    train_Y : ndarray of shape (1, 300)
    """
    from sklearn.datasets import make_moons

    np.random.seed(3)
    return _columns(*make_moons(n_samples=300, noise=0.2))


def flower(m=400, seed=1):
    """The planar notebook's two-class "flower" (a rose curve with noise).

    Parameters
    ----------
    m : int, default 400
        Number of points (even).
    seed : int, default 1
        ``np.random.seed(seed)`` is called first, as the course does.

    Returns
    -------
    X : ndarray of shape (2, m)
    Y : ndarray of shape (1, m), dtype uint8
    """
    np.random.seed(seed)
    N = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype="uint8")
    a = 4
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def extra_datasets(N=200):
    """The planar notebook's other datasets, generated as the course generates them.

    Parameters
    ----------
    N : int
        Examples in each dataset.

    Returns
    -------
    noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure : tuple
        Each an ``(X, y)`` pair with ``X`` shaped (N, 2) (scikit-learn's layout, as the
        course returns them).
    """
    from sklearn import datasets as skd

    noisy_circles = skd.make_circles(n_samples=N, factor=0.5, noise=0.3)
    noisy_moons = skd.make_moons(n_samples=N, noise=0.2)
    blobs = skd.make_blobs(n_samples=N, random_state=5, n_features=2, centers=6)
    gaussian_quantiles = skd.make_gaussian_quantiles(
        mean=None, cov=0.5, n_samples=N, n_features=2, n_classes=2, shuffle=True,
        random_state=None)
    no_structure = np.random.rand(N, 2), np.random.rand(N, 2)
    return noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure


def football_stand_in(seed=0):
    """A synthetic stand-in for the Regularization notebook's ``data.mat``.

    211 training and 200 test points in the same box as the course file, labelled by a
    wavy boundary with 8% of the labels flipped (so that an unregularised network can
    overfit). It is *not* the course data: the notebooks' accuracies do not apply.

    Parameters
    ----------
    seed : int
        Seed of a private ``numpy.random.default_rng`` (the global state is untouched).

    Returns
    -------
    train_X, train_Y, test_X, test_Y : ndarray
        Shapes (2, 211), (1, 211), (2, 200), (1, 200).
    """
    rng = np.random.default_rng(seed)

    def draw(m):
        X = np.vstack([rng.uniform(-0.75, 0.55, m), rng.uniform(-0.7, 0.7, m)])
        y = (X[1] > 0.25 * np.sin(5 * X[0]) - 0.1 * X[0]).astype(np.uint8)
        flip = rng.random(m) < 0.08
        y[flip] = 1 - y[flip]
        return X, y.reshape(1, m)

    return (*draw(211), *draw(200))


def load_2D_dataset(path=None):
    """The Regularization notebook's 2-D "football" data from a ``data.mat`` file.

    Parameters
    ----------
    path : str or path-like, optional
        The course's ``data.mat`` (keys ``X``, ``y``, ``Xval``, ``yval``). Without it,
        ``datasets/data.mat`` under the current directory is used when it exists (where
        the course keeps it); otherwise a synthetic stand-in
        (:func:`football_stand_in`) is returned with a warning saying so.

    Returns
    -------
    train_X : ndarray of shape (2, m_train)
    train_Y : ndarray of shape (1, m_train)
    test_X : ndarray of shape (2, m_test)
    test_Y : ndarray of shape (1, m_test)

    Raises
    ------
    FileNotFoundError
        If ``path`` is given and does not exist.
    ValueError
        If the file lacks one of the four keys.
    """
    if path is None:
        default = Path("datasets") / "data.mat"
        if not default.is_file():
            warnings.warn(
                "load_2D_dataset: no data.mat given; returning a SYNTHETIC stand-in for "
                "the course's football data (pass path=... to use the real file)",
                UserWarning, stacklevel=2)
            return football_stand_in()
        path = default
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    data = loadmat(path)
    missing = [k for k in ("X", "y", "Xval", "yval") if k not in data]
    if missing:
        raise ValueError(f"path: {str(path)!r} lacks the keys {missing} of the course's "
                         "data.mat")
    return data["X"].T, data["y"].T, data["Xval"].T, data["yval"].T


def load_cat_data(train_path="datasets/train_catvnoncat.h5",
                  test_path="datasets/test_catvnoncat.h5"):
    """The cat / non-cat images of the L-layer notebooks (needs ``h5py``).

    Parameters
    ----------
    train_path, test_path : str or path-like
        The course's HDF5 files.

    Returns
    -------
    train_x_orig : ndarray of shape (m_train, 64, 64, 3)
    train_y : ndarray of shape (1, m_train)
    test_x_orig : ndarray of shape (m_test, 64, 64, 3)
    test_y : ndarray of shape (1, m_test)
    classes : ndarray of bytes
    """
    try:
        import h5py
    except ImportError:
        raise ImportError("load_data needs h5py: pip install h5py "
                          "(or fastnn[dev])") from None
    for name, p in (("train_path", train_path), ("test_path", test_path)):
        if not Path(p).is_file():
            raise FileNotFoundError(f"{name}: no such file {str(p)!r}")
    with h5py.File(train_path, "r") as train:
        train_x = np.array(train["train_set_x"][:])
        train_y = np.array(train["train_set_y"][:])
    with h5py.File(test_path, "r") as test:
        test_x = np.array(test["test_set_x"][:])
        test_y = np.array(test["test_set_y"][:])
        classes = np.array(test["list_classes"][:])
    return (train_x, train_y.reshape(1, -1), test_x, test_y.reshape(1, -1), classes)
