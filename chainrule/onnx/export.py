"""``chainrule.onnx.export``: record a model's forward pass and write it as an ONNX file.

How it works, as ``torch.onnx.export``'s tracer:

1. The model runs in eval mode on the example ``args`` (its training flags are restored
   after), with grad enabled, while a recorder sits in the engine's tracer slot: every
   Function it runs is kept with its inputs, outputs, call site and module path.
   Python control flow is traced as run: a branch on the data is recorded as taken.
2. With ``dynamic_axes``, the model runs a second time with those input axes one longer
   (the inputs tiled along them). Both recordings must run the same ops; a size that
   differs between them (a ``view(B, -1)``, a state of zeros per sample) is written as a
   function of the runtime size (``-1`` or ``Shape``-based), and a constant that differs
   is refused, since it would be wrong at other sizes.
3. The ops the outputs depend on are kept; each is converted by its entry in
   :data:`chainrule.onnx.converters.CONVERTERS`. An op without one raises
   :class:`ExportError` naming it, its call site and module path, before anything is
   written. Parameters and buffers become initializers named by their ``state_dict``
   names; other constant tensors become initializers too.
4. ``onnx.checker.check_model(full_check=True)`` checks the model, which is then written
   atomically (a temporary file renamed over ``f``).
"""
from __future__ import annotations

import io
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy

from ..autograd.tensor import Tensor
from ..io.files import write_atomic
from .converters import converter_for
from .graph import ExportError, Graph, Op
from .record import OpRecord, flatten_outputs, record

SUPPORTED_OPSETS = (17, 18)


