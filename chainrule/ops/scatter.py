"""The scatter family, as PyTorch's: ``scatter`` (a tensor ``src`` or a number ``value``),
``scatter_add``, and their in-place forms ``scatter_`` and ``scatter_add_``.

Along ``dim``, ``index`` says where each element goes; for a 3-D tensor and ``dim=0``::

    out[index[i][j][k]][j][k] = src[i][j][k]     # scatter (the last write wins on repeats)
    out[index[i][j][k]][j][k] += src[i][j][k]    # scatter_add (repeats add up)

``index`` has the input's number of dimensions (a 0-d tensor counts as 1-d of size 1, so
``zeros(10).scatter_(0, tensor(3), value=1)`` is a one-hot vector), is no larger than ``src``
along every dimension and no larger than the input apart from ``dim``; only the leading part
of ``src`` (of ``index``'s shape) is read. The gradients are PyTorch's: the upstream with the
overwritten positions zeroed for the input of ``scatter`` (the upstream itself for
``scatter_add``), and the upstream gathered at ``index`` for ``src``. Where ``src`` is larger
than ``index``, PyTorch 2.13's backward raises (the gathered gradient has ``index``'s shape);
chainrule pads it with zeros to ``src``'s shape, the gradient of the elements never read.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

from ..autograd.errors import OpError, OpIndexError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, inplace_method, normalize_dims
from .shape import Gather, Pad, reshape

_INDEX_DTYPES = (numpy.dtype(numpy.int64), numpy.dtype(numpy.int32))  # as PyTorch 2.13's
_NUMBERS = (bool, int, float, numpy.bool_, numpy.integer, numpy.floating)


def _positions(axis: int, index: Any) -> tuple:
    """The NumPy index of the elements ``index`` addresses: ``index`` along ``axis``, each
    element's own position along the other axes. (The Functions skip an empty index: it
    writes nothing, and its shape is not checked, as in PyTorch.)"""
    grid = list(xp.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


def _leading(a: Any, shape: tuple[int, ...]) -> Any:
    """``a[:shape[0], :shape[1], ...]``: the part of ``a`` that ``index`` reads."""
    return a[tuple(slice(0, s) for s in shape)]


def _src_grad(gy: Tensor, axis: int, index: Any, src_shape: tuple[int, ...]) -> Tensor:
    """``gy.gather(axis, index)``, padded with zeros to ``src``'s shape when it is larger."""
    if index.size == 0:
        return Tensor._const(xp.zeros(src_shape, gy.dtype))
    g = Gather(axis, index)(gy)
    if g.shape != src_shape:
        g = Pad(tuple((0, s - n) for s, n in zip(src_shape, index.shape)), 0.0)(g)
    return g


# ============================================================================ the Functions
class Scatter(Function):
    """``scatter`` with a tensor ``src``: a copy of ``x`` with ``src``'s leading part written
    at ``index`` along ``axis``.

    Example:
        >>> import chainrule as cr
        >>> Scatter(0, cr.tensor([2, 0])._data)(cr.zeros(3), cr.tensor([5.0, 6.0])).tolist()
        [6.0, 0.0, 5.0]
    """

    derivative = ("1, 0 at the overwritten positions", "1 at the positions it is read from")

    def __init__(self, axis: int, index: Any) -> None:
        self.axis = axis
        self.index = index

    def forward(self, x: Any, src: Any) -> Any:
        out = x.copy()
        if self.index.size:
            out[_positions(self.axis, self.index)] = _leading(src, self.index.shape)
        return out

    def backward(self, gy: Tensor) -> tuple:
        src = self.inputs[1]
        n0, n1 = self.needs_input_grad
        return (ScatterValue(self.axis, self.index, 0)(gy) if n0 else None,
                _src_grad(gy, self.axis, self.index, src.shape) if n1 else None)


class ScatterValue(Function):
    """``scatter`` with a number: a copy of ``x`` with ``value`` at ``index`` along ``axis``
    (PyTorch's ``scatter.value``, node ``ScatterBackward1``).

    Example:
        >>> import chainrule as cr
        >>> ScatterValue(0, cr.tensor([1])._data, 7.0)(cr.zeros(3)).tolist()
        [0.0, 7.0, 0.0]
    """

    node_name = "ScatterBackward1"  # PyTorch's name: its second scatter overload
    derivative = "1, 0 at the overwritten positions"

    def __init__(self, axis: int, index: Any, value: Any) -> None:
        self.axis = axis
        self.index = index
        self.value = value

    def forward(self, x: Any) -> Any:
        out = x.copy()
        if self.index.size:
            out[_positions(self.axis, self.index)] = self.value
        return out

    def backward(self, gy: Tensor) -> Tensor:
        return ScatterValue(self.axis, self.index, 0)(gy)


