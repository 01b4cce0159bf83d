"""Backend selection: which kernel module the façade calls."""

import contextlib
import contextvars
import os

from . import kernels

__all__ = ["set_backend", "get_backend", "use_backend", "kernel_module"]

DEFAULT_BACKEND = "numba"
ENV_VAR = "FASTNN_BACKEND"

_global = None
_override = contextvars.ContextVar("fastnn_backend_override", default=None)


def _check_name(name):
    if not isinstance(name, str) or name not in kernels.BACKENDS:
        raise ValueError(
            f"backend must be one of {sorted(kernels.BACKENDS)}, got {name!r}")
    return name


def get_backend():
    """Name of the backend the façade uses now.

    Returns
    -------
    str
        The innermost :func:`use_backend` name, else the last :func:`set_backend`
        name, else the ``FASTNN_BACKEND`` environment variable, else ``"numba"``.
    """
    name = _override.get()
    if name is None:
        name = _global
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or DEFAULT_BACKEND
    return name


def set_backend(name):
    """Select the backend for the whole process.

    Parameters
    ----------
    name : {"numpy", "numba", "cuda"}
        Backend name. It is loaded now, so an unusable backend fails here.

    Raises
    ------
    ValueError
        If ``name`` is not a backend name.
    RuntimeError
        If the backend cannot be used on this machine.
    """
    global _global
    kernels.get(_check_name(name))
    _global = name


@contextlib.contextmanager
def use_backend(name):
    """Context manager selecting a backend inside a ``with`` block.

    Parameters
    ----------
    name : {"numpy", "numba", "cuda"}
        Backend name.

    Examples
    --------
    >>> import fastnn
    >>> with fastnn.use_backend("numpy"):
    ...     fastnn.get_backend()
    'numpy'
    """
    kernels.get(_check_name(name))
    token = _override.set(name)
    try:
        yield name
    finally:
        _override.reset(token)


def kernel_module():
    """The kernel module of the current backend (see :mod:`fastnn.kernels`)."""
    name = get_backend()
    if name not in kernels.BACKENDS:
        raise ValueError(
            f"{ENV_VAR} must name one of {sorted(kernels.BACKENDS)}, got {name!r}")
    return kernels.get(name)
