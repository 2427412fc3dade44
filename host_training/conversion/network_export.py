"""Write an hls4ml network as integers and fixed-point types, for the numpy reference.

:func:`export_network` walks a converted hls4ml ``ModelGraph`` (hls4ml 1.3) and
stores, layer by layer, exactly what its C++ computes with: the raw integer
weights and biases as the compiler puts them into ``weight_t``/``bias_t``, the
``accum_t``, the result type, and the geometry. Every type is read from the graph
itself, so the file follows whatever configuration the converter chose.
``pynq_mnist.board.cpu_reference.CpuReference`` reads it on the board.

File layout (``np.savez``, no pickles): ``graph`` is a JSON string
``{"format", "format_version", "io_type", "input_shape", "layers": [...]}``;
each layer has ``kind``, ``name``, ``result_t`` and kind-specific keys; the
arrays of layer ``i`` are ``layer{i}_weight`` and ``layer{i}_bias`` (int64 raw
values, weights in Keras layout: dense ``(n_in, n_out)``, conv ``(kh, kw, c, f)``).
A type is ``{"width", "integer", "signed", "rounding", "saturation",
"saturation_bits"}`` with the ``ap_fixed`` mode names without ``AP_``.
"""

from __future__ import annotations

import os

import numpy as np

from pynq_mnist.fixed_point import FixedType, requantize
from pynq_mnist.network_file import IO_TYPES, NetworkFileError, write_network


def export_network(hls_model, path: str | os.PathLike) -> None:
    """Write ``hls_model``'s layers, weights and fixed-point types to one ``.npz``.

    Parameters
    ----------
    hls_model : hls4ml.model.graph.ModelGraph
        A converted (and usually compiled) model: a chain of Input, Dense, Conv2D,
        ReLU/linear Activation, MaxPooling2D, ZeroPadding2D and Reshape layers.
    path : str or os.PathLike
        Destination ``.npz``; written to a temporary name and renamed, so a
        failed export never leaves a partial file.

    Raises
    ------
    NetworkFileError
        For a layer kind, type or layout the numpy reference does not implement
        (the message names the layer and what to change).
    """
    io_type = hls_model.config.get_config_value("IOType")
    if io_type not in IO_TYPES:
        raise NetworkFileError(f"io_type {io_type!r}: only {' and '.join(IO_TYPES)} are supported")
    specs: list[dict] = []
    arrays: dict[str, np.ndarray] = {}
    previous = None
    layers = list(hls_model.get_layers())
    for i, layer in enumerate(layers):
        if previous is not None and list(layer.inputs) != [previous.outputs[0]]:
            raise NetworkFileError(
                f"layer {layer.name!r} takes {layer.inputs}, not the previous layer's output: "
                "only a plain chain of layers is supported"
            )
        spec, weights = _describe(layer)
        spec.update(
            name=layer.name, result_t=_type_dict(layer.get_output_variable().type.precision)
        )
        specs.append(spec)
        arrays.update({f"layer{i}_{k}": v for k, v in weights.items()})
        previous = layer
    if not specs or specs[0]["kind"] != "input":
        raise NetworkFileError("the model graph must start with its input layer")
    write_network(path, io_type, list(layers[0].get_output_variable().shape), specs, arrays)


def _describe(layer) -> tuple[dict, dict[str, np.ndarray]]:
    """The spec dict and integer arrays of one layer."""
    from hls4ml.model import layers as L

    where = f"layer {layer.name!r} ({layer.class_name})"
    if isinstance(layer, L.Input):
        return {"kind": "input"}, {}
    if isinstance(layer, L.Dense):
        spec, arrays = _weighted(layer, where)
        return {"kind": "dense", **spec}, arrays
    if isinstance(layer, L.Conv2D):
        if isinstance(layer, (L.DepthwiseConv2D, L.Conv2DBatchnorm)):
            raise NetworkFileError(
                f"{where}: depthwise and batchnorm-folded convolutions are not implemented"
            )
        spec, arrays = _weighted(layer, where)
        spec.update(
            kind="conv2d",
            kernel=[layer.get_attr("filt_height"), layer.get_attr("filt_width")],
            stride=[layer.get_attr("stride_height"), layer.get_attr("stride_width")],
            pads=_pads(layer),
        )
        return spec, arrays
    if isinstance(layer, L.Activation):
        activation = str(layer.get_attr("activation")).lower()
        parametrized = isinstance(layer, (L.ParametrizedActivation, L.HardActivation, L.PReLU))
        if activation in ("relu", "linear") and not parametrized:
            return {"kind": activation}, {}
        raise NetworkFileError(
            f"{where}: activation {activation!r} is not implemented (relu and linear are)"
        )
    if isinstance(layer, L.Pooling2D):
        if layer.get_attr("pool_op") != "Max" or any(_pads(layer)):
            raise NetworkFileError(
                f"{where}: only MaxPooling2D with 'valid' padding is implemented"
            )
        return {
            "kind": "maxpool2d",
            "pool": [layer.get_attr("pool_height"), layer.get_attr("pool_width")],
            "stride": [layer.get_attr("stride_height"), layer.get_attr("stride_width")],
            "accum_t": _type_dict(layer.get_attr("accum_t").precision),
        }, {}
    if isinstance(layer, L.ZeroPadding2D):
        return {"kind": "zeropad2d", "pads": _pads(layer)}, {}
    if isinstance(layer, L.Reshape):
        return {"kind": "reshape", "shape": [int(d) for d in layer.get_output_variable().shape]}, {}
    raise NetworkFileError(
        f"{where}: hls4ml layer {type(layer).__name__} is not implemented by the numpy reference"
    )


