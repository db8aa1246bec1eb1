"""The errors of the readers in :mod:`chainrule.io`: :class:`CheckpointError` and, for
:func:`chainrule.load`, :class:`SerializationError`."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A weights or checkpoint file is malformed, inconsistent or does not fit; the message
    names the file, the tensor and the expected vs actual value."""


class SerializationError(CheckpointError, RuntimeError):
    """A file given to :func:`chainrule.load` is not one it can read (truncated, garbage, a
    pickle, a structure that does not match its tensors); one line naming the file and what is
    wrong. Also a ``RuntimeError``, as PyTorch's ``torch.load`` raises for a broken file.

    Example:
        >>> issubclass(SerializationError, CheckpointError), issubclass(SerializationError,
        ...                                                             RuntimeError)
        (True, True)
    """
