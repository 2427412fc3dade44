"""bench/search.py's searches and bench/rtl.py's options, checked without training."""

import argparse
import json

import bench_scripts
import pytest

from pynq_mnist.host_training.training.search.cli import prepare
from pynq_mnist.host_training.training.search.settings import settings as search_settings


@pytest.mark.parametrize("preset", list(bench_scripts.load("search").SEARCHES))
def test_every_committed_search_is_a_valid_search(preset, tmp_path):
    """What bench/search.py writes as a search's --config passes ``tune``'s checks
    (space, budget, limits, and the base student at the space's corners)."""
    search = bench_scripts.load("search")
    arch = search.PICKS[preset][0]
    config = tmp_path / "search.json"
    config.write_text(
        json.dumps({**search.BASES.get(preset, {}), "search": search.SEARCHES[preset]})
    )
    args = argparse.Namespace(arch=arch, workers=2, port=0, config=str(config), seed=None,
                              preset=None, budget="default", out=str(tmp_path / "out"),
                              algorithm=None)  # fmt: skip
    base, chosen, _ = prepare(args)
    for key, value in search.BASES.get(preset, {}).get("student", {}).items():
        got = base["student"][key]
        assert got == value if not isinstance(value, dict) else value.items() <= got.items()
    assert chosen.limits.nonzero_weights == search.PICKS[preset][1]["max_nonzero"]


def _run_dir(tmp_path, arch: str, pick: bool):
    run = tmp_path / f"run-{arch}"
    run.mkdir(parents=True)
    student = {"units": [384]} if arch == "mlp" else {"filters": [6, 16]}
    config = {"arch": arch, "data": {"train_subset": None}, "student": student, "seed": 0}
    (run / "config.json").write_text(json.dumps(config))
    if pick:
        (run / "search_pick.json").write_text(json.dumps({"trial": {"trial_id": "0007"}}))
    return run


def test_a_run_trained_elsewhere_is_named_with_its_pick(tmp_path):
    rtl = bench_scripts.load("rtl")
    entry = rtl.trained_elsewhere(_run_dir(tmp_path, "mlp", pick=True))
    assert entry["tag"] == "run-mlp" and entry["units"] == 384 and entry["train_s"] is None
    assert entry["config"]["student"] == {"units": [384]}
    assert entry["search_pick"]["trial"]["trial_id"] == "0007"
    assert "search_pick" not in rtl.trained_elsewhere(_run_dir(tmp_path / "x", "mlp", False))


def test_a_cnn_run_or_no_teacher_epochs_is_refused(tmp_path, capsys):
    rtl = bench_scripts.load("rtl")
    with pytest.raises(SystemExit, match="holds a cnn run; the rtl backend converts MLPs"):
        rtl.trained_elsewhere(_run_dir(tmp_path, "cnn", pick=False))
    with pytest.raises(SystemExit):
        rtl.main(["--teacher-epochs", "0"])
    assert "--teacher-epochs must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--units", "128"], ["--augment"], ["--epochs", "9"]])
def test_run_refuses_training_options_it_would_ignore(option, tmp_path, capsys):
    """``--run`` converts a net trained before: an option that trains one is an error,
    not a silent no-op the results file would then misattribute."""
    rtl = bench_scripts.load("rtl")
    run = _run_dir(tmp_path, "mlp", pick=False)
    with pytest.raises(SystemExit):
        rtl.main(["--run", str(run), *option])
    assert f"{option[0]} would not apply to it" in capsys.readouterr().err


def test_picks_only_needs_a_finished_search(tmp_path, capsys):
    search = bench_scripts.load("search")
    argv = ["--picks-only", "--searches", "cnn-1k", "--runs", str(tmp_path), "--out",
            str(tmp_path / "search.json")]  # fmt: skip
    with pytest.raises(SystemExit) as e:
        search.main(argv)
    assert e.value.code == 2
    assert "no finished cnn-1k search" in capsys.readouterr().err


