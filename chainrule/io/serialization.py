"""``save`` and ``load``: PyTorch's ``torch.save`` / ``torch.load``, without pickle.

::

    chainrule.save(model.state_dict(), "model.pth")
    model.load_state_dict(chainrule.load("model.pth", weights_only=True))

What can be saved: tensors and NumPy arrays, and dicts, OrderedDicts, lists, tuples, sets and
frozensets of them and of None, bool, int, float (NaN and inf included), str and bytes: the
state dicts of modules, optimizers and schedulers, and the dicts a training script puts them in
(``{"model": ..., "optimizer": ..., "epoch": 3}``). Dict keys may be str, int, float, bool,
None or tuples of these, and come back with their types (an optimizer's state has int keys).
Objects are not saved: a Module, an optimizer or any other class raises a TypeError naming
where it sits (save its ``state_dict()`` instead).

The file (one file, whatever its name) is a safetensors file, so nothing in it can run code:

- every tensor is stored under its path in the object (``conv1.weight``,
  ``optimizer.state.0.momentum_buffer``; ``#1``, ``#2`` appended where two paths give one
  name); a tensor met twice (the same object) is stored once and loads as one object;
- ``__metadata__`` holds ``{"format": "chainrule.save", "version": "1", "structure": S}``,
  ``S`` the object as JSON text: null, booleans, numbers (finite), strings and arrays (lists)
  stand for themselves, and every JSON object is one tagged node: ``{"dict": [[key, value],
  ...]}``, ``{"odict": [...]}``, ``{"tuple": [...]}``, ``{"set": [...]}``, ``{"frozenset":
  [...]}``, ``{"float": "nan" | "inf" | "-inf"}``, ``{"bytes": name}`` (a uint8 tensor) and
  ``{"tensor": {"name": name, "type": "Tensor" | "Parameter" | "ndarray", "requires_grad":
  bool}}``.

So any safetensors reader reads a chainrule file's tensors, and a state dict saved by
:func:`save` loads into a PyTorch model as
``model.load_state_dict(safetensors.torch.load_file("model.pth"))``.

:func:`load` trusts nothing: the safetensors checks of :func:`~chainrule.io.load_file`
(header bounds, dtypes, shapes, byte counts), the structure parsed strictly
(:func:`~chainrule.io.jsonio.parse_json`), every node, tensor name and type checked, every
stored tensor used. A PyTorch file (a zip archive or a bare pickle) is refused, never
unpickled; a plain safetensors file (no structure) loads as a dict of name -> tensor. Every
problem is one :class:`~chainrule.io.errors.SerializationError` naming the file.
"""
from __future__ import annotations

import json
import math
import mmap as mmap_module
import os
from collections import OrderedDict
from typing import IO, Any, Callable, NoReturn, Optional, Union

import numpy as np

from ..autograd.tensor import Tensor
from ..device import check_device
from .errors import CheckpointError, SerializationError
from .files import write_atomic
from .jsonio import MAX_INT_DIGITS, int_fits, parse_json
from .safetensors import (_NAME_OF, DTYPES, _pickle_kind, _read_file_bytes, _serialize,
                          load_bytes)

FileLike = Union[str, "os.PathLike[str]", IO[bytes]]

FORMAT = "chainrule.save"
"""``__metadata__["format"]`` of a file :func:`save` writes."""
VERSION = 1
_SAVE, _LOAD = "chainrule.save", "chainrule.load"
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_SEQUENCES: dict[str, Callable[[list], Any]] = {"tuple": tuple, "set": set,
                                                "frozenset": frozenset}
_TENSOR_TYPES = ("Tensor", "Parameter", "ndarray")
_TENSOR_KEYS = {"name", "type", "requires_grad"}


# -- save ------------------------------------------------------------------------------------

def _float_node(value: float) -> Any:
    """A float as JSON: itself when finite, else ``{"float": "nan" | "inf" | "-inf"}``."""
    if math.isfinite(value):
        return value
    return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


