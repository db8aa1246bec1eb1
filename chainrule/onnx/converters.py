"""The mapping table: each chainrule Function class -> a converter writing its ONNX nodes.

A converter takes the :class:`~chainrule.onnx.graph.Op` of one recorded op and returns the
ONNX value names of the Function's outputs, one per output. ``CONVERTERS`` is the table;
``register(FunctionClass)`` adds to it (a user's own Function can be given a converter).
Ops are written with ONNX opset 17 (18 also works: the reductions' axes move to inputs).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy

from ..ops.activation import LeakyReLU, LogSigmoid, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..ops.activation_more import (CELU, ELU, GELU, GLU, Hardsigmoid, Hardswish, Hardtanh, Mish,
                                   PreluKernel, SiLU, Softplus)
from ..ops.arithmetic import (Abs, Add, Clamp, ClampTensor, Clone, Cos, Div, DivRounded, Exp,
                              FloorDivide, Log, Maximum, Minimum, Mul, Neg, Pow, PowScalar,
                              Reciprocal, Remainder, Sign, Sin, Sqrt, Sub, Where)
from ..ops.attention import ScaledDotProductAttention
from ..ops.conv import Conv2d, Conv2dIm2col, Conv2dNaive
from ..ops.contraction import Einsum
from ..ops.conv_transpose import Conv1d, ConvTranspose1d, ConvTranspose2d
from ..ops.cumulative import CumProd, CumSum, Prod
from ..ops.dtypes import Cast
from ..ops.elementwise import Erf, Expm1, Lerp, Log1p, LogBase, Rounding
from ..ops.embedding import Embedding
from ..ops.layer_norm import GroupNorm, LayerNorm
from ..ops.linalg import Addmm, Linear, MatMul
from ..ops.loss import (BinaryCrossEntropy, BinaryCrossEntropyWithLogits, ClampMinValue,
                        CrossEntropy, Huber, MeanSquaredError, SmoothL1, XLogY)
from ..ops.norm import BatchNorm
from ..ops.pool import AvgPool2d, AvgPool2dNaive, MaxPool2d, MaxPool2dNaive, avg_divisor
from ..ops.rearrange import Flip, Roll
from ..ops.recurrent import LSTMLayer, SplitWithSizes
from ..ops.reduce import Amax, LogSumExp, MaxAll, StdFromVar, Sum, Var
from ..ops.resample import AxisMap
from ..ops.scatter import Scatter, ScatterAddInto, ScatterValue
from ..ops.shape import (BroadcastTo, Cat, Gather, GetItem, IndexAdd, Pad, Permute, Reshape,
                         SumTo)
from ..ops.vector_norm import VectorNorm
from ..nn.rnn import FusedLSTMCell
from .graph import INT64_MAX, Op

Converter = Callable[[Op], list]
CONVERTERS: dict[type, Converter] = {}


def register(*classes: type) -> Callable[[Converter], Converter]:
    """Decorator: make ``converter`` the mapping of each Function class in ``classes``.

    Example:
        >>> from chainrule.onnx.converters import CONVERTERS, register
        >>> from chainrule.ops.arithmetic import Neg
        >>> CONVERTERS[Neg] is not None
        True
    """
    def deco(converter: Converter) -> Converter:
        for cls in classes:
            CONVERTERS[cls] = converter
        return converter
    return deco


def converter_for(fn: Any) -> Any:
    """The converter of a recorded Function (a ctx-form node is looked up by its Function
    class too), or None."""
    conv = CONVERTERS.get(type(fn))
    if conv is None and getattr(type(fn), "function", None) is not None:
        conv = CONVERTERS.get(type(fn).function)
    return conv


def supported_ops() -> list[str]:
    """The names of the Function classes with a converter, sorted."""
    return sorted(cls.__name__ for cls in CONVERTERS)


# ============================================================================ elementwise
_UNARY = {Neg: "Neg", Exp: "Exp", Log: "Log", Sqrt: "Sqrt", Abs: "Abs",
          Sin: "Sin", Cos: "Cos", Reciprocal: "Reciprocal", Sign: "Sign",
          Erf: "Erf", Tanh: "Tanh", Sigmoid: "Sigmoid", ReLU: "Relu",
          Clone: "Identity", Hardswish: "HardSwish"}
_BINARY = {Add: "Add", Sub: "Sub", Mul: "Mul", Div: "Div", Pow: "Pow",
           Maximum: "Max", Minimum: "Min", MatMul: "MatMul"}


def _unary(op: Op) -> list:
    return [op.one(_UNARY[type(op.fn)], [op.x(0)])]


def _binary(op: Op) -> list:
    return [op.one(_BINARY[type(op.fn)], [op.x(0), op.x(1)])]


register(*_UNARY)(_unary)
register(*_BINARY)(_binary)


@register(PowScalar)
def _pow_scalar(op: Op) -> list:
    c = op.static(lambda fn: fn.c, "exponent")
    x = op.x(0)
    if c == 2:
        return [op.one("Mul", [x, x])]
    if c == 0.5:
        return [op.one("Sqrt", [x])]
    return [op.one("Pow", [x, op.const(c)])]


@register(Log1p)
def _log1p(op: Op) -> list:
    return [op.one("Log", [op.one("Add", [op.x(0), op.const(1)])])]


@register(Expm1)
def _expm1(op: Op) -> list:
    return [op.one("Sub", [op.one("Exp", [op.x(0)]), op.const(1)])]


@register(Clamp)
def _clamp(op: Op) -> list:
    lo, hi = op.static(lambda fn: (fn.lo, fn.hi), "bounds")
    return [op.one("Clip", [op.x(0), "" if lo is None else op.const(lo),
                            "" if hi is None else op.const(hi)])]


@register(ClampMinValue)
def _clamp_min_value(op: Op) -> list:
    lower = op.static(lambda fn: fn.lower, "lower bound")
    return [op.one("Clip", [op.x(0), op.const(lower), ""])]


@register(Where)
def _where(op: Op) -> list:
    cond = op.array(op.fn.cond, None if op.fn2 is None else op.fn2.cond, "condition")
    return [op.one("Where", [cond, op.x(0), op.x(1)])]


@register(Cast)
def _cast(op: Op) -> list:
    from onnx import helper  # the exporter's optional dependency
    return [op.one("Cast", [op.x(0)], to=helper.np_dtype_to_tensor_dtype(op.fn.dtype))]


# ============================================================================ activations
@register(LeakyReLU)
def _leaky_relu(op: Op) -> list:
    return [op.one("LeakyRelu", [op.x(0)], alpha=float(op.fn.slope))]


@register(Softmax, LogSoftmax)
def _softmax(op: Op) -> list:
    kind = "Softmax" if isinstance(op.fn, Softmax) else "LogSoftmax"
    return [op.one(kind, [op.x(0)], axis=int(op.fn.axis))]


@register(LogSigmoid)
def _log_sigmoid(op: Op) -> list:  # -softplus(-x)
    return [op.one("Neg", [op.one("Softplus", [op.one("Neg", [op.x(0)])])])]


@register(GELU)
def _gelu(op: Op) -> list:
    x = op.x(0)
    half = op.one("Mul", [x, op.const(0.5)])
    if op.fn.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = op.one("Mul", [op.one("Mul", [x, x]), x])
        inner = op.one("Add", [x, op.one("Mul", [cube, op.const(0.044715)])])
        t = op.one("Tanh", [op.one("Mul", [inner, op.const(math.sqrt(2 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = op.one("Erf", [op.one("Mul", [x, op.const(1 / math.sqrt(2))])])
    return [op.one("Mul", [half, op.one("Add", [t, op.const(1)])])]


@register(SiLU)
def _silu(op: Op) -> list:
    x = op.x(0)
    return [op.one("Mul", [x, op.one("Sigmoid", [x])])]


@register(Mish)
def _mish(op: Op) -> list:
    x = op.x(0)
    return [op.one("Mul", [x, op.one("Tanh", [op.one("Softplus", [x])])])]


@register(ELU, CELU)
def _elu(op: Op) -> list:
    neg, pos, inp = op.fn.negcoef, op.fn.poscoef, op.fn.negiptcoef
    x = op.x(0)
    if pos == 1 and inp == 1:
        return [op.one("Elu", [x], alpha=float(neg))]
    if isinstance(op.fn, CELU) and pos == 1 and abs(inp * neg - 1) < 1e-12:
        return [op.one("Celu", [x], alpha=float(neg))]
    if inp == 1 and abs(neg / pos - 1.6732632423543772) < 1e-9:  # SELU's constants
        return [op.one("Selu", [x], alpha=float(neg / pos), gamma=float(pos))]
    # the general form: pos*x where x > 0, neg*(exp(inp*x) - 1) elsewhere
    e = op.one("Sub", [op.one("Exp", [op.one("Mul", [x, op.const(inp)])]), op.const(1)])
    positive = op.one("Greater", [x, op.const(0)])
    return [op.one("Where", [positive, op.one("Mul", [x, op.const(pos)]),
                             op.one("Mul", [e, op.const(neg)])])]


@register(Softplus)
def _softplus(op: Op) -> list:
    beta, threshold = op.fn.beta, op.fn.threshold
    x = op.x(0)
    bx = x if beta == 1 else op.one("Mul", [x, op.const(beta)])
    soft = op.one("Softplus", [bx])
    if beta != 1:
        soft = op.one("Div", [soft, op.const(beta)])
    return [op.one("Where", [op.one("Greater", [bx, op.const(threshold)]), x, soft])]


@register(Hardtanh)
def _hardtanh(op: Op) -> list:
    return [op.one("Clip", [op.x(0), op.const(op.fn.min_val), op.const(op.fn.max_val)])]


@register(Hardsigmoid)
def _hardsigmoid(op: Op) -> list:
    return [op.one("HardSigmoid", [op.x(0)], alpha=1 / 6, beta=0.5)]


@register(GLU)
def _glu(op: Op) -> list:
    a, b = op.node("Split", [op.x(0)], 2, axis=int(op.fn.axis))
    return [op.one("Mul", [a, op.one("Sigmoid", [b])])]


# ============================================================================ linear algebra
@register(Linear)
def _linear(op: Op) -> list:
    x, w = op.x(0), op.x(1)
    if op.ndim(0) == 2:
        return [op.one("Gemm", [x, w] + ([op.x(2)] if op.has(2) else []), transB=1)]
    y = op.one("MatMul", [x, op.one("Transpose", [w], perm=[1, 0])])
    return [op.one("Add", [y, op.x(2)]) if op.has(2) else y]


@register(Addmm)
def _addmm(op: Op) -> list:
    beta, alpha = float(op.fn.beta), float(op.fn.alpha)
    if beta == 0:
        y = op.one("MatMul", [op.x(1), op.x(2)])
        return [y if alpha == 1 else op.one("Mul", [y, op.const(alpha)])]
    b, trans = op.x(2), 0
    src = op.producer(2)  # nn.Linear's addmm(bias, x, weight.t()): Gemm reads the weight
    if src is not None and isinstance(src.fn, Permute) and tuple(src.fn.axes) == (1, 0) \
            and src.inputs[0].grad_fn is None and src.inputs[0].requires_grad:
        b, trans = op.leaf(src.inputs[0], "weight"), 1
    return [op.one("Gemm", [op.x(1), b, op.x(0)], alpha=alpha, beta=beta, transB=trans)]


# ============================================================================ shapes
@register(Reshape)
def _reshape(op: Op) -> list:
    s1, s2 = op.out_shape(), op.out_shape2()
    x = op.x(0)
    if s2 is not None and s1 != s2 and len(s1) == len(s2) and 0 not in s1:
        changed = [k for k, (a, b) in enumerate(zip(s1, s2)) if a != b]
        if len(changed) == 1:  # one dimension follows the batch: -1 there
            target = list(s1)
            target[changed[0]] = -1
            return [op.one("Reshape", [x, op.ints(target)])]
    target_name = op.shape_value(s1, s2, "target shape")
    return [op.one("Reshape", [x, target_name], allowzero=int(0 in s1))]


@register(Permute)
def _permute(op: Op) -> list:
    return [op.one("Transpose", [op.x(0)], perm=[int(a) for a in op.fn.axes])]


@register(BroadcastTo)
def _broadcast_to(op: Op) -> list:
    return [op.one("Expand", [op.x(0), op.shape_value(op.out_shape(), op.out_shape2(),
                                                      "target shape")])]


@register(SumTo)
def _sum_to(op: Op) -> list:
    def axes_of(fn: Any) -> tuple:
        r = op.record if fn is op.fn else op.record2
        src, dst = tuple(r.inputs[0].shape), tuple(fn.shape)
        lead = len(src) - len(dst)
        return lead, tuple(range(lead)) + tuple(lead + i for i, d in enumerate(dst)
                                                if d == 1 and src[lead + i] != 1)
    lead, axes = op.static(axes_of, "summed axes")
    y = op.reduce("ReduceSum", op.x(0), axes, True)
    return [op.one("Squeeze", [y, op.ints(range(lead))]) if lead else y]


@register(Cat)
def _cat(op: Op) -> list:
    return [op.one("Concat", [op.x(i) for i in range(op.n_in)], axis=int(op.fn.axis))]


@register(SplitWithSizes)
def _split(op: Op) -> list:
    sizes = op.static(lambda fn: len(fn.sizes), "number of pieces")
    split = op.shape_value(op.fn.sizes, None if op.fn2 is None else op.fn2.sizes, "split sizes")
    return op.node("Split", [op.x(0), split], sizes, axis=int(op.fn.axis))


@register(Pad)
def _pad(op: Op) -> list:
    widths = op.fn.widths
    pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
    return [op.one("Pad", [op.x(0), op.ints(pads), op.const(op.fn.value)], mode="constant")]


@register(Flip)
def _flip(op: Op) -> list:
    axes = [int(a) for a in _attr(op, ("axes", "dims", "axis"))]
    n = len(axes)
    return [op.one("Slice", [op.x(0), op.ints([-1] * n), op.ints([-INT64_MAX] * n),
                             op.ints(axes), op.ints([-1] * n)])]


def _attr(op: Op, names: tuple) -> Any:
    for n in names:
        if hasattr(op.fn, n):
            v = getattr(op.fn, n)
            return v if isinstance(v, (tuple, list)) else (v,)
    raise op.fail("its arguments are not where the exporter looks for them")


@register(GetItem)
def _getitem(op: Op) -> list:
    index = op.fn.index
    if op.fn2 is not None:
        basic2 = op.fn2.index.basic
        if not _same_basic(index.basic, basic2):
            raise op.fail(f"its index changes with the dynamic axis ({index.basic} vs {basic2})")
    x = op.x(0)
    ndim = op.ndim(0)
    basic = list(index.basic)
    if Ellipsis in basic:
        k = basic.index(Ellipsis)
        used = sum(1 for b in basic if b is not None and b is not Ellipsis)
        basic[k:k + 1] = [slice(None)] * (ndim - used)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    ax = pos = 0
    for item in basic:
        if item is None:
            unsqueeze.append(pos)
            pos += 1
        elif isinstance(item, slice):
            if item != slice(None):
                step = 1 if item.step is None else int(item.step)
                starts.append(0 if item.start is None else int(item.start))
                ends.append(INT64_MAX if item.stop is None else int(item.stop))
                axes.append(ax)
                steps.append(step)
            ax += 1
            pos += 1
        else:  # an int: pick and drop the axis
            i = int(item)
            starts.append(i)
            ends.append(INT64_MAX if i == -1 else i + 1)
            axes.append(ax)
            steps.append(1)
            squeeze.append(ax)
            ax += 1
    y = x
    if axes:
        y = op.one("Slice", [y, op.ints(starts), op.ints(ends), op.ints(axes), op.ints(steps)])
    if squeeze:
        y = op.one("Squeeze", [y, op.ints(squeeze)])
    if unsqueeze:
        y = op.one("Unsqueeze", [y, op.ints(unsqueeze)])
    if index.advanced is not None:
        dims = _advanced_dims(index.advanced)
        dims2 = None if op.fn2 is None else _advanced_dims(op.fn2.index.advanced)
        arrays = [k for k, a in enumerate(dims) if not isinstance(a, slice)]
        if dims2 is not None and [k for k, a in enumerate(dims2)
                                  if not isinstance(a, slice)] != arrays:
            raise op.fail("its index changes with the dynamic axis")
        if len(arrays) == 1:
            k = arrays[0]
            y = op.one("Gather", [y, op.array(dims[k], None if dims2 is None else dims2[k],
                                              "index")], axis=k)
        else:
            y = _gather_nd(op, y, dims, dims2, arrays)
    return [y if y != x else op.one("Identity", [x])]


def _advanced_dims(advanced: tuple) -> list:
    """The advanced index as one entry per dimension: a full slice or an int64 array (a bool
    mask of m dimensions becomes its m ``nonzero`` arrays)."""
    out: list = []
    for a in advanced:
        if isinstance(a, slice):
            out.append(a)
        elif a.dtype == numpy.bool_:
            out.extend(numpy.nonzero(a))
        else:
            out.append(a)
    return out


def _gather_nd(op: Op, y: str, dims: list, dims2: Any, arrays: list) -> str:
    """NumPy's indexing by several arrays: the indexed axes moved to the front, GatherND
    with the broadcast arrays stacked, the result's axes put where NumPy puts them (in place
    of the first indexed axis when the indexed axes are adjacent, else first)."""
    def stacked(ds: list) -> Any:  # (*B, number of arrays)
        idx = numpy.broadcast_arrays(*[numpy.asarray(ds[k], numpy.int64) for k in arrays])
        return numpy.stack(idx, -1)

    idx = stacked(dims)
    idx2 = None if dims2 is None else stacked(dims2)
    b = idx.ndim - 1  # the broadcast index's rank: the result's leading axes
    n_out = len(op.out_shape())
    nd_view = n_out - b + len(arrays)  # the view's axes: indexed, sliced, trailing
    rest = [k for k in range(nd_view) if k not in arrays]
    perm = arrays + rest
    if perm != list(range(nd_view)):
        y = op.one("Transpose", [y], perm=perm)
    y = op.one("GatherND", [y, op.array(idx, idx2, "index")])
    adjacent = arrays == list(range(arrays[0], arrays[-1] + 1))
    p = arrays[0]
    if adjacent and p > 0:  # (B..., before..., after...) -> (before..., B..., after...)
        order = list(range(b, b + p)) + list(range(b)) + list(range(b + p, n_out))
        y = op.one("Transpose", [y], perm=order)
    return y


def _same_basic(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(type(x) is type(y) and x == y for x, y in zip(a, b))


@register(Gather)
def _gather(op: Op) -> list:
    axis = int(op.fn.axis)
    x_arr = op.record.inputs[0]._data
    index = op.fn.index
    index2 = None if op.fn2 is None else op.fn2.index
    # max(x, dim) / min(x, dim) pick their values by an arg-max computed outside the ops
    for kind, f in (("ReduceMax", numpy.argmax), ("ReduceMin", numpy.argmin)):
        if index.shape[axis:axis + 1] == (1,) and x_arr.size and index.shape == \
                tuple(1 if k == axis else s for k, s in enumerate(x_arr.shape)) and \
                numpy.array_equal(index, f(x_arr, axis=axis, keepdims=True)) and \
                id(index) not in op.g.arrays:
            return [op.reduce(kind, op.x(0), [axis], True)]
    return [op.one("GatherElements", [op.x(0), op.array(index, index2, "index")], axis=axis)]


# ============================================================================ reductions
@register(Sum)
def _sum(op: Op) -> list:
    axes = op.fn.axes
    return [op.reduce("ReduceSum", op.x(0), None if axes is None else list(axes),
                      bool(op.fn.keepdim))]


@register(Amax, MaxAll)
def _amax(op: Op) -> list:
    kind = "ReduceMax" if op.fn.largest else "ReduceMin"
    axes = op.fn.axes
    return [op.reduce(kind, op.x(0), None if axes is None else list(axes), bool(op.fn.keepdim))]


@register(LogSumExp)
def _logsumexp(op: Op) -> list:
    axes = op.fn.axes
    return [op.reduce("ReduceLogSumExp", op.x(0), None if axes is None else list(axes),
                      bool(op.fn.keepdim))]


@register(Var)
def _var(op: Op) -> list:
    axes = op.fn.axes
    nd = op.ndim(0)
    ax = list(range(nd)) if axes is None else [a % nd for a in axes]
    n = op.static(lambda fn: math.prod(op._rec(fn).inputs[0].shape[a] for a in ax),
                  "count of reduced elements")
    x = op.x(0)
    mean = op.reduce("ReduceMean", x, ax, True)
    d = op.one("Sub", [x, mean])
    s = op.reduce("ReduceSum", op.one("Mul", [d, d]), ax, bool(op.fn.keepdim))
    return [op.one("Div", [s, op.const(max(n - op.fn.correction, 0))])]


@register(StdFromVar)
def _std_from_var(op: Op) -> list:
    return [op.one("Sqrt", [op.x(0)])]


@register(CumSum)
def _cumsum(op: Op) -> list:
    axis = _attr(op, ("axis", "dim"))[0]
    return [op.one("CumSum", [op.x(0), op.g.const(int(axis), "axis", numpy.int64)])]


# ============================================================================ conv, pool, norm
@register(Conv2d, Conv2dIm2col, Conv2dNaive)  # the kernels conv_impl() picks
def _conv2d(op: Op) -> list:
    g = op.fn.g
    pt, pb, pl, pr = g.pads
    inputs = [op.x(0), op.x(1)] + ([op.x(2)] if op.has(2) else [])
    return [op.one("Conv", inputs, strides=list(g.stride), pads=[pt, pl, pb, pr],
                   dilations=list(g.dilation), group=int(g.groups))]


@register(Conv1d)
def _conv1d(op: Op) -> list:
    g = op.fn.g  # the 1-D convolution as a row: (1, s) strides, (0, 0, l, r) pads
    inputs = [op.x(0), op.x(1)] + ([op.x(2)] if op.has(2) else [])
    return [op.one("Conv", inputs, strides=[g.stride[1]], pads=[g.pads[2], g.pads[3]],
                   dilations=[g.dilation[1]], group=int(g.groups))]


@register(ConvTranspose2d)
def _conv_transpose2d(op: Op) -> list:
    g = op.fn.g
    pt, pb, pl, pr = g.pads
    H, W = op.static(lambda fn: tuple(op._rec(fn).inputs[0].shape[2:]), "image size")
    KH, KW = op.shape(1)[2:]
    OH, OW = op.out_shape()[2:]
    extra = [o - (s * (n - 1) + d * (k - 1) + 1 - p0 - p1) for o, n, k, s, d, p0, p1 in
             zip((OH, OW), (H, W), (KH, KW), g.stride, g.dilation, (pt, pl), (pb, pr))]
    inputs = [op.x(0), op.x(1)] + ([op.x(2)] if op.has(2) else [])
    return [op.one("ConvTranspose", inputs, strides=list(g.stride), pads=[pt, pl, pb, pr],
                   dilations=list(g.dilation), group=int(g.groups), output_padding=extra)]


@register(PreluKernel)
def _prelu(op: Op) -> list:
    return [op.one("PRelu", [op.x(0), op.x(1)])]


def _pool_pads(op: Op) -> list:
    """The explicit padding (top, left, bottom, right) that makes every window of the
    recorded pooling lie inside the padded input (the ceil-mode overhang included)."""
    g = op.fn.g
    H, W = op.static(lambda fn: tuple(op._rec(fn).inputs[0].shape[2:]), "image size")
    ends = []
    for size, k, s, p, d, out in zip((H, W), g.kernel, g.stride, g.padding, g.dilation, g.out):
        extent = max(size + 2 * p, (out - 1) * s + d * (k - 1) + 1)
        ends.append(extent - size - p)
    return [g.padding[0], g.padding[1], ends[0], ends[1]]


def _padded(op: Op, value: float) -> str:
    t, l, b, r = _pool_pads(op)
    x = op.x(0)
    if not (t or l or b or r):
        return x
    return op.one("Pad", [x, op.ints([0, 0, t, l, 0, 0, b, r]), op.const(value)], mode="constant")


@register(MaxPool2d, MaxPool2dNaive)  # the kernels pool_impl() picks
def _max_pool(op: Op) -> list:
    g = op.fn.g
    return [op.one("MaxPool", [_padded(op, -numpy.inf)], kernel_shape=list(g.kernel),
                   strides=list(g.stride), dilations=list(g.dilation))]


@register(AvgPool2d, AvgPool2dNaive)
def _avg_pool(op: Op) -> list:
    g = op.fn.g
    if tuple(g.dilation) != (1, 1):
        raise op.fail("average pooling with dilation is not in ONNX")
    y = op.one("AveragePool", [_padded(op, 0.0)], kernel_shape=list(g.kernel),
               strides=list(g.stride))
    k = g.kernel[0] * g.kernel[1]
    divisor = numpy.asarray(op.fn.divisor) if isinstance(op.fn, AvgPool2d) else \
        avg_divisor(op.shape(0), g, op.fn.cip, op.fn.override, numpy.float64)
    if numpy.all(divisor == k):
        return [y]
    return [op.one("Mul", [y, op.const(k / divisor.astype(numpy.float64))])]


@register(BatchNorm)
def _batch_norm(op: Op) -> list:
    fn = op.fn
    if fn.training or fn.running is None:
        raise op.fail("batch norm with batch statistics (training mode, or "
                      "track_running_stats=False) is not exported; call model.eval() and keep "
                      "running statistics")
    C = op.shape(0)[1]
    dt = op.dtype(0)
    scale = op.x(1) if op.has(1) else op.const(numpy.ones(C), dt)
    bias = op.x(2) if op.has(2) else op.const(numpy.zeros(C), dt)
    mean, var = (op._resolve(op, t, None if op.fn2 is None else op.fn2.running[k],
                             "running statistic") for k, t in enumerate(fn.running))
    if fn.running[0].dtype != dt:
        mean, var = (op.one("Cast", [v], to=_onnx_dtype(dt)) for v in (mean, var))
    return [op.one("BatchNormalization", [op.x(0), scale, bias, mean, var],
                   epsilon=float(fn.eps))]


def _onnx_dtype(dt: Any) -> int:
    from onnx import helper
    return int(helper.np_dtype_to_tensor_dtype(numpy.dtype(dt)))


@register(LayerNorm)
def _layer_norm(op: Op) -> list:
    shp = op.shape(0)
    K = op.fn.view[2]
    if op.has(1):
        k = len(op.record.inputs[1].shape)
    elif op.has(2):
        k = len(op.record.inputs[2].shape)
    else:
        k = next(j for j in range(1, len(shp) + 1) if math.prod(shp[len(shp) - j:]) == K)
    dt = op.dtype(0)
    scale = op.x(1) if op.has(1) else op.const(numpy.ones(shp[len(shp) - k:]), dt)
    inputs = [op.x(0), scale] + ([op.x(2)] if op.has(2) else [])
    return [op.one("LayerNormalization", inputs, axis=-k, epsilon=float(op.fn.eps))]


@register(GroupNorm)
def _group_norm(op: Op) -> list:
    N, G, D, S = op.fn.view
    x = op.x(0)
    xg = op.one("Reshape", [x, op.ints([0, G, -1])])                       # (N, G, D*S)
    mean = op.reduce("ReduceMean", xg, [2], True)
    xc = op.one("Sub", [xg, mean])
    var = op.reduce("ReduceMean", op.one("Mul", [xc, xc]), [2], True)
    y = op.one("Div", [xc, op.one("Sqrt", [op.one("Add", [var, op.const(op.fn.eps)])])])
    y = op.one("Reshape", [y, op.one("Shape", [x])])                        # (N, C, *)
    rest = [1] * (op.ndim(0) - 2)
    if op.has(1):
        y = op.one("Mul", [y, op.one("Reshape", [op.x(1), op.ints([-1] + rest)])])
    if op.has(2):
        y = op.one("Add", [y, op.one("Reshape", [op.x(2), op.ints([-1] + rest)])])
    return [y]


@register(Embedding)
def _embedding(op: Op) -> list:
    idx = op.array(op.fn.indices, None if op.fn2 is None else op.fn2.indices, "indices")
    return [op.one("Gather", [op.x(0), idx], axis=0)]


# ============================================================================ attention
@register(ScaledDotProductAttention)
def _sdpa(op: Op) -> list:
    fn = op.fn
    if fn.keep is not None:
        raise op.fail("attention dropout is active (dropout_p > 0); call model.eval()")
    q, k, v = op.x(0), op.x(1), op.x(2)
    nd = op.ndim(1)
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    qs = op.one("Mul", [q, op.const(fn.scale)])
    scores = op.one("MatMul", [qs, op.one("Transpose", [k], perm=perm)])     # (..., L, S)
    dead = None
    if fn.mask is not None and _is_causal(op):  # is_causal: built from the sizes at run time
        rows = op.one("Range", [op.g.const(0, "start", numpy.int64), _dim(op, scores, -2),
                                op.g.const(1, "delta", numpy.int64)])
        cols = op.one("Range", [op.g.const(0, "start", numpy.int64), _dim(op, scores, -1),
                                op.g.const(1, "delta", numpy.int64)])
        mask = op.one("GreaterOrEqual", [op.one("Unsqueeze", [rows, op.ints([1])]), cols])
        scores = op.one("Where", [mask, scores, op.const(-numpy.inf)])
    elif fn.mask is not None:
        mask = op.array(fn.mask, None if op.fn2 is None else op.fn2.mask, "mask")
        scores = op.one("Where", [mask, scores, op.const(-numpy.inf)])
        if id(fn.mask) not in op.g.arrays and not numpy.all(fn.mask.any(axis=-1)):
            dead = op.const(fn.mask.any(axis=-1, keepdims=True))  # rows with no key: 0
    if op.has(3):
        scores = op.one("Add", [scores, op.x(3)])
    p = op.one("Softmax", [scores], axis=-1)
    if dead is not None:
        p = op.one("Where", [dead, p, op.const(0)])
    return [op.one("MatMul", [p, v])]


def _is_causal(op: Op) -> bool:
    """Whether the op's bool mask is ``is_causal``'s lower triangle (at both recordings)."""
    fns = [op.fn] + ([] if op.fn2 is None else [op.fn2])
    return all(fn.mask.ndim == 2 and fn.mask.dtype == numpy.bool_ and id(fn.mask) not in
               op.g.arrays and numpy.array_equal(fn.mask, numpy.tri(*fn.mask.shape, 0, bool))
               for fn in fns)


def _dim(op: Op, x: str, axis: int) -> str:
    """The runtime size of ``x``'s ``axis``, a 0-D int64."""
    return op.one("Gather", [op.one("Shape", [x]), op.g.const(axis, "axis", numpy.int64)],
                  axis=0)


