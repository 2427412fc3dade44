"""The ``network.npz`` format: the exported hls4ml network the board's CPU reference runs.

One ``.npz`` holds a JSON ``graph`` entry (this format's name and version, the
io_type, the input shape and one spec per layer, every fixed-point type as the
dict :meth:`~pynq_mnist.fixed_point.FixedType.from_dict` reads) and the layers'
integer weight arrays ``layer{i}_weight`` / ``layer{i}_bias``. The host writes it
(:mod:`pynq_mnist.host_training.conversion.network_export`), the board reads it
(:mod:`pynq_mnist.board.cpu_reference`); both go through this module.
Only numpy and the standard library are imported: the board uses it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from pynq_mnist.atomic import atomic_path
from pynq_mnist.errors import Refused

FORMAT = "pynq-mnist-network"
FORMAT_VERSION = 1
IO_TYPES = ("io_parallel", "io_stream")


class NetworkFileError(Refused, ValueError):
    """The network file is malformed or describes something the CPU reference cannot run."""


def write_network(
    path: str | os.PathLike, io_type: str, input_shape: list[int], layers: list[dict], arrays
) -> None:
    """Write a network file atomically: a failed write never leaves a partial file."""
    if io_type not in IO_TYPES:
        raise NetworkFileError(f"io_type {io_type!r}: only {' and '.join(IO_TYPES)} are supported")
    graph = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "io_type": io_type,
        "input_shape": [int(d) for d in input_shape],
        "layers": layers,
    }
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, graph=np.array(json.dumps(graph)), **arrays)


def read_network(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """``(graph, arrays)`` of a network file, checked for this format and version."""
    source = os.fspath(path)
    try:
        with np.load(source, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise NetworkFileError(f"{source}: cannot read a network .npz ({e})") from None
    if "graph" not in arrays:
        raise NetworkFileError(f"{source}: no 'graph' entry; write it with export_network()")
    try:
        graph = json.loads(str(arrays.pop("graph")))
    except json.JSONDecodeError as e:
        raise NetworkFileError(f"{source}: the 'graph' entry is not JSON ({e})") from None
    if not isinstance(graph, dict):
        raise NetworkFileError(f"{source}: the 'graph' entry is not a JSON object")
    if graph.get("format") != FORMAT or graph.get("format_version") != FORMAT_VERSION:
        raise NetworkFileError(
            f"{source}: format {graph.get('format')!r} v{graph.get('format_version')}, "
            f"this reader takes {FORMAT!r} v{FORMAT_VERSION}; re-export the network"
        )
    for key, kind in (("io_type", str), ("input_shape", list), ("layers", list)):
        if not isinstance(graph.get(key), kind):
            raise NetworkFileError(f"{source}: graph key {key!r} must be a {kind.__name__}")
    if graph["io_type"] not in IO_TYPES:
        raise NetworkFileError(f"{source}: io_type {graph['io_type']!r} is not one of {IO_TYPES}")
    return graph, arrays
