"""Helpers shared by the ops: argument normalisation and checks, clear messages.

PyTorch's type promotion and the differentiable cast are in :mod:`.dtypes`.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Optional, Sequence

import numpy

from ..autograd.errors import OpError
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..autograd.tensor import Tensor
from ..backend import xp

def normalize_dims(dim: Any, ndim: int, op: str) -> Optional[tuple[int, ...]]:
    """Turn ``dim`` (None, int or sequence, negatives allowed) into sorted positive axes."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, numpy.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, (int, numpy.integer)):
            raise TypeError(f"{op}: dim must be an int or a sequence of ints, got {dim!r}")
        n = max(ndim, 1)
        if not -n <= d < n:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {d})")
        out.append(int(d) % n if ndim else 0)
    if len(set(out)) != len(out):
        raise OpError(f"{op}: dim {dim!r} appears multiple times in the list of dims")
    return tuple(sorted(out))


def contiguous(a: Any) -> Any:
    """``a`` itself if C-contiguous, else a C-ordered copy: for ops whose PyTorch kernel
    writes a fresh contiguous result (reductions, softmax, cat, pad) whatever the input's
    layout, so ``.view()`` of their result works as there. (``ascontiguousarray`` would turn
    a 0-d array into shape (1,).)"""
    return a if a.flags.c_contiguous else a.copy(order="C")


def broadcast_error(op: str, a: Sequence[int], b: Sequence[int]) -> Optional[OpError]:
    """A PyTorch-style error if shapes ``a`` and ``b`` do not broadcast, else None."""
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x != y and x != 1 and y != 1:
            return OpError(
                f"{op}: The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i} (shapes {tuple(a)} and {tuple(b)})")
    return None


def tensor_argument(value: Any, op: str, name: str = "input") -> Tensor:
    """``value`` if it is a Tensor, else PyTorch's TypeError for argument ``name`` of ``op``
    (``"{op}(): argument '{name}' must be Tensor, not {type}"``).

    Example:
        >>> tensor_argument(3, "gelu")
        Traceback (most recent call last):
        TypeError: gelu(): argument 'input' must be Tensor, not int
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(value).__name__}")
    return value


def as_tensor_arg(x: Any, name: str = "input", op: str = "", *, optional: bool = False,
                  array_like: bool = False) -> Optional[Tensor]:
    """A tensor argument of ``op``: a Tensor as it is, an ndarray as a constant Tensor.

    Args:
        x: the argument.
        name: its name in the error message (``"input"``, ``"weight"``).
        op: the op's name in the error message.
        optional: None is allowed (an absent optional tensor, e.g. a bias) and returned.
        array_like: anything ``numpy.asarray`` takes (numbers, nested lists) becomes a
            constant Tensor too (the shape ops); else only Tensors and ndarrays are accepted.

    Raises:
        TypeError: ``"{op}: {name} must be a Tensor[ or None], got {type}"``.

    Example:
        >>> as_tensor_arg(numpy.zeros(2), "weight", "conv2d").shape
        (2,)
        >>> as_tensor_arg([1.0], "weight", "conv2d")
        Traceback (most recent call last):
        TypeError: conv2d: weight must be a Tensor, got list
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, xp.ndarray) or array_like:
        return Tensor(xp.asarray(x))
    if x is None and optional:
        return None
    allowed = "a Tensor or None" if optional else "a Tensor"
    raise TypeError(f"{op}: {name} must be {allowed}, got {type(x).__name__}")