# ============================================================================ recurrent
@register(LSTMLayer)
def _lstm_layer(op: Op) -> list:
    """The whole layer as ONNX's LSTM. chainrule's node takes the input projection already
    made (``gi = x W_ih^T + b_ih``, (T*B, 4H)), so it is ONNX's X, with W a permutation that
    reorders PyTorch's gates (i, f, g, o) to ONNX's (i, o, f, c); R is W_hh in that order."""
    T = op.static(lambda fn: fn.steps, "number of steps")
    H = op.record.inputs[3].shape[-1]
    perm = numpy.concatenate([numpy.arange(k * H, (k + 1) * H) for k in (0, 3, 1, 2)])
    dt = op.dtype(0)
    x = op.one("Reshape", [op.x(0), op.ints([T, -1, 4 * H])])                 # (T, B, 4H)
    w = op.const(numpy.eye(4 * H)[perm][None], dt)                           # (1, 4H, 4H)
    r = op.one("Unsqueeze", [op.one("Gather", [op.x(1), op.ints(perm)], axis=0),
                             op.ints([0])])                                  # (1, 4H, H)
    zeros = op.const(numpy.zeros(4 * H), dt)
    hb = op.one("Gather", [op.x(2), op.ints(perm)], axis=0) if op.has(2) else \
        op.const(numpy.zeros(4 * H), dt)
    b = op.one("Unsqueeze", [op.one("Concat", [zeros, hb], axis=0), op.ints([0])])  # (1, 8H)
    h0 = op.one("Unsqueeze", [op.x(3), op.ints([0])])                         # (1, B, H)
    c0 = op.one("Unsqueeze", [op.x(4), op.ints([0])])
    y, yh, yc = op.node("LSTM", [x, w, r, b, "", h0, c0], 3, hidden_size=int(H))
    hs = op.one("Reshape", [y, op.ints([-1, H])])                            # (T*B, H)
    return [hs, op.one("Squeeze", [yh, op.ints([0])]), op.one("Squeeze", [yc, op.ints([0])])]


