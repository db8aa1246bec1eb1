"""``Parameter``: the leaf Tensor a :class:`~chainrule.nn.Module` registers as a parameter."""
from __future__ import annotations

from typing import Any

import numpy

from ..autograd.tensor import Tensor
from ..backend import xp


class Parameter(Tensor):
    """A leaf Tensor that a :class:`Module` registers as one of its parameters.

    Args:
        data: the initial value (a Tensor or array; its array is shared, not copied).
            ``None`` gives an empty float32 tensor.
        requires_grad: whether the parameter is trained (default True).

    Example:
        >>> import chainrule as cr
        >>> p = cr.nn.Parameter(cr.zeros(2))
        >>> p.requires_grad, p.is_leaf
        (True, True)
        >>> p
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = xp.empty((0,), dtype=numpy.float32)
        if isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:  # copy.deepcopy support
        return (Parameter, (self._data.copy(), self.requires_grad))
