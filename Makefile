# Two commands for a new user: `make demo` and `make test`.
# Both create a local virtualenv in .venv (MXNet 1.9.1 needs Python 3.8-3.11, see requirements.txt).

VENV := .venv
BIN := $(VENV)/bin
# The first interpreter that MXNet 1.9.1 + NumPy<1.24 support; override with `make PYTHON=...`.
PYTHON ?= $(shell for p in python3.11 python3.10 python3.9 python3.8 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 11)))' 2>/dev/null; then \
	echo $$p; break; fi; done)
OUT ?= demo-output

.PHONY: venv demo test test-horovod horovod docs bench bench-venv lint clean

$(BIN)/.installed: setup.py requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON)" ]; then echo "error: need Python 3.8-3.11 for MXNet 1.9.1 (set PYTHON=/path/to/python3.x)"; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

demo: venv
	MPLBACKEND=Agg $(BIN)/gluon-lrfinder --out $(OUT)

test: venv
	MPLBACKEND=Agg OMP_NUM_THREADS=1 $(BIN)/python -m pytest

# Horovod (optional extra) is built from source into .venv once: about 7 minutes on 2 cores.
# `make test` never builds it; the Horovod tests are skipped there when horovod.mxnet is missing.
HOROVOD_BUILD_ENV := HOROVOD_WITH_MXNET=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 \
	HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1

$(VENV)/.horovod-installed: | $(BIN)/.installed
	$(BIN)/python -m pip install -q wheel setuptools cloudpickle psutil pyyaml packaging cffi
	$(HOROVOD_BUILD_ENV) $(BIN)/python -m pip install --no-build-isolation --no-cache-dir horovod==0.28.1
	$(BIN)/python -c 'import horovod.mxnet'
	touch $@

horovod: $(VENV)/.horovod-installed

test-horovod: horovod
	MPLBACKEND=Agg OMP_NUM_THREADS=1 PATH="$(abspath $(BIN)):$$PATH" \
		$(BIN)/python -m pytest tests/engine/test_horovod.py -v -rs

# The documentation site (Sphinx + myst-nb + napoleon) into docs/_build/html, warnings as errors.
# The tutorial notebooks are executed during the build, in their fast, offline mode (docs/conf.py).
DOCS_OUT ?= docs/_build/html

$(BIN)/.docs-installed: requirements-docs.txt $(BIN)/.installed
	$(BIN)/python -m pip install -q -r requirements-docs.txt
	touch $@

docs: $(BIN)/.docs-installed
	$(BIN)/sphinx-build -W --keep-going -E -b html docs $(DOCS_OUT)
	@echo "Open $(DOCS_OUT)/index.html"

# The cheap part of the research harness (benchmarks/README.md lists every script and its time):
# the rule benchmarks re-scored from their cached JSON (seconds to a minute each), then the
# overhead and all-reduce timings (a few minutes). Retraining a cache is a separate, long command.
bench: venv
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python benchmarks/suggestion_regret.py --no-trials
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python benchmarks/advice/score.py
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python benchmarks/advice/noise_floor.py
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python benchmarks/overhead.py --quick
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python benchmarks/dist_allreduce.py --workers 2 4

# A separate virtualenv for the real-script recipes of the advice benchmark (GluonCV, GluonNLP and
# their pins, benchmarks/requirements-bench.txt), so that the test venv stays as users install it.
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin

$(BENCH_BIN)/.installed: setup.py requirements.txt benchmarks/requirements-bench.txt
	@if [ -z "$(PYTHON)" ]; then echo "error: need Python 3.8-3.11 for MXNet 1.9.1 (set PYTHON=/path/to/python3.x)"; exit 1; fi
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install -q --upgrade pip
	$(BENCH_BIN)/python -m pip install -q -r requirements.txt -r benchmarks/requirements-bench.txt
	$(BENCH_BIN)/python -m pip install -q --no-deps -e .
	$(BENCH_BIN)/python -c 'import mxnet, gluoncv, gluonnlp'
	touch $@

bench-venv: $(BENCH_BIN)/.installed

lint: venv
	$(BIN)/ruff check gluon_lrfinder tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(OUT) build *.egg-info docs/_build
