"""Recording a model's forward pass for the exporter: every op it runs, in order.

The exporter sits in the slot the engine already offers to tracers (``state.tracer``:
``Function.__call__`` reports each op it runs, recorded in the graph or not, with its inputs
and outputs). So nothing computed by a Function is invisible, not even under ``no_grad``;
what the recorder cannot see is work done outside Functions (NumPy on ``.numpy()``,
comparisons, ``argmax``): its results reach the ops as constants.

Each op is kept with the file:line of the code that called it (the innermost frame outside
chainrule's op machinery) and the module path of the innermost module running, known from
forward hooks that exist only while the recorder runs.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from ..autograd.grad_mode import set_grad_enabled, state
from ..autograd.tensor import Tensor, tensors_in

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP_DIRS = tuple(os.path.join(_PKG, d) + os.sep for d in ("autograd", "ops", "onnx"))
_SKIP_FILES = tuple(os.path.join(_PKG, "nn", f) for f in ("functional.py", "module.py"))


@dataclass
class OpRecord:
    """One op of the forward pass: the Function (with its attributes), its input and output
    Tensors, the call site and the module path."""

    fn: Any
    inputs: tuple
    outputs: tuple
    site: str
    module: str
    versions: tuple = ()  # each input's version (in-place writes) when the op read it
    out_versions: tuple = ()  # each output's version when made

    @property
    def op(self) -> str:
        return type(self.fn).__name__


def call_site() -> str:
    """file:line of the innermost frame outside chainrule's op machinery (autograd, ops,
    onnx, nn/functional.py, nn/module.py): the layer's forward or the user's code."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        fname = os.path.abspath(frame.f_code.co_filename)
        if not fname.startswith(_SKIP_DIRS) and fname not in _SKIP_FILES:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class Recorder:
    """A tracer for ``state.tracer`` that keeps every forward op as an :class:`OpRecord`."""

    def __init__(self, previous: Any = None) -> None:
        self.records: list[OpRecord] = []
        self.modules: list[str] = []
        self.previous = previous  # a trace() already running: it still gets its calls

    def on_forward(self, fn: Any, inputs: Any, outputs: Any) -> None:
        versions = tuple([None if t is None else getattr(t, "_version", 0) for t in inputs])
        self.records.append(OpRecord(fn, tuple(inputs), tuple(outputs), call_site(),
                                     self.modules[-1] if self.modules else "", versions,
                                     tuple([o._version for o in outputs])))
        if self.previous is not None:
            self.previous.on_forward(fn, inputs, outputs)

    # the engine calls these during a backward; a forward that runs one is passed through
    def on_backward_begin(self) -> None:
        if self.previous is not None:
            self.previous.on_backward_begin()

    def on_backward_end(self) -> None:
        if self.previous is not None:
            self.previous.on_backward_end()

    def on_backward(self, *args: Any) -> None:
        if self.previous is not None:
            self.previous.on_backward(*args)


def record(model: Any, args: tuple) -> tuple[Any, Recorder]:
    """Run ``model(*args)`` with grad enabled, recording its ops; returns (output, recorder).

    Module hooks name the module of each op; they and the tracer are removed in ``finally``.
    """
    rec = Recorder(state.tracer)
    handles = []
    named = model.named_modules() if hasattr(model, "named_modules") else ()
    for name, module in named:
        path = name or type(module).__name__

        def push(mod: Any, inputs: Any, path: str = path) -> None:
            rec.modules.append(path)

        def pop(mod: Any, inputs: Any, output: Any) -> None:
            if rec.modules:
                rec.modules.pop()

        handles.append(module.register_forward_pre_hook(push))
        handles.append(module.register_forward_hook(pop))
    state.tracer = rec
    try:
        with set_grad_enabled(True):
            out = model(*args)
    finally:
        state.tracer = rec.previous
        for h in handles:
            h.remove()
    return out, rec


def flatten_outputs(out: Any) -> list[Tensor]:
    """The Tensors of a model's output (a Tensor, or nested tuples/lists/dicts of them; None
    entries skipped), in order."""
    def refuse(item: Any) -> None:
        raise TypeError(f"export: the model returned a {type(item).__name__}; expected "
                        f"Tensors (or tuples, lists or dicts of them)")

    return tensors_in(out, refuse)

