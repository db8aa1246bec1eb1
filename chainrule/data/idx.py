"""IDX files (the MNIST format): a reader that validates every header field first, and a writer.

An IDX file is a 4-byte magic ``00 00 TT ND`` (``TT`` the element type, ``ND`` the number of
dimensions), ``ND`` big-endian uint32 sizes, then the elements in C order. MNIST and
Fashion-MNIST ship them gzip-compressed; :func:`read_idx` detects gzip by its magic bytes
``1f 8b`` (never by the file name) and reads the header before the payload, so a bogus header
fails before any large allocation, and a gzip bomb before its body is decompressed: the
header is checked against what the caller expects (``item_shape``, ``max_items``) and against
what the compressed file can possibly hold (deflate expands at most
:data:`GZIP_MAX_RATIO`:1).
"""
from __future__ import annotations

import gzip
import os
import stat
import struct
import zlib
from typing import IO, Any, NamedTuple, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

MAX_IDX_BYTES = 2**31
"""Largest payload :func:`read_idx` accepts (2 GiB): anything bigger is a corrupt header."""

GZIP_MAX_RATIO = 1032
"""Deflate's largest expansion: at best 2 bits encode a 258-byte match, so a gzip file of
``n`` bytes decompresses to at most ``1032 * n`` (the gzip header and trailer only lower it)."""

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


class _Expected(NamedTuple):
    """What the caller expects of a file: the shape of one item and the most items."""

    item_shape: Optional[tuple[int, ...]]
    max_items: Optional[int]


