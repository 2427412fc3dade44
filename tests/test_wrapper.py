"""The compiled IP, driven beat by beat: golden vectors, transfers, TLAST, bad input."""

import json
import os
import re
import shutil

import numpy as np
import pytest

from pynq_mnist.board.emulator.iplib import IPLibrary, IPLibraryError, beats_from_bytes
from pynq_mnist.board.emulator.library_build import (
    LIBRARY_NAME,
    check_library,
    compile_library,
    sources_digest,
)
from pynq_mnist.bundle import Bundle, BundleError, metadata_digest
from pynq_mnist.host_training.conversion.parallel_transfer import (
    MIN_FRAMES_PER_WORKER,
    default_workers,
    transfer,
)

pytestmark = pytest.mark.slow  # the session's tiny bundle needs a training run


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return Bundle(tiny_bundle)


@pytest.fixture
def ip(bundle):
    with IPLibrary.for_bundle(bundle) as lib:
        yield lib


def _tiled(bundle, n):
    """``n`` frames cycling through the golden ones, with their expected words."""
    frames, words = bundle.golden()
    index = np.arange(n) % len(frames)
    return frames[index], words[index]


def test_golden_vectors_reproduce_exactly(bundle, ip):
    frames, words = bundle.golden()
    assert frames.shape == (64, 784) and frames.dtype == np.uint8
    assert words.dtype == np.uint64 and words.shape == (64, 1)
    np.testing.assert_array_equal(ip.transfer(bundle.metadata.input.pack(frames)), words)


@pytest.mark.parametrize("n", [1, 2, 1000])
def test_transfers_give_every_frame_with_tlast_on_the_last_beat(bundle, ip, n):
    frames, words = _tiled(bundle, n)
    beats = beats_from_bytes(bundle.metadata.input.pack(frames), 784)
    last = np.zeros(beats.size, dtype=bool)
    last[-1] = True
    ip.push(beats, last)
    assert ip.run() == n
    assert ip.pending_output() == n
    data, flags = ip.pop()
    np.testing.assert_array_equal(data, words[:, 0])
    assert np.flatnonzero(flags).tolist() == [n - 1]
    assert ip.pending_output() == 0 and ip.pending_input() == 0


def test_back_to_back_transfers_each_end_with_tlast(bundle, ip):
    frames, words = _tiled(bundle, 5)
    beats = beats_from_bytes(bundle.metadata.input.pack(frames), 784)
    last = np.zeros(beats.size, dtype=bool)
    last[[2 * 98 - 1, 5 * 98 - 1]] = True  # a 2-frame then a 3-frame transfer
    ip.push(beats, last)
    assert ip.run() == 5
    data, flags = ip.pop(max_beats=3)
    assert np.flatnonzero(flags).tolist() == [1]
    data2, flags2 = ip.pop()
    np.testing.assert_array_equal(np.concatenate([data, data2]), words[:, 0])
    assert np.flatnonzero(flags2).tolist() == [1]


def test_a_transfer_split_over_processes_gives_the_words_of_one(bundle, ip):
    frames, words = _tiled(bundle, 301)  # 3 workers: blocks of 101, 100 and 100 frames
    stream = bundle.metadata.input.pack(frames)
    np.testing.assert_array_equal(transfer(ip, stream, workers=3), words)
    np.testing.assert_array_equal(transfer(ip, stream[: 2 * 784], workers=4), words[:2])
    assert ip.pending_input() == 0 and ip.pending_output() == 0
    with pytest.raises(ValueError, match="workers must be >= 1"):
        transfer(ip, stream, workers=0)


def test_default_workers_gives_each_process_enough_frames():
    assert default_workers(1) == 1
    assert default_workers(2 * MIN_FRAMES_PER_WORKER - 1) == 1
    assert 1 <= default_workers(10_000) <= len(os.sched_getaffinity(0))


