"""The op contract (chainrule/autograd/function.py), checked over every Function by introspection.

- Every Function that declares a first-order fast path (``fast_backward``) computes what its
  formula (``backward``) computes, on random float64 inputs: the classes are found by walking
  Function's subclasses, not from a hand list, and each must be met by one of the sample
  programs below (a new fast path without a sample fails ``test_every_fast_path_is_sampled``).
- Every first-order-only Function refuses a double backward with an error naming it.
- Every primitive states its local derivative; the engine, not the op, picks the path.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed
import chainrule.nn.functional as F
from chainrule.autograd import Function
from chainrule.backend import use_compiled


def _all_functions() -> set[type]:
    """Every Function subclass defined in the chainrule package (all modules imported)."""
    for info in pkgutil.walk_packages(cr.__path__, "chainrule."):
        if not info.name.startswith(("chainrule.cli", "chainrule.kernels")):
            importlib.import_module(info.name)
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return {c for c in found if c.__module__.startswith("chainrule.")
            and not c.__module__.startswith("chainrule.gallery")}


def _rand(rng: np.random.Generator, *shape: int) -> cr.Tensor:
    return cr.tensor(rng.standard_normal(shape), requires_grad=True)


def _labels(rng: np.random.Generator, n: int, c: int, *rest: int) -> cr.Tensor:
    return cr.tensor(rng.integers(0, c, (n, *rest)))


# Programs whose graphs hold every fast path (float64); more than one where a fast path has
# branches (broadcasting, a compiled kernel above a size, reductions, weights).
SAMPLES: dict[str, Callable[[np.random.Generator], cr.Tensor]] = {
    "mul broadcast": lambda r: _rand(r, 3, 1, 4) * _rand(r, 5, 1),
    "mul same shape": lambda r: _rand(r, 2, 3) * _rand(r, 2, 3),
    "exp sin cos": lambda r: cr.cos(cr.sin(cr.exp(_rand(r, 4, 3)))),
    "sigmoid tanh relu": lambda r: cr.relu(cr.tanh(cr.sigmoid(_rand(r, 3, 5)))),
    "relu both signs": lambda r: cr.relu(_rand(r, 6, 7)),  # blocked and passed positions
    "tanh large": lambda r: cr.tanh(_rand(r, 130, 130)),
    "linear": lambda r: F.linear(_rand(r, 4, 2, 3), _rand(r, 5, 3), _rand(r, 5)),
    "linear no bias": lambda r: F.linear(_rand(r, 4, 3), _rand(r, 5, 3)),
    "linear batch (addmm, weight.t())": lambda r: F.linear(_rand(r, 4, 3), _rand(r, 5, 3),
                                                           _rand(r, 5)),
    "addmm scaled, broadcast input": lambda r: cr.addmm(_rand(r, 1, 5), _rand(r, 4, 3),
                                                        _rand(r, 3, 5), beta=0.5, alpha=2.0),
    "permute 3-d": lambda r: _rand(r, 2, 3, 4).permute(2, 0, 1) * _rand(r, 4, 2, 3),
    "gelu exact and tanh": lambda r: F.gelu(F.gelu(_rand(r, 3, 4)), approximate="tanh"),
    "silu mish softplus": lambda r: F.softplus(F.mish(F.silu(_rand(r, 3, 4))), beta=2.0),
    "elu celu": lambda r: F.celu(F.elu(_rand(r, 3, 4), alpha=0.7), alpha=1.3),
    "hardtanh hardswish hardsigmoid": lambda r: F.hardsigmoid(
        F.hardswish(F.hardtanh(_rand(r, 3, 4) * 4, -2.0, 2.5) * 2)),
    "layer_norm": lambda r: F.layer_norm(_rand(r, 4, 3, 5), (3, 5), _rand(r, 3, 5),
                                         _rand(r, 3, 5)),
    "layer_norm no affine": lambda r: F.layer_norm(_rand(r, 4, 5), (5,)),
    "sync_batch_norm (a world of one)": lambda r: cr.distributed.sync_batch_norm(
        _rand(r, 4, 3, 2), None, None, _rand(r, 3), _rand(r, 3)),
    "all_reduce_sum (a world of one)": lambda r: cr.distributed.all_reduce_sum(
        _rand(r, 3, 2)) * _rand(r, 3, 2),
    "group_norm": lambda r: F.group_norm(_rand(r, 3, 6, 2, 2), 3, _rand(r, 6), _rand(r, 6)),
    "conv1d": lambda r: F.conv1d(_rand(r, 2, 3, 7), _rand(r, 4, 3, 3), _rand(r, 4), padding=1),
    "conv_transpose1d": lambda r: F.conv_transpose1d(_rand(r, 2, 3, 5), _rand(r, 3, 2, 3),
                                                     _rand(r, 2), stride=2),
    "conv_transpose2d": lambda r: F.conv_transpose2d(_rand(r, 2, 3, 4, 4), _rand(r, 3, 2, 3, 3),
                                                     _rand(r, 2), stride=2, padding=1),
    "interpolate bilinear": lambda r: F.interpolate(_rand(r, 1, 2, 3, 4), scale_factor=2,
                                                    mode="bilinear"),
    "sdpa mask dropout": lambda r: F.scaled_dot_product_attention(
        _rand(r, 2, 3, 4), _rand(r, 2, 5, 4), _rand(r, 2, 5, 6), attn_mask=_rand(r, 3, 5),
        dropout_p=0.3),
    "lstm": lambda r: cr.nn.LSTM(3, 4).double()(_rand(r, 5, 2, 3))[0],
    "lstm bidirectional (reverse: step by step)": lambda r: cr.nn.LSTM(
        3, 4, bidirectional=True).double()(_rand(r, 5, 2, 3))[0],
    "bce": lambda r: F.binary_cross_entropy(cr.sigmoid(_rand(r, 6)),
                                            cr.sigmoid(_rand(r, 6)), reduction="none"),
    "cross entropy": lambda r: F.cross_entropy(_rand(r, 5, 4), _labels(r, 5, 4)),
    "cross entropy 4-d weighted": lambda r: F.cross_entropy(
        _rand(r, 2, 3, 2, 2), _labels(r, 2, 3, 2, 2), weight=cr.tensor([0.2, 1.0, 3.0]),
        reduction="none"),
    "cross entropy sum ignore": lambda r: F.cross_entropy(
        _rand(r, 5, 4), cr.tensor([0, -100, 3, 1, -100]), reduction="sum"),
    "conv2d": lambda r: F.conv2d(_rand(r, 2, 3, 6, 6), _rand(r, 4, 3, 3, 3), _rand(r, 4),
                                 padding=1),
    "conv2d strided": lambda r: F.conv2d(_rand(r, 2, 2, 7, 7), _rand(r, 16, 2, 3, 3),
                                         _rand(r, 16), stride=2),
    "max_pool2d": lambda r: F.max_pool2d(_rand(r, 2, 3, 6, 6), 2),
    "max_pool2d 3x3 stride 2": lambda r: F.max_pool2d(_rand(r, 2, 2, 7, 7), 3, 2, padding=1),
    "avg_pool2d": lambda r: F.avg_pool2d(_rand(r, 2, 3, 6, 6), 2),
    "batch_norm train": lambda r: F.batch_norm(_rand(r, 6, 3, 2, 2), None, None,
                                               _rand(r, 3), _rand(r, 3), training=True),
    "batch_norm 2-d": lambda r: F.batch_norm(_rand(r, 7, 4), None, None, _rand(r, 4),
                                             _rand(r, 4), training=True),
    "batch_norm large": lambda r: F.batch_norm(_rand(r, 64, 8, 12, 12), None, None,
                                               _rand(r, 8), _rand(r, 8), training=True),
}


def _nodes(root: cr.Tensor) -> list[Function]:
    """The nodes of root's graph (iteratively)."""
    seen, stack, out = set(), [root.grad_fn], []
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn)
        stack.extend(t.grad_fn for t in fn.inputs if t is not None)
    return out


