"""bench/reproducibility.py keeps one results entry per kind of host."""

import bench_scripts


def _entry(cpu, avx512, digest):
    return {"host": {"cpu": cpu, "avx512": avx512}, "digest": digest}


def test_a_rerun_replaces_only_its_own_kind_of_host():
    with_host = bench_scripts.load("reproducibility").with_host
    unnamed = {"command": "python bench/reproducibility.py", "digest": "first"}  # no host yet
    avx2, avx512 = _entry("AMD EPYC", False, "d413"), _entry("AMD EPYC", True, "ff84")
    doc = {"hosts": [unnamed, avx2]}
    assert with_host(doc, avx512) == [unnamed, avx2, avx512]  # same model name, other ISA
    again = _entry("AMD EPYC", False, "d413-again")
    assert with_host({"hosts": [unnamed, avx2, avx512]}, again) == [unnamed, avx512, again]
    assert with_host(unnamed, avx2) == [unnamed, avx2]  # a file from before "hosts"
    assert with_host({}, avx2) == [avx2]
