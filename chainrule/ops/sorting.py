"""Sorting: sort, argsort and topk. The order is found on arrays; the values are a
:func:`~chainrule.ops.shape.gather` of the input at it, so the gradient flows back to the
picked positions (and double backward works).

As PyTorch: NaN sorts as the largest value; ``stable=True`` keeps equal values in their
order (descending too); results are named tuples with ``.values`` and ``.indices``.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, normalize_dims
from .shape import gather

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def _order(data: Any, axis: int, descending: bool) -> Any:
    """The stable sorting permutation of ``data`` along ``axis`` (int64), NaN largest."""
    if not descending:
        return xp.argsort(data, axis=axis, kind="stable")
    # stable descending: sort the reversed array ascending, then reverse the order (equal
    # values come out in their original order; NaN, last ascending, comes first)
    n = data.shape[axis]
    rev = xp.flip(data, axis)
    return (n - 1) - xp.flip(xp.argsort(rev, axis=axis, kind="stable"), axis)


def _axis(input: Tensor, dim: Any, op: str) -> int:
    (axis,) = normalize_dims(dim, input.ndim, op)  # type: ignore[misc]
    return axis


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """Sort along ``dim``; returns ``(values, indices)`` (a named tuple, as ``torch.sort``).

    Args:
        input: the tensor.
        dim: the dimension to sort along.
        descending: largest first.
        stable: keep equal values in their original order (chainrule's sort is always
            stable, so this only documents the intent).

    Example:
        >>> import chainrule as cr
        >>> r = cr.sort(cr.tensor([3.0, 1.0, 2.0]), descending=True)
        >>> r.values.tolist(), r.indices.tolist()
        ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    input = as_tensor_arg(input, "input", "sort", array_like=True)
    if input.ndim == 0:
        _axis(input, dim, "sort")
        return sort_result(gather(input, 0, xp.zeros((), numpy.int64)),
                           Tensor(xp.zeros((), numpy.int64)))
    axis = _axis(input, dim, "sort")
    idx = _order(input._data, axis, descending).astype(numpy.int64)
    return sort_result(gather(input, axis, idx), Tensor(idx))


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (an int64 tensor).

    Example:
        >>> import chainrule as cr
        >>> cr.argsort(cr.tensor([3.0, 1.0, 2.0])).tolist()
        [1, 2, 0]
    """
    return sort(input, dim, descending, stable).indices


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) elements along ``dim``, as ``(values, indices)``.

    Args:
        input: the tensor.
        k: how many.
        dim: the dimension.
        largest: the largest (else the smallest) elements.
        sorted: in sorted order (they always are here).

    Example:
        >>> import chainrule as cr
        >>> cr.topk(cr.tensor([1.0, 5.0, 3.0]), 2).values.tolist()
        [5.0, 3.0]
    """
    input = as_tensor_arg(input, "input", "topk", array_like=True)
    n = input.shape[_axis(input, dim, "topk")] if input.ndim else 1
    if not 0 <= k <= n:
        raise OpError(f"topk: selected index k out of range (k = {k}, the size along dim "
                      f"{dim} is {n})")
    values, indices = sort(input, dim, descending=largest)
    if input.ndim == 0:
        return topk_result(values, indices)
    axis = _axis(input, dim, "topk")
    picked = (slice(None),) * axis + (slice(0, k),)
    return topk_result(values[picked], Tensor(indices._data[picked]))


def msort(input: Any) -> Tensor:
    """``sort(input, dim=0).values``.

    Example:
        >>> import chainrule as cr
        >>> cr.msort(cr.tensor([[2.0], [1.0]])).tolist()
        [[1.0], [2.0]]
    """
    return sort(input, 0).values