class _Saver:
    """Walks an object: stores its tensors by path (:attr:`arrays`) and returns its structure
    as JSON values (:meth:`encode`)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.stored: dict[int, tuple[Any, str]] = {}  # id(tensor) -> (tensor, its name)
        self.open: set[int] = set()  # the containers on the current path (a cycle check)

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.arrays or name == "__metadata__":
            name, i = f"{base}#{i}", i + 1
        return name

    def encode(self, value: Any, where: str, name: str) -> Any:
        if isinstance(value, np.generic):
            value = value.item()  # a NumPy scalar as the Python number it holds
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            if not int_fits(value):
                raise ValueError(f"{_SAVE}: {where} is an integer of over {MAX_INT_DIGITS} "
                                 "digits, more than the file's JSON holds; store it as a str")
            return value
        if isinstance(value, float):
            return _float_node(value)
        if isinstance(value, (Tensor, np.ndarray)):
            return self.tensor(value, where, name)
        if isinstance(value, bytes):
            stored = self.unique(name or "bytes")
            self.arrays[stored] = np.frombuffer(value, np.uint8)
            return {"bytes": stored}
        if callable(getattr(value, "state_dict", None)):
            raise TypeError(f"{_SAVE}: {where} is a {type(value).__name__}, an object with a "
                            "state_dict(); chainrule saves data, never objects (nothing is "
                            "pickled): save its state_dict() instead, e.g. "
                            "chainrule.save(model.state_dict(), PATH), and restore it with "
                            "model.load_state_dict(chainrule.load(PATH))")
        if isinstance(value, (dict, list, tuple, set, frozenset)):
            if id(value) in self.open:
                raise ValueError(f"{_SAVE}: {where} contains itself; a file holds trees only")
            self.open.add(id(value))
            try:
                return self.container(value, where, name)
            finally:
                self.open.discard(id(value))
        raise TypeError(f"{_SAVE}: {where} has type {type(value).__name__}, which "
                        "chainrule.save cannot store (tensors, arrays, dicts, lists, tuples, sets, None, "
                        "bool, int, float, str and bytes only; nothing is pickled)")

    def container(self, value: Any, where: str, name: str) -> Any:
        if isinstance(value, dict):
            tag = "odict" if isinstance(value, OrderedDict) else "dict"
            return {tag: [[self.key(k, where), self.encode(
                v, f"{where}[{k!r}]", f"{name}.{k}" if name else str(k))]
                for k, v in value.items()]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]", f"{name}.{i}" if name else str(i))
                    for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v, f"{where}[{i}]", f"{name}.{i}" if name else str(i))
                              for i, v in enumerate(value)]}
        tag = "set" if isinstance(value, set) else "frozenset"
        return {tag: [self.key(v, where, "an element of") for v in value]}

    def key(self, key: Any, where: str, what: str = "a key of") -> Any:
        """A dict key or set element: a plain hashable value (str, int, float, bool, None, or
        a tuple of these), encoded."""
        if isinstance(key, np.generic):
            key = key.item()
        if isinstance(key, tuple):
            return {"tuple": [self.key(k, where, what) for k in key]}
        if key is None or isinstance(key, (bool, int, float, str)):
            return self.encode(key, f"{what} {where}", "")
        raise TypeError(f"{_SAVE}: {what} {where} is {key!r} of type {type(key).__name__}; "
                        "keys and set elements must be str, int, float, bool, None or tuples "
                        "of these")

    def tensor(self, value: Any, where: str, name: str) -> dict[str, Any]:
        if isinstance(value, np.ndarray):
            kind, array, grad = "ndarray", value, False
        else:
            kind = "Parameter" if type(value).__name__ == "Parameter" else "Tensor"
            array, grad = value._data, value.requires_grad
        known = self.stored.get(id(value))
        if known is not None:
            stored = known[1]
        else:
            if (array.dtype.kind, array.dtype.itemsize) not in _NAME_OF:
                raise TypeError(f"{_SAVE}: {where} has dtype {array.dtype}, which the file "
                                f"cannot hold; supported: "
                                f"{', '.join(str(d) for d in DTYPES.values())}")
            stored = self.unique(name or "tensor")
            self.arrays[stored] = array
            self.stored[id(value)] = (value, stored)
        return {"tensor": {"name": stored, "type": kind, "requires_grad": bool(grad)}}


def _file_chunks(obj: Any) -> list[Any]:
    """The bytes of the file :func:`save` writes for ``obj``: its header, then its buffers."""
    saver = _Saver()
    try:
        structure = saver.encode(obj, "obj", "")
    except RecursionError:
        raise ValueError(f"{_SAVE}: obj is nested too deeply to save") from None
    text = json.dumps(structure, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    meta = {"format": FORMAT, "version": str(VERSION), "structure": text}
    header, buffers = _serialize(saver.arrays, meta)
    return [header] + [a.reshape(-1).view(np.uint8) for a in buffers]


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: Any = None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (tensors inside dicts, lists, tuples, numbers, str...) to one file, as
    ``torch.save`` does, without pickle.

    The whole file is built first, so an object that cannot be saved writes nothing; a path is
    written atomically (a temporary file renamed over it: a crash leaves the old file whole).
    The format is described in :mod:`chainrule.io.serialization`.

    Args:
        obj: a tensor, array, or a dict/list/tuple/set of them and of None, bool, int, float,
            str and bytes (e.g. ``model.state_dict()``, ``optimizer.state_dict()``).
        f: a path (str or ``os.PathLike``), whatever its suffix (``"model.pth"``), or a binary
            file object open for writing (e.g. ``io.BytesIO``).
        pickle_module, pickle_protocol, _use_new_zipfile_serialization: PyTorch's pickle
            options, accepted and ignored: nothing is pickled.

    Raises:
        TypeError: ``obj`` holds an object (a Module, an optimizer: save its ``state_dict()``),
            a dtype the file cannot hold, or a dict key that is not a plain value; the message
            names where it sits (``obj['model']``).
        ValueError: ``obj`` contains itself, or an integer of over 100 digits.

    Example:
        >>> import io, chainrule as cr
        >>> buf = io.BytesIO()
        >>> cr.save({"w": cr.ones(2), "step": 3, 0: (1.5, None)}, buf)
        >>> _ = buf.seek(0)
        >>> cr.load(buf)
        {'w': tensor([1., 1.]), 'step': 3, 0: (1.5, None)}
    """
    chunks = _file_chunks(obj)
    if isinstance(f, (str, os.PathLike)):
        write_atomic(f, chunks)
        return
    write = getattr(f, "write", None)
    if not callable(write):
        raise TypeError(f"{_SAVE}: f must be a path or a binary file object with write(), got "
                        f"{type(f).__name__}")
    for chunk in chunks:
        write(chunk)


