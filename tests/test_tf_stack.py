"""The host stack: TensorFlow 2.21 with Keras 2 (tf-keras), set up by importing
``pynq_mnist.host_training`` (``host_training/tf_stack.py``). Each case runs in a fresh
interpreter, since the set-up must happen before TensorFlow is first imported."""

import subprocess
import sys
import textwrap

import pytest


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.slow
def test_hls4ml_converts_a_tf_keras_qkeras_model_on_the_installed_stack(tmp_path):
    """hls4ml 1.3.0 picks its parser from ``keras.__version__``: beside TF >= 2.16 that
    is Keras 3 unless our set-up makes ``keras`` mean tf-keras. The converted graph must
    hold the model's layers, with QKeras' quantizers read (the Keras 2 parser's work)."""
    done = _python(f"""
        import sys
        import pynq_mnist.host_training  # the set-up, first
        import tensorflow as tf
        import keras, tf_keras
        assert tf.keras.Model is tf_keras.Model, tf.keras.Model
        assert keras is tf_keras and keras.__version__.startswith("2."), keras.__version__
        assert tf_keras.__spec__.name == "tf_keras", tf_keras.__spec__
        from qkeras import QActivation, QDense, quantized_bits
        import hls4ml
        q = quantized_bits(4, 0, alpha=1)
        x = tf.keras.Input((16,), name="pixels")
        h = QDense(8, kernel_quantizer=q, bias_quantizer=q, name="dense1")(x)
        h = QActivation("quantized_relu(4,1)", name="relu1")(h)
        y = QDense(4, kernel_quantizer=q, bias_quantizer=q, name="logits")(h)
        model = tf.keras.Model(x, y)
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        hls = hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, output_dir={str(tmp_path / "hls")!r}, io_type="io_parallel"
        )
        layers = {{layer.name: layer for layer in hls.get_layers()}}
        assert {{"dense1", "relu1", "logits"}} <= set(layers), sorted(layers)
        precision = layers["dense1"].attributes["weight"].type.precision  # quantized_bits(4, 0)
        assert (precision.width, precision.integer) == (4, 1), str(precision)
        import keras_tuner
        assert sys.modules["keras"] is tf_keras
        print("ok")
        """)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_tensorflow_imported_first_with_keras_3_is_refused_in_one_line():
    done = _python("""
        import tensorflow
        import pynq_mnist.host_training
        """)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "StackError" in last and "TF_USE_LEGACY_KERAS=1" in last, last


def test_the_set_up_imports_no_tensorflow():
    """Importing the host package is cheap: `pynq-mnist train --help` loads no TensorFlow."""
    done = _python("""
        import sys, os
        import pynq_mnist.host_training
        assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
        assert "tensorflow" not in sys.modules and "tf_keras" not in sys.modules
        print("ok")
        """)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_results_record_the_stack_versions():
    from pynq_mnist.host_training.tf_stack import STACK, versions

    recorded = versions()
    assert recorded["python"] == sys.version.split()[0]
    assert set(STACK) <= set(recorded)
    assert recorded["tensorflow"].startswith("2.") and recorded["tf-keras"] is not None
