"""Bad configurations are refused, clearly, before any training starts."""

import json

import pytest

from pynq_mnist import cli
from pynq_mnist.host_training.training.config import (
    PRESETS,
    ConfigError,
    apply_hyperparameters,
    load_file,
    resolve,
)
from pynq_mnist.host_training.training.config.bits import PER_LAYER, per_layer, weight_layer_names
from pynq_mnist.mnist import DataError

BAD = [
    ({"arch": "rnn"}, r"unknown arch 'rnn'; choose one of mlp, cnn"),
    (
        {"arch": "cnn", "student": {"weight_bits": 0}},
        r"student\.weight_bits: must be integers >= 1, got 0",
    ),
    (
        {"arch": "mlp", "student": {"activation_bits": [6, -1]}},
        r"student\.activation_bits: must be integers >= 1, got \[6, -1\]",
    ),
    (
        {"arch": "cnn", "student": {"bias_bits": [8, 8]}},
        r"student\.bias_bits: has 2 entries, expected 3",
    ),
    (
        {"arch": "cnn", "student": {"pruning": {"sparsity": 1.0}}},
        r"student\.pruning\.sparsity: Input should be less than 1, got 1\.0",
    ),
    (
        {"arch": "mlp", "student": {"pruning": {"logits_sparsity": 1.0}}},
        r"student\.pruning\.logits_sparsity: Input should be less than 1, got 1\.0",
    ),
    (
        {"arch": "mlp", "student": {"input_bits": 9}},
        r"student\.input_bits: Input should be less than or equal to 8, got 9",
    ),
    (
        {"arch": "mlp", "student": {"input_bits": 0}},
        r"student\.input_bits: Input should be greater than or equal to 1, got 0",
    ),
    ({"arch": "mlp", "student": {"input_bits": "4"}}, r"student\.input_bits: Input should be"),
    (
        {"arch": "cnn", "student": {"input_bits": 4}},
        r"student: input_bits is built by the rtl backend, which converts MLP students only",
    ),
    (
        {"arch": "cnn", "student": {"pruning": {"sparsity": -0.1}}},
        r"student\.pruning\.sparsity: Input should be greater than or equal to 0, got -0\.1",
    ),
    (
        {"arch": "cnn", "tuner": {"enabled": True, "space": {"weight_bits": {"choice": [0, 4]}}}},
        r"tuner\.space\.weight_bits -> student\.weight_bits: must be integers >= 1",
    ),
    (
        {
            "arch": "cnn",
            "tuner": {"enabled": True, "space": {"pruning.sparsity": {"min": 0.5, "max": 1.5}}},
        },
        r"tuner\.space\.pruning\.sparsity -> student\.pruning\.sparsity: Input should be less",
    ),
    (
        {"arch": "cnn", "tuner": {"enabled": True, "space": {"nonsense": {"choice": [1]}}}},
        r"tuner\.space\.nonsense names no student setting",
    ),
    ({"arch": "cnn", "studnet": {}}, r"unknown configuration key 'studnet'"),
    (  # the cnn preset's bits are per layer: a deeper student must say its own
        {"arch": "cnn", "student": {"filters": [8, 8, 8]}},
        r"student\.weight_bits: has 3 entries, expected 4 \(one per layer\); give 4, or one",
    ),
    (
        {"arch": "cnn", "student": {"kd": {"alpha": 2}}},
        r"student\.kd\.alpha: Input should be less than or equal to 1, got 2",
    ),
    (
        {"arch": "cnn", "tuner": {"limits": {"luts": 5}}},
        r"unknown configuration key 'tuner\.limits\.luts'",
    ),
    ({"arch": "cnn", "preset": "mlp"}, r"preset 'mlp' is for arch 'mlp', not 'cnn'"),
    ({"arch": "cnn", "preset": "huge"}, r"unknown preset 'huge'"),
    # strict types: no silent coercion
    ({"arch": "cnn", "student": {"epochs": True}}, r"student\.epochs: Input should be a valid"),
    ({"arch": "cnn", "student": {"lr": "0.01"}}, r"student\.lr: Input should be a valid"),
    ({"arch": "cnn", "student": {"augment": 1}}, r"student\.augment: Input should be a valid bool"),
    ({"arch": "cnn", "teacher": {"filters": [32, 0]}}, r"teacher\.filters\.1: Input should be"),
    (
        {"arch": "cnn", "student": {"pruning": {"begin_fraction": 0.7}}},
        r"student\.pruning: end_fraction must exceed begin_fraction",
    ),
    ({"arch": "mlp", "seed": -1}, r"seed: Input should be greater than or equal to 0, got -1"),
]


@pytest.mark.parametrize(("config", "message"), BAD)
def test_bad_config_is_refused(config, message):
    with pytest.raises(ConfigError, match=message):
        resolve(config)


