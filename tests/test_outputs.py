"""``--out`` never destroys what a command did not make, and takes one writer at a time."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from pynq_mnist import cli
from pynq_mnist.bundle import staged_dir
from pynq_mnist.outputs import (
    BENCH,
    BUNDLE,
    LOCK_NAME,
    OutputError,
    check_output,
    claim_output,
    output_lock,
    output_path,
)


def _user_folder(path):
    path.mkdir()
    (path / "notes.txt").write_text("mine")
    (path / "data").mkdir()
    return path


def _bundle_of(path, run_dir):
    path.mkdir()
    (path / "bundle.json").write_text(json.dumps({"model": {"run_dir": str(run_dir)}}))
    return path


def test_an_empty_path_is_refused_not_read_as_the_current_folder():
    with pytest.raises(OutputError, match="--out is an empty path"):
        output_path("")
    with pytest.raises(OutputError, match="file system root"):
        output_path("/")


def test_dot_and_the_cwd_are_paths_like_any_other(tmp_path, monkeypatch):
    monkeypatch.chdir(_user_folder(tmp_path / "here"))
    assert output_path(".") == output_path(os.getcwd()) == tmp_path / "here"
    for text in (".", os.getcwd()):
        with pytest.raises(OutputError, match="is not a bundle .it holds 2 other entries"):
            check_output(output_path(text), BUNDLE)


def test_a_foreign_folder_is_refused_even_with_force(tmp_path):
    folder = _user_folder(tmp_path / "mine")
    with pytest.raises(OutputError, match=r"not a bench folder .*data, notes.txt"):
        check_output(folder, BENCH, force=True)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output(tmp_path / "a_file", BUNDLE)


def test_an_own_output_of_another_model_needs_force(tmp_path):
    folder = _bundle_of(tmp_path / "b", "/runs/a")
    check_output(folder, BUNDLE, {"model.run_dir": "/runs/a"})
    with pytest.raises(OutputError, match="another model .*'/runs/a', not '/runs/b'.*--force"):
        check_output(folder, BUNDLE, {"model.run_dir": "/runs/b"})
    check_output(folder, BUNDLE, {"model.run_dir": "/runs/b"}, force=True)
    (folder / "bundle.json").write_text("{not json")
    with pytest.raises(OutputError, match="cannot be read; pass --force"):
        check_output(folder, BUNDLE, {"model.run_dir": "/runs/a"})


def _hold(path, ready, release):
    with output_lock(path):
        ready.set()
        release.wait(30)


def test_a_second_writer_is_refused_and_the_lock_is_released_on_exit(tmp_path):
    out = tmp_path / "out"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(out, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        busy = f"written by another pynq-mnist .pid {holder.pid}"
        with pytest.raises(OutputError, match=busy), claim_output(out, BENCH):
            pass
    finally:
        release.set()
        holder.join(30)
    with claim_output(out, BENCH) as path:
        assert (path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert not (out / LOCK_NAME).exists()


def test_a_folder_made_for_a_command_that_wrote_nothing_is_removed(tmp_path):
    with claim_output(tmp_path / "new", BENCH):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()
    with claim_output(tmp_path / "kept", BENCH) as out:
        (out / "bench.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["bench.json"]


def test_a_stale_lock_left_by_a_killed_writer_is_taken_over(tmp_path):
    out = tmp_path / "out"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(out, ready, release))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join(30)
    assert (out / LOCK_NAME).read_text() == f"{holder.pid}\n"  # left behind
    with claim_output(out, BENCH):
        pass


def test_staged_dir_never_replaces_a_folder_it_did_not_make(tmp_path, monkeypatch):
    folder = _user_folder(tmp_path / "mine")
    refused = pytest.raises(OutputError, match="no bundle.json; it is not replaced")
    with refused, staged_dir(folder, "bundle.json") as stage:
        (stage / "bundle.json").write_text("{}")
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no stage left behind

    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    with staged_dir(".", "bundle.json") as stage:  # "." has a name once absolute
        (stage / "bundle.json").write_text("{}")
    assert (tmp_path / "empty" / "bundle.json").is_file()


def test_convert_refuses_a_user_folder_before_converting(tmp_path, capsys):
    folder = _user_folder(tmp_path / "mine")
    assert cli.main(["convert", str(tmp_path / "no_run"), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a bundle" in err and "notes.txt" in err
    assert (folder / "notes.txt").read_text() == "mine"
    assert cli.main(["convert", str(tmp_path / "no_run"), "--out", ""]) == 2
    assert "empty path" in capsys.readouterr().err


def test_convert_replaces_another_runs_bundle_only_with_force(tmp_path, capsys):
    bundle = _bundle_of(tmp_path / "bundle", tmp_path / "other_run")
    argv = ["convert", str(tmp_path / "run"), "--out", str(bundle)]
    assert cli.main(argv) == 2
    assert "--force" in capsys.readouterr().err
    # with --force the output is accepted: the missing run is what stops it now
    assert cli.main([*argv, "--force"]) == 2
    assert "metrics.json does not exist" in capsys.readouterr().err
    assert (bundle / "bundle.json").is_file() and not (bundle / LOCK_NAME).exists()


def test_bench_refuses_an_empty_out_and_writes_nothing_in_the_cwd(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "some_bundle", "--out", ""]) == 2
    assert "--out is an empty path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_train_out_naming_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert cli.main(["train", "--arch", "mlp", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
