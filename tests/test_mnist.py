"""The IDX loader: checksums, damaged files, custom datasets, the validation split."""

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from pynq_mnist import mnist
from pynq_mnist.mnist import DataError, Dataset, load_dir, load_mnist


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


CLASSES = ("ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay")


def write_set(
    folder: Path, n_train=40, n_test=20, seed=0, shape=(28, 28), md5sums=True, classes=CLASSES
):
    """A small custom IDX dataset under the MNIST file names (``classes=None``: no classes.txt)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    lines = []
    for key, array in arrays.items():
        path = folder / f"{mnist.FILES[key]}.gz"
        path.write_bytes(gzip.compress(idx_bytes(array), mtime=0))
        lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.name}")
    if md5sums:
        (folder / "MD5SUMS").write_text("\n".join(lines) + "\n")
    if classes is not None:
        (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    return arrays


def test_checksummed_set_loads_exactly(tmp_path):
    arrays = write_set(tmp_path)
    data = load_dir(tmp_path)
    assert data.checksums == "MD5SUMS"
    assert data.class_names == CLASSES and data.name == tmp_path.name
    for key, array in arrays.items():
        got = getattr(data, key)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, array)


def test_bad_md5_names_the_file(tmp_path):
    write_set(tmp_path)
    lines = (tmp_path / "MD5SUMS").read_text().splitlines()
    lines[1] = "0" * 32 + "  " + lines[1].split()[1]  # train labels
    (tmp_path / "MD5SUMS").write_text("\n".join(lines))
    with pytest.raises(
        DataError, match=r"train-labels-idx1-ubyte\.gz: md5 .* does not match 0{32}"
    ):
        load_dir(tmp_path)


def test_without_md5sums_or_classes_the_mnist_table_is_checked(tmp_path):
    write_set(tmp_path, md5sums=False, classes=None)
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte\.gz: md5 .*MNIST table.*adds classes\.txt"
    ):
        load_dir(tmp_path)


def test_md5sums_without_classes_is_not_silently_digits(tmp_path):
    write_set(tmp_path, classes=None)
    with pytest.raises(DataError, match=r"MD5SUMS is not the MNIST table but there is no classes"):
        load_dir(tmp_path)


def test_custom_dataset_with_class_names_and_no_checksums(tmp_path):
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    arrays = write_set(tmp_path, md5sums=False, classes=names)
    data = load_mnist(tmp_path)
    assert data.checksums == "none"
    assert data.class_names == tuple(names)
    np.testing.assert_array_equal(data.test_labels, arrays["test_labels"])
    assert data.describe()["class_names"] == names


def test_wrong_number_of_class_names(tmp_path):
    write_set(tmp_path, classes=["a", "b"])
    with pytest.raises(DataError, match=r"classes\.txt: 2 class names, expected 10"):
        load_dir(tmp_path)


def test_uncompressed_files_are_read_too(tmp_path):
    arrays = write_set(tmp_path, md5sums=False, classes=list("abcdefghij"))
    for key in mnist.FILES.values():
        gz = tmp_path / f"{key}.gz"
        (tmp_path / key).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    np.testing.assert_array_equal(load_dir(tmp_path).train_images, arrays["train_images"])


def _rewrite(path: Path, transform) -> None:
    path.write_bytes(gzip.compress(transform(gzip.decompress(path.read_bytes())), mtime=0))


def test_truncated_payload(tmp_path):
    write_set(tmp_path, md5sums=False, classes=list("abcdefghij"))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    _rewrite(path, lambda raw: raw[:-100])
    with pytest.raises(
        DataError, match=r"t10k-images-idx3-ubyte\.gz: header says shape \(20, 28, 28\).*truncated"
    ):
        load_dir(tmp_path)


def test_truncated_gzip_stream(tmp_path):
    write_set(tmp_path, md5sums=False, classes=list("abcdefghij"))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: cannot read .*truncated"):
        load_dir(tmp_path)


def test_wrong_magic(tmp_path):
    write_set(tmp_path, md5sums=False, classes=list("abcdefghij"))
    _rewrite(tmp_path / "train-labels-idx1-ubyte.gz", lambda raw: b"\x00\x00\x08\x03" + raw[4:])
    with pytest.raises(
        DataError,
        match=r"train-labels-idx1-ubyte\.gz: wrong magic number 0x00000803, expected 0x00000801",
    ):
        load_dir(tmp_path)


def test_wrong_image_size(tmp_path):
    write_set(tmp_path, shape=(32, 32), md5sums=False, classes=list("abcdefghij"))
    with pytest.raises(DataError, match=r"images are \(32, 32\), expected \(28, 28\)"):
        load_dir(tmp_path)


def test_label_out_of_range(tmp_path):
    write_set(tmp_path, md5sums=False, classes=list("abcdefghij"))
    _rewrite(tmp_path / "t10k-labels-idx1-ubyte.gz", lambda raw: raw[:-1] + b"\x0c")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: label 12 outside 0\.\.9"):
        load_dir(tmp_path)


def test_missing_file_and_missing_dir(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing t10k-labels-idx1-ubyte\.gz"):
        load_dir(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_dir(tmp_path / "nowhere")


def test_validation_split_is_deterministic_and_from_training_set():
    rng = np.random.default_rng(1)
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1) * np.ones((1, 28, 28), np.uint8)
    test = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    data = Dataset(
        images, images[:, 0, 0] % 10, test, test[:, 0, 0] % 10, tuple("0123456789"), "x", "none"
    )
    x_tr, _, x_val, _ = data.split(0.2, seed=3)
    again = data.split(0.2, seed=3)
    other = data.split(0.2, seed=4)
    assert len(x_val) == 20 and len(x_tr) == 80
    np.testing.assert_array_equal(x_val, again[2])
    assert not np.array_equal(x_val, other[2])
    ids = sorted(np.concatenate([x_tr[:, 0, 0], x_val[:, 0, 0]]).tolist())
    assert ids == list(range(100))  # every training image once, nothing from the test set


def test_empty_env_var_means_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("PYNQ_MNIST_DATA", "")
    monkeypatch.setenv("PYNQ_MNIST_CACHE", str(tmp_path / "cache"))
    assert mnist.resolve_data_dir(None, download=False) == tmp_path / "cache"
    monkeypatch.setenv("PYNQ_MNIST_DATA", str(tmp_path / "given"))
    assert mnist.resolve_data_dir(None, download=False) == tmp_path / "given"


def test_download_rejects_a_file_with_the_wrong_md5(tmp_path):
    write_set(tmp_path / "mirror", md5sums=False)
    with pytest.raises(DataError, match=r"could not download train-images-idx3-ubyte\.gz: .*md5"):
        mnist.download_mnist(tmp_path / "cache", mirrors=((tmp_path / "mirror").as_uri() + "/",))
    assert not any((tmp_path / "cache").iterdir())  # nothing unverified is kept


def test_download_into_cache_from_a_mirror_verifies_and_loads(tmp_path, monkeypatch, mnist_dir):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in mnist.MNIST_MD5:  # the original files, as the loader found them
        shutil.copyfile(mnist_dir / name, mirror / name)
    monkeypatch.setenv("PYNQ_MNIST_DATA", "")
    monkeypatch.setenv("PYNQ_MNIST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "MIRRORS", (mirror.as_uri() + "/",))
    data = load_mnist()
    assert data.checksums == "mnist"
    assert data.train_images.shape == (60000, 28, 28) and data.test_labels.shape == (10000,)
    assert np.bincount(data.test_labels).min() > 800
    assert {name: mnist.md5_file(mirror / name) for name in mnist.MNIST_MD5} == mnist.MNIST_MD5


def test_a_byte_order_mark_in_classes_txt_is_not_part_of_class_0(tmp_path):
    write_set(tmp_path)
    path = tmp_path / "classes.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Notepad saves UTF-8
    assert load_dir(tmp_path).class_names == CLASSES
