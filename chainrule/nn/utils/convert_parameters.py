"""Parameters as one flat vector and back, as ``torch.nn.utils.convert_parameters``."""
from __future__ import annotations

from typing import Iterable

from ...autograd.errors import OpError
from ...autograd.tensor import Tensor
from ...ops.shape import cat, reshape


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the parameters, each flattened, into one vector (differentiable).

    Args:
        parameters: an iterable of tensors (e.g. ``model.parameters()``).

    Shape:
        Output ``(sum of the parameters' numel,)``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn.utils import parameters_to_vector
        >>> parameters_to_vector(cr.nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    return cat([reshape(p, (-1,)) for p in parameters])  # each (numel,) -> (total,)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Write consecutive slices of ``vec`` into the parameters (each reshaped to its
    parameter's shape); as torch's, each parameter then shares memory with ``vec``.

    Args:
        vec: a 1-D tensor of the parameters' total size.
        parameters: an iterable of tensors.

    Raises:
        TypeError: ``vec`` is not a tensor.
        ValueError: ``vec`` is too short for the parameters, or not a vector whose slices
            fit them (an ``OpError``, also a ``RuntimeError`` as torch's); no parameter is
            changed then.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn.utils import vector_to_parameters
        >>> fc = cr.nn.Linear(2, 1)
        >>> vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), fc.parameters())
        >>> fc.weight.tolist(), fc.bias.tolist()
        ([[1.0, 2.0]], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    views, pointer = [], 0
    for i, param in enumerate(params):  # every view first: no parameter changes on an error
        n = param.numel()
        piece = vec._data[pointer:pointer + n]  # as torch's vec[pointer:pointer + n]
        if piece.size != n:
            raise OpError(f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not fit "
                          f"the parameters {[tuple(p.shape) for p in params]}: parameter {i} "
                          f"(shape {tuple(param.shape)}, {n} elements) would take "
                          f"vec[{pointer}:{pointer + n}], which has {piece.size}")
        views.append(piece.reshape(param.shape))  # a view of vec
        pointer += n
    for param, view in zip(params, views):
        param._data = view
        param._version += 1