# -- load ------------------------------------------------------------------------------------

class _Loader:
    """Rebuilds an object from its structure and the file's tensors, checking every node."""

    def __init__(self, arrays: dict[str, np.ndarray], fail: Callable[[str], NoReturn]) -> None:
        self.arrays, self.fail = arrays, fail
        self.made: dict[str, tuple[tuple[str, bool], Any]] = {}  # name -> (spec, object)
        self.used: set[str] = set()

    def decode(self, node: Any, where: str) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict) or len(node) != 1:
            self.fail(f"the structure at {where} is {_short(node)}, not a value or a node of "
                      "one tag")
        ((tag, body),) = node.items()
        if tag in ("dict", "odict"):
            return self.mapping(tag, body, where)
        if tag in _SEQUENCES:
            items = self.decode(self.listed(tag, body, where), where)
            return _SEQUENCES[tag](self.hashable(items, where) if "set" in tag else items)
        if tag == "float" and body in _FLOATS:
            return _FLOATS[body]
        if tag == "bytes" and isinstance(body, str):
            array = self.array(body, where)
            if array.dtype != np.uint8 or array.ndim != 1:
                self.fail(f"the bytes at {where} are stored as {body!r} of dtype {array.dtype} "
                          f"and shape {array.shape}, expected a 1-d uint8 tensor")
            return array.tobytes()
        if tag == "tensor" and isinstance(body, dict):
            return self.tensor(body, where)
        self.fail(f"the structure at {where} is {_short(node)}: an unknown tag or a malformed "
                  "body")

    def listed(self, tag: str, body: Any, where: str) -> list:
        if not isinstance(body, list):
            self.fail(f"the {tag} at {where} must hold a JSON array, got {_short(body)}")
        return body

    def hashable(self, items: list, where: str) -> list:
        for item in items:
            try:
                hash(item)
            except TypeError:
                self.fail(f"{where} holds a key or set element that is not hashable: "
                          f"{_short(item)}")
        return items

    def mapping(self, tag: str, body: Any, where: str) -> dict:
        out: dict = OrderedDict() if tag == "odict" else {}
        for pair in self.listed(tag, body, where):
            if not isinstance(pair, list) or len(pair) != 2:
                self.fail(f"the {tag} at {where} must hold [key, value] pairs, got "
                          f"{_short(pair)}")
            (key,) = self.hashable([self.decode(pair[0], f"a key of {where}")], where)
            if key in out:
                self.fail(f"the {tag} at {where} names the key {key!r} twice")
            out[key] = self.decode(pair[1], f"{where}[{key!r}]")
        return out

    def array(self, name: str, where: str) -> np.ndarray:
        if name not in self.arrays:
            self.fail(f"{where} refers to the tensor {name!r}, which the file does not hold")
        self.used.add(name)
        return self.arrays[name]

    def tensor(self, body: dict, where: str) -> Any:
        name, kind, grad = body.get("name"), body.get("type"), body.get("requires_grad")
        if set(body) != _TENSOR_KEYS or not isinstance(name, str) \
                or kind not in _TENSOR_TYPES or not isinstance(grad, bool):
            self.fail(f"the tensor at {where} must be {{'name': str, 'type': one of "
                      f"{list(_TENSOR_TYPES)}, 'requires_grad': bool}}, got {_short(body)}")
        spec = (kind, grad)
        if name in self.made:  # the same tensor met again: the same object
            if self.made[name][0] != spec:
                self.fail(f"the tensor {name!r} is named twice with different types "
                          f"({self.made[name][0]} and {spec} at {where})")
            return self.made[name][1]
        array = self.array(name, where)
        if grad and (kind == "ndarray" or array.dtype.kind != "f"):
            self.fail(f"the tensor at {where} ({name!r}, {kind} of dtype {array.dtype}) cannot "
                      "require grad: only floating point tensors can")
        value = array if kind == "ndarray" else Tensor(array, requires_grad=grad)
        self.made[name] = (spec, value)
        return value


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_map_location(map_location: Any) -> None:
    """Every tensor loads on the CPU: ``map_location`` may be None, the CPU (a str or
    :class:`~chainrule.device`), or a dict whose targets are the CPU."""
    if isinstance(map_location, dict):
        for target in map_location.values():
            check_device(target, _LOAD)
    elif map_location is not None:
        if callable(map_location):
            raise TypeError(f"{_LOAD}: map_location as a function is not supported: every "
                            "tensor loads on the CPU; pass None or 'cpu'")
        check_device(map_location, _LOAD)


