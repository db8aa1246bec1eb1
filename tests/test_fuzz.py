"""A differential fuzzer: random programs of 2-4 ops run in chainrule and in PyTorch (float64).

Hypothesis draws one or two input arrays (broadcasting shapes, size-1 and size-0 axes, and
special values: 0, -0, +-inf, NaN, huge and tiny), then a chain of ops, each drawn from
:data:`OPS` among those that apply to the current shape (elementwise, binary with a
broadcasting operand, reductions, shape ops, basic and integer-tensor indexing, matmul,
softmax and the losses). Each program runs twice, written once against a namespace
(``chainrule`` or ``torch``): the values must agree (same shape, dtype, NaN and inf
positions), and so must the gradients of ``(y * w).sum()`` with respect to every input,
through the fast first-order backward and again through the differentiable formulas
(``create_graph=True``). Where PyTorch raises, chainrule must raise an exception of the same
class (RuntimeError, IndexError, ...); where PyTorch does not, chainrule must not.

CI runs 500 fixed examples (about 5 s); a longer run by hand draws new programs each time:
``CHAINRULE_FUZZ_EXAMPLES=10000 pytest tests/test_fuzz.py``.
"""
from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, reject, settings
from hypothesis.errors import UnsatisfiedAssumption
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
import chainrule.nn.functional as crF

BY_HAND = "CHAINRULE_FUZZ_EXAMPLES" in os.environ  # a longer run, new programs each time
EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "500"))
SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e300, -1e300, 1e-300, -5e-324]


# ============================================================================ the two namespaces
@dataclass(frozen=True)
class Lib:
    """What a program needs from a framework: the namespace, its functional module, and how
    to make a constant tensor from a NumPy array."""
    name: str
    ns: Any
    F: Any

    def const(self, a: np.ndarray) -> Any:
        return self.ns.tensor(a) if self.name == "chainrule" else torch.from_numpy(a.copy())


CR = Lib("chainrule", cr, crF)
TORCH = Lib("torch", torch, torch.nn.functional)
PROBE = Lib("probe", torch, torch.nn.functional)  # torch on zeros, to follow the shapes


# ============================================================================ drawing values
def values(allow_special: bool) -> st.SearchStrategy[float]:
    """Mostly ordinary floats; with ``allow_special`` a sixth of them special values."""
    ordinary = st.floats(-3, 3, allow_nan=False, width=64)
    if not allow_special:
        return ordinary
    return st.one_of(ordinary, ordinary, ordinary, ordinary, ordinary, st.sampled_from(SPECIAL))


