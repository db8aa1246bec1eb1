"""Shape ops: broadcasting and its undoing, reshape, permute, cat, split, pad, indexing.

``unbroadcast`` is the one place where broadcasting is undone; every binary op's backward
calls it.
"""
from __future__ import annotations

import builtins
from typing import Any, Optional, Sequence, Union

import numpy

from ..autograd.errors import OpError, OpIndexError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, contiguous, normalize_dims, write_out
from .dtypes import as_operand, result_dtype
from .indexing import TorchIndex, index_get, index_put, torch_index

ShapeLike = Union[int, Sequence[int]]


def _shape_args(shape: tuple, keyword: Any = None, name: str = "", op: str = "") -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and the keyword form ``f(name=(2, 3))`` like PyTorch."""
    if keyword is not None:
        if shape:
            raise TypeError(f"{op}() got multiple values for argument '{name}'")
        shape = (keyword,)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


# ============================================================================ broadcasting
def sum_to_shape(x: Any, shape: Sequence[int]) -> Any:
    """Sum the array ``x`` down to ``shape``, undoing a broadcast (on arrays: the fast paths').

    Example:
        >>> import numpy as np
        >>> sum_to_shape(np.ones((2, 3, 4)), (3, 1)).tolist()
        [[8.0], [8.0], [8.0]]
    """
    if x.shape == shape:
        return x
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    # axes added in front by broadcasting, then axes stretched from size 1
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape)


class SumTo(Function):
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""

    derivative = "1: upstream broadcast back"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return sum_to_shape(x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return broadcast_to(gy, self.inputs[0].shape)


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` down to ``shape``, undoing a broadcast (differentiable)."""
    if x._data.shape == shape:  # nothing was broadcast: the common case, on every binary op
        return x
    shape = tuple(shape)  # a list or other sequence
    return x if x._data.shape == shape else SumTo(shape)(x)


def unbroadcast(grad: Tensor, shape: Sequence[int]) -> Tensor:
    """Return ``grad`` summed to an input's ``shape``: the one helper that undoes broadcasting.

    Every binary op's backward calls it, so an input of shape (3, 1) that was broadcast to
    (2, 3, 4) receives a (3, 1) gradient.

    Example:
        >>> import chainrule as cr
        >>> unbroadcast(cr.ones(2, 3, 4), (3, 1)).tolist()
        [[8.0], [8.0], [8.0]]
    """
    return sum_to(grad, shape)


class BroadcastTo(Function):
    derivative = "1: upstream summed over the broadcast axes"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return xp.broadcast_to(x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return sum_to(gy, self.inputs[0].shape)


def broadcast_to(input: Any, *sizes: Any, size: Any = None) -> Tensor:
    """Broadcast ``x`` to ``size`` (a read-only view; the gradient is summed back).

    The size is given as ``broadcast_to(x, (2, 3))`` or ``size=(2, 3)`` (or ``2, 3``); as
    PyTorch, -1 keeps the size of an existing dimension.

    Example:
        >>> import chainrule as cr
        >>> cr.broadcast_to(cr.tensor([1.0, 2.0]), (2, 2)).shape
        (2, 2)
        >>> cr.broadcast_to(cr.zeros(2, 1), (-1, 3)).shape
        (2, 3)
    """
    input = as_tensor_arg(input, "input", "broadcast_to", array_like=True)
    shape = _shape_args(sizes, size, "size", "broadcast_to")
    if -1 in shape:  # keep an existing dimension's size
        lead = len(shape) - input.ndim
        if -1 in shape[:builtins.max(lead, 0)]:
            raise OpError(f"broadcast_to: the size -1 in {shape} is not allowed in a "
                          f"leading, non-existing dimension (input shape {input.shape})")
        shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s
                      for i, s in enumerate(shape))
    if input.shape == shape:
        return input
    try:
        xp.broadcast_shapes(input.shape, shape)
    except ValueError:
        raise OpError(f"broadcast_to: the shape {input.shape} cannot be broadcast to "
                      f"{shape}") from None
    if xp.broadcast_shapes(input.shape, shape) != shape:
        raise OpError(f"broadcast_to: the shape {input.shape} cannot be broadcast to {shape}")
    return BroadcastTo(shape)(input)


def expand(x: Tensor, *sizes: Any, size: Any = None) -> Tensor:
    """``x.expand(*sizes)`` or ``x.expand(size=...)``: broadcast, -1 keeping a dimension's size.

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(3, 1).expand(size=(2, -1, 4)).shape
        (2, 3, 4)
    """
    if not sizes and size is None:
        raise TypeError('expand() missing 1 required positional arguments: "size"')
    shape = _shape_args(sizes, size, "size", "expand")
    if len(shape) < x.ndim:
        raise OpError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                      f"or equal to the number of dimensions in the tensor ({x.ndim})")
    return broadcast_to(x, shape)


