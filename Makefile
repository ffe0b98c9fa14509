# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export AGENTOPS_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/agentops
export AGENTOPS_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint typecheck check services clean

$(BIN)/agentops: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/agentops

install: $(BIN)/agentops

services:
	@bash .ci/system-deps
	@bash .ci/services

run: install services
	$(BIN)/agentops dev

test: install services
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app handlers jobs

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
