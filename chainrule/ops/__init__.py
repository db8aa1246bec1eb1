"""The differentiable ops, one module per family; each op's forward and backward side by side.

Importing this package also binds Tensor's operators and methods to these functions
(:mod:`.operators`): the floor below, :mod:`chainrule.autograd`, never imports the ops.
"""
import sys as _sys

from .activation import (leaky_relu, log_softmax, log_softmax_composed, relu, sigmoid,
                         sigmoid_composed, softmax, softmax_composed, tanh)
from .arithmetic import (abs, add, allclose, cast, clamp, clip, clone, cos, div, eq, exp,
                         floor_divide, ge, gt, isfinite, le, log, logical_and, logical_not,
                         logical_or, lt, maximum, minimum, mul, ne, neg, pow, reciprocal,
                         remainder, sign,
                         sin, sqrt, sub, true_divide, where)
from ..kernels import compiled_status  # the kernels are imported only by ops: re-exported
from .indexing import index_assign
from .linalg import dot, matmul, mm
from . import operators as _operators
from .dtypes import promote, result_dtype
from .reduce import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, std, sum,
                     var)
from .contraction import addmm, baddbmm, bmm, einsum, ger, outer
from .cumulative import cumprod, cumsum, prod
from .elementwise import (addcdiv, addcmul, ceil, clamp_max, clamp_min, erf, expm1, fix, floor,
                          frac, isinf, isnan, lerp, log1p, log2, log10, round, rsqrt, square,
                          trunc)
from .rearrange import (diag, flip, fliplr, flipud, masked_fill, masked_fill_, narrow, repeat,
                        repeat_interleave, roll, tril, triu, unbind)
from .scatter import scatter, scatter_, scatter_add, scatter_add_
from .sorting import argsort, msort, sort, topk
from .vector_norm import norm
from .shape import (broadcast_to, cat, chunk, expand, flatten, gather, getitem, index_select,
                    permute, reshape, split, squeeze, stack, sum_to, take_along_dim,
                    transpose, unbroadcast, unflatten, unsqueeze, view)
from .resample import pad  # every mode; shape.pad is its constant-padding primitive

concat = cat
concatenate = cat
multiply = mul
subtract = sub
divide = div

_operators.bind(_sys.modules[__name__])