def _read(f: FileLike, use_mmap: bool) -> tuple[Any, str]:
    """The bytes of ``f`` (writable: a bytearray, or a copy-on-write memory map) and the name
    to give it in messages."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if not use_mmap:
            return _read_file_bytes(path, _LOAD), path
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return bytearray(), path
            return mmap_module.mmap(fh.fileno(), 0, access=mmap_module.ACCESS_COPY), path
    if use_mmap:
        raise ValueError("f must be a file path in order to use the mmap argument")
    read = getattr(f, "read", None)
    if not callable(read):
        raise TypeError(f"{_LOAD}: f must be a path or a binary file object with read(), got "
                        f"{type(f).__name__}")
    data = read()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"{_LOAD}: the file object gave {type(data).__name__}, not bytes: open "
                        "it in binary mode ('rb')")
    name = getattr(f, "name", None)
    return bytearray(data), name if isinstance(name, str) else f"<{type(f).__name__}>"


def load(f: FileLike, map_location: Any = None, pickle_module: Any = None, *,
         weights_only: Optional[bool] = None, mmap: Optional[bool] = None,
         **pickle_load_args: Any) -> Any:
    """Load an object saved by :func:`save`, as ``torch.load`` does, without pickle.

    The file is validated whole before anything is returned: the safetensors header (bounds,
    dtypes, shapes, byte counts), the structure (strict JSON, every node and tensor name),
    and every stored tensor used. A plain safetensors file (e.g. from
    ``safetensors.torch.save_file``) loads as a dict name -> tensor, its bfloat16 tensors as
    float32 (exact). A PyTorch ``.pth``/``.pt`` file is a pickle and is refused: chainrule
    never unpickles.

    Args:
        f: a path (str or ``os.PathLike``) or a binary file object open for reading (read from
            its position to its end).
        map_location: where tensors go: None, ``"cpu"``, ``chainrule.device("cpu")`` or a dict
            whose targets are the CPU (the only device); a GPU raises a RuntimeError.
        pickle_module, pickle_load_args: PyTorch's pickle options, accepted and ignored.
        weights_only: accepted (True, False or None) and changes nothing: a chainrule file
            holds data only, so loading it is always as safe as ``weights_only=True``.
        mmap: map the file into memory instead of reading it (a path only); its tensors are
            copy-on-write views of the map.

    Returns:
        The object as saved: dicts (OrderedDicts stay OrderedDicts) with their key types,
        lists, tuples, sets, numbers (NaN and inf), str, bytes; tensors as Tensors with their
        ``requires_grad`` (Parameters as Tensors that require grad), arrays as arrays; a tensor
        saved twice comes back as one object.

    Raises:
        FileNotFoundError: no file at ``f``.
        SerializationError: the file is truncated, garbage, a pickle, or its structure and
            tensors do not agree; one line naming the file and the fault (a ``RuntimeError``
            and a ``ValueError``).

    Example:
        >>> import os, tempfile, chainrule as cr
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = os.path.join(d, "model.pth")
        ...     cr.save({"state": {0: {"momentum_buffer": cr.zeros(2)}}, "lr": 0.1}, path)
        ...     cr.load(path, map_location="cpu", weights_only=True)
        {'state': {0: {'momentum_buffer': tensor([0., 0.])}}, 'lr': 0.1}
    """
    _check_map_location(map_location)
    data, label = _read(f, bool(mmap))
    prefix = f"{_LOAD}: {label}: "

    def fail(message: str) -> NoReturn:
        raise SerializationError(prefix + message)

    kind = _pickle_kind(data)
    if kind is not None:
        fail(f"not a chainrule file: it is {kind}, and chainrule never loads pickle (loading "
             "one can run arbitrary code). In PyTorch, save the weights with safetensors "
             "(safetensors.torch.save_file(model.state_dict(), 'model.safetensors')) and load "
             "that file here")
    try:
        arrays, metadata = load_bytes(data, label, _LOAD)
    except CheckpointError as exc:
        fail("not a valid chainrule file: " + str(exc).removeprefix(prefix))
    if metadata.get("format") != FORMAT:  # a plain safetensors file: its tensors by name
        return {name: Tensor(array) for name, array in arrays.items()}
    if metadata.get("version") != str(VERSION) or "structure" not in metadata:
        fail(f"a {FORMAT} file of version {metadata.get('version')!r} with "
             f"{'a' if 'structure' in metadata else 'no'} structure; this chainrule reads "
             f"version {VERSION}, which has one")
    try:
        structure = parse_json(metadata["structure"], prefix + "the structure")
    except json.JSONDecodeError as exc:
        fail(f"the structure is not valid JSON ({exc})")
    except CheckpointError as exc:
        raise SerializationError(str(exc)) from None
    loader = _Loader(arrays, fail)
    try:
        obj = loader.decode(structure, "obj")
    except RecursionError:
        fail("the structure is nested too deeply to restore")
    unused = [name for name in arrays if name not in loader.used]
    if unused:
        fail(f"the file holds tensors its structure never uses: {unused[:5]}")
    return obj
