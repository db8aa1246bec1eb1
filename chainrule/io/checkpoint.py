"""Checkpoints, no pickle: the model's weights in ``<stem>.safetensors``, the meta dict in
``<stem>.json``, the arrays found inside the meta in ``<stem>.meta.safetensors``.

``<stem>.safetensors`` holds the state (``model.state_dict()``) and nothing else, under its
own names, so PyTorch reads it as it is:
``model.load_state_dict(safetensors.torch.load_file("checkpoint.safetensors"))``.
``<stem>.json`` holds the meta dict (model name, config, epoch, metrics, optimizer state...) as
plain JSON. Arrays found anywhere inside the meta (e.g. momentum buffers) are stored in
``<stem>.meta.safetensors`` under their path (``optim.state.0.momentum_buffer``) and referenced
from the JSON as ``{"__tensor__": "<name>"}``; a meta without arrays writes no such file. Dicts
with int keys (as in optimizer state) are kept as ``{"__items__": [[key, value], ...]}`` so the
keys come back as ints.

Crash safety: each file is written atomically (:func:`chainrule.io.files.write_atomic`: a
temporary file, fsynced and renamed with ``os.replace``). The tensor files go first (each old
one kept as ``<name>.prev`` until the JSON is renamed), the JSON last; it carries the SHA-256
of each tensor file. So at every instant the JSON on disk matches, for each tensor file, either
it or its ``.prev`` copy, and :func:`load_checkpoint` picks the one whose hash matches: a killed
save leaves the previous checkpoint loadable, and a half-updated checkpoint is detected, never
silently mixed. What a killed save cannot remove is its temporary files
(``.<stem>.safetensors.<hex>.tmp``, ...): :func:`chainrule.io.files.remove_stale_temps` removes
those where no save is running.

Reading trusts nothing: the JSON is parsed strictly (:func:`chainrule.io.jsonio.parse_json`:
no NaN or Infinity, no integer of over 100 digits, no key named twice), so a meta that loads
is one that :func:`save_checkpoint` can write again. A checkpoint of version 1 (its meta's
arrays inside the weights file, as ``__meta__.<path>``) still loads.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Optional, Union

import numpy as np

from ..autograd.state_load import IncompatibleKeys, assign_state, plan_state_load
from .errors import CheckpointError
from .files import write_atomic
from .jsonio import MAX_INT_DIGITS, int_fits, parse_json
from .safetensors import _pickle_hint, _read_file_bytes, _serialize, load_bytes

PathLike = Union[str, "os.PathLike[str]"]

FORMAT = "chainrule.checkpoint"
VERSION = 2
"""The layout :func:`save_checkpoint` writes; :func:`load_checkpoint` reads 1 and 2."""
READABLE = (1, 2)
ARRAYS_SUFFIX = ".meta.safetensors"
"""The suffix of the file holding the meta's arrays (after the stem)."""
MAX_JSON_BYTES = 256 * 1024 * 1024
_RESERVED = ("__tensor__", "__items__")


class CheckpointPaths(NamedTuple):
    """The files of a checkpoint: the weights, the JSON, and the meta's arrays (written only
    when the meta holds arrays)."""

    weights: Path
    meta: Path
    arrays: Path


def checkpoint_paths(path: PathLike) -> CheckpointPaths:
    """The files of the checkpoint named by ``path``.

    ``path`` may be the stem (``runs/lenet``), any of its files (``runs/lenet.json``,
    ``runs/lenet.safetensors``, ``runs/lenet.meta.safetensors``) or an existing folder (then
    the stem is ``folder/checkpoint``).

    Example:
        >>> paths = checkpoint_paths("runs/lenet.json")
        >>> paths.weights.as_posix(), paths.arrays.as_posix()
        ('runs/lenet.safetensors', 'runs/lenet.meta.safetensors')
    """
    p = Path(path)
    if p.name.endswith(ARRAYS_SUFFIX):
        stem = p.with_name(p.name[:-len(ARRAYS_SUFFIX)])
    elif p.suffix in (".safetensors", ".json"):
        stem = p.with_suffix("")
    elif p.is_dir() or os.fspath(path).endswith(("/", os.sep)):
        stem = p / "checkpoint"
    else:
        stem = p
    return CheckpointPaths(stem.with_name(stem.name + ".safetensors"),
                           stem.with_name(stem.name + ".json"),
                           stem.with_name(stem.name + ARRAYS_SUFFIX))


