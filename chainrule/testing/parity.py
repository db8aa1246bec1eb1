"""PyTorch parity: run the same function in chainrule and in PyTorch and compare.

``fn(lib, *tensors)`` is written once against the shared API, with ``lib`` either the
``chainrule`` or the ``torch`` module, e.g. ``lambda lib, x: lib.sigmoid(x).sum(dim=1)``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy

from ..autograd.engine import grad as cr_grad
from ..autograd.tensor import Tensor


def _tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _close(name: str, ours: Any, theirs: Any, atol: float, rtol: float) -> None:
    theirs = theirs.detach().numpy(force=True) if hasattr(theirs, "detach") \
        else numpy.asarray(theirs)
    ours = ours._data if isinstance(ours, Tensor) else numpy.asarray(ours)
    if ours.shape != theirs.shape:
        raise AssertionError(f"{name}: shape {ours.shape} != torch's {theirs.shape}")
    if ours.dtype != theirs.dtype:
        raise AssertionError(f"{name}: dtype {ours.dtype} != torch's {theirs.dtype}")
    if not numpy.allclose(ours, theirs, atol=atol, rtol=rtol, equal_nan=True):
        diff = numpy.nanmax(numpy.abs(ours.astype(float) - theirs.astype(float))) \
            if ours.size else 0
        raise AssertionError(f"{name}: values differ from torch's (max abs diff {diff})\n"
                             f"chainrule: {ours}\ntorch: {theirs}")


def assert_parity(fn: Callable[..., Any], *arrays: Any, requires_grad: Optional[Sequence[bool]]
                  = None, atol: float = 1e-6, rtol: float = 1e-5, second_order: bool = False,
                  seed: int = 0) -> None:
    """Assert ``fn`` gives PyTorch's outputs, gradients and (optionally) second derivatives.

    Args:
        fn: ``fn(lib, *tensors)`` using only API shared by chainrule and torch.
        arrays: the input values as NumPy arrays (non-contiguous views are kept as such).
        requires_grad: which inputs to differentiate (default: every floating input).
        atol: absolute tolerance.
        rtol: relative tolerance.
        second_order: also compare the gradient of ``sum(grads * v)`` for random ``v``.
        seed: seed of the random upstream gradients.
    """
    import torch

    import chainrule

    arrays = [numpy.asarray(a) if not isinstance(a, numpy.ndarray) else a for a in arrays]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    ours_in = [Tensor(a.copy() if not a.flags.writeable else a, requires_grad=rg)
               for a, rg in zip(arrays, requires_grad)]
    theirs_in = [torch.from_numpy(numpy.array(a)).requires_grad_(rg)
                 for a, rg in zip(arrays, requires_grad)]
    before = [a.copy() for a in arrays]
    ours_out = _tuple(fn(chainrule, *ours_in))
    theirs_out = _tuple(fn(torch, *theirs_in))
    if len(ours_out) != len(theirs_out):
        raise AssertionError(f"{len(ours_out)} outputs vs torch's {len(theirs_out)}")
    for k, (o, t) in enumerate(zip(ours_out, theirs_out)):
        _close(f"output {k}", o, t, atol, rtol)
    for a, b in zip(arrays, before):
        if not numpy.array_equal(a, b, equal_nan=True):
            raise AssertionError("the op modified its input")
    diff_idx = [i for i, rg in enumerate(requires_grad) if rg]
    pairs = [(o, t) for o, t in zip(ours_out, theirs_out)
             if isinstance(o, Tensor) and o.requires_grad]
    if not diff_idx or not pairs:
        return
    rng = numpy.random.default_rng(seed)
    vs = [rng.standard_normal(o.shape).astype(o.dtype) for o, _ in pairs]
    ours_g = cr_grad([o for o, _ in pairs], [ours_in[i] for i in diff_idx],
                     grad_outputs=[Tensor(v) for v in vs], allow_unused=True,
                     create_graph=second_order)
    theirs_g = torch.autograd.grad([t for _, t in pairs], [theirs_in[i] for i in diff_idx],
                                   grad_outputs=[torch.from_numpy(v) for v in vs],
                                   allow_unused=True, create_graph=second_order)
    for i, og, tg in zip(diff_idx, ours_g, theirs_g):
        if tg is None:
            if og is not None and numpy.any(og._data != 0):
                raise AssertionError(f"grad of input {i}: torch has none, ours is nonzero")
            continue
        if og is None:
            og = Tensor(numpy.zeros(arrays[i].shape, arrays[i].dtype))
        _close(f"grad of input {i}", og, tg, atol, rtol)
    if not second_order:
        return
    ws = [rng.standard_normal(arrays[i].shape).astype(arrays[i].dtype) for i in diff_idx]
    o2 = [(g, w) for g, w in zip(ours_g, ws) if g is not None and g.requires_grad]
    t2 = [(g, w) for g, w in zip(theirs_g, ws) if g is not None and g.requires_grad]
    if not t2:
        return
    ours_s = sum(((g * Tensor(w)).sum() for g, w in o2), Tensor(numpy.zeros((), ws[0].dtype)))
    theirs_s = sum((g * torch.from_numpy(w)).sum() for g, w in t2)
    if ours_s.requires_grad:
        ours_gg = cr_grad(ours_s, [ours_in[i] for i in diff_idx], allow_unused=True)
    else:  # a gradient that is constant in the inputs: its own derivative is zero
        ours_gg = (None,) * len(diff_idx)
    theirs_gg = torch.autograd.grad(theirs_s, [theirs_in[i] for i in diff_idx],
                                    allow_unused=True)
    for i, og, tg in zip(diff_idx, ours_gg, theirs_gg):
        if tg is None:
            if og is not None and numpy.any(og._data != 0):
                raise AssertionError(f"2nd-order grad of input {i}: torch none, ours nonzero")
            continue
        if og is None:
            og = Tensor(numpy.zeros(arrays[i].shape, arrays[i].dtype))
        _close(f"2nd-order grad of input {i}", og, tg, atol, rtol)
