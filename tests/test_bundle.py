"""The overlay bundle contract: metadata validation, stream packing, atomic writes, locator."""

import json

import numpy as np
import pytest

from pynq_mnist import encoding
from pynq_mnist.bundle import (
    METADATA_FILE,
    Bundle,
    BundleError,
    BundleMetadata,
    Field,
    staged_dir,
    write_metadata,
)
from pynq_mnist.overlays import ENV_VAR, available, locate


def metadata_dict(**over) -> dict:
    d = {
        "schema": "pynq-mnist-bundle",
        "schema_version": 1,
        "name": "mnist_test",
        "classes": [str(i) for i in range(10)],
        "input": {"stream_width_bits": 64, "frame_shape": [28, 28], "pixel": encoding.describe()},
        "output": {
            "stream_width_bits": 64,
            "beats_per_frame": 1,
            "fields": [
                {"name": "class", "lsb": 0, "width": 4},
                {
                    "name": "logits",
                    "lsb": 4,
                    "width": 6,
                    "count": 10,
                    "signed": True,
                    "frac_bits": 2,
                },
            ],
        },
        "ip": {
            "top": "top",
            "vlnv": "v:l:n:1.0",
            "part": "xc7z020clg400-1",
            "clock_mhz": 100.0,
            "target_ii_cycles": 98,
        },
        "dma": {"length_width_bits": 26},
        "model": {"arch": "mlp", "run_dir": "runs/x"},
        "accuracy": {"frames": 10000, "keras": 0.98, "emulated": 0.98, "agreement": 1.0},
        "files": {"golden": "golden.npz", "hls": "hls", "emulator": "emulator/lib.so"},
    }
    d.update(over)
    return d


def test_metadata_round_trip_and_derived_numbers():
    meta = BundleMetadata.from_dict(metadata_dict())
    assert meta.input.beats_per_frame == 98
    assert meta.input.bytes_per_frame == 784
    assert meta.output.bytes_per_frame == 8
    assert meta.max_transfer_bytes == 2**26 - 1
    again = BundleMetadata.from_dict(json.loads(json.dumps(meta.to_dict())))
    assert again == meta


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("ip"), "missing key 'ip'"),
        (lambda d: d["ip"].pop("vlnv"), "missing key 'vlnv'"),
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d.update(schema="other"), "not a pynq-mnist bundle"),
        (lambda d: d["input"].update(stream_width_bits=48), "not an AXI-Stream width"),
        (lambda d: d["input"].update(beats_per_frame=784), "input beats_per_frame is 784"),
        (lambda d: d["input"]["pixel"].update(dtype="float32"), "pixel dtype must be uint8"),
        (lambda d: d["output"]["fields"][1].update(count=11), "does not fit"),
        (lambda d: d["output"]["fields"][1].update(lsb=2), "overlaps"),
        (
            lambda d: (
                d["output"].update(beats_per_frame=2),
                d["output"]["fields"][1].update(width=7),
            ),
            "crosses a 64-bit word",
        ),
        (lambda d: d.update(classes=["a", "b"]), "10 logits but 2 classes"),
    ],
)
def test_malformed_metadata_is_refused_with_the_reason(change, message):
    d = metadata_dict()
    change(d)
    with pytest.raises(BundleError, match=message):
        BundleMetadata.from_dict(d, source="test.json")


def test_pack_is_raw_little_endian_bytes_and_checks_input():
    fmt = BundleMetadata.from_dict(metadata_dict()).input
    frames = np.arange(2 * 784, dtype=np.uint64).astype(np.uint8).reshape(2, 28, 28)
    stream = fmt.pack(frames)
    beats = stream.view("<u8")
    assert beats.shape == (2 * 98,)
    assert int(beats[0]) & 0xFF == frames[0, 0, 0]
    assert int(beats[0]) >> 56 == frames[0, 0, 7]
    assert np.array_equal(fmt.pack(frames.reshape(2, 784)), stream)
    with pytest.raises(BundleError, match="uint8"):
        fmt.pack(frames.astype(np.float32))
    with pytest.raises(BundleError, match=r"shape \(N, 28, 28\) or \(N, 784\)"):
        fmt.pack(np.zeros((2, 27, 28), np.uint8))
    with pytest.raises(BundleError, match="empty"):
        fmt.pack(np.zeros((0, 784), np.uint8))


def test_unpack_signed_fixed_point_fields():
    out = BundleMetadata.from_dict(metadata_dict()).output
    logits_raw = np.array([-32, 31, -1, 0, 5, -7, 1, 2, 3, 4])
    word = 7
    for k, v in enumerate(logits_raw):
        word |= (int(v) & 0x3F) << (4 + 6 * k)
    got = out.unpack(np.array([word, 0], dtype=np.uint64))
    assert got["class"].tolist() == [7, 0]
    assert np.array_equal(got["logits"][0], logits_raw / 4.0)
    with pytest.raises(BundleError, match="whole number"):
        out.unpack(np.zeros(12, np.uint8))


def test_field_extract_unsigned():
    f = Field("x", lsb=60, width=4)
    assert f.extract(np.array([[0xF << 60]], dtype=np.uint64)).tolist() == [[15]]


def test_staged_dir_is_all_or_nothing(tmp_path):
    dest = tmp_path / "bundle"
    with staged_dir(dest) as stage:
        (stage / "a.txt").write_text("first")
    assert (dest / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), staged_dir(dest) as stage:
        (stage / "a.txt").write_text("half")
        raise RuntimeError("killed mid-way")
    assert (dest / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def write_bundle(folder, **over):
    folder.mkdir(parents=True)
    write_metadata(folder, BundleMetadata.from_dict(metadata_dict(**over)))
    return folder


def test_bundle_hashes_and_files(tmp_path):
    b = write_bundle(tmp_path / "b", sha256={})
    (b / "golden.npz").write_bytes(b"x")
    bundle = Bundle(b)
    assert bundle.file("golden") == b / "golden.npz"
    with pytest.raises(BundleError, match="hls file hls is missing"):
        bundle.file("hls")
    meta = bundle.metadata.to_dict()
    meta["sha256"] = {"golden.npz": "0" * 64}
    (b / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="does not match its recorded sha256"):
        Bundle(b).verify_hashes()


def test_bundle_refuses_a_folder_without_metadata_or_bad_json(tmp_path):
    with pytest.raises(BundleError, match="bundle.json is missing"):
        Bundle(tmp_path)
    (tmp_path / METADATA_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle(tmp_path)


def test_locator_by_path_and_by_name(tmp_path, monkeypatch):
    write_bundle(tmp_path / "store" / "mnist_a")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "store"))
    assert "mnist_a" in available()
    assert locate("mnist_a").path == tmp_path / "store" / "mnist_a"
    assert locate(tmp_path / "store" / "mnist_a").metadata.name == "mnist_test"
    with pytest.raises(BundleError, match="bundles there: .*mnist_a"):
        locate("mnist_b")
    with pytest.raises(BundleError, match="has no bundle.json"):
        locate(tmp_path / "store")
