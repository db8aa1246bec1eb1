"""The error of every reader in :mod:`chainrule.io`: :class:`CheckpointError`."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A weights or checkpoint file is malformed, inconsistent or does not fit; the message
    names the file, the tensor and the expected vs actual value."""
