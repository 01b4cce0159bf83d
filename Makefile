# The README's commands. Only Python 3.11+ and make are needed on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Course data files (data.mat, the cat .h5 images): the first of these folders that exists.
DATA   ?= $(firstword $(wildcard datasets ../shared/datasets))
DATA_ARG := $(if $(DATA),--data $(DATA),)

.PHONY: demo test test-fast bench bench-check clean

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
	$(BIN)/python -m pytest -q
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -q tests/test_cuda_kernels.py

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
	rm -rf $(VENV) results .pytest_cache
