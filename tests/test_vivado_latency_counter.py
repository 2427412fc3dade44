"""The in-fabric latency counter (vivado_bd/stream_timer.v), simulated with Icarus Verilog.

The bench (stream_timer_tb.v) runs random transfers with random back-pressure,
notes the first input beat and the last output beat itself, and reads the
counter's registers over AXI4-Lite; these tests compare the two.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pynq_mnist.design import TIMER_ID, TIMER_REGISTERS

RTL = Path(__file__).resolve().parents[1] / "vivado_bd"
RUN = re.compile(
    r"run (?P<k>\d+) first=(?P<first>-?\d+) last=(?P<last>-?\d+) in=(?P<n_in>\d+) "
    r"out=(?P<n_out>\d+) \| id=(?P<id>\w+) cycles=(?P<cycles>\d+) runs=(?P<runs>\d+) "
    r"in_beats=(?P<in_beats>\d+) out_beats=(?P<out_beats>\d+) busy=(?P<busy>\d+)"
)


FAIL = re.compile(
    r"fail (?P<k>\d+) busy=(?P<busy>\d+) after_ip_reset busy=(?P<busy_after>\d+) "
    r"cycles=(?P<cycles>\d+) runs=(?P<runs>\d+)"
)


def simulate(
    tmp_path: Path, in_bytes: int, out_bytes: int, seed: int, runs: int, fail: bool = False
) -> str:
    sim = tmp_path / "sim"
    subprocess.run(
        ["iverilog", "-g2005", "-o", str(sim),
         "-P", f"stream_timer_tb.IN_BYTES={in_bytes}", "-P", f"stream_timer_tb.OUT_BYTES={out_bytes}",
         str(RTL / "stream_timer_tb.v"), str(RTL / "stream_timer.v")],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    result = subprocess.run(
        ["vvp", "-n", str(sim), f"+seed={seed}", f"+runs={runs}", f"+fail={int(fail)}"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.stdout


def test_the_register_map_in_python_is_the_one_in_the_rtl():
    header = (RTL / "stream_timer.v").read_text()
    rows = re.findall(r"^//\s+0x([0-9A-F]{2}) (\w+)", header, flags=re.M)
    assert {name.lower(): int(offset, 16) for offset, name in rows} == TIMER_REGISTERS
    assert f"32'h{TIMER_ID:08X}" in header


@pytest.mark.parametrize(
    "in_bytes, out_bytes, seed, fail",
    [(8, 8, 1, False), (16, 8, 7, False), (8, 16, 12345, False), (8, 8, 3, True)],
)
def test_counter_matches_the_bench_timestamps(tmp_path, in_bytes, out_bytes, seed, fail):
    """With ``fail``, each run follows a failed one (input, no output) and an IP reset."""
    out = simulate(tmp_path, in_bytes, out_bytes, seed, runs=6, fail=fail)
    runs = [m.groupdict() for m in RUN.finditer(out)]
    assert len(runs) == 6, out
    for r in runs:
        v = {k: int(x) for k, x in r.items() if k != "id"}
        assert r["id"] == "53544d52"
        assert v["first"] >= 0 and v["last"] > v["first"]
        assert v["cycles"] == v["last"] - v["first"] + 1, r
        assert (v["in_beats"], v["out_beats"]) == (v["n_in"], v["n_out"])
        assert v["runs"] == v["k"] and v["busy"] == 0
    assert len({int(r["cycles"]) for r in runs}) > 1  # the runs differ: nothing constant passes
    assert "data_errors=0" in out


def test_the_ip_reset_ends_the_run_a_failed_transfer_left_open(tmp_path):
    """A failed call leaves BUSY set; the IP's reset (the overlay's recovery) clears it,
    keeping the last finished run, so the next run counts from its own first beat."""
    out = simulate(tmp_path, 8, 8, seed=5, runs=4, fail=True)
    fails = [{k: int(v) for k, v in m.groupdict().items()} for m in FAIL.finditer(out)]
    runs = [{k: int(v) for k, v in m.groupdict().items() if k != "id"} for m in RUN.finditer(out)]
    assert [f["k"] for f in fails] == [2, 3, 4], out
    for f in fails:
        before = runs[f["k"] - 2]  # the run that finished before the failed one
        assert (f["busy"], f["busy_after"]) == (1, 0)
        assert (f["cycles"], f["runs"]) == (before["cycles"], before["runs"])
