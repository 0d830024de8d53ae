# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --constraint constraints.txt
# Where torch comes from. Empty: the default index, which on Linux serves the CUDA build
# (gigabytes) unless a CPU wheel of the pinned version is already at hand; set it to
# PyTorch's CPU wheel index to install the CPU build first.
TORCH_INDEX ?=

.PHONY: run test test-fast bench corpus fit-diagnosis notebook docs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else f"Python 3.11+ is required; {sys.executable} is {v.major}.{v.minor}")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch-installed: $(BIN)/python constraints.txt
	$(if $(TORCH_INDEX),$(PIP) --index-url $(TORCH_INDEX) torch)
	@touch $@

$(VENV)/.run-installed: $(VENV)/.torch-installed pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.torch-installed pyproject.toml constraints.txt
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/nnf train

# Two test workers (pytest-xdist), torch on one thread in each: the suite waits on child
# processes much of the time, so two workers on two cores take two thirds of one's time.
PYTEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PYTEST)

# the fast loop: everything but the cases marked slow
test-fast: $(VENV)/.dev-installed
	$(PYTEST) -m "not slow"

# the oracle corpus (resumable: chunks already in benchmarks/corpus/ are kept), then the
# verdict fitted to it
corpus: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/corpus.py --runs 2400 --jobs 2

fit-diagnosis: $(VENV)/.dev-installed
	cd benchmarks && ../$(BIN)/python fit_diagnosis.py

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/bench.py

# the README's figure, made by the code it shows
docs: $(VENV)/.run-installed
	$(BIN)/python docs/make_curves.py > /dev/null

notebook: $(VENV)/.dev-installed
	$(BIN)/python assignment/build_notebook.py
	$(BIN)/python assignment/template_figure.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis .ruff_cache
