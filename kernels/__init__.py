"""fastnn's compute kernels: one module per backend, one contract (see ``_spec``).

>>> from fastnn import kernels
>>> K = kernels.get("numpy")
>>> sorted(kernels.available())[0]
'numpy'

Backends are imported lazily, on first use: importing fastnn never compiles a kernel
and never needs CUDA.
"""

import importlib

from . import _spec

__all__ = ["get", "available", "BACKENDS"]

#: Backend name -> module (relative to this package).
BACKENDS = {"numpy": ".numpy_ref", "numba": ".cpu", "cuda": ".cuda"}

_loaded = {}


def get(name):
    """Return the kernel module of backend ``name``.

    Parameters
    ----------
    name : {"numpy", "numba", "cuda"}
        Backend name.

    Returns
    -------
    module
        A module implementing every function of :data:`_spec.FUNCTIONS`.

    Raises
    ------
    ValueError
        If ``name`` is not a known backend.
    RuntimeError
        If the backend cannot be used here (not built, or no GPU / simulator).
    """
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(
            f"backend must be one of {sorted(BACKENDS)}, got {name!r}")
    if name not in _loaded:
        try:
            module = importlib.import_module(BACKENDS[name], __name__)
        except ModuleNotFoundError as exc:
            if exc.name == __name__ + BACKENDS[name]:
                raise RuntimeError(
                    f"backend {name!r} is not built in this version of fastnn") from None
            raise RuntimeError(
                f"backend {name!r} cannot be used: {exc}") from exc
        check = getattr(module, "check_available", None)
        if check is not None:
            check()
        missing = [f for f in _spec.FUNCTIONS if not hasattr(module, f)]
        if missing:
            raise RuntimeError(f"backend {name!r} lacks kernels {missing}")
        _loaded[name] = module
    return _loaded[name]


def available():
    """Names of the backends usable in this process.

    Returns
    -------
    list of str
        Always contains ``"numpy"``; ``"numba"`` when its module is built;
        ``"cuda"`` only when a GPU or the CUDA simulator is present.
    """
    names = []
    for name in BACKENDS:
        try:
            get(name)
        except RuntimeError:
            continue
        names.append(name)
    return names
