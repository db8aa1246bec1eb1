"""Our own reader and writer of the safetensors format (no pickle, nothing executed on load).

Layout: 8 bytes little-endian unsigned header length ``N``; ``N`` bytes of UTF-8 JSON
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__":
{str: str}}``; then the byte buffer, with offsets relative to its start. Tensors must tile the
buffer exactly: contiguous, non-overlapping, no gap, no trailing byte.

Dtypes: the twelve of :data:`DTYPES` are read and written; a ``BF16`` tensor (from
``safetensors.torch`` or ``ml_dtypes``) is read and widened to float32, exactly (chainrule has
no bfloat16; :data:`WIDENED`).

:func:`load_file` validates every field before returning anything; :func:`save_file` writes
atomically (:func:`chainrule.io.files.write_atomic`), so a crash mid-save leaves the previous
file intact.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from .errors import CheckpointError
from .files import write_atomic
from .jsonio import parse_json

PathLike = Union[str, "os.PathLike[str]"]

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""Largest header accepted (as in the reference implementation): 100 MB."""
MAX_NDIM = 64
"""Most dimensions a tensor may have (NumPy's limit)."""
_MAX_ARRAY_BYTES = 2**63 - 1

# safetensors dtype name <-> little-endian NumPy dtype
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16) as float32 values: a bfloat16 is the upper half of a float32,
    so this is exact."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


WIDENED: dict[str, tuple[np.dtype, Callable[[np.ndarray], np.ndarray]]] = {
    "BF16": (np.dtype("<u2"), _bfloat16_to_float32)}
"""Dtypes a file may hold that chainrule has not: name -> (the dtype of their raw bits, the
exact widening to one chainrule has). Read by every loader, never written."""
_STORED = {**DTYPES, **{name: raw for name, (raw, _) in WIDENED.items()}}
"""Every dtype a file may hold -> the NumPy dtype its bytes are read as."""
_NAME_OF = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}


def _dtype_name(fn: str, key: str, dtype: np.dtype) -> str:
    name = _NAME_OF.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise TypeError(f"{fn}: tensor {key!r} has unsupported dtype {dtype}; supported: "
                        f"{', '.join(str(d) for d in DTYPES.values())} ({', '.join(DTYPES)})")
    return name


def _to_array(fn: str, key: Any, value: Any) -> np.ndarray:
    if not isinstance(key, str):
        raise TypeError(f"{fn}: tensor names must be str, got {key!r}")
    if key == "__metadata__":
        raise ValueError(f"{fn}: the name '__metadata__' is reserved by the format")
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "_data", None)
    if isinstance(data, np.ndarray):  # a Tensor
        return data
    if isinstance(value, (np.generic, int, float, bool)):
        return np.asarray(value)
    raise TypeError(f"{fn}: tensor {key!r} must be a numpy array or Tensor, got "
                    f"{type(value).__name__}")


def _serialize(tensors: Mapping[str, np.ndarray],
              metadata: Optional[Mapping[str, str]] = None) -> tuple[bytes, list[np.ndarray]]:
    """Build the header bytes (length prefix included) and the ordered list of buffers.

    Tensors are laid out by decreasing item size, then by name, so every tensor is aligned to
    its item size and the same input always gives the same bytes.
    """
    fn = "save_file"
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{fn}: tensors must be a dict of name -> array, got "
                        f"{type(tensors).__name__}")
    arrays = {k: _to_array(fn, k, v) for k, v in tensors.items()}
    names = {k: _dtype_name(fn, k, a.dtype) for k, a in arrays.items()}
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError(f"{fn}: metadata must be a dict of str -> str, got {metadata!r}")
        header["__metadata__"] = dict(metadata)
    buffers, offset = [], 0
    for k in order:
        a = arrays[k].astype(DTYPES[names[k]], order="C", copy=False)  # little-endian, C order
        header[k] = {"dtype": names[k], "shape": list(a.shape),
                     "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        buffers.append(a)
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # pad with spaces so the buffer starts 8-byte aligned
    return struct.pack("<Q", len(blob)) + blob, buffers


def save_file(tensors: Mapping[str, np.ndarray], path: PathLike,
              metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write arrays to a safetensors file, atomically.

    Args:
        tensors: name -> array (NumPy arrays or Tensors; dtypes F64 F32 F16 I64 I32 I16 I8
            U64 U32 U16 U8 BOOL). Any shape, including 0-d and size 0.
        path: destination file.
        metadata: optional str -> str pairs stored under ``__metadata__``.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "w.safetensors")
        ...     save_file({"w": np.eye(2, dtype=np.float32)}, p, metadata={"epoch": "3"})
        ...     load_file(p)["w"].tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    header, buffers = _serialize(tensors, metadata)
    write_atomic(path, [header] + [a.reshape(-1).view(np.uint8) for a in buffers])


def _pickle_kind(data: Any) -> Optional[str]:
    """What PyTorch (pickle) file ``data`` (its bytes, or their first ones) starts as, or None;
    None too when it starts as a safetensors file, whose header length may begin with the
    pickle's 0x80 (a header of 0x380 bytes)."""
    head = bytes(memoryview(data)[:9])
    if len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] <= len(data) - 8:
        return None
    if head[:4] == b"PK\x03\x04":
        return "a zip archive, the format of torch.save, which holds a pickle"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (an old torch.save file, or pickle.dump)"
    return None