def shapes(max_dims: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    """Up to ``max_dims`` axes of 1-4, one in about nine of size 0."""
    side = st.sampled_from([1, 2, 3, 4, 1, 2, 3, 4, 0])
    return st.lists(side, max_size=max_dims).map(tuple)


def array(data: st.DataObject, shape: tuple[int, ...], special: bool) -> np.ndarray:
    return data.draw(hnp.arrays(np.float64, shape, elements=values(special)))


def broadcast_partner(data: st.DataObject, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: a suffix of it, some axes set to 1, maybe a
    leading axis more."""
    keep = data.draw(st.integers(0, len(shape)))
    out = [1 if data.draw(st.booleans()) else s for s in shape[len(shape) - keep:]]
    if keep == len(shape) and len(shape) < 4 and data.draw(st.integers(0, 4)) == 0:
        out = [data.draw(st.integers(1, 2))] + out
    return tuple(out)


# ============================================================================ the ops
@dataclass(frozen=True)
class Op:
    """One op of the catalogue: ``applies(shape)`` says whether it takes an input of that
    shape; ``build(data, shape, special)`` draws its parameters and returns the program step
    ``step(lib, x) -> y``, written once for both namespaces."""
    name: str
    applies: Callable[[tuple[int, ...]], bool]
    build: Callable[[st.DataObject, tuple[int, ...], bool], Callable[[Lib, Any], Any]]


def _any(shape: tuple[int, ...]) -> bool:
    return True


def _has_dims(shape: tuple[int, ...]) -> bool:
    return len(shape) > 0


def _fixed(fn: Callable[[Lib, Any], Any]) -> Callable:
    return lambda data, shape, special: fn


def _dim(data: st.DataObject, shape: tuple[int, ...]) -> int:
    return data.draw(st.integers(-len(shape), len(shape) - 1))


def _unary(name: str, fn: Callable[[Lib, Any], Any]) -> Op:
    return Op(name, _any, _fixed(fn))


def _binary(name: str, fn: Callable[[Lib, Any, Any], Any]) -> Op:
    def build(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
        # now and then any shape: one that does not broadcast must raise torch's error class
        partner = data.draw(shapes()) if data.draw(st.integers(0, 7)) == 0 else \
            broadcast_partner(data, shape)
        other = array(data, partner, special)
        swap = data.draw(st.booleans())
        if swap:
            return lambda lib, x: fn(lib, lib.const(other), x)
        return lambda lib, x: fn(lib, x, lib.const(other))
    return Op(name, _any, build)


def _scalar(name: str, fn: Callable[[Lib, Any, float], Any],
            choices: Optional[list[float]] = None) -> Op:
    def build(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
        c = data.draw(st.sampled_from(choices) if choices else values(special))
        return lambda lib, x: fn(lib, x, c)
    return Op(name, _any, build)


def _reduction(name: str, fn: Callable[[Lib, Any, Optional[int], bool], Any],
               full: bool = True) -> Op:
    def build(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
        if full and (not shape or data.draw(st.booleans())):
            return lambda lib, x: fn(lib, x, None, False)
        dim, keep = _dim(data, shape), data.draw(st.booleans())
        return lambda lib, x: fn(lib, x, dim, keep)
    return Op(name, _any if full else _has_dims, build)


def _max_dim(lib: Lib, x: Any, dim: Optional[int], keep: bool) -> Any:
    return x.max() if dim is None else x.max(dim, keepdim=keep)[0]


def _min_dim(lib: Lib, x: Any, dim: Optional[int], keep: bool) -> Any:
    return x.min() if dim is None else x.min(dim, keepdim=keep)[0]


def _spread(lib: Lib, x: Any, dim: Optional[int]) -> Any:
    """``x``, unless a slice var or std reduces holds two or more equal values and nothing
    else: its variance is 0 up to rounding, and PyTorch's rounding there depends on its
    summation order (0, or a residue of ~1e-34 over nine values or more, which std's gradient
    turns into 0 or O(1)); such a program is rejected, not compared."""
    if lib is not PROBE:
        a = _numpy(x)
        axis = None if dim is None else dim % max(a.ndim, 1)
        n = a.size if axis is None else (a.shape[axis] if a.ndim else 1)
        if n >= 2 and a.size and (np.ptp(a, axis=axis) == 0).any():
            reject()
    return x


def _softmax(name: str, log: bool) -> Op:
    def build(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
        dim = _dim(data, shape) if shape else 0
        return lambda lib, x: (lib.F.log_softmax if log else lib.F.softmax)(x, dim=dim)
    return Op(name, _any, build)


def _transpose(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    d0, d1 = _dim(data, shape), _dim(data, shape)
    return lambda lib, x: x.transpose(d0, d1)


def _permute(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    order = data.draw(st.permutations(range(len(shape))))
    return lambda lib, x: x.permute(*order)


def _unsqueeze(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    d = data.draw(st.integers(-len(shape) - 1, len(shape)))
    return lambda lib, x: x.unsqueeze(d)


def _squeeze(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    d = _dim(data, shape)
    return lambda lib, x: x.squeeze(d)


def _reshape(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    n = math.prod(shape)
    target = data.draw(st.sampled_from([(-1,), (n, 1), (1, -1)] + ([(-1, shape[-1])]
                                                                    if shape and shape[-1] else [])))
    return lambda lib, x: x.reshape(*target)


def _expand(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    target = tuple(data.draw(st.integers(0, 3)) if s == 1 else s for s in shape)
    return lambda lib, x: x.expand(*target)


def _cat(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    dim = _dim(data, shape)
    return lambda lib, x: lib.ns.cat([x, x * 2.0], dim=dim)


def _stack(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    return lambda lib, x: lib.ns.stack([x, -x], dim=dim)


def _basic_item(data: st.DataObject, shape: tuple[int, ...]) -> Any:
    """One entry of a basic index for an axis of ``size``: an int, a slice, None or ..."""
    return data.draw(st.one_of(
        st.slices(shape[0]) if shape else st.just(slice(None)),
        st.integers(-shape[0], shape[0] - 1) if shape and shape[0] else st.just(slice(None)),
        st.just(None)))


def _index(advanced: bool) -> Callable:
    def build(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
        index: list[Any] = []
        rest = list(shape)
        while rest and data.draw(st.integers(0, 2)):
            size = rest[0]
            if advanced and data.draw(st.booleans()):
                n = data.draw(st.integers(0, 3))
                idx = (np.array(data.draw(st.lists(st.integers(-size, size - 1), min_size=n,
                                                   max_size=n)), dtype=np.int64)
                       if size else np.zeros(0, np.int64))
                index.append(idx)
                rest.pop(0)
                continue
            item = _basic_item(data, tuple(rest))
            index.append(item)
            if item is not None:
                rest.pop(0)
        if data.draw(st.booleans()):
            index.insert(data.draw(st.integers(0, len(index))), Ellipsis)

        def step(lib: Lib, x: Any) -> Any:
            return x[tuple(lib.const(i) if isinstance(i, np.ndarray) else i for i in index)]
        return step
    return build


def _matmul(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
    k = shape[-1] + (data.draw(st.integers(0, 7)) == 0)  # now and then sizes that differ
    other = ((k,) if data.draw(st.booleans()) or len(shape) == 1
             else (k, data.draw(st.integers(0, 3))))
    if len(shape) >= 2 and len(other) == 2 and data.draw(st.booleans()):
        other = (data.draw(st.sampled_from([1, shape[-3] if len(shape) > 2 else 2])),) + other
    w = array(data, other, special)
    return lambda lib, x: x @ lib.const(w)


def _loss(kind: str) -> Callable:
    def build(data: st.DataObject, shape: tuple[int, ...], special: bool) -> Callable:
        reduction = data.draw(st.sampled_from(["none", "mean", "sum"]))
        if kind in ("mse", "l1"):
            target = array(data, shape, special)
            fn = "mse_loss" if kind == "mse" else "l1_loss"
            return lambda lib, x: getattr(lib.F, fn)(x, lib.const(target), reduction=reduction)
        if kind in ("bce", "bce_logits"):
            target = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(
                [0.0, 1.0, 0.5, 0.25])))
            if kind == "bce":
                return lambda lib, x: lib.F.binary_cross_entropy(
                    lib.ns.sigmoid(x), lib.const(target), reduction=reduction)
            return lambda lib, x: lib.F.binary_cross_entropy_with_logits(
                x, lib.const(target), reduction=reduction)
        classes = shape[1] if len(shape) == 2 else shape[0]
        n = (shape[0],) if len(shape) == 2 else ()
        target = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, max(classes - 1, 0))))
        fn = "cross_entropy" if kind == "ce" else "nll_loss"
        return lambda lib, x: getattr(lib.F, fn)(x, lib.const(target), reduction=reduction)
    return build


def _class_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) in (1, 2) and shape[-1] > 0


OPS: list[Op] = [
    _unary("neg", lambda lib, x: -x),
    _unary("exp", lambda lib, x: lib.ns.exp(x)),
    _unary("log", lambda lib, x: lib.ns.log(x)),
    _unary("sqrt", lambda lib, x: lib.ns.sqrt(x)),
    _unary("abs", lambda lib, x: lib.ns.abs(x)),
    _unary("sin", lambda lib, x: lib.ns.sin(x)),
    _unary("cos", lambda lib, x: lib.ns.cos(x)),
    _unary("tanh", lambda lib, x: lib.ns.tanh(x)),
    _unary("sigmoid", lambda lib, x: lib.ns.sigmoid(x)),
    _unary("relu", lambda lib, x: lib.ns.relu(x)),
    _unary("sign", lambda lib, x: lib.ns.sign(x)),
    _scalar("leaky_relu", lambda lib, x, c: lib.F.leaky_relu(x, c), [0.01, 0.2, 0.0]),
    _scalar("clamp_min", lambda lib, x, c: x.clamp(min=c)),
    _scalar("clamp_max", lambda lib, x, c: x.clamp(max=c)),
    _scalar("clamp", lambda lib, x, c: x.clamp(-abs(c), abs(c)), [0.0, 0.5, 1.0, math.inf]),
    _scalar("pow", lambda lib, x, c: x ** c, [2.0, 3.0, 0.5, -1.0, 0.0, -2.0]),
    _scalar("rpow", lambda lib, x, c: c ** x, [2.0, 0.5, 0.0]),
    _scalar("add_scalar", lambda lib, x, c: x + c),
    _scalar("mul_scalar", lambda lib, x, c: x * c),
    _scalar("div_scalar", lambda lib, x, c: x / c),
    _scalar("rdiv_scalar", lambda lib, x, c: c / x),
    _binary("add", lambda lib, a, b: a + b),
    _binary("sub", lambda lib, a, b: a - b),
    _binary("mul", lambda lib, a, b: a * b),
    _binary("div", lambda lib, a, b: a / b),
    _binary("pow_tensor", lambda lib, a, b: a ** b),
    # + 0.0 turns -0.0 into 0.0: at a tie of 0.0 and -0.0 PyTorch's own sign depends on where
    # the element falls in its vectorised loop (docs/RELIABILITY.md, "differs on purpose")
    _binary("maximum", lambda lib, a, b: lib.ns.maximum(a + 0.0, b + 0.0)),
    _binary("minimum", lambda lib, a, b: lib.ns.minimum(a + 0.0, b + 0.0)),
    _binary("where", lambda lib, a, b: lib.ns.where(a > b, a, b)),
    _binary("clamp_tensor", lambda lib, a, b: lib.ns.clamp(a + 0.0, min=b + 0.0)),
    _reduction("sum", lambda lib, x, d, k: x.sum() if d is None else x.sum(d, keepdim=k)),
    _reduction("mean", lambda lib, x, d, k: x.mean() if d is None else x.mean(d, keepdim=k)),
    _reduction("amax", lambda lib, x, d, k: x.amax() if d is None else x.amax(d, keepdim=k)),
    _reduction("amin", lambda lib, x, d, k: x.amin() if d is None else x.amin(d, keepdim=k)),
    _reduction("max", _max_dim),
    _reduction("min", _min_dim),
    _reduction("logsumexp", lambda lib, x, d, k: x.logsumexp(d, keepdim=k), full=False),
    _reduction("var", lambda lib, x, d, k: _spread(lib, x, d).var() if d is None
               else _spread(lib, x, d).var(d, keepdim=k)),
    _reduction("std", lambda lib, x, d, k: _spread(lib, x, d).std() if d is None
               else _spread(lib, x, d).std(d, keepdim=k)),
    _softmax("softmax", log=False),
    _softmax("log_softmax", log=True),
    Op("transpose", _has_dims, _transpose),
    Op("permute", _has_dims, _permute),
    Op("unsqueeze", _any, _unsqueeze),
    Op("squeeze", _has_dims, _squeeze),
    Op("reshape", _any, _reshape),
    Op("flatten", _any, _fixed(lambda lib, x: x.flatten())),
    Op("view", _any, _fixed(lambda lib, x: x.view(-1))),  # raises for a layout torch's does
    Op("expand", lambda s: 1 in s, _expand),
    Op("cat", _has_dims, _cat),
    Op("stack", _any, _stack),
    Op("basic_index", _has_dims, _index(advanced=False)),
    Op("advanced_index", _has_dims, _index(advanced=True)),
    Op("matmul", _has_dims, _matmul),
    Op("mse_loss", _any, _loss("mse")),
    Op("l1_loss", _any, _loss("l1")),
    Op("bce", _any, _loss("bce")),
    Op("bce_with_logits", _any, _loss("bce_logits")),
    Op("cross_entropy", _class_shape, _loss("ce")),
    Op("nll_loss", _class_shape, _loss("nll")),
]


# ============================================================================ running a program
@dataclass
class Outcome:
    """What one framework made of a program: its output and input gradients, or the error."""
    value: Optional[np.ndarray] = None
    grads: Optional[list[Optional[np.ndarray]]] = None
    formula_grads: Optional[list[Optional[np.ndarray]]] = None
    terms: Optional[np.ndarray] = None  # the gradient of the second input before its sum
    error: Optional[BaseException] = None


def _numpy(t: Any) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t._data)


def run(lib: Lib, inputs: list[np.ndarray], steps: list[Callable], weight_seed: int) -> Outcome:
    leaves = [lib.ns.tensor(a.copy(), requires_grad=True) for a in inputs]
    try:
        y = leaves[0]
        if len(leaves) == 2:  # the second input broadcast explicitly, to see its terms
            partner = leaves[1].expand(np.broadcast_shapes(inputs[0].shape, inputs[1].shape))
            y = y + partner
        for step in steps:
            y = step(lib, y)
    except UnsatisfiedAssumption:
        raise
    except Exception as e:  # noqa: BLE001 - the error is part of the outcome
        return Outcome(error=e)
    out = Outcome(value=_numpy(y))
    if not y.requires_grad:
        return out
    w = np.random.default_rng(weight_seed).standard_normal(tuple(y.shape))
    loss = (y * lib.const(w)).sum()
    grad = lib.ns.autograd.grad
    try:
        out.grads = [None if g is None else _numpy(g)
                     for g in grad(loss, leaves, retain_graph=True, allow_unused=True)]
        if len(leaves) == 2:
            (terms,) = grad(loss, partner, retain_graph=True, allow_unused=True)
            out.terms = None if terms is None else _numpy(terms)
        if lib is CR:
            out.formula_grads = [None if g is None else _numpy(g)
                                 for g in grad(loss, leaves, create_graph=True,
                                               allow_unused=True)]
    except Exception as e:  # noqa: BLE001
        out.error = e
    return out


def _magnitude(a: Optional[np.ndarray]) -> float:
    """The largest finite magnitude in ``a`` (1 at least)."""
    return 1.0 if a is None else float(
        np.nan_to_num(np.abs(a), nan=0.0, posinf=0.0).max(initial=1.0))


def same(what: str, ours: Optional[np.ndarray], theirs: Optional[np.ndarray],
         like: np.ndarray, terms: Optional[np.ndarray] = None) -> None:
    """Equal shape, dtype, NaN and inf positions; finite values to float64 rounding of the
    largest value or, for a sum, of its largest term (``terms``): the order of a sum of
    terms that cancel decides its last bits."""
    ours = np.zeros_like(like) if ours is None else ours
    theirs = np.zeros_like(like) if theirs is None else theirs
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} != torch {theirs.dtype}"
    if ours.dtype.kind != "f":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    scale = max(_magnitude(theirs), _magnitude(terms))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * scale, equal_nan=True,
                               err_msg=what)


@dataclass(frozen=True)
class _Drawer:
    """``draw`` of a composite strategy in the shape of ``st.data()``, for the builders."""
    draw: Callable[[st.SearchStrategy], Any]


@st.composite
def programs(draw: Any) -> tuple[list[np.ndarray], list[str], list[Callable], int]:
    data = _Drawer(draw)
    special = draw(st.booleans())
    shape = draw(shapes())
    inputs = [array(data, shape, special)]
    if draw(st.integers(0, 3)) == 0:
        inputs.append(array(data, broadcast_partner(data, shape), special))
        shape = np.broadcast_shapes(shape, inputs[1].shape)
    names, steps = [], []
    probe = np.zeros(shape)
    # a seeded choice is uniform over the ops (hypothesis' own choices favour the first ones)
    pick = random.Random(draw(st.integers(0, 2**64 - 1)))
    for _ in range(draw(st.integers(2, 4))):
        candidates = [op for op in OPS if op.applies(probe.shape)]
        op = pick.choice(candidates)
        step = op.build(data, probe.shape, special)
        try:  # follow the shape with torch on zeros, to draw the next op for it
            probe = step(PROBE, torch.zeros(probe.shape, dtype=torch.float64)).numpy()
        except Exception:  # noqa: BLE001 - an error step ends the program
            names.append(op.name), steps.append(step)
            break
        names.append(op.name), steps.append(step)
        if probe.dtype.kind != "f":
            break
    return inputs, names, steps, draw(st.integers(0, 2**32 - 1))


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not BY_HAND,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(programs())
def test_random_programs_match_torch(program: tuple) -> None:
    inputs, names, steps, seed = program
    with np.errstate(all="ignore"):
        theirs = run(TORCH, inputs, steps, seed)
        ours = run(CR, inputs, steps, seed)
    where = f"program {' -> '.join(names)} on {[a.shape for a in inputs]}"
    if theirs.error is not None:
        assert ours.error is not None, f"{where}: torch raised {theirs.error!r}, we did not"
        assert isinstance(ours.error, type(theirs.error)), (
            f"{where}: torch raised {type(theirs.error).__name__}, we raised {ours.error!r}")
        return
    assert ours.error is None, f"{where}: we raised {ours.error!r}, torch did not"
    same(f"{where}: value", ours.value, theirs.value, theirs.value)
    for i, a in enumerate(inputs):
        if theirs.grads is not None:
            terms = theirs.terms if i == 1 else None
            same(f"{where}: grad of input {i}", ours.grads[i], theirs.grads[i], a, terms)
            same(f"{where}: formula grad of input {i}", ours.formula_grads[i], theirs.grads[i],
                 a, terms)
