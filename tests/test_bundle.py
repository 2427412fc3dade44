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
    Golden,
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
    with staged_dir(dest, "a.txt") as stage:
        (stage / "a.txt").write_text("first")
    assert (dest / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), staged_dir(dest, "a.txt") as stage:
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
    write_metadata(b, BundleMetadata.from_dict(meta))
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


# --------------------------------------------------------------------------- whole-bundle checks


def test_an_edited_bundle_json_is_refused(tmp_path):
    b = write_bundle(tmp_path / "b")
    assert Bundle(b).metadata.output.field("logits").frac_bits == 2
    d = json.loads((b / METADATA_FILE).read_text())
    d["output"]["fields"][1]["frac_bits"] = 3  # a valid value, but not the written one
    (b / METADATA_FILE).write_text(json.dumps(d, indent=2))
    with pytest.raises(BundleError, match="metadata_sha256 does not match"):
        Bundle(b)
    del d["metadata_sha256"]
    (b / METADATA_FILE).write_text(json.dumps(d))
    with pytest.raises(BundleError, match="metadata_sha256 is missing"):
        Bundle(b)


def test_the_self_digest_ignores_formatting_only(tmp_path):
    b = write_bundle(tmp_path / "b")
    d = json.loads((b / METADATA_FILE).read_text())
    (b / METADATA_FILE).write_text(json.dumps(d, indent=None, sort_keys=True))
    assert Bundle(b).metadata.name == "mnist_test"


def _set(*path_value):
    *path, value = path_value

    def change(d):
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change, key, message",
    [
        (_set("ip", "clock_mhz", 0), "ip.clock_mhz", "allowed"),
        (_set("ip", "clock_mhz", -5.0), "ip.clock_mhz", "allowed"),
        (_set("ip", "clock_mhz", "100"), "ip.clock_mhz", "finite number"),
        (_set("ip", "target_ii_cycles", 0), "ip.target_ii_cycles", "allowed"),
        # every call deadline grows with it: 10**40 would make a dropped TLAST a hang
        (_set("ip", "target_ii_cycles", 10**40), "ip.target_ii_cycles", "allowed: 1..100000000"),
        (_set("ip", "vlnv", "vendor:lib:name"), "ip.vlnv", "not a VLNV"),
        (_set("ip", "vlnv", "a:b:../x:1.0"), "ip.vlnv", "not a VLNV"),
        (_set("ip", "top", "top; rm -rf"), "ip.top", "identifier"),
        (_set("ip", "ports", {"input": "in stream"}), "ip.ports.input", "identifier"),
        (_set("ip", "colour", "red"), "ip", "unknown key 'colour'"),
        (_set("dma", "length_width_bits", 27), "dma.length_width_bits", "8..26"),
        (_set("dma", "length_width_bits", 26.5), "dma.length_width_bits", "integer"),
        (_set("name", "../../etc"), "name", "no '/'"),
        (_set("name", ".."), "name", "no '/'"),
        (_set("name", "a/b"), "name", "no '/'"),
        (_set("files", "golden", "../golden.npz"), "files.golden", "no '..'"),
        (_set("files", "hls", "/abs/hls"), "files.hls", "relative"),
        (_set("sha256", {"../x": "0" * 64}), "sha256 key", "inside the bundle"),
        (_set("sha256", {"hls": "xyz"}), "sha256.hls", "64 hex"),
        (_set("input", "stream_width_bits", "64"), "input.stream_width_bits", "integer"),
        (_set("input", "frame_shape", [28, 0]), "input.frame_shape[1]", "allowed"),
        (_set("input", "pixel", "scale", 0.3), "input.pixel.scale", "power of two"),
        (_set("input", "pixel", "hls_type", "float"), "input.pixel.hls_type", "ap_ufixed"),
        (_set("output", "beats_per_frame", 0), "output.beats_per_frame", "allowed"),
        (_set("output", "fields", 1, "width", 65), "output.fields[1] (logits).width", "1..64"),
        (_set("output", "fields", 1, "signed", 1), "output.fields[1] (logits).signed", "true"),
        (_set("output", "fields", 1, "frac_bits", 6), "", "frac_bits at most 5"),
        (_set("output", "fields", 1, "signed", False), "", "'logits' must be signed"),
        (_set("output", "fields", 0, "signed", True), "", "'class' must be one unsigned"),
        (_set("output", "fields", 0, "lsb", -1), "output.fields[0] (class).lsb", "allowed"),
        (_set("output", "fields", 0, "name", "class/x"), "output.fields[0].name", "identifier"),
        (_set("accuracy", "keras", 1.5), "accuracy.keras", "allowed"),
        (_set("accuracy", "frames", 0), "accuracy.frames", "allowed"),
        (_set("model", "student_sha256", "abc"), "model.student_sha256", "64 hex"),
        (_set("model", "logit_type", "int"), "model.logit_type", "ap_fixed"),
        (_set("classes", ["0"] * 10), "", "distinct"),
        (_set("input", "frame_shape", [8192, 8200]), "input: a frame", "one DMA transfer"),
        (_set("ip", "backend", "vhdl"), "ip.backend", "one of ('hls', 'rtl')"),
        (_set("ip", "latency_cycles", 0), "ip.latency_cycles", "allowed"),
        (_set("ip", "timing", {"cycles_per_frame": -1}), "ip.timing.cycles_per_frame", "allowed"),
        (_set("ip", "tool_seconds", {"yosys_s": "1"}), "ip.tool_seconds.yosys_s", "finite"),
        (_set("ip", "resources", [1]), "ip.resources", "object"),
        (_set("model", "nonzero_weights", -1), "model.nonzero_weights", "allowed"),
        (_set("accuracy", "reference_bit_exact", 1), "accuracy.reference_bit_exact", "true"),
        (_set("files", {"golden": "g.npz", "emulator": "e.so"}), "files", "missing key 'hls'"),
        (_set("ip", "backend", "rtl"), "files.rtl", "is missing"),
        # a fact of the other backend: a hand edit or two bundles mixed up
        (_set("model", "nonzero_weights", 626), "model.nonzero_weights", "another backend"),
        (_set("ip", "tool_seconds", {"yosys_s": 1.0}), "ip.tool_seconds", "another backend"),
    ],
)
def test_every_bad_value_is_refused_naming_its_key(change, key, message):
    d = metadata_dict()
    change(d)
    with pytest.raises(BundleError) as e:
        BundleMetadata.from_dict(d, source="b/bundle.json")
    text = str(e.value)
    assert text.startswith("b/bundle.json: ")
    assert key in text and message in text, text


