# The tasks CI runs, one name each. `make ci` is what .ci/run does on a fresh checkout;
# every other target uses the virtual environment you already have (VENV=path to override).
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: help lint format typecheck test cov ci ui

help:
	@echo "make lint       ruff check + ruff format --check"
	@echo "make format     ruff format + ruff check --fix"
	@echo "make typecheck  mypy (strict)"
	@echo "make test       the whole suite (PYTEST_ARGS='-x tests/adapters' to narrow it)"
	@echo "make cov        the suite with coverage, then the total on one line"
	@echo "make ci         lint, typecheck, then cov: what .ci/run runs"
	@echo "make ui         re-copy the console's vendored front-end files (npm)"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

test:
	$(BIN)/python -m pytest $(PYTEST_ARGS)

cov:
	$(BIN)/python -m pytest --cov --cov-report= $(PYTEST_ARGS)
	@echo "coverage (lines, proxy/ adapters/ schemas/): $$($(BIN)/coverage report --format=total)%"

ci: lint typecheck cov

# The console (the gateway itself needs none of this: `pip install .` ships the built console).
CONSOLE := proxy/surfaces/console

# Re-copy the console's vendored front-end files from the npm packages pinned in
# $(CONSOLE)/assets/package-lock.json (bump a version there, then run `make ui`).
ui:
	cd $(CONSOLE)/assets && npm ci --ignore-scripts --no-audit --no-fund
	cp $(CONSOLE)/assets/node_modules/htmx.org/dist/htmx.min.js $(CONSOLE)/static/vendor/htmx.min.js
	cp $(CONSOLE)/assets/node_modules/htmx.org/LICENSE $(CONSOLE)/static/vendor/htmx.LICENSE.txt
	cp $(CONSOLE)/assets/node_modules/chart.js/dist/chart.umd.min.js $(CONSOLE)/static/vendor/chart.umd.min.js
	cp $(CONSOLE)/assets/node_modules/chart.js/LICENSE.md $(CONSOLE)/static/vendor/chart.js.LICENSE.txt
