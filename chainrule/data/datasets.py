"""Datasets: the base :class:`Dataset`, :class:`TensorDataset`, MNIST and Fashion-MNIST.

A dataset that holds whole arrays also offers ``get_batch(indices)``, which gathers a batch with
one fancy index; :class:`~chainrule.data.dataloader.DataLoader` uses it instead of a Python loop.

MNIST-style datasets look for their files, when ``root`` is None, in this order:
``$CHAINRULE_DATA`` (the folder itself, then ``$CHAINRULE_DATA/<name>``), the user cache
(``$XDG_CACHE_HOME/chainrule/<name>`` or ``~/.cache/chainrule/<name>``), then a system folder
(``/usr/share/datasets/fashion-mnist``, filled by the Debian package ``dataset-fashion-mnist``,
or ``/usr/share/datasets/mnist``). Missing files are downloaded into the cache (or ``root``),
checked against the known MD5 and written atomically. (``chainrule.vision.datasets`` holds
the torchvision-shaped classes, which subclass these and look in ``root/<Class>/raw`` first.)
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional

import numpy as np

from ..io.files import atomic_path
from .idx import IdxFormatError, PathLike, load_idx_pair

Transform = Callable[[np.ndarray], np.ndarray]


class Dataset:
    """A map-style dataset, as ``torch.utils.data.Dataset``: ``ds[i]`` returns item ``i``.

    Subclasses define ``__getitem__`` and, for the DataLoader's default sampler, ``__len__``.
    Those that hold whole arrays may also define ``get_batch(indices)`` returning a tuple of
    batched arrays (the loader's fast path). ``a + b`` is ``ConcatDataset([a, b])``.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self): return 4
        ...     def __getitem__(self, i): return i * i
        >>> [Squares()[i] for i in range(len(Squares()))]
        [0, 1, 4, 9]
    """

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__}: subclasses of Dataset should implement __getitem__")

    def __add__(self, other: "Dataset") -> "Dataset":
        from .dataset_utils import ConcatDataset  # lazy: dataset_utils builds on this module

        return ConcatDataset([self, other])


def _as_array(value: Any) -> np.ndarray:
    """The ndarray behind a Tensor (shared, detached) or ``np.asarray(value)``."""
    if isinstance(value, np.ndarray):
        return value
    detach = getattr(value, "detach", None)
    if callable(detach) and hasattr(value, "numpy"):  # a Tensor: its array, no copy
        return np.asarray(detach().numpy())
    return np.asarray(value)


def _as_tensor(value: Any, array: np.ndarray) -> Any:
    """``value`` itself when it is a Tensor, else a Tensor sharing ``array``'s memory."""
    from ..autograd.tensor import Tensor  # lazy: importing the data floor stays light

    return value if isinstance(value, Tensor) else Tensor(array)


class TensorDataset(Dataset):
    """Items are the rows of several tensors of equal length: ``ds[i] = (a[i], b[i], ...)``.

    As ``torch.utils.data.TensorDataset``, items are Tensors (``a[i]`` of each), and
    ``.tensors`` holds the tensors given (arrays are wrapped in Tensors sharing their memory).

    Args:
        *tensors: Tensors or NumPy arrays; all must have the same size along dimension 0.

    Attributes:
        tensors: the tensors, in order. arrays: their ndarrays (shared, not copied), which
            ``get_batch`` gathers from.

    Shape:
        Each tensor ``(N, ...)``; ``ds[i]`` gives one row of each.

    Example:
        >>> import chainrule as cr
        >>> ds = TensorDataset(cr.zeros(3, 2), cr.tensor([0, 1, 1]))
        >>> len(ds), ds[2][1], ds[0][0].shape
        (3, tensor(1), (2,))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        self.arrays = tuple(_as_array(a) for a in tensors)
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensors[{i}] is 0-d (a scalar); every tensor needs a first "
                    "dimension that indexes the items")
        sizes = [a.shape[0] for a in self.arrays]
        if len(set(sizes)) > 1:
            raise ValueError(
                f"TensorDataset: all tensors must have the same size along dimension 0 (size "
                f"mismatch between tensors), got sizes {sizes} (shapes "
                f"{[a.shape for a in self.arrays]})")
        self.tensors = tuple(_as_tensor(t, a) for t, a in zip(tensors, self.arrays))

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """Gather rows ``indices`` of every tensor's array with one fancy index each.

        Example:
            >>> import numpy as np
            >>> TensorDataset(np.arange(5) * 10).get_batch(np.array([4, 0]))[0].tolist()
            [40, 0]
        """
        return tuple(a[indices] for a in self.arrays)


class DatasetNotFoundError(FileNotFoundError, RuntimeError):
    """A dataset's files are in none of the folders searched and could not be downloaded.

    A ``FileNotFoundError``, and a ``RuntimeError`` as torchvision's "Dataset not found".

    Besides its message, it says what was tried, for a caller (the command line) to word its
    own advice.

    Attributes:
        dataset: the dataset class's name (``"FashionMNIST"``).
        files: the file names looked for.
        searched: the folders searched, each with where it came from (``"root"``,
            ``"$CHAINRULE_DATA"``, ``"user cache"``, ``"system"``).
        download_error: why the download failed, or None when none was tried.
        url: where the files are downloaded from. target: the folder they would go to.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     try:
        ...         MNIST(root=d, download=False)
        ...     except RuntimeError as exc:  # also a FileNotFoundError
        ...         print(type(exc).__name__, [label for _, label in exc.searched])
        DatasetNotFoundError ['root', 'root']
    """

    def __init__(self, message: str, *, dataset: str = "", files: tuple[str, ...] = (),
                 searched: tuple[tuple[Path, str], ...] = (),
                 download_error: Optional[str] = None, url: str = "",
                 target: Optional[Path] = None) -> None:
        super().__init__(message)
        self.dataset, self.files, self.searched = dataset, tuple(files), tuple(searched)
        self.download_error, self.url, self.target = download_error, url, target


class DatasetChecksumError(ValueError):
    """A downloaded file does not have the MD5 checksum of the official release.

    Example:
        >>> issubclass(DatasetChecksumError, ValueError)
        True
    """


def user_cache_dir(name: str) -> Path:
    """The per-user cache folder of dataset ``name``.

    ``$XDG_CACHE_HOME/chainrule/<name>`` when ``XDG_CACHE_HOME`` is set, else
    ``~/.cache/chainrule/<name>``.

    Example:
        >>> user_cache_dir("mnist").parts[-2:]
        ('chainrule', 'mnist')
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chainrule" / name


def _fetch_url(url: str, dest: PathLike, timeout: float = 60.0) -> None:
    """Download ``url`` into the file ``dest`` (tests replace this function)."""
    import shutil
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def _md5_file(path: PathLike) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _md5_gunzipped(path: PathLike) -> Optional[str]:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError):
        return None
    return digest.hexdigest()