def export(model: Any, args: Any, f: Union[str, "os.PathLike[str]", io.IOBase],
           input_names: Optional[Sequence[str]] = None,
           output_names: Optional[Sequence[str]] = None,
           dynamic_axes: Optional[Mapping[str, Any]] = None,
           opset_version: int = 17) -> Any:
    """Export ``model`` to ONNX by running it on ``args``, as ``torch.onnx.export``.

    Args:
        model: a ``chainrule.nn.Module`` (or a callable of Tensors).
        args: the example input: a Tensor, or a tuple of Tensors (arrays are accepted).
        f: the file to write (a path; replaced atomically) or a binary file object.
        input_names: names of the graph inputs (default ``input`` or ``input_0, ...``).
        output_names: names of the graph outputs (default ``output`` or ``output_0, ...``).
        dynamic_axes: ``{name: {axis: "batch"}}`` or ``{name: [axis, ...]}`` for inputs and
            outputs: those axes are symbolic, so the file runs at any size there. All
            dynamic input axes share one size (the batch).
        opset_version: 17 (default) or 18.

    Returns:
        The ``onnx.ModelProto`` written.

    Raises:
        ExportError: an op without an ONNX mapping or arguments ONNX cannot express (the
            message names the op, its call site and module path); nothing is written.
        ImportError: the ``onnx`` package is missing (``pip install chainrule[onnx]``).

    Example:
        >>> import io, chainrule as cr, chainrule.onnx
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU())
        >>> buf = io.BytesIO()
        >>> proto = chainrule.onnx.export(model, cr.randn(2, 4), buf,
        ...                               dynamic_axes={"input": {0: "batch"}})
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Relu', 'Identity']
    """
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:  # pragma: no cover - the extra is installed in the test env
        raise ImportError("chainrule.onnx.export needs the onnx package: pip install "
                          "'chainrule[onnx]'") from e
    if opset_version not in SUPPORTED_OPSETS:
        raise ValueError(f"export: opset_version must be one of {SUPPORTED_OPSETS}, got "
                         f"{opset_version!r}")
    inputs = _as_inputs(args)
    in_names = _names(input_names, len(inputs), "input")
    dyn = _dynamic_axes(dynamic_axes)
    params = _state_names(model)

    training = _set_eval(model)
    try:
        out1, rec1 = _run(model, inputs)
        outs = flatten_outputs(out1)
        out_names = _names(output_names, len(outs), "output")
        _check_dynamic_names(dyn, in_names, out_names, inputs, outs)
        g = Graph(opset_version)
        rec2 = None
        outs2 = None
        symbol = _symbol(dyn, in_names, inputs)
        if symbol is not None:
            k, axis, n1 = symbol
            n2 = n1 + 1
            inputs2 = [_tiled(t, dyn.get(name, {}), n2) for t, name in zip(inputs, in_names)]
            out2, rec2 = _run(model, inputs2)
            outs2 = flatten_outputs(out2)
            _check_same_ops(rec1.records, rec2.records, n1, n2)
            g.symbol = (in_names[k], axis, n1, n2)
            g.symbol_name = dyn[in_names[k]][axis]
    finally:
        _restore(training)

    for t, name in zip(inputs, in_names):
        g.names[id(t)] = name
        g.arrays[id(t._data)] = name
        g.used.add(name)
    g.used.update(out_names)
    g.keep.extend(inputs)
    needed = _needed(rec1.records, outs)
    for k, r in enumerate(rec1.records):  # every missing mapping, before converting any
        if needed[k] and converter_for(r.fn) is None:
            raise ExportError(
                f"export: no ONNX mapping for {r.op} ({r.fn.name()}), called at {r.site} in "
                f"module {r.module or '<top>'}; supported ops are listed in docs/onnx.md "
                f"(chainrule.onnx.register adds a mapping)")
    resolver = _Resolver(g, params)
    for k, r in enumerate(rec1.records):
        if not needed[k]:
            continue
        r2 = None if rec2 is None else rec2.records[k]
        op = Op(g, r, r2, resolver.tensor, resolver.array)
        names = converter_for(r.fn)(op)
        if len(names) != len(r.outputs):
            raise AssertionError(f"the converter of {r.op} returned {len(names)} outputs "
                                 f"for {len(r.outputs)}")
        for o, name, v in zip(r.outputs, names, r.out_versions):
            g.names[id(o)] = name
            g.arrays[id(o._data)] = name
            g.versions[id(o)] = v
            g.producers[id(o)] = r
        g.keep.extend(r.outputs)

    graph_outputs = []
    for j, (o, name) in enumerate(zip(outs, out_names)):
        src = g.names.get(id(o))
        if src is not None and g.versions.get(id(o), o._version) != o._version:
            raise ExportError(f"export: output {j} (shape {tuple(o.shape)}) was modified in "
                              f"place after the op that made it; in-place writes are not "
                              f"recorded: use out-of-place ops")
        if src is None:
            src = resolver.tensor(None, o, None if outs2 is None else outs2[j], f"output {j}")
        g.node("Identity", [src], outputs=[name])
        shape2 = None if outs2 is None else outs2[j].shape
        graph_outputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(o.dtype),
            _value_shape(o.shape, shape2, dyn.get(name, {}), g)))
    graph_inputs = [helper.make_tensor_value_info(
        name, helper.np_dtype_to_tensor_dtype(t.dtype),
        [dyn.get(name, {}).get(a, d) for a, d in enumerate(t.shape)])
        for t, name in zip(inputs, in_names)]
    kept_nodes, kept_inits = _live(g, out_names)
    nodes = [helper.make_node(op_type, ins, outs_, name=f"{op_type}_{k}", **attrs)
             for k, (op_type, ins, outs_, attrs) in enumerate(kept_nodes)]
    inits = [numpy_helper.from_array(numpy.ascontiguousarray(a).reshape(numpy.shape(a)), name)
             for name, a in g.initializers.items() if name in kept_inits]
    graph = helper.make_graph(nodes, type(model).__name__, graph_inputs, graph_outputs, inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset_version)],
                              producer_name="chainrule", ir_version=8)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"export: the ONNX checker refused the graph: {e}") from None
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)  # type: ignore[union-attr]
    else:
        write_atomic(os.fspath(f), data)  # type: ignore[arg-type]
    return proto