def test_a_search_is_recorded_and_exported_beside_the_results(tmp_path, monkeypatch):
    """bench/search.py exports each search next to its results file; the record keeps the
    front and names the export, whose front.json holds the trials."""
    from search_folders import TRIALS, finished_search

    from pynq_mnist.host_training.training.search import layout

    search = bench_scripts.load("search")
    finished_search(tmp_path / "runs" / "cnn")
    monkeypatch.setattr(search, "_run", lambda cmd: 12.5)
    args = argparse.Namespace(workers=2, quick=False, out=tmp_path / "results" / "search.json")
    record = search._search([], [], tmp_path / "c.json", tmp_path / "runs" / "cnn", args,
                            [], "cnn")  # fmt: skip
    exported = tmp_path / "results" / "searches" / "cnn"
    assert layout.is_exported(exported) and "trials" not in record
    assert record["front"] == layout.read_front(exported)["front"] == ["0000", "0001"]
    assert len(layout.read_front(exported)["trials"]) == len(TRIALS)
    assert record["wall_seconds_this_call"] == 12.5


@pytest.mark.parametrize(("bit_exact", "ip_accuracy", "met"),
                         [(True, 0.983, True), (False, 0.983, False), (True, 0.981, False)])  # fmt: skip
def test_a_pick_meets_its_target_only_through_the_bit_exact_ip(
    tmp_path, monkeypatch, bit_exact, ip_accuracy, met
):
    """Issue 12's targets count students that pass the bit-exact conversion: the pick's
    target is judged on the IP's accuracy, and a reused pick run keeps the wall time of
    the call that trained it."""
    search = bench_scripts.load("search")
    from pynq_mnist.host_training.conversion import convert

    run = tmp_path / "pick-cnn-1k"
    run.mkdir()
    student = {"test_accuracy": 0.9831, "nonzero_weights": 923, "max_weight_bits": 5,
               "config": {"filters": [10, 6]}}  # fmt: skip
    (run / "metrics.json").write_text(json.dumps({"student": student}))
    (run / "search_pick.json").write_text(
        json.dumps({"trial": {"trial_id": "0087", "val_accuracy": 0.9778}})
    )
    monkeypatch.setattr(search, "_run", lambda cmd: 0.5)
    report = {"frames": 10000, "keras_accuracy": 0.9831, "emulated_accuracy": ip_accuracy,
              "csim_bit_exact": bit_exact, "disagreements": 0, "target_ii_cycles": 784}  # fmt: skip
    monkeypatch.setattr(convert, "convert", lambda run_dir, out, data: report)
    args = argparse.Namespace(runs=tmp_path, quick=False, data=None)
    pick = search._pick([], [], tmp_path / "cnn-1k", args, "cnn-1k",
                        {"trial": "0087", "wall_seconds": 207.6})  # fmt: skip
    assert pick["target_met"] is met
    assert pick["conversion"]["emulated_accuracy"] == ip_accuracy
    assert (pick["wall_seconds"], pick["retrained_by_this_call"]) == (207.6, False)


def _committed() -> tuple[dict, dict]:
    results = bench_scripts.BENCH / "results"
    return (json.loads((results / "search.json").read_text()),
            json.loads((results / "front_points.json").read_text()))  # fmt: skip


@pytest.mark.parametrize("preset", list(_committed()[0]["searches"]))
def test_a_committed_search_gives_its_recorded_students_from_a_clone(preset):
    """``train --from-search bench/results/searches/<preset>`` (the exported search, all a
    clone has) picks each recorded pick and front point, with its very student."""
    from pynq_mnist.host_training.training.search import choose, layout

    search = bench_scripts.load("search")
    recorded, points = _committed()
    folder = bench_scripts.BENCH.parent / recorded["searches"][preset]["exported_to"]
    assert layout.is_exported(folder)
    assert layout.read_front(folder)["front"] == recorded["searches"][preset]["front"]
    _, settings = layout.read_settings(folder)
    assert settings == search_settings(search.PICKS[preset][0], search.SEARCHES[preset])

    def picked(limits: dict) -> tuple[str, dict]:
        config, point = choose.pick_config(folder, limits)
        return point["trial_id"], config["student"]

    pick = recorded["picks"][preset]
    assert picked(bench_scripts.pick_limits(preset)) == (pick["trial"], pick["student"])
    for key, point in points.items():
        name, cap = key.split("<=")
        if name == preset:
            limits = bench_scripts.pick_limits(preset) | {"nonzero_weights": int(cap)}
            assert picked(limits) == (point["trial"], point["student"])


def test_front_points_trains_from_the_committed_search_within_the_cap(tmp_path):
    fp = bench_scripts.load("front_points")
    cmd = fp.train_command("cnn", 6816, tmp_path / "run", None)
    i = cmd.index("--from-search")
    assert cmd[i + 1] == "bench/results/searches/cnn"
    assert {"--max-nonzero=6816", "--max-bits=6"} <= set(cmd) and "--max-nonzero=10000" not in cmd