def _output_shapes(fn: Function) -> list[tuple[tuple[int, ...], Any]]:
    meta = getattr(fn, "output_meta", None)
    if meta is not None:
        return list(meta)
    out = fn.outputs[0]()
    return [(out.shape, out.dtype)]


def _check_node(fn: Function, rng: np.random.Generator) -> None:
    gys = [rng.standard_normal(shape).astype(dtype) for shape, dtype in _output_shapes(fn)]
    fast = fn.fast_backward(*[g.copy() for g in gys])
    with cr.no_grad():  # what the engine does: the formula with recording off
        formula = fn.backward(*[cr.tensor(g) for g in gys])
    fast = fast if isinstance(fast, tuple) else (fast,)
    formula = formula if isinstance(formula, tuple) else (formula,)
    assert len(fast) == len(formula) == len(fn.inputs), type(fn).__name__
    for i, (a, b) in enumerate(zip(fast, formula)):
        assert (a is None) == (b is None), f"{type(fn).__name__}: input {i}"
        if a is not None:
            assert isinstance(a, np.ndarray), f"{type(fn).__name__}.fast_backward: not arrays"
            assert a.shape == b.shape and a.dtype == b.dtype, type(fn).__name__
            np.testing.assert_allclose(a, b._data, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{type(fn).__name__}: input {i}")


def _fast_paths() -> set[type]:
    return {c for c in _all_functions() if c.fast_backward is not None
            and not c.first_order_only}


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_every_fast_path_equals_its_formula(compiled: bool) -> None:
    rng = np.random.default_rng(0)
    checked: set[type] = set()
    with use_compiled(compiled):
        for name, program in SAMPLES.items():
            root = program(rng)  # kept alive: the nodes' outputs are read through it
            for fn in _nodes(root):
                if type(fn).fast_backward is not None and not fn.first_order_only:
                    _check_node(fn, rng)
                    checked.add(type(fn))
    assert checked == _fast_paths()


def test_every_fast_path_is_sampled() -> None:
    """A Function that declares a fast path must appear in SAMPLES (so it is checked)."""
    rng = np.random.default_rng(1)
    met = {type(fn) for program in SAMPLES.values() for fn in _nodes(program(rng))}
    missing = sorted(c.__qualname__ for c in _fast_paths() - met)
    assert not missing, f"add a sample program for {missing}"


def test_first_order_only_functions_refuse_double_backward_by_name() -> None:
    only = {c for c in _all_functions() if c.first_order_only}
    assert only, "the reference convolutions and pooling paths declare first-order backwards"
    for cls in only:
        assert cls.backward is Function.backward and cls.fast_backward is not None


def test_engine_runs_the_formula_when_recording_or_tracing_and_the_fast_path_otherwise():
    seen = []

    class Probe(Function):
        derivative = "2"

        def forward(self, x):
            return x * 2

        def backward(self, gy):
            seen.append("formula")
            return gy * 2

        def fast_backward(self, gy):
            seen.append("fast")
            return gy * 2

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    Probe()(x).sum().backward()  # first order: the fast path
    Probe()(x).sum().backward(create_graph=True)  # recorded: the formula
    with cr.trace():
        Probe()(x).sum().backward()  # traced: the formula, so the trace lists its ops
    assert seen == ["fast", "formula", "formula"]


def test_a_first_order_only_function_raises_on_double_backward_naming_it():
    class OnlyArrays(Function):
        double_backward_hint = "; use the formula twin"

        def forward(self, x):
            return x * 3

        def fast_backward(self, gy):
            return gy * 3

    assert OnlyArrays.first_order_only
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    OnlyArrays()(x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match=r"OnlyArraysBackward0: .*first-order backward only"
                                           r".*use the formula twin"):
        cr.autograd.grad(OnlyArrays()(x).sum(), x, create_graph=True)


def test_every_primitive_states_its_local_derivative():
    missing = sorted(c.__qualname__ for c in _all_functions()
                     if c.__module__.startswith("chainrule.ops") and not c.derivative)
    assert not missing, f"state `derivative` beside the backward of {missing}"
