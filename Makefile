# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test lint bench clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints-dev.txt -e '.[plot]'
	touch $@

$(VENV)/.dev: pyproject.toml constraints-dev.txt $(VENV)/.base
	$(PIP) -c constraints-dev.txt -e '.[dev]'
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/lrlab show build-nanogpt-124m
	$(VENV)/bin/lrlab presets
	$(VENV)/bin/lrlab compare --task circle --seeds 3 --out runs/demo

test: $(VENV)/.dev
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -q

lint: $(VENV)/.dev
	$(PY) -m ruff check src tests benchmarks

bench: $(VENV)/.dev
	$(PY) benchmarks/bench_schedules.py
	$(PY) benchmarks/bench_torch.py
	$(PY) benchmarks/bench_viz.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis runs
