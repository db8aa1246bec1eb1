"""Datasets: TensorDataset, the file search order, downloads (mocked: no network), errors."""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd.tensor import Tensor

from chainrule.data import datasets as ds_mod
from chainrule.data.datasets import (MNIST, Dataset, DatasetChecksumError, DatasetNotFoundError,
                                     FashionMNIST, TensorDataset, user_cache_dir)
from chainrule.data.idx import IdxFormatError, write_idx
from chainrule.data.transforms import Compose, Normalize, ToFloat

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real folder, cache or network is reachable from these tests."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(tmp_path / "sys-fashion"),))
    monkeypatch.setattr(MNIST, "system_dirs", (str(tmp_path / "sys-mnist"),))

    def no_network(url, dest, timeout=60.0):
        pytest.fail(f"a test tried to download {url}")

    monkeypatch.setattr(ds_mod, "_fetch_url", no_network)


def make_files(folder: Path, rng: np.random.Generator, n_train: int = 6, n_test: int = 4,
               first_label: int = 0, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                  rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        labels = (np.arange(n) + first_label) % 10
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels.astype(np.uint8))
    return folder


# -- Dataset / TensorDataset ---------------------------------------------------------------------

def test_dataset_base_is_torchs():
    """Not abstract, as torch's: an item it does not define raises NotImplementedError."""
    ds = Dataset()
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        ds[0]
    torch_ds = torch.utils.data.Dataset()
    with pytest.raises(NotImplementedError):
        torch_ds[0]


def test_dataset_add_is_concat():
    pytest.importorskip("chainrule.data.dataset_utils", reason="ConcatDataset not written yet")
    both = TensorDataset(np.arange(3)) + TensorDataset(np.arange(2) + 10)
    assert len(both) == 5 and [int(both[i][0]) for i in range(5)] == [0, 1, 2, 10, 11]


