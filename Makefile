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

.PHONY: venv tools pipeline test test-fast lint bench
venv: $(VENV)/.installed

# The simulators the tests drive: Icarus Verilog runs the latency counter's bench.
# Installed with apt-get where we are root (CI, a fresh container); elsewhere the
# target stops and names the packages, because a test that cannot run must not pass.
TOOL_PACKAGES := iverilog
TOOL_COMMANDS := iverilog vvp
tools:
	@missing=$$(for c in $(TOOL_COMMANDS); do command -v $$c >/dev/null || echo $$c; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(TOOL_PACKAGES) (missing: $$missing)"; \
	    apt-get update -qq && apt-get install -y -qq $(TOOL_PACKAGES) >/dev/null; \
	  else \
	    echo "missing $$missing: install the packages $(TOOL_PACKAGES) (e.g. sudo apt-get install $(TOOL_PACKAGES))"; \
	    exit 1; \
	  fi; \
	fi

$(VENV)/.installed: setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=64,<=80" wheel pynqutils
	$(BIN)/pip install -q --no-build-isolation -e ".[host,test]"
	touch $@

pipeline: venv
	$(BIN)/pynq-mnist pipeline $(ARGS)

lint: venv
	$(BIN)/ruff check .

test: lint tools
	$(BIN)/pytest

# The same suite without the tests marked slow (training, conversion, notebooks).
test-fast: lint tools
	$(BIN)/pytest -m "not slow"

bench: venv
	bash bench/run_all.sh
