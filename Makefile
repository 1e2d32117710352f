# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test test-fast lint docs docs-serve bench clean browser

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints-dev.txt -e '.[plot]'
	touch $@

# timm (for the conformance suite) with --no-deps: its torchvision dependency would pull a
# CUDA build of torch over the CPU one; tests import timm.scheduler alone (tests/peers.py)
$(VENV)/.dev: pyproject.toml constraints-dev.txt $(VENV)/.base
	$(PIP) -c constraints-dev.txt -e '.[dev]'
	$(PIP) -c constraints-dev.txt --no-deps timm
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/lrlab show build-nanogpt-124m
	$(VENV)/bin/lrlab presets
	$(VENV)/bin/lrlab compare --task circle --seeds 3 --out runs/demo

# the designer's browser tests drive Debian's chromium (Playwright's own download cannot run here)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$(if [ "$$(id -u)" != 0 ]; then echo sudo; fi); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

test: lint docs browser
	$(PY) -m pytest -q

# the inner loop: lint and the tests not marked slow (CI runs everything: `make test`)
test-fast: lint
	$(PY) -m pytest -q -m "not slow" -x

lint: $(VENV)/.dev
	$(PY) -m ruff check src tests benchmarks scripts examples
	$(PY) -m mypy

# the documentation site (mkdocs.yml): strict, so a broken link or a stale API page fails CI
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

docs-serve: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --strict --dev-addr 127.0.0.1:8000

bench: $(VENV)/.dev
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_schedules.py
	$(PY) benchmarks/bench_torch.py
	$(PY) benchmarks/bench_viz.py

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache .hypothesis runs
