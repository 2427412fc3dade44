"""Synthetic overlay bundles for the Vivado tests: metadata only, plus an hls/ folder.

Two archs with different stream widths and clocks, so a test can tell that the
block design takes them from the metadata.
"""

from __future__ import annotations

from pathlib import Path

from pynq_mnist import encoding
from pynq_mnist.bundle import BundleMetadata, sha256_tree, write_metadata
from pynq_mnist.host_training.conversion import wrapper

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
        "accuracy": {
            "frames": 100,
            "keras": 0.9,
            "emulated": 0.9,
            "agreement": 1.0,
            "csim_bit_exact": True,
            "bit_exact_backends": ["Vivado", "Vitis"],
        },
        "files": {"golden": "golden.npz", "hls": "hls", "emulator": "emulator/lib.so"},
    }
    return BundleMetadata.from_dict(d)


#: A header that hls4ml's two backends write differently: the bundle's firmware/
#: holds the Vivado one, vitis/firmware/ the Vitis one.
BACKEND_HEADER = "firmware/nnet_utils/nnet_dense_stream.h"


def make_bundle(parent: Path, arch: str) -> Path:
    """A bundle folder with ``bundle.json`` and an ``hls/`` (hashed) like convert's: the
    real ``build_hls.tcl`` rendered for the metadata's IP, stub sources, and a Vitis overlay."""
    meta = metadata(arch)
    path = parent / meta.name
    hls = path / "hls"
    vendor, library, top, version = meta.ip["vlnv"].split(":")
    values = {
        "top": top,
        "part": meta.ip["part"],
        "clock_period_ns": f"{1000.0 / meta.ip['clock_mhz']:g}",
        "ip_vendor": vendor,
        "ip_library": library,
        "ip_version": version,
        "net_source": "net.cpp",
    }
    for rel, text in {
        f"{top}.cpp": "// stand-in top\n",
        "firmware/net.cpp": "// stand-in network\n",
        BACKEND_HEADER: "// hls4ml Vivado backend\n",
        f"{wrapper.VITIS_OVERLAY}/{BACKEND_HEADER}": "// hls4ml Vitis backend\n",
        "build_hls.tcl": wrapper.render(wrapper.TEMPLATES / "build_hls.tcl.in", values),
    }.items():
        (hls / rel).parent.mkdir(parents=True, exist_ok=True)
        (hls / rel).write_text(text)
    meta = BundleMetadata.from_dict(
        {**meta.to_dict(), "sha256": {"hls": sha256_tree(path / "hls")}}
    )
    write_metadata(path, meta)
    return path
