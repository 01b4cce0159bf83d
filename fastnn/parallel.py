"""Run many configurations in parallel through joblib, within a thread budget.

:func:`sweep` calls a function once per combination of a parameter grid, on joblib
workers. It uses whichever joblib backend is active, so the same code scales from the
local ``loky`` processes to a cluster::

    from joblib import parallel_config
    with parallel_config(backend="dask"):      # after dask.distributed.Client(...)
        results = sweep(train_one, {"keep_prob": [0.7, 0.86, 1.0]}, n_jobs=-1)

Each worker limits its BLAS and Numba threads (:func:`thread_budget`) so that parallel
workers do not oversubscribe the cores.
"""

import contextlib
import os

from sklearn.model_selection import ParameterGrid

__all__ = ["sweep", "thread_budget"]


def _limit_pools(n_threads, user_api=None):
    """``threadpoolctl.threadpool_limits(n_threads, user_api)``, reaching Numba's BLAS too.

    threadpoolctl limits the libraries loaded when the limit is set. Numba's ``np.dot``
    in compiled code calls SciPy's BLAS, a library of its own that loads on the first
    such call, so it is loaded first here. Returns the context manager (the previous
    limits come back on exit).
    """
    from threadpoolctl import threadpool_limits

    with contextlib.suppress(ImportError):
        import scipy.linalg.cython_blas  # noqa: F401
    return threadpool_limits(limits=n_threads, user_api=user_api)


@contextlib.contextmanager
def thread_budget(n_threads):
    """Limit BLAS (threadpoolctl) and Numba threads to ``n_threads`` inside the block.

    Parameters
    ----------
    n_threads : int
        At least 1.
    """
    n_threads = max(1, int(n_threads))
    previous = None
    try:
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    try:
        with _limit_pools(n_threads):
            yield
    finally:
        if previous is not None:
            import numba

            numba.set_num_threads(previous)


def _call(function, params, n_threads, backend):
    from ._backend import use_backend

    context = use_backend(backend) if backend is not None else contextlib.nullcontext()
    with thread_budget(n_threads), context:
        return function(**params)


def sweep(function, param_grid, n_jobs=None, threads_per_job=None, backend=None,
          verbose=0):
    """Call ``function(**params)`` for every combination of ``param_grid``, in parallel.

    Parameters
    ----------
    function : callable
        Takes the grid's keys as keyword arguments; must be picklable by cloudpickle
        (lambdas and local functions are fine with joblib's loky backend).
    param_grid : dict or list of dict
        As :class:`sklearn.model_selection.ParameterGrid`, e.g.
        ``{"lambd": [0, 0.7], "keep_prob": [1, 0.86]}``.
    n_jobs : int, optional
        Parallel workers (joblib semantics; None means 1 unless a
        ``joblib.parallel_config`` says otherwise, -1 means all cores).
    threads_per_job : int, optional
        BLAS / Numba threads per worker; by default the cores divided by the workers.
    backend : {"numpy", "numba", "cuda"}, optional
        fastnn backend inside the workers (default: the workers' default).
    verbose : int
        joblib's verbosity.

    Returns
    -------
    list of (dict, object)
        ``(params, function(**params))`` in the grid's order.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    if not callable(function):
        raise TypeError(f"function must be callable, got {function!r}")
    grid = list(ParameterGrid(param_grid))
    workers = max(1, min(effective_n_jobs(n_jobs), len(grid) or 1))
    if threads_per_job is None:
        threads_per_job = max(1, (os.cpu_count() or 1) // workers)
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_call)(function, params, threads_per_job, backend) for params in grid)
    return list(zip(grid, results))