class ScatterAddInto(Function):
    """``scatter_add``: a copy of ``x`` with ``src``'s leading part added at ``index`` along
    ``axis``, repeated positions summed (PyTorch's node ``ScatterAddBackward0``).

    Example:
        >>> import chainrule as cr
        >>> ScatterAddInto(0, cr.tensor([1, 1])._data)(cr.zeros(3), cr.ones(2)).tolist()
        [0.0, 2.0, 0.0]
    """

    node_name = "ScatterAddBackward0"  # PyTorch's name (ScatterAdd is gather's backward)
    derivative = ("1", "1 at the positions it is read from")

    def __init__(self, axis: int, index: Any) -> None:
        self.axis = axis
        self.index = index

    def forward(self, x: Any, src: Any) -> Any:
        out = x.copy()
        if self.index.size:
            xp.add.at(out, _positions(self.axis, self.index), _leading(src, self.index.shape))
        return out

    def backward(self, gy: Tensor) -> tuple:
        src = self.inputs[1]
        n0, n1 = self.needs_input_grad
        return (gy if n0 else None,
                _src_grad(gy, self.axis, self.index, src.shape) if n1 else None)


# ============================================================================ the checks
def _value(value: Any, dtype: numpy.dtype, op: str) -> Any:
    """A scalar ``value`` as ``dtype`` (PyTorch's ``Scalar``: a number or a 0-d tensor),
    refused where PyTorch refuses it: a non-finite or too large number for the dtype."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise TypeError(f"{op}(): value must be a number or a 0-d tensor, got a tensor "
                            f"of shape {value.shape}")
        value = value._data[()]
    if not isinstance(value, _NUMBERS):
        raise TypeError(f"{op}(): value must be a number, got {type(value).__name__}")
    with numpy.errstate(over="ignore", invalid="ignore"):
        v = xp.asarray(value).astype(dtype)  # an int wraps into a smaller int dtype, as torch
    finite = numpy.isfinite(value) if isinstance(value, (float, numpy.floating)) else True
    if (dtype.kind in "iu" and not finite) or (finite and dtype.kind == "f"
                                                and not numpy.isfinite(v)):
        raise OpError(f"{op}(): value {value!r} cannot be converted to type {dtype} without "
                      f"overflow")
    return v


def _size(shape: tuple[int, ...], d: int) -> int:
    """PyTorch's ``ensure_nonempty_size``: a 0-d tensor is 1-d of size 1."""
    return shape[d] if shape else 1


def _check(op: str, x: Tensor, axis: int, index: Any, src: Optional[Tensor]) -> None:
    """PyTorch's ``scatter_gather_dtype_check`` and ``scatter_shape_check`` (an empty index
    is not checked), then the bounds of ``index``'s values."""
    if index.size and index.dtype not in _INDEX_DTYPES:
        raise OpError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    if src is not None and src._data.dtype != x._data.dtype:
        raise OpError(f"{op}(): Expected self.dtype to be equal to src.dtype (self {x.dtype}, "
                      f"src {src.dtype})")
    if index.size == 0:
        return
    ndim = max(x.ndim, 1)
    if max(index.ndim, 1) != ndim:
        raise OpError(f"{op}(): Index tensor must have the same number of dimensions as self "
                      f"tensor (index {index.shape}, self {x.shape})")
    if src is not None and max(src.ndim, 1) != ndim:
        # PyTorch raises IndexError for fewer dims (reading src's size past its last
        # dimension), RuntimeError for more: OpIndexError is both
        raise (OpIndexError if src.ndim < ndim else OpError)(
            f"{op}(): Index tensor must have the same number of dimensions as src tensor "
            f"(index {index.shape}, src {src.shape})")
    wrong = any(d != axis and _size(index.shape, d) > _size(x.shape, d) for d in range(ndim))
    if src is not None:
        wrong = wrong or any(_size(index.shape, d) > _size(src.shape, d) for d in range(ndim))
    if wrong:
        also = f" and to be no larger size than src {list(src.shape)}" if src is not None else ""
        raise OpError(f"{op}(): Expected index {list(index.shape)} to be no larger than self "
                      f"{list(x.shape)} apart from dimension {axis}{also}")
    n = _size(x.shape, axis)
    bad = (index < 0) | (index >= n)
    if bad.any():
        raise OpIndexError(f"{op}(): index {int(index[bad].flat[0])} is out of bounds for "
                           f"dimension {axis} with size {n}")


