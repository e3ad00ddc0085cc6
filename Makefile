# Every target creates and uses a local virtual environment in .venv,
# so a machine with only Python 3 and make is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck layers pytest bench docs docs-build dist clean

demo: $(VENV)/.base
	$(BIN)/python examples/quickstart.py

test: $(VENV)/.dev lint typecheck layers pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The layering contracts in pyproject.toml ([tool.importlinter]); see ARCHITECTURE.md.
layers: $(VENV)/.dev
	$(BIN)/lint-imports

pytest: $(VENV)/.dev
	$(BIN)/pytest

docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Strict mode counts only the warnings it prints, and --quiet would hide some, so the
# whole log is kept and any WARNING line in it fails the target, whatever the verbosity.
docs-build: $(VENV)/.docs
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict > $(VENV)/docs-build.log 2>&1; \
	status=$$?; cat $(VENV)/docs-build.log; \
	if grep -q '^WARNING' $(VENV)/docs-build.log; then \
		echo "docs-build: the build logged warnings (above); fix them."; exit 1; \
	fi; \
	exit $$status

# Builds the wheel and sdist into dist/, checks them, installs the wheel in a fresh venv.
dist: $(VENV)/.dev
	bash .ci/check-dist

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

$(VENV)/.created:
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create a virtual environment; on Debian or Ubuntu run: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.base: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.base

$(VENV)/.docs: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	@touch $@

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site dist
