"""Reverse-mode automatic differentiation: Tensor, Function, the engine, grad modes."""
from . import function
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled
from .engine import backward, grad
from .errors import OpError, OpIndexError
from .function import AccumulateGrad, Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                        no_grad, set_grad_enabled)
from .size import Size
from .tensor import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
                     IntTensor, LongTensor, ShortTensor, Tensor)

__all__ = ["Tensor", "Function", "FunctionCtx", "AccumulateGrad", "once_differentiable",
           "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "is_inference_mode_enabled", "detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "OpError", "OpIndexError",
           "Size", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