@register(FusedLSTMCell)
def _fused_lstm_cell(op: Op) -> list:
    """One LSTM step's pointwise part ``(gi, gh, c) -> (h', c')`` (nn.LSTMCell, the reverse
    direction of a bidirectional LSTM), composed: i, f, o sigmoids, g tanh."""
    H = op.shape(2)[1]
    gates = op.one("Add", [op.x(0), op.x(1)])                                 # (B, 4H)
    i, f, g, o = op.node("Split", [gates, op.ints([H] * 4)], 4, axis=1)
    i, f, o = (op.one("Sigmoid", [v]) for v in (i, f, o))
    c2 = op.one("Add", [op.one("Mul", [f, op.x(2)]), op.one("Mul", [i, op.one("Tanh", [g])])])
    return [op.one("Mul", [o, op.one("Tanh", [c2])]), c2]


# ============================================================================ rounding, division
def _to_out_dtype(op: Op, i: int) -> str:
    """Input ``i``, cast to the op's output dtype where it differs (ONNX's binary ops take
    one dtype)."""
    x = op.x(i)
    if op.dtype(i) != op.out_dtype:
        x = op.one("Cast", [x], to=_onnx_dtype(op.out_dtype))
    return x


def _trunc(op: Op, x: str) -> str:
    """Round toward zero (ONNX has no Trunc): Ceil below zero, Floor elsewhere."""
    return op.one("Where", [op.one("Less", [x, op.const(0)]), op.one("Ceil", [x]),
                            op.one("Floor", [x])])


