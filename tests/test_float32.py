"""A LeNet-5 training step stays in float32: parameters, every activation, every gradient.

A float64 anywhere (a float64 constant, an integer one-hot, a ``np.sqrt`` of a Python float)
silently doubles memory and time; PyTorch stays in float32, so must we. Every op's output is
checked through the autograd trace hook (``Function.__call__`` reports each forward to
``state.tracer``, the engine each backward), every module's output through forward hooks.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.grad_mode import state
from chainrule.models import LeNet5

F32 = np.dtype(np.float32)


class DtypeRecorder:
    """A trace hook that records every floating array an op produces, forward and backward."""

    def __init__(self) -> None:
        self.forward: list[tuple[str, np.dtype]] = []
        self.backward: list[tuple[str, np.dtype]] = []

    @staticmethod
    def _floats(tensors: Sequence[Any]) -> Iterator[np.dtype]:
        for t in tensors:
            if t is not None and getattr(t, "data", None) is not None \
                    and t._data.dtype.kind in "fc":
                yield t._data.dtype

    def __getattr__(self, name: str) -> Any:
        """Any other trace callback (``on_backward_begin``...) is accepted and ignored."""
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_forward(self, fn: Any, inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
        self.forward += [(fn.name(), d) for d in self._floats(outputs)]

    def on_backward(self, fn: Any, grads_out: Sequence[Any], grads_in: Sequence[Any]) -> None:
        self.backward += [(fn.name(), d) for d in self._floats(grads_in)]
        self.backward += [(fn.name() + " (incoming)", d) for d in self._floats(grads_out)]


def _not_f32(records: list[tuple[str, np.dtype]]) -> list[tuple[str, str]]:
    return sorted({(name, str(d)) for name, d in records if d != F32})


@pytest.fixture
def recorder() -> Iterator[DtypeRecorder]:
    rec = DtypeRecorder()
    previous, state.tracer = state.tracer, rec
    try:
        yield rec
    finally:
        state.tracer = previous


def _train_steps(rec: DtypeRecorder, steps: int = 2) -> tuple[LeNet5, Any, list]:
    model = LeNet5()
    module_outputs: list[tuple[str, np.dtype]] = []
    for name, module in model.named_modules():
        module.register_forward_hook(
            lambda m, args, out, name=name: module_outputs.append((name or "model",
                                                                   out._data.dtype)))
    opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = cr.from_numpy(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
    y = cr.from_numpy(rng.integers(0, 10, 8).astype(np.int64))  # int64 labels, as torch
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        assert loss.dtype == F32
        loss.backward()
        opt.step()
    return model, opt, module_outputs


def test_every_op_output_and_gradient_is_float32(recorder: DtypeRecorder) -> None:
    _, _, module_outputs = _train_steps(recorder)
    assert recorder.forward and recorder.backward, "the trace hook saw no op"
    assert _not_f32(recorder.forward) == [], "forward ops producing non-float32"
    assert _not_f32(recorder.backward) == [], "backward producing non-float32 gradients"
    assert {name for name, _ in module_outputs} >= {"conv1", "bn1", "pool2", "fc2", "model"}
    assert _not_f32(module_outputs) == [], "modules returning non-float32"


def test_parameters_buffers_and_grads_stay_float32(recorder: DtypeRecorder) -> None:
    model, opt, _ = _train_steps(recorder)
    for name, p in model.named_parameters():
        assert p.dtype == F32, name
        assert p.grad is not None and p.grad.dtype == F32, name
    for name, b in model.named_buffers():
        if b.dtype.kind == "f":
            assert b.dtype == F32, name
    for group in opt.param_groups:  # the momentum buffers too
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                arr = getattr(value, "data", value)
                if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
                    assert arr.dtype == F32, key


def test_the_recorder_catches_a_float64_op(recorder: DtypeRecorder) -> None:
    """The check is not vacuous: a float64 op in the graph is reported."""
    x = cr.ones(3, requires_grad=True)
    (x.double() * 2).sum().backward()
    assert any(d == np.float64 for _, d in recorder.forward)
    assert _not_f32(recorder.forward) != []