def test_tensor_dataset_items_are_tensors_as_torchs(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = np.arange(5)
    ds, ref = TensorDataset(x, y), torch.utils.data.TensorDataset(torch.tensor(x),
                                                                  torch.tensor(y))
    assert len(ds) == len(ref) == 5
    for index in (3, -1, slice(1, 4)):
        (xi, yi), (rxi, ryi) = ds[index], ref[index]
        assert isinstance(xi, Tensor) and isinstance(yi, Tensor)
        assert xi.shape == tuple(rxi.shape) and xi.dtype == np.float32 and yi.dtype == np.int64
        np.testing.assert_array_equal(xi.numpy(), rxi.numpy())
        np.testing.assert_array_equal(yi.numpy(), ryi.numpy())
    bx, by = ds.get_batch(np.array([4, 0]))
    np.testing.assert_array_equal(bx, x[[4, 0]])
    assert by.tolist() == [4, 0]


def test_tensor_dataset_keeps_tensors_and_shares_arrays():
    t = cr.zeros(3, 2)
    arr = np.ones(3)
    ds = TensorDataset(t, arr)
    assert ds.tensors[0] is t  # the Tensor given, as torch's .tensors
    assert isinstance(ds.tensors[1], Tensor) and np.shares_memory(ds.tensors[1].numpy(), arr)
    assert np.shares_memory(ds.arrays[0], t.numpy()) and ds.arrays[1] is arr
    w = cr.ones(3, requires_grad=True)  # a tensor requiring grad: items keep the graph
    (wi,) = TensorDataset(w)[1]
    wi.backward()
    assert w.grad.tolist() == [0.0, 1.0, 0.0]


def test_tensor_dataset_length_mismatch():
    with pytest.raises(ValueError, match=r"same size along dimension 0 \(size mismatch between "
                                         r"tensors\), got sizes \[3, 4\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


@pytest.mark.parametrize("args, msg", [((), "at least one tensor"),
                                       ((np.float32(1.0),), "0-d")])
def test_tensor_dataset_bad_args(args, msg):
    with pytest.raises(ValueError, match=msg):
        TensorDataset(*args)


# -- finding local files -------------------------------------------------------------------------

def test_fashion_from_root(tmp_path, rng):
    make_files(tmp_path / "data", rng)
    train = FashionMNIST(root=tmp_path / "data", download=False)
    test = FashionMNIST(root=tmp_path / "data", train=False, download=False)
    assert train.data.shape == (6, 28, 28) and train.data.dtype == np.uint8
    assert train.targets.dtype == np.int64 and train.targets.tolist() == [0, 1, 2, 3, 4, 5]
    assert len(test) == 4 and test.folder == tmp_path / "data"
    assert FashionMNIST.classes[0] == "T-shirt/top" and len(FashionMNIST.classes) == 10
    image, label = train[2]
    np.testing.assert_array_equal(image, train.data[2])
    assert label == 2 and isinstance(label, int)


def test_root_subfolder_and_uncompressed_files(tmp_path, rng):
    make_files(tmp_path / "data" / "mnist", rng, gz=False)
    ds = MNIST(root=tmp_path / "data", download=False)
    assert ds.folder == tmp_path / "data" / "mnist" and len(ds) == 6
    assert MNIST.classes[3] == "3 - three"


def test_search_order(tmp_path, rng, monkeypatch):
    env, cache, system = tmp_path / "env", user_cache_dir("fashion-mnist"), tmp_path / "sys-fashion"
    make_files(system, rng, first_label=3)
    assert FashionMNIST(download=False).folder == system
    make_files(cache, rng, first_label=2)
    assert cache == tmp_path / "xdg" / "chainrule" / "fashion-mnist"
    assert FashionMNIST(download=False).folder == cache
    make_files(env / "fashion-mnist", rng, first_label=1)
    monkeypatch.setenv("CHAINRULE_DATA", str(env))
    ds = FashionMNIST(download=False)
    assert ds.folder == env / "fashion-mnist" and ds.targets[0] == 1
    make_files(env, rng, first_label=0)
    assert FashionMNIST(download=False).folder == env


def test_home_cache_without_xdg(tmp_path, rng, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert user_cache_dir("mnist") == tmp_path / "home" / ".cache" / "chainrule" / "mnist"
    make_files(tmp_path / "home" / ".cache" / "chainrule" / "mnist", rng)
    assert len(MNIST(download=False)) == 6


def test_not_found_names_every_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as info:
        FashionMNIST(download=False)
    msg = str(info.value)
    for folder in (tmp_path / "env", tmp_path / "env" / "fashion-mnist",
                   tmp_path / "xdg" / "chainrule" / "fashion-mnist", tmp_path / "sys-fashion"):
        assert f"  - {folder} (" in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "root=FOLDER" in msg and "CHAINRULE_DATA" in msg and "download=False" in msg
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, RuntimeError)
    # what was tried, for the command line to word its advice
    exc = info.value
    assert exc.dataset == "FashionMNIST" and exc.download_error is None
    assert exc.files == ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    assert exc.searched[0] == (tmp_path / "env", "$CHAINRULE_DATA")
    assert exc.searched[-1] == (tmp_path / "sys-fashion", "system")


def test_corrupt_local_file_raises_format_error(tmp_path, rng):
    folder = make_files(tmp_path / "d", rng)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((6, 28, 27), np.uint8))
    with pytest.raises(IdxFormatError, match=r"expected items of shape \(N, 28, 28\), the "
                                             r"header declares \(6, 28, 27\)"):
        FashionMNIST(root=folder, download=False)


def test_a_header_declaring_more_images_than_the_split_holds_is_refused(tmp_path, rng):
    """A gzip bomb declaring 2.7 million images is refused from its header (the split's
    known size), before its body is decompressed."""
    import gzip
    import struct
    folder = make_files(tmp_path / "d", rng)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, 2_700_000, 28, 28) + bytes(1000))
    with pytest.raises(IdxFormatError, match=r"too many items: expected at most 10000, the "
                                             r"header declares 2700000"):
        FashionMNIST(root=folder, train=False, download=False)


# -- transforms and batches ----------------------------------------------------------------------

def test_transform_per_item_and_batch(tmp_path, rng):
    make_files(tmp_path / "d", rng)
    t = Compose([ToFloat(), Normalize(0.5, 0.25)])
    ds = FashionMNIST(root=tmp_path / "d", transform=t, download=False)
    img, _ = ds[1]
    assert img.dtype == np.float32
    np.testing.assert_allclose(img, (ds.data[1] / 255.0 - 0.5) / 0.25, rtol=1e-6, atol=1e-6)
    idx = np.array([5, 1, 3])
    images, labels = ds.get_batch(idx)
    np.testing.assert_array_equal(images, np.stack([ds[i][0] for i in idx]))
    assert labels.tolist() == [5, 1, 3]


