# The two commands README.md documents: `make demo` and `make test`. Both set up
# everything they need on a fresh machine that has Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install services clean

$(STAMP): setup.cfg pyproject.toml examples/podium-example-plugin/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=70.1" wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e examples/podium-example-plugin
	touch $(STAMP)

install: $(STAMP)

## Run Podium with the embedded default: SQLite, no Redis, a simulated PSA with demo data.
demo: $(STAMP)
	$(BIN)/podium --instance instance/demo demo

## Run the whole test suite against SQLite, PostgreSQL and Redis (started if installed but down).
test: $(STAMP) services
	scripts/install_browser.sh
	PODIUM_REQUIRE_SERVICES=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

## Run every benchmark in bench/ with its defaults (on demand; not part of `make test`).
bench: $(STAMP) services
	$(BIN)/pip install --quiet -e '.[bench]'
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python -m bench

services:
	scripts/ensure_services.sh

clean:
	rm -rf $(VENV) instance/demo .pytest_cache
