# Two commands for a newcomer: `make run` and `make test`. Both are idempotent.
VENV   := .venv
PY     := $(VENV)/bin/python
QA     := $(VENV)/bin/qa
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install index run test lint bench stress clean

$(PY):
	python3 -m venv $(VENV)

# torch first: 2.13.0 is the CPU build here; a bare `torch` would pull CUDA packages.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,scale]'
	@touch $(STAMP)

install: $(STAMP)

index: install
	@$(QA) index corpus --index index

run: index
	@$(QA) serve --index index --corpus corpus

# The browser tests need Debian's Chromium: installed here when missing (root or sudo).
# Two pytest-xdist workers, a test file each at a time (its module fixtures built once): on
# these 2-core machines 201 s against 320 s on one (2026-12-04). One file: .venv/bin/pytest FILE.
test: install
	@tools/ensure-chromium.sh
	@$(VENV)/bin/pytest -q -n 2 --dist loadfile

# Benchmarks and stress runs: slow, not part of `make test`.
bench: install
	@$(PY) bench/run.py

stress: install
	@$(PY) bench/stress.py

lint: install
	$(VENV)/bin/ruff check qa ui tests bench training
	$(VENV)/bin/ruff format --check qa ui tests bench training

clean:
	rm -rf index .pytest_cache