def _pickle_hint(head: bytes) -> str:
    """The sentence a failed load appends when the file looks like PyTorch's pickle."""
    kind = _pickle_kind(head)
    if kind is None:
        return ""
    return (f" The file looks like {kind}; chainrule never unpickles (loading a pickle can "
            f"run arbitrary code): in PyTorch, save the tensors with "
            f"safetensors.torch.save_file instead.")


def _fail(path: str, message: str, fn: str = "load_file") -> CheckpointError:
    return CheckpointError(f"{fn}: {path}: {message}")



def _is_uint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _validate(label: str, file_size: int, head: bytes, raw: bytes, fn: str = "load_file"
              ) -> tuple[dict[str, dict[str, Any]], dict[str, str], int, int]:
    """Check the length prefix ``head`` and the header bytes ``raw`` of a file of ``file_size``
    bytes; return ``(entries, metadata, buffer_start, buffer_len)``. Errors start with
    ``f"{fn}: {label}: "``."""
    def fail(message: str) -> CheckpointError:
        return _fail(label, message, fn)

    if file_size < 8:
        raise fail(f"truncated: the file has {file_size} bytes, a safetensors file "
                   "needs at least 8 (the header length)." + _pickle_hint(head))
    (n,) = struct.unpack("<Q", head[:8])
    if n > file_size - 8:
        raise fail(f"header length {n} runs past the end of the file (expected at "
                   f"most {file_size - 8} = file size {file_size} - 8); the file is "
                   "truncated or not safetensors." + _pickle_hint(head))
    if n > MAX_HEADER_BYTES:
        raise fail(f"header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    try:
        text = bytes(raw[:n]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"the header is not valid UTF-8 ({exc}).{_pickle_hint(head)}") from None
    try:
        header = parse_json(text, f"{fn}: {label}: the header")
    except json.JSONDecodeError as exc:
        raise fail(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise fail(f"the header must be a JSON object, got {type(header).__name__}")

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail(f"__metadata__ must be an object of str -> str, got {metadata!r}")
    buffer_start, buffer_len = 8 + n, file_size - 8 - n
    entries: dict[str, dict[str, Any]] = {}
    for name, info in header.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict):
            raise fail(f"{where}: expected an object with dtype, shape, data_offsets, "
                       f"got {info!r}")
        keys = set(info)
        if keys != {"dtype", "shape", "data_offsets"}:
            raise fail(f"{where}: expected the keys ['data_offsets', 'dtype', 'shape'], "
                       f"got {sorted(keys)}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _STORED:
            raise fail(f"{where}: unknown dtype {dtype!r}; expected one of "
                       f"{list(_STORED)}")
        if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
            raise fail(f"{where}: shape must be a list of non-negative ints, got {shape!r}")
        if len(shape) > MAX_NDIM:
            raise fail(f"{where}: shape has {len(shape)} dimensions, expected at most "
                       f"{MAX_NDIM}")
        span = _STORED[dtype].itemsize  # NumPy bounds the size ignoring zero dims, times itemsize
        for d in shape:
            span *= max(d, 1)
        if span > _MAX_ARRAY_BYTES:
            raise fail(f"{where}: shape {shape} is too big for an array: its nonzero "
                       f"dimensions span {span} bytes of {dtype}, over the limit of "
                       f"{_MAX_ARRAY_BYTES} (2**63 - 1)")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_uint(o) for o in offsets)):
            raise fail(f"{where}: data_offsets must be [begin, end] with non-negative "
                       f"ints, got {offsets!r}")
        begin, end = offsets
        if begin > end:
            raise fail(f"{where}: data_offsets [{begin}, {end}] has begin > end")
        if end > buffer_len:
            raise fail(f"{where}: data_offsets [{begin}, {end}] out of range: the data "
                       f"buffer has {buffer_len} bytes")
        expected = _STORED[dtype].itemsize
        for d in shape:
            expected *= d
        if end - begin != expected:
            raise fail(f"{where}: dtype {dtype} and shape {shape} need {expected} bytes, "
                       f"but data_offsets [{begin}, {end}] hold {end - begin}")
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}

    # The tensors must tile the buffer: sorted by offset, each starts where the previous ended.
    pos, prev = 0, None
    for name in sorted(entries, key=lambda k: tuple(entries[k]["data_offsets"])):
        begin, end = entries[name]["data_offsets"]
        if begin < pos:
            raise fail(f"tensor {name!r}: data_offsets [{begin}, {end}] overlap tensor "
                       f"{prev!r}, which ends at {pos}")
        if begin > pos:
            after = "the start of the buffer" if prev is None else f"tensor {prev!r}"
            raise fail(f"tensor {name!r}: data_offsets start at {begin}, expected {pos}: "
                       f"a gap of {begin - pos} bytes after {after}")
        pos, prev = end, name
    if pos != buffer_len:
        raise fail(f"{buffer_len - pos} trailing bytes: the tensors end at byte {pos} "
                   f"of the data buffer, which has {buffer_len} bytes")
    return entries, metadata, buffer_start, buffer_len


