"""Reverse-mode automatic differentiation: Tensor, Function, the engine, grad modes."""
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled
from .engine import backward, grad
from .errors import OpError, OpIndexError
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor

__all__ = ["Tensor", "Function", "backward", "grad", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "OpError", "OpIndexError"]
