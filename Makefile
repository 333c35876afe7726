PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest openapi bench bench-analytics bench-views crash-test fuzz clean

$(BIN)/lrs: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/lrs
	$(BIN)/lrs serve --host $(HOST) --port $(PORT)

test: $(BIN)/lrs lint typecheck pytest

lint: $(BIN)/lrs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/lrs
	$(BIN)/mypy

pytest: $(BIN)/lrs
	$(BIN)/pytest -q -n auto

# Needs PostgreSQL at 127.0.0.1:5432; BENCH_ARGS e.g. "--statements 100000 --backends sqlite".
bench: $(BIN)/lrs
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The learner models' predictions through the API, time-ordered, next to a constant baseline:
# FSRS on the real review log in ../shared/data, BKT on simulated answers. BENCH_ARGS e.g.
# "--backend sqlite".
bench-analytics: $(BIN)/lrs
	$(BIN)/python -m bench.analytics $(BENCH_ARGS)

# The learner-model views at 1M statements on PostgreSQL (one learner's, a 10,000-learner
# cohort's) after `lrs analytics rebuild`; BENCH_ARGS e.g. "--statements 100000".
bench-views: $(BIN)/lrs
	$(BIN)/python -m bench.analytics_views $(BENCH_ARGS)

# SIGKILLs a loaded server again and again, then counts what was lost; CRASH_ARGS e.g.
# "--backends sqlite --kills 3". Needs PostgreSQL at 127.0.0.1:5432.
crash-test: $(BIN)/lrs
	$(BIN)/python -m bench.crash $(CRASH_ARGS)

# Schemathesis against openapi/openapi.json and a live server on each back end; FUZZ_ARGS
# e.g. "--backends sqlite --examples 10". Needs PostgreSQL at 127.0.0.1:5432.
fuzz: $(BIN)/lrs
	$(BIN)/pip install --quiet -e '.[dev,fuzz]'
	$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

openapi: $(BIN)/lrs
	$(BIN)/lrs openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
