"""Every timeout and size that feeds a deadline or a buffer is finite and bounded."""

from __future__ import annotations

import math

import pytest

from pynq_mnist import cli
from pynq_mnist.board.bench_options import BenchOptionError, BenchOptions
from pynq_mnist.limits import MAX_BATCH, MAX_COUNT, LimitError, overlay_options, seconds


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0, -1, 601.0, True, "2"])
def test_a_timeout_that_never_or_always_expires_is_refused(value):
    with pytest.raises(LimitError, match="timeout_s"):
        seconds(value, "timeout_s")


def test_a_bounded_timeout_passes_as_a_float():
    assert seconds(2, "timeout_s") == 2.0 and isinstance(seconds(2, "timeout_s"), float)


@pytest.mark.parametrize(
    "max_batch, cma, timeout, what",
    [
        (0, 2**20, 2.0, "max_batch"),
        (1.5, 2**20, 2.0, "max_batch"),
        (-3, 2**20, 2.0, "max_batch"),
        (MAX_BATCH + 1, 2**20, 2.0, "max_batch"),
        (100, 0, 2.0, "cma_budget_bytes"),
        (100, 2**40, 2.0, "cma_budget_bytes"),
        (100, float(2**20), 2.0, "cma_budget_bytes"),
        (100, 2**20, math.nan, "timeout_s"),
        (100, 2**20, math.inf, "timeout_s"),
        (100, 2**20, 0.0, "timeout_s"),
    ],
)
def test_bad_overlay_options_are_refused_naming_the_option(max_batch, cma, timeout, what):
    with pytest.raises(LimitError, match=f"^{what} "):
        overlay_options(max_batch, cma, timeout)


def test_good_overlay_options_pass():
    overlay_options(10_000, 16 * 2**20, 2.0)


def test_bench_sizes_have_an_upper_bound():
    with pytest.raises(BenchOptionError, match=f"--latency-calls is {MAX_COUNT + 1}; allowed"):
        BenchOptions(latency_calls=MAX_COUNT + 1)
    with pytest.raises(BenchOptionError, match="--batches lists"):
        BenchOptions(batches=(1, MAX_BATCH + 1))


def test_the_cli_refuses_a_huge_repeat_count_in_one_line(tmp_path, capsys):
    argv = ["bench", "b", "--out", str(tmp_path / "o"), "--repeats", str(MAX_COUNT + 1)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--repeats is" in err
    assert not (tmp_path / "o").exists()  # refused before the output is claimed