@pytest.mark.parametrize("preset", ["cnn", "cnn-tiny", "smoke"])
def test_presets_resolve(preset):
    config = resolve({"arch": "cnn"}, preset=preset)
    assert config["preset"] == preset
    assert resolve(config) == config  # resolving is idempotent: a saved config reloads as is


#: preset -> the committed searches it is picked from (``bench/results/searches/``).
PRESET_SEARCHES = {"cnn": ["cnn"], "cnn-tiny": ["cnn-tiny"], "mlp": ["mlp", "mlp-22k"]}


@pytest.mark.parametrize("preset", sorted(PRESET_SEARCHES))
def test_a_preset_is_the_pick_of_its_committed_searches(preset):
    """The preset is what ``train --from-search`` picks at the preset's limits, the most
    accurate by validation over its committed searches: not a copy that drifted."""
    import bench_scripts

    from pynq_mnist.host_training.training.search import choose

    caps = bench_scripts.pick_limits(preset)
    picks = [choose.pick_config(bench_scripts.BENCH / "results" / "searches" / name, caps)
             for name in PRESET_SEARCHES[preset]]  # fmt: skip
    config, _ = max(picks, key=lambda pick: pick[1]["val_accuracy"])
    arch = PRESETS[preset][0]
    assert _per_layer(resolve({"arch": arch}, preset=preset)["student"], arch) == config["student"]


def _per_layer(student: dict, arch: str) -> dict:
    """``student`` with each per-layer key written per layer, as a search writes a pick."""
    count = len(weight_layer_names(student, arch))
    return student | {
        key: per_layer(student[key], key, count - hidden_only, minimum)
        for key, (minimum, hidden_only) in PER_LAYER.items()
    }


def test_tiny_preset_fits_its_budget_by_construction():
    config = resolve({"arch": "cnn"}, preset="cnn-tiny")
    assert config["tuner"]["limits"]["nonzero_weights"] <= 2000
    assert max(config["tuner"]["space"]["weight_bits"]["choice"]) <= 5


def test_apply_hyperparameters_sets_dotted_keys_on_a_copy():
    student = resolve({"arch": "cnn"})["student"]
    new = apply_hyperparameters(student, {"filters.1": 8, "kd.alpha": 0.1})
    assert new["filters"][1] == 8 and new["kd"]["alpha"] == 0.1
    assert student["filters"][1] != 8 and student["kd"]["alpha"] != 0.1


def test_config_files(tmp_path):
    (tmp_path / "a.yaml").write_text("student:\n  weight_bits: 5\n")
    (tmp_path / "b.json").write_text(json.dumps({"seed": 3}))
    (tmp_path / "c.json").write_text("{not json")
    assert load_file(tmp_path / "a.yaml") == {"student": {"weight_bits": 5}}
    assert load_file(tmp_path / "b.json") == {"seed": 3}
    with pytest.raises(ConfigError, match=r"c\.json: cannot parse"):
        load_file(tmp_path / "c.json")
    with pytest.raises(ConfigError, match="does not exist"):
        load_file(tmp_path / "d.json")


def _cli(tmp_path, capsys, *args):
    rc = cli.main(["train", *args, "--out", str(tmp_path / "run")])
    return rc, capsys.readouterr().err


def test_cli_refuses_bad_config_file_before_training(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"student": {"pruning": {"sparsity": 1.5}}}))
    rc, err = _cli(tmp_path, capsys, "--arch", "cnn", "--config", str(tmp_path / "bad.json"))
    assert rc == 2 and "student.pruning.sparsity: Input should be less than 1, got 1.5" in err
    assert not (tmp_path / "run").exists()


def test_cli_refuses_config_file_of_other_arch(tmp_path, capsys):
    (tmp_path / "mlp.json").write_text(json.dumps({"arch": "mlp"}))
    rc, err = _cli(tmp_path, capsys, "--arch", "cnn", "--config", str(tmp_path / "mlp.json"))
    assert rc == 2 and "is for arch 'mlp', not 'cnn'" in err


def test_cli_refuses_missing_data_before_training(tmp_path, capsys):
    rc, err = _cli(
        tmp_path, capsys, "--arch", "mlp", "--preset", "smoke", "--data", str(tmp_path / "none")
    )
    assert rc == 2 and f"data directory {tmp_path / 'none'} does not exist" in err
    assert not (tmp_path / "run").exists()


def test_train_refuses_missing_data(tmp_path, monkeypatch):
    from pynq_mnist.host_training.training.train import train

    monkeypatch.setenv("PYNQ_MNIST_DATA", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"missing train-images-idx3-ubyte\.gz"):
        train({"arch": "cnn", "preset": "smoke"}, tmp_path / "run")
    assert not (tmp_path / "run").exists()
