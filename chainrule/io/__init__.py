"""Checkpoint I/O: our safetensors reader/writer and the weights + JSON checkpoint pair.

Nothing here uses pickle: a checkpoint is data only, so loading one can never run code.
"""
from .checkpoint import (CheckpointPaths, IncompatibleKeys, checkpoint_paths, load_checkpoint,
                         load_into, save_checkpoint)
from .safetensors import CheckpointError, load_file, read_header, save_file

__all__ = [
    "CheckpointError", "save_file", "load_file", "read_header",
    "save_checkpoint", "load_checkpoint", "load_into", "checkpoint_paths",
    "CheckpointPaths", "IncompatibleKeys",
]