def test_a_failing_worker_process_raises_its_error_here(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    bundle = Bundle(copy)
    frames, _ = _tiled(bundle, 4)
    with IPLibrary.for_bundle(bundle) as lib:
        lib.transfer(frames[:1].reshape(-1))  # this process has its weights now
        for txt in (copy / "hls" / "firmware" / "weights").glob("*.txt"):
            txt.unlink()
        with pytest.raises(IPLibraryError, match="lacks the network's weight files"):
            transfer(lib, frames.reshape(-1), workers=2)


def test_a_partial_frame_waits_and_a_mid_frame_tlast_flushes(bundle, ip):
    frames, _ = _tiled(bundle, 1)
    beats = beats_from_bytes(frames.reshape(-1), 784)
    ip.push(beats[:50], np.zeros(50, dtype=bool))
    assert ip.run() == 0 and ip.pending_input() == 50 and ip.pending_output() == 0
    ip.reset()
    assert ip.pending_input() == 0
    short = np.zeros(50, dtype=bool)
    short[-1] = True
    ip.push(beats[:50], short)
    assert ip.run() == 1
    data, flags = ip.pop()
    assert flags.tolist() == [True]
    padded = frames.copy()
    padded[:, 50 * 8 :] = 0  # the IP takes the missing pixels as 0
    assert data[0] == ip.transfer(padded.reshape(-1))[0, 0]


def test_bytes_that_are_not_whole_frames_are_rejected(bundle, ip):
    frames, _ = _tiled(bundle, 2)
    stream = bundle.metadata.input.pack(frames)
    with pytest.raises(BundleError, match="not a whole number of 784-byte frames"):
        ip.transfer(stream[:-8])
    with pytest.raises(BundleError, match="uint8"):
        ip.transfer(stream.view(np.uint16))
    with pytest.raises(BundleError, match="one-dimensional"):
        ip.transfer(stream.reshape(2, 784))


def test_push_checks_dtype_and_shape(ip):
    with pytest.raises(BundleError, match="uint64"):
        ip.push(np.zeros(98, dtype=np.int64), np.zeros(98, dtype=bool))
    with pytest.raises(BundleError, match="bool array of shape"):
        ip.push(np.zeros(98, dtype=np.uint64), np.zeros(97, dtype=bool))
    with pytest.raises(BundleError, match="bool array"):
        ip.push(np.zeros(98, dtype=np.uint64), np.zeros(98, dtype=np.uint8))
    assert ip.pending_input() == 0


def test_malformed_or_mismatched_metadata_is_refused(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    meta = json.loads((copy / "bundle.json").read_text())
    (copy / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        IPLibrary.for_bundle(copy)
    meta["input"]["beats_per_frame"] = 97
    meta["metadata_sha256"] = metadata_digest(meta)  # a consistent digest: the numbers decide
    (copy / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="input beats_per_frame is 97"):
        IPLibrary.for_bundle(copy)


def test_a_library_for_another_frame_size_is_refused(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    meta = json.loads((copy / "bundle.json").read_text())
    meta["input"]["frame_shape"] = [28, 14]
    meta["input"].pop("beats_per_frame")
    meta["input"].pop("bytes_per_frame")
    meta["metadata_sha256"] = metadata_digest(meta)
    (copy / "bundle.json").write_text(json.dumps(meta))
    # refused by the frame size, or first by the golden-frame probe (the golden frames no
    # longer fit the edited shape): either way never loaded
    wrong = "takes 98 beats per frame but the bundle says 49|the metadata needs uint8 \\(64, 392\\)"
    with pytest.raises(IPLibraryError, match=wrong):
        IPLibrary.for_bundle(copy, cache=tmp_path / "cache")


def test_a_library_that_will_not_load_is_rebuilt_from_the_sources(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    bundle = Bundle(copy)
    bundle.file("emulator").write_bytes(b"not a shared library")
    with IPLibrary.for_bundle(bundle, cache=tmp_path / "cache") as lib:
        assert lib.path.is_relative_to(tmp_path / "cache")
        frames, words = bundle.golden()
        np.testing.assert_array_equal(lib.transfer(frames[:4].reshape(-1)), words[:4])


def test_a_flipped_byte_in_the_cached_library_is_caught_and_it_is_rebuilt(
    tiny_bundle, tmp_path, capsys
):
    from pynq_mnist.board.emulator.cache import digest_matches

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    bundle = Bundle(copy)
    bundle.file("emulator").write_bytes(b"not a shared library")  # the cache's library is used
    with IPLibrary.for_bundle(bundle, cache=tmp_path / "cache") as lib:
        cached = lib.path
    damaged = bytearray(cached.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    # a new file, as a disk error between runs leaves it (this process has the old one mapped)
    (tmp_path / "damaged.so").write_bytes(bytes(damaged))
    os.replace(tmp_path / "damaged.so", cached)
    capsys.readouterr()
    with IPLibrary.for_bundle(bundle, cache=tmp_path / "cache") as lib:
        frames, words = bundle.golden()
        np.testing.assert_array_equal(lib.transfer(frames[:4].reshape(-1)), words[:4])
    assert "does not match its recorded sha256" in capsys.readouterr().out
    assert lib.path == cached and digest_matches(cached)


def test_missing_weights_are_an_error_not_a_crash(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    for txt in (copy / "hls" / "firmware" / "weights").glob("*.txt"):
        txt.unlink()
    with pytest.raises(IPLibraryError, match="lacks the network's weight files"):
        IPLibrary.for_bundle(copy)


def test_cpp_truncates_toward_minus_infinity_and_saturates_like_the_layout(tiny_bundle, tmp_path):
    """Rebuild the IP with 2 integer bits per logit, so many saturate, and compare with numpy."""
    from pynq_mnist.board.cpu_reference import CpuReference
    from pynq_mnist.host_training.conversion.wrapper import words_from_logits

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    bundle = Bundle(copy)
    frames, words = bundle.golden()
    logits = CpuReference.from_file(
        bundle.file("network"), bundle.metadata.input.pixel_frac_bits
    ).logits(frames)
    frac = bundle.metadata.output.field("logits").frac_bits
    np.testing.assert_array_equal(words_from_logits(logits, frac), words)

    config = copy / "hls" / "pynq_mnist_config.h"
    text = config.read_text()
    assert f"LOGIT_INT_BITS {6 - frac}\n" in text
    config.write_text(text.replace(f"LOGIT_INT_BITS {6 - frac}\n", "LOGIT_INT_BITS 2\n"))
    lib_path = compile_library(copy / "hls", tmp_path / "lib" / "lib.so")
    with IPLibrary(lib_path, copy / "hls" / "firmware" / "weights") as lib:
        got = lib.transfer(frames.reshape(-1))
    expected = words_from_logits(logits, 4)
    raw = bundle.metadata.output.field("logits").extract(expected)
    assert (raw == 31).any() and (raw == -32).any()  # the test does reach saturation
    np.testing.assert_array_equal(got, expected)


def test_a_foreign_library_is_never_loaded_but_rebuilt(tiny_bundle, tmp_path):
    """Another bundle's library (here: the same IP built with other logit bits) in this
    bundle's place is refused by its sources digest and rebuilt from this bundle's sources."""
    other = tmp_path / "other"
    shutil.copytree(tiny_bundle, other)
    config = other / "hls" / "pynq_mnist_config.h"
    config.write_text(config.read_text().replace("LOGIT_INT_BITS", "LOGIT_INT_BITS 2 //"))
    foreign = compile_library(other / "hls", tmp_path / "foreign" / LIBRARY_NAME)
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    shutil.copyfile(foreign, copy / "emulator" / LIBRARY_NAME)
    with pytest.raises(IPLibraryError, match="other HLS sources or weights"):
        check_library(copy / "emulator" / LIBRARY_NAME, sources_digest(copy / "hls"))
    with IPLibrary.for_bundle(copy, cache=tmp_path / "cache") as lib:
        assert lib.path.is_relative_to(tmp_path / "cache")
        assert lib.sources_digest == sources_digest(copy / "hls")
        frames, words = Bundle(copy).golden()
        np.testing.assert_array_equal(lib.transfer(frames[:4].reshape(-1)), words[:4])


@pytest.mark.parametrize("change", ["more values", "fewer values", "not numbers", "exit"])
def test_weight_files_hls4ml_would_crash_on_are_refused_first(tiny_bundle, tmp_path, change):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    weights = copy / "hls" / "firmware" / "weights"
    txt = sorted(weights.glob("w*.txt"))[0]
    values = txt.read_text().strip().split(",")
    if change == "more values":  # hls4ml's loader would write past its array
        txt.write_text(",".join(values * 3) + "\n")
    elif change == "fewer values":
        txt.write_text(",".join(values[:-1]) + "\n")
    elif change == "not numbers":
        txt.write_text(",".join(["x"] * len(values)) + "\n")
    else:  # a missing file: hls4ml's loader would exit() the process
        txt.unlink()
    with pytest.raises(IPLibraryError, match=re.escape(txt.name)):
        IPLibrary.for_bundle(copy, cache=tmp_path / "cache")
