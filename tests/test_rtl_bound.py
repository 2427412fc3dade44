"""An RTL net far over the LUT budget is refused in seconds, before da4ml runs; da4ml is bounded."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError
from pynq_mnist.host_training.conversion.rtl import trace
from pynq_mnist.host_training.conversion.rtl.bound import check_before_da4ml, lut_lower_bound
from pynq_mnist.host_training.conversion.rtl.bounded import run_bounded
from pynq_mnist.host_training.conversion.rtl.network import Dense, QuantizedMLP
from pynq_mnist.host_training.conversion.rtl.yosys import LUT_BUDGET


def _mlp(units: int, bits: int, sparsity: float = 0.0, seed: int = 0) -> QuantizedMLP:
    """784-units-10 with ``bits``-bit weights, a ``sparsity`` share of them zero."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(((784, units), (units, 10))):
        w = rng.integers(1, 2 ** (bits - 1), (n_in, n_out))
        w[rng.random((n_in, n_out)) < sparsity] = 0
        relu = (6, 2) if i == 0 else None
        layers.append(Dense(f"d{i}", w, np.zeros(n_out, np.int64), bits - 1, 7, bits, 8, relu))
    return QuantizedMLP(tuple(layers), 784)


def test_the_unpruned_784_24_10_8bit_mlp_is_refused_with_its_numbers():
    mlp = _mlp(24, 8)
    assert mlp.nonzero_weights == 784 * 24 + 24 * 10
    assert lut_lower_bound(mlp) > 2 * LUT_BUDGET
    with pytest.raises(ConversionError, match=r"19,056 nonzero weights of up to 8 bits: at least"):
        check_before_da4ml(mlp, LUT_BUDGET)


def test_a_net_like_the_converted_ones_passes_the_bound():
    mlp = _mlp(256, 3, sparsity=0.96)  # ~8k nonzero 3-bit weights, as bench/results/rtl.json
    assert 6_000 < mlp.nonzero_weights < 9_000
    check_before_da4ml(mlp, LUT_BUDGET)


def test_convert_rtl_refuses_before_da4ml_and_writes_nothing(tmp_path, monkeypatch):
    from pynq_mnist.host_training.conversion.rtl import convert_rtl as module
    from pynq_mnist.host_training.training import run_dir

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"arch": "mlp"}))
    monkeypatch.setattr(run_dir, "load_student", lambda path: object())
    _, write_reference, design = module._ARCHS["mlp"]
    monkeypatch.setitem(module._ARCHS, "mlp", (lambda model: _mlp(24, 8), write_reference, design))
    monkeypatch.setattr(trace, "write_network", lambda *a: pytest.fail("da4ml ran"))
    t0 = time.perf_counter()
    with pytest.raises(ConversionError, match="da4ml was not run"):
        module.convert_rtl(run, tmp_path / "out", progress=lambda m: None)
    assert time.perf_counter() - t0 < 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def _fail() -> None:
    raise ConversionError("da4ml's own refusal")


def test_the_bounded_child_returns_raises_times_out_and_runs_out_of_memory():
    memory = 2**30
    assert run_bounded(_allocate, (1000,), "da4ml", 60, memory) == 1000
    with pytest.raises(ConversionError, match="da4ml's own refusal"):
        run_bounded(_fail, (), "da4ml", 60, memory)
    t0 = time.perf_counter()
    with pytest.raises(ConversionError, match=r"da4ml ran past 1 s \(limits: 1 s, 1 GiB\)"):
        run_bounded(_sleep, (30,), "da4ml", 1, memory)
    assert time.perf_counter() - t0 < 10
    with pytest.raises(ConversionError, match="da4ml ran out of memory"):
        run_bounded(_allocate, (2 * memory,), "da4ml", 60, memory)