def _expected(item_shape: Optional[Sequence[int]], max_items: Optional[int]) -> _Expected:
    """Validate the caller's expectations (``read_idx``'s keyword arguments)."""
    def count(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0

    if max_items is not None and not count(max_items):
        raise ValueError(f"read_idx: max_items must be an int >= 0 or None, got {max_items!r}")
    if item_shape is not None:
        if isinstance(item_shape, (str, bytes)) or not all(count(d) for d in item_shape) \
                or len(item_shape) > 3:
            raise ValueError(f"read_idx: item_shape must be a tuple of ints >= 0 (at most 3, "
                             f"the IDX limit being 4 dimensions) or None, got {item_shape!r}")
        item_shape = tuple(int(d) for d in item_shape)
    return _Expected(item_shape, None if max_items is None else int(max_items))


def _check_expected(shape: tuple[int, ...], expected: _Expected, path: str) -> None:
    """Refuse a header that breaks the caller's expectations (before any payload is read)."""
    if expected.item_shape is not None and shape[1:] != expected.item_shape:
        want = "(N, " + ", ".join(map(str, expected.item_shape)) + ")" \
            if expected.item_shape else "(N,)"
        raise IdxFormatError(f"read_idx: {path}: expected items of shape {want}, the header "
                             f"declares {shape}")
    if expected.max_items is not None and shape[0] > expected.max_items:
        raise IdxFormatError(f"read_idx: {path}: too many items: expected at most "
                             f"{expected.max_items}, the header declares {shape[0]} (shape "
                             f"{shape})")


def _check_size(shape: tuple[int, ...], nbytes: int, header_bytes: int, path: str,
                compressed: bool, file_size: Optional[int]) -> None:
    """Refuse a payload size the file cannot hold: exactly for a raw file; for a gzip file,
    by deflate's largest expansion (:data:`GZIP_MAX_RATIO`), before decompressing it."""
    if file_size is None:  # not a regular file: checked while reading
        return
    if compressed:
        most = GZIP_MAX_RATIO * file_size - header_bytes
        if nbytes > most:
            raise IdxFormatError(
                f"read_idx: {path}: truncated: dimensions {shape} need a payload of {nbytes} "
                f"bytes, the decompressed file holds 0 to {max(most, 0)} bytes (a "
                f"{file_size}-byte gzip file decompresses to at most {GZIP_MAX_RATIO} times "
                "its size)")
        return
    actual = file_size - header_bytes
    if actual != nbytes:
        kind = "truncated" if actual < nbytes else "trailing bytes"
        raise IdxFormatError(
            f"read_idx: {path}: {kind}: dimensions {shape} need a payload of {nbytes} "
            f"bytes, the file holds {actual}")


def _parse_header(stream: IO[bytes], path: str, compressed: bool,
                  file_size: Optional[int], expected: _Expected) -> IdxHeader:
    """Read and check the header: the format, then the caller's expectations, then whether
    the file can hold the payload it declares (``file_size``: the file's size on disk)."""
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
    _check_expected(shape, expected, path)
    _check_size(shape, nbytes, 4 + 4 * ndim, path, compressed, file_size)
    return IdxHeader(tuple(int(d) for d in shape), type_code, compressed)


def _open(path: str, compressed: Optional[bool]
          ) -> tuple[IO[bytes], IO[bytes], bool, Optional[int]]:
    """Open ``path``; return (raw file, stream to read, is gzip, the size on disk, None when
    not a regular file)."""
    raw = open(path, "rb")
    try:
        info = os.fstat(raw.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
        starts_gzip = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed is None:
            compressed = starts_gzip
        if compressed:
            if not starts_gzip:
                raise IdxFormatError(
                    f"read_idx: {path}: compressed=True but the file does not start with the "
                    "gzip magic 1f 8b")
            return raw, gzip.GzipFile(fileobj=raw, mode="rb"), True, size
        return raw, raw, False, size
    except BaseException:
        raw.close()
        raise


def _gzip_errors(path: str, exc: Exception) -> IdxFormatError:
    return IdxFormatError(f"read_idx: {path}: corrupt gzip stream ({type(exc).__name__}: {exc})")


def read_idx_header(path: PathLike, *, compressed: Optional[bool] = None,
                    item_shape: Optional[Sequence[int]] = None,
                    max_items: Optional[int] = None) -> IdxHeader:
    """Read and validate only the header of an IDX file (cheap, even for a big file).

    Args:
        path: the file (gzip-compressed or raw).
        compressed: ``None`` detects gzip by the magic bytes ``1f 8b``; ``True``/``False``
            force it.
        item_shape, max_items: what the caller expects, as in :func:`read_idx`.

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
    expected = _expected(item_shape, max_items)
    raw, stream, is_gz, size = _open(path, compressed)
    try:
        with raw:
            return _parse_header(stream, path, is_gz, size, expected)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_errors(path, exc) from exc


def read_idx(path: PathLike, *, compressed: Optional[bool] = None,
             item_shape: Optional[Sequence[int]] = None,
             max_items: Optional[int] = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes, validating the header before reading the payload.

    Checked, in order, each raising :class:`IdxFormatError` that names the file, the expected
    and the actual value: the magic (first two bytes zero; a gzip header read raw is reported
    as gzip-compressed), the type code (only ``0x08``, uint8), the number of dimensions (1 to 4),
    absurd dimensions (payload over :data:`MAX_IDX_BYTES`), the caller's ``item_shape`` and
    ``max_items``, and a payload size equal to the product of the dimensions (truncated or
    trailing bytes). All but the last are refused from the header alone. A raw file's size is
    checked against the header before any allocation; a gzip file's header is refused when it
    declares more than the file could decompress to (:data:`GZIP_MAX_RATIO` times its size),
    so a bomb fails before its body is decompressed. The body is then streamed in 1 MiB
    pieces into a buffer that grows with the data actually decompressed (never preallocated
    from the declared size), and at most 1 MiB past the declared end is decompressed to
    report trailing bytes.

    Args:
        path: the file, gzip-compressed or raw (detected by content, not by name).
        compressed: ``None`` (default) auto-detects; ``True``/``False`` force the choice.
        item_shape: the shape every item must have, the dimensions after the first (e.g.
            ``(28, 28)`` for MNIST images, ``()`` for labels); ``None`` accepts any.
        max_items: the most items (the first dimension) the caller accepts, e.g. the known
            size of a dataset split; ``None`` accepts any.

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
    expected = _expected(item_shape, max_items)
    raw, stream, is_gz, size = _open(path, compressed)
    try:
        with raw:
            header = _parse_header(stream, path, is_gz, size, expected)
            nbytes = int(np.prod(header.shape, dtype=np.int64))
            if is_gz:
                # The declared size is only bounded (GZIP_MAX_RATIO) until the stream ends:
                # grow with what really decompresses, never allocating what is not there.
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
                    f"{nbytes} bytes, the {'decompressed ' if is_gz else ''}file holds {got}")
            if is_gz or size is None:  # count trailing bytes up to one piece, not a bomb's all
                extra = len(stream.read(_CHUNK))
                holds = f"more than {nbytes + extra}" if extra and stream.read(1) \
                    else f"{nbytes + extra}"
                if extra:
                    raise IdxFormatError(
                        f"read_idx: {path}: trailing bytes: dimensions {header.shape} need a "
                        f"payload of {nbytes} bytes, the {'decompressed ' if is_gz else ''}"
                        f"file holds {holds}")
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
                  num_classes: int = 10, *, item_shape: Optional[Sequence[int]] = None,
                  max_items: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check that they belong together.

    Both headers are read first: the image shape, the item counts (against ``max_items`` and
    each other) are checked before either payload is read.

    Args:
        images_path: IDX file of uint8 images, shape ``(N, ...)``.
        labels_path: IDX file of uint8 labels, shape ``(N,)``.
        num_classes: labels must lie in ``0 .. num_classes - 1``.
        item_shape: the shape of one image (e.g. ``(28, 28)``); ``None`` accepts any.
        max_items: the most images (and labels) accepted, e.g. the split's known size;
            ``None`` accepts any.

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
    expect = {"item_shape": item_shape, "max_items": max_items}
    img_header = read_idx_header(images_path, **expect)
    lab_header = read_idx_header(labels_path, max_items=max_items)
    if len(lab_header.shape) != 1:
        raise IdxFormatError(
            f"load_idx_pair: {labels_path}: labels must be 1-D, got shape {lab_header.shape}")
    if img_header.shape[0] != lab_header.shape[0]:
        raise IdxCountMismatchError(
            f"load_idx_pair: count mismatch: {images_path} holds {img_header.shape[0]} images "
            f"but {labels_path} holds {lab_header.shape[0]} labels (expected equal counts)")
    images = read_idx(images_path, **expect)
    labels = read_idx(labels_path, max_items=max_items).astype(np.int64)
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise IdxLabelRangeError(
            f"load_idx_pair: {labels_path}: label {labels[i]} at index {i} is out of range: "
            f"expected 0 <= label < num_classes={num_classes} ({bad.size} labels out of range, "
            f"max {labels.max()})")
    return images, labels
