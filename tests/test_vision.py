"""chainrule.vision: torchvision's transforms (against torch-computed formulas) and its
MNIST/FashionMNIST (file search order, errors, items, batches, the PyTorch tutorials' code)."""
from __future__ import annotations

import gzip
import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import fake_fashion_mnist

import chainrule as cr
from chainrule.autograd.tensor import Tensor
from chainrule.data import datasets as ds_mod
from chainrule.data.dataloader import DataLoader, default_collate
from chainrule.data.datasets import DatasetNotFoundError, user_cache_dir
from chainrule.data.idx import read_idx, write_idx
from chainrule.data.transforms import ToFloat
from chainrule.vision import datasets
from chainrule.vision.transforms import (Compose, ConvertImageDtype, Lambda, Normalize, ToTensor,
                                         batch_form)

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def torch_to_tensor(pic: np.ndarray) -> torch.Tensor:
    """torchvision's ``F.to_tensor`` on an ndarray, written out with torch."""
    if pic.ndim == 2:
        pic = pic[:, :, None]
    img = torch.from_numpy(pic.transpose((2, 0, 1)).copy()).contiguous()
    return img.to(torch.float32).div(255) if img.dtype == torch.uint8 else img


def torch_normalize(t: torch.Tensor, mean, std) -> torch.Tensor:
    """torchvision's ``F_t.normalize``, written out with torch."""
    mean = torch.as_tensor(mean, dtype=t.dtype)
    std = torch.as_tensor(std, dtype=t.dtype)
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return t.clone().sub_(mean).div_(std)


# -- ToTensor ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 3)])
def test_to_tensor_uint8_matches_torchvision(rng, shape):
    pic = rng.integers(0, 256, shape, dtype=np.uint8)
    pic.flat[:2] = (0, 255)
    out = ToTensor()(pic)
    expected = torch_to_tensor(pic)
    assert isinstance(out, Tensor) and out.dtype == np.float32
    assert out.shape == tuple(expected.shape) == (shape[2] if len(shape) == 3 else 1, 5, 7)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())  # bit for bit
    assert out.numpy().flags.c_contiguous
    np.testing.assert_array_equal(ToTensor()(Tensor(pic)).numpy(), expected.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.bool_])
