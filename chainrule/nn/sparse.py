"""``Embedding``: a lookup table of learned vectors, as ``torch.nn.Embedding``."""
from __future__ import annotations

from typing import Any, Optional

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops.embedding import EmbeddingArgError, padding_index, refuse_sparse
from . import functional as F
from . import init
from .module import Module, factory_dtype
from .parameter import Parameter


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    ``weight`` is initialised from N(0, 1), with the ``padding_idx`` row zeroed. The gradient
    of the weight is dense (an index-add of the output gradient's rows).

    Args:
        num_embeddings: V, the size of the table.
        embedding_dim: D, the size of each vector.
        padding_idx: that row is initialised to zeros and gets no gradient (negative counts
            from the end); it is not padded out of the output.
        max_norm: each looked-up row with a larger ``norm_type``-norm is first renormalised
            to norm ``max_norm``, in place in ``weight``.
        norm_type: the p of the norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by its count in the mini-batch.
        sparse: must be False (chainrule has dense gradients only; True raises).
        _weight: an initial (V, D) weight to use (shared, not copied) instead of N(0, 1).
        _freeze: with ``_weight``, make it a parameter that does not require grad.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(*)`` int64 or int32 indices; output ``(*, D)``.

    Example:
        >>> import chainrule as cr
        >>> emb = cr.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(cr.tensor([[1, 2, 0], [4, 3, 9]])).shape
        (2, 3, 3)
        >>> emb.weight[0].tolist(), emb
        ([0.0, 0.0, 0.0], Embedding(10, 3, padding_idx=0))
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Optional[Any] = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise OpError(f"Embedding: {name} must be a non-negative int, got {v!r}")
        refuse_sparse(sparse, "Embedding")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_index(padding_idx, num_embeddings, "Embedding")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            dtype = factory_dtype(device, dtype, "Embedding")
            self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            shape = tuple(_weight.shape)
            if shape != (num_embeddings, embedding_dim):
                raise EmbeddingArgError(f"Embedding: Shape of weight does not match "
                                        f"num_embeddings and embedding_dim: weight of shape "
                                        f"{shape}, expected ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Draw the weight from N(0, 1) again and zero the ``padding_idx`` row, as PyTorch.

        Example:
            >>> import chainrule as cr
            >>> emb = cr.nn.Embedding(4, 2, padding_idx=-1)
            >>> emb.reset_parameters()
            >>> emb.padding_idx, emb.weight[3].tolist()
            (3, [0.0, 0.0])
        """
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:  # a no_grad write, as torch's
            self.weight._data[self.padding_idx] = 0
            self.weight._version += 1

    def forward(self, input: Tensor) -> Tensor:
        # F.embedding names the layer's table size and the index out of range
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is ``embeddings`` (shared, not copied; the
        ``padding_idx`` row is kept as given), frozen unless ``freeze=False``.

        Args:
            embeddings: ``(V, D)``: the weight.
            freeze: the weight does not require grad (True, the default) or is trained.
            padding_idx: as :class:`Embedding`.
            max_norm: as :class:`Embedding`.
            norm_type: as :class:`Embedding`.
            scale_grad_by_freq: as :class:`Embedding`.
            sparse: must be False.

        Example:
            >>> import chainrule as cr
            >>> emb = cr.nn.Embedding.from_pretrained(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> emb(cr.tensor([1])).tolist(), emb.weight.requires_grad
            ([[3.0, 4.0]], False)
        """
        if getattr(embeddings, "ndim", None) != 2:
            raise EmbeddingArgError(f"Embedding.from_pretrained: Embeddings parameter is "
                                    f"expected to be 2-dimensional, got shape "
                                    f"{tuple(getattr(embeddings, 'shape', ()))}")
        rows, cols = embeddings.shape
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
