"""Variable-length batches for the recurrent layers, as ``torch.nn.utils.rnn``.

A batch of sequences of different lengths travels either padded, ``(T, B, *)`` (or
``(B, T, *)`` with ``batch_first``) with filler past each length, or packed: a
:class:`PackedSequence` holds only the real steps, time-major, ``data`` of shape ``(sum of
lengths, *)``, with ``batch_sizes[t]`` the number of sequences still running at step ``t``
(the sequences sorted longest first; ``sorted_indices`` records that order). An ``nn.RNN``,
``nn.LSTM`` or ``nn.GRU`` given a PackedSequence runs each sequence for its own length and
returns each one's final state at its last real step.

Every function is composed from differentiable ops (one gather, ``index_select``, per
conversion), so gradients flow back through packing and padding.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Optional, Sequence, Union

import numpy

from ...autograd.errors import OpError
from ...autograd.tensor import Tensor
from ...backend import xp
from ...ops.shape import cat, index_select, reshape, transpose

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor]
    unsorted_indices: Optional[Tensor]


class PackedSequence(_PackedSequenceFields):
    """A batch of variable-length sequences without padding, as ``torch``'s PackedSequence.

    Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand.

    Attributes:
        data: ``(sum of lengths, *)``: step 0 of every sequence, then step 1 of those still
            running, ... (sequences in ``sorted_indices`` order, longest first).
        batch_sizes: int64 ``(T,)``: how many sequences run at each step (non-increasing).
        sorted_indices: int64 ``(B,)``: position ``i`` of the packed order holds original
            sequence ``sorted_indices[i]`` (None: the input was already sorted).
        unsorted_indices: the inverse permutation (None with ``sorted_indices``).

    Example:
        >>> import chainrule as cr
        >>> p = pack_sequence([cr.tensor([1., 2., 3.]), cr.tensor([4., 5.])])
        >>> p.data.tolist(), p.batch_sizes.tolist()
        ([1.0, 4.0, 2.0, 5.0, 3.0], [2, 2, 1])
    """

    def __new__(cls, data: Any, batch_sizes: Optional[Tensor] = None,
                sorted_indices: Optional[Tensor] = None,
                unsorted_indices: Optional[Tensor] = None) -> "PackedSequence":
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # torch's legacy form: PackedSequence((data, batch_sizes))
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise OpError("PackedSequence: expected data to be a list or tuple of length 2 "
                              "(data, batch_sizes) when batch_sizes is not given")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        """The same sequence with ``data`` converted by ``Tensor.to`` (the indices stay)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self) -> "PackedSequence":
        """Itself: chainrule runs on the CPU."""
        return self

    def double(self) -> "PackedSequence":
        """``data`` as float64."""
        return self.to(numpy.dtype("float64"))

    def float(self) -> "PackedSequence":
        """``data`` as float32."""
        return self.to(numpy.dtype("float32"))

    @property
    def is_cuda(self) -> bool:
        """False: chainrule runs on the CPU."""
        return False

    def is_pinned(self) -> bool:
        """False: no pinned memory on the CPU."""
        return False


def invert_permutation(permutation: Optional[Tensor]) -> Optional[Tensor]:
    """The inverse of a permutation of ``range(n)`` (None stays None).

    Example:
        >>> import chainrule as cr
        >>> invert_permutation(cr.tensor([2, 0, 1])).tolist()
        [1, 2, 0]
    """
    if permutation is None:
        return None
    p = _ints(permutation)
    out = xp.empty_like(p)
    out[p] = xp.arange(p.size, dtype=p.dtype)
    return Tensor(out)


def _ints(t: Any) -> Any:
    return xp.asarray(t._data if isinstance(t, Tensor) else t)


def _lengths(lengths: Any) -> Any:
    """``lengths`` as a 1-D int64 array (a list or a tensor, as torch takes)."""
    a = _ints(lengths)
    if a.ndim != 1:
        raise OpError(f"pack_padded_sequence: 'lengths' argument should be a 1D CPU int64 "
                      f"tensor, but got {a.ndim}D tensor")
    if a.size and a.dtype.kind not in "iub":
        if a.dtype.kind != "f":
            raise OpError(f"pack_padded_sequence: lengths must be integers, got dtype "
                          f"{a.dtype}")
    return a.astype(numpy.int64)