def pair(value: Any, name: str, op: str, minimum: int) -> tuple[int, int]:
    """``value`` (an int, or a tuple/list of one or two ints) as a (rows, columns) pair.

    As PyTorch's 2-D convolution and pooling arguments: a single int (or one-element
    sequence) is used for both axes. Each value must be at least ``minimum``.

    Example:
        >>> pair(3, "stride", "conv2d", 1), pair((1, 2), "padding", "conv2d", 0)
        ((3, 3), (1, 2))
    """
    if isinstance(value, (int, numpy.integer)) and not isinstance(value, bool):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(
            isinstance(v, (int, numpy.integer)) and not isinstance(v, bool) for v in value):
        result = (int(value[0]), int(value[-1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        rule = "positive" if minimum == 1 else "non-negative"
        raise OpError(f"{op}: {name} must be {rule}, got {value!r}")
    return result


FAST_ONLY_HINT = "; double backward needs impl='fast'"
"""The ``double_backward_hint`` of the reference (first-order-only) kernels of an op family."""


class ImplChoice:
    """Which implementation an op family uses (``"fast"`` by default), switchable in a block.

    Args:
        family: the name used in messages (``"conv2d"``).
        impls: the valid names, the default first.
    """

    def __init__(self, family: str, impls: Sequence[str]) -> None:
        self.family = family
        self.impls = tuple(impls)
        self.current = self.impls[0]

    def resolve(self, impl: Optional[str], op: str) -> str:
        """``impl`` if given (checked), else the current choice."""
        name = self.current if impl is None else impl
        if name not in self.impls:
            raise ValueError(f"{op}: unknown impl {name!r}; expected one of "
                             f"{', '.join(self.impls)}")
        return name

    @contextlib.contextmanager
    def use(self, name: str, op: str) -> Iterator[None]:
        """Make ``name`` the current choice inside the block; restored in ``finally``."""
        self.resolve(name, op)
        prev, self.current = self.current, name
        try:
            yield
        finally:
            self.current = prev


# ============================================================================ out= and in place
_RESIZE_WARNING = ("An output with one or more elements was resized since it had shape {}, "
                   "which does not match the required output shape {}. This behavior is "
                   "deprecated, and in a future PyTorch release outputs will not be resized "
                   "unless they have zero elements. You can explicitly reuse an out tensor t "
                   "by resizing it, inplace, to zero elements with t.resize_(0).")


def _cast_error(op: str, src: Any, dst: Any) -> Optional[OpError]:
    """PyTorch's refusal to write a ``src``-typed result into a ``dst`` tensor (float into
    int, anything but bool into bool), else None."""
    src, dst = numpy.dtype(src), numpy.dtype(dst)
    if not ((src.kind == "f" and dst.kind in "biu") or (src.kind == "c" and dst.kind != "c")
            or (dst.kind == "b" and src.kind != "b")):  # torch's canCast
        return None
    return OpError(f"{op}: result type {src} can't be cast to the desired output type {dst}")


def write_out(result: Tensor, out: Any, op: str, same_dtype: bool = False) -> Tensor:
    """Write ``result`` into ``out`` and return ``out``: the ``out=`` argument of the ops.

    As PyTorch: ``out`` keeps its dtype (the result is cast into it; float into an integer
    ``out`` raises; ops whose PyTorch kernel checks ``out`` itself, ``same_dtype``, take only
    the result's dtype); an ``out`` of another shape is resized (with PyTorch's UserWarning
    unless it was empty); and ``out=`` is refused while grad mode is on if an input or
    ``out`` itself requires grad, since writing into ``out`` is not recorded in the graph.

    Args:
        result: the op's result, computed as without ``out=``.
        out: the Tensor to write into.
        op: the op's name, for the messages.
        same_dtype: refuse an ``out`` of another dtype than the result's (matmul, where,
            clamp, the roundings), as their PyTorch kernels do.

    Raises:
        TypeError: ``out`` is not a Tensor.
        RuntimeError: an input requires grad, or the dtype cannot be cast.

    Example:
        >>> import chainrule as cr
        >>> o = cr.zeros(2)
        >>> cr.add(cr.ones(2), 1, out=o) is o, o.tolist()
        (True, [2.0, 2.0])
    """
    tensor_argument(out, op, "out")
    if (result._requires_grad or out._requires_grad) and is_grad_enabled():
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if same_dtype and out._data.dtype != result._data.dtype:
        raise OpError(f"{op}: Found dtype {out.dtype} but expected {result.dtype} (out= must "
                      f"have the result's dtype)")
    err = _cast_error(op, result._data.dtype, out._data.dtype)
    if err is not None:
        raise err
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(_RESIZE_WARNING.format(list(out.shape), list(result.shape)),
                          UserWarning, stacklevel=3)
        out._data = xp.empty(result._data.shape, dtype=out._data.dtype)
    out._data[...] = result._data
    out._version += 1
    return out


def inplace_method(fn: Any, name: str) -> Any:
    """The in-place method ``Tensor.<name>`` (``exp_``, ``clamp_``...) of the op ``fn``.

    It computes ``fn(self, *args, **kwargs)`` outside the graph and writes the result into
    ``self``, under Tensor's in-place rules: refused on a leaf that requires grad (and on a
    tensor in a recorded graph) while grad mode is on, and for an argument that requires grad;
    the version counter is bumped. The result must keep ``self``'s dtype and shape, as in
    PyTorch (``int_tensor.exp_()`` raises: the result is float).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.0, 4.0])
        >>> x.sqrt_() is x, x.tolist()
        (True, [0.0, 2.0])
    """
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        self._check_inplace(name)
        for a in (*args, *kwargs.values()):
            if isinstance(a, Tensor):
                self._inplace_value(name, a)  # refuses a value that requires grad
        with no_grad():
            result = fn(self, *args, **kwargs)
        err = _cast_error(name, result._data.dtype, self._data.dtype)
        if err is not None:
            raise err
        if result._data.shape != self._data.shape:
            raise OpError(f"{name}: the result of shape {result.shape} cannot be written "
                          f"into the tensor's shape {self.shape} (in-place ops keep the shape)")
        self._data[...] = result._data
        self._version += 1
        return self

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place version of :meth:`Tensor.{name[:-1]}` (returns ``self``)."
    return method