@register(Rounding)
def _rounding(op: Op) -> list:
    kind, decimals = op.static(lambda fn: (fn.kind, fn.decimals), "rounding")
    x = op.x(0)
    if op.dtype(0).kind != "f":  # integers are already whole
        return [op.one("Identity", [x])]
    if kind == "trunc":
        return [_trunc(op, x)]
    onnx_op = {"floor": "Floor", "ceil": "Ceil", "round": "Round"}[kind]  # Round: half to even
    if kind != "round" or decimals == 0:
        return [op.one(onnx_op, [x])]
    scale = op.const(10.0 ** abs(decimals))  # as the op: rint(x * 10^d) / 10^d, d < 0 mirrored
    if decimals > 0:
        return [op.one("Div", [op.one("Round", [op.one("Mul", [x, scale])]), scale])]
    return [op.one("Mul", [op.one("Round", [op.one("Div", [x, scale])]), scale])]


def _float_divmod(op: Op, a: str, b: str) -> tuple[str, str, str]:
    """(mod, div, fix) of NumPy's and PyTorch's float ``divmod``: ``mod = fmod(a, b)``,
    ``div = (a - mod) / b``, ``fix`` where ``mod`` is non-zero and its sign is not ``b``'s
    (then the remainder is ``mod + b`` and the quotient ``div - 1``)."""
    mod = op.one("Mod", [a, b], fmod=1)
    div = op.one("Div", [op.one("Sub", [a, mod]), b])
    zero = op.const(0)
    fix = op.one("And", [op.one("Not", [op.one("Equal", [mod, zero])]),
                         op.one("Xor", [op.one("Less", [b, zero]), op.one("Less", [mod, zero])])])
    return mod, div, fix


