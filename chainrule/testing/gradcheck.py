"""``gradcheck`` and ``gradgradcheck``: autograd against float64 central differences.

The same contract as ``torch.autograd.gradcheck``: every input that requires grad is
perturbed element by element by +-eps, and the numerical Jacobian must match the one autograd
builds from vector-Jacobian products within ``atol + rtol * |numerical|``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy

from ..autograd.engine import grad as autograd_grad
from ..autograd.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytical and numerical gradients disagree."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> tuple[Tensor, ...]:
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(out)


def _diff_inputs(inputs: Sequence[Any]) -> list[int]:
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _check_some_input_requires_grad(inputs: Sequence[Any], fn_name: str) -> None:
    """Refuse a check with nothing to check, as ``torch.autograd.gradcheck`` does."""
    if not _diff_inputs(inputs):
        raise ValueError(f"{fn_name} expects at least one input Tensor with requires_grad=True, "
                         f"but none of the {len(inputs)} inputs requires grad; the check would "
                         f"pass without testing anything")


def numerical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
                       ) -> list[list[numpy.ndarray]]:
    """J[i][j] of shape (inputs[i].size, outputs[j].size) by central differences."""
    jac: list[list[numpy.ndarray]] = []
    # grad mode stays on: fn may itself differentiate (gradgradcheck's vjp)
    outs0 = _outputs(fn, inputs)
    for i in _diff_inputs(inputs):
        x = inputs[i]._data
        cols = [numpy.zeros((x.size, o._data.size)) for o in outs0]
        flat = x.reshape(-1)  # a view: perturbing it perturbs the input in place
        if x.size and not numpy.shares_memory(flat, x):  # an empty array shares no memory
            raise ValueError("gradcheck: inputs must be contiguous arrays")
        for k in range(x.size):
            orig = flat[k].copy()
            flat[k] = orig + eps
            plus = [o._data.astype(numpy.float64).copy() for o in _outputs(fn, inputs)]
            flat[k] = orig - eps
            minus = [o._data.astype(numpy.float64).copy() for o in _outputs(fn, inputs)]
            flat[k] = orig
            for j, (p, m) in enumerate(zip(plus, minus)):
                cols[j][k] = ((p - m) / (2 * eps)).reshape(-1)
        jac.append(cols)
    return jac


def _analytical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any]
                         ) -> list[list[numpy.ndarray]]:
    idx = _diff_inputs(inputs)
    outs = _outputs(fn, inputs)
    jac = [[numpy.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in idx]
    for j, out in enumerate(outs):
        if not out.requires_grad:
            continue
        for k in range(out._data.size):
            v = numpy.zeros(out._data.size, dtype=out.dtype)
            v[k] = 1
            grads = autograd_grad(out, [inputs[i] for i in idx],
                                  grad_outputs=Tensor(v.reshape(out.shape)),
                                  retain_graph=True, allow_unused=True)
            for n, g in enumerate(grads):
                if g is not None:
                    if g.shape != inputs[idx[n]].shape:
                        raise GradcheckError(f"gradient of input {idx[n]} has shape {g.shape}, "
                                             f"expected {inputs[idx[n]].shape}")
                    jac[n][j][:, k] = g._data.reshape(-1)
    return jac


def gradcheck(fn: Callable[..., Any], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check autograd's gradients of ``fn`` against central differences.

    Args:
        fn: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple of them; those with ``requires_grad`` are checked. Use
            float64.
        eps: the finite-difference step.
        atol: absolute tolerance.
        rtol: relative tolerance.
        raise_exception: raise :class:`GradcheckError` on mismatch (else return False).

    Raises:
        ValueError: when no input requires grad (the check would be vacuous), or an input
            that requires grad is not float64.

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(3, dtype=cr.float64, requires_grad=True)
        >>> gradcheck(lambda t: (t * t).sum(), (x,))
        True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_some_input_requires_grad(inputs, "gradcheck")
    for i in _diff_inputs(inputs):
        if inputs[i].dtype != numpy.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 "
                             f"(finite differences in float32 are too coarse)")
    snapshot = [x._data.copy() if isinstance(x, Tensor) else None for x in inputs]
    numerical = numerical_jacobian(fn, inputs, eps)
    analytical = _analytical_jacobian(fn, inputs)
    for x, before in zip(inputs, snapshot):
        if before is not None and not numpy.array_equal(x._data, before, equal_nan=True):
            raise GradcheckError("gradcheck: fn modified its inputs")
    for n, i in enumerate(_diff_inputs(inputs)):
        for j, (a, num) in enumerate(zip(analytical[n], numerical[n])):
            if not numpy.allclose(a, num, atol=atol, rtol=rtol, equal_nan=True):
                worst = numpy.unravel_index(numpy.argmax(numpy.abs(a - num)), a.shape)
                msg = (f"Jacobian mismatch for output {j} with respect to input {i}:\n"
                       f"numerical: {num}\nanalytical: {a}\nworst element {worst}: "
                       f"numerical {num[worst]} vs analytical {a[worst]}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Any,
                  grad_outputs: Optional[Any] = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
                  raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of the vector-Jacobian product of ``fn``.

    The function checked maps (inputs, grad_outputs) to ``autograd.grad(fn(inputs), inputs,
    grad_outputs, create_graph=True)``; random ``grad_outputs`` are drawn when not given.

    Args:
        fn: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple of them; those with ``requires_grad`` are checked. Use
            float64.
        grad_outputs: the upstream gradient of each output (a Tensor or a sequence of them);
            random float64 ones, seeded by ``seed``, when None.
        eps: the finite-difference step.
        atol: absolute tolerance.
        rtol: relative tolerance.
        seed: seed of the random ``grad_outputs``.
        raise_exception: raise :class:`GradcheckError` on mismatch (else return False).

    Raises:
        ValueError: when no input requires grad.

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(3, dtype=cr.float64, requires_grad=True)
        >>> gradgradcheck(lambda t: (t ** 3).sum(), (x,))
        True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_some_input_requires_grad(inputs, "gradgradcheck")
    idx = _diff_inputs(inputs)
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = numpy.random.default_rng(seed)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    elif isinstance(grad_outputs, Tensor):  # one output: one Tensor, as torch accepts
        grad_outputs = [grad_outputs]
    n = len(inputs)

    def vjp(*args: Any) -> tuple:
        ins, gos = args[:n], args[n:]
        outs = _outputs(fn, ins)
        pairs = [(o, g) for o, g in zip(outs, gos) if o.requires_grad]
        grads = autograd_grad([o for o, _ in pairs], [ins[i] for i in idx],
                              grad_outputs=[g for _, g in pairs], create_graph=True,
                              allow_unused=True)
        # a gradient that does not require grad is a constant: its Jacobian is taken as zero,
        # so a backward that is not itself differentiable fails the check
        return tuple(g if g is not None else Tensor(numpy.zeros(ins[i].shape, ins[i].dtype))
                     for g, i in zip(grads, idx))

    return gradcheck(vjp, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