def _prev(weights: Path) -> Path:
    return weights.with_name(weights.name + ".prev")


def _array_of(value: Any) -> Optional[np.ndarray]:
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "_data", None)
    if isinstance(data, np.ndarray) and not isinstance(value, (bytes, bytearray, memoryview)):
        return data  # a Tensor
    return None


# -- meta <-> JSON ---------------------------------------------------------------------------

def _encode(value: Any, where: str, tensors: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        if not int_fits(int(value)):
            raise ValueError(f"save_checkpoint: meta{where or ' '} is an integer of over "
                             f"{MAX_INT_DIGITS} digits, more than a checkpoint JSON holds; "
                             "store it as a string instead")
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not math.isfinite(f):
            raise ValueError(f"save_checkpoint: meta{where or ' '} is {f}: JSON holds only finite "
                             "numbers; store None or a string instead")
        return f
    arr = _array_of(value)
    if arr is not None:
        base = where[1:] if where else "root"
        name, i = base, 1
        while name in tensors:
            name, i = f"{base}#{i}", i + 1
        tensors[name] = arr
        return {"__tensor__": name}
    if isinstance(value, Mapping):
        reserved = [k for k in value if k in _RESERVED]
        if reserved:
            raise ValueError(f"save_checkpoint: meta{where} uses the reserved key(s) {reserved}")
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v, f"{where}.{k}", tensors) for k, v in value.items()}
        for k in value:
            if isinstance(k, bool) or not isinstance(k, (str, int, np.integer)):
                raise TypeError(f"save_checkpoint: meta{where} has key {k!r}: dict keys must be "
                                "str or int")
        return {"__items__": [[k if isinstance(k, str) else int(k),
                               _encode(v, f"{where}.{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{where}.{i}", tensors) for i, v in enumerate(value)]
    raise TypeError(f"save_checkpoint: meta{where} has type {type(value).__name__}, which a "
                    "checkpoint cannot hold (JSON values and arrays only; nothing is pickled)")


def _decode(value: Any, tensors: dict[str, np.ndarray], used: set[str], label: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors, used, label) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        name = value["__tensor__"]
        if len(value) != 1 or not isinstance(name, str):
            raise CheckpointError(f"load_checkpoint: {label}: malformed tensor reference {value!r}")
        if name not in tensors:
            raise CheckpointError(f"load_checkpoint: {label}: the meta refers to tensor {name!r}, "
                                  "which the checkpoint does not hold")
        used.add(name)
        return tensors[name]
    if "__items__" in value:
        items = value["__items__"]
        if len(value) != 1 or not isinstance(items, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int))
                and not isinstance(p[0], bool) for p in items):
            raise CheckpointError(f"load_checkpoint: {label}: malformed __items__ {value!r}")
        return {k: _decode(v, tensors, used, label) for k, v in items}
    return {k: _decode(v, tensors, used, label) for k, v in value.items()}


# -- save ------------------------------------------------------------------------------------

def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded_sha(meta_path: Path, part: str) -> Optional[str]:
    """The hash the JSON on disk records for its tensor file ``part`` (``"weights"`` or
    ``"arrays"``), or None if there is no readable one."""
    try:
        doc = parse_json(meta_path.read_text(encoding="utf-8"), os.fspath(meta_path))
        return str(doc[part]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):  # CheckpointError is a ValueError
        return None


def _tensor_file(tensors: Mapping[str, np.ndarray], path: Path
                 ) -> tuple[list[Any], dict[str, Any]]:
    """The chunks of the safetensors file of ``tensors`` and the JSON's record of it."""
    header, buffers = _serialize(tensors, {"format": FORMAT, "version": str(VERSION)})
    chunks = [header] + [a.reshape(-1).view(np.uint8) for a in buffers]
    digest = hashlib.sha256()
    for c in chunks:
        digest.update(c)
    return chunks, {"file": path.name, "sha256": digest.hexdigest(),
                    "bytes": sum(len(memoryview(c).cast("B")) for c in chunks)}


def _set_aside(path: Path, recorded: Optional[str]) -> bool:
    """Before ``path`` is rewritten, keep the file the JSON on disk describes (``recorded``,
    its hash) as ``<path>.prev``; return whether ``path`` was moved or removed."""
    prev = _prev(path)
    if path.exists() and prev.exists():
        # An earlier save was interrupted: keep as .prev whichever file the JSON describes.
        if recorded == _sha256_file(path):
            os.replace(path, prev)
        else:
            path.unlink()  # the unreferenced leftover of the interrupted save
        return True
    if path.exists():
        os.replace(path, prev)  # keep the file the current JSON describes
        return True
    return False


