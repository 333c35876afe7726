PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest openapi bench clean

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
	$(BIN)/pytest -q

# Needs PostgreSQL at 127.0.0.1:5432; BENCH_ARGS e.g. "--statements 100000 --backends sqlite".
bench: $(BIN)/lrs
	$(BIN)/python -m bench.run $(BENCH_ARGS)

openapi: $(BIN)/lrs
	$(BIN)/lrs openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