def _floor_divide_of(op: Op, a: str, b: str) -> str:
    """``a // b`` exactly as NumPy and PyTorch round it (not ``floor(a / b)``, which differs
    where ``a / b`` rounds up to a whole number: ``1.0 // 0.1`` is 9)."""
    if op.out_dtype.kind != "f":  # integers: the exact quotient of a - a mod b
        return op.one("Div", [op.one("Sub", [a, op.one("Mod", [a, b], fmod=0)]), b])
    _, div, fix = _float_divmod(op, a, b)
    div = op.one("Where", [fix, op.one("Sub", [div, op.const(1)]), div])
    fl = op.one("Floor", [div])
    fl = op.one("Where", [op.one("Greater", [op.one("Sub", [div, fl]), op.const(0.5)]),
                          op.one("Add", [fl, op.const(1)]), fl])
    by_zero = op.one("Equal", [b, op.const(0)])
    return op.one("Where", [by_zero, op.one("Div", [a, b]), fl])  # inf or nan, as a / b


@register(FloorDivide)
def _floor_divide(op: Op) -> list:
    return [_floor_divide_of(op, _to_out_dtype(op, 0), _to_out_dtype(op, 1))]


@register(DivRounded)
def _div_rounded(op: Op) -> list:
    a, b = _to_out_dtype(op, 0), _to_out_dtype(op, 1)
    if op.fn.mode == "floor":
        return [_floor_divide_of(op, a, b)]
    if op.out_dtype.kind != "f":
        return [op.one("Div", [a, b])]  # ONNX's integer Div rounds toward zero
    return [_trunc(op, op.one("Div", [a, b]))]


