"""Rearranging ops: flip and roll (primitives), and repeat, repeat_interleave, tril, triu,
narrow, unbind, diag and masked_fill composed from reshape, broadcast, indexing and where.
"""
from __future__ import annotations

import builtins
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, normalize_dims
from .arithmetic import keep_where, where
from .dtypes import as_operand
from .indexing import torch_index
from .shape import IndexAdd, _shape_args, broadcast_to, getitem, reshape


def _one_dim(dim: Any, ndim: int, op: str) -> int:
    (axis,) = normalize_dims(dim, ndim, op)  # type: ignore[misc]
    return axis


# ============================================================================ flip & roll
class Flip(Function):
    derivative = "1: upstream flipped back"

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return xp.flip(x, self.axes).copy()  # a copy, as torch's flip

    def backward(self, gy: Tensor) -> Tensor:
        return Flip(self.axes)(gy)


def flip(input: Any, dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy, as ``torch.flip``).

    Example:
        >>> import chainrule as cr
        >>> cr.flip(cr.tensor([[1, 2], [3, 4]]), [1]).tolist()
        [[2, 1], [4, 3]]
    """
    input = as_tensor_arg(input, "input", "flip", array_like=True)
    axes = normalize_dims(dims, input.ndim, "flip") or ()
    return Flip(axes if input.ndim else ())(input)


class Roll(Function):
    derivative = "1: upstream rolled back"

    def __init__(self, shifts: tuple[int, ...], axes: tuple[int, ...]) -> None:
        self.shifts, self.axes = shifts, axes

    def forward(self, x: Any) -> Any:
        return xp.roll(x, self.shifts, self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        return Roll(tuple(-s for s in self.shifts), self.axes)(gy)


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` cyclically (the flattened tensor when ``dims`` is None).

    Example:
        >>> import chainrule as cr
        >>> cr.roll(cr.arange(4), 1).tolist()
        [3, 0, 1, 2]
        >>> cr.roll(cr.arange(6).reshape(2, 3), (1, -1), (0, 1)).tolist()
        [[4, 5, 3], [1, 2, 0]]
    """
    input = as_tensor_arg(input, "input", "roll", array_like=True)
    shifts = (shifts,) if isinstance(shifts, (int, numpy.integer)) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise OpError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                          f"dims:0")
        flat = reshape(input, -1)  # (numel,)
        return reshape(Roll(shifts, (0,))(flat), input.shape)
    dims = (dims,) if isinstance(dims, (int, numpy.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise OpError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                      f"dims:{len(dims)}")
    axes = tuple(_one_dim(d, input.ndim, "roll") for d in dims)
    return Roll(tuple(int(s) for s in shifts), axes)(input)


# ============================================================================ repeating
def repeat(input: Any, *sizes: Any) -> Tensor:
    """Tile ``input``: ``sizes[i]`` copies along dimension i (new leading dimensions when
    ``sizes`` is longer than ``input.ndim``), as ``Tensor.repeat``.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([1, 2]).repeat(2, 2).tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    input = as_tensor_arg(input, "input", "repeat", array_like=True)
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    reps = _shape_args(sizes)
    if len(reps) < input.ndim:
        raise OpError(f"repeat: Number of dimensions of repeat dims ({len(reps)}) can not be "
                      f"smaller than number of dimensions of tensor ({input.ndim})")
    if builtins.min(reps, default=0) < 0:
        raise OpError(f"repeat: Trying to create tensor with negative dimension: {list(reps)}")
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    # (d1, ..., dm) -> (1, d1, ..., 1, dm) -> (r1, d1, ..., rm, dm) -> (r1*d1, ..., rm*dm)
    paired = reshape(input, tuple(v for s in shape for v in (1, s)))
    tiled = broadcast_to(paired, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(tiled, tuple(r * s for r, s in zip(reps, shape)))


def repeat_interleave(input: Any, repeats: Any = None, dim: Optional[int] = None, *,
                      output_size: Optional[int] = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (the flattened input by default).

    Args:
        input: the tensor; or, alone, a 1-D int tensor of repeats: then the result is
            ``arange(len(input))`` with element i repeated ``input[i]`` times.
        repeats: an int, or a tensor of one count per element along ``dim`` (or one count).
        dim: the dimension; None flattens the input first.
        output_size: the result's size along ``dim`` (checked if given).

    Example:
        >>> import chainrule as cr
        >>> cr.repeat_interleave(cr.tensor([1, 2]), 2).tolist()
        [1, 1, 2, 2]
        >>> cr.tensor([[1, 2], [3, 4]]).repeat_interleave(cr.tensor([1, 2]), dim=0).tolist()
        [[1, 2], [3, 4], [3, 4]]
    """
    if repeats is None:  # repeat_interleave(repeats)
        counts = as_tensor_arg(input, "repeats", "repeat_interleave")
        return repeat_interleave(Tensor(xp.arange(counts.shape[0])), counts, 0)
    input = as_tensor_arg(input, "input", "repeat_interleave", array_like=True)
    if dim is None:
        input, dim = reshape(input, -1), 0  # (numel,)
    axis = _one_dim(dim, input.ndim, "repeat_interleave")
    n = input.shape[axis] if input.ndim else 1
    counts = xp.asarray(repeats._data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise OpError(f"repeat_interleave: repeats must be an int or a 0-d or 1-d int tensor, "
                      f"got dtype {counts.dtype} of shape {counts.shape}")
    if counts.size and counts.min() < 0:
        raise OpError("repeat_interleave: repeats can not be negative")
    if counts.ndim == 1 and counts.size != 1 and counts.size != n:
        raise OpError(f"repeat_interleave: repeats must have the same size as input along "
                      f"dim, but got repeats.size(0) = {counts.size} and input.size({dim}) = {n}")
    index = xp.repeat(xp.arange(n), xp.broadcast_to(counts.reshape(-1), (n,)))
    if output_size is not None and output_size != index.size:
        raise OpError(f"repeat_interleave: output_size {output_size} does not match the "
                      f"result's size {index.size}")
    if input.ndim == 0:
        input = reshape(input, 1)
    return getitem(input, (slice(None),) * axis + (Tensor(index),))  # picked along dim


# ============================================================================ triangles & diagonals
def _triangle(input: Any, diagonal: int, op: str) -> Tensor:
    input = as_tensor_arg(input, "input", op, array_like=True)
    if input.ndim < 2:
        raise OpError(f"{op}: input tensor must have at least 2 dimensions (shape "
                      f"{input.shape})")
    rows, cols = input.shape[-2:]
    lower = xp.tri(rows, cols, diagonal, dtype=bool)  # True on and below the diagonal
    keep = lower if op == "tril" else ~xp.tri(rows, cols, diagonal - 1, dtype=bool)
    return keep_where(keep, input)  # the gradient is masked the same way


def tril(input: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (on and below ``diagonal``); zeros above.

    Example:
        >>> import chainrule as cr
        >>> cr.tril(cr.ones(2, 3)).tolist()
        [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    """
    return _triangle(input, diagonal, "tril")


def triu(input: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (on and above ``diagonal``); zeros below.

    Example:
        >>> import chainrule as cr
        >>> cr.triu(cr.ones(2, 3), diagonal=1).tolist()
        [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    """
    return _triangle(input, diagonal, "triu")


def diag(input: Any, diagonal: int = 0) -> Tensor:
    """A 1-D tensor as the ``diagonal``-th diagonal of a square matrix, or a matrix's
    ``diagonal``-th diagonal as a 1-D tensor, as ``torch.diag``.

    Example:
        >>> import chainrule as cr
        >>> cr.diag(cr.tensor([1.0, 2.0])).tolist()
        [[1.0, 0.0], [0.0, 2.0]]
        >>> cr.diag(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), 1).tolist()
        [2.0]
    """
    input = as_tensor_arg(input, "input", "diag", array_like=True)
    k = int(diagonal)
    if input.ndim == 1:
        n = input.shape[0]
        m = n + builtins.abs(k)
        rows = xp.arange(n) + builtins.max(-k, 0)
        # scatter the n values into an (m, m) zero matrix at (rows, rows + k)
        return IndexAdd(torch_index((rows, rows + k), 2), (m, m))(input)
    if input.ndim != 2:
        raise OpError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    r, c = input.shape
    n = builtins.max(0, builtins.min(r + builtins.min(k, 0), c - builtins.max(k, 0)))
    rows = xp.arange(n) + builtins.max(-k, 0)
    return getitem(input, (Tensor(rows), Tensor(rows + k)))


# ============================================================================ slicing
def narrow(input: Any, dim: int, start: Any, length: int) -> Tensor:
    """``length`` elements of ``input`` along ``dim`` from ``start`` (negative counts from
    the end), as ``torch.narrow``.

    Example:
        >>> import chainrule as cr
        >>> cr.narrow(cr.arange(6).reshape(2, 3), 1, 1, 2).tolist()
        [[1, 2], [4, 5]]
    """
    input = as_tensor_arg(input, "input", "narrow", array_like=True)
    if input.ndim == 0:
        raise OpError("narrow: narrow() cannot be applied to a 0-dim tensor.")
    axis = _one_dim(dim, input.ndim, "narrow")
    n, start = input.shape[axis], int(start)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of "
                         f"[{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise OpError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                      f"({n}).")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def unbind(input: Any, dim: int = 0) -> tuple:
    """The slices of ``input`` along ``dim``, as a tuple (each without that dimension).

    Example:
        >>> import chainrule as cr
        >>> [t.tolist() for t in cr.unbind(cr.tensor([[1, 2], [3, 4]]), 1)]
        [[1, 3], [2, 4]]
    """
    input = as_tensor_arg(input, "input", "unbind", array_like=True)
    if input.ndim == 0:
        raise IndexError(f"unbind: Dimension specified as {dim} but tensor has no dimensions")
    axis = _one_dim(dim, input.ndim, "unbind")
    return tuple(getitem(input, (slice(None),) * axis + (i,)) for i in range(input.shape[axis]))


# ============================================================================ masking
def _mask_and_value(input: Tensor, mask: Any, value: Any, op: str) -> tuple[Any, Tensor]:
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != numpy.bool_:
        raise OpError(f"{op} only supports boolean masks, but got mask with dtype {m.dtype}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise OpError(f"{op} only supports a 0-dimensional value tensor, but got tensor "
                          f"with {value.ndim} dimension(s).")
        v = as_operand(value, input._data.dtype)
    else:
        v = Tensor(xp.asarray(value).astype(input._data.dtype))
    return m, v


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``input`` with ``value`` where the bool ``mask`` (broadcast) is True.

    The value is cast to ``input``'s dtype; a 0-d tensor value receives the gradient of the
    filled positions, as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.masked_fill(x > 1.5, 0.0).tolist()
        [1.0, 0.0, 0.0]
    """
    input = as_tensor_arg(input, "input", "masked_fill", array_like=True)
    m, v = _mask_and_value(input, mask, value, "masked_fill")
    return where(Tensor(m), v, input)


def masked_fill_(input: Tensor, mask: Any, value: Any) -> Tensor:
    """In-place :func:`masked_fill`: the mask must broadcast to ``input``'s shape.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0])
        >>> x.masked_fill_(cr.tensor([True, False]), -1.0).tolist()
        [-1.0, 2.0]
    """
    input._check_inplace("masked_fill_")
    m, v = _mask_and_value(input, mask, value, "masked_fill_")
    input._inplace_value("masked_fill_", v)
    try:
        fits = xp.broadcast_shapes(m.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"masked_fill_: the mask of shape {m.shape} cannot be broadcast to the "
                      f"tensor's shape {input.shape}")
    xp.copyto(input._data, v._data, where=m)
    input._version += 1
    return input



def _flip_dim(input: Any, dim: int, op: str, need: int) -> Tensor:
    input = as_tensor_arg(input, "input", op)
    if input.ndim < need:
        raise OpError(f"{op}: Input must be >= {need}-d, got shape {input.shape}")
    return flip(input, [dim])


def fliplr(input: Any) -> Tensor:
    """Reverse the columns (dimension 1), as ``torch.fliplr``; input of 2 or more dimensions.

    Example:
        >>> import chainrule as cr
        >>> cr.fliplr(cr.tensor([[1, 2], [3, 4]])).tolist()
        [[2, 1], [4, 3]]
    """
    return _flip_dim(input, 1, "fliplr", 2)


def flipud(input: Any) -> Tensor:
    """Reverse the rows (dimension 0), as ``torch.flipud``; input of 1 or more dimensions.

    Example:
        >>> import chainrule as cr
        >>> cr.flipud(cr.tensor([[1, 2], [3, 4]])).tolist()
        [[3, 4], [1, 2]]
    """
    return _flip_dim(input, 0, "flipud", 1)
