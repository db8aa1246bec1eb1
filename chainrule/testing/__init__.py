"""Testing tools: numerical gradient checks and the PyTorch-parity helper."""
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_jacobian
from .parity import assert_parity

__all__ = ["gradcheck", "gradgradcheck", "numerical_jacobian", "GradcheckError",
           "assert_parity"]
