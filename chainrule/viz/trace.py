"""The backward trace: every forward op and every backward step as a row of a table.

``with chainrule.trace() as t:`` records what runs inside; ``print(t)`` shows, in execution
order, each forward op (its inputs and output) and each backward step (the upstream gradient,
the op's local derivative, the gradient passed to each input, and a note where a broadcast
was summed back). ``t.to_markdown()`` and ``t.to_json()`` export the same rows.

This module records (the :class:`Trace`, and what its rows hold); :mod:`.trace_render` turns
the rows into the text and Markdown tables and the JSON document.

How it hooks in: while a trace is recording it is ``autograd.grad_mode.state.tracer``, which
``Function.__call__`` and the backward engine call (``on_forward``/``on_backward``); outside a
trace that attribute is None and nothing else runs. Ops that a backward itself runs (``Mul``'s
backward computes ``gy * x1``; ``unbroadcast`` calls ``SumTo``) also reach ``on_forward``: they
are told apart by the engine's ``on_backward_begin``/``on_backward_end`` calls, and kept with the
backward step they belong to (``inner_ops``), not as forward rows.

The local derivative of a row is the one its Function states (``Function.derivative``, through
``local_derivative``); a Function that states none but documents ``dy/dx = ...`` on its
docstring's first paragraph (a user's own) is shown with that. Where the op is elementwise
(``Function.elementwise``) the table also shows the derivative's value, grad_input / upstream.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy

from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor
from . import trace_render
from .format import (MAX_ELEMS, format_dtype, format_number, format_shape, format_summary,
                     format_value, jsonable_value)
from .graph import param_names
from .trace_render import COLUMNS

__all__ = ["trace", "Trace", "TraceRow", "TensorInfo", "COLUMNS"]

# ============================================================================ derivative notes
_DOC_DERIVATIVE = re.compile(r"\bd(\w+)/d(\w+)\s*=\s*([^;\n]+?)\.?\s*(?:;|$)", re.MULTILINE)


def _formula(fn: Any, i: int) -> Optional[str]:
    """The local derivative of ``fn`` for input ``i`` as a template, or None: what the Function
    states, else what its docstring documents."""
    template = fn.local_derivative(i, format_number)
    return template if template is not None else _doc_derivative(type(fn))


def _doc_derivative(cls: type) -> Optional[str]:
    """``-1 / x^2`` from a docstring line like ``y = 1 / x; dy/dx = -1 / x^2.``, for a Function
    that states no ``derivative`` of its own."""
    if cls.derivative:
        return None
    m = _DOC_DERIVATIVE.search((cls.__doc__ or "").strip().split("\n\n")[0])
    return m.group(3).strip().replace("{", "{{").replace("}", "}}") if m else None


def _is_elementwise(fn: Any) -> bool:
    cls = type(fn)
    return cls.elementwise or _doc_derivative(cls) is not None  # a documented dy/dx


# ============================================================================ records
@dataclass
class TensorInfo:
    """What a trace keeps of one tensor: a label, shape, dtype and its numbers or summary.

    Attributes:
        label: the tensor's name, ``outK`` for the output of step K, ``bwK.J`` for the result
            of the J-th op run by backward step K, ``leafK``/``constK`` for other leaves, or
            the value of a scalar constant.
        shape: the shape.
        dtype: the dtype's name.
        numbers: ``{"value": ...}`` or ``{"summary": {...}}`` (see ``format.jsonable_value``),
            empty when the values were not recorded.
        text: the numbers formatted for a table cell (empty when not recorded).
    """

    label: str
    shape: tuple[int, ...]
    dtype: str
    numbers: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    ref: Optional[Callable[[], Any]] = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: label, shape, dtype and the value or summary."""
        return {"label": self.label, "shape": list(self.shape), "dtype": self.dtype,
                **self.numbers}


