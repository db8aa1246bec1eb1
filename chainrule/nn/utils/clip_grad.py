"""Gradient clipping, as ``torch.nn.utils.clip_grad``: by total norm or by value, in place.

Each works on the ``.grad`` of the parameters given (those without a gradient are skipped),
under no grad, keeping every gradient tensor's identity (as torch's ``grad.mul_``).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Union

import numpy

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import Tensor
from ...backend import xp

TensorsT = Union[Tensor, Iterable[Tensor]]


def _as_list(tensors: TensorsT) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(a: Any, norm_type: float) -> float:
    """``torch.linalg.vector_norm(a, norm_type)`` of an array, in float64."""
    a = xp.abs(a.astype(numpy.float64, copy=False)).ravel()
    if norm_type == math.inf:
        return float(a.max()) if a.size else 0.0
    if norm_type == -math.inf:
        return float(a.min()) if a.size else math.inf
    if norm_type == 0:
        return float(xp.count_nonzero(a))
    return float(xp.sum(a ** norm_type) ** (1.0 / norm_type))


def _grads(parameters: TensorsT) -> list[Tensor]:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def get_total_norm(tensors: TensorsT, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: Optional[bool] = None) -> Tensor:
    """The norm of the norms of ``tensors`` (as if they were concatenated into one vector).

    Args:
        tensors: a tensor or an iterable of tensors (e.g. gradients).
        norm_type: the order p of the norm (``math.inf`` for the max norm).
        error_if_nonfinite: raise if the total norm is NaN or infinite.
        foreach: accepted for PyTorch's signature (one NumPy path serves both).

    Returns:
        A 0-d tensor of the tensors' dtype (float32 ``0.`` when there are none).

    Raises:
        RuntimeError: the total norm is not finite and ``error_if_nonfinite`` is set.

    Example:
        >>> import chainrule as cr
        >>> get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])]).item()
        5.0
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(xp.array(0.0, dtype=numpy.float32))
    dtype = numpy.result_type(*[t.dtype for t in tensors])
    norms = [_vector_norm(t._data, norm_type) for t in tensors]
    norms32 = xp.array(norms, dtype=numpy.float64).astype(dtype)  # each norm in its dtype
    total = xp.array(_vector_norm(norms32, norm_type)).astype(dtype)
    if error_if_nonfinite and not numpy.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm anyway, "
                           f"set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grads_with_norm_(parameters: TensorsT, max_norm: float, total_norm: Tensor,
                          foreach: Optional[bool] = None) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))``, in place.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is scaled.
        max_norm: the largest total norm allowed.
        total_norm: the total norm, e.g. from :func:`get_total_norm`.
        foreach: accepted for PyTorch's signature.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.zeros(2)); w.grad = cr.tensor([3.0, 4.0])
        >>> clip_grads_with_norm_([w], 1.0, cr.tensor(5.0))
        >>> [round(v, 4) for v in w.grad.tolist()]
        [0.6, 0.8]
    """
    grads = _grads(parameters)
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else xp.asarray(total_norm)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)  # in the norm's dtype
    with no_grad(), numpy.errstate(invalid="ignore"):  # an inf grad times 0 is NaN, silently
        for g in grads:
            g.mul_(Tensor(coef.astype(numpy.result_type(coef, g.dtype), copy=False)))


def clip_grad_norm_(parameters: TensorsT, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Optional[bool] = None) -> Tensor:
    """Rescale the gradients in place so that their total norm is at most ``max_norm``.

    The total norm is that of all the gradients concatenated into one vector; every gradient
    is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``, as torch's.

    Args:
        parameters: a tensor or an iterable of tensors (e.g. ``model.parameters()``).
        max_norm: the largest total norm allowed.
        norm_type: the order p of the norm (``math.inf``: the largest absolute value).
        error_if_nonfinite: raise if the total norm is NaN or infinite (the gradients are
            then left unchanged).
        foreach: accepted for PyTorch's signature.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).

    Raises:
        RuntimeError: the total norm is not finite and ``error_if_nonfinite`` is set.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.zeros(2)); w.grad = cr.tensor([3.0, 4.0])
        >>> cr.nn.utils.clip_grad_norm_([w], max_norm=1.0).item()
        5.0
        >>> [round(v, 4) for v in w.grad.tolist()]
        [0.6, 0.8]
    """
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters: TensorsT, clip_value: float,
                     foreach: Optional[bool] = None) -> None:
    """Clamp every gradient into ``[-clip_value, clip_value]``, in place.

    Args:
        parameters: a tensor or an iterable of tensors.
        clip_value: the largest absolute value allowed.
        foreach: accepted for PyTorch's signature.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.zeros(3)); w.grad = cr.tensor([-2.0, 0.5, 3.0])
        >>> cr.nn.utils.clip_grad_value_(w, 1.0)
        >>> w.grad.tolist()
        [-1.0, 0.5, 1.0]
    """
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.copy_(Tensor(xp.clip(g._data, -clip_value, clip_value)))
