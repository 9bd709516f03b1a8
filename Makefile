# `make run` and `make test` set everything up themselves; running them again is fast.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SYNAPSE_VENV ?= .venv-synapse

.PHONY: run test bench bench-quick lint demo clean translations docs/overview.png

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Convener needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/convener catalog --compile-only
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/convener catalog --compile-only
	@touch $@ $(VENV)/.installed-run

$(VENV)/.libreoffice: scripts/install-libreoffice.sh | $(BIN)/python
	bash scripts/install-libreoffice.sh
	@touch $@

$(SYNAPSE_VENV)/.installed: scripts/install-synapse.sh
	SYNAPSE_VENV=$(SYNAPSE_VENV) PYTHON=$(PYTHON) bash scripts/install-synapse.sh
	@touch $@

# Element's SDK (matrix-js-sdk) for tests/test_matrix_element_client.py: Node 20 and npm,
# exactly the versions in the lock file.
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	@touch $@

run: $(VENV)/.installed-run
	$(BIN)/convener run

demo: $(VENV)/.installed-run
	$(BIN)/convener demo --fresh demo/demo.db
	CONVENER_DATABASE_URL=sqlite:///demo/demo.db \
	CONVENER_COMMUNITY_NAME="$${CONVENER_COMMUNITY_NAME:-Municipal Finance Practice (demo)}" \
	$(BIN)/convener report -o demo/demo.xlsx --pdf
	@echo "Open demo/demo.xlsx (or demo/demo.pdf). Try the bot on the demo community:"
	@echo "  CONVENER_DATABASE_URL=sqlite:///demo/demo.db make run"

# The picture of the overview page in the README (needs LibreOffice and poppler-utils).
docs/overview.png: demo
	pdftoppm -png -r 80 -f 1 -l 1 -singlefile demo/demo.pdf docs/overview

test: $(VENV)/.installed-test $(SYNAPSE_VENV)/.installed $(VENV)/.libreoffice tests/js/node_modules/.installed
	SYNAPSE_VENV=$(SYNAPSE_VENV) $(BIN)/python -m pytest -q

# Every benchmark beside its baseline, one table and the total time (under ten minutes here;
# with CONVENER_TEST_DATABASE_URL set, PostgreSQL rows too). bench-quick: small sizes, about
# a minute; it fails only if a benchmark breaks, never on a figure.
bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

bench-quick: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks --quick

# Extract every message into bot/locale/convener.pot, update each language's .po from it,
# and compile them (Babel); then translate what it reports as missing.
translations: $(VENV)/.installed-test
	$(BIN)/convener catalog

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(SYNAPSE_VENV) .pytest_cache .ruff_cache *.egg-info demo tests/js/node_modules