@dataclass
class TraceRow:
    """One step of a trace: a forward op or the backward of one node.

    Attributes:
        step: 1-based position in execution order.
        phase: ``"forward"`` or ``"backward"``.
        op: the op (``"Mul"``) in forward rows, the node (``"MulBackward0"``, its ``name()``, as PyTorch names it) in backward rows.
        inputs: the op's inputs (None for an absent optional input).
        outputs: the op's outputs (for a backward row: the node's forward outputs).
        forward_step: for a backward row, the step of the forward op it differentiates.
        upstream: the gradient arriving at each output (backward rows).
        grads: the gradient passed to each input, None where none is needed.
        local: per input, the local derivative as text (None where no gradient).
        notes: remarks, such as a broadcast summed back to an input's shape.
        inner_ops: the ops the backward itself ran (``{"op", "inputs", "output"}`` shapes).
        backward_pass: which backward call (1, 2, ...) a backward row belongs to.
        needs_grad: per input, whether autograd wants its gradient (a gradient returned for
            an input that needs none is dropped by the engine).
    """

    step: int
    phase: str
    op: str
    inputs: list[Optional[TensorInfo]]
    outputs: list[TensorInfo]
    forward_step: Optional[int] = None
    upstream: list[Optional[TensorInfo]] = field(default_factory=list)
    grads: list[Optional[TensorInfo]] = field(default_factory=list)
    local: list[Optional[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inner_ops: list[dict[str, Any]] = field(default_factory=list)
    backward_pass: Optional[int] = None
    needs_grad: list[bool] = field(default_factory=list)
    _templates: list[tuple[Optional[str], Optional[str]]] = field(
        default_factory=list, repr=False, compare=False)
    _note_templates: list[str] = field(default_factory=list, repr=False, compare=False)


# ============================================================================ the tracer
class Trace:
    """Records the forward ops and backward steps run inside a ``with`` block.

    Use :func:`trace` to make one. Rows are in :attr:`rows`; ``str(t)`` is the table.

    Args:
        params: a Module, a dict ``name -> Tensor`` or named Tensors, to label parameters.
        max_elems: tensors with at most this many elements are recorded by value, larger
            ones by their mean, std, min and max.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> with Trace(params={"w": w}) as t:
        ...     cr.relu(w).sum().backward()
        >>> t.backward_rows[0].op, t.backward_rows[1].local
        ('SumBackward0', ['dout1/dw = 1 where w > 0, else 0 = [1, 0]'])
    """

    def __init__(self, params: Any = None, max_elems: int = MAX_ELEMS) -> None:
        if not isinstance(max_elems, int) or max_elems < 0:
            raise ValueError(f"trace: max_elems must be a non-negative int, got {max_elems!r}")
        self.rows: list[TraceRow] = []
        self.max_elems = max_elems
        self._names = param_names(params, "trace")
        self._labels: dict[int, tuple[Any, str]] = {}  # id(tensor) -> (weakref, label)
        self._fn_steps: dict[int, tuple[Any, int]] = {}  # id(node) -> (weakref, forward step)
        self._produced: dict[int, tuple[Any, TensorInfo]] = {}  # id(output) -> its record
        self._counter = 0
        self._in_backward = 0
        self._passes = 0
        self._pending: list[dict[str, Any]] = []
        self._active = False
        self._frozen = False

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> "Trace":
        if self._active:
            raise RuntimeError("trace: this trace is already recording (nested `with` on the "
                               "same trace)")
        self._active = True
        self._frozen = False
        self._prev_tracer = state.tracer
        state.tracer = self
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._freeze()
        finally:
            state.tracer = self._prev_tracer
            self._active = False
            self._in_backward = 0
            self._pending = []

    # ------------------------------------------------------------------ hooks
    def on_backward_begin(self) -> None:
        """Called as a backward pass starts: ops from now on belong to backward steps."""
        if self._in_backward == 0:
            self._passes += 1
        self._in_backward += 1

    def on_backward_end(self) -> None:
        """Called as a backward pass ends."""
        self._in_backward = max(self._in_backward - 1, 0)
        if self._in_backward == 0:
            self._pending = []

    def on_forward(self, fn: Any, inputs: Sequence[Optional[Tensor]],
                   outputs: Sequence[Tensor]) -> None:
        """Record op ``fn`` (a forward row, or an inner op of the current backward step)."""
        if self._in_backward:
            entry: dict[str, Any] = {
                "op": type(fn).__name__,
                "inputs": [None if t is None else list(t.shape) for t in inputs],
                "output": [list(o.shape) for o in outputs]}
            k = len(self._pending) + 1
            for i, o in enumerate(outputs):  # results made by backward: bwSTEP.K
                self._remember(o, f"bw{len(self.rows) + 1}.{k}" + (f".{i}" if i else ""))
            if type(fn).__name__ == "SumTo" and outputs:
                entry["_out"] = weakref.ref(outputs[0])
                entry["_from"] = tuple(inputs[0].shape) if inputs and inputs[0] is not None \
                    else None
            self._pending.append(entry)
            return
        step = len(self.rows) + 1
        self._fn_steps[id(fn)] = (weakref.ref(fn), step)
        for t in inputs:
            self._refresh(t)
        ins = [None if t is None else self._info(t) for t in inputs]
        for i, o in enumerate(outputs):
            self._remember(o, f"out{step}" if len(outputs) == 1 else f"out{step}.{i}")
        outs = [self._info(o) for o in outputs]
        for o, info in zip(outputs, outs):
            self._produced[id(o)] = (weakref.ref(o), info)
        self.rows.append(TraceRow(step, "forward", type(fn).__name__, ins, outs))

    def on_backward(self, fn: Any, grad_outputs: Sequence[Optional[Tensor]],
                    grad_inputs: Sequence[Optional[Tensor]]) -> None:
        """Record the backward of node ``fn``: upstream gradients, local derivatives, grads."""
        step = len(self.rows) + 1
        inner, self._pending = self._pending, []
        entry = self._fn_steps.get(id(fn))
        fstep = entry[1] if entry is not None and entry[0]() is fn else None
        for t in (*fn.inputs, *(ref() for ref in fn.outputs)):
            self._refresh(t)
        ins = [None if t is None else self._info(t, values=False) for t in fn.inputs]
        if fstep is not None:
            outs = self.rows[fstep - 1].outputs
        else:
            outs = []
            for i, ref in enumerate(fn.outputs):
                o = ref()
                if o is not None:
                    outs.append(self._info(o, values=False))
                else:
                    g = grad_outputs[i] if i < len(grad_outputs) else None
                    outs.append(TensorInfo("out", tuple(g.shape) if g is not None else (),
                                           format_dtype(g.dtype) if g is not None else "?"))
        upstream = [None if g is None else self._info(g, label="upstream")
                    for g in grad_outputs]
        grads = [None if g is None else self._info(g, label="grad") for g in grad_inputs]
        row = TraceRow(step, "backward", fn.name(), ins, outs, forward_step=fstep,
                       upstream=upstream, grads=grads, backward_pass=self._passes or None)
        row.needs_grad = [bool(n) for n in getattr(fn, "needs_input_grad", ())]
        row.inner_ops = [{k: v for k, v in e.items() if not k.startswith("_")} for e in inner]
        elementwise = _is_elementwise(fn)
        gy = grad_outputs[0] if len(grad_outputs) == 1 else None
        for i, (t, gx) in enumerate(zip(fn.inputs, grad_inputs)):
            if gx is None or t is None:
                row._templates.append((None, None))
                continue
            value = None
            if elementwise and gy is not None and gx.shape == gy.shape and \
                    gx._data.size <= self.max_elems:
                value = _ratio(gx._data, gy._data)
            formula = _formula(fn, i)
            if formula is None and value is None:
                formula = f"computed by {type(fn).__name__}.backward"
            row._templates.append((formula, value))
            note = _broadcast_note(inner, gx, t, gy, elementwise)
            if note is not None:
                row._note_templates.append("{x%d}: %s" % (i, note))
        self.rows.append(row)

    # ------------------------------------------------------------------ labels
    def _remember(self, t: Tensor, label: str) -> None:
        self._labels[id(t)] = (weakref.ref(t), label)

    def _refresh(self, t: Optional[Tensor]) -> None:
        """Give the recorded output ``t`` the name it has been given since."""
        if t is None:
            return
        entry = self._produced.get(id(t))
        if entry is not None and entry[0]() is t:
            name = self._names.get(id(t)) or t.name
            if name:
                entry[1].label = name

    def _label(self, t: Tensor) -> str:
        name = self._names.get(id(t)) or t.name
        if name:
            return name
        entry = self._labels.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        if t.grad_fn is None and not t.requires_grad and t._data.size == 1:
            return format_value(t, 1)  # a constant such as the 2 in x * 2
        self._counter += 1
        if t.grad_fn is not None:
            label = f"t{self._counter}"  # made before the trace started
        else:
            label = f"{'leaf' if t.requires_grad else 'const'}{self._counter}"
        self._remember(t, label)
        return label

    def _info(self, t: Tensor, values: bool = True, label: Optional[str] = None) -> TensorInfo:
        info = TensorInfo(label if label is not None else self._label(t), tuple(t.shape),
                          format_dtype(t.dtype))
        if values:
            info.numbers = jsonable_value(t._data, self.max_elems)
            if "summary" in info.numbers:  # reuse the statistics: one pass over big arrays
                info.text = (f"{format_shape(t.shape)} "
                             f"{format_summary(info.numbers['summary'])}")
            else:
                info.text = format_value(t._data, self.max_elems)
        if label is None:
            info.ref = weakref.ref(t)
        return info

    def _resolve(self, info: Optional[TensorInfo]) -> str:
        """The label of ``info``, updated with a name given after it was recorded."""
        if info is None:
            return "-"
        if info.ref is not None:
            t = info.ref()
            if t is not None:
                name = self._names.get(id(t)) or t.name
                if name:
                    return name
        return info.label

    def _settle(self) -> list[TraceRow]:
        """The rows, their labels and local-derivative texts brought up to date (a name given
        to a tensor after its op ran is picked up); once the block has ended they are fixed."""
        if not self._frozen:
            for row in self.rows:
                for info in (*row.inputs, *row.outputs):
                    if info is not None:
                        info.label = self._resolve(info)
            for row in self.rows:
                self._fill_local(row)
        return self.rows

    def _freeze(self) -> None:
        """Fix labels and local-derivative texts for good (the block has ended)."""
        if self._frozen:
            return
        for row in self._settle():
            for info in (*row.inputs, *row.outputs):
                if info is not None:
                    info.ref = None
        self._frozen = True

    def _fill_local(self, row: TraceRow) -> None:
        if row.phase != "backward":
            return
        subs = {f"x{i}": self._resolve(t) for i, t in enumerate(row.inputs)}
        subs["y"] = self._resolve(row.outputs[0]) if row.outputs else "y"
        out = subs["y"]
        row.local = []
        for i, (template, value) in enumerate(row._templates):
            if template is None and value is None:
                row.local.append(None)
                continue
            formula = _fill(template, subs) if template is not None else None
            head = f"d{_paren(out)}/d{_paren(subs.get(f'x{i}', '?'))} = "
            if formula is None:
                text = value or ""
            elif value is None or value == formula:
                text = formula
            else:
                text = f"{formula} = {value}"
            row.local.append(head + text)
        row.notes = [_fill(n, subs) for n in row._note_templates]

    # ------------------------------------------------------------------ views
    @property
    def forward_rows(self) -> list[TraceRow]:
        """The forward rows, in order."""
        return [r for r in self.rows if r.phase == "forward"]

    @property
    def backward_rows(self) -> list[TraceRow]:
        """The backward rows, in order."""
        return [r for r in self.rows if r.phase == "backward"]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __repr__(self) -> str:
        return (f"<Trace: {len(self.forward_rows)} forward and {len(self.backward_rows)} "
                f"backward steps>")

    def cells(self, row: TraceRow) -> list[list[str]]:
        """The table cells of ``row``, one list of lines per column of :data:`COLUMNS`.

        Args:
            row: a row of this trace.

        Returns:
            Nine cells; each is a list of lines (one per input or output where it applies).

        Example:
            >>> import chainrule as cr
            >>> with trace() as t:
            ...     y = cr.tensor(2.0) * 3
            >>> t.cells(t.rows[0])[:5]
            [['1'], ['forward'], ['Mul'], ['2 ()', '3 ()'], ['out1 = 6']]
        """
        self._settle()
        return trace_render.cells(row)

    def table(self, max_rows: Optional[int] = None) -> tuple[list[str], list[list[list[str]]]]:
        """The header and cells of the table, without the columns that are empty everywhere.

        Args:
            max_rows: keep only the first ``max_rows`` rows (all by default).

        Returns:
            ``(header, rows)`` where each row is a list of cells and a cell a list of lines.

        Example:
            >>> import chainrule as cr
            >>> with trace() as t:
            ...     y = cr.tensor(2.0) * 3
            >>> t.table()[0]
            ['step', 'phase', 'op', 'inputs', 'output']
        """
        return trace_render.table(self._settle(), max_rows)

    def to_text(self, max_rows: Optional[int] = None, max_width: int = 72) -> str:
        """The trace as a plain-text table for a terminal.

        Args:
            max_rows: show only the first ``max_rows`` rows; a last line says how many more.
            max_width: cut every line of a cell to this many characters.

        Returns:
            The table; a cell with one line per input spans several text lines.

        Example:
            >>> import chainrule as cr
            >>> x = cr.tensor(3.0, requires_grad=True); x.name = "x"
            >>> with cr.trace() as t:
            ...     y = x * x
            ...     y.backward()
            >>> lines = t.to_text().splitlines()
            >>> lines[0].split(" | ")[:3]
            ['step', 'phase   ', 'op                 ']
            >>> [cell.strip() for cell in lines[4].split(" | ")]  # step 2, first input
            ['2', 'backward', 'MulBackward0 (of 1)', 'x ()', '', '1', 'dout1/dx = x = 3', 'x: 3']
        """
        return trace_render.text(self._settle(), max_rows, max_width)

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self, max_rows: Optional[int] = None) -> str:
        """The trace as a Markdown table (lines within a cell joined by ``<br>``).

        Args:
            max_rows: show only the first ``max_rows`` rows; a last line says how many more.

        Returns:
            The Markdown text.

        Example:
            >>> import chainrule as cr
            >>> with cr.trace() as t:
            ...     y = cr.tensor(2.0) + 1
            >>> print(t.to_markdown(), end="")
            | step | phase | op | inputs | output |
            |---|---|---|---|---|
            | 1 | forward | Add | 2 ()<br>1 () | out1 = 3 |
        """
        return trace_render.markdown(self._settle(), max_rows)

    def to_html(self, max_rows: Optional[int] = None) -> str:
        """The trace as an HTML table: what Jupyter shows for a trace (``_repr_html_``).

        Args:
            max_rows: show only the first ``max_rows`` rows; a last line says how many more.

        Returns:
            The HTML text (``<table class="chainrule-trace">``), every cell escaped.

        Example:
            >>> import chainrule as cr
            >>> with cr.trace() as t:
            ...     y = cr.tensor(2.0) + 1
            >>> t.to_html().count("<tr>"), "<td>out1 = 3</td>" in t.to_html()
            (2, True)
        """
        return trace_render.html(self._settle(), max_rows)

    def _repr_html_(self) -> str:
        return self.to_html(max_rows=200)

    def to_dict(self) -> dict[str, Any]:
        """All rows as JSON-ready dicts (see :meth:`to_json`).

        Returns:
            ``{"format": "chainrule.trace", "version": 1, "rows": [...]}``.

        Example:
            >>> import chainrule as cr
            >>> with trace() as t:
            ...     y = cr.tensor(2.0) * 3
            >>> t.to_dict()["rows"][0]["outputs"]
            [{'label': 'out1', 'shape': [], 'dtype': 'float32', 'value': 6.0}]
        """
        return trace_render.document(self._settle())

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The trace as strict JSON (non-finite numbers written as ``"nan"``/``"inf"``).

        Args:
            indent: JSON indentation (None for one line).

        Returns:
            The JSON text; ``json.loads`` gives back :meth:`to_dict`.

        Example:
            >>> import json, chainrule as cr
            >>> with cr.trace() as t:
            ...     y = cr.tensor([1.0, 2.0]) * 2
            >>> json.loads(t.to_json())["rows"][0]["outputs"][0]["value"]
            [2.0, 4.0]
        """
        return trace_render.json_text(self._settle(), indent)


def trace(params: Any = None, max_elems: int = MAX_ELEMS) -> Trace:
    """Record the forward ops and the backward steps run inside a ``with`` block.

    Exported as ``chainrule.trace``. Outside the block nothing is recorded and nothing costs.
    The previous tracer is restored on exit, even after an exception.

    Args:
        params: a Module, a dict ``name -> Tensor`` or named Tensors, to label parameters
            (tensors' own ``.name`` is used too, even when set after the op ran).
        max_elems: tensors with at most this many elements are recorded by value, larger
            ones by their mean, std, min and max.

    Returns:
        A :class:`Trace`, to use as a context manager; print it for the table.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(3.0, requires_grad=True); x.name = "x"
        >>> with cr.trace() as t:
        ...     y = x * 2
        ...     y.backward()
        >>> [(r.phase, r.op) for r in t]
        [('forward', 'Mul'), ('backward', 'MulBackward0')]
        >>> t.backward_rows[0].local  # None: the constant 2 needs no gradient
        ['dout1/dx = 2', None]
    """
    return Trace(params=params, max_elems=max_elems)


# ============================================================================ helpers
def _fill(template: str, subs: dict[str, str]) -> str:
    try:
        return template.format(**subs)
    except (KeyError, IndexError, ValueError):
        return template


def _ratio(gx: Any, gy: Any) -> Optional[str]:
    """grad_input / upstream element by element, where the upstream has no zero."""
    gy64 = numpy.asarray(gy, dtype=numpy.float64)
    if gy64.size == 0 or not numpy.all(numpy.isfinite(gy64)) or numpy.any(gy64 == 0):
        return None
    with numpy.errstate(all="ignore"):
        r = numpy.asarray(gx, dtype=numpy.float64) / gy64
    return format_value(r, r.size)


def _broadcast_note(inner: list[dict[str, Any]], gx: Tensor, t: Any, gy: Optional[Tensor],
                    elementwise: bool) -> Optional[str]:
    """A note when the gradient for input ``t`` was summed back from a broadcast shape."""
    for e in inner:
        ref = e.get("_out")
        if ref is not None and ref() is gx and e.get("_from") is not None:
            return (f"gradient summed from {format_shape(e['_from'])} to "
                    f"{format_shape(gx.shape)} (undoing the broadcast)")
    if elementwise and gy is not None and tuple(gy.shape) != tuple(t.shape):
        return (f"gradient summed from {format_shape(gy.shape)} to {format_shape(t.shape)} "
                f"(undoing the broadcast)")
    return None


def _paren(label: str) -> str:
    """``x`` stays ``x``; a label that is not a name (``2``, ``out1.0``) gets parentheses."""
    return label if label.isidentifier() else f"({label})"