def _find_file(folder: Path, filename: str) -> Optional[Path]:
    """``folder/filename`` or its uncompressed twin (``.gz`` dropped), if either is a file."""
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def default_search_dirs(name: str, system_dirs: tuple[str, ...]) -> list[tuple[Path, str]]:
    """The folders searched for dataset ``name`` when no ``root`` is given, each with a label.

    ``$CHAINRULE_DATA`` and ``$CHAINRULE_DATA/<name>`` (when the variable is set), the user
    cache (:func:`user_cache_dir`), then ``system_dirs``.

    Example:
        >>> [label for _, label in default_search_dirs("mnist", ("/usr/share/datasets/mnist",))
        ...  ][-2:]
        ['user cache', 'system']
    """
    dirs: list[tuple[Path, str]] = []
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        dirs += [(Path(env), "$CHAINRULE_DATA"), (Path(env) / name, "$CHAINRULE_DATA")]
    dirs.append((user_cache_dir(name), "user cache"))
    return dirs + [(Path(d), "system") for d in system_dirs]


class _MnistLike(Dataset):
    """Common code of MNIST and Fashion-MNIST: 28x28 uint8 images, 10 classes, IDX files."""

    name: ClassVar[str]
    base_url: ClassVar[str]
    system_dirs: ClassVar[tuple[str, ...]]
    classes: ClassVar[list[str]]
    install_hint: ClassVar[str]
    # filename -> (MD5 of the official .gz file, MD5 of its decompressed content)
    resources: ClassVar[dict[str, tuple[str, str]]]
    splits: ClassVar[dict[bool, tuple[str, str]]] = {
        True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    # the most images a split may hold: a header declaring more is refused before reading on
    split_sizes: ClassVar[dict[bool, int]] = {True: 60000, False: 10000}

    def __init__(self, root: Optional[PathLike] = None, train: bool = True,
                 transform: Optional[Transform] = None, download: bool = True) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"{type(self).__name__}: transform must be callable, got {transform!r}")
        self.train = bool(train)
        self.transform = transform
        self.root = Path(root) if root is not None else None
        self.folder = self._locate(download)
        images_name, labels_name = self.splits[self.train]
        images_path = _find_file(self.folder, images_name)
        labels_path = _find_file(self.folder, labels_name)
        if images_path is None or labels_path is None:  # a file vanished after _locate
            raise self._not_found([(self.folder, "found earlier")], "a file disappeared")
        self.files: tuple[Path, Path] = (images_path, labels_path)
        # shape and count are checked from the headers, before a byte of the bodies is read
        images, labels = load_idx_pair(images_path, labels_path, num_classes=len(self.classes),
                                       item_shape=(28, 28),
                                       max_items=self.split_sizes[self.train])
        self.data: np.ndarray = images  # (N, 28, 28) uint8
        self.targets: np.ndarray = labels  # (N,) int64

    # -- finding and fetching the files ------------------------------------------------------

    def search_dirs(self) -> list[tuple[Path, str]]:
        """The folders searched for the files, in order, each with where it came from.

        With ``root``: ``root`` and ``root/<name>``. Without: ``$CHAINRULE_DATA`` and
        ``$CHAINRULE_DATA/<name>``, the user cache, then the system folders. Subclasses may
        search elsewhere (torchvision's layout, in ``chainrule.vision.datasets``).

        Example:
            >>> from pathlib import Path
            >>> ds = MNIST.__new__(MNIST); ds.root = Path("data")
            >>> [str(folder) for folder, _ in ds.search_dirs()]
            ['data', 'data/mnist']
        """
        if self.root is not None:
            return [(self.root, "root"), (self.root / self.name, "root")]
        return default_search_dirs(self.name, self.system_dirs)

    def download_dir(self) -> Path:
        """The folder missing files are downloaded into: ``root``, else the user cache.

        Example:
            >>> ds = MNIST.__new__(MNIST); ds.root = None
            >>> ds.download_dir() == user_cache_dir("mnist")
            True
        """
        return self.root if self.root is not None else user_cache_dir(self.name)

    def placement_hint(self) -> str:
        """How a user can place the files by hand, for the not-found error's advice.

        Example:
            >>> "root=FOLDER" in MNIST.__new__(MNIST).placement_hint()
            True
        """
        return ("put the four IDX files in a folder and pass root=FOLDER or set "
                "CHAINRULE_DATA=FOLDER")

    def _locate(self, download: bool) -> Path:
        needed = self.splits[self.train]
        tried = self.search_dirs()
        for folder, _ in tried:
            if all(_find_file(folder, f) for f in needed):
                return folder
        target = self.download_dir()
        if not download:
            raise self._not_found(tried, "download=False, so nothing was downloaded (pass "
                                         "download=True to fetch the files)")
        try:
            self._download(target)
        except OSError as exc:  # no network, DNS failure, HTTP error, read-only folder
            raise self._not_found(tried, f"downloading from {self.base_url} into {target} "
                                         f"failed: {exc}", download_error=str(exc),
                                  target=target) from exc
        return target

    def _not_found(self, tried: list[tuple[Path, str]], why: str,
                   download_error: Optional[str] = None,
                   target: Optional[Path] = None) -> DatasetNotFoundError:
        needed = " and ".join(self.splits[self.train])
        folders = "\n".join(f"  - {folder} ({label})" for folder, label in tried)
        return DatasetNotFoundError(
            f"{type(self).__name__}: dataset files not found: looked for {needed} (or the "
            f"uncompressed files) in:\n{folders}\n{why}.\nTo get the files: {self.install_hint}, "
            f"or {self.placement_hint()}.",
            dataset=type(self).__name__, files=self.splits[self.train], searched=tuple(tried),
            download_error=download_error, url=self.base_url, target=target)

    def _download(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for filename, (gz_md5, raw_md5) in self.resources.items():
            if _find_file(folder, filename):
                continue
            url = self.base_url + filename
            print(f"{type(self).__name__}: downloading {url} -> {folder}", file=sys.stderr)
            with atomic_path(folder / filename) as tmp:  # renamed into place once checked
                _fetch_url(url, tmp)
                actual = _md5_file(tmp)
                # A mirror may recompress the same content: accept the official payload too.
                if actual != gz_md5 and _md5_gunzipped(tmp) != raw_md5:
                    raise DatasetChecksumError(
                        f"{type(self).__name__}: {url}: MD5 checksum mismatch: expected {gz_md5} "
                        f"(or decompressed {raw_md5}), got {actual}; the download is corrupt or "
                        "not the official file, and was discarded")

    # -- the dataset protocol ----------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        image = self.data[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gather images and targets ``indices`` with one fancy index (transform applied).

        A transform marked ``batch_safe`` runs once on the whole batch; any other runs per
        image.
        """
        images = self.data[indices]
        t = self.transform
        if t is not None:
            if getattr(t, "batch_safe", False):
                images = t(images)
            elif len(images):
                images = np.stack([t(im) for im in images])
        return images, self.targets[indices]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return (f"{type(self).__name__}(split={split}, size={len(self)}, folder={self.folder}, "
                f"transform={self.transform!r})")


class FashionMNIST(_MnistLike):
    """Fashion-MNIST (Zalando): 70,000 grayscale 28x28 images of clothing, 10 classes.

    Args:
        root: folder holding the IDX files (or ``root/fashion-mnist``); None searches
            ``$CHAINRULE_DATA``, the user cache and ``/usr/share/datasets/fashion-mnist``.
        train: the 60,000 training images (True) or the 10,000 test images (False).
        transform: applied to each image array (or to a whole batch when ``batch_safe``).
        download: fetch missing files from the official site into the cache (or ``root``).

    Attributes:
        data: uint8 array ``(N, 28, 28)``. targets: int64 array ``(N,)``.
        classes: the 10 class names. folder: where the files were found.
        files: the paths of the images and labels files read.

    Raises:
        DatasetNotFoundError: no folder holds the files and they could not be downloaded.
        IdxFormatError: a file is corrupt.

    Example:
        >>> import tempfile, numpy as np
        >>> from chainrule.data.idx import write_idx
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(f"{d}/t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
        ...     write_idx(f"{d}/t10k-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
        ...     ds = FashionMNIST(root=d, train=False, download=False)
        >>> len(ds), ds.data.shape, ds.classes[ds[4][1]]
        (5, (5, 28, 28), 'Coat')
    """

    name = "fashion-mnist"
    base_url = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    install_hint = ("`apt-get install dataset-fashion-mnist` (it installs them in "
                    "/usr/share/datasets/fashion-mnist)")
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    # The .gz MD5s are those of the official files (as in torchvision). Debian's package
    # recompresses them, so its .gz files differ, but their decompressed MD5s are these.
    resources = {
        "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                       "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",
                                       "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",
                                      "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",
                                      "15d484375f8d13e6eb1aabb0c3f46965"),
    }


class MNIST(_MnistLike):
    """MNIST: 70,000 grayscale 28x28 images of handwritten digits, 10 classes.

    Args:
        root: folder holding the IDX files (or ``root/mnist``); None searches
            ``$CHAINRULE_DATA``, the user cache and ``/usr/share/datasets/mnist``.
        train: the 60,000 training images (True) or the 10,000 test images (False).
        transform: applied to each image array (or to a whole batch when ``batch_safe``).
        download: fetch missing files from the official mirror into the cache (or ``root``).

    Attributes:
        data: uint8 array ``(N, 28, 28)``. targets: int64 array ``(N,)``.
        classes: the 10 class names. folder: where the files were found.
        files: the paths of the images and labels files read.

    Example:
        >>> import tempfile, numpy as np
        >>> from chainrule.data.idx import write_idx
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(f"{d}/train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
        ...     write_idx(f"{d}/train-labels-idx1-ubyte", np.array([7, 1], np.uint8))
        ...     ds = MNIST(root=d, download=False)
        >>> ds.targets.tolist(), ds.classes[7]
        ([7, 1], '7 - seven')
    """

    name = "mnist"
    base_url = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    system_dirs = ("/usr/share/datasets/mnist",)
    install_hint = f"download them from {base_url}"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    resources = {
        "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                       "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432",
                                       "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3",
                                      "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c",
                                      "27ae3e4e09519cfbb04c329615203637"),
    }
