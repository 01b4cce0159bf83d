# The README's commands. Only Python 3.11+ and make are needed on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Course data files (data.mat, the cat .h5 images): the first of these folders that exists.
DATA   ?= $(firstword $(wildcard datasets ../shared/datasets))
DATA_ARG := $(if $(DATA),--data $(DATA),)

.PHONY: demo test test-fast test-boundscheck test-nojit fuzz bench bench-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fastnn reproduce all --out results $(DATA_ARG) --verbose

# The CUDA kernels run on the simulator in a process of their own (the simulator must be
# switched on before numba is imported); without it, that module skips itself.
test: $(STAMP)
	$(BIN)/fastnn warmup
	$(BIN)/python -m pytest -q
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -q tests/test_cuda_kernels.py

# The kernel tests and the fuzz with Numba's bounds checks on. Numba's cache does not
# tell bounds-checked code from unchecked code, so this compiles into a cache of its own.
test-boundscheck: $(STAMP)
	cache=$$(mktemp -d); NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$$cache OPENBLAS_NUM_THREADS=1 \
	$(BIN)/python -m pytest -q tests/test_kernels_cpu.py tests/test_fuzz.py -m "not slow"; \
	status=$$?; rm -rf $$cache; exit $$status

# The kernel unit tests as plain Python (NUMBA_DISABLE_JIT=1) under coverage, leaving out
# what is too slow uninterpreted (whole training runs, 1e6-element dropout, the thread
# sweep) and what needs compiled code (fuzz and cache subprocesses, bounds checks).
NOJIT_SKIP := not train_ and not thread_count and not shape4 and not fuzz_numba and \
	not fuzz_harness and not concurrent and not read_only and not deterministic_across \
	and not boundscheck
test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m coverage run \
		--source=fastnn,kernels -m pytest -q -p no:cacheprovider tests/test_kernels_cpu.py \
		tests/test_numpy_ref.py tests/test_validation.py tests/test_reliability.py \
		tests/test_fuzz.py -m "not slow" -k "$(NOJIT_SKIP)" -W ignore::RuntimeWarning
	$(BIN)/python -m coverage report --omit="kernels/cuda.py,kernels/_cuda*" \
		--include="kernels/*"
	$(BIN)/python -m coverage report --omit="kernels/cuda.py,kernels/_cuda*"

# A long fuzz run of the public API (each call: same result as NumPy, or a clean error).
FUZZ_CALLS ?= 10000
fuzz: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python tests/fuzz_driver.py --calls $(FUZZ_CALLS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Kernel benchmarks (pytest-benchmark): NumPy baseline and every backend side by side,
# grouped by kernel and size; results saved under .benchmarks/ (git-ignored). Compare
# with a saved run: make bench BENCH_ARGS="--benchmark-compare=0001"
BENCH_ARGS ?=
BENCH_CHECK_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m pytest tests/bench -q --benchmark-only \
		--benchmark-warmup=on --benchmark-autosave --benchmark-storage=.benchmarks \
		--benchmark-group-by=group --benchmark-sort=name \
		--benchmark-columns=min,median,iqr,ops,rounds $(BENCH_ARGS)

# The CI speed gate: quick workloads, ratios vs benchmarks/floors.json (exit 1 below a
# floor, 2 when the gate cannot run, e.g. Numba missing).
bench-check: $(STAMP)
	$(BIN)/fastnn bench --quick --check $(BENCH_CHECK_ARGS)

clean:
	rm -rf $(VENV) results .pytest_cache .coverage