def test_an_rtl_bundle_validates_and_an_hls_bundle_is_unchanged():
    hls = BundleMetadata.from_dict(metadata_dict())
    assert hls.backend == "hls" and "backend" not in hls.to_dict()["ip"]
    assert hls.to_dict()["files"] == metadata_dict()["files"]
    d = metadata_dict()
    d["ip"].update(
        backend="rtl",
        latency_cycles=18,
        timing={"cycles_per_frame": 98, "latency_cycles": 18},
        rtl={"pipeline_stages": 3},
        resources={"yosys": {"lut": 5839}},
        tool_seconds={"yosys_s": 12.5},
    )
    d["model"].update(nonzero_weights=626, logit_frac_bits_on_chip=5)
    d["accuracy"]["reference_bit_exact"] = True
    d["files"] = {"golden": "golden.npz", "rtl": "rtl", "emulator": "emulator/librtl_ip.so"}
    rtl = BundleMetadata.from_dict(d)
    assert rtl.backend == "rtl" and rtl.files.hls is None and rtl.ip["latency_cycles"] == 18
    assert BundleMetadata.from_dict(rtl.to_dict()) == rtl
    d["model"]["logit_type"] = "ap_fixed<8,3>"  # the hls backend's fact
    with pytest.raises(BundleError, match="model.logit_type is written only by another backend"):
        BundleMetadata.from_dict(d)


def test_output_pack_is_the_inverse_of_unpack():
    out = BundleMetadata.from_dict(metadata_dict()).output
    rng = np.random.default_rng(0)
    raw = {"class": rng.integers(0, 10, (5, 1)), "logits": rng.integers(-32, 32, (5, 10))}
    words = out.pack(raw)
    got = out.unpack(words)
    assert got["class"].tolist() == raw["class"][:, 0].tolist()
    assert np.array_equal(got["logits"], raw["logits"] / 4.0)
    with pytest.raises(BundleError, match="outside -32..31"):
        out.pack({"class": raw["class"], "logits": raw["logits"] + 40})


