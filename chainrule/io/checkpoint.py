"""Checkpoints: weights in ``<stem>.safetensors``, everything else in ``<stem>.json``. No pickle.

``<stem>.json`` holds the meta dict (model name, config, epoch, metrics, optimizer state...) as
plain JSON. Arrays found anywhere inside the meta (e.g. momentum buffers) are stored in the
weights file under ``__meta__.<path>`` (``__meta__.optim.state.0.momentum_buffer``) and
referenced from the JSON as ``{"__tensor__": "<name>"}``. Dicts with int keys (as in optimizer
state) are kept as ``{"__items__": [[key, value], ...]}`` so the keys come back as ints.

Crash safety: each file is written atomically (:func:`chainrule.io.files.write_atomic`: a
temporary file, fsynced and renamed with ``os.replace``). The weights go first (the old
weights are kept as ``<stem>.safetensors.prev`` until the JSON is renamed), the JSON last; it
carries the SHA-256 of the weights file. So at every instant the JSON on disk matches either
``<stem>.safetensors`` or the ``.prev`` copy, and :func:`load_checkpoint` picks the one whose
hash matches: a killed save leaves the previous checkpoint loadable, and a half-updated pair is
detected, never silently mixed. What a killed save cannot remove is its temporary file
(``.<stem>.safetensors.<hex>.tmp``, ``.<stem>.json.<hex>.tmp``):
:func:`chainrule.io.files.remove_stale_temps` removes those where no save is running.

Reading trusts nothing: the JSON is parsed strictly (:func:`chainrule.io.jsonio.parse_json`:
no NaN or Infinity, no integer of over 100 digits, no key named twice), so a meta that loads
is one that :func:`save_checkpoint` can write again.
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

from ..autograd.state_load import assign_state, plan_state_load
from .errors import CheckpointError
from .files import write_atomic
from .jsonio import MAX_INT_DIGITS, int_fits, parse_json
from .safetensors import _pickle_hint, _read_file_bytes, _serialize, load_bytes

PathLike = Union[str, "os.PathLike[str]"]

FORMAT = "chainrule.checkpoint"
VERSION = 1
META_PREFIX = "__meta__."
"""Prefix of the weights-file entries that hold arrays found in the meta dict."""
MAX_JSON_BYTES = 256 * 1024 * 1024
_RESERVED = ("__tensor__", "__items__")


class CheckpointPaths(NamedTuple):
    """The two files of a checkpoint."""

    weights: Path
    meta: Path


class IncompatibleKeys(NamedTuple):
    """Keys of a state that :func:`load_into` (with ``strict=False``) could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def checkpoint_paths(path: PathLike) -> CheckpointPaths:
    """The files of the checkpoint named by ``path``.

    ``path`` may be the stem (``runs/lenet``), either file (``runs/lenet.json``,
    ``runs/lenet.safetensors``) or an existing folder (then the stem is ``folder/checkpoint``).

    Example:
        >>> checkpoint_paths("runs/lenet.json").weights.as_posix()
        'runs/lenet.safetensors'
    """
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        stem = p.with_suffix("")
    elif p.is_dir() or os.fspath(path).endswith(("/", os.sep)):
        stem = p / "checkpoint"
    else:
        stem = p
    return CheckpointPaths(stem.with_name(stem.name + ".safetensors"),
                           stem.with_name(stem.name + ".json"))


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
        base = META_PREFIX + (where[1:] if where else "root")
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
                                  "which the weights file does not hold")
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


