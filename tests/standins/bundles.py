"""Synthetic overlay bundles for the Vivado tests: metadata only, plus an hls/ folder.

Two archs with different stream widths and clocks, so a test can tell that the
block design takes them from the metadata.
"""

from __future__ import annotations

from pathlib import Path

from pynq_mnist import encoding
from pynq_mnist.bundle import BundleMetadata, sha256_tree, write_metadata

# Input and output widths differ, in opposite ways, so a swap cannot go unseen;
# the cnn bundle names its own stream ports (ip.ports), the mlp one takes the defaults.
ARCHS = {
    "mlp": {"in_bits": 64, "out_bits": 128, "clock_mhz": 100.0, "logit_lsb": 8, "logit_bits": 8},
    "cnn": {
        "in_bits": 128,
        "out_bits": 64,
        "clock_mhz": 125.0,
        "logit_lsb": 4,
        "logit_bits": 6,
        "ports": {
            "input": "frames_in",
            "output": "logits_out",
            "clock": "ap_clk",
            "reset": "ap_rst_n",
        },
    },
}


def metadata(arch: str, name: str | None = None) -> BundleMetadata:
    a = ARCHS[arch]
    d = {
        "schema": "pynq-mnist-bundle",
        "schema_version": 1,
        "name": name or f"mnist_{arch}",
        "classes": [str(i) for i in range(10)],
        "input": {
            "stream_width_bits": a["in_bits"],
            "frame_shape": [28, 28],
            "pixel": encoding.describe(),
        },
        "output": {
            "stream_width_bits": a["out_bits"],
            "beats_per_frame": 1,
            "fields": [
                {"name": "class", "lsb": 0, "width": 4},
                {
                    "name": "logits",
                    "lsb": a["logit_lsb"],
                    "width": a["logit_bits"],
                    "count": 10,
                    "signed": True,
                    "frac_bits": 2,
                },
            ],
        },
        "ip": {
            "top": f"{arch}_top",
            "vlnv": f"example.org:hls:{arch}_top:1.0",
            "part": "xc7z020clg400-1",
            "clock_mhz": a["clock_mhz"],
            "target_ii_cycles": 98,
            **({"ports": a["ports"]} if "ports" in a else {}),
        },
        "dma": {"length_width_bits": 26},
        "model": {"arch": arch, "run_dir": "runs/x"},
        "accuracy": {"frames": 100, "keras": 0.9, "emulated": 0.9, "agreement": 1.0},
        "files": {"golden": "golden.npz", "hls": "hls", "emulator": "emulator/lib.so"},
    }
    return BundleMetadata.from_dict(d)


def make_bundle(parent: Path, arch: str) -> Path:
    """A bundle folder with ``bundle.json`` and ``hls/build_hls.tcl`` (hashed)."""
    meta = metadata(arch)
    path = parent / meta.name
    (path / "hls").mkdir(parents=True)
    (path / "hls" / "build_hls.tcl").write_text(f"# stand-in HLS project for {arch}\n")
    meta = BundleMetadata.from_dict(
        {**meta.to_dict(), "sha256": {"hls": sha256_tree(path / "hls")}}
    )
    write_metadata(path, meta)
    return path
