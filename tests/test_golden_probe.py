"""A library that loads and then crashes running the IP is a one-line error, not a dead process."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from test_board_fakes import write_synthetic_bundle

from pynq_mnist.board.emulator.golden_probe import probe_library
from pynq_mnist.board.emulator.library_build import IPLibraryError
from pynq_mnist.bundle import EMULATOR_ABI_VERSION

# The C API of hls/emulator/pynq_mnist_emu.cpp (one output beat per frame, TLAST
# on the transfer's last);
# RUN_BODY decides whether running the IP crashes.
_FAKE_IP = r"""
#include <stddef.h>
#include <stdint.h>
static int handle;
static size_t queued, ready;
int pm_abi_version(void) { return ABI; }
const char *pm_sources_digest(void) { return "fake"; }
int pm_beats_in_per_frame(void) { return 98; }
int pm_beats_out_per_frame(void) { return 1; }
void pm_set_weights_dir(const char *p) { (void)p; }
void *pm_create(void) { return &handle; }
void pm_destroy(void *h) { (void)h; }
void pm_reset(void *h) { (void)h; queued = 0; }
size_t pm_push(void *h, const uint64_t *d, const uint8_t *l, size_t n) { queued += n; return n; }
size_t pm_run(void *h) { RUN_BODY }
size_t pm_pop(void *h, uint64_t *d, uint8_t *l, size_t max) {
    size_t n = ready < max ? ready : max;
    for (size_t i = 0; i < n; i++) { d[i] = 0; l[i] = i + 1 == ready; }
    ready -= n;
    return n;
}
size_t pm_pending_output(void *h) { return ready; }
size_t pm_pending_input(void *h) { return 0; }
"""


def _fake_library(folder, run_body: str):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    source = folder / "fake.c"
    source.write_text(_FAKE_IP.replace("RUN_BODY", run_body))
    library = folder / "libfake.so"
    cmd = ["gcc", "-shared", "-fPIC", f"-DABI={EMULATOR_ABI_VERSION}", "-o", library, source]
    subprocess.run(cmd, check=True)
    return library


def _bundle_with_weights(folder):
    bundle = write_synthetic_bundle(folder)
    firmware = bundle / "hls" / "firmware"
    (firmware / "weights").mkdir(parents=True)
    (firmware / "net.cpp").write_text('nnet::load_weights_from_txt<float, 2>(w2, "w2.txt");\n')
    (firmware / "weights" / "w2.txt").write_text("1,2\n")
    return bundle


def test_a_library_that_crashes_running_the_ip_is_refused_in_one_line(tmp_path):
    bundle = _bundle_with_weights(tmp_path / "bundle")
    crashing = _fake_library(tmp_path, "*(volatile int *)0 = 1; return 0;")
    with pytest.raises(IPLibraryError, match=r"libfake.so crashed \(SIGSEGV\) running the golden"):
        probe_library(crashing, bundle)


def test_a_library_that_runs_passes_the_probe(tmp_path):
    bundle = _bundle_with_weights(tmp_path / "bundle")
    probe_library(_fake_library(tmp_path, "ready = queued / 98; queued = 0; return ready;"), bundle)