def _check_state(fn: str, state: Any) -> dict[str, np.ndarray]:
    """``state`` as name -> array, refusing what a weights file cannot hold."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}: state must be a dict of name -> array, got {type(state).__name__}")
    tensors: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if not isinstance(k, str):
            raise TypeError(f"{fn}: state keys must be str, got {k!r}")
        if k == "__metadata__":
            raise ValueError(f"{fn}: state key {k!r} is reserved by the safetensors format")
        arr = _array_of(v)
        if arr is None:
            raise TypeError(f"{fn}: state[{k!r}] must be an array or Tensor, got "
                            f"{type(v).__name__}")
        tensors[k] = arr
    return tensors


def _check_finite(fn: str, *groups: Mapping[str, np.ndarray]) -> None:
    for tensors in groups:
        for k, a in tensors.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                bad = int(a.size - np.isfinite(a).sum())
                raise ValueError(f"{fn}: tensor {k!r} holds {bad} non-finite value(s) (NaN or "
                                 "inf); refusing to write a broken checkpoint")


def save_checkpoint(path: PathLike, state: Mapping[str, Any],
                    meta: Optional[Mapping[str, Any]] = None, *,
                    check_finite: bool = True) -> CheckpointPaths:
    """Save model weights and a meta dict as ``<stem>.safetensors`` (the weights only) +
    ``<stem>.json`` (the meta) + ``<stem>.meta.safetensors`` (the meta's arrays, if any).

    Args:
        path: the stem, any of its files, or an existing folder (see :func:`checkpoint_paths`).
        state: parameter name -> array or Tensor (e.g. ``model.state_dict()``).
        meta: JSON-like dict (str/int/float/bool/None, lists, dicts); arrays anywhere inside
            are stored in the meta's arrays file. Non-finite floats are refused (JSON has
            none), and so are integers of over ``MAX_INT_DIGITS`` (100) digits, which
            :func:`load_checkpoint` would refuse to read.
        check_finite: refuse NaN or inf in any floating array, so a diverged run never
            overwrites a good checkpoint.

    Returns:
        The paths of the checkpoint (``arrays`` exists only if the meta holds arrays).

    Raises:
        ValueError: a non-finite value, a reserved name, or a bad meta value.
        TypeError: a value that is neither JSON nor an array.

    Example:
        >>> import tempfile, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_checkpoint(f"{d}/run", {"fc.weight": np.ones((2, 3), np.float32)},
        ...                         {"epoch": 3, "optim": {"state": {0: {"step": 7}}}})
        ...     state, meta = load_checkpoint(f"{d}/run")
        >>> state["fc.weight"].shape, meta["epoch"], meta["optim"]["state"][0]["step"]
        ((2, 3), 3, 7)
    """
    fn = "save_checkpoint"
    tensors = _check_state(fn, state)
    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(f"{fn}: meta must be a dict, got {type(meta).__name__}")
    arrays: dict[str, np.ndarray] = {}
    encoded_meta = _encode(dict(meta or {}), "", arrays)
    if check_finite:
        _check_finite(fn, tensors, arrays)

    paths = checkpoint_paths(path)
    paths.weights.parent.mkdir(parents=True, exist_ok=True)
    files = {"weights": (paths.weights, *_tensor_file(tensors, paths.weights))}
    if arrays:
        files["arrays"] = (paths.arrays, *_tensor_file(arrays, paths.arrays))
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "weights": files["weights"][2],
        "arrays": files["arrays"][2] if arrays else None,
        "state_keys": list(tensors),
        "meta": encoded_meta,
    }
    text = json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False) + "\n"

    moved = []
    try:
        for part, (target, chunks, _) in files.items():
            if _set_aside(target, _recorded_sha(paths.meta, part)):
                moved.append(target)
            write_atomic(target, chunks)
        write_atomic(paths.meta, text)  # the commit
    except BaseException:
        for target in moved:
            if not target.exists():
                try:  # best effort; load_checkpoint also falls back to .prev
                    os.replace(_prev(target), target)
                except OSError:
                    pass
        raise
    stale = [_prev(paths.weights), _prev(paths.arrays)] + ([] if arrays else [paths.arrays])
    for leftover in stale:  # what the JSON no longer names
        if leftover.exists():
            leftover.unlink()
    return paths


# -- load ------------------------------------------------------------------------------------

def _check_record(doc: dict[str, Any], part: str, label: str, optional: bool) -> None:
    record = doc.get(part)
    if optional and record is None:
        return
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        raise CheckpointError(f"load_checkpoint: {label}: {part!r} must hold the sha256 of the "
                              f"{part} file{', or be null' if optional else ''}, got {record!r}")


def _read_json(meta_path: Path) -> dict[str, Any]:
    label = os.fspath(meta_path)
    size = meta_path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise CheckpointError(f"load_checkpoint: {label}: {size} bytes, over the limit of "
                              f"{MAX_JSON_BYTES} for a checkpoint JSON")
    raw = meta_path.read_bytes()
    try:
        doc = parse_json(raw.decode("utf-8"), f"load_checkpoint: {label}: the file")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"load_checkpoint: {label}: not a valid JSON file ({exc})."
                              + _pickle_hint(raw[:8])) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"load_checkpoint: {label}: expected format {FORMAT!r}, got {got!r}")
    version = doc.get("version")
    if version not in READABLE or isinstance(version, bool):
        raise CheckpointError(f"load_checkpoint: {label}: unsupported version {version!r}, "
                              f"expected one of {list(READABLE)}")
    _check_record(doc, "weights", label, optional=False)
    if version == 1:
        if "arrays" in doc:
            raise CheckpointError(f"load_checkpoint: {label}: a version 1 checkpoint has no "
                                  "'arrays' (its meta's arrays are in the weights file)")
    else:
        _check_record(doc, "arrays", label, optional=True)
    keys = doc.get("state_keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) \
            or len(set(keys)) != len(keys):
        raise CheckpointError(f"load_checkpoint: {label}: 'state_keys' must be a list of "
                              "distinct strings")
    if not isinstance(doc.get("meta"), dict):
        raise CheckpointError(f"load_checkpoint: {label}: 'meta' must be an object")
    return doc


def _load_recorded(path: Path, expected: str, what: str, meta_path: Path
                   ) -> tuple[dict[str, np.ndarray], Path]:
    """The tensors of ``path``, or of its ``.prev`` copy: the one whose SHA-256 is
    ``expected``, parsed from the bytes hashed (validated as by ``load_file``)."""
    seen = []
    for candidate in (path, _prev(path)):
        if not candidate.is_file():
            continue
        buf = _read_file_bytes(candidate)
        actual = hashlib.sha256(buf).hexdigest()
        if actual == expected:
            return load_bytes(buf, os.fspath(candidate))[0], candidate
        seen.append(f"{candidate} has {actual}")
    found = "; ".join(seen) if seen else f"{path} does not exist"
    raise CheckpointError(
        f"load_checkpoint: {meta_path} expects {what} with SHA-256 {expected}, but {found}: "
        f"the checkpoint is half-updated (an interrupted save) or the {what} were modified")


def load_checkpoint(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint`, validating everything first.

    Each tensor file must have the SHA-256 recorded in the JSON (if it does not, because a
    save was interrupted, its ``.prev`` copy that does is used); it is then parsed from the
    same bytes with the checks of :func:`~chainrule.io.safetensors.load_file`. The weights
    file must hold exactly the state keys, the arrays file exactly the arrays the meta refers
    to. A version 1 checkpoint (the meta's arrays inside the weights file) loads too. Nothing
    is unpickled, ever.

    Args:
        path: the stem, any of its files, or a folder (see :func:`checkpoint_paths`).

    Returns:
        ``(state, meta)``: state is name -> array in the saved order; meta as saved, with its
        arrays restored (tuples come back as lists).

    Raises:
        FileNotFoundError: the JSON file does not exist.
        CheckpointError: any inconsistency, with the file and the expected vs actual value;
            a JSON file that :func:`~chainrule.io.jsonio.parse_json` refuses (NaN or Infinity,
            an integer of over 100 digits, a key named twice, nesting too deep).

    Example:
        >>> import tempfile, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_checkpoint(d, {"b": np.zeros(2)}, {"buf": np.arange(3)})
        ...     state, meta = load_checkpoint(d)
        >>> list(state), meta["buf"].tolist()
        (['b'], [0, 1, 2])
    """
    given = Path(path)
    if given.is_file() and given.suffix not in (".json", ".safetensors"):
        head = given.read_bytes()[:8]
        raise CheckpointError(f"load_checkpoint: {given}: not a chainrule checkpoint (expected "
                              "<stem>.json + <stem>.safetensors)." + _pickle_hint(head))
    weights, meta_path, arrays_path = checkpoint_paths(path)
    if not meta_path.is_file():
        raise FileNotFoundError(f"load_checkpoint: {meta_path} not found (a checkpoint is "
                                f"{meta_path.name} + {weights.name})")
    doc = _read_json(meta_path)
    tensors, chosen = _load_recorded(weights, doc["weights"]["sha256"], "weights", meta_path)
    if doc["version"] == 1:
        pool, pool_file = tensors, chosen  # the meta's arrays are in the weights file
    elif doc["arrays"] is None:
        pool, pool_file = {}, arrays_path
    else:
        pool, pool_file = _load_recorded(arrays_path, doc["arrays"]["sha256"], "meta arrays",
                                         meta_path)

    used: set[str] = set()
    try:
        meta = _decode(doc["meta"], pool, used, os.fspath(meta_path))
    except RecursionError:
        raise CheckpointError(f"load_checkpoint: {meta_path}: the meta is nested too deeply to "
                              "restore") from None
    keys = doc["state_keys"]
    missing = [k for k in keys if k not in tensors]
    if missing:
        raise CheckpointError(f"load_checkpoint: {chosen}: missing tensors {missing} listed in "
                              f"{meta_path.name}")
    if doc["version"] == 1:  # one file: the state keys, then the meta's arrays
        unexpected = {chosen: [k for k in tensors if k not in used and k not in keys]}
    else:
        unexpected = {chosen: [k for k in tensors if k not in keys],
                      pool_file: [k for k in pool if k not in used]}
    for tensor_file, extra in unexpected.items():
        if extra:
            raise CheckpointError(f"load_checkpoint: {tensor_file}: unexpected tensors {extra}, "
                                  f"neither state keys nor arrays of the meta in "
                                  f"{meta_path.name}")
    return {k: tensors[k] for k in keys}, meta


