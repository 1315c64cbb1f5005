PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= nightshift.yaml

.PHONY: venv run test lint check bench clean

$(BIN)/nightshift: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/nightshift

run: $(BIN)/nightshift
	$(BIN)/nightshift migrate
	$(BIN)/nightshift serve --config $(CONFIG)

test: $(BIN)/nightshift
	$(BIN)/pytest -q -ra

lint: $(BIN)/nightshift
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy bot

check: $(BIN)/nightshift
	$(BIN)/nightshift check --config $(CONFIG)

bench: $(BIN)/nightshift
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/slack.py
	$(BIN)/python bench/escalation.py

clean:
	rm -rf $(VENV) nightshift.db nightshift.db-wal nightshift.db-shm
