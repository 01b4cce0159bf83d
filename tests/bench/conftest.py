"""pytest-benchmark suite of the kernels: run with ``make bench`` (never by ``make test``).

Options:

``--bench-dtype DTYPE``
    Repeatable; default ``float64``. ``float32`` groups are named ``{kernel}-{size}-float32``.
``--bench-backend NAME``
    Repeatable; default every backend (``numpy``, ``numba``, ``cuda``); unavailable ones
    are skipped.
"""


def pytest_addoption(parser):
    group = parser.getgroup("fastnn kernel benchmarks")
    group.addoption("--bench-dtype", action="append", default=None,
                    help="dtype(s) of the kernel benchmarks (default float64)")
    group.addoption("--bench-backend", action="append", default=None,
                    help="backend(s) besides numpy (default all; unavailable ones skip)")


def pytest_generate_tests(metafunc):
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", metafunc.config.getoption("bench_dtype") or ["float64"])
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("bench_backend") or ["numba", "cuda"]
        backends = ["numpy"] + [b for b in chosen if b != "numpy"]
        metafunc.parametrize("backend", backends)

