"""Products beyond matmul: einsum (the one new primitive), and bmm, addmm, baddbmm, outer
composed from matmul and the arithmetic ops.

``Einsum``'s backward is itself an einsum per operand (the upstream gradient contracted with
the other operands), so its double backward works by recursion.
"""
from __future__ import annotations

import string
from typing import Any, Optional, Sequence

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, write_out
from .dtypes import as_operand, result_dtype
from .linalg import Addmm, MatMul, matmul
from .shape import reshape, unbroadcast


# ============================================================================ einsum
class Einsum(Function):
    """``numpy.einsum`` of an explicit equation (no ``...``, every output letter named).

    The gradient of operand i is the einsum of the upstream gradient with the other operands
    onto operand i's letters; a letter found nowhere else is spread by a ones vector, and a
    letter repeated in operand i (a diagonal, ``'ii->i'``) by an identity matrix.
    """

    derivative = "upstream contracted with the other operands (an einsum)"

    def __init__(self, inputs: tuple[str, ...], output: str) -> None:
        self.subs, self.out_subs = inputs, output

    def forward(self, *xs: Any) -> Any:
        equation = ",".join(self.subs) + "->" + self.out_subs
        return xp.asarray(xp.einsum(equation, *xs, optimize=len(xs) > 2))

    def backward(self, gy: Tensor) -> tuple:
        sizes: dict[str, int] = {}
        for sub, x in zip(self.subs, self.inputs):
            for letter, n in zip(sub, x.shape):
                if sizes.get(letter, 1) == 1:  # unseen, or seen as a broadcast size 1
                    sizes[letter] = n
        return tuple(self._grad(i, gy, sizes) if need else None
                     for i, need in enumerate(self.needs_input_grad))

    def _grad(self, i: int, gy: Tensor, sizes: dict[str, int]) -> Tensor:
        subs = [self.out_subs] + [s for j, s in enumerate(self.subs) if j != i]
        operands = [gy] + [x for j, x in enumerate(self.inputs) if j != i]
        free = iter(c for c in string.ascii_letters if c not in sizes)
        target, seen = "", set()
        for letter in self.subs[i]:
            if letter in seen:  # a repeated letter: the diagonal, through an identity
                fresh = next(free)
                subs.append(letter + fresh)
                operands.append(Tensor._const(xp.eye(sizes[letter], dtype=gy.dtype)))
                letter = fresh
            elif not any(letter in s for s in subs):  # summed away: spread back by ones
                subs.append(letter)
                operands.append(Tensor._const(xp.ones(sizes[letter], dtype=gy.dtype)))
            seen.add(letter)
            target += letter
        g = Einsum(tuple(subs), target)(*operands)
        return unbroadcast(g, self.inputs[i].shape)  # size-1 axes that were broadcast


def _explicit(equation: str, ndims: Sequence[int]) -> tuple[tuple[str, ...], str]:
    """``equation`` with ``...`` replaced by letters and the output written out, as torch
    reads it (implicit output: the ellipsis, then the letters seen once, sorted)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise OpError(f"einsum(): more operands were provided than specified in the equation"
                      if len(ndims) > len(terms) else
                      f"einsum(): fewer operands were provided than specified in the equation")
    for c in eq:
        if c not in string.ascii_letters + ".,->":
            raise OpError(f"einsum(): invalid subscript given at index {eq.index(c)} in the "
                          f"equation string, subscripts must be in [a-zA-Z]")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell = max([n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t],
              default=0)
    ell_letters = "".join(spare[:ell])
    subs = []
    for k, (t, n) in enumerate(zip(terms, ndims)):
        if "..." in t:
            e = n - len(t.replace("...", ""))
            t = t.replace("...", ell_letters[ell - e:] if e > 0 else "")
        if len(t) != n:
            raise OpError(f"einsum(): the number of subscripts in the equation "
                          f"({len(t)}) does not match the number of dimensions ({n}) for "
                          f"operand {k}" + ("" if "..." in terms[k] else
                                            " and no ellipsis was given"))
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell_letters)
        for c in out:
            if out.count(c) > 1 or not any(c in s for s in subs):
                raise OpError(f"einsum(): output subscript {c} "
                              + ("appears more than once in the output" if out.count(c) > 1
                                 else "does not appear in the equation for any input operand"))
    else:
        counts = "".join(subs)
        out = ell_letters + "".join(sorted(c for c in set(counts) if counts.count(c) == 1
                                           and c not in ell_letters))
    return tuple(subs), out


def _check_sizes(subs: Sequence[str], operands: Sequence[Tensor]) -> None:
    """Every letter has one size across the operands (1 broadcasts), as torch's."""
    sizes: dict[str, int] = {}
    for k, (sub, x) in enumerate(zip(subs, operands)):
        for letter, n in zip(sub, x.shape):
            if sub.count(letter) > 1 and n != x.shape[sub.index(letter)]:
                raise OpError(f"einsum(): subscript {letter} is repeated for operand {k} but "
                              f"the sizes don't match, {n} != {x.shape[sub.index(letter)]}")
            seen = sizes.get(letter, 1)
            if seen != 1 and n != 1 and n != seen:
                raise OpError(f"einsum(): subscript {letter} has size {n} for operand {k} "
                              f"which does not broadcast with previously seen size {seen}")
            sizes[letter] = max(seen, n)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum of products over the subscripts of ``equation``, as ``torch.einsum``.

    Args:
        equation: e.g. ``'ij,jk->ik'``; ``...`` stands for broadcast dimensions; without
            ``->`` the output is the letters that appear once, in alphabetical order.
        operands: the tensors, one per term (or one list of them).

    Example:
        >>> import chainrule as cr
        >>> a, b = cr.ones(2, 3), cr.ones(3, 4)
        >>> cr.einsum('ij,jk->ik', a, b).shape
        (2, 4)
        >>> cr.einsum('ii', cr.eye(3)).item()
        3.0
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): equation must be a str, got {type(equation).__name__} "
                        f"(the sublist format is not supported)")
    tensors = [as_tensor_arg(t, f"operand {k}", "einsum") for k, t in enumerate(operands)]
    if not tensors:
        raise OpError("einsum(): must provide at least one operand")
    subs, out = _explicit(equation, [t.ndim for t in tensors])
    _check_sizes(subs, tensors)
    dtype = result_dtype(*tensors)
    return Einsum(subs, out)(*[as_operand(t, dtype) for t in tensors])


