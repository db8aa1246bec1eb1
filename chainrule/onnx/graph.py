"""The ONNX graph under construction, and the view of one recorded op its converter gets.

:class:`Graph` holds plain Python data (nodes as tuples, initializers as NumPy arrays) and
names every value; only :func:`chainrule.onnx.export` turns it into ``onnx`` protobufs, so
the converters never import ``onnx``. :class:`Op` is what a converter sees: the recorded
Function, its inputs as ONNX value names (parameters, buffers, constants and the model's
inputs resolved), their shapes, and, with dynamic axes, the same op recorded at a second
batch size, from which shapes that follow the batch are written as ``Shape``-based values.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy

from ..autograd.tensor import Tensor
from .record import OpRecord

INT64_MAX = numpy.iinfo(numpy.int64).max


class ExportError(RuntimeError):
    """The model cannot be exported: an op without an ONNX mapping, or one whose arguments
    the exporter cannot express; the message names the op, its call site and module path."""


class Graph:
    """Nodes, initializers and value names of the ONNX graph being built.

    Attributes:
        nodes: ``(op_type, inputs, outputs, attributes)`` tuples in topological order.
        initializers: name -> NumPy array.
        names: id of a Tensor -> its ONNX value name (graph inputs, op outputs, parameters,
            buffers and constants once used).
        arrays: id of a recorded Tensor's array -> its value name (ops that keep an input
            array as an attribute, e.g. the embedding's indices, are looked up by it).
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        self.initializers: dict[str, numpy.ndarray] = {}
        self.names: dict[int, str] = {}
        self.arrays: dict[int, str] = {}
        self.versions: dict[int, int] = {}  # id of a recorded Tensor -> its version when made
        self.producers: dict[int, OpRecord] = {}  # id of a recorded Tensor -> the op that made it
        self.keep: list[Any] = []  # keeps the Tensors whose ids are keys above alive
        self.used: set[str] = set()
        self.symbol: Optional[tuple[str, int, int, int]] = None  # (input, axis, n1, n2)
        self.symbol_name = "N"  # its dim_param in the graph's inputs and outputs
        self._symbol_value: Optional[str] = None
        self._counter = 0

    def fresh(self, hint: str) -> str:
        """A new value name from ``hint`` (``Conv_3``)."""
        while True:
            self._counter += 1
            name = f"{hint}_{self._counter}"
            if name not in self.used:
                self.used.add(name)
                return name

    def node(self, op_type: str, inputs: Sequence[str], n_out: int = 1,
             outputs: Optional[Sequence[str]] = None, **attrs: Any) -> list[str]:
        """Append a node; returns its output names (fresh unless given)."""
        outs = list(outputs) if outputs is not None else [self.fresh(op_type)
                                                          for _ in range(n_out)]
        self.nodes.append((op_type, list(inputs), outs, attrs))
        return outs

    def one(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        return self.node(op_type, inputs, 1, **attrs)[0]

    def const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        """An initializer holding ``value`` (an array or number, cast to ``dtype``)."""
        arr = numpy.array(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers[name] = arr
        return name

    def ints(self, values: Sequence[int], hint: str = "ints") -> str:
        """A 1-D int64 initializer (axes, shapes, pads)."""
        return self.const(numpy.asarray(list(values), dtype=numpy.int64).reshape(-1), hint)

    def symbol_value(self) -> str:
        """The runtime size of the dynamic axis, a 1-D int64 tensor of one element."""
        if self.symbol is None:
            raise AssertionError("no dynamic axis")
        if self._symbol_value is None:
            name, axis = self.symbol[0], self.symbol[1]
            self._symbol_value = self.one("Shape", [name], start=axis, end=axis + 1)
        return self._symbol_value

    def dim_expr(self, d1: int, d2: int) -> Optional[tuple[int, int]]:
        """(a, b) with d = a*N + b for a dimension of size d1 at N = n1 and d2 at N = n2;
        None where that has no integer solution."""
        assert self.symbol is not None
        n1, n2 = self.symbol[2], self.symbol[3]
        a, r = divmod(d2 - d1, n2 - n1)
        if r:
            return None
        return a, d1 - a * n1

    def shape_value(self, s1: Sequence[int], s2: Optional[Sequence[int]],
                    what: Callable[[], str]) -> str:
        """A 1-D int64 value holding a shape: constant, or computed from the runtime size
        of the dynamic axis where the dimension changes with it."""
        if s2 is None or tuple(s1) == tuple(s2):
            return self.ints(s1, "shape")
        if len(s1) != len(s2):
            raise ExportError(f"{what()}: its rank changes with the dynamic axis "
                              f"({tuple(s1)} vs {tuple(s2)})")
        pieces: list[str] = []
        run: list[int] = []
        for d1, d2 in zip(s1, s2):
            if d1 == d2:
                run.append(d1)
                continue
            if run:
                pieces.append(self.ints(run, "shape"))
                run = []
            ab = self.dim_expr(d1, d2)
            if ab is None:
                raise ExportError(f"{what()}: a dimension ({d1} vs {d2}) is not a multiple of "
                                  f"the dynamic axis plus a constant")
            a, b = ab
            v = self.symbol_value()
            if a != 1:
                v = self.one("Mul", [v, self.ints([a])])
            if b != 0:
                v = self.one("Add", [v, self.ints([b])])
            pieces.append(v)
        if run:
            pieces.append(self.ints(run, "shape"))
        return pieces[0] if len(pieces) == 1 else self.one("Concat", pieces, axis=0)


class Op:
    """One recorded op as its converter sees it.

    Attributes:
        fn: the Function instance (its attributes: axes, geometry, ...).
        fn2: the same op recorded at the second batch size (None without dynamic axes).
        record, record2: the :class:`OpRecord` s.
        g: the :class:`Graph`.
    """

    def __init__(self, g: Graph, record: OpRecord, record2: Optional[OpRecord],
                 resolve: Callable[["Op", Optional[Tensor], Optional[Tensor], str], str],
                 resolve_array: Callable[["Op", Any, Any, str], str]) -> None:
        self.g = g
        self.record, self.record2 = record, record2
        self.fn = record.fn
        self.fn2 = None if record2 is None else record2.fn
        self._resolve, self._resolve_array = resolve, resolve_array

    # ---------------------------------------------------------------- errors
    def where(self) -> str:
        r = self.record
        return f"{r.op} (called at {r.site}, module {r.module or '<top>'})"

    def fail(self, rule: str) -> ExportError:
        return ExportError(f"export: cannot export {self.where()}: {rule}")

    # ---------------------------------------------------------------- inputs
    @property
    def n_in(self) -> int:
        return len(self.record.inputs)

    def has(self, i: int) -> bool:
        return i < self.n_in and self.record.inputs[i] is not None

    def x(self, i: int = 0) -> str:
        """The ONNX value name of input ``i`` ("" for an absent optional input)."""
        t = self.record.inputs[i] if i < self.n_in else None
        if t is None:
            return ""
        t2 = None if self.record2 is None else self.record2.inputs[i]
        if self.record.versions and t._version != self.record.versions[i]:
            # written in place after this op read it: an in-place write is no op, so the
            # graph would have the later value (a recorded value) or the earlier one lost
            raise self.fail(f"its input {i} (shape {tuple(t.shape)}) was modified in place "
                            f"after this op read it (x += ..., x[i] = ...); in-place writes "
                            f"are not recorded: use out-of-place ops")
        name = self._resolve(self, t, t2, f"input {i}")
        if self.g.versions.get(id(t), t._version) != t._version:
            raise self.fail(f"its input {i} (shape {tuple(t.shape)}) was modified in place "
                            f"after the op that made it (x += ..., x[i] = ...); in-place "
                            f"writes are not recorded: use out-of-place ops")
        return name

    def producer(self, i: int) -> Optional[OpRecord]:
        """The recorded op that made input ``i`` (None for a leaf or constant)."""
        t = self.record.inputs[i] if i < self.n_in else None
        return None if t is None else self.g.producers.get(id(t))

    def leaf(self, t: Tensor, what: str) -> str:
        """The value name of a leaf Tensor other than an input's (a parameter, a constant);
        without a second recording to compare it with."""
        return self._resolve(self, t, None, what)

    def array(self, arr: Any, arr2: Any, what: str) -> str:
        """The value name of an array the Function keeps as an attribute (indices, masks)."""
        return self._resolve_array(self, arr, arr2, what)

    def shape(self, i: int = 0) -> tuple[int, ...]:
        return tuple(self.record.inputs[i].shape)

    def dtype(self, i: int = 0) -> numpy.dtype:
        return self.record.inputs[i].dtype

    def out_shape(self, j: int = 0) -> tuple[int, ...]:
        return tuple(self.record.outputs[j].shape)

    def out_shape2(self, j: int = 0) -> Optional[tuple[int, ...]]:
        return None if self.record2 is None else tuple(self.record2.outputs[j].shape)

    @property
    def out_dtype(self) -> numpy.dtype:
        return self.record.outputs[0].dtype

    def ndim(self, i: int = 0) -> int:
        return len(self.record.inputs[i].shape)

    # ---------------------------------------------------------------- static arguments
    def static(self, get: Callable[[Any], Any], what: str) -> Any:
        """``get(fn)``, checked to be the same at the second batch size (axes, sizes that
        the ONNX node takes as attributes cannot follow the batch)."""
        v1 = get(self.fn)
        if self.fn2 is not None:
            v2 = get(self.fn2)
            if not _same(v1, v2):
                raise self.fail(f"its {what} changes with the dynamic axis ({v1!r} vs {v2!r})")
        return v1

    def static_shape(self, i: int, what: str = "input shape") -> tuple[int, ...]:
        return self.static(lambda fn: tuple(self._rec(fn).inputs[i].shape), what)

    def _rec(self, fn: Any) -> OpRecord:
        return self.record if fn is self.fn else self.record2  # type: ignore[return-value]

    def shape_value(self, s1: Sequence[int], s2: Optional[Sequence[int]], what: str) -> str:
        """A shape (or sizes) as a 1-D int64 value; dimensions that follow the dynamic axis
        are computed from its runtime size (see :meth:`Graph.shape_value`)."""
        return self.g.shape_value(s1, s2, lambda: f"export: cannot export {self.where()}: "
                                                  f"its {what}")

    # ---------------------------------------------------------------- building
    def node(self, op_type: str, inputs: Sequence[str], n_out: int = 1, **attrs: Any
             ) -> list[str]:
        return self.g.node(op_type, inputs, n_out, **attrs)

    def one(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        return self.g.one(op_type, inputs, **attrs)

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        return self.g.const(value, hint, self.out_dtype if dtype is None else dtype)

    def ints(self, values: Sequence[int]) -> str:
        return self.g.ints(values)

    def reduce(self, op_type: str, x: str, axes: Optional[Sequence[int]], keepdims: bool) -> str:
        """``Reduce*`` over ``axes`` (None: all), the axes as an input or an attribute as the
        opset wants (ReduceSum takes an input from opset 13, the others from 18)."""
        if axes is not None and len(axes) == 0:
            return self.one("Identity", [x])
        as_input = op_type == "ReduceSum" or self.g.opset >= 18
        if axes is None:
            return self.one(op_type, [x], keepdims=int(keepdims))
        if as_input:
            return self.one(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.one(op_type, [x], axes=list(axes), keepdims=int(keepdims))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, numpy.ndarray) or isinstance(b, numpy.ndarray):
        return (isinstance(a, numpy.ndarray) and isinstance(b, numpy.ndarray)
                and a.shape == b.shape and bool(numpy.array_equal(a, b)))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - objects without a usable ==
        return a is b
