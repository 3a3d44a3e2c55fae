# Quick start: `make run`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEILHABE_HOME ?= teilhabe-home
export TEILHABE_HOME

.PHONY: install run test ui serve bench fuzz clean

install: $(VENV)/.installed

# Exact versions from requirements.lock; the project itself is installed editable on top.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The demo, then its approvals (every quarter but the latest) and a correction of one approved
# quarter, which the second run shows as "changed since approval" (docs/approval.md).
run: install
	$(BIN)/teilhabe demo --home $(TEILHABE_HOME)
	$(BIN)/teilhabe run --home $(TEILHABE_HOME)
	$(BIN)/teilhabe demo --approvals --home $(TEILHABE_HOME)
	$(BIN)/teilhabe run --home $(TEILHABE_HOME)

test: install
	$(BIN)/python -m pytest

ui: install
	$(BIN)/teilhabe ui --home $(TEILHABE_HOME)

# National scale (docs/scale.md): generates bench-home/ if missing, then floor, full, nothing-new and incremental
# runs; then how long `teilhabe check` takes on one demo file.
bench: install
	$(BIN)/python bench/run.py --home bench-home
	$(BIN)/python bench/check.py

# The hostile corpus (tests/hostile.py): 300+ inbox entries through check and run, in a new fuzz-home/.
fuzz: install
	rm -rf fuzz-home
	$(BIN)/python -m tests.hostile --home fuzz-home

clean:
	rm -rf $(TEILHABE_HOME)