def _live(g: Graph, outputs: list[str]) -> tuple[list, set]:
    """The nodes the outputs depend on (in order) and the initializers they read: a
    converter that found a better form (Gemm reading a weight directly) leaves the nodes it
    did not use behind."""
    wanted = set(outputs)
    kept = []
    for node in reversed(g.nodes):
        if any(o in wanted for o in node[2]):
            kept.append(node)
            wanted.update(i for i in node[1] if i)
    kept.reverse()
    return kept, wanted


# ============================================================================ the runs
def _as_inputs(args: Any) -> list[Tensor]:
    items = args if isinstance(args, (tuple, list)) else (args,)
    out = []
    for a in items:
        if isinstance(a, Tensor):
            data = a._data
        elif isinstance(a, (numpy.ndarray, numpy.generic)):
            data = numpy.asarray(a)
        else:
            raise TypeError(f"export: args must be Tensors (or a tuple of them), got a "
                            f"{type(a).__name__}")
        out.append(Tensor(numpy.array(data, copy=True),
                          requires_grad=data.dtype.kind == "f"))
    return out


def _names(given: Optional[Sequence[str]], n: int, kind: str) -> list[str]:
    if given is None:
        return [kind] if n == 1 else [f"{kind}_{i}" for i in range(n)]
    names = [str(s) for s in given]
    if len(names) != n:
        raise ValueError(f"export: {len(names)} {kind} names for {n} {kind}s")
    if len(set(names)) != n:
        raise ValueError(f"export: {kind} names must be distinct, got {names}")
    return names


def _dynamic_axes(dynamic_axes: Optional[Mapping[str, Any]]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, Mapping):
            out[name] = {int(a): str(s) for a, s in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    return out


def _check_dynamic_names(dyn: dict, in_names: list, out_names: list, inputs: list,
                         outs: list) -> None:
    shapes = dict(zip(in_names, [t.shape for t in inputs]))
    shapes.update(zip(out_names, [t.shape for t in outs]))
    for name, axes in dyn.items():
        if name not in shapes:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input "
                             f"({in_names}) nor an output ({out_names})")
        for a in list(axes):
            nd = len(shapes[name])
            if not -nd <= a < nd:
                raise ValueError(f"export: dynamic axis {a} of {name!r} is out of range for "
                                 f"its shape {tuple(shapes[name])}")
            if a < 0:
                axes[a % nd] = axes.pop(a)


def _symbol(dyn: dict, in_names: list, inputs: list) -> Optional[tuple[int, int, int]]:
    """(input index, axis, size) of the first dynamic input axis; all must share the size."""
    found = []
    for k, (name, t) in enumerate(zip(in_names, inputs)):
        for a in sorted(dyn.get(name, {})):
            found.append((k, a, t.shape[a], name))
    if not found:
        return None
    for name in in_names:
        if len(dyn.get(name, {})) > 1:  # two axes of one input: two sizes (a GPT's B and T)
            raise ExportError(f"export: input {name!r} has {len(dyn[name])} dynamic axes "
                              f"({sorted(dyn[name])}); one symbolic size (the batch, or the "
                              f"sequence) per export is supported")
    sizes = {n for _, _, n, _ in found}
    if len(sizes) > 1:
        raise ExportError(f"export: the dynamic input axes have different example sizes "
                          f"({', '.join(f'{nm}[{a}] = {n}' for _, a, n, nm in found)}); one "
                          f"symbolic size (the batch) per export is supported")
    k, a, n, _ = found[0]
    return k, a, n


def _tiled(t: Tensor, axes: dict, n2: int) -> Tensor:
    data = t._data
    for a in axes:
        data = numpy.take(data, numpy.arange(n2) % data.shape[a], axis=a)
    return Tensor(numpy.array(data, copy=True), requires_grad=data.dtype.kind == "f")


def _run(model: Any, inputs: list) -> Any:
    return record(model, tuple(inputs))


