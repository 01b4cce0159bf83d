"""Every kernel family x size, NumPy baseline and each backend in the same group.

The cases come from :func:`fastnn.bench.build_case` (the inputs and shapes the asv suite
and ``fastnn bench`` use). Each case is built and called once before the benchmark
starts, so compilation is never timed; run with ``--benchmark-warmup=on`` (``make bench``
does) for a warm-up phase on top.
"""

import pytest

from fastnn import bench

CASES = [(family, size) for family in bench.FAMILIES for size in bench.SIZES]


@pytest.mark.parametrize(("kernel", "size"), CASES, ids=[f"{k}-{s}" for k, s in CASES])
def test_kernel(benchmark, kernel, size, dtype, backend):
    try:
        case = bench.build_case(kernel, size, dtype, backend)
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    case.fn()                                   # compile before timing
    benchmark.group = f"{kernel}-{size}" + ("" if dtype == "float64" else f"-{dtype}")
    benchmark.extra_info.update(kernel=kernel, size=size, dtype=dtype, backend=backend,
                                description=case.description, bytes=case.bytes,
                                flops=case.flops)
    benchmark(case.fn)


@pytest.mark.parametrize("model", bench.MODELS)
def test_model(benchmark, model, dtype, backend):
    if dtype != "float64":
        pytest.skip("the notebooks' model() calls run in float64")
    try:
        fn = bench.build_model(model, backend)
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    fn()                                        # compile before timing
    benchmark.group = model
    benchmark.extra_info.update(kernel="model", backend=backend)
    benchmark(fn)
