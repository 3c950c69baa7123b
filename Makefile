# Two entry points (see README): `make demo` runs a game day on the embedded lab,
# `make test` runs the whole test suite. Both do all set-up on a fresh Debian machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup lab-install test-deps demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP) lab-install

lab-install: $(STAMP)
	$(BIN)/gameday lab install

# A zone-outage game day on the embedded lab (started on demand, left running for a look
# around: `$(BIN)/gameday lab status`, `$(BIN)/gameday lab down`). Prints the report's path.
demo: setup
	$(BIN)/pytest scenarios/zone_outage.py --keep-lab --gameday-set zones=europe-west1-b

# the report test renders the HTML report in headless Chromium (Debian's package)
test-deps:
	command -v chromium >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: setup test-deps
	$(BIN)/ruff check gameday tests scenarios bench conftest.py
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check gameday tests scenarios bench conftest.py

# benchmarks compare side by side within one script run; figures go to BENCHMARKS.md
bench: setup
	command -v wrk >/dev/null && command -v haproxy >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk haproxy)
	$(BIN)/python bench/lab_up.py
	$(BIN)/python bench/plugin_overhead.py
	$(BIN)/python bench/load_throughput.py
	$(BIN)/python bench/ingress_throughput.py
	$(BIN)/python bench/scenarios.py

clean:
	-$(BIN)/gameday lab down --purge
	rm -rf $(VENV) .pytest_cache .ruff_cache