def test_input_unpack_is_the_inverse_of_pack():
    fmt = BundleMetadata.from_dict(metadata_dict()).input
    frames = np.random.default_rng(1).integers(0, 256, (3, 784), dtype=np.uint8)
    assert np.array_equal(fmt.unpack(fmt.pack(frames).view("<u8")), frames)
    pixel = fmt.pixel
    assert pixel.frac_bits == encoding.PIXEL_BITS
    assert np.array_equal(pixel.from_network_input(pixel.to_network_input(frames)), frames)
    assert np.array_equal(pixel.to_network_input(frames), encoding.to_network_input(frames))


def test_a_truncated_golden_file_is_refused_naming_it(tmp_path):
    meta = BundleMetadata.from_dict(metadata_dict())
    words = meta.output.pack({"class": np.array([[3]]), "logits": np.ones((1, 10), int)})
    path = tmp_path / "golden.npz"
    Golden.of(meta.input, meta.output, np.zeros((1, 784), np.uint8), words).write(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BundleError, match=f"^{path}: cannot read the golden vectors"):
        Golden.read(path, meta)


def test_golden_vectors_check_decoded_classes_and_logits(tmp_path):
    meta = BundleMetadata.from_dict(metadata_dict())
    frames = np.zeros((2, 784), np.uint8)
    words = meta.output.pack({"class": np.array([[3], [4]]), "logits": np.ones((2, 10), int)})
    Golden.of(meta.input, meta.output, frames, words).write(tmp_path / "golden.npz")
    golden = Golden.read(tmp_path / "golden.npz", meta)
    assert golden.mismatches(meta.output, words) == []
    # the same words read with another logit format: raw words equal, decoded logits not
    d = metadata_dict()
    d["output"]["fields"][1]["frac_bits"] = 3
    other = BundleMetadata.from_dict(d)
    problems = golden.mismatches(other.output, words)
    assert len(problems) == 1 and problems[0].startswith("logits differ on 2 of 2")
    wrong = words.copy()
    wrong[1, 0] ^= np.uint64(1)  # class 4 -> 5
    problems = golden.mismatches(meta.output, wrong)
    assert [p.split(" ")[0] for p in problems] == ["output", "classes"]
    # a golden file of another shape is refused naming the array
    np.savez(
        tmp_path / "bad.npz",
        frames=frames,
        words=words[:, :0],
        classes=golden.classes,
        logits=golden.logits,
    )
    with pytest.raises(BundleError, match="words is uint64"):
        Golden.read(tmp_path / "bad.npz", meta)


def test_atomic_writes_leave_the_old_file_or_the_new_one(tmp_path):
    from pynq_mnist.atomic import atomic_path, write_text_atomic

    dest = write_text_atomic(tmp_path / "model.h5", "old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        assert tmp.name.endswith(".h5") and tmp.parent == tmp_path  # writers pick by suffix
        tmp.write_text("half")
        raise RuntimeError("killed mid-way")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.h5"]
    write_text_atomic(dest, "new")
    assert dest.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_atomic_writes_give_the_permissions_of_a_plain_write(tmp_path):
    """Not mkstemp's owner-only 0600: a bundle written by one user is read by another
    (Jupyter on the board); a replaced file keeps its own mode."""
    import os

    from pynq_mnist.atomic import write_text_atomic

    old = os.umask(0o022)
    try:
        plain = tmp_path / "plain.json"
        plain.write_text("x")
        assert write_text_atomic(tmp_path / "new.json", "x").stat().st_mode & 0o777 == (
            plain.stat().st_mode & 0o777
        ) == 0o644  # fmt: skip
        plain.chmod(0o600)
        assert write_text_atomic(plain, "y").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_golden_vectors_of_integer_logits_read_back(tmp_path):
    d = metadata_dict()
    d["output"]["fields"][1]["frac_bits"] = 0  # logits that decode as integers
    meta = BundleMetadata.from_dict(d)
    words = meta.output.pack({"class": np.array([[1]]), "logits": np.full((1, 10), -3)})
    Golden.of(meta.input, meta.output, np.zeros((1, 784), np.uint8), words).write(
        tmp_path / "g.npz"
    )
    assert Golden.read(tmp_path / "g.npz", meta).mismatches(meta.output, words) == []
