# Two commands matter: `make local` (the main job, on an embedded local AWS) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
EMULATOR_VENV := .venv-emulator
TEMPLATES := build/templates
export BC_SKIP_MAPPING := TRUE

.PHONY: help venv render snapshots lint cfn-lint checkov format test bench clean

help:
	@echo "make test        every test and check (creates the virtualenvs it needs)"
	@echo "make render      render every template of every environment into $(TEMPLATES)/"
	@echo "make lint        render, then cfn-lint and checkov on every rendered template"
	@echo "make snapshots   refresh the reviewed template snapshots in tests/snapshots/"
	@echo "make format      ruff format and fix"

# Each virtualenv is rebuilt only when its pins change.
$(BIN)/.installed: requirements.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(CHECKOV_VENV)/bin/.installed: checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r checkov-requirements.txt
	touch $@

venv: $(BIN)/.installed

render: $(BIN)/.installed
	$(BIN)/python -m tunnel_infra.render $(TEMPLATES)

snapshots: $(BIN)/.installed
	$(BIN)/python -m tunnel_infra.render tests/snapshots

lint: render
	$(MAKE) --no-print-directory -j2 cfn-lint checkov

cfn-lint: $(BIN)/.installed
	$(BIN)/cfn-lint --include-checks I --append-rules cfn_lint_rules -- $(TEMPLATES)/*/*.yaml

checkov: $(CHECKOV_VENV)/bin/.installed
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
	  -d $(TEMPLATES)

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(BIN)/.installed lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

clean:
	rm -rf build .venv .venv-checkov .venv-emulator
