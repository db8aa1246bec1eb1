"""IDX files (the MNIST format): a reader that validates every header field first, and a writer.

An IDX file is a 4-byte magic ``00 00 TT ND`` (``TT`` the element type, ``ND`` the number of
dimensions), ``ND`` big-endian uint32 sizes, then the elements in C order. MNIST and
Fashion-MNIST ship them gzip-compressed; :func:`read_idx` detects gzip by its magic bytes
``1f 8b`` (never by the file name) and reads the header before the payload, so a bogus header
fails before any large allocation.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from typing import IO, NamedTuple, Optional, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

MAX_IDX_BYTES = 2**31
"""Largest payload :func:`read_idx` accepts (2 GiB): anything bigger is a corrupt header."""

_GZIP_MAGIC = b"\x1f\x8b"
_UINT8 = 0x08
_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short (int16)",
               0x0C: "int (int32)", 0x0D: "float (float32)", 0x0E: "double (float64)"}
_CHUNK = 1 << 20


class IdxFormatError(ValueError):
    """An IDX file (or a pair of them) breaks the format; the message names the file,
    the expected and the actual value."""


class IdxCountMismatchError(IdxFormatError):
    """The images file and the labels file hold different numbers of items."""


class IdxLabelRangeError(IdxFormatError):
    """A label is negative or not smaller than the number of classes."""


class IdxHeader(NamedTuple):
    """What the header of an IDX file says.

    Attributes:
        shape: the sizes of the dimensions.
        type_code: the element type (``0x08`` = uint8, the only one accepted).
        compressed: whether the file is gzip-compressed.
    """

    shape: tuple[int, ...]
    type_code: int
    compressed: bool


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    """Read up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _parse_header(stream: IO[bytes], path: str, compressed: bool,
                  file_size: Optional[int]) -> IdxHeader:
    where = "the decompressed data of " if compressed else ""
    magic = _read_exact(stream, 4)
    if magic[:2] == _GZIP_MAGIC:
        if compressed:
            raise IdxFormatError(
                f"read_idx: {path}: the decompressed data starts with 1f 8b again; the file "
                "looks gzip-compressed twice (decompress it once with `gunzip`)")
        raise IdxFormatError(
            f"read_idx: {path}: bad magic: expected 00 00 <type> <ndim>, got {_hex(magic)}; "
            "the file looks gzip-compressed (it starts with the gzip magic 1f 8b): read it "
            "with compressed=None (auto-detect) or decompress it first")
    if len(magic) < 4:
        raise IdxFormatError(
            f"read_idx: {path}: truncated header: {where}the file has {len(magic)} bytes, "
            "an IDX header needs at least 4 (the magic number)")
    if magic[0] != 0 or magic[1] != 0:
        raise IdxFormatError(
            f"read_idx: {path}: bad magic: expected the first two bytes to be 00 00, got "
            f"{_hex(magic[:2])} (full magic {_hex(magic)}); this is not an IDX file")
    type_code, ndim = magic[2], magic[3]
    if type_code != _UINT8:
        name = _TYPE_NAMES.get(type_code, "unknown")
        raise IdxFormatError(
            f"read_idx: {path}: unsupported type code: expected 0x08 (unsigned byte), got "
            f"0x{type_code:02X} ({name})")
    if not 1 <= ndim <= 4:
        raise IdxFormatError(
            f"read_idx: {path}: bad number of dimensions: expected 1 to 4, got {ndim}")
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise IdxFormatError(
            f"read_idx: {path}: truncated header: {ndim} dimensions need {4 * ndim} bytes of "
            f"sizes after the magic, got {len(raw_dims)}")
    shape = struct.unpack(f">{ndim}I", raw_dims)
    nbytes = 1
    for d in shape:
        nbytes *= d
    if nbytes > MAX_IDX_BYTES:
        raise IdxFormatError(
            f"read_idx: {path}: absurd dimensions {shape}: the payload would be {nbytes} bytes, "
            f"over the limit of {MAX_IDX_BYTES} (2**31); the header is corrupt")
    if file_size is not None:
        actual = file_size - 4 - 4 * ndim
        if actual != nbytes:
            kind = "truncated" if actual < nbytes else "trailing bytes"
            raise IdxFormatError(
                f"read_idx: {path}: {kind}: dimensions {shape} need a payload of {nbytes} "
                f"bytes, the file holds {actual}")
    return IdxHeader(tuple(int(d) for d in shape), type_code, compressed)


