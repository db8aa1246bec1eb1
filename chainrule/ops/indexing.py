"""PyTorch's indexing rule on NumPy arrays: one conversion for reading, writing and gradients.

PyTorch reads ``x[index]`` in two steps (``applySlicing`` in its C++ indexing code). First
the basic part makes a view: a Python int, or a 0-d integer tensor, selects its dimension
and removes it; a slice slices; ``None`` inserts a dimension. Then the advanced part (integer
tensors, lists, bool masks) indexes that view, and the broadcast advanced dimensions stay in
place when the advanced indices stand together, or go first when something separates them.
NumPy does both in one step and counts an int beside an integer array as one more advanced
index, so the two disagree on where the advanced dimensions go::

    x = np.arange(18.).reshape(2, 3, 3)
    x[0, :, [0, 1, 2]]        # NumPy: 0 and the list are separated: x[0].T
    # PyTorch: x[0][:, [0, 1, 2]], the list alone: it stays in place: x[0]

:func:`torch_index` converts a PyTorch index into those two NumPy steps, and
:func:`index_get` and :func:`index_put` apply them: ``Tensor.__getitem__`` (values, and
through the scatter of its backward, gradients) and ``Tensor.__setitem__`` (through
:func:`index_assign`) share them.
"""
from __future__ import annotations

import operator
import warnings
from typing import Any, NamedTuple, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp

_ALL = slice(None)
_INDEX_DTYPES = (numpy.dtype(numpy.int64), numpy.dtype(numpy.int32), numpy.dtype(numpy.uint8),
                 numpy.dtype(numpy.bool_))  # the tensor dtypes PyTorch indexes with
_NUMBER_KINDS = "biuf"


class TorchIndex(NamedTuple):
    """A PyTorch index as two NumPy steps: ``a[basic]``, a view, then ``[advanced]`` on it.

    Attributes:
        basic: ints, slices and None (PyTorch's selects, slices and unsqueezes).
        advanced: one entry per dimension of the view, up to the last advanced index: a
            full slice, an int64 array or a bool mask (which spans as many dimensions as it
            has); None when the index has no advanced part.
    """

    basic: tuple
    advanced: Optional[tuple]


def torch_index(index: Any, ndim: int) -> TorchIndex:
    """Convert a PyTorch index for a tensor of ``ndim`` dimensions into NumPy's two steps.

    Args:
        index: what ``x[index]`` received: an int, slice, None, ``...``, bool, Tensor,
            ndarray or (nested) list, or a tuple of them.
        ndim: the number of dimensions of the indexed tensor.

    Returns:
        the :class:`TorchIndex`; values follow PyTorch: a 0-d integer tensor is an int, a
        uint8 tensor is a mask, a list becomes an int64 (or bool) array, and ``True`` /
        ``False`` insert a dimension of size 1 / 0.

    Raises:
        IndexError: too many indices, or an index of a type PyTorch does not index with.
        ValueError: a slice step that is not positive.
        TypeError: a string.

    Example:
        >>> import numpy as np
        >>> x = np.arange(18.0).reshape(2, 3, 3)
        >>> ti = torch_index((0, slice(None), [0, 1]), x.ndim)
        >>> ti.basic  # x[0], a view of shape (3, 3)
        (0, slice(None, None, None), slice(None, None, None))
        >>> ti.advanced  # then [:, [0, 1]] on it
        (slice(None, None, None), array([0, 1]))
        >>> index_get(x, ti).tolist()
        [[0.0, 1.0], [3.0, 4.0], [6.0, 7.0]]
    """
    items = _items(index)
    if _plain_basic(items):  # ints, slices, None and one ``...``: NumPy reads them the same
        return TorchIndex(items, None)
    parts = [_part(i) for i in items]
    specified = sum(_dims_taken(p) for p in parts)
    if specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic: list = []
    advanced: list = []
    has_advanced = False
    consumed = 0  # dimensions of the tensor indexed so far
    for p in parts:
        if p is None or isinstance(p, slice):
            basic.append(p)
            advanced.append(_ALL)
            consumed += p is not None
        elif p is Ellipsis:  # as PyTorch: each ``...`` skips the dimensions nothing names
            k = min(ndim - specified, ndim - consumed)
            basic += [_ALL] * k
            advanced += [_ALL] * k
            consumed += k
        elif isinstance(p, bool):  # PyTorch: unsqueeze, then take index 0 (True) or none
            basic.append(None)
            advanced.append(xp.zeros(int(p), dtype=numpy.int64))
            has_advanced = True
        elif isinstance(p, int):
            basic.append(p)
            consumed += 1
        else:  # an int64 array, or a mask spanning p.ndim dimensions
            k = _dims_taken(p)
            basic += [_ALL] * k
            advanced.append(p)
            consumed += k
            has_advanced = True
    return TorchIndex(tuple(basic), tuple(advanced) if has_advanced else None)


