# Two entry points for a fresh machine:
#   make run    install into .venv, then `clinsim run` (bundled demo set, offline agents)
#   make test   install into .venv (+ the vLLM test server's own venv and Debian's chromium for the
#               report's browser tests), then lint, type-check, test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
DEV := $(VENV)/.installed-test

.PHONY: install run test lint vllm-env browser clean

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first, so nothing pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $(BASE)

$(DEV): $(BASE)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(DEV)

install: $(BASE)

run: install
	$(BIN)/clinsim run

vllm-env:
	bash scripts/setup-vllm.sh

browser:
	bash scripts/setup-browser.sh

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPY=$(abspath $(BIN))/mypy bash scripts/typecheck.sh

test: $(DEV) vllm-env browser lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .venv-vllm build *.egg-info
