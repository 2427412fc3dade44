"""A full disk, an unwritable or corrupted emulator cache: one line, exit 2, the fix named."""

from __future__ import annotations

import errno
import os
import shutil

import pytest
from test_board_fakes import write_synthetic_bundle

from pynq_mnist import cli
from pynq_mnist.board.emulator import hwh
from pynq_mnist.bundle import Bundle
from pynq_mnist.outputs import OutputError, disk_full

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/out/bundle/golden.npz")


def test_a_full_disk_is_named_with_the_file_and_the_fix():
    assert disk_full(ENOSPC) == (
        "no space left on the device writing /out/bundle/golden.npz: "
        "free some space or choose another --out"
    )
    copy = shutil.Error(
        [("/a/x.cpp", "/out/x.cpp", f"[Errno 28] {os.strerror(errno.ENOSPC)}")] * 500
    )
    message = disk_full(copy)
    assert (
        message.startswith("no space left on the device writing /out/x.cpp") and len(message) < 120
    )
    assert disk_full(PermissionError(errno.EACCES, "denied")) is None


@pytest.mark.parametrize(
    "error", [ENOSPC, shutil.Error([("/a", "/out/b", "[Errno 28] No space left on device")])]
)
def test_convert_on_a_full_disk_ends_in_one_line(tmp_path, monkeypatch, capsys, error):
    from pynq_mnist.host_training.conversion import convert

    def full(*a, **k):
        raise error

    monkeypatch.setattr(convert, "convert", full)
    assert cli.main(["convert", str(tmp_path / "run"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on the device" in err


def test_an_unexpected_os_error_is_not_hidden(tmp_path, monkeypatch):
    from pynq_mnist.host_training.conversion import convert

    def broken(*a, **k):
        raise IsADirectoryError(errno.EISDIR, "a bug, not the user's disk")

    monkeypatch.setattr(convert, "convert", broken)
    with pytest.raises(IsADirectoryError):
        cli.main(["convert", str(tmp_path / "run"), "--out", str(tmp_path / "b")])


def test_an_unwritable_emulator_cache_names_the_variable(tmp_path, monkeypatch):
    bundle = Bundle(write_synthetic_bundle(tmp_path / "bundle"))
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "a_file" / "cache"))
    with pytest.raises(
        OutputError,
        match=r"emulator cache at .*a_file/cache is not writable .*: set PYNQ_MNIST_EMULATOR_CACHE",
    ):
        hwh.emulated_overlay_files(bundle)


def test_a_corrupted_cached_hwh_is_written_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path / "cache"))
    bundle = Bundle(write_synthetic_bundle(tmp_path / "bundle"))
    bit, handoff = hwh.emulated_overlay_files(bundle)
    good = handoff.read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    handoff.write_bytes(bytes(damaged))
    bit.write_bytes(b"")
    assert hwh.emulated_overlay_files(bundle) == (bit, handoff)
    assert handoff.read_bytes() == good and bit.read_text().endswith("not a Xilinx .bit\n")


def test_a_cached_library_is_checked_against_its_own_digest(tmp_path, monkeypatch):
    from pynq_mnist.board.emulator.cache import digest_matches, record_digest

    monkeypatch.setenv("PYNQ_MNIST_EMULATOR_CACHE", str(tmp_path))
    library = tmp_path / "lib.so"
    library.write_bytes(bytes(range(256)) * 64)
    assert not digest_matches(library)  # none recorded: not trusted
    record_digest(library)
    assert digest_matches(library)
    damaged = bytearray(library.read_bytes())
    damaged[1000] ^= 0x01
    library.write_bytes(bytes(damaged))
    assert not digest_matches(library)
