# The two commands the README opens with. Each sets itself up on a fresh machine.
#   make pipeline   train -> compress -> convert -> emulated board, with a summary
#   make test       lint + the test suite (what CI runs)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The md5-checked MNIST copy beside a checkout, when there is one; else the loader
# downloads into its cache and verifies the checksums.
PYNQ_MNIST_DATA ?= $(abspath $(firstword $(wildcard ../shared/data/mnist)))
export PYNQ_MNIST_DATA

.PHONY: venv pipeline test lint bench
venv: $(VENV)/.installed

$(VENV)/.installed: setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=64,<=80" wheel pynqutils
	$(BIN)/pip install -q --no-build-isolation -e ".[host,test]"
	touch $@

pipeline: venv
	$(BIN)/pynq-mnist pipeline $(ARGS)

lint: venv
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

bench: venv
	bash bench/run_all.sh
