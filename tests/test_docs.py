"""Every example in the README and docs/ runs: commands, Python and the JSON/YAML files.

- ``sh`` blocks: each ``pynq-mnist`` line's command exists and every option it names is in
  that command's ``--help``; ``pynq-mnist data ...`` lines really run (on a small dataset
  made here, under a fake ``$HOME``). The heavy commands (train, tune, convert,
  build-overlay, bench, accept, pipeline) are checked against their ``--help`` only: they
  train, convert or need Vivado or a board. ``make`` lines name a target of the Makefile.
  The board's setup lines (``source``, ``pip``, ``export``, ``scp``, ``pynq``, ``cd``) run
  only on a board and are not run here.
- ``python`` blocks run in a fresh interpreter, in a folder where the paths they name exist:
  ``runs/pipeline/cnn/bundle`` and the ``mnist_cnn`` bundle under ``$PYNQ_MNIST_OVERLAYS``
  are synthetic bundles (their IP a Python function), ``bench/`` is this repository's, and
  ``frames`` is the bundle's golden frames.
- ``json`` and ``yaml`` blocks go through the project's own validators.
- The README's commands table is checked like the ``sh`` lines, and its results table
  against ``bench/results``, figure by figure.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from custom_dataset import idx_bytes, write_custom_dataset
from test_board_fakes import synthetic_metadata, write_synthetic_bundle

from pynq_mnist.cli import COMMANDS, main
from pynq_mnist.mnist import load_dir, md5_file

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "bench" / "results"
#: Lines that set up a board (run there, never here).
BOARD_SETUP = {"source", "pip", "export", "scp", "pynq", "cd"}
#: Commands run for real here; the others are checked against their --help.
RUN_FOR_REAL = {"data"}
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S
)


def blocks(lang: str) -> list[tuple[str, str]]:
    """``(page:line, text)`` of every fenced block of ``lang`` in the README and docs/."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for m in FENCE.finditer(text):
            if m["lang"] == lang:
                line = text[: m.start()].count("\n") + 1
                body = textwrap.dedent(m["body"]) if m["indent"] else m["body"]
                found.append((f"{page.relative_to(ROOT)}:{line}", body))
    return found


def commands(body: str) -> list[list[str]]:
    """The command lines of a sh block, comments dropped, env assignments and sudo -E cut."""
    out = []
    for line in body.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words = words[1:]
        if words[:2] == ["sudo", "-E"]:
            words = words[2:]
        if words:
            out.append(words)
    return out


SH = [(where, words) for where, body in blocks("sh") for words in commands(body)]


def _ids(cases):
    return [f"{where}:{' '.join(words)[:40]}" for where, words in cases]


def test_the_pages_have_examples():
    assert len(SH) >= 20 and len(blocks("python")) >= 4
    assert blocks("json") and blocks("yaml")
    for page in PAGES:
        if page.parent.name == "docs":  # each page opens with what it is for, then an example
            text = page.read_text()
            first = FENCE.search(text)
            assert first is not None and first.start() < 1500, page.name


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0, argv
    return capsys.readouterr().out


@pytest.mark.parametrize("where, words", SH, ids=_ids(SH))
def test_sh_line(where, words, capsys):
    program = words[0]
    if program == "make":
        targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M)
        assert words[1] in targets, f"{where}: no make target {words[1]}"
        return
    if program in BOARD_SETUP:  # the board's own setup: run there, not here
        assert where.startswith(("README.md", "docs/board.md")), f"{where}: {words}"
        return
    assert program == "pynq-mnist", f"{where}: an example this test does not know: {words}"
    command = words[1]
    assert command in COMMANDS, f"{where}: no command {command}"
    argv = words[1:3] if command == "data" else words[1:2]
    text = _help(argv, capsys)
    for word in words:
        if word.startswith("--"):
            option = word.split("=")[0]
            assert re.search(rf"{re.escape(option)}\b", text), f"{where}: {command} has no {option}"


TABLE = [
    (f"README.md:{n}", shlex.split(line.split("`")[1]))
    for n, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1)
    if line.startswith("| `pynq-mnist ")
]


@pytest.mark.parametrize("where, words", TABLE, ids=_ids(TABLE))
def test_commands_table_row(where, words, capsys):
    """The README's commands table: each command exists and takes the options it shows."""
    test_sh_line(where, [w.strip("[]") for w in words], capsys)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """A folder where the examples' paths exist: a home with datasets, bundles, bench/."""
    root = tmp_path_factory.mktemp("docs")
    home = root / "home"
    write_custom_dataset(home / "fashion", name="fashion")
    write_synthetic_bundle(root / "runs" / "pipeline" / "cnn" / "bundle")
    write_synthetic_bundle(root / "overlays" / "mnist_cnn", synthetic_metadata(name="mnist_cnn"))
    (root / "bench").symlink_to(ROOT / "bench")
    return root