def test_to_tensor_keeps_other_dtypes_unscaled(rng, dtype):
    pic = (rng.random((4, 3, 2)) * 3).astype(dtype)
    out = ToTensor()(pic)
    expected = torch_to_tensor(pic)
    assert out.dtype == dtype and str(expected.dtype).endswith(np.dtype(dtype).name.replace(
        "bool_", "bool"))
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_to_tensor_errors():
    with pytest.raises(ValueError, match=r"ToTensor: pic should be 2/3 dimensional .* got 1 "
                                         r"dimensions \(shape \(4,\)\)"):
        ToTensor()(np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="got 4 dimensions"):
        ToTensor()(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(TypeError, match="ToTensor: pic should be an ndarray or a Tensor .* got "
                                        "list"):
        ToTensor()([[0, 1]])
    assert repr(ToTensor()) == "ToTensor()"


# -- Normalize -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, mean, std", [
    ((3, 4, 5), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ((2, 3, 4, 5), [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]),  # a batch (..., C, H, W)
    ((1, 4, 4), (0.1307,), (0.3081,)),
    ((3, 2, 2), 0.5, 0.25),  # one number for every channel
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_matches_torchvision(rng, shape, mean, std, dtype):
    x = rng.random(shape).astype(dtype)
    before = x.copy()
    out = Normalize(mean, std)(Tensor(x))
    expected = torch_normalize(torch.from_numpy(x), mean, std)
    assert out.dtype == dtype and out.shape == shape
    np.testing.assert_array_equal(out.numpy(), expected.numpy())  # bit for bit
    np.testing.assert_array_equal(x, before)  # not in place by default


def test_normalize_inplace_and_gradient(rng):
    x = rng.random((2, 3, 3)).astype(np.float32)
    t = Tensor(x.copy())
    assert Normalize((0.5, 0.1), (0.2, 0.4), inplace=True)(t) is t
    np.testing.assert_array_equal(
        t.numpy(), torch_normalize(torch.from_numpy(x), (0.5, 0.1), (0.2, 0.4)).numpy())
    leaf, ref = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (Normalize((0.5, 0.1), (0.2, 0.4))(leaf) ** 2).sum().backward()
    (torch_normalize(ref, (0.5, 0.1), (0.2, 0.4)) ** 2).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), ref.grad.numpy(), rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(TypeError, match="Normalize: input tensor should be a float tensor, got "
                                        "uint8"):
        Normalize(0.5, 0.5)(cr.zeros(1, 2, 2, dtype=cr.uint8))
    with pytest.raises(ValueError, match=r"size \(\.\.\., C, H, W\), got shape \(2, 2\)"):
        Normalize(0.5, 0.5)(cr.zeros(2, 2))
    with pytest.raises(ValueError, match="std evaluated to zero after conversion to float32"):
        Normalize((0.5, 0.5), (1.0, 1e-50))(cr.zeros(2, 2, 2))
    with pytest.raises(RuntimeError, match=r"Normalize: mean has 3 values but the image has 2 "
                                           r"channels \(shape \(2, 4, 4\)"):
        Normalize((0.1, 0.2, 0.3), (1, 1, 1))(cr.zeros(2, 4, 4))
    with pytest.raises(TypeError, match="Normalize: img should be a Tensor image, got ndarray"):
        Normalize(0.5, 0.5)(np.zeros((1, 2, 2), np.float32))
    assert repr(Normalize((0.5,), (0.5,))) == "Normalize(mean=(0.5,), std=(0.5,))"
    assert isinstance(Normalize(0, 1), cr.nn.Module)  # as torchvision's


# -- ConvertImageDtype ---------------------------------------------------------------------------

def torch_convert(image: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """torchvision's ``F_t.convert_image_dtype``, written out with torch."""
    def max_value(dt):
        return {torch.uint8: 255, torch.int8: 127, torch.int16: 32767,
                torch.int32: 2**31 - 1, torch.int64: 2**63 - 1}.get(dt, 1)
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype.is_floating_point:
            return image.to(dtype)
        return image.mul(float(max_value(dtype)) + 1.0 - 1e-3).to(dtype)
    input_max = float(max_value(image.dtype))
    if dtype.is_floating_point:
        return image.to(dtype) / input_max
    output_max = float(max_value(dtype))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return torch.div(image, factor, rounding_mode="floor").to(dtype)
    return image.to(dtype) * int((output_max + 1) // (input_max + 1))


@pytest.mark.parametrize("src, dst", [("uint8", "float32"), ("uint8", "float64"),
                                      ("float32", "uint8"), ("float64", "int16"),
                                      ("float32", "float64"), ("int16", "uint8"),
                                      ("uint8", "int32"), ("int32", "int8")])
def test_convert_image_dtype_matches_torchvision(rng, src, dst):
    if np.dtype(src).kind == "f":
        x = rng.random((2, 3, 4)).astype(src)
        x.flat[:2] = (0.0, 1.0)
    else:
        info = np.iinfo(src)
        x = rng.integers(0, info.max, (2, 3, 4), dtype=src, endpoint=True)
    out = ConvertImageDtype(np.dtype(dst))(Tensor(x))
    expected = torch_convert(torch.from_numpy(x), getattr(torch, dst))
    assert out.dtype == np.dtype(dst)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(batch_form(ConvertImageDtype(np.dtype(dst)))(x[None])[0],
                                  out.numpy())


def test_convert_image_dtype_unsafe_and_same():
    with pytest.raises(RuntimeError, match="ConvertImageDtype: the cast from float32 to int64 "
                                           "cannot be performed safely"):
        ConvertImageDtype(cr.int64)(cr.zeros(2))
    t = cr.zeros(2)
    assert ConvertImageDtype(cr.float32)(t) is t
    with pytest.raises(TypeError, match="should be a Tensor image, got ndarray"):
        ConvertImageDtype(cr.float32)(np.zeros(2))


# -- Compose, Lambda and batches -----------------------------------------------------------------

def test_compose_and_lambda():
    t = Compose([ToTensor(), Normalize((0.5,), (0.5,)), Lambda(lambda x: x * 2)])
    out = t(np.array([[0, 255]], np.uint8))
    assert out.numpy().tolist() == [[[-2.0, 2.0]]]
    assert repr(t) == ("Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n"
                       "    Lambda()\n)")
    with pytest.raises(TypeError, match="Lambda: argument lambd should be callable, got 'int'"):
        Lambda(3)


@pytest.mark.parametrize("transform", [
    None, ToTensor(), Compose([ToTensor(), Normalize((0.2860,), (0.3530,))]),
    Compose([ToTensor(), ConvertImageDtype(cr.float64), Normalize(0.5, 0.25)]),
    ToFloat(), Compose([ToFloat()])])
def test_batch_form_equals_stacked_items(rng, transform):
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    batch = batch_form(transform)(images)
    items = [np.asarray(transform(im) if transform else im) for im in images]
    assert isinstance(batch, np.ndarray) and batch.dtype == items[0].dtype
    np.testing.assert_array_equal(batch, np.stack(items))  # bit for bit


def test_batch_form_is_none_for_per_item_transforms():
    assert batch_form(Lambda(lambda x: x)) is None
    assert batch_form(Compose([ToTensor(), Lambda(lambda x: x)])) is None
    assert batch_form(lambda x: x) is None


# -- datasets: where the files are ---------------------------------------------------------------

@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real folder, cache or network is reachable from these tests."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ds_mod.FashionMNIST, "system_dirs", (str(tmp_path / "sys-fashion"),))
    monkeypatch.setattr(ds_mod.MNIST, "system_dirs", (str(tmp_path / "sys-mnist"),))

    def no_network(url, dest, timeout=60.0):
        pytest.fail(f"a test tried to download {url}")

    monkeypatch.setattr(ds_mod, "_fetch_url", no_network)


def fake(folder: Path, n_train: int, seed: int = 0) -> Path:
    """Fake Fashion-MNIST files; ``n_train`` tells the copies apart."""
    return fake_fashion_mnist(folder, n_train, 4, seed=seed, cycle_labels=True)


def test_search_order(tmp_path, monkeypatch):
    """root/FashionMNIST/raw, then $CHAINRULE_DATA, the user cache, the system folder."""
    root, env = tmp_path / "data", tmp_path / "env"
    system, cache = tmp_path / "sys-fashion", user_cache_dir("fashion-mnist")
    fake(system, 5)
    assert len(datasets.FashionMNIST(root)) == 5
    fake(cache, 6)
    assert len(datasets.FashionMNIST(root)) == 6
    fake(env / "fashion-mnist", 7)
    monkeypatch.setenv("CHAINRULE_DATA", str(env))
    assert len(datasets.FashionMNIST(root)) == 7
    fake(env, 8)
    assert len(datasets.FashionMNIST(root)) == 8
    fake(root / "FashionMNIST" / "raw", 9)
    ds = datasets.FashionMNIST(root)
    assert len(ds) == 9 and ds.folder == root / "FashionMNIST" / "raw"
    assert ds.raw_folder == str(root / "FashionMNIST" / "raw")
    # chainrule's own class, given the same root, looks in root and root/fashion-mnist only
    with pytest.raises(DatasetNotFoundError):
        ds_mod.FashionMNIST(root=root, download=False)


def test_uncompressed_files_and_mnist_layout(tmp_path, rng):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([3, 1, 4], np.uint8))
    ds = datasets.MNIST(str(tmp_path), train=False)
    assert ds.targets.tolist() == [3, 1, 4] and ds.classes[3] == "3 - three"
    np.testing.assert_array_equal(ds.data.numpy(), images)


def test_root_with_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fake(tmp_path / "home" / "d" / "FashionMNIST" / "raw", 3)
    ds = datasets.FashionMNIST("~/d")
    assert ds.root == tmp_path / "home" / "d" and len(ds) == 3


def test_not_found_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    with pytest.raises(RuntimeError) as info:  # torchvision's class of error
        datasets.FashionMNIST(tmp_path / "data", train=False)
    msg, exc = str(info.value), info.value
    assert isinstance(exc, DatasetNotFoundError) and isinstance(exc, FileNotFoundError)
    places = [tmp_path / "data" / "FashionMNIST" / "raw", tmp_path / "env",
              tmp_path / "env" / "fashion-mnist", tmp_path / "xdg" / "chainrule" /
              "fashion-mnist", tmp_path / "sys-fashion"]
    assert [folder for folder, _ in exc.searched] == places
    positions = [msg.index(f"  - {folder} (") for folder in places]
    assert positions == sorted(positions)
    assert "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz" in msg
    assert "download=True" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert f"put the four IDX files in {tmp_path / 'data' / 'FashionMNIST' / 'raw'}" in msg


def test_download_goes_into_torchvision_layout(tmp_path, monkeypatch):
    remote = fake(tmp_path / "remote", 6)
    table = {name: (hashlib.md5((remote / name).read_bytes()).hexdigest(),
                    hashlib.md5(gzip.decompress((remote / name).read_bytes())).hexdigest())
             for name in FILES}
    monkeypatch.setattr(ds_mod.FashionMNIST, "resources", table)
    calls = []

    def fetch(url, dest, timeout=60.0):
        calls.append(url)
        shutil.copyfile(remote / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(ds_mod, "_fetch_url", fetch)
    ds = datasets.FashionMNIST(tmp_path / "data", download=True)
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    assert ds.folder == raw and len(ds) == 6 and sorted(p.name for p in raw.iterdir()) == \
        sorted(FILES)
    assert len(calls) == 4
    datasets.FashionMNIST(tmp_path / "data", train=False, download=True)  # found: no download
    assert len(calls) == 4


def test_download_failure_says_why(tmp_path, monkeypatch):
    def offline(url, dest, timeout=60.0):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(ds_mod, "_fetch_url", offline)
    with pytest.raises(RuntimeError, match="(?s)downloading from http.* into .*FashionMNIST/raw "
                                           "failed:.*Name or service not known"):
        datasets.FashionMNIST(tmp_path / "data", download=True)


# -- datasets: items, attributes and batches -----------------------------------------------------

@pytest.fixture
def fashion_root(tmp_path) -> Path:
    fake_fashion_mnist(tmp_path / "data" / "FashionMNIST" / "raw", 12, 5, seed=2)
    return tmp_path / "data"


def test_items_and_attributes(fashion_root):
    ds = datasets.FashionMNIST(root=fashion_root, train=True)
    raw = fashion_root / "FashionMNIST" / "raw"
    images = read_idx(raw / "train-images-idx3-ubyte.gz")
    labels = read_idx(raw / "train-labels-idx1-ubyte.gz")
    assert isinstance(ds.data, Tensor) and ds.data.dtype == np.uint8
    assert ds.data.shape == (12, 28, 28) and len(ds) == 12
    assert isinstance(ds.targets, Tensor) and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.targets.tolist() == labels.tolist()
    assert ds.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                          "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert ds.class_to_idx == {c: i for i, c in enumerate(ds.classes)}
    image, target = ds[3]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (28, 28)
    assert type(target) is int and target == labels[3]
    image[:] = 0  # the item is a copy: the dataset is untouched
    np.testing.assert_array_equal(ds.data.numpy()[3], images[3])
    assert ds[-1][1] == labels[-1]
    with pytest.raises(IndexError):
        ds[12]


def test_transform_and_target_transform(fashion_root):
    ds = datasets.FashionMNIST(fashion_root, transform=ToTensor(),
                               target_transform=lambda y: ds.classes[y])
    image, target = ds[0]
    expected = torch.from_numpy(ds.data.numpy()[0]).float().div(255).unsqueeze(0)
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_array_equal(image.numpy(), expected.numpy())
    assert target == ds.classes[int(ds.targets[0])]
    with pytest.raises(TypeError, match="FashionMNIST: target_transform must be callable"):
        datasets.FashionMNIST(fashion_root, target_transform=3)


def test_user_subset_of_data_is_used(fashion_root):
    """A common torchvision idiom: shrink a dataset by assigning .data and .targets."""
    ds = datasets.FashionMNIST(fashion_root)
    ds.data, ds.targets = ds.data[:4], ds.targets[:4]
    assert len(ds) == 4 and ds.get_batch(np.arange(4))[0].shape == (4, 28, 28)


@pytest.mark.parametrize("transform", [
    None, ToTensor(), Compose([ToTensor(), Normalize((0.2860,), (0.3530,))]),
    Compose([ToTensor(), ConvertImageDtype(cr.float64)])])
def test_get_batch_equals_collated_items(fashion_root, transform):
    ds = datasets.FashionMNIST(fashion_root, transform=transform)
    idx = np.array([7, 0, 11, 3])
    images, targets = ds.get_batch(idx)
    ref_images, ref_targets = default_collate([ds[int(i)] for i in idx])  # torch's rules
    for got, ref in ((images, ref_images), (targets, ref_targets)):
        assert isinstance(got, np.ndarray) and got.shape == ref.shape and got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref.numpy())


@pytest.mark.parametrize("transform, target_transform", [
    (Lambda(lambda im: im[::2, ::2].astype(np.float64)), None),
    (ToTensor(), Lambda(lambda y: cr.eye(10)[y])),  # one-hot targets
])
def test_per_item_transforms_have_no_fast_path(fashion_root, transform, target_transform):
    ds = datasets.FashionMNIST(fashion_root, transform=transform,
                               target_transform=target_transform)
    assert not hasattr(ds, "get_batch")
    with pytest.raises(AttributeError, match="FashionMNIST has no get_batch while a transform "
                                             "runs item by item"):
        ds.get_batch
    x, y = next(iter(DataLoader(ds, batch_size=3)))
    ref_x, ref_y = default_collate([ds[i] for i in range(3)])
    assert x.dtype == ref_x.dtype and y.dtype == ref_y.dtype
    np.testing.assert_array_equal(x.numpy(), ref_x.numpy())
    np.testing.assert_array_equal(y.numpy(), ref_y.numpy())


def test_dataloader_batches(fashion_root):
    ds = datasets.FashionMNIST(fashion_root, transform=ToTensor())
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert isinstance(x, Tensor) and x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == ds.targets.tolist()[:5]
    np.testing.assert_array_equal(x.numpy()[2], ds[2][0].numpy())


def test_repr(fashion_root):
    ds = datasets.FashionMNIST(fashion_root, train=False,
                               transform=Compose([ToTensor(), Normalize((0.5,), (0.5,))]))
    assert repr(ds) == (
        f"Dataset FashionMNIST\n    Number of datapoints: 5\n    Root location: {fashion_root}"
        "\n    Split: Test\n    StandardTransform\nTransform: Compose(\n"
        "               ToTensor()\n               Normalize(mean=(0.5,), std=(0.5,))\n"
        "           )")


# -- PyTorch's tutorials, with only the imports changed ------------------------------------------

@pytest.fixture
def tutorial_data(tmp_path, monkeypatch):
    """Fake files where the tutorials' root="data" finds them (torchvision's layout)."""
    fake_fashion_mnist(tmp_path / "data" / "FashionMNIST" / "raw", 70, 20, seed=4)
    monkeypatch.chdir(tmp_path)


def test_tutorial_datasets_and_dataloaders(tutorial_data):
    """docs.pytorch.org/tutorials/beginner/basics/data_tutorial.html"""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import chainrule as torch  # noqa: F811 - the tutorial's name
    import matplotlib.pyplot as plt
    from chainrule.data import DataLoader
    from chainrule.vision import datasets
    from chainrule.vision.transforms import ToTensor

    training_data = datasets.FashionMNIST(root="data", train=True, download=True,
                                          transform=ToTensor())
    test_data = datasets.FashionMNIST(root="data", train=False, download=True,
                                      transform=ToTensor())
    labels_map = {0: "T-Shirt", 1: "Trouser", 2: "Pullover", 3: "Dress", 4: "Coat",
                  5: "Sandal", 6: "Shirt", 7: "Sneaker", 8: "Bag", 9: "Ankle Boot"}
    figure = plt.figure(figsize=(8, 8))
    cols, rows = 3, 3
    for i in range(1, cols * rows + 1):
        sample_idx = torch.randint(len(training_data), size=(1,)).item()
        img, label = training_data[sample_idx]
        figure.add_subplot(rows, cols, i)
        plt.title(labels_map[label])
        plt.axis("off")
        plt.imshow(img.squeeze(), cmap="gray")
    plt.close(figure)

    train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=64, shuffle=True)
    train_features, train_labels = next(iter(train_dataloader))
    print(f"Feature batch shape: {train_features.size()}")
    print(f"Labels batch shape: {train_labels.size()}")
    assert tuple(train_features.size()) == (64, 1, 28, 28)
    assert tuple(train_labels.size()) == (64,) and train_labels.dtype == np.int64
    img = train_features[0].squeeze()
    label = train_labels[0]
    plt.imshow(img, cmap="gray")
    plt.close("all")
    assert img.shape == (28, 28) and 0 <= int(label) < 10
    assert len(test_dataloader) == 1


def one_hot_tutorial_transform(torch):
    """The Transforms tutorial's target_transform, verbatim."""
    from chainrule.vision.transforms import Lambda
    return Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y),
                                                                        value=1))


