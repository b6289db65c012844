# The two commands a newcomer needs:  make run   and   make test
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PORT    ?= 8501

.PHONY: run test setup setup-test browser test-fast fuzz-long bench load-test clean

$(BIN)/.installed: requirements.txt constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -c constraints.txt
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed requirements-test.txt requirements-spark.txt
	$(BIN)/pip install -q -r requirements-test.txt -r requirements-spark.txt -c constraints.txt
	touch $@

setup: $(BIN)/.installed
setup-test: $(BIN)/.installed-test browser

## Debian chromium for the browser tests, figure export and PDF report (installed when missing).
browser:
	@bash scripts/ensure_system_packages.sh

## Start the dashboard on the bundled combined synthetic sample (serve.py = `streamlit run app.py`
## with the libraries imported and the sample loaded before the server listens: a faster first view).
run: setup
	$(BIN)/python serve.py --server.port $(PORT)

## Set up everything the tests need and run the whole suite (unit, R reference, AppTest, browser).
test: setup-test
	$(BIN)/python scripts/run_tests.py tests

## Quick loop while developing: everything but the browser tests.
test-fast: setup-test
	$(BIN)/python scripts/run_tests.py tests --ignore=tests/e2e

bench: setup-test
	$(BIN)/python bench/bench_survival.py

## Hostile-file fuzzing of the loader, 20x the CI examples with random seeds (about an hour on 2 cores).
fuzz-long: setup-test
	IL2_FUZZ_PROFILE=long $(BIN)/python scripts/run_tests.py tests/test_fuzz_loader.py -s

## 20 concurrent websocket sessions on loopback: zero errors, isolation, server memory (bench/results/).
load-test: setup-test
	$(BIN)/python bench/load_test.py --sessions 20 --rounds 6 --batches 3

clean:
	rm -rf $(VENV) tests/artifacts
