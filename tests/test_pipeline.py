"""The main job end to end on the emulated board, resuming from the session's tiny run and bundle."""

import json
import shutil

import pytest

from pynq_mnist.cli import main
from pynq_mnist.host_training import pipeline
from pynq_mnist.host_training.pipeline import format_summary


@pytest.mark.slow
def test_pipeline_resumes_finished_stages_and_summarises(
    tiny_run_dir, tiny_bundle, tmp_path, capsys
):
    out = tmp_path / "pipeline"
    shutil.copytree(tiny_run_dir, out / "cnn" / "run")
    shutil.copytree(tiny_bundle, out / "cnn" / "bundle")
    student = out / "cnn" / "run" / "student.h5"
    bundle_json = out / "cnn" / "bundle" / "bundle.json"
    before = (student.stat().st_mtime_ns, bundle_json.stat().st_mtime_ns)

    code = main(
        ["pipeline", "--out", str(out), "--arch", "cnn", "--preset", "smoke",
         "--target", "emulator", "--latency-calls", "20", "--batches", "1,8", "--frames-per-point", "16"]
    )  # fmt: skip

    assert code == 0
    assert (student.stat().st_mtime_ns, bundle_json.stat().st_mtime_ns) == before
    (row,) = json.loads((out / "summary.json").read_text())
    assert row["device"] == "emulator" and row["device_equals_bit_exact"] is True
    assert row["bit_exact_accuracy"] == json.loads(bundle_json.read_text())["accuracy"]["emulated"]
    assert row["bytes_in_per_frame"] == 784 and row["bytes_out_per_frame"] == 8
    assert "host" in row["timings"]
    for name in ("bench.json", "latency.png", "throughput.csv"):
        assert (out / "cnn" / "bench" / name).is_file()
    printed = capsys.readouterr().out
    assert "pipeline summary" in printed and "already converted" in printed
    assert format_summary([row]) in printed


def test_each_preset_config_and_dataset_has_its_own_default_folder():
    from pynq_mnist.host_training.pipeline import default_out

    assert str(default_out(None, None)) == "runs/pipeline"
    assert str(default_out("smoke", None)) == "runs/pipeline-smoke"
    assert str(default_out(None, "conf/budget.json", "Patch Shapes")) == (
        "runs/pipeline-patch_shapes-budget"
    )


def test_a_config_for_another_arch_is_refused_in_one_line(tmp_path, capsys):
    config = tmp_path / "mlp.json"
    config.write_text(json.dumps({"arch": "mlp"}))
    assert main(["pipeline", "--out", str(tmp_path / "p"), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"pynq-mnist pipeline: error: {config} is for arch 'mlp': use --arch mlp"
    assert not (tmp_path / "p").exists()


def test_an_out_folder_holding_another_configuration_is_refused_in_one_line(tmp_path, capsys):
    from custom_dataset import write_custom_dataset

    write_custom_dataset(tmp_path / "data")
    run = tmp_path / "p" / "cnn" / "run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"arch": "cnn", "preset": "cnn"}))
    (tmp_path / "p" / "pipeline.log").write_text("")  # a pipeline folder, of another preset
    argv = ["pipeline", "--out", str(tmp_path / "p"), "--preset", "smoke"]
    assert main([*argv, "--data", str(tmp_path / "data")]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert "holds a run with a different configuration" in line and "use a new --out" in line
    assert "Traceback" not in captured.out


def test_the_summary_shows_the_synthesised_figures_beside_vivados():
    from pynq_mnist.host_training.pipeline import _synthesis_line

    assert _synthesis_line(None).startswith("none yet")
    build = {
        "fclk0_mhz_actual": 100.0,
        "timing": {"wns_ns": 0.42},
        "utilization": {"lut": 20000},
        "hls": {
            "ii_cycles": {"min": 951, "max": 960},
            "latency_cycles": {"best": 960, "worst": 970},
        },
    }
    line = _synthesis_line(build)
    assert "WNS 0.42 ns" in line and "lut 20000" in line
    assert "HLS interval 951-960 cycles, latency 960-970 cycles" in line
    assert "HLS" not in _synthesis_line({**build, "hls": None})


def test_the_pipeline_refuses_bad_bench_options_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "run_arch", lambda *a: pytest.fail("it started training"))
    assert main(["pipeline", "--out", str(tmp_path), "--frames-per-point", "0"]) == 2
    assert "--frames-per-point must be a whole number >= 1" in capsys.readouterr().err
