"""``chainrule.linalg``: the ``torch.linalg`` functions chainrule has (norms and matmul).

Example:
    >>> import chainrule as cr
    >>> cr.linalg.norm(cr.tensor([3.0, 4.0])).item()
    5.0
"""
from .linalg import matmul
from .vector_norm import linalg_norm as norm
from .vector_norm import matrix_norm, vector_norm

__all__ = ["matmul", "matrix_norm", "norm", "vector_norm"]