def _scatter(op: str, input: Any, dim: Any, index: Any, src: Optional[Any],
             value: Any = None) -> Tensor:
    """Check the arguments, view 0-d tensors as 1-d of size 1, and run the Function."""
    input = as_tensor_arg(input, "input", op)
    index = as_tensor_arg(index, "index", op)._data
    if src is not None and not isinstance(src, Tensor):
        raise TypeError(f"{op}(): src must be a Tensor, got {type(src).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, (int, numpy.integer)):
        raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
    (axis,) = normalize_dims(dim, input.ndim, op)  # type: ignore[misc]
    _check(op, input, axis, index, src)
    if value is not None:
        value = _value(value, input._data.dtype, op)
    x = input if input.ndim else reshape(input, (1,))
    index = index if index.ndim else index.reshape(1)
    if src is not None and src.ndim == 0:
        src = reshape(src, (1,))
    if value is not None:
        out = ScatterValue(axis, index, value)(x)
    elif op == "scatter_add":
        out = ScatterAddInto(axis, index)(x, src)
    else:
        out = Scatter(axis, index)(x, src)
    return out if input.ndim else reshape(out, ())


# ============================================================================ the wrappers
def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """A copy of ``input`` with ``src`` (or the number ``value``) written at ``index`` along
    ``dim``, as ``torch.scatter``: for ``dim=0``, ``out[index[i][j]][j] = src[i][j]``.

    Where ``index`` repeats a position along ``dim``, one of the values written there wins
    (PyTorch leaves which unspecified). Differentiable in ``input`` (0 at the written
    positions) and ``src`` (the upstream gathered at ``index``).

    Args:
        input: the tensor to copy.
        dim: the dimension ``index`` indexes.
        index: int64 (or int32) indices, with ``input``'s number of dimensions, no larger
            than ``input`` apart from ``dim`` and no larger than ``src``; each in
            ``[0, input.size(dim))``.
        src: the tensor of ``input``'s dtype to read from, or a number (as ``value``).
        value: the number to write (instead of ``src``).

    Shape:
        the output has ``input``'s shape; ``src`` is read over ``index``'s shape.

    Example:
        >>> import chainrule as cr
        >>> src = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> cr.zeros(3, 3).scatter(0, cr.tensor([[0, 1, 2], [2, 0, 1]]), src).tolist()
        [[1.0, 5.0, 0.0], [0.0, 2.0, 6.0], [4.0, 0.0, 3.0]]
        >>> cr.scatter(cr.zeros(2, 3), 1, cr.tensor([[2], [0]]), value=-1.0).tolist()
        [[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]]
    """
    if src is not None and value is not None:
        raise TypeError("scatter(): give src or value, not both")
    if src is None and value is None:
        raise TypeError("scatter(): missing the src tensor or the value to write")
    if src is not None and not isinstance(src, Tensor):  # a number given in src's place
        if not isinstance(src, _NUMBERS):
            raise TypeError(f"scatter(): src must be a Tensor or a number, got "
                            f"{type(src).__name__}")
        src, value = None, src
    return _scatter("scatter", input, dim, index, src, value)


def scatter_add(input: Any, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim``, as
    ``torch.scatter_add``: for ``dim=0``, ``out[index[i][j]][j] += src[i][j]``; repeated
    positions sum. Differentiable in ``input`` (the upstream) and ``src`` (the upstream
    gathered at ``index``).

    Args:
        input: the tensor to copy.
        dim: the dimension ``index`` indexes.
        index: int64 (or int32) indices, as in :func:`scatter`.
        src: the tensor of ``input``'s dtype to add from.

    Shape:
        the output has ``input``'s shape; ``src`` is read over ``index``'s shape.

    Example:
        >>> import chainrule as cr
        >>> cr.scatter_add(cr.zeros(3), 0, cr.tensor([0, 2, 0]), cr.tensor([1.0, 2.0, 3.0]))
        tensor([4., 0., 2.])
    """
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): src must be a Tensor, got {type(src).__name__}")
    return _scatter("scatter_add", input, dim, index, src)


_scatter_inplace = inplace_method(scatter, "scatter_")
_scatter_add_inplace = inplace_method(scatter_add, "scatter_add_")


def scatter_(input: Tensor, dim: int, index: Any, src: Any = None, *,
             value: Any = None) -> Tensor:
    """In-place :func:`scatter` (``Tensor.scatter_``): writes into ``input`` and returns it,
    under the in-place rules (refused on a leaf that requires grad while grad mode is on).

    Example:
        >>> import chainrule as cr
        >>> y = 3  # a class label: a one-hot target, as in PyTorch's transforms tutorial
        >>> cr.zeros(5, dtype=cr.float).scatter_(0, cr.tensor(y), value=1).tolist()
        [0.0, 0.0, 0.0, 1.0, 0.0]
    """
    return _scatter_inplace(input, dim, index, src, value=value)


def scatter_add_(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """In-place :func:`scatter_add` (``Tensor.scatter_add_``): adds into ``input`` and
    returns it, under the in-place rules.

    Example:
        >>> import chainrule as cr
        >>> counts = cr.zeros(3, dtype=cr.int64)
        >>> counts.scatter_add_(0, cr.tensor([2, 0, 2]), cr.ones(3, dtype=cr.int64)).tolist()
        [1, 0, 2]
    """
    return _scatter_add_inplace(input, dim, index, src)
