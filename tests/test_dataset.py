"""Your own dataset: dataset.json, identity checks in convert and bench, `data check`, errors."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from custom_dataset import CLASSES, FILES, idx_bytes, write_custom_dataset
from test_board_fakes import synthetic_metadata, write_synthetic_bundle

from pynq_mnist.bundle import Bundle, BundleMetadata, DatasetInfo
from pynq_mnist.cli import main
from pynq_mnist.mnist import DataError, check_same, load_dir


@pytest.fixture
def custom(tmp_path) -> Path:
    folder = tmp_path / "shapes"
    write_custom_dataset(folder)
    return folder


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


# --------------------------------------------------------------------------- the format


def test_dataset_json_names_the_files_classes_and_dataset(custom):
    arrays = write_custom_dataset(custom)
    data = load_dir(custom)
    assert data.name == "Patch Shapes" and data.class_names == CLASSES
    assert data.checksums == "none"
    for key, array in arrays.items():
        np.testing.assert_array_equal(getattr(data, key), array)
    ident = data.identity()
    assert ident["classes"] == list(CLASSES) and set(ident["sha256"]) == set(FILES)
    test_only = load_dir(custom, splits=("test",))
    assert len(test_only.train_labels) == 0 and set(test_only.sha256) == {
        "test_images",
        "test_labels",
    }


def test_identity_is_the_content_not_the_compression(custom, tmp_path):
    other = tmp_path / "copy"
    write_custom_dataset(other)
    raw = other / FILES["test_images"]
    (other / "x.gz").write_bytes(gzip.compress(raw.read_bytes()))
    spec = json.loads((other / "dataset.json").read_text())
    spec["files"]["test_images"] = "x.gz"
    (other / "dataset.json").write_text(json.dumps(spec))
    assert load_dir(other).sha256 == load_dir(custom).sha256


def test_a_training_file_damaged_does_not_block_the_test_split(custom):
    (custom / FILES["train_images"]).write_bytes(b"junk")
    with pytest.raises(DataError, match="shapes-train-x"):
        load_dir(custom)
    assert len(load_dir(custom, splits=("test",)).test_labels) == 200


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("name"), r"missing \['name'\]"),
        (lambda s: s.update(labels="x"), r"unknown \['labels'\]"),
        (lambda s: s["files"].pop("test_labels"), "files must name exactly"),
        (lambda s: s.update(classes=["a"] * 10), "class names repeat"),
        (
            lambda s: s["files"].update(test_labels="gone.idx"),
            "files.test_labels gone.idx is missing",
        ),
    ],
)
def test_a_bad_dataset_json_is_refused_naming_what(custom, edit, message):
    spec = json.loads((custom / "dataset.json").read_text())
    edit(spec)
    (custom / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match=message):
        load_dir(custom)


def test_dataset_json_md5_is_optional_per_file(custom):
    """The sums of some files only: those are checked, the others read unchecked."""
    from pynq_mnist.mnist import md5_file

    spec = json.loads((custom / "dataset.json").read_text())
    test_x = FILES["test_images"]
    spec["md5"] = {test_x: md5_file(custom / test_x)}
    (custom / "dataset.json").write_text(json.dumps(spec))
    data = load_dir(custom)
    assert data.checksums == "dataset.json" and len(data.test_labels) == 200
    spec["md5"] = {test_x: "0" * 32}
    (custom / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match=r"shapes-test-x\.idx: md5 \w+ does not match 0{32}"):
        load_dir(custom)


def test_dataset_json_md5_is_checked(custom):
    spec = json.loads((custom / "dataset.json").read_text())
    spec["md5"] = {name: "0" * 32 for name in FILES.values()}
    (custom / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match=r"shapes-train-x\.idx\.gz: md5 \w+ does not match 0{32}"):
        load_dir(custom)


def test_a_different_dataset_is_refused_naming_both(custom, mnist_dir):
    ours = load_dir(custom).identity()
    mnist = load_dir(mnist_dir, splits=("test",)).identity()
    with pytest.raises(DataError) as e:
        check_same(mnist, ours, "the run R")
    text = str(e.value)
    assert "'mnist'" in text and "'Patch Shapes'" in text and str(custom) in text
    assert "the run R" in text and "--data" in text
    check_same(load_dir(custom, splits=("test",)).identity(), ours, "the run R")  # same: fine


# --------------------------------------------------------------------------- data check


def test_data_check_reports_counts_balance_and_samples(custom, tmp_path, capsys):
    png = tmp_path / "grid.png"
    assert main(["data", "check", str(custom), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "dataset 'Patch Shapes'" in out and "declared by dataset.json" in out
    assert "train      600 frames; per class 60..60: ant 60, bee 60" in out
    assert "test       200 frames" in out and "checksums  none" in out
    assert png.is_file() and png.stat().st_size > 5000 and "OK" in out


def _rewrite_raw(path: Path, transform) -> None:
    path.write_bytes(transform(path.read_bytes()))


@pytest.mark.parametrize(
    "file, transform, message",
    [
        ("test_images", lambda b: b"\x00\x00\x08\x01" + b[4:], "wrong magic number 0x00000801"),
        ("test_labels", lambda b: b[:-1] + b"\x0c", "label 12 outside 0..9"),
        ("test_images", lambda b: b[:-500], "truncated"),
    ],
)
def test_data_check_reports_a_bad_file_and_still_reads_the_rest(
    custom, tmp_path, capsys, file, transform, message
):
    _rewrite_raw(custom / FILES[file], transform)
    assert main(["data", "check", str(custom), "--png", str(tmp_path / "g.png")]) == 2
    out = capsys.readouterr().out
    (error,) = [line for line in out.splitlines() if "ERROR" in line]
    assert error.lstrip().startswith("test") and FILES[file] in error and message in error
    assert "train      600 frames" in out  # the other split is still reported
    assert "1 split(s) unreadable" in out


def test_data_check_flags_unbalanced_classes(custom, tmp_path, capsys):
    labels = np.ones(200, np.uint8)
    labels[:5] = 0
    (custom / FILES["test_labels"]).write_bytes(idx_bytes(labels))
    assert main(["data", "check", str(custom), "--png", str(tmp_path / "g.png")]) == 0
    out = capsys.readouterr().out
    assert "WARNING unbalanced: 'ant' has 5 frames (mean 20)" in out
    assert "WARNING unbalanced: 'cat' has 0 frames" in out


# --------------------------------------------------------------------------- the commands


def _fake_run(run_dir: Path, data_record: dict) -> Path:
    """A run folder holding only metrics.json: enough for convert to check the data."""
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"arch": "cnn", "data": data_record}))
    return run_dir


def _cli(*argv: str, mnist: Path) -> subprocess.CompletedProcess:
    """``pynq-mnist ARGV`` in a fresh interpreter that reports whether TensorFlow was loaded."""
    code = (
        "import sys; from pynq_mnist.cli import main; rc = main(sys.argv[1:]); "
        "print('TF LOADED' if 'tensorflow' in sys.modules else 'no tf'); sys.exit(rc)"
    )
    env = {**os.environ, "PYNQ_MNIST_DATA": str(mnist)}
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=120
    )


def test_convert_refuses_another_dataset_before_tensorflow(custom, tmp_path, mnist_dir):
    run = _fake_run(tmp_path / "run", load_dir(custom).describe())
    out = str(tmp_path / "b")
    r = _cli("convert", str(run), "--out", out, "--data", str(mnist_dir), mnist=mnist_dir)
    assert r.returncode == 2 and "no tf" in r.stdout
    line = one_line(r.stderr)
    assert line.startswith("pynq-mnist convert: error: the dataset 'mnist'")
    assert "'Patch Shapes'" in line and str(run) in line
    assert not (tmp_path / "b").exists()


def test_convert_without_data_uses_the_runs_dataset_not_the_environment(
    custom, tmp_path, mnist_dir
):
    run = _fake_run(tmp_path / "run", load_dir(custom).describe())
    r = _cli("convert", str(run), "--out", str(tmp_path / "b"), mnist=mnist_dir)  # env: MNIST
    # The run's own dataset was taken and accepted: the next thing missing is the student.
    assert r.returncode == 2
    assert "student.h5 does not exist" in one_line(r.stderr)


def test_convert_says_when_the_runs_dataset_is_not_here(custom, tmp_path):
    record = load_dir(custom).describe() | {"source": str(tmp_path / "moved-away")}
    run = _fake_run(tmp_path / "run", record)
    env = {k: v for k, v in os.environ.items() if k != "PYNQ_MNIST_DATA"}
    r = subprocess.run(
        [sys.executable, "-m", "pynq_mnist", "convert", str(run), "--out", str(tmp_path / "b")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "not on this machine: pass --data DIR" in one_line(r.stderr)


def _bundle_of(folder: Path, data_dir: Path) -> Path:
    data = load_dir(data_dir, splits=("test",))
    meta = synthetic_metadata()
    ident = data.identity()
    meta = BundleMetadata(
        **{**meta.__dict__, "classes": data.class_names, "dataset": DatasetInfo(**ident)}
    )
    return write_synthetic_bundle(folder, meta)


def test_bundle_json_carries_the_dataset(custom, tmp_path):
    meta = Bundle(_bundle_of(tmp_path / "bundle", custom)).metadata
    assert meta.dataset.name == "Patch Shapes" and meta.dataset.classes == CLASSES
    assert set(meta.dataset.sha256) == {"test_images", "test_labels"}


def test_bench_refuses_another_dataset_before_pynq(custom, tmp_path, mnist_dir):
    bundle = _bundle_of(tmp_path / "bundle", custom)
    argv = ("bench", str(bundle), "--target", "emulator", "--data", str(mnist_dir))
    r = _cli(*argv, mnist=mnist_dir)
    assert r.returncode == 2 and "no tf" in r.stdout
    line = one_line(r.stderr)
    assert line.startswith("pynq-mnist bench: error: the dataset 'mnist'")
    assert "'Patch Shapes'" in line and str(bundle) in line


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--arch", "cnn", "--out", "{tmp}/r", "--data", "{bad}"],
        ["convert", "{run}", "--out", "{tmp}/b", "--data", "{bad}"],
        ["bench", "{bundle}", "--target", "emulator", "--data", "{bad}"],
        ["pipeline", "--out", "{tmp}/p", "--preset", "smoke", "--data", "{bad}"],
        ["data", "check", "{bad}"],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_reports_a_data_error_in_one_line(custom, tmp_path, capsys, argv):
    run = _fake_run(tmp_path / "run", load_dir(custom).describe())
    bundle = _bundle_of(tmp_path / "bundle", custom)
    bad = tmp_path / "bad"
    write_custom_dataset(bad)
    wrong_magic = b"\x00\x00\x08\x03" + b"\x00" * 8
    (bad / FILES["test_labels"]).write_bytes(wrong_magic)
    (bad / FILES["train_labels"]).write_bytes(gzip.compress(wrong_magic))
    fill = {"tmp": tmp_path, "bad": bad, "run": run, "bundle": bundle}
    code = main([a.format(**fill) for a in argv])
    captured = capsys.readouterr()
    assert code == 2
    if argv[0] == "data":
        assert "ERROR" in captured.out and "wrong magic number" in captured.out
    else:
        line = one_line(captured.err)
        assert line.startswith(f"pynq-mnist {argv[0]}: error:") and "wrong magic number" in line
        assert "Traceback" not in captured.out


def test_the_same_files_in_a_folder_of_another_name_are_the_same_dataset(custom, tmp_path):
    import shutil

    ours = load_dir(custom).identity()
    copy = tmp_path / "on-the-board"
    shutil.copytree(custom, copy)
    spec = json.loads((copy / "dataset.json").read_text())
    spec["name"] = "renamed"
    (copy / "dataset.json").write_text(json.dumps(spec))
    check_same(load_dir(copy, splits=("test",)).identity(), ours, "the bundle B")
    spec["classes"] = list(reversed(CLASSES))
    (copy / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match=r"classes \['jay'"):
        check_same(load_dir(copy, splits=("test",)).identity(), ours, "the bundle B")