def test_tutorial_transforms_verbatim(tutorial_data):
    """docs.pytorch.org/tutorials/beginner/basics/transforms_tutorial.html"""
    import chainrule as torch  # noqa: F811 - the tutorial's name
    from chainrule.vision import datasets
    from chainrule.vision.transforms import ToTensor

    ds = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor(),
                               target_transform=one_hot_tutorial_transform(torch))
    image, target = ds[5]
    expected = real_torch_one_hot(int(ds.targets[5]))
    assert target.dtype == np.float32 and target.numpy().tolist() == expected.tolist()
    assert image.shape == (1, 28, 28)


def real_torch_one_hot(y: int) -> torch.Tensor:
    return torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)


def test_tutorial_transforms_with_one_hot_by_eye(tutorial_data):
    """The Transforms tutorial with a one-hot that needs no scatter_ (same values)."""
    import chainrule as torch  # noqa: F811 - the tutorial's name
    from chainrule.vision import datasets
    from chainrule.vision.transforms import Lambda, ToTensor

    ds = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor(),
                               target_transform=Lambda(lambda y: torch.eye(10)[y]))
    for i in (0, 5, 69):
        image, target = ds[i]
        assert target.numpy().tolist() == real_torch_one_hot(int(ds.targets[i])).tolist()
        np.testing.assert_array_equal(
            image.numpy(), real_torch_to_tensor(ds.data.numpy()[i]).numpy())


def real_torch_to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).to(torch.float32).div(255).unsqueeze(0)