def index_get(a: Any, index: TorchIndex) -> Any:
    """``a[index]`` by PyTorch's rule; an advanced result is C-contiguous, as PyTorch's.

    Example:
        >>> import numpy as np
        >>> index_get(np.arange(6).reshape(2, 3), torch_index((1, [2, 0]), 2)).tolist()
        [5, 3]
    """
    view = a[index.basic]
    if index.advanced is None:
        return view
    try:
        out = view[index.advanced]
    except IndexError:
        out = _region(view, index.advanced)
        if out.size:
            raise  # else the result is empty, and PyTorch checks no bounds
    return out if out.flags.c_contiguous else out.copy()


def index_put(a: Any, index: TorchIndex, values: Any, accumulate: bool = False) -> None:
    """Write ``values`` into ``a`` at ``index`` (PyTorch's rule), in place.

    Args:
        a: the array written to.
        index: from :func:`torch_index`.
        values: broadcast to the indexed shape.
        accumulate: add instead of assign; a position that repeats receives every value
            (PyTorch's ``index_put_(..., accumulate=True)``, the backward of indexing).

    Example:
        >>> import numpy as np
        >>> a = np.zeros(3)
        >>> index_put(a, torch_index([0, 0, 2], 1), np.ones(3), accumulate=True)
        >>> a.tolist()
        [2.0, 0.0, 1.0]
    """
    if index.advanced is None:  # basic indexing never repeats a position
        if accumulate:
            a[index.basic] += values
        else:
            a[index.basic] = values
        return
    view = a[index.basic + (Ellipsis,)]  # the trailing ``...`` keeps even a 0-d view an array
    try:
        if accumulate:
            xp.add.at(view, index.advanced, values)
        else:
            view[index.advanced] = values
    except IndexError:
        if _region(view, index.advanced).size:
            raise  # else nothing is written, and PyTorch checks no bounds


def _region(view: Any, advanced: tuple) -> Any:
    """What ``view[advanced]`` reads, with out-of-range integers brought into range: the
    shape of the result even where an index is out of range (may raise for other faults)."""
    return view[_in_bounds(view.shape, advanced)]


def _in_bounds(shape: tuple, advanced: tuple) -> tuple:
    """``advanced`` with its integers clipped into range.

    PyTorch checks the bounds of the positions it reads, so an out-of-range index that
    reads nothing (the result is empty) is no error; an index into a dimension of size 0
    always is.
    """
    out, d = [], 0
    for a in advanced:
        if isinstance(a, slice) or a.dtype.kind == "b":
            d += 1 if isinstance(a, slice) else a.ndim
            out.append(a)
            continue
        n = shape[d]
        d += 1
        if n == 0 and a.size:
            raise IndexError(f"index is out of bounds for dimension {d - 1} with size 0")
        out.append(a.clip(-n, n - 1) if n else a)
    return tuple(out)


# ---------------------------------------------------------------- reading the items
def _items(index: Any) -> tuple:
    """The items of ``index``. A list holding a sequence, a tensor, a slice, ``...`` or None
    is read as a tuple, as PyTorch (and NumPy before 1.23) do, with PyTorch's warning."""
    if type(index) is tuple:
        return index
    if isinstance(index, list) and len(index) < 32 and any(
            i is None or i is Ellipsis
            or isinstance(i, (slice, list, tuple, range, xp.ndarray, Tensor)) for i in index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated "
                      "(as in PyTorch); use x[tuple(seq)] instead of x[seq]", UserWarning,
                      stacklevel=5)
        return tuple(index)
    return (index,)


