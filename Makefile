# The two set-up commands are `make run` and `make test`; CI runs the same targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench check install clean screenshots

# Strictly typed: the pure layers (engine, vault) and what everything stands on.
MYPY_TARGETS := $(wildcard mspmode/engine/*.py mspmode/vault/*.py mspmode/db/*.py) mspmode/settings.py mspmode/errors.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes (the stamp carries its checksum).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Bytecode written even under PYTHONDONTWRITEBYTECODE: every hook is a new process, and one
# that compiles the engine from source pays 25 ms a tool call (compileall skips what is current).
install: $(STAMP)
	@$(BIN)/python -m compileall -q mspmode

run: install
	$(BIN)/msp init
	$(BIN)/msp serve

# pytest's exit status 5 ("no tests collected") must fail CI, and it does: only 0 passes.
test: install
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=25

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# PNGs of the dashboard's main pages from Debian's Chromium, for the README.
screenshots: install
	$(BIN)/python -m tests.dashboard.screenshots docs/screenshots

check: install
	$(BIN)/ruff format --check mspmode tests bench
	$(BIN)/ruff check mspmode tests bench
	$(BIN)/mypy $(MYPY_TARGETS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
