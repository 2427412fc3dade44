"""The fault benchmark's scenarios at small sizes: 0 wrong answers after every one."""

import subprocess
import sys
from pathlib import Path

import bench_scripts
import pytest
from test_board_fakes import write_synthetic_bundle
from test_board_recovery import frames, slow_ip

from pynq_mnist.board import load_overlay
from pynq_mnist.board.emulator.fault_scenarios import Runner, Sizes

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("fresh_emulator_cache")


def test_every_scenario_ends_with_right_answers(tmp_path):
    bundle = write_synthetic_bundle(tmp_path / "synthetic")
    ol = load_overlay(bundle, "emulator", ip_factory=slow_ip, timeout_s=0.2)
    seen = []
    sizes = Sizes(
        check_frames=100,
        interrupt_frames=2000,  # 4 s of the slow IP's compute
        interrupt_delays_s=(0.05, 0.6),
        thread_count=3,
        thread_frames=40,
        leak_calls=300,
    )
    results = Runner(ol, frames(2000).reshape(2000, 784), sizes, on_result=seen.append).run_all()
    assert seen == results and len(results) == 20
    by_name = {r["scenario"]: r for r in results}
    assert all(r["wrong_after_recovery"] == 0 for r in results), results
    edits = [r for r in results if "edited" in r["scenario"] or "changed" in r["scenario"]]
    assert len(edits) == 5
    for r in edits:  # refused at load, naming what is wrong; the running overlay untouched
        assert r["refused_at_load"] and "Error" in r["error"] and not r["recovered"]
    faults = [
        r
        for r in results
        if r not in edits
        and "thread" not in r["scenario"]
        and "calls" not in r["scenario"]
        and not {"user_files_kept", "healed"} & set(r)
    ]
    assert all(r["error"] and r["recovered"] and r["recovery_s"] > 0 for r in faults)
    huge = by_name["bundle.json edited and re-signed: target_ii_cycles 10**40"]["error"]
    assert "ip.target_ii_cycles" in huge and "allowed" in huge
    for name in ("--out naming a folder of the user's", "two writers to one --out"):
        assert by_name[name]["error"].startswith("OutputError") and by_name[name]["user_files_kept"]
    healed = by_name["cached .hwh truncated"]
    assert healed["error"] is None and healed["healed"]
    for name in ("dropped TLAST (S2MM never completes)", "mid-frame timeout (stall in frame 6)"):
        assert by_name[name]["error"].startswith("DmaTimeout")
    persisting = by_name["dropped TLAST that persists through the restore"]
    assert persisting["call_while_faulty"].startswith("RecoveryFailed")
    interrupts = [r for r in results if r["scenario"].startswith("Ctrl-C")]
    assert len(interrupts) == 3
    for r in interrupts:
        assert r["error"].startswith("KeyboardInterrupt")
        assert r["interrupt_delivered_after_s"] < 0.5
    contention = by_name["3 threads classifying at once"]
    assert contention["thread_errors"] == 0 and contention["wrong_during_contention"] == 0
    leak = by_name["300 single-frame calls"]
    before, after = leak["buffers_before_after"]
    assert before == after and leak["wrong_during_calls"] == 0


def test_the_fault_bench_refuses_bad_options_before_loading_anything(tmp_path):
    bench = [sys.executable, str(ROOT / "bench" / "faults.py"), str(tmp_path / "no_such_bundle")]
    bad = subprocess.run([*bench, "--check-frames", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--check-frames: must be at least 1" in bad.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    cannot = subprocess.run(
        [*bench, "--out", str(blocked / "f.json")], capture_output=True, text=True
    )
    assert cannot.returncode == 2 and f"cannot write results to {blocked}" in cannot.stderr
    assert "no_such_bundle" not in bad.stderr + cannot.stderr


def test_the_fault_bench_writes_every_scenario_with_its_command(tmp_path, monkeypatch):
    import json

    from pynq_mnist.board.emulator.iplib import IPLibrary

    monkeypatch.setattr(IPLibrary, "for_bundle", classmethod(lambda cls, b: slow_ip()))
    faults = bench_scripts.load("faults")
    bundle = write_synthetic_bundle(tmp_path / "synthetic")
    out = tmp_path / "faults.json"
    argv = [str(bundle), "--check-frames", "50", "--interrupt-frames", "1500"]
    argv += ["--leak-calls", "50", "--out", str(out)]
    assert faults.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["command"] == "python bench/faults.py " + " ".join(argv)
    assert len(report["scenarios"]) == 21 and report["met"]
    assert report["wrong_after_recovery_total"] == 0
    # the scenarios that edit a bundle edit a temporary copy: named so, not by its path
    import tempfile

    errors = [str(r["error"]) for r in report["scenarios"]]
    assert any("<temporary copy>/" in e for e in errors), errors
    assert not any(tempfile.gettempdir() in e for e in errors), errors