def _plain_basic(items: tuple) -> bool:
    """Whether every item is an int, a forward slice or None, with at most one ``...``."""
    ellipses = 0
    for i in items:
        t = type(i)
        if t is int or i is None:
            continue
        if t is slice:
            if i.step is not None and operator.index(i.step) <= 0:
                return False  # _part raises PyTorch's error
            continue
        if i is Ellipsis:
            ellipses += 1
            continue
        return False
    return ellipses <= 1


def _part(item: Any) -> Any:
    """One item as PyTorch reads it: an int, a slice, None, ``...``, a bool (a dimension
    of size 1 or 0) or an index array (int64, or bool for a mask)."""
    if item is None or item is Ellipsis:
        return item
    if isinstance(item, slice):
        if item.step is not None:
            step = operator.index(item.step)
            if step == 0:
                raise ValueError("slice step cannot be zero")
            if step < 0:
                raise ValueError("step must be greater than zero")
        return item
    if isinstance(item, bool):
        return item
    if isinstance(item, (int, numpy.integer)):
        return int(item)
    if isinstance(item, (str, bytes)):
        raise TypeError(f"invalid index of type {type(item).__name__}: {item!r}")
    if isinstance(item, Tensor):  # only PyTorch's index dtypes
        if item._data.dtype not in _INDEX_DTYPES:
            raise IndexError(f"tensors used as indices must be long, int, byte or bool "
                             f"tensors (got {item._data.dtype})")
        return _array_part(item._data)
    if isinstance(item, (xp.ndarray, list, tuple, range)):
        # an array or a sequence: PyTorch makes a byte/bool tensor of it, or else a long one
        arr = xp.asarray(item)
        if arr.dtype.kind not in _NUMBER_KINDS:
            raise IndexError(f"an index array must hold integers or bools, got dtype "
                             f"{arr.dtype}")
        if arr.dtype.kind != "b" and arr.dtype != numpy.uint8:
            arr = arr.astype(numpy.int64)
        return _array_part(arr)
    try:
        return operator.index(item)
    except TypeError:
        raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long, int, "
                         f"byte or bool tensors are valid indices (got "
                         f"{type(item).__module__}.{type(item).__name__})") from None


def _array_part(arr: Any) -> Any:
    """An index array of PyTorch's dtypes: a 0-d one is an int or a bool; uint8 is a mask."""
    if arr.dtype == numpy.uint8:
        arr = arr.astype(numpy.bool_)
    if arr.ndim == 0:
        return bool(arr) if arr.dtype.kind == "b" else int(arr)
    return arr


def _dims_taken(part: Any) -> int:
    """How many dimensions of the tensor an item indexes (PyTorch's count)."""
    if part is None or part is Ellipsis or isinstance(part, bool):
        return 0
    if isinstance(part, (int, slice)):
        return 1
    return part.ndim if part.dtype.kind == "b" else 1


def index_assign(array: Any, index: Any, value: Any) -> None:
    """``array[index] = value`` by PyTorch's rule, in place: ``Tensor.__setitem__``'s write
    (the tensor checks the in-place rules and bumps its version around it).

    Raises:
        IndexError: an index out of range or of a kind PyTorch refuses, naming the shape.
        ValueError: a slice step of 0 or below; a value that does not broadcast to the
            indexed shape.
    """
    try:
        where = torch_index(index, array.ndim)  # a ValueError here: a slice's step
        try:
            index_put(array, where, value)
        except ValueError:
            raise OpError(f"__setitem__: a value of shape {xp.shape(value)} cannot be "
                          f"broadcast to the indexed shape {index_get(array, where).shape} "
                          f"(tensor of shape {array.shape})") from None
    except IndexError as e:
        raise IndexError(f"__setitem__: invalid index {index!r} for a tensor of shape "
                         f"{array.shape}: {e}") from None