def _pads(layer) -> list[int]:
    return [int(layer.get_attr(f"pad_{side}", 0)) for side in ("top", "bottom", "left", "right")]


def _weighted(layer, where: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Types and raw integer weights/biases of a Dense or Conv2D layer, in Keras layout."""
    product = layer.model.config.backend.product_type(
        layer.get_input_variable().type.precision, layer.weights["weight"].type.precision
    )
    if product != "mult":
        raise NetworkFileError(
            f"{where}: hls4ml uses the {product!r} product; only plain 'mult' is implemented"
        )
    if "bias" not in layer.weights:
        raise NetworkFileError(f"{where}: a layer without a bias variable is not supported")
    weight = layer.weights["weight"]
    data = weight.data
    if layer.get_attr("_weights_transposed", False):
        # hls4ml's Resource strategy transposed them in place; back to Keras layout.
        data = np.transpose(data) if data.ndim == 2 else np.transpose(data, (1, 2, 3, 0))
    n_out = layer.get_attr("n_out") if data.ndim == 2 else layer.get_attr("n_filt")
    spec = {
        "n_out": int(n_out),
        "weight_t": _type_dict(weight.type.precision),
        "bias_t": _type_dict(layer.weights["bias"].type.precision),
        "accum_t": _type_dict(layer.get_attr("accum_t").precision),
    }
    arrays = {
        "weight": _as_compiled(data, weight, where),
        "bias": _as_compiled(layer.weights["bias"].data, layer.weights["bias"], where),
    }
    if arrays["weight"].shape[-1] != n_out:
        raise NetworkFileError(
            f"{where}: weights of shape {arrays['weight'].shape} do not end in n_out={n_out}"
        )
    return spec, arrays


def _as_compiled(data: np.ndarray, variable, where: str) -> np.ndarray:
    """Raw integers of ``data`` as the C++ compiler stores them in the variable's type.

    hls4ml prints each value with ``precision_fmt`` (as many decimals as
    fractional bits) into the weights header; the compiler reads that decimal as
    a double and converts it to ``ap_fixed`` with the type's own rounding and
    overflow modes. This repeats both steps.
    """
    t = FixedType.from_dict(_type_dict(variable.type.precision))
    printed = np.array(
        [float(variable.precision_fmt.format(v)) for v in np.asarray(data, dtype=np.float64).flat]
    )
    scaled = printed * 2.0**t.frac  # exact: a power-of-two scale
    if np.any(np.abs(scaled) >= 2**51):
        raise NetworkFileError(f"{where}: weights too large for {t}")
    # One extra fractional bit carries the decision for every rounding mode; a
    # remainder below it is folded in as a sticky bit.
    half_units = np.floor(scaled * 2)
    sticky = (scaled * 2 != half_units).astype(np.int64)
    raw2 = (
        half_units.astype(np.int64) * 2 + sticky
    )  # value * 2**(frac+2), ties kept apart from near-ties
    return requantize(raw2, t.frac + 2, t).reshape(np.shape(data))


def _type_dict(precision) -> dict:
    """A hls4ml ``FixedPrecisionType``/``IntegerPrecisionType`` as a plain dict."""
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
        raise NetworkFileError(
            f"precision {precision} ({type(precision).__name__}) is not a fixed-point or integer type"
        )
    return {
        "width": int(precision.width),
        "integer": int(precision.integer),
        "signed": bool(precision.signed),
        "rounding": str(precision.rounding_mode),
        "saturation": str(precision.saturation_mode),
        "saturation_bits": int(precision.saturation_bits or 0),
    }
