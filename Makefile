# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The Python that runs repositories' tests in the sandbox: pytest and nothing of ours.
SANDBOX_VENV ?= .venv-sandbox
export AGENTOPS_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/agentops
export AGENTOPS_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install sandbox-python run test image-test lint typecheck check services clean settings-table

$(BIN)/agentops: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/agentops

install: $(BIN)/agentops

$(SANDBOX_VENV)/bin/pytest:
	$(PYTHON) -m venv $(SANDBOX_VENV)
	$(SANDBOX_VENV)/bin/pip install --quiet --upgrade pip
	$(SANDBOX_VENV)/bin/pip install --quiet pytest

sandbox-python: $(SANDBOX_VENV)/bin/pytest

services:
	@bash .ci/system-deps
	@bash .ci/services

run: install services sandbox-python
	AGENTOPS_SANDBOX_PYTHON="$${AGENTOPS_SANDBOX_PYTHON:-$(abspath $(SANDBOX_VENV))}" $(BIN)/agentops dev

# Three processes on two cores: the end-to-end modules spend most of their time waiting
# for processes they started; each test module stays in one process (its servers are
# module fixtures); every session has its own database and queue names, so they never meet.
TEST_WORKERS ?= 3

test: install services
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# The image, built and run (not part of `make test`: it needs Docker, and its first build
# takes minutes). Debian's docker.io client builds with BuildKit by itself; a newer `docker`
# CLI without the buildx plugin cannot, so Debian's is preferred when it is installed.
# Chosen by the shell when each line runs, not when make starts: on a fresh machine
# .ci/docker installs Debian's client in the first line.
DOCKER ?=
IMAGE  ?= agentops:test
DOCKER_CLI = $(or $(DOCKER),$$(test -x /usr/bin/docker && echo /usr/bin/docker || echo docker))

image-test: install services
	DOCKER="$(DOCKER_CLI)" bash .ci/docker
	DOCKER="$(DOCKER_CLI)" bash tests/image/build.sh $(IMAGE)
	DOCKER="$(DOCKER_CLI)" AGENTOPS_IMAGE=$(IMAGE) $(BIN)/pytest -q -s -p no:cacheprovider -n 0 tests/image

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app handlers jobs tests bench

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# README's configuration table, from the docstrings of app/config.py's settings
settings-table: install
	$(BIN)/python -m app.settings_table --write README.md

clean:
	rm -rf $(VENV) $(SANDBOX_VENV) .pytest_cache .mypy_cache .ruff_cache