def _check_same_ops(a: list[OpRecord], b: list[OpRecord], n1: int, n2: int) -> None:
    for k, (r1, r2) in enumerate(zip(a, b)):
        if type(r1.fn) is not type(r2.fn):
            raise ExportError(
                f"export: the model runs other ops when the dynamic axis is {n2} long than "
                f"when it is {n1} (op {k}: {r1.op} at {r1.site} vs {r2.op} at {r2.site}): "
                f"Python control flow that depends on that size cannot have a dynamic axis")
    if len(a) != len(b):
        raise ExportError(f"export: the model runs {len(b)} ops when the dynamic axis is {n2} "
                          f"long but {len(a)} when it is {n1}: Python control flow depends on "
                          f"that size")


def _set_eval(model: Any) -> list:
    if not hasattr(model, "modules"):
        return []
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    return flags


def _restore(flags: list) -> None:
    for m, training in flags:
        m.training = training


def _state_names(model: Any) -> dict[int, tuple[str, Tensor]]:
    names: dict[int, tuple[str, Tensor]] = {}
    for getter in ("named_parameters", "named_buffers"):
        if hasattr(model, getter):
            for name, t in getattr(model, getter)():
                if t is not None and id(t) not in names:
                    names[id(t)] = (name, t)
    return names


def _needed(records: list[OpRecord], outs: list[Tensor]) -> list[bool]:
    """Which records the outputs depend on (inputs and arrays kept as attributes)."""
    wanted = {id(o) for o in outs}
    wanted_arrays: set[int] = set()
    needed = [False] * len(records)
    for k in range(len(records) - 1, -1, -1):
        r = records[k]
        if not any(id(o) in wanted or id(o._data) in wanted_arrays for o in r.outputs):
            continue
        needed[k] = True
        for t in r.inputs:
            if t is not None:
                wanted.add(id(t))
        for arr in _attribute_arrays(r.fn):
            wanted_arrays.add(id(arr))
    return needed


def _attribute_arrays(fn: Any) -> list:
    found = []
    for v in getattr(fn, "__dict__", {}).values():
        if isinstance(v, numpy.ndarray):
            found.append(v)
        elif isinstance(v, tuple):
            for w in v:
                if isinstance(w, numpy.ndarray):
                    found.append(w)
                elif isinstance(w, tuple):
                    found.extend(x for x in w if isinstance(x, numpy.ndarray))
    return found


def _value_shape(s1: tuple, s2: Optional[tuple], names: dict, g: Graph) -> list:
    dims: list = list(s1)
    for a in range(len(s1)):
        if a in names:
            dims[a] = names[a]
        elif s2 is not None and s1[a] != s2[a]:
            ab = g.dim_expr(s1[a], s2[a])
            dims[a] = _symbol_name(g) if ab == (1, 0) else None
    return dims


def _symbol_name(g: Graph) -> str:
    return g.symbol_name


# ============================================================================ constants
def _is_range(a: Any) -> bool:
    """Whether ``a`` is ``arange(len(a))`` (1-D, integer or float)."""
    return a.ndim == 1 and a.dtype.kind in "iuf" and bool(
        numpy.array_equal(a, numpy.arange(a.size)))


def _whole(a: Any) -> int:
    """The one element of ``a`` as an int; -1 unless it is a whole number >= 0."""
    v = a.flat[0]
    return int(v) if numpy.isfinite(v) and v >= 0 and v == int(v) else -1


def _onnx_dtype(dt: Any) -> int:
    from onnx import helper
    return int(helper.np_dtype_to_tensor_dtype(numpy.dtype(dt)))


