"""fastnn: the deep-learning course notebooks' NumPy network API, compiled with Numba.

Change one import line (``from opt_utils import *`` becomes
``from fastnn.optimization import *``) and the same calls return the same numbers,
computed by compiled kernels. See the README for the façade modules, the backends and
the benchmarks.
"""

from ._backend import get_backend, set_backend, use_backend
from ._validation import get_options, options


def warmup(backend=None):
    """Compile the kernels of a backend ahead of time (or load them from the cache).

    Kernels compile lazily on first use; calling this once (or ``fastnn warmup``) moves
    that cost out of the first timed call.

    Parameters
    ----------
    backend : {"numpy", "numba", "cuda"}, optional
        Default: the current backend.

    Returns
    -------
    float
        Seconds taken (0.0 for a backend with nothing to compile).
    """
    from . import kernels

    module = kernels.get(backend or get_backend())
    compile_all = getattr(module, "warmup", None)
    return float(compile_all()) if compile_all is not None else 0.0


def __getattr__(name):
    # the estimator and the sweep pull in scikit-learn: import them on first use
    if name == "MLPClassifier":
        from .estimator import MLPClassifier

        return MLPClassifier
    if name in ("sweep", "thread_budget"):
        from . import parallel

        return getattr(parallel, name)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "get_backend",
    "set_backend",
    "use_backend",
    "options",
    "get_options",
    "warmup",
    "MLPClassifier",
    "sweep",
    "thread_budget",
    "__version__",
]