def read_header(path: PathLike) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Read and validate the header of a safetensors file without reading the tensor data.

    Returns:
        ``(entries, metadata)``: entries maps each tensor name to its validated ``dtype``,
        ``shape`` and ``data_offsets``.

    Raises:
        CheckpointError: on any fault listed in :func:`load_file`.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_file({"w": np.zeros((2, 3), np.float16)}, os.path.join(d, "w.st"), {"a": "b"})
        ...     read_header(os.path.join(d, "w.st"))
        ({'w': {'dtype': 'F16', 'shape': [2, 3], 'data_offsets': [0, 12]}}, {'a': 'b'})
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        raw = f.read(min(n, MAX_HEADER_BYTES, max(size - 8, 0)))
    entries, metadata, _, _ = _validate(path, size, head, raw)
    return entries, metadata


def load_bytes(data: Union[bytes, bytearray, memoryview], label: str = "<bytes>",
               fn: str = "load_file") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a whole safetensors file held in memory (validated as in :func:`load_file`).

    The arrays are views into ``data`` when it is writable (a ``bytearray``), else read-only;
    bfloat16 tensors are widened to float32 copies (exact: chainrule has no bfloat16).

    Args:
        data: the bytes of a safetensors file (e.g. from ``safetensors.numpy.save``).
        label: the name used in error messages.
        fn: the function named at the start of error messages (``f"{fn}: {label}: ..."``).

    Returns:
        ``(tensors, metadata)``.

    Example:
        >>> import struct
        >>> header = b'{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'
        >>> tensors, meta = load_bytes(struct.pack("<Q", len(header)) + header + bytes([7, 9]))
        >>> tensors["x"].tolist(), meta
        ([7, 9], {})
    """
    view = memoryview(data).cast("B")
    size = view.nbytes
    head = bytes(view[:8])
    n = struct.unpack("<Q", head)[0] if size >= 8 else 0
    entries, metadata, start, _ = _validate(label, size, head, view[8:8 + min(n, size)], fn)
    out: dict[str, np.ndarray] = {}
    for name, info in entries.items():
        dt = _STORED[info["dtype"]]
        begin, end = info["data_offsets"]
        arr = np.frombuffer(view, dtype=dt, count=(end - begin) // dt.itemsize,
                            offset=start + begin)
        if not arr.flags.aligned:
            arr = arr.copy()
        arr = arr.reshape(info["shape"])
        if not dt.isnative:
            arr = arr.astype(dt.newbyteorder("="))
        widen = WIDENED.get(info["dtype"])
        out[name] = widen[1](arr) if widen else arr
    return out, metadata


def _read_file_bytes(path: PathLike, fn: str = "load_file") -> bytearray:
    """The whole file in a writable buffer, allocated from the real file size."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        buf = bytearray(size)
        got = f.readinto(buf)
    if got != size:
        raise _fail(os.fspath(path), f"expected {size} bytes, read {got} (the file changed "
                                     "while being read?)", fn)
    return buf


def load_file_with_metadata(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Like :func:`load_file`, also returning the ``__metadata__`` dict.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_file({"w": np.ones(1)}, os.path.join(d, "w.st"), metadata={"step": "9"})
        ...     load_file_with_metadata(os.path.join(d, "w.st"))[1]
        {'step': '9'}
    """
    return load_bytes(_read_file_bytes(path), os.fspath(path))


def load_file(path: PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file, validating every byte before returning.

    Raises :class:`CheckpointError` (naming the file, the tensor, expected vs actual) for: a
    file shorter than 8 bytes, a header length past the file end, a header that is not UTF-8
    JSON or not an object, or that holds what :func:`~chainrule.io.jsonio.parse_json` refuses
    (NaN or Infinity, an integer of over ``MAX_INT_DIGITS`` digits, a name given twice,
    nesting too deep to parse), an unknown dtype, a shape that is not a list
    of non-negative ints or that NumPy cannot hold (over 64 dimensions, over 2**63 - 1 bytes),
    offsets outside the buffer, overlapping or leaving gaps, a byte length other than
    ``prod(shape) * itemsize``, and trailing bytes. A pickle offered instead is rejected
    (never unpickled).

    Args:
        path: the file.

    Returns:
        name -> writable NumPy array, in header order.

    Example:
        >>> import tempfile, os, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "m.safetensors")
        ...     save_file({"b": np.zeros(3, np.int64), "a": np.array(True)}, p)
        ...     out = load_file(p)
        >>> sorted(out), out["a"].shape, out["b"].dtype
        (['a', 'b'], (), dtype('int64'))
    """
    return load_file_with_metadata(path)[0]