class _Resolver:
    """Turns an op's input Tensor (or kept array) into an ONNX value name: a recorded value,
    a parameter or buffer (an initializer named by its state_dict name), or a constant."""

    def __init__(self, g: Graph, params: dict[int, tuple[str, Tensor]]) -> None:
        self.g, self.params = g, params
        self._dynamic_consts: dict[int, str] = {}

    def tensor(self, op: Optional[Op], t: Tensor, t2: Optional[Tensor], what: str) -> str:
        g = self.g
        name = g.names.get(id(t))
        if name is not None:
            return name
        if id(t) in self.params:
            pname, _ = self.params[id(t)]
            g.initializers[pname] = numpy.array(t._data, copy=True)
            g.used.add(pname)
            g.names[id(t)] = pname
            g.keep.append(t)
            return pname
        if t.grad_fn is not None:
            raise self._fail(op, f"its {what} was made by an op the exporter did not see")
        return self._constant(op, t._data, None if t2 is None else t2._data, what, t)

    def array(self, op: Op, arr: Any, arr2: Any, what: str) -> str:
        name = self.g.arrays.get(id(arr))
        if name is not None:
            return name
        return self._constant(op, numpy.asarray(arr), None if arr2 is None else
                              numpy.asarray(arr2), what, arr)

    def _constant(self, op: Optional[Op], a1: Any, a2: Any, what: str, owner: Any) -> str:
        g = self.g
        if a2 is not None and (a1.shape != a2.shape or not numpy.array_equal(a1, a2,
                                                                             equal_nan=True)):
            if _is_range(a1) and _is_range(a2) and g.dim_expr(a1.size, a2.size) is not None:
                key = id(owner)  # arange(T) with T the dynamic axis (a GPT's positions)
                if key not in self._dynamic_consts:  # 0, 1, ..., n - 1: an exclusive
                    from onnx import numpy_helper     # CumSum of ones (onnxruntime's
                    n = g.shape_value((a1.size,), (a2.size,),  # Range-Gather fusion fails)
                                      lambda: self._where(op, what))
                    ones = g.one("ConstantOfShape", [n], value=numpy_helper.from_array(
                        numpy.ones(1, dtype=a1.dtype)))
                    self._dynamic_consts[key] = g.one("CumSum", [ones, g.ints([0])],
                                                      exclusive=1)
                    g.keep.append(owner)
                return self._dynamic_consts[key]
            if a1.size == 1 and a1.shape == a2.shape and a1.dtype.kind in "iuf" and \
                    g.dim_expr(_whole(a1), _whole(a2)) == (1, 0):
                key = id(owner)  # the dynamic size itself (kl_div's 'batchmean' divisor)
                if key not in self._dynamic_consts:
                    n = g.one("Cast", [g.symbol_value()], to=_onnx_dtype(a1.dtype))
                    self._dynamic_consts[key] = g.one("Reshape", [n, g.ints(a1.shape)])
                    g.keep.append(owner)
                return self._dynamic_consts[key]
            uniform = a1.size and a2.size and numpy.all(a1 == a1.flat[0]) and \
                numpy.all(a2 == a1.flat[0])
            if a1.shape == a2.shape or not uniform:
                raise self._fail(op, f"its {what} is a constant (computed outside the "
                                     f"recorded ops, e.g. with NumPy, a comparison or "
                                     f"argmax) that changes with the dynamic axis "
                                     f"(shape {a1.shape} vs {a2.shape})")
            key = id(owner)
            if key not in self._dynamic_consts:  # a filled tensor sized by the batch
                from onnx import numpy_helper
                shape = g.shape_value(a1.shape, a2.shape, lambda: self._where(op, what))
                value = numpy_helper.from_array(numpy.array([a1.flat[0]], dtype=a1.dtype))
                self._dynamic_consts[key] = g.one("ConstantOfShape", [shape], value=value)
                g.keep.append(owner)
            return self._dynamic_consts[key]
        name = g.const(numpy.array(a1, copy=True), "const")
        if isinstance(owner, Tensor):
            g.names[id(owner)] = name
            g.keep.append(owner)
        return name

    @staticmethod
    def _where(op: Optional[Op], what: str) -> str:
        return (f"export: cannot export {op.where()}: its {what}" if op is not None
                else f"export: the model's {what}")

    def _fail(self, op: Optional[Op], rule: str) -> ExportError:
        if op is not None:
            return op.fail(rule)
        return ExportError(f"export: {rule}")