def pack_padded_sequence(input: Tensor, lengths: Union[Tensor, Sequence[int]],
                         batch_first: bool = False, enforce_sorted: bool = True
                         ) -> PackedSequence:
    """Pack a padded batch of variable-length sequences.

    Args:
        input: ``(T, B, *)`` padded sequences (``(B, T, *)`` with ``batch_first``).
        lengths: the ``B`` lengths, each in ``[1, T]`` (a list or a 1-D integer tensor).
        batch_first: the input is ``(B, T, *)``.
        enforce_sorted: the lengths must be non-increasing (else an error); False sorts them
            (stably, longest first) and records the order in ``sorted_indices``.

    Shape:
        ``data`` is ``(sum(lengths), *)``; ``batch_sizes`` is ``(max(lengths),)``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1., 2.], [3., 4.], [5., 6.]])   # (T=3, B=2)
        >>> p = pack_padded_sequence(x, [1, 3], enforce_sorted=False)
        >>> p.data.tolist(), p.batch_sizes.tolist(), p.sorted_indices.tolist()
        ([2.0, 1.0, 4.0, 6.0], [2, 1, 1], [1, 0])
    """
    lens = _lengths(lengths)
    if input.ndim < 2:
        raise OpError(f"pack_padded_sequence: input of shape {input.shape} needs at least 2 "
                      f"dimensions ((T, B, *), or (B, T, *) with batch_first)")
    if batch_first:
        input = transpose(input, 0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if lens.size != batch:
        raise OpError(f"pack_padded_sequence: Expected `len(lengths)` to be equal to "
                      f"batch_size, but got {lens.size} (batch_size={batch})")
    if input.numel() == 0 and batch == 0:
        raise OpError("pack_padded_sequence: Cannot pack empty tensors.")
    sorted_indices = None
    if enforce_sorted:
        if numpy.any(lens[1:] > lens[:-1]):
            raise OpError("`lengths` array must be sorted in decreasing order when "
                          "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                          "pack_padded_sequence and/or pack_sequence to sidestep this "
                          "requirement if you do not need ONNX exportability.")
    else:
        order = numpy.argsort(-lens, kind="stable")  # torch.sort(descending=True): stable
        lens = lens[order]
        sorted_indices = Tensor(order.astype(numpy.int64))
        input = index_select(input, 1, sorted_indices)
    if lens.size and lens.min() <= 0:
        raise OpError("pack_padded_sequence: Length of all samples has to be greater than 0, "
                      "but found an element in 'lengths' that is <= 0")
    if lens.size and lens.max() > steps:
        raise OpError(f"pack_padded_sequence: a length of {int(lens.max())} is longer than the "
                      f"input's {steps} time steps (input shape {input.shape})")
    batch_sizes = (lens[None, :] > numpy.arange(int(lens.max()))[:, None]).sum(1)
    # row t * B + b of the (T * B, *) input, for every (t, b) still running: time-major
    t_idx, b_idx = numpy.nonzero(numpy.arange(steps)[:, None] < lens[None, :])
    flat = reshape(input, (steps * batch,) + tuple(input.shape[2:]))
    data = index_select(flat, 0, Tensor(t_idx * batch + b_idx))
    return PackedSequence(data, Tensor(batch_sizes.astype(numpy.int64)), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: Optional[int] = None
                        ) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: the padded batch and the lengths.

    Args:
        sequence: a PackedSequence.
        batch_first: return ``(B, T, *)`` instead of ``(T, B, *)``.
        padding_value: the filler past each sequence's length.
        total_length: pad to this many steps (at least the longest length), e.g. to get back
            the length of the padded input of a DataParallel-style split.

    Shape:
        ``(T, B, *)`` with ``T = total_length`` or the longest length; lengths ``(B,)`` int64,
        in the original order of the sequences.

    Example:
        >>> import chainrule as cr
        >>> p = pack_sequence([cr.tensor([1., 2., 3.]), cr.tensor([4.])])
        >>> padded, lengths = pad_packed_sequence(p, batch_first=True, padding_value=-1)
        >>> padded.tolist(), lengths.tolist()
        ([[1.0, 2.0, 3.0], [4.0, -1.0, -1.0]], [3, 1])
    """
    data, batch_sizes = sequence.data, _ints(sequence.batch_sizes).astype(numpy.int64)
    steps = int(batch_sizes.size)
    if total_length is not None:
        if total_length < steps:
            raise OpError(f"Expected total_length to be at least the length of the longest "
                          f"sequence in input, but got total_length={total_length} and max "
                          f"sequence length being {steps}")
        steps = int(total_length)
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    lens = (batch_sizes[None, :] > numpy.arange(batch)[:, None]).sum(1)  # sorted order
    order = numpy.arange(batch)
    if sequence.unsorted_indices is not None:
        order = _ints(sequence.unsorted_indices)
    # padded position (t, b) reads packed row offset[t] + order[b], or the filler row
    offsets = numpy.concatenate([[0], numpy.cumsum(batch_sizes)])
    n = int(offsets[-1])
    t = numpy.arange(steps)[:, None]
    src = order[None, :]
    running = t < lens[src]
    rows = numpy.where(running, offsets[numpy.minimum(t, batch_sizes.size)] + src, n)
    if batch_first:
        rows = rows.T
    filler = Tensor(xp.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype))
    padded = index_select(cat([data, filler], 0), 0, Tensor(rows.reshape(-1)))
    padded = reshape(padded, rows.shape + tuple(data.shape[1:]))
    return padded, Tensor(lens[order].astype(numpy.int64))


def pad_sequence(sequences: Union[Tensor, Iterable[Tensor]], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack variable-length sequences into one padded tensor.

    Args:
        sequences: tensors ``(L_i, *)`` sharing the trailing dimensions ``*``.
        batch_first: return ``(B, T, *)`` instead of ``(T, B, *)``.
        padding_value: the filler.
        padding_side: ``'right'`` (filler after each sequence) or ``'left'`` (before).

    Shape:
        ``(T, B, *)`` with ``T = max(L_i)``.

    Example:
        >>> import chainrule as cr
        >>> pad_sequence([cr.tensor([1., 2.]), cr.tensor([3.])], batch_first=True,
        ...              padding_side='left').tolist()
        [[1.0, 2.0], [0.0, 3.0]]
    """
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])]
    elif not isinstance(sequences, Iterable):
        raise OpError(f"pad_sequence: Expected iterable for input sequences, but got arg of "
                      f"type: {type(sequences)}")
    sequences = list(sequences)
    if not sequences:
        raise OpError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise OpError(f"pad_sequence: Expected padding_side to be one of left or right, but "
                      f"got {padding_side}.")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise OpError(f"pad_sequence: sequence {i} is a {type(s).__name__}, not a Tensor")
        if s.ndim == 0:
            raise OpError(f"pad_sequence: sequence {i} is 0-d; each sequence needs a length "
                          f"dimension (L_i, *)")
        if s.shape[1:] != sequences[0].shape[1:]:
            raise OpError(f"pad_sequence: sequence {i} has shape {s.shape} but sequence 0 has "
                          f"shape {sequences[0].shape}; all sequences must share the dimensions "
                          f"after the first")
    lens = numpy.array([s.shape[0] for s in sequences], dtype=numpy.int64)
    steps, trailing = int(lens.max()), tuple(sequences[0].shape[1:])
    starts = numpy.concatenate([[0], numpy.cumsum(lens)])
    n = int(starts[-1])
    t = numpy.arange(steps)[:, None]
    if padding_side == "left":
        t = t - (steps - lens)[None, :]  # step t of the output is step t - pad of the sequence
    rows = numpy.where((t >= 0) & (t < lens[None, :]), starts[:-1][None, :] + t, n)
    if batch_first:
        rows = rows.T
    allseq = cat(sequences, 0)
    filler = Tensor(xp.full((1,) + trailing, padding_value, dtype=allseq.dtype))
    padded = index_select(cat([allseq, filler], 0), 0, Tensor(rows.reshape(-1)))
    return reshape(padded, rows.shape + trailing)


def unpad_sequence(padded_sequences: Tensor, lengths: Union[Tensor, Sequence[int]],
                   batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences (right padding).

    Example:
        >>> import chainrule as cr
        >>> [s.tolist() for s in unpad_sequence(cr.tensor([[1., 3.], [2., 0.]]), [2, 1])]
        [[1.0, 2.0], [3.0]]
    """
    lens = _ints(lengths)
    if not batch_first:
        padded_sequences = transpose(padded_sequences, 0, 1)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lens)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)``: ``pack_padded_sequence(pad_sequence(seqs))``.

    Example:
        >>> import chainrule as cr
        >>> pack_sequence([cr.tensor([1.]), cr.tensor([2., 3.])], enforce_sorted=False
        ...               ).data.tolist()
        [2.0, 1.0, 3.0]
    """
    lengths = [v.shape[0] for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a PackedSequence holds, in their original order.

    Example:
        >>> import chainrule as cr
        >>> p = pack_sequence([cr.tensor([1.]), cr.tensor([2., 3.])], enforce_sorted=False)
        >>> [s.tolist() for s in unpack_sequence(p)]
        [[1.0], [2.0, 3.0]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
