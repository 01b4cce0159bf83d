"""asv benchmark suites of fastnn (see ``asv.conf.json`` at the top of the repository).

The cases (inputs, sizes, cost models) are defined once in :mod:`fastnn.bench` and shared
with ``fastnn bench`` and the pytest-benchmark suite in ``tests/bench``.
"""
