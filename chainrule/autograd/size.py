"""``Size``: a tensor's shape as PyTorch returns it from ``size()``, a tuple that prints as one."""
from __future__ import annotations

from typing import Any


class Size(tuple):
    """The shape of a tensor: a tuple of ints, equal to the plain tuple, printed as
    ``chainrule.Size([2, 3])``; slicing, ``+`` and ``*`` give a Size again, as ``torch.Size``.

    Args:
        sizes: the size of each dimension (an iterable of ints).

    Example:
        >>> import chainrule as cr
        >>> s = cr.zeros(2, 3).size()
        >>> s, s == (2, 3), s.numel(), s[1:]
        (chainrule.Size([2, 3]), True, 6, chainrule.Size([3]))
    """

    __slots__ = ()

    def __new__(cls, sizes: Any = ()) -> "Size":
        sizes = tuple(sizes)
        for s in sizes:
            if not isinstance(s, int) and not hasattr(s, "__index__"):
                raise TypeError(f"Size: expected a sequence of ints, got an element of type "
                                f"{type(s).__name__}")
        return super().__new__(cls, [s.__index__() for s in sizes])

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> "Size":
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other: Any) -> "Size":
        return Size(tuple(other) + tuple(self))

    def __mul__(self, times: Any) -> Any:
        repeated = tuple.__mul__(self, times)
        return repeated if repeated is NotImplemented else Size(repeated)

    __rmul__ = __mul__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ``Size([])``)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __reduce__(self) -> tuple:
        return (Size, (tuple(self),))
