# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# One thread per process: with two cores, threaded BLAS/torch/LightGBM fight each other.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1

PD2 := .venv-pandas2
BENCH := .venv-bench

.PHONY: demo test test-fast test-pandas2 lint bench bench-quick bench-timing dashboard clean install chromium

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: on these machines 2.13.0 is a local CPU build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# fcplan must work on pandas 2 too (statsforecast, gluonts and AutoGluon need pandas < 3).
$(PD2)/.installed: pyproject.toml
	@test -x $(PD2)/bin/python || $(PYTHON) -m venv $(PD2)
	$(PD2)/bin/python -m pip install --quiet "torch==2.13.0" "pandas<3"
	$(PD2)/bin/python -m pip install --quiet -e ".[dev]" "pandas<3"
	@touch $@

# Peers for the accuracy benchmark (statsforecast needs pandas < 3).
$(BENCH)/.installed: pyproject.toml
	@test -x $(BENCH)/bin/python || $(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet "torch==2.13.0" "pandas<3"
	$(BENCH)/bin/python -m pip install --quiet -e ".[dev,bench]" "pandas<3"
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/fcplan demo

# The browser test (tests/dashboard/test_browser.py) drives Debian's Chromium through
# Playwright: never a downloaded browser. Installed here when missing and apt is ours (CI runs as root).
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	  else echo "note: $(CHROMIUM) is missing (sudo apt-get install -y chromium): the browser test will be skipped"; fi; }

test: $(STAMP) $(PD2)/.installed chromium
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-pandas2

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The unit tests again on pandas 2.
test-pandas2: $(PD2)/.installed
	$(PD2)/bin/python -m pytest -q -p no:cacheprovider -m "not integration and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py
	$(BENCH)/bin/python benchmarks/staffing_cost.py
	$(BIN)/python benchmarks/stream_throughput.py

bench-quick: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py --quick

bench-timing: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py --only retail --timing 1000

dashboard: $(STAMP)
	$(BIN)/fcplan dashboard

clean:
	rm -rf $(VENV) $(PD2) $(BENCH) var build *.egg-info
