"""``pynq-mnist accept``: the board tests and a short bench, into a report to attach."""

import json
from pathlib import Path

import pytest
from test_board_fakes import write_synthetic_bundle

from pynq_mnist import cli

TESTS = Path(__file__).parent


def test_without_a_board_nothing_is_accepted_and_the_report_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PYNQ_MNIST_ACCEPT_TARGET", raising=False)
    bundle = write_synthetic_bundle(tmp_path / "synthetic")
    out = tmp_path / "report"
    code = cli.main(["accept", str(bundle), "--out", str(out), "--tests", str(TESTS)])
    assert code == 1
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"].startswith("NOT accepted") and not report["board_tests_passed"]
    assert len(report["tests"]) == 6
    assert all(t["outcome"] == "skipped" and "PYNQ-Z2" in t["message"] for t in report["tests"])
    assert not report["bench"]["ran"] and "no FPGA device" in report["bench"]["error"]
    assert report["command"].startswith("pynq-mnist accept")
    assert "NOT accepted" in (out / "report.txt").read_text()


def test_bad_options_a_missing_bundle_and_tests_folder_are_refused_first(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["accept", "b", "--out", str(out), "--latency-calls", "0"]) == 2
    assert "--latency-calls must be" in capsys.readouterr().err
    assert cli.main(["accept", "b", "--out", str(out)]) == 2
    assert "no overlay bundle 'b'" in capsys.readouterr().err
    bundle = write_synthetic_bundle(tmp_path / "synthetic")
    assert cli.main(["accept", str(bundle), "--out", str(out), "--tests", str(tmp_path)]) == 2
    assert "run from your copy of the repository" in capsys.readouterr().err
    assert not out.exists()  # nothing ran, nothing was written


@pytest.mark.slow
def test_a_rehearsal_on_the_emulated_board_runs_every_board_test(tiny_bundle, tmp_path):
    out = tmp_path / "report"
    argv = ["accept", str(tiny_bundle), "--target", "emulator", "--out", str(out)]
    argv += ["--tests", str(TESTS), "--latency-calls", "50", "--batches", "1,100"]
    argv += ["--frames-per-point", "100", "--repeats", "2"]
    code = cli.main(argv)
    report = json.loads((out / "report.json").read_text())
    assert [t["outcome"] for t in report["tests"]] == ["passed"] * 6, report["tests"]
    assert code == 0 and report["verdict"].startswith("rehearsal")
    assert report["bench"]["ran"] and report["bench"]["accuracy"]["equals_bundle"]
    assert (out / "bench" / "bench.json").is_file()