# ============================================================================ reshape & co
class Reshape(Function):
    derivative = "1: upstream reshaped back"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return x.reshape(self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return reshape(gy, self.inputs[0].shape)


def reshape(input: Any, *sizes: Any, shape: Any = None) -> Tensor:
    """Return ``x`` with a new shape of the same number of elements (one dim may be -1).

    The shape is given as ``reshape(x, (2, 3))``, ``reshape(x, 2, 3)`` or ``shape=(2, 3)``.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(6).reshape(2, -1).shape
        (2, 3)
        >>> cr.reshape(cr.arange(6), shape=(3, 2)).shape
        (3, 2)
    """
    input = as_tensor_arg(input, "input", "reshape", array_like=True)
    shape = _shape_args(sizes, shape, "shape", "reshape")
    if shape == input.shape:
        return input
    known = 1
    for s in shape:
        if s < -1:
            raise OpError(f"reshape: invalid shape dimension {s} in shape {list(shape)} "
                          f"(sizes must be non-negative, or -1 for one inferred size)")
        if s != -1:
            known *= s
    if shape.count(-1) > 1 or (-1 not in shape and known != input._data.size) or (
            -1 in shape and (known == 0 or input._data.size % known)):
        raise OpError(f"reshape: shape {list(shape)} is invalid for input of size "
                      f"{input._data.size} (shape {input.shape})")
    return Reshape(shape)(input)


def view(input: Any, *sizes: Any, size: Any = None) -> Tensor:
    """``x.view(*sizes)`` or ``x.view(size=...)``: :func:`reshape` that never copies.

    As in PyTorch, the result shares the input's memory, so the new shape must be expressible
    with strides over the input's layout: merging dimensions that are not contiguous with
    each other (e.g. those of a transposed tensor) raises; use :func:`reshape` (which copies
    when it must) or ``x.contiguous().view(...)``.

    Raises:
        OpError: (a RuntimeError, as PyTorch's) the shape cannot be viewed without a copy.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(6).view(size=(2, -1)).shape
        (2, 3)
        >>> try:
        ...     cr.arange(6).view(2, 3).T.view(-1)
        ... except RuntimeError as e:
        ...     print(str(e).split(' and ')[0])
        view: size [-1] is not compatible with input tensor's size (3, 2)
    """
    input = as_tensor_arg(input, "input", "view", array_like=True)
    shape = _shape_args(sizes, size, "size", "view")
    out = reshape(input, shape)  # NumPy reshapes without a copy where PyTorch's view can
    if out is not input and out._data.size and not xp.may_share_memory(out._data, input._data):
        strides = tuple(s // input._data.itemsize for s in input._data.strides)
        raise OpError(f"view: size {list(shape)} is not compatible with input tensor's "
                      f"size {input.shape} and stride {strides} (at least one dimension "
                      f"spans across two contiguous subspaces). Use .reshape(...) instead.")
    return out


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Flatten dimensions ``start_dim..end_dim`` into one.

    Example:
        >>> import chainrule as cr
        >>> cr.flatten(cr.zeros(2, 3, 4), 1).shape
        (2, 12)
    """
    if input.ndim == 0:
        return reshape(input, 1)
    (s,) = normalize_dims(start_dim, input.ndim, "flatten")  # type: ignore[misc]
    (e,) = normalize_dims(end_dim, input.ndim, "flatten")  # type: ignore[misc]
    if s > e:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                      f"(shape {input.shape})")
    n = 1
    for d in input.shape[s:e + 1]:
        n *= d
    return reshape(input, input.shape[:s] + (n,) + input.shape[e + 1:])


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove dimensions of size 1 (all, or those in ``dim``)."""
    dims = normalize_dims(dim, input.ndim, "squeeze")
    if dims is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    return reshape(input, shape)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim``."""
    n = input.ndim + 1
    if not -n <= dim < n:
        raise IndexError(f"unsqueeze: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    dim %= n
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


class Permute(Function):
    derivative = "1: upstream permuted back"

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        return permute(gy, *numpy.argsort(self.axes).tolist())

    def fast_backward(self, gy: Any) -> Any:
        return gy.transpose(numpy.argsort(self.axes))


def permute(input: Tensor, *order: Any, dims: Any = None) -> Tensor:
    """Reorder the dimensions of ``x`` (a view): ``permute(x, (2, 0, 1))``, ``dims=(2, 0, 1)``.

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
        >>> cr.permute(cr.zeros(2, 3), dims=(1, 0)).shape
        (3, 2)
    """
    dims = _shape_args(order, dims, "dims", "permute")
    if len(dims) != input.ndim:
        raise OpError(f"permute: number of dims {len(dims)} doesn't match the tensor's "
                      f"{input.ndim} dimensions (shape {input.shape})")
    n = builtins.max(input.ndim, 1)
    for d in dims:
        if not -n <= d < n:
            raise IndexError(f"permute: Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {d}) for dims {dims}")
    axes = tuple(d % n for d in dims)
    if sorted(axes) != list(range(input.ndim)):
        raise OpError(f"permute: dims {dims} are not a permutation of {input.ndim} dimensions")
    if axes == tuple(range(input.ndim)):
        return input
    return Permute(axes)(input)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dimensions ``dim0`` and ``dim1``."""
    if input.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    d0, d1 = (normalize_dims(dim0, input.ndim, "transpose") or (0,))[0], \
        (normalize_dims(dim1, input.ndim, "transpose") or (0,))[0]
    axes = list(range(input.ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, *axes)


# ============================================================================ joining & splitting
class Cat(Function):
    derivative = "1: each input gets its slice of upstream"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        shape = list(xs[0].shape)
        shape[self.axis] = builtins.sum(x.shape[self.axis] for x in xs)
        # written into a C-contiguous array: torch's cat is contiguous whatever the inputs' layout
        out = xp.empty(shape, dtype=xp.result_type(*xs))
        return xp.concatenate(xs, axis=self.axis, out=out)

    def backward(self, gy: Tensor) -> tuple:
        grads, start = [], 0
        for x in self.inputs:
            n = x.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, start + n),)
            grads.append(getitem(gy, index))
            start += n
        return tuple(grads)


def cat(tensors: Sequence[Any], dim: int = 0, *, out: Optional[Tensor] = None) -> Tensor:
    """Concatenate tensors along an existing dimension.

    Example:
        >>> import chainrule as cr
        >>> cr.cat([cr.zeros(2, 3), cr.ones(1, 3)]).shape
        (3, 3)
    """
    tensors = [as_tensor_arg(t, "tensors", "cat", array_like=True) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of Tensors")
    ref = tensors[0]
    if ref.ndim == 0:
        raise OpError("cat: zero-dimensional tensor (at position 0) cannot be concatenated")
    (axis,) = normalize_dims(dim, ref.ndim, "cat")  # type: ignore[misc]
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if k != axis):
            raise OpError(f"cat: Sizes of tensors must match except in dimension {axis}. "
                          f"Expected shape like {ref.shape} but got {t.shape} for tensor "
                          f"number {i} in the list")

    dtype = result_dtype(*tensors)
    y = Cat(axis)(*[as_operand(t, dtype) for t in tensors])
    return y if out is None else write_out(y, out, "cat")


def stack(tensors: Sequence[Any], dim: int = 0, *, out: Optional[Tensor] = None) -> Tensor:
    """Join tensors of equal shape along a new dimension."""
    tensors = [as_tensor_arg(t, "tensors", "stack", array_like=True) for t in tensors]
    if not tensors:
        raise OpError("stack: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise OpError(f"stack: expects each tensor to be equal size, but got "
                          f"{tensors[0].shape} at entry 0 and {t.shape} at entry {i}")
    y = cat([unsqueeze(t, dim) for t in tensors], dim)
    return y if out is None else write_out(y, out, "stack")


def split(tensor: Tensor, split_size_or_sections: Union[int, Sequence[int]], dim: int = 0) -> tuple:
    """Split into chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    (axis,) = normalize_dims(dim, tensor.ndim, "split")  # type: ignore[misc]
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, (int, numpy.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise OpError(f"split: split_size must be positive, got {step}")
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise OpError(f"split: split_with_sizes expects split_sizes to sum exactly to "
                          f"{n} (input shape {tensor.shape}, dim {dim}), but got {sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(tensor, (slice(None),) * axis + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (the last may be smaller)."""
    if chunks <= 0:
        raise OpError(f"chunk: chunks must be positive, got {chunks}")
    (axis,) = normalize_dims(dim, input.ndim, "chunk")  # type: ignore[misc]
    n = input.shape[axis]
    return split(input, builtins.max(-(-n // chunks), 1), dim)


# ============================================================================ padding
class Pad(Function):
    node_name = "ConstantPadNdBackward0"  # PyTorch's name for the same op
    derivative = "1: upstream with the padding cropped off"

    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths = widths
        self.value = value

    def forward(self, x: Any) -> Any:
        # contiguous whatever x's layout, as torch's
        return contiguous(xp.pad(x, self.widths, mode="constant", constant_values=self.value))

    def backward(self, gy: Tensor) -> Tensor:
        index = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return getitem(gy, index)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions, last dimension first, as ``F.pad``.

    Args:
        input: the input.
        pad: (left, right) for the last dim, then (top, bottom) for the one before, ...
        mode: only ``'constant'``.
        value: the fill value.

    Shape:
        dim i grows by ``pad[2k] + pad[2k+1]`` where ``i = ndim - 1 - k``.

    Example:
        >>> import chainrule as cr
        >>> cr.pad(cr.ones(1, 2, 2), (1, 1, 0, 2)).shape
        (1, 4, 4)
    """
    if mode != "constant":
        raise OpError(f"pad: only mode='constant' is supported, got mode={mode!r}")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise OpError(f"pad: padding length {len(pad)} must be even and at most twice the "
                      f"number of dimensions ({input.ndim}, shape {input.shape})")
    if builtins.min(pad, default=0) < 0:
        raise ValueError(f"pad: negative padding {pad} is not supported")
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return Pad(tuple(widths), value)(input)


# ============================================================================ indexing
class GetItem(Function):
    """``x[index]`` by PyTorch's rule (:func:`~chainrule.ops.indexing.torch_index`)."""

    derivative = "1 at the picked positions, else 0"

    def __init__(self, index: TorchIndex) -> None:
        self.index = index

    def forward(self, x: Any) -> Any:
        return index_get(x, self.index)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return IndexAdd(self.index, x.shape)(gy)

    def name(self) -> str:
        """PyTorch's name for the index's last step: ``IndexBackward0`` for an advanced index,
        else the last int (``SelectBackward0``), slice other than ``:`` (``SliceBackward0``)
        or None (``UnsqueezeBackward0``); ``AliasBackward0`` if none."""
        if self.index.advanced is not None:
            return "IndexBackward0"
        last = "AliasBackward0"
        for item in self.index.basic:
            if item is None:
                last = "UnsqueezeBackward0"
            elif isinstance(item, slice):  # a literal ``:`` is skipped, as torch
                if (item.start or 0, item.stop, item.step or 1) != (0, None, 1):
                    last = "SliceBackward0"
            elif item is not Ellipsis:
                last = "SelectBackward0"
        return last


class IndexAdd(Function):
    """Scatter ``gy`` into zeros of ``shape`` at ``index``, summing repeated positions."""

    derivative = "1: upstream gathered back at the index"

    def __init__(self, index: TorchIndex, shape: tuple[int, ...]) -> None:
        self.index = index
        self.shape = shape

    def forward(self, gy: Any) -> Any:
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        index_put(gx, self.index, gy, accumulate=True)
        return gx

    def backward(self, ggx: Tensor) -> Tensor:
        return GetItem(self.index)(ggx)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with basic and advanced indexing, by PyTorch's rule.

    A Python int (or a 0-d integer tensor) selects its dimension first, so it never counts
    as an advanced index: integer tensors, lists and masks that stand together keep their
    place, and go first only when a slice, ``None`` or ``...`` separates them. Repeated
    positions accumulate gradient.

    Example:
        >>> import chainrule as cr
        >>> x = cr.arange(18.0).reshape(2, 3, 3)
        >>> x[0, :, cr.tensor([0, 2])].tolist()
        [[0.0, 2.0], [3.0, 5.0], [6.0, 8.0]]
        >>> x[cr.tensor([0, 1]), :, cr.tensor([0, 2])].shape
        (2, 3)
    """
    try:
        return GetItem(torch_index(index, x.ndim))(x)
    except IndexError as e:
        raise IndexError(f"getitem: invalid index {index!r} for a tensor of shape {x.shape}: "
                         f"{e}") from None


class Gather(Function):
    """``torch.gather``: out[i][j] = x[i][index[i][j]] along ``axis``.

    The output has the index's shape: where the index is smaller than ``x`` along another
    axis, only the leading part of ``x`` along it is read (``x`` is never broadcast).
    """

    derivative = "1 at the gathered positions, else 0"

    def __init__(self, axis: int, index: Any) -> None:
        self.axis = axis
        self.index = index

    def forward(self, x: Any) -> Any:
        if x.shape[:self.axis] + x.shape[self.axis + 1:] != \
                self.index.shape[:self.axis] + self.index.shape[self.axis + 1:]:
            x = x[tuple(slice(None) if i == self.axis else slice(0, s)
                        for i, s in enumerate(self.index.shape))]
        return xp.take_along_axis(x, self.index, axis=self.axis)

    def backward(self, gy: Tensor) -> Tensor:
        return ScatterAdd(self.axis, self.index, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    derivative = "1: upstream gathered back at the index"

    def __init__(self, axis: int, index: Any, shape: tuple[int, ...]) -> None:
        self.axis = axis
        self.index = index
        self.shape = shape

    def forward(self, gy: Any) -> Any:
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        grid = list(xp.indices(self.index.shape, sparse=True))
        grid[self.axis] = self.index
        xp.add.at(gx, tuple(grid), gy)
        return gx

    def backward(self, ggx: Tensor) -> Tensor:
        return Gather(self.axis, self.index)(ggx)


def gather(input: Tensor, dim: int, index: Any) -> Tensor:
    """Pick values along ``dim`` at ``index`` (int64), like ``torch.gather``.

    Args:
        input: the input.
        dim: the dimension to index along.
        index: integer indices, with ``x``'s number of dimensions and no larger than ``x``
            along the other dimensions.

    Shape:
        the output has the shape of ``index``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> cr.gather(x, 1, cr.tensor([[2], [0]])).tolist()
        [[3.0], [4.0]]
        >>> cr.gather(x, 1, cr.tensor([[1]])).tolist()
        [[2.0]]
    """
    index = xp.asarray(index._data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != input.ndim:
        raise OpError(f"gather: index {index.shape} and input {input.shape} must have the same "
                      f"number of dimensions")
    if input.ndim == 0:  # a 0-d input and index: as the one-element 1-d case
        return reshape(gather(reshape(input, 1), 0, index.reshape(1)), ())
    (axis,) = normalize_dims(dim, input.ndim, "gather")  # type: ignore[misc]
    for d, (n_index, n_x) in enumerate(zip(index.shape, input.shape)):
        if d != axis and n_index > n_x:
            raise OpError(f"gather: Size does not match at dimension {d}: expected index "
                          f"{index.shape} to be no larger than input {input.shape} apart from "
                          f"dimension {axis}")
    if index.size and (index.min() < 0 or index.max() >= input.shape[axis]):
        raise OpIndexError(f"gather: index out of range for dimension {dim} of size "
                           f"{input.shape[axis]}")
    return Gather(axis, index)(input)


take_along_dim = gather


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1), as ``torch.unflatten``.

    Example:
        >>> import chainrule as cr
        >>> cr.unflatten(cr.zeros(2, 12), 1, (3, -1)).shape
        (2, 3, 4)
    """
    (d,) = normalize_dims(dim, builtins.max(input.ndim, 1), "unflatten")  # type: ignore[misc]
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise OpError("unflatten: sizes must be non-empty")
    n = input.shape[d] if input.ndim else 1
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or \
            (-1 in sizes and (known == 0 or n % known)):
        raise OpError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                      f"of dim {dim} ({n}) in the input tensor of shape {input.shape}")
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    """The entries of ``input`` at the 1-D integer ``index`` along ``dim``, as
    ``torch.index_select`` (repeated indices accumulate gradient).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
        >>> cr.index_select(x, 1, cr.tensor([2, 0])).tolist()
        [[3, 1], [6, 4]]
    """
    index = xp.asarray(index._data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise OpError(f"index_select: index must be an int32 or int64 tensor, got dtype "
                      f"{index.dtype}")
    if index.ndim > 1:
        raise OpError(f"index_select: index must be 0-D or 1-D, got shape {index.shape}")
    if input.ndim == 0:  # a 0-d input gives a 0-d result, as torch
        if index.size != 1:
            raise OpIndexError(f"index_select: Index to scalar can have only 1 value, got "
                               f"{index.size} value(s)")
        return reshape(index_select(reshape(input, 1), dim, index), ())
    (d,) = normalize_dims(dim, input.ndim, "index_select")  # type: ignore[misc]
    n = input.shape[d]
    if index.size and (index.min() < 0 or index.max() >= n):  # no negative indices, as torch
        raise OpIndexError(f"index_select: index {index.min() if index.min() < 0 else index.max()}"
                           f" out of range for dimension {d} of size {n} (shape {input.shape})")
    # (..., n, ...) -> (..., len(index), ...): one advanced index on dim d
    return getitem(input, (slice(None),) * d + (Tensor._const(index.reshape(-1)),))