def test_non_batch_safe_transform_runs_per_image(tmp_path, rng):
    make_files(tmp_path / "d", rng)
    seen = []

    def per_image(x):
        seen.append(x.shape)
        return x[::2, ::2].astype(np.float32)

    ds = FashionMNIST(root=tmp_path / "d", transform=per_image, download=False)
    images, _ = ds.get_batch(np.array([0, 2]))
    assert images.shape == (2, 14, 14) and seen == [(28, 28), (28, 28)]


# -- downloads (mocked) --------------------------------------------------------------------------

@pytest.fixture
def server(tmp_path, rng, monkeypatch):
    """A fake remote folder, with the class's checksum table set to its files."""
    remote = make_files(tmp_path / "remote", rng)
    table = {}
    for name in FILES:
        blob = (remote / name).read_bytes()
        table[name] = (hashlib.md5(blob).hexdigest(),
                       hashlib.md5(gzip.decompress(blob)).hexdigest())
    monkeypatch.setattr(FashionMNIST, "resources", table)
    calls = []

    def fetch(url, dest, timeout=60.0):
        calls.append(url)
        shutil.copyfile(remote / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(ds_mod, "_fetch_url", fetch)
    return remote, calls


def test_download_into_cache(server):
    remote, calls = server
    ds = FashionMNIST()
    cache = user_cache_dir("fashion-mnist")
    assert ds.folder == cache and len(ds) == 6
    assert calls == [FashionMNIST.base_url + name for name in FILES]
    assert sorted(os.listdir(cache)) == sorted(FILES)  # no .part file left behind
    FashionMNIST(train=False)  # found in the cache now: no second download
    assert len(calls) == 4


def test_download_into_root(server, tmp_path):
    ds = FashionMNIST(root=tmp_path / "mine", train=False)
    assert ds.folder == tmp_path / "mine" and len(ds) == 4
    assert ds.files == (tmp_path / "mine" / "t10k-images-idx3-ubyte.gz",
                        tmp_path / "mine" / "t10k-labels-idx1-ubyte.gz")


def test_download_checksum_mismatch(server, monkeypatch):
    table = dict(FashionMNIST.resources)
    table["train-labels-idx1-ubyte.gz"] = ("0" * 32, "1" * 32)
    monkeypatch.setattr(FashionMNIST, "resources", table)
    with pytest.raises(DatasetChecksumError, match="train-labels-idx1-ubyte.gz: MD5 checksum "
                                                   "mismatch: expected 0{32}"):
        FashionMNIST()
    cache = user_cache_dir("fashion-mnist")
    assert sorted(os.listdir(cache)) == ["train-images-idx3-ubyte.gz"]  # nothing bad kept


def test_download_accepts_recompressed_official_content(server, monkeypatch):
    table = {k: ("f" * 32, raw) for k, (_, raw) in FashionMNIST.resources.items()}
    monkeypatch.setattr(FashionMNIST, "resources", table)
    assert len(FashionMNIST()) == 6


def test_no_network(monkeypatch, tmp_path):
    def offline(url, dest, timeout=60.0):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(ds_mod, "_fetch_url", offline)
    with pytest.raises(DatasetNotFoundError, match="(?s)downloading from http.*failed:.*Name or "
                                                   "service not known.*apt-get install") as info:
        FashionMNIST()
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert "Name or service not known" in info.value.download_error
    assert info.value.url == FashionMNIST.base_url
    assert info.value.target == user_cache_dir("fashion-mnist")
    leftovers = list(user_cache_dir("fashion-mnist").iterdir())
    assert leftovers == []


def test_checksum_tables_are_complete():
    for cls in (FashionMNIST, MNIST):
        assert sorted(cls.resources) == sorted(FILES)
        for gz_md5, raw_md5 in cls.resources.values():
            assert len(gz_md5) == 32 and len(raw_md5) == 32 and gz_md5 != raw_md5
    assert MNIST.resources["train-images-idx3-ubyte.gz"][0] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


# -- the real files, when the Debian package is installed ----------------------------------------

@pytest.mark.skipif(not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist():
    ds = FashionMNIST(root=DEBIAN_DIR, train=False, download=False)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert np.bincount(ds.targets).tolist() == [1000] * 10
    # Debian recompresses the files: the content must still be the official release's.
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        raw = gzip.decompress((DEBIAN_DIR / name).read_bytes())
        assert hashlib.md5(raw).hexdigest() == FashionMNIST.resources[name][1]
