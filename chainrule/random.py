"""Random numbers as PyTorch's: ``Generator`` objects and the default one ``manual_seed`` resets.

Every random draw in chainrule (``randn``, ``nn.init``, ``Dropout``, ``DataLoader`` shuffling,
``random_split``) goes through one of a :class:`Generator`'s *draws* (``_normal``,
``_uniform``, ``_integers``, ``_permutation``, ``_bernoulli``): the one place that turns a
stream into numbers. A function that takes ``generator=`` uses that one, else
:data:`default_generator`. A process starts from a fresh random seed, as PyTorch's does;
``manual_seed(s)`` makes every later draw reproducible.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import numpy


def _check_seed(seed: Any, op: str) -> int:
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, (bool, numpy.bool_)):
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
    if not -2 ** 63 <= seed < 2 ** 64:
        raise ValueError(f"{op}: seed must be in [-2**63, 2**64), got {seed}")
    return int(seed) % 2 ** 64  # a negative seed wraps around, as in PyTorch


class Generator:
    """A stream of random numbers (NumPy's PCG64), seeded like ``torch.Generator``.

    Args:
        device: only ``"cpu"`` (accepted for PyTorch's signature).

    Example:
        >>> import chainrule as cr
        >>> g = cr.Generator().manual_seed(7)
        >>> a = g._normal((3,), "float32")
        >>> b = cr.Generator().manual_seed(7)._normal((3,), "float32")
        >>> a.tolist() == b.tolist(), g.initial_seed()
        (True, 7)
    """

    def __init__(self, device: Any = "cpu") -> None:
        if str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"Generator: only the 'cpu' device is supported, got {device!r}")
        self.device = "cpu"
        self.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)

    # ------------------------------------------------------------------ seeding
    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns the generator."""
        self._seed = _check_seed(seed, "manual_seed")
        self._rng = numpy.random.Generator(numpy.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        return self._seed

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The stream's position, a JSON-friendly dict (for checkpoints)."""
        return {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> "Generator":
        """Go back to a position returned by :meth:`get_state`."""
        if not isinstance(state, dict) or "bit_generator" not in state:
            raise TypeError("set_state: expected a state returned by Generator.get_state()")
        self._rng.bit_generator.state = state["bit_generator"]
        self._seed = int(state.get("seed", self._seed))
        return self

    # ------------------------------------------------------------------ the draws
    # Every random number in chainrule comes from these five methods (ndarrays out).
    def _normal(self, shape: tuple, dtype: Any) -> numpy.ndarray:
        """Standard normal samples."""
        dt = numpy.dtype(dtype)
        out = self._rng.standard_normal(shape, dtype=dt if dt.itemsize >= 4 else numpy.float64)
        return out.astype(dt, copy=False)

    def _uniform(self, shape: tuple, dtype: Any) -> numpy.ndarray:
        """Uniform samples in [0, 1)."""
        dt = numpy.dtype(dtype)
        out = self._rng.random(shape, dtype=dt if dt.itemsize >= 4 else numpy.float64)
        return out.astype(dt, copy=False)

    def _integers(self, low: int, high: int, shape: tuple) -> numpy.ndarray:
        """Integers uniform in [low, high), int64."""
        return self._rng.integers(low, high, size=shape, dtype=numpy.int64)

    def _permutation(self, n: int) -> numpy.ndarray:
        """A random permutation of 0..n-1, int64."""
        return self._rng.permutation(n).astype(numpy.int64, copy=False)

    def _bernoulli(self, p: Any, shape: tuple) -> numpy.ndarray:
        """Booleans, True with probability ``p`` (a number or an array broadcast to shape)."""
        return self._rng.random(shape) < p


default_generator = Generator()
"""The generator every draw uses when no ``generator=`` is given."""


def resolve(generator: Optional[Generator], op: str = "random") -> Generator:
    """``generator``, or the default one when None (checks the type)."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a chainrule.Generator, got "
                        f"{type(generator).__name__}")
    return generator


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; the same seed gives the same draws. Returns it.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0); a = cr.randn(2)
        >>> _ = cr.manual_seed(0); b = cr.randn(2)
        >>> a.tolist() == b.tolist()
        True
        >>> _ = cr.manual_seed(-1); cr.initial_seed() == 2 ** 64 - 1
        True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator last started from (random in a new process)."""
    return default_generator.initial_seed()


def get_rng() -> Generator:
    """The default generator (for library code that draws random numbers)."""
    return default_generator


def get_rng_state() -> dict[str, Any]:
    """The default generator's state as a JSON-friendly dict (for checkpoints)."""
    return default_generator._rng.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    default_generator._rng.bit_generator.state = state
