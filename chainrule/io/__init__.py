"""Checkpoint I/O: ``save``/``load`` (``torch.save``/``torch.load`` without pickle), our
safetensors reader/writer, the weights + JSON checkpoint files, and the atomic file writes
every part of chainrule uses.

Nothing here uses pickle: a checkpoint is data only, so loading one can never run code.
"""
from .checkpoint import (CheckpointPaths, IncompatibleKeys, checkpoint_paths, load_checkpoint,
                         load_into, save_checkpoint)
from .errors import CheckpointError, SerializationError
from .files import atomic_open, atomic_path, remove_stale_temps, write_atomic
from .jsonio import MAX_INT_DIGITS, parse_json
from .safetensors import load_file, read_header, save_file
from .serialization import load, save

__all__ = [
    "save", "load", "CheckpointError", "SerializationError", "save_file", "load_file",
    "read_header",
    "save_checkpoint", "load_checkpoint", "load_into", "checkpoint_paths",
    "CheckpointPaths", "IncompatibleKeys", "write_atomic", "atomic_open", "atomic_path",
    "remove_stale_temps", "parse_json", "MAX_INT_DIGITS",
]