def _open(path: str, compressed: Optional[bool]
          ) -> tuple[IO[bytes], IO[bytes], bool, Optional[int]]:
    """Open ``path``; return (raw file, stream to read, is gzip, raw file size or None)."""
    raw = open(path, "rb")
    try:
        starts_gzip = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed is None:
            compressed = starts_gzip
        if compressed:
            if not starts_gzip:
                raise IdxFormatError(
                    f"read_idx: {path}: compressed=True but the file does not start with the "
                    "gzip magic 1f 8b")
            return raw, gzip.GzipFile(fileobj=raw, mode="rb"), True, None
        return raw, raw, False, os.fstat(raw.fileno()).st_size
    except BaseException:
        raw.close()
        raise


def _gzip_errors(path: str, exc: Exception) -> IdxFormatError:
    return IdxFormatError(f"read_idx: {path}: corrupt gzip stream ({type(exc).__name__}: {exc})")


def read_idx_header(path: PathLike, *, compressed: Optional[bool] = None) -> IdxHeader:
    """Read and validate only the header of an IDX file (cheap, even for a big file).

    Args:
        path: the file (gzip-compressed or raw).
        compressed: ``None`` detects gzip by the magic bytes ``1f 8b``; ``True``/``False``
            force it.

    Returns:
        The :class:`IdxHeader` (shape, type code, compressed).

    Raises:
        IdxFormatError: on any header fault (see :func:`read_idx`).

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(os.path.join(d, "x.gz"), np.zeros((3, 2, 2), np.uint8))
        ...     read_idx_header(os.path.join(d, "x.gz"))
        IdxHeader(shape=(3, 2, 2), type_code=8, compressed=True)
    """
    path = os.fspath(path)
    raw, stream, is_gz, size = _open(path, compressed)
    try:
        with raw:
            return _parse_header(stream, path, is_gz, size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_errors(path, exc) from exc


def read_idx(path: PathLike, *, compressed: Optional[bool] = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes, validating the header before reading the payload.

    Checked, in order, each raising :class:`IdxFormatError` that names the file, the expected
    and the actual value: the magic (first two bytes zero; a gzip header read raw is reported
    as gzip-compressed), the type code (only ``0x08``, uint8), the number of dimensions (1 to 4),
    absurd dimensions (payload over :data:`MAX_IDX_BYTES`), and a payload size equal to the
    product of the dimensions (truncated or trailing bytes). Raw files are checked against
    the file size before any allocation; gzip files are streamed into a buffer that grows with
    the data actually decompressed (never preallocated from the declared size).

    Args:
        path: the file, gzip-compressed or raw (detected by content, not by name).
        compressed: ``None`` (default) auto-detects; ``True``/``False`` force the choice.

    Returns:
        A uint8 array with the shape of the header, e.g. ``(N, 28, 28)`` for images and
        ``(N,)`` for labels.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "labels.idx")
        ...     write_idx(p, np.array([3, 1, 4], np.uint8))
        ...     read_idx(p)
        array([3, 1, 4], dtype=uint8)
    """
    path = os.fspath(path)
    raw, stream, is_gz, size = _open(path, compressed)
    try:
        with raw:
            header = _parse_header(stream, path, is_gz, size)
            nbytes = int(np.prod(header.shape, dtype=np.int64))
            if is_gz:
                # The declared size is unchecked until the stream ends: grow with what really
                # decompresses, so a tiny file declaring 2 GiB fails without a 2 GiB allocation.
                buf = bytearray()
                while len(buf) < nbytes:
                    part = stream.read(min(_CHUNK, nbytes - len(buf)))
                    if not part:
                        break
                    buf += part
                got = len(buf)
                out = np.frombuffer(buf, dtype=np.uint8)
            else:  # the file size was checked against the header: allocate exactly
                out = np.empty(nbytes, dtype=np.uint8)
                view = memoryview(out)
                got = 0
                while got < nbytes:
                    n = stream.readinto(view[got:got + _CHUNK])
                    if not n:
                        break
                    got += n
            if got < nbytes:
                raise IdxFormatError(
                    f"read_idx: {path}: truncated: dimensions {header.shape} need a payload of "
                    f"{nbytes} bytes, the decompressed file holds {got}")
            if is_gz:
                extra = 0
                while extra <= MAX_IDX_BYTES:
                    part = stream.read(_CHUNK)
                    if not part:
                        break
                    extra += len(part)
                if extra:
                    raise IdxFormatError(
                        f"read_idx: {path}: trailing bytes: dimensions {header.shape} need a "
                        f"payload of {nbytes} bytes, the decompressed file holds {nbytes + extra}")
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_errors(path, exc) from exc
    return out.reshape(header.shape)


def write_idx(path: PathLike, array: np.ndarray, *, compressed: Optional[bool] = None) -> None:
    """Write a uint8 array as an IDX file (the inverse of :func:`read_idx`).

    Args:
        path: destination file.
        array: uint8 array with 1 to 4 dimensions.
        compressed: gzip the file; ``None`` means "if the name ends with ``.gz``". The gzip
            timestamp is fixed at 0, so the same array always gives the same bytes.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(os.path.join(d, "a.idx"), np.arange(6, dtype=np.uint8).reshape(2, 3))
        ...     os.path.getsize(os.path.join(d, "a.idx"))  # 4 magic + 2*4 sizes + 6 bytes
        18
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_idx: expected a uint8 array, got dtype {array.dtype}")
    if not 1 <= array.ndim <= 4:
        raise ValueError(f"write_idx: expected 1 to 4 dimensions, got shape {array.shape}")
    path = os.fspath(path)
    if compressed is None:
        compressed = path.endswith(".gz")
    blob = (bytes([0, 0, _UINT8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            + np.ascontiguousarray(array).tobytes())
    if compressed:
        blob = gzip.compress(blob, mtime=0)
    with open(path, "wb") as f:
        f.write(blob)


def load_idx_pair(images_path: PathLike, labels_path: PathLike,
                  num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check that they belong together.

    Both headers are read first: the item counts are compared before either payload is read.

    Args:
        images_path: IDX file of uint8 images, shape ``(N, ...)``.
        labels_path: IDX file of uint8 labels, shape ``(N,)``.
        num_classes: labels must lie in ``0 .. num_classes - 1``.

    Returns:
        ``(images, labels)``: images uint8 as stored, labels int64 of shape ``(N,)``.

    Raises:
        IdxFormatError: a file is malformed or the labels are not 1-D.
        IdxCountMismatchError: the two files hold different numbers of items.
        IdxLabelRangeError: a label is ``>= num_classes``.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(os.path.join(d, "x"), np.zeros((2, 4, 4), np.uint8))
        ...     write_idx(os.path.join(d, "y"), np.array([0, 9], np.uint8))
        ...     x, y = load_idx_pair(os.path.join(d, "x"), os.path.join(d, "y"))
        >>> x.shape, y.dtype
        ((2, 4, 4), dtype('int64'))
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"load_idx_pair: num_classes must be a positive int, got {num_classes!r}")
    images_path, labels_path = os.fspath(images_path), os.fspath(labels_path)
    img_header = read_idx_header(images_path)
    lab_header = read_idx_header(labels_path)
    if len(lab_header.shape) != 1:
        raise IdxFormatError(
            f"load_idx_pair: {labels_path}: labels must be 1-D, got shape {lab_header.shape}")
    if img_header.shape[0] != lab_header.shape[0]:
        raise IdxCountMismatchError(
            f"load_idx_pair: count mismatch: {images_path} holds {img_header.shape[0]} images "
            f"but {labels_path} holds {lab_header.shape[0]} labels (expected equal counts)")
    images = read_idx(images_path)
    labels = read_idx(labels_path).astype(np.int64)
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise IdxLabelRangeError(
            f"load_idx_pair: {labels_path}: label {labels[i]} at index {i} is out of range: "
            f"expected 0 <= label < num_classes={num_classes} ({bad.size} labels out of range, "
            f"max {labels.max()})")
    return images, labels