@register(Remainder)
def _remainder(op: Op) -> list:
    a, b = _to_out_dtype(op, 0), _to_out_dtype(op, 1)
    if op.out_dtype.kind != "f":
        return [op.one("Mod", [a, b], fmod=0)]  # Python's sign rule: the divisor's
    mod, _, fix = _float_divmod(op, a, b)  # ONNX's float Mod needs fmod=1: fixed as NumPy
    return [op.one("Where", [fix, op.one("Add", [mod, b]), mod])]


@register(LogBase)
def _log_base(op: Op) -> list:
    x = op.x(0)  # in float64, then rounded, as the op
    wide = op.one("Cast", [x], to=_onnx_dtype(numpy.float64))
    y = op.one("Div", [op.one("Log", [wide]), op.const(math.log(op.fn.base), numpy.float64)])
    return [op.one("Cast", [y], to=_onnx_dtype(op.out_dtype))]


@register(Lerp)
def _lerp(op: Op) -> list:
    a, b, w = op.x(0), op.x(1), op.x(2)  # as the op: exact at w = 0 and w = 1
    diff = op.one("Sub", [b, a])
    near_a = op.one("Add", [a, op.one("Mul", [w, diff])])
    near_b = op.one("Sub", [b, op.one("Mul", [diff, op.one("Sub", [op.const(1), w])])])
    small = op.one("Less", [op.one("Abs", [w]), op.const(0.5)])
    return [op.one("Where", [small, near_a, near_b])]


@register(ClampTensor)
def _clamp_tensor(op: Op) -> list:
    y = op.x(0)
    if op.has(1):
        y = op.one("Max", [y, op.x(1)])
    if op.has(2):
        y = op.one("Min", [y, op.x(2)])
    return [y if op.has(1) or op.has(2) else op.one("Identity", [y])]


# ============================================================================ products, norms
@register(Prod)
def _prod(op: Op) -> list:
    axis = op.fn.axis
    return [op.reduce("ReduceProd", _to_out_dtype(op, 0), None if axis is None else [axis],
                      bool(op.fn.keepdim))]


@register(CumProd)
def _cumprod(op: Op) -> list:
    """ONNX has no CumProd (and exp(cumsum(log)) fails at zeros and negatives): the running
    product unrolled along the axis, multiplied in the op's order, so it is exact; the axis'
    length is fixed in the file."""
    x = op.x(0)
    if op.ndim(0) == 0:
        return [op.one("Identity", [x])]
    axis = op.fn.axis % op.ndim(0)
    n = op.static(lambda fn: op._rec(fn).inputs[0].shape[axis], "length of the product's axis")
    if n <= 1:
        return [op.one("Identity", [x])]
    pieces = op.node("Split", [x, op.ints([1] * n)], n, axis=axis)
    run = [pieces[0]]
    for p in pieces[1:]:
        run.append(op.one("Mul", [run[-1], p]))
    return [op.one("Concat", run, axis=axis)]


@register(VectorNorm)
def _vector_norm(op: Op) -> list:
    p, axes, keep = op.fn.p, op.fn.axes, bool(op.fn.keepdim)
    x = op.x(0)
    ax = None if axes is None else list(axes)
    a = op.one("Abs", [x])
    if p == 0:  # the count of non-zero elements
        a = op.one("Cast", [op.one("Not", [op.one("Equal", [x, op.const(0)])])],
                   to=_onnx_dtype(op.out_dtype))
        return [op.reduce("ReduceSum", a, ax, keep) if ax != [] else a]
    if ax == []:  # no axis reduced: |x| (every p)
        return [a]
    if p == 1:
        return [op.reduce("ReduceL1", x, ax, keep)]
    if p == 2:
        return [op.reduce("ReduceL2", x, ax, keep)]
    if p in (math.inf, -math.inf):
        return [op.reduce("ReduceMax" if p > 0 else "ReduceMin", a, ax, keep)]
    s = op.reduce("ReduceSum", op.one("Pow", [a, op.const(p)]), ax, keep)
    return [op.one("Pow", [s, op.const(1 / p)])]


# ============================================================================ rearranging
@register(Roll)
def _roll(op: Op) -> list:
    """Each axis rolled by two Slices and a Concat (the axis' length fixed in the file)."""
    y = op.x(0)
    nd = op.ndim(0)
    for shift, axis in zip(op.fn.shifts, op.fn.axes):
        axis = axis % nd
        n = op.static(lambda fn, a=axis: op._rec(fn).inputs[0].shape[a],
                      f"length of rolled axis {axis}")
        s = shift % n if n else 0
        if s == 0:
            continue
        tail = op.one("Slice", [y, op.ints([n - s]), op.ints([n]), op.ints([axis])])
        head = op.one("Slice", [y, op.ints([0]), op.ints([n - s]), op.ints([axis])])
        y = op.one("Concat", [tail, head], axis=axis)
    return [y if y != op.x(0) else op.one("Identity", [y])]


@register(Einsum)
def _einsum(op: Op) -> list:
    subs, out = list(op.fn.subs), op.fn.out_subs
    letters = {c for s in subs + [out] for c in s if c.isalpha()}
    upper = sorted(c for c in letters if c.isupper())
    free = [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in letters]
    if upper and len(upper) <= len(free):  # ONNX's Einsum documents lower-case letters
        table = str.maketrans(dict(zip(upper, free)))
        subs, out = [s.translate(table) for s in subs], out.translate(table)
    equation = ",".join(subs) + "->" + out
    return [op.one("Einsum", [op.x(i) for i in range(op.n_in)], equation=equation)]


