"""Plots of the notebooks: decision boundaries and cost curves (matplotlib, headless-safe).

Nothing here calls ``plt.show()`` on a non-interactive backend, so the functions work in
scripts, tests and CI; every function returns the matplotlib ``Axes`` it drew on.
"""

import numpy as np

__all__ = ["plot_decision_boundary", "decision_boundary", "cost_curve", "show"]


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def show():
    """``plt.show()`` when the matplotlib backend is interactive; otherwise nothing."""
    import matplotlib

    plt = _pyplot()
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo",
                                                "template"):
        plt.show()


def decision_boundary(model, X, y, ax=None, xlim=None, ylim=None, title=None, step=0.01):
    """Fill the plane by the predictions of ``model`` and scatter the points on top.

    Parameters
    ----------
    model : callable
        Takes an array of points shaped (n_points, 2) and returns one label per point
        (for example ``lambda x: predict_dec(parameters, x.T)``).
    X : array_like of shape (2, m)
        The points.
    y : array_like of m labels
        Their classes (any shape with m entries).
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    xlim, ylim : (float, float), optional
        Axis limits (the notebooks use, e.g., ``[-1.5, 1.5]``); the data range plus a
        margin of 1 by default, as the course does.
    title : str, optional
    step : float
        Grid spacing.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(f"X must have shape (2, m), got {X.shape}")
    y = np.ravel(np.asarray(y))
    if y.size != X.shape[1]:
        raise ValueError(f"y must hold {X.shape[1]} labels, got {y.size}")
    x_min, x_max = xlim if xlim is not None else (X[0].min() - 1, X[0].max() + 1)
    y_min, y_max = ylim if ylim is not None else (X[1].min() - 1, X[1].max() + 1)
    xx, yy = np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))
    Z = np.asarray(model(np.c_[xx.ravel(), yy.ravel()]), dtype=float).reshape(xx.shape)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    # fixed levels and colour limits: class 0 is red and class 1 blue even when the
    # model predicts a single class everywhere
    ax.contourf(xx, yy, Z, levels=[-0.5, 0.5, 1.5], cmap=plt.cm.Spectral, vmin=0, vmax=1)
    ax.scatter(X[0], X[1], c=y.astype(float), cmap=plt.cm.Spectral, vmin=0, vmax=1, s=12,
               edgecolors="k", linewidths=0.3)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    return ax


def plot_decision_boundary(model, X, y):
    """The notebooks' ``plot_decision_boundary(model, X, y)``.

    Draws on the current figure as the course does (axis limits from ``plt.axis`` if the
    caller set them first) and shows it when the backend is interactive.

    Parameters
    ----------
    model : callable
        Points (n_points, 2) -> labels.
    X : array_like of shape (2, m)
    y : array_like of m labels

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    ax = plt.gca()
    limits = None
    if not ax.get_autoscale_on():
        limits = ax.get_xlim(), ax.get_ylim()
    ax = decision_boundary(model, X, y, ax=ax,
                           xlim=limits[0] if limits else None,
                           ylim=limits[1] if limits else None)
    show()
    return ax


def cost_curve(costs, every=100, learning_rate=None, ax=None, label=None, unit="iterations"):
    """The cost against iterations, as the notebooks plot it.

    Parameters
    ----------
    costs : sequence of float
        Costs recorded every ``every`` iterations (or epochs).
    every : int
        Spacing of the recorded costs.
    learning_rate : float, optional
        Shown in the title.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label (for several curves on one axes).
    unit : str
        x-axis unit.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    costs = np.asarray(costs, dtype=float).ravel()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(costs.size) * every, costs, label=label,
            marker="o" if costs.size <= 20 else None, markersize=3)
    ax.set_ylabel("cost")
    ax.set_xlabel(unit)
    if learning_rate is not None:
        ax.set_title(f"Learning rate = {learning_rate:g}")
    if label is not None:
        ax.legend()
    return ax
