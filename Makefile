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

.PHONY: venv tools pipeline test test-fast test-board-side lint bench
venv: $(VENV)/.installed

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

# The board side once more in a board-like venv: the pynq 3.1.x and numpy 1.x of
# the current PYNQ-Z2 image, no TensorFlow, no hls4ml (the main venv has pynq 3.0.1,
# the newest that installs beside TensorFlow 2.15). About 3 minutes to create.
BOARD_VENV  ?= .venv-board
BOARD_PYNQ  ?= pynq>=3.1,<3.2
BOARD_TESTS := tests/test_emulator_dma.py tests/test_board_overlay.py \
	tests/test_board_recovery.py tests/test_fault_scenarios.py tests/test_board_bench.py \
	tests/test_bundle.py tests/test_design.py tests/test_board_accept.py
$(BOARD_VENV)/.installed: setup.py pyproject.toml
	test -x $(BOARD_VENV)/bin/python || $(PYTHON) -m venv $(BOARD_VENV)
	$(BOARD_VENV)/bin/pip install -q --upgrade pip "setuptools>=64,<=80" wheel pynqutils "numpy<2"
	$(BOARD_VENV)/bin/pip install -q --no-build-isolation "$(BOARD_PYNQ)" "numpy<2"
	$(BOARD_VENV)/bin/pip install -q --no-build-isolation -e . "pytest>=8" "numpy<2"
	touch $@

$(VENV)/.installed: setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=64,<=80" wheel pynqutils
	$(BIN)/pip install -q --no-build-isolation -e ".[host,test]"
	touch $@

pipeline: venv
	$(BIN)/pynq-mnist pipeline $(ARGS)

lint: venv
	$(BIN)/ruff check .

test: lint tools test-board-side
	$(BIN)/pytest

# The same suite without the tests marked slow (training, conversion, notebooks).
test-fast: lint tools
	$(BIN)/pytest -m "not slow"

test-board-side: $(BOARD_VENV)/.installed
	$(BOARD_VENV)/bin/python -c "import pynq; assert pynq.__version__.startswith('3.1'), pynq.__version__"
	$(BOARD_VENV)/bin/pytest -q -m "not slow" $(BOARD_TESTS)

bench: venv
	bash bench/run_all.sh