# ============================================================================ scatter
def _scatter_updates(op: Op, index: str, src: int) -> str:
    """Input ``src`` cut to the index's shape (the part scatter reads), where larger."""
    s = op.x(src)
    same = op.shape(src) == tuple(op.fn.index.shape) and (
        op.fn2 is None or tuple(op.record2.inputs[src].shape) == tuple(op.fn2.index.shape))
    if same:
        return s
    nd = op.ndim(src)
    return op.one("Slice", [s, op.ints([0] * nd), op.one("Shape", [index]),
                            op.ints(range(nd))])


def _scatter_index(op: Op) -> str:
    return op.array(op.fn.index, None if op.fn2 is None else op.fn2.index, "index")


@register(Scatter)
def _scatter(op: Op) -> list:
    index = _scatter_index(op)
    return [op.one("ScatterElements", [op.x(0), index, _scatter_updates(op, index, 1)],
                   axis=int(op.fn.axis))]


@register(ScatterAddInto)
def _scatter_add_into(op: Op) -> list:
    index = _scatter_index(op)
    return [op.one("ScatterElements", [op.x(0), index, _scatter_updates(op, index, 1)],
                   axis=int(op.fn.axis), reduction="add")]


@register(ScatterValue)
def _scatter_value(op: Op) -> list:
    index = _scatter_index(op)
    value = op.const(numpy.asarray(op.static(lambda fn: fn.value, "value")).reshape(1))
    updates = op.one("Expand", [value, op.one("Shape", [index])])
    return [op.one("ScatterElements", [op.x(0), index, updates], axis=int(op.fn.axis))]


# ============================================================================ convolution 1-D
@register(ConvTranspose1d)
def _conv_transpose1d(op: Op) -> list:
    g = op.fn.g  # the 1-D transposed convolution as a row: (1, s) strides, (0, 0, l, r) pads
    L = op.static(lambda fn: op._rec(fn).inputs[0].shape[2], "length")
    K = op.shape(1)[2]
    OL = op.out_shape()[2]
    s, d, pl, pr = g.stride[1], g.dilation[1], g.pads[2], g.pads[3]
    extra = OL - (s * (L - 1) + d * (K - 1) + 1 - pl - pr)
    inputs = [op.x(0), op.x(1)] + ([op.x(2)] if op.has(2) else [])
    return [op.one("ConvTranspose", inputs, strides=[s], pads=[pl, pr], dilations=[d],
                   group=int(g.groups), output_padding=[extra])]


# ============================================================================ resampling
_RESIZE_MODES = {  # interpolate's node names -> the Resize forms that may compute it
    "UpsampleNearest": ("nearest", (("asymmetric", "floor"),)),
    "UpsampleNearestExact": ("nearest", (("half_pixel", "round_prefer_ceil"),)),
    "UpsampleLinear": ("linear", (("half_pixel", ""), ("align_corners", ""))),
    "UpsampleBilinear": ("linear", (("half_pixel", ""), ("align_corners", ""))),
    "UpsampleTrilinear": ("linear", (("half_pixel", ""), ("align_corners", ""))),
}


def _dense(n: int, out: int, taps: Any) -> Any:
    """An axis map's (out, n) matrix in float64."""
    m = numpy.zeros((out, n))
    rows = numpy.arange(out)
    for idx, w in taps:
        numpy.add.at(m, (rows, numpy.asarray(idx)), 1.0 if w is None else
                     numpy.asarray(w, numpy.float64))
    return m


def _resize_dense(n: int, out: int, mode: str, coord: str, nearest: str) -> Any:
    """The (out, n) matrix onnxruntime's Resize computes for one axis given ``sizes``
    (scale = out / n in float32, coordinates in float32)."""
    f = numpy.float32
    scale = f(out) / f(n)
    o = numpy.arange(out, dtype=f)
    if coord == "asymmetric":
        src = o / scale
    elif coord == "half_pixel":
        src = (o + f(0.5)) / scale - f(0.5)
    else:  # align_corners
        src = numpy.zeros(out, f) if out == 1 else o * f(n - 1) / f(out - 1)
    m = numpy.zeros((out, n))
    rows = numpy.arange(out)
    if mode == "nearest":
        if nearest == "floor":
            i = numpy.floor(src)
        else:  # round_prefer_ceil
            i = numpy.where(src == numpy.floor(src) + f(0.5), numpy.ceil(src), numpy.round(src))
        m[rows, numpy.clip(i.astype(numpy.int64), 0, n - 1)] = 1.0
        return m
    x = numpy.clip(src, f(0), f(n - 1)).astype(numpy.float64)
    i0 = numpy.minimum(x.astype(numpy.int64), n - 1)
    i1 = numpy.minimum(i0 + 1, n - 1)
    lam = x - i0
    numpy.add.at(m, (rows, i0), 1 - lam)
    numpy.add.at(m, (rows, i1), lam)
    return m


def _resize_form(op: Op) -> Any:
    """(mode, coordinate mode, nearest mode) of a Resize that computes this axis map (at both
    recordings), or None."""
    node = op.fn.name()
    kind = node.rstrip("0123456789").removesuffix("Backward").rstrip("D").rstrip("0123456789")
    if kind not in _RESIZE_MODES:
        return None
    mode, forms = _RESIZE_MODES[kind]
    nd = op.ndim(0)
    fns = [op.fn] + ([] if op.fn2 is None else [op.fn2])
    if any([p[0] for p in fn.plans] != list(range(2, nd)) for fn in fns):
        return None
    tol = 0.0 if mode == "nearest" else 1e-5
    for coord, nearest in forms:
        if all(numpy.allclose(_dense(n, len(taps[0][0]), taps),
                              _resize_dense(n, len(taps[0][0]), mode, coord, nearest),
                              rtol=0, atol=tol)
               for fn in fns for _, n, taps in fn.plans):
            return mode, coord, nearest
    return None


@register(AxisMap)
def _axis_map(op: Op) -> list:
    """interpolate as ONNX's Resize where a Resize computes the same map (nearest: asymmetric
    coordinates rounded down; nearest-exact: half-pixel rounded half up; (bi/tri)linear:
    half-pixel or align-corners), given the output ``sizes``; else (a scale factor whose
    reciprocal is not in/out, the reflect, replicate and circular pads) the map itself:
    per axis, a Gather of each tap, times its weights, summed."""
    x = op.x(0)
    form = _resize_form(op)
    if form is not None:
        mode, coord, nearest = form
        spatial = op.static(lambda fn: [len(t[0][0]) for _, _, t in fn.plans], "output size")
        sizes = op.one("Concat", [op.one("Shape", [x], start=0, end=2), op.ints(spatial)],
                       axis=0)
        attrs = {"mode": mode, "coordinate_transformation_mode": coord}
        if nearest:
            attrs["nearest_mode"] = nearest
        return [op.one("Resize", [x, "", "", sizes], **attrs)]
    nd = op.ndim(0)

    def plans_of(fn: Any) -> Any:
        return [(a, n, [(numpy.asarray(i), None if w is None else numpy.asarray(w))
                        for i, w in taps]) for a, n, taps in fn.plans]
    op.static(plans_of, "resampling map")
    y = x
    for axis, _, taps in op.fn.plans:
        total = None
        for idx, w in taps:
            t = op.one("Gather", [y, op.ints(numpy.asarray(idx).reshape(-1))], axis=int(axis))
            if w is not None:
                shape = (-1,) + (1,) * (nd - 1 - axis)
                t = op.one("Mul", [t, op.const(numpy.asarray(w).reshape(shape))])
            total = t if total is None else op.one("Add", [total, t])
        y = total
    return [y]