def _env(sandbox: Path) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    tests = str(Path(__file__).parent)
    return os.environ | {
        "HOME": str(sandbox / "home"),
        "PATH": path,
        "PYNQ_MNIST_OVERLAYS": str(sandbox / "overlays"),
        "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
    }


REAL = [(w, words) for w, words in SH if words[0] == "pynq-mnist" and words[1] in RUN_FOR_REAL]


@pytest.mark.parametrize("where, words", REAL, ids=_ids(REAL))
def test_sh_line_runs(where, words, sandbox):
    line = shlex.join(words).replace("'~/", "~/'")  # let bash expand ~ to the sandbox's home
    r = subprocess.run(
        ["bash", "-c", line], cwd=sandbox, env=_env(sandbox), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, f"{where}: {line}\n{r.stdout}\n{r.stderr}"


#: Run before a Python example: the synthetic bundles' IP stands in for a compiled one.
PRELUDE = """
import functools, numpy as np
import pynq_mnist.board
from pynq_mnist.bundle import Bundle
from test_board_fakes import synthetic_ip
pynq_mnist.board.load_overlay = functools.partial(
    pynq_mnist.board.load_overlay, target="emulator", ip_factory=synthetic_ip)
frames = Bundle("runs/pipeline/cnn/bundle").golden()[0].reshape(-1, 28, 28)
"""
PY = blocks("python")


@pytest.mark.parametrize("where, code", PY, ids=[w for w, _ in PY])
def test_python_example_runs(where, code, sandbox):
    prelude = PRELUDE if "load_overlay" in code else ""
    r = subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=sandbox, env=_env(sandbox),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, f"{where}\n{r.stdout}\n{r.stderr}"


def test_dataset_json_example_is_accepted_by_the_loader(tmp_path):
    """The documented dataset.json, its files written under its names, loads; its md5 (for
    one file only) is checked for that file and optional for the others."""
    [(where, text)] = [(w, t) for w, t in blocks("json") if '"files"' in t]
    spec = json.loads(text)
    arrays = write_custom_dataset(tmp_path / "made")
    folder = tmp_path / "fashion"
    folder.mkdir()
    for key, name in spec["files"].items():
        raw = idx_bytes(arrays[key])
        (folder / name).write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    spec["md5"] = {name: md5_file(folder / name) for name in spec["md5"]}
    assert len(spec["md5"]) < 4, f"{where}: the example lists an md5 for every file"
    (folder / "dataset.json").write_text(json.dumps(spec))
    data = load_dir(folder)
    assert data.name == "fashion" and list(data.class_names) == spec["classes"], where
    assert data.checksums == "dataset.json"
    np.testing.assert_array_equal(data.test_labels, arrays["test_labels"])


def test_config_json_examples_are_accepted():
    """A JSON block that is a --config file resolves over the MLP's preset."""
    from pynq_mnist.host_training.training.config import resolve

    configs = [(w, json.loads(t)) for w, t in blocks("json") if '"files"' not in t]
    assert configs
    for where, config in configs:
        assert set(config) <= {"student", "teacher", "data", "search", "seed"}, where
        resolved = resolve({"arch": "mlp", **config})
        for key, value in config["student"].items():
            got = resolved["student"][key]
            if isinstance(value, dict):
                assert got.items() >= value.items(), (where, key)
            else:
                assert got in (value, [value] * len(got) if isinstance(got, list) else value)


def test_search_yaml_examples_are_accepted():
    from pynq_mnist.host_training.training.search.settings import settings

    found = blocks("yaml")
    for where, text in found:
        search = yaml.safe_load(text)["search"]
        arch = "cnn" if "conv_blocks" in json.dumps(search) else "mlp"
        s = settings(arch, search)
        assert s.budget.max_epochs == search["budget"]["max_epochs"], where


# --------------------------------------------------------------------------- the README


README = (ROOT / "README.md").read_text()


def test_readme_is_short_and_says_what_it_is_first():
    lines = README.splitlines()
    assert len(lines) <= 200
    assert "PYNQ-Z2" in "\n".join(lines[:10]) and "classifier" in "\n".join(lines[:10])
    top = "\n".join(lines[:40])
    assert "Not yet run on a PYNQ-Z2" in top and "Vivado" in top


def test_readme_names_no_commit_host_or_issue():
    assert not re.search(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", README)
    assert not re.search(r"#\d|\bissues?\b|EPYC|Xeon|AVX|Intel|AMD", README)


def _get(path: str):
    """``file.json:key.key[0]`` -> the value in bench/results."""
    file, key = path.split(":")
    value = json.loads((RESULTS / file).read_text())
    for part in key.split("."):
        if part == "PICK":  # the search's pick among its trials
            pick = _get(f"search.json:picks.{file.split('/')[1]}.trial")
            [value] = [t for t in value if t["trial_id"] == pick]
        else:
            value = value[int(part)] if part.isdigit() else value[part]
    return value


#: Each README results row: the figures it shows and where each comes from.
ROWS = {
    "`cnn`": {
        "accuracy": "convert.json:cnn.emulated_accuracy",
        "nonzero": "train.json:cnn.student_nonzero_weights",
        "bits": "train.json:cnn.student_max_weight_bits",
        "bytes": ("convert.json:cnn.bytes_in_per_frame", "convert.json:cnn.bytes_out_per_frame"),
        "cycles": "convert.json:cnn.target_ii_cycles",
    },
    "`cnn-tiny`": {
        "accuracy": "convert.json:cnn-tiny.emulated_accuracy",
        "nonzero": "train.json:cnn-tiny.student_nonzero_weights",
        "bits": "train.json:cnn-tiny.student_max_weight_bits",
        "bytes": (
            "convert.json:cnn-tiny.bytes_in_per_frame",
            "convert.json:cnn-tiny.bytes_out_per_frame",
        ),
        "cycles": "convert.json:cnn-tiny.target_ii_cycles",
    },
    "`cnn-1k`": {
        "accuracy": "search.json:picks.cnn-1k.conversion.emulated_accuracy",
        "nonzero": "search.json:picks.cnn-1k.nonzero_weights",
        "bits": "search.json:picks.cnn-1k.max_weight_bits",
        "bytes": ("searches/cnn-1k/front.json:trials.PICK.bytes_per_frame",),
        "cycles": "search.json:picks.cnn-1k.conversion.target_ii_cycles",
    },
    "`mlp`": {
        "accuracy": "convert.json:mlp.emulated_accuracy",
        "nonzero": "train.json:mlp.student_nonzero_weights",
        "bits": "train.json:mlp.student_max_weight_bits",
        "bytes": ("convert.json:mlp.bytes_in_per_frame", "convert.json:mlp.bytes_out_per_frame"),
        "cycles": "convert.json:mlp.target_ii_cycles",
    },
    "`mlp` RTL": {
        "accuracy": "rtl.json:nets.6.emulated_accuracy",
        "nonzero": "rtl.json:nets.6.nonzero_weights",
        "bits": "rtl.json:nets.6.config.student.weight_bits.0",
        "bytes": ("rtl.json:nets.6.search_pick.trial.bytes_per_frame",),
        "cycles": "rtl.json:nets.6.cycles_per_frame",
        "lut": "rtl.json:nets.6.yosys.lut",
    },
}


def _n(text: str) -> str:
    return text.replace(",", "")


def test_readme_results_come_from_bench_results():
    table = {
        cells[0]: cells
        for line in README.splitlines()
        if line.startswith("| `")
        and (cells := [c.strip() for c in line.strip("|").split("|")])
        and len(cells) == 7
    }
    assert set(table) == set(ROWS)
    assert _get("rtl.json:nets.6.tag") == "pick-mlp-rtl"
    for row, keys in ROWS.items():
        _, _, accuracy, weights, bytes_, cycles, lut = table[row]
        assert accuracy == f"{100 * _get(keys['accuracy']):.2f}%", row
        assert _n(weights).startswith(f"{_get(keys['nonzero'])} ("), row
        assert str(_get(keys["bits"])) in weights.split("(")[1], row
        assert _n(bytes_) == str(sum(_get(k) for k in keys["bytes"])), row
        assert _n(cycles).split()[0] == str(_get(keys["cycles"])), row
        if "lut" in keys:
            assert _n(lut).split()[0] == str(_get(keys["lut"])) and "measured" in lut, row
        else:
            assert lut == "not measured", row
        assert ("measured" if row == "`mlp` RTL" else "modelled") in cycles, row
    da4ml = _get("rtl.json:nets.6.da4ml_estimate.lut")
    assert f"{da4ml:,}" in README
    for arch in ("cnn", "mlp"):
        acc = _get(f"emulator_{arch}/bench.json:accuracy")
        assert acc["equals_bundle"] and f"{acc['correct']:,}" in README
