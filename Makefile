# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --constraint constraints.txt

.PHONY: run test bench lint notebook clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else f"Python 3.11+ is required; {sys.executable} is {v.major}.{v.minor}")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/nnf train

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/bench.py

notebook: $(VENV)/.dev-installed
	$(BIN)/python assignment/build_notebook.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis .ruff_cache
