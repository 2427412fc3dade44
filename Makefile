# The two commands the README opens with. Each sets itself up on a fresh machine.
#   make pipeline   train -> compress -> convert -> emulated board, with a summary
#   make test       lint + the test suites (what CI runs)
#
# Interpreters are found by .ci/find-python (PATH, then pyenv), newest first; name one
# with e.g. `make test PYTHON=/usr/bin/python3.12`.
#   PYTHON         the host (3.13 to 3.10): training, conversion, the main suite
#   BOARD_PYTHON   the PYNQ-Z2 v3.1 image's Python (3.10): the board side, pynq 3.1, numpy 1.x
#   SECOND_PYTHON  a second host Python (3.10): install + the fast suite there

find_python = $(shell .ci/find-python $(1))
PYTHON        ?= $(call find_python,3.13 3.12 3.11 3.10)
BOARD_PYTHON  ?= $(call find_python,3.10 3.11 3.12)
SECOND_PYTHON ?= $(call find_python,3.10)
VENV        ?= .venv
BOARD_VENV  ?= .venv-board
SECOND_VENV ?= .venv-second
BIN := $(VENV)/bin
# The md5-checked MNIST copy beside a checkout, when there is one; else the loader
# downloads into its cache and verifies the checksums.
PYNQ_MNIST_DATA ?= $(abspath $(firstword $(wildcard ../shared/data/mnist)))
export PYNQ_MNIST_DATA

.PHONY: venv tools pipeline test test-fast test-board-side test-second-python lint bench
venv: $(VENV)/.installed

# make_venv DIR PYTHON: a venv of that interpreter; refuses (never deletes) a DIR that
# holds another Python's venv or something that is not a venv.
define make_venv
	@test -n "$(2)" || { echo "no Python interpreter found for $(1) (see the Makefile's header)"; exit 1; }
	@want=$$($(2) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	if [ -e $(1) ]; then \
	  have=$$($(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	  [ "$$have" = "$$want" ] || { echo "$(1) exists with Python $${have:-?} (not a venv of $$want): remove it, or pass another $(notdir $(1)) folder"; exit 1; }; \
	else \
	  echo "creating $(1) with Python $$want ($(2))"; $(2) -m venv $(1); \
	fi
endef

# The simulators the tests drive: Icarus Verilog runs the latency counter's bench,
# Verilator the RTL backend's IP, and Yosys counts that IP's resources.
# Installed with apt-get where we are root (CI, a fresh container); elsewhere the
# target stops and names the packages, because a test that cannot run must not pass.
TOOL_PACKAGES := iverilog verilator yosys
TOOL_COMMANDS := iverilog vvp verilator yosys
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

# The host venv. pip builds pynq 3.0.1 (an sdist) and this package in isolation:
# on 3.10-3.12 the build gets pynqutils' build_py, on 3.13 setuptools' (setup.py).
$(VENV)/.installed: setup.py pyproject.toml
	$(call make_venv,$(VENV),$(PYTHON))
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[host,test]"
	touch $@

# The board side in a board-like venv: the pynq 3.1.x and numpy 1.x of the PYNQ-Z2 v3.1
# image on its Python 3.10, no TensorFlow, no hls4ml; installed as on the board
# (--no-build-isolation, pynqutils' build_py). pynqmetadata 0.2 came with pynq 4; the
# v3.1 image has a 0.1.x. About 3 minutes to create.
BOARD_PYNQ  ?= pynq>=3.1,<3.2
BOARD_TESTS := tests/test_emulator_dma.py tests/test_board_overlay.py \
	tests/test_board_recovery.py tests/test_fault_scenarios.py tests/test_board_bench.py \
	tests/test_bundle.py tests/test_design.py tests/test_board_accept.py \
	tests/test_pynq_version.py
$(BOARD_VENV)/.installed: setup.py pyproject.toml
	$(call make_venv,$(BOARD_VENV),$(BOARD_PYTHON))
	$(BOARD_VENV)/bin/pip install -q --upgrade pip "setuptools>=64,<=80" wheel pynqutils "numpy<2"
	$(BOARD_VENV)/bin/pip install -q --no-build-isolation "$(BOARD_PYNQ)" "pynqmetadata<0.2" "numpy<2"
	$(BOARD_VENV)/bin/pip install -q --no-build-isolation -e . "pytest>=8" "numpy<2"
	touch $@

$(SECOND_VENV)/.installed: setup.py pyproject.toml
	$(call make_venv,$(SECOND_VENV),$(SECOND_PYTHON))
	$(SECOND_VENV)/bin/pip install -q --upgrade pip
	$(SECOND_VENV)/bin/pip install -q -e ".[host,test]"
	touch $@

pipeline: venv
	$(BIN)/pynq-mnist pipeline $(ARGS)

# ruff, and the layering contract of pyproject.toml (the ground imports nothing above it).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/check_layers.py

test: lint tools test-board-side test-second-python
	$(BIN)/python -c "import sys; print('main suite on Python', sys.version.split()[0])"
	$(BIN)/pytest

# The same suite without the tests marked slow (training, conversion, notebooks).
test-fast: lint tools
	$(BIN)/pytest -m "not slow"

test-board-side: $(BOARD_VENV)/.installed
	$(BOARD_VENV)/bin/python -c "import sys, pynq, numpy; assert pynq.__version__.startswith('3.1'), pynq.__version__; assert numpy.__version__.startswith('1.'), numpy.__version__; print('board side on Python', sys.version.split()[0], 'pynq', pynq.__version__, 'numpy', numpy.__version__)"
	$(BOARD_VENV)/bin/pytest -q -m "not slow" $(BOARD_TESTS)

# The host install and the fast suite on a second Python (the oldest supported).
test-second-python: tools $(SECOND_VENV)/.installed
	$(SECOND_VENV)/bin/python -c "import sys; print('fast suite on Python', sys.version.split()[0])"
	$(SECOND_VENV)/bin/pytest -q -m "not slow"

bench: venv
	bash bench/run_all.sh