# -- into a model ----------------------------------------------------------------------------

def load_into(module: Any, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
    """Copy ``state`` into a module's parameters, after checking that it fits.

    Keys, value types, shapes and dtypes are all checked against ``module.state_dict()`` and
    every value converted first (the checks of ``Module.load_state_dict``, in
    :mod:`chainrule.autograd.state_load`); only then is anything copied, so a checkpoint that
    does not fit leaves the model untouched. The copy
    is in place (``np.copyto`` into each ``tensor._data``), which keeps parameter identity (an
    optimizer holding them still works); it relies on ``state_dict()`` returning the live
    tensors or arrays, as PyTorch's does.

    Args:
        module: any object with ``state_dict()`` -> ordered name -> Tensor (or array).
        state: name -> array or Tensor, e.g. from :func:`load_checkpoint`.
        strict: missing or unexpected keys are an error; if False they are skipped and
            returned. Shapes must match either way.

    Returns:
        The missing and unexpected keys (both empty when strict).

    Raises:
        CheckpointError: missing/unexpected keys (strict), a value that is not an array or
            Tensor, a shape mismatch, a dtype that does not convert (text, objects, complex
            into real, float into int); every problem is listed, each naming its key.

    Example:
        >>> import numpy as np
        >>> class Tiny:
        ...     def __init__(self): self.w = np.zeros(2, np.float32)
        ...     def state_dict(self): return {"w": self.w}
        >>> m = Tiny()
        >>> load_into(m, {"w": np.array([1.0, 2.0])})
        <All keys matched successfully>
        >>> m.w
        array([1., 2.], dtype=float32)
    """
    fn, name = "load_into", type(module).__name__
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}: state must be a dict, got {type(state).__name__}")
    takes_keep_vars = "keep_vars" in inspect.signature(module.state_dict).parameters
    # keep_vars: the live tensors themselves, so an in-place write bumps their versions
    target = module.state_dict(keep_vars=True) if takes_keep_vars else module.state_dict()
    plan = plan_state_load(target, state, strict)
    if plan.errors:
        raise CheckpointError(f"{fn}: the state does not fit {name} (nothing was copied): "
                              + " ".join(plan.errors))
    assign_state(target, plan.values)
    return IncompatibleKeys(plan.missing_keys if not strict else [],
                            plan.unexpected_keys if not strict else [])