def _recorded_sha(meta_path: Path) -> Optional[str]:
    """The weights hash the JSON on disk records, or None if there is no readable one."""
    try:
        doc = parse_json(meta_path.read_text(encoding="utf-8"), os.fspath(meta_path))
        return str(doc["weights"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):  # CheckpointError is a ValueError
        return None


def save_checkpoint(path: PathLike, state: Mapping[str, Any],
                    meta: Optional[Mapping[str, Any]] = None, *,
                    check_finite: bool = True) -> CheckpointPaths:
    """Save model weights and a meta dict as ``<stem>.safetensors`` + ``<stem>.json``.

    Args:
        path: the stem, either file name, or an existing folder (see :func:`checkpoint_paths`).
        state: parameter name -> array or Tensor (e.g. ``model.state_dict()``).
        meta: JSON-like dict (str/int/float/bool/None, lists, dicts); arrays anywhere inside
            are stored in the weights file. Non-finite floats are refused (JSON has none),
            and so are integers of over ``MAX_INT_DIGITS`` (100) digits, which
            :func:`load_checkpoint` would refuse to read.
        check_finite: refuse NaN or inf in any floating array, so a diverged run never
            overwrites a good checkpoint.

    Returns:
        The two paths written.

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
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}: state must be a dict of name -> array, got {type(state).__name__}")
    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(f"{fn}: meta must be a dict, got {type(meta).__name__}")
    tensors: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if not isinstance(k, str):
            raise TypeError(f"{fn}: state keys must be str, got {k!r}")
        if k.startswith(META_PREFIX) or k == "__metadata__":
            raise ValueError(f"{fn}: state key {k!r} uses the reserved prefix {META_PREFIX!r}")
        arr = _array_of(v)
        if arr is None:
            raise TypeError(f"{fn}: state[{k!r}] must be an array or Tensor, got "
                            f"{type(v).__name__}")
        tensors[k] = arr
    encoded_meta = _encode(dict(meta or {}), "", tensors)
    if check_finite:
        for k, a in tensors.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                bad = int(a.size - np.isfinite(a).sum())
                raise ValueError(f"{fn}: tensor {k!r} holds {bad} non-finite value(s) (NaN or "
                                 "inf); refusing to write a broken checkpoint")

    paths = checkpoint_paths(path)
    weights, meta_path = paths
    weights.parent.mkdir(parents=True, exist_ok=True)
    header, buffers = _serialize(tensors, {"format": FORMAT, "version": str(VERSION)})
    chunks = [header] + [a.reshape(-1).view(np.uint8) for a in buffers]
    digest = hashlib.sha256()
    for c in chunks:
        digest.update(c)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "weights": {"file": weights.name, "sha256": digest.hexdigest(),
                    "bytes": sum(len(memoryview(c).cast("B")) for c in chunks)},
        "state_keys": list(state.keys()),
        "meta": encoded_meta,
    }
    text = json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False) + "\n"

    prev = _prev(weights)
    moved = False
    if weights.exists() and prev.exists():
        # An earlier save was interrupted: keep as .prev whichever file the JSON describes.
        if _recorded_sha(meta_path) == _sha256_file(weights):
            os.replace(weights, prev)
        else:
            weights.unlink()  # the unreferenced leftover of the interrupted save
        moved = True
    elif weights.exists():
        os.replace(weights, prev)  # keep the weights the current JSON describes
        moved = True
    try:
        write_atomic(weights, chunks)
        write_atomic(meta_path, text)
    except BaseException:
        if moved and not weights.exists():
            try:  # best effort; load_checkpoint also falls back to .prev
                os.replace(prev, weights)
            except OSError:
                pass
        raise
    if prev.exists():
        prev.unlink()
    return paths


# -- load ------------------------------------------------------------------------------------

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
    if doc.get("version") != VERSION:
        raise CheckpointError(f"load_checkpoint: {label}: unsupported version "
                              f"{doc.get('version')!r}, expected {VERSION}")
    w = doc.get("weights")
    if not isinstance(w, dict) or not isinstance(w.get("sha256"), str):
        raise CheckpointError(f"load_checkpoint: {label}: 'weights' must hold the sha256 of the "
                              f"weights file, got {w!r}")
    keys = doc.get("state_keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) \
            or len(set(keys)) != len(keys):
        raise CheckpointError(f"load_checkpoint: {label}: 'state_keys' must be a list of "
                              "distinct strings")
    if not isinstance(doc.get("meta"), dict):
        raise CheckpointError(f"load_checkpoint: {label}: 'meta' must be an object")
    return doc


def load_checkpoint(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint`, validating everything first.

    The weights file must have the SHA-256 recorded in the JSON (if ``<stem>.safetensors``
    does not, because a save was interrupted, the ``.prev`` copy that does is used); it is
    then parsed from the same bytes with the checks of
    :func:`~chainrule.io.safetensors.load_file`; its tensors must be exactly the state keys
    plus the arrays the meta refers to. Nothing is unpickled, ever.

    Args:
        path: the stem, either file name, or a folder (see :func:`checkpoint_paths`).

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
    weights, meta_path = checkpoint_paths(path)
    if not meta_path.is_file():
        raise FileNotFoundError(f"load_checkpoint: {meta_path} not found (a checkpoint is "
                                f"{meta_path.name} + {weights.name})")
    doc = _read_json(meta_path)
    expected = doc["weights"]["sha256"]

    data, seen = None, []
    for candidate in (weights, _prev(weights)):
        if not candidate.is_file():
            continue
        buf = _read_file_bytes(candidate)
        actual = hashlib.sha256(buf).hexdigest()
        if actual == expected:
            data, chosen = buf, candidate
            break
        seen.append(f"{candidate} has {actual}")
    if data is None:
        found = "; ".join(seen) if seen else f"{weights} does not exist"
        raise CheckpointError(
            f"load_checkpoint: {meta_path} expects weights with SHA-256 {expected}, but {found}: "
            "the pair is half-updated (an interrupted save) or the weights were modified")
    tensors, _ = load_bytes(data, os.fspath(chosen))

    used: set[str] = set()
    try:
        meta = _decode(doc["meta"], tensors, used, os.fspath(meta_path))
    except RecursionError:
        raise CheckpointError(f"load_checkpoint: {meta_path}: the meta is nested too deeply to "
                              "restore") from None
    keys = doc["state_keys"]
    missing = [k for k in keys if k not in tensors]
    if missing:
        raise CheckpointError(f"load_checkpoint: {chosen}: missing tensors {missing} listed in "
                              f"{meta_path.name}")
    extra = [k for k in tensors if k not in used and k not in set(keys)]
    if extra:
        raise CheckpointError(f"load_checkpoint: {chosen}: unexpected tensors {extra}, not "
                              f"listed in {meta_path.name}")
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
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
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