# ============================================================================ losses
def _weighted_reduce(op: Op, loss: str) -> str:
    """A loss node's per-element ``loss`` times its constant ``weight``, then reduced as its
    ``reduction`` says (mean: over the element count, NaN for none, as the op)."""
    w = getattr(op.fn, "weight", None)
    if w is not None:
        loss = op.one("Mul", [loss, op.array(w, None if op.fn2 is None else op.fn2.weight,
                                             "weight")])
    reduction = op.static(lambda fn: fn.reduction, "reduction")
    if reduction == "none":
        return loss
    return op.reduce("ReduceSum" if reduction == "sum" else "ReduceMean", loss, None, False)


def _stable_log_sigmoid(op: Op, x: str) -> str:
    """``min(x, 0) - log(1 + exp(-|x|))``, as the op (no overflow)."""
    e = op.one("Exp", [op.one("Neg", [op.one("Abs", [x])])])
    return op.one("Sub", [op.one("Min", [x, op.const(0)]),
                          op.one("Log", [op.one("Add", [e, op.const(1)])])])


@register(MeanSquaredError)
def _mse(op: Op) -> list:
    d = op.one("Sub", [op.x(0), op.x(1)])
    return [_weighted_reduce(op, op.one("Mul", [d, d]))]


@register(SmoothL1, Huber)
def _piecewise_loss(op: Op) -> list:
    k = op.static(lambda fn: fn.k, "beta/delta")
    z = op.one("Abs", [op.one("Sub", [op.x(0), op.x(1)])])
    half_sq = op.one("Mul", [op.one("Mul", [op.const(0.5), z]), z])
    if isinstance(op.fn, SmoothL1):  # 0.5 z^2 / beta, z - 0.5 beta
        inner = op.one("Div", [half_sq, op.const(k)])
        outer = op.one("Sub", [z, op.const(0.5 * k)])
    else:  # 0.5 z^2, delta (z - 0.5 delta)
        inner = half_sq
        outer = op.one("Mul", [op.const(k), op.one("Sub", [z, op.const(0.5 * k)])])
    loss = op.one("Where", [op.one("Less", [z, op.const(k)]), inner, outer])
    return [_weighted_reduce(op, loss)]


@register(BinaryCrossEntropy)
def _bce(op: Op) -> list:
    p, t = op.x(0), op.x(1)  # (t - 1) log(1 - p) - t log(p), each log clamped at -100
    floor = op.const(-100)
    log_p = op.one("Max", [op.one("Log", [p]), floor])
    log_1mp = op.one("Max", [op.one("Log", [op.one("Sub", [op.const(1), p])]), floor])
    loss = op.one("Sub", [op.one("Mul", [op.one("Sub", [t, op.const(1)]), log_1mp]),
                          op.one("Mul", [t, log_p])])
    return [_weighted_reduce(op, loss)]


@register(BinaryCrossEntropyWithLogits)
def _bce_logits(op: Op) -> list:
    x, t = op.x(0), op.x(1)  # (1 - t) x - log_sigmoid(x) ((pos_weight - 1) t + 1)
    log_sig = _stable_log_sigmoid(op, x)
    pw = op.fn.pos_weight
    if pw is not None:
        pw = op.array(pw, None if op.fn2 is None else op.fn2.pos_weight, "pos_weight")
        scale = op.one("Add", [op.one("Mul", [op.one("Sub", [pw, op.const(1)]), t]),
                               op.const(1)])
        log_sig = op.one("Mul", [log_sig, scale])
    loss = op.one("Sub", [op.one("Mul", [op.one("Sub", [op.const(1), t]), x]), log_sig])
    return [_weighted_reduce(op, loss)]


@register(XLogY)
def _xlogy(op: Op) -> list:
    x, y = op.x(0), op.x(1)  # x log(y), 0 where x == 0 unless y is NaN
    out = op.one("Mul", [x, op.one("Log", [y])])
    zero = op.one("And", [op.one("Equal", [x, op.const(0)]), op.one("Not", [op.one("IsNaN", [y])])])
    return [op.one("Where", [zero, op.const(0), out])]


@register(CrossEntropy)
def _cross_entropy(op: Op) -> list:
    """Class-index cross entropy: LogSoftmax, the target's entry (GatherElements) times its
    weight, ignored entries 0; the targets are constants (computed outside the ops)."""
    cdim = op.static(lambda fn: fn.cdim, "class axis")
    tg, tg2 = op.fn.targets, None if op.fn2 is None else op.fn2.targets
    lsm = op.one("LogSoftmax", [op.x(0)], axis=cdim)
    safe = op.array(tg.safe, None if tg2 is None else tg2.safe, "target")
    idx = op.one("Unsqueeze", [safe, op.ints([cdim])])
    picked = op.one("Squeeze", [op.one("GatherElements", [lsm, idx], axis=cdim),
                                op.ints([cdim])])
    weight = op.array(tg.weight, None if tg2 is None else tg2.weight, "target weight")
    loss = op.one("Mul", [op.one("Neg", [picked]), weight])
    if not op.static(lambda fn: fn.targets.all_kept, "ignored entries"):
        keep = op.array(tg.keep, None if tg2 is None else tg2.keep, "ignore mask")
        loss = op.one("Where", [keep, loss, op.const(0)])
    reduction = op.static(lambda fn: fn.reduction, "reduction")
    if reduction == "none":
        return [loss]
    total = op.reduce("ReduceSum", loss, None, False)
    if reduction == "sum":
        return [total]
    return [op.one("Div", [total, op.reduce("ReduceSum", weight, None, False)])]


@register(IndexAdd)
def _index_add(op: Op) -> list:
    """Values added into zeros at an index (``diag`` of a vector): ScatterND with
    ``reduction="add"`` where the index is arrays on the leading axes (slices after)."""
    from onnx import numpy_helper
    index = op.fn.index
    dims = [] if index.advanced is None else _advanced_dims(index.advanced)
    arrays = [k for k, a in enumerate(dims) if not isinstance(a, slice)]
    if any(b != slice(None) for b in index.basic) or not arrays or \
            arrays != list(range(len(arrays))):
        raise op.fail("only an index of integer arrays on the leading axes is exported")

    def stacked(fn: Any) -> Any:
        ds = _advanced_dims(fn.index.advanced)
        idx = numpy.broadcast_arrays(*[numpy.asarray(ds[k], numpy.int64) for k in arrays])
        return numpy.stack(idx, -1)
    shape = op.shape_value(op.fn.shape, None if op.fn2 is None else op.fn2.shape, "shape")
    zeros = op.one("ConstantOfShape", [shape], value=numpy_helper.from_array(
        numpy.zeros(1, op.out_dtype)))
    idx = op.array(stacked(op.fn), None if op.fn2 is None else stacked(op.fn2), "index")
    return [op.one("ScatterND", [zeros, idx, op.x(0)], reduction="add")]