# ============================================================================ matrix products
def bmm(input: Any, mat2: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Batched matrix product of two 3-D tensors (no broadcasting), as ``torch.bmm``.

    Shape:
        (B, n, k) @ (B, k, p) -> (B, n, p).

    Example:
        >>> import chainrule as cr
        >>> cr.bmm(cr.ones(5, 2, 3), cr.ones(5, 3, 4)).shape
        (5, 2, 4)
    """
    input, mat2 = as_tensor_arg(input, "input", "bmm"), as_tensor_arg(mat2, "mat2", "bmm")
    _check_batches("bmm", input, mat2)
    dtype = result_dtype(input, mat2)
    y = MatMul()(as_operand(input, dtype), as_operand(mat2, dtype))
    return y if out is None else write_out(y, out, "bmm")


def _check_batches(op: str, b1: Tensor, b2: Tensor) -> None:
    for name, t in (("batch1", b1), ("batch2", b2)):
        if t.ndim != 3:
            raise OpError(f"{op}: {name} must be a 3D tensor, got shape {t.shape}")
    if b2.shape[:2] != (b1.shape[0], b1.shape[2]):
        raise OpError(f"{op}: Expected size for first two dimensions of batch2 tensor to be: "
                      f"[{b1.shape[0]}, {b1.shape[2]}] but got: [{b2.shape[0]}, "
                      f"{b2.shape[1]}] (shapes {b1.shape} and {b2.shape})")


def _input_to(op: str, input: Any, shape: tuple[int, ...]) -> Tensor:
    """``input`` as a tensor, checked to broadcast to the product's ``shape``."""
    input = as_tensor_arg(input, "input", op, array_like=True)
    try:
        fits = xp.broadcast_shapes(input.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"{op}: the input of shape {input.shape} cannot be broadcast to the "
                      f"product's shape {shape}")
    return input


def _add_scaled(op: str, input: Any, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    """``beta * input + alpha * product``, ``input`` broadcast to the product's shape and
    ignored when ``beta`` is 0 (its NaNs too), as PyTorch's baddbmm."""
    input = _input_to(op, input, product.shape)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input if beta == 1 else input * beta) + product


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1,
          out: Optional[Tensor] = None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``, as ``torch.addmm``.

    Args:
        input: broadcastable to (n, p); ignored (NaNs included) when ``beta`` is 0.
        mat1: (n, k).
        mat2: (k, p).
        beta: the factor of ``input``.
        alpha: the factor of the product.
        out: the tensor to write the result into.

    Example:
        >>> import chainrule as cr
        >>> cr.addmm(cr.ones(3), cr.ones(2, 3), cr.ones(3, 3), alpha=2).tolist()
        [[7.0, 7.0, 7.0], [7.0, 7.0, 7.0]]
    """
    mat1, mat2 = (as_tensor_arg(t, name, "addmm") for name, t in (("mat1", mat1), ("mat2", mat2)))
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise OpError(f"addmm: {name} must be a matrix, got shape {t.shape}")
    if mat1.shape[1] != mat2.shape[0]:
        raise OpError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x"
                      f"{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    input = _input_to("addmm", input, (mat1.shape[0], mat2.shape[1]))
    dtypes = {t.dtype for t in (input, mat1, mat2)}
    if len(dtypes) > 1:
        raise OpError(f"addmm: input, mat1 and mat2 must have the same dtype, got "
                      f"{input.dtype}, {mat1.dtype} and {mat2.dtype}")
    y = Addmm(beta, alpha)(input, mat1, mat2)
    return y if out is None else write_out(y, out, "addmm")


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1,
            out: Optional[Tensor] = None) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``, as ``torch.baddbmm``.

    Shape:
        input broadcastable to (B, n, p); batch1 (B, n, k); batch2 (B, k, p).

    Example:
        >>> import chainrule as cr
        >>> cr.baddbmm(cr.zeros(1, 2, 4), cr.ones(3, 2, 5), cr.ones(3, 5, 4)).shape
        (3, 2, 4)
    """
    y = _add_scaled("baddbmm", input, bmm(batch1, batch2), beta, alpha)
    return y if out is None else write_out(y, out, "baddbmm")


def outer(input: Any, vec2: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``.

    Example:
        >>> import chainrule as cr
        >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 10.0, 100.0])).tolist()
        [[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]]
    """
    for name, t in (("self", input), ("vec2", vec2)):
        if as_tensor_arg(t, name, "outer").ndim != 1:
            raise OpError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D "
                          f"(shape {t.shape})")
    y = reshape(input, -1, 1) * reshape(vec2, 1, -1)  # (n, 1) * (1, m) -> (n, m)
    return y if out is None else write_out(y, out, "outer")


ger = outer
