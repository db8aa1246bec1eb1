"""The global random number generator: ``manual_seed`` makes every draw reproducible.

Every random draw in chainrule (``randn``, ``nn.init``, ``Dropout``, ``DataLoader`` shuffling)
comes from one ``numpy.random.Generator`` that ``manual_seed`` resets.
"""
from __future__ import annotations

from typing import Any

import numpy

_rng = numpy.random.default_rng(0)
_seed = 0


def manual_seed(seed: int) -> numpy.random.Generator:
    """Seed the global generator; the same seed gives the same draws.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0); a = cr.randn(2)
        >>> _ = cr.manual_seed(0); b = cr.randn(2)
        >>> a.tolist() == b.tolist()
        True
        >>> _ = cr.manual_seed(-1); cr.initial_seed() == 2 ** 64 - 1
        True
    """
    global _rng, _seed
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if not -2 ** 63 <= seed < 2 ** 64:
        raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64), got {seed}")
    _seed = int(seed) % 2 ** 64  # a negative seed wraps around, as in PyTorch
    _rng = numpy.random.default_rng(_seed)
    return _rng


def initial_seed() -> int:
    """The seed last given to ``manual_seed`` (0 by default)."""
    return _seed


def get_rng() -> numpy.random.Generator:
    """The global generator (for library code that draws random numbers)."""
    return _rng


def get_rng_state() -> dict[str, Any]:
    """The generator's state as a JSON-friendly dict (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _rng.bit_generator.state = state
