"""Random numbers as PyTorch's: ``Generator`` objects and the default one ``manual_seed`` resets.

Every random draw in chainrule (``randn``, ``nn.init``, ``Dropout``, ``DataLoader`` shuffling,
``random_split``) goes through one of a :class:`Generator`'s *draws* (``_normal``,
``_uniform``, ``_integers``, ``_permutation``, ``_bernoulli``): the one place that turns a
stream into numbers. A function that takes ``generator=`` uses that one, else
:data:`default_generator`. A process starts from a fresh random seed, as PyTorch's does;
``manual_seed(s)`` makes every later draw reproducible.

One difference from PyTorch: a generator's state (:meth:`Generator.get_state`,
:func:`get_rng_state`) is a JSON-friendly dict (NumPy's PCG64 words), not a uint8 tensor; it
goes back through ``set_state`` / ``set_rng_state`` and into checkpoints the same way.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, Optional

import numpy

from .device import check_device


def _check_seed(seed: Any, op: str) -> int:
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, (bool, numpy.bool_)):
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
    if not -2 ** 63 <= seed < 2 ** 64:
        raise ValueError(f"{op}: seed must be in [-2**63, 2**64), got {seed}")
    return int(seed) % 2 ** 64  # a negative seed wraps around, as in PyTorch


def _entropy_seed() -> int:
    """A fresh seed from the operating system (63 bits, as PyTorch's nondeterministic seeds)."""
    return int.from_bytes(os.urandom(8), "little") >> 1


class Generator:
    """A stream of random numbers (NumPy's PCG64), seeded like ``torch.Generator``.

    A new generator starts from a random seed; ``manual_seed`` restarts it from a given one.
    Pass it as ``generator=`` to ``rand``, ``randn``, ``randint``, ``randperm``, ``normal``,
    ``bernoulli``, ``multinomial``, ``Tensor.uniform_``, ... to draw from it alone.

    Args:
        device: only the CPU (``"cpu"``, ``device("cpu")``); others raise RuntimeError.

    Example:
        >>> import chainrule as cr
        >>> g = cr.Generator().manual_seed(7)
        >>> a = cr.randn(3, generator=g)
        >>> b = cr.randn(3, generator=cr.Generator().manual_seed(7))
        >>> a.tolist() == b.tolist(), g.initial_seed(), g.device
        (True, 7, device(type='cpu'))
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = check_device(device, "Generator")
        self.manual_seed(_entropy_seed())

    # ------------------------------------------------------------------ seeding
    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed`` (an int in [-2**63, 2**64)); returns the generator.

        Example:
            >>> import chainrule as cr
            >>> g = cr.Generator()
            >>> g.manual_seed(3).initial_seed(), g.manual_seed(-1).initial_seed() == 2 ** 64 - 1
            (3, True)
        """
        self._seed = _check_seed(seed, "manual_seed")
        self._rng = numpy.random.Generator(numpy.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed.

        Example:
            >>> import chainrule as cr
            >>> g = cr.Generator(); s = g.seed(); s == g.initial_seed()
            True
        """
        return self.manual_seed(_entropy_seed())._seed

    def initial_seed(self) -> int:
        """The seed the stream last started from.

        Example:
            >>> import chainrule as cr
            >>> cr.Generator().manual_seed(5).initial_seed()
            5
        """
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The stream's position and seed: a JSON-friendly dict (PyTorch: a uint8 tensor).

        Example:
            >>> import chainrule as cr
            >>> g = cr.Generator().manual_seed(0); state = g.get_state()
            >>> a = cr.rand(2, generator=g)
            >>> cr.rand(2, generator=g.set_state(state)).tolist() == a.tolist()
            True
        """
        return {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, new_state: dict[str, Any]) -> "Generator":
        """Go back to a state from :meth:`get_state` (or :func:`get_rng_state`); returns self.

        Raises:
            TypeError: not such a state.
        """
        position = new_state.get("bit_generator") if isinstance(new_state, dict) else None
        if isinstance(position, str):  # a bare PCG64 state, as get_rng_state returns
            position, seed = new_state, self._seed
        elif isinstance(position, dict):
            seed = new_state.get("seed", self._seed)
        else:
            raise TypeError(f"set_state: expected a state returned by Generator.get_state() or "
                            f"get_rng_state(), got {type(new_state).__name__}")
        self._rng.bit_generator.state = position
        self._seed = _check_seed(seed, "set_state")
        return self

    @property
    def bit_generator(self) -> numpy.random.BitGenerator:
        """NumPy's PCG64 behind the stream (its ``state`` is :func:`get_rng_state`'s form);
        for checkpoint code that validates a saved state before restoring it.

        Example:
            >>> import chainrule as cr
            >>> g = cr.Generator(); g.bit_generator.state == g.get_state()["bit_generator"]
            True
        """
        return self._rng.bit_generator

    def clone_state(self) -> "Generator":
        """A new generator at this one's position (the two then draw the same numbers).

        Example:
            >>> import chainrule as cr
            >>> g = cr.Generator(); h = g.clone_state()
            >>> cr.rand(2, generator=g).tolist() == cr.rand(2, generator=h).tolist()
            True
        """
        return Generator(self.device).set_state(self.get_state())

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
    """``generator``, or the default one when None (checks the type, naming ``op``).

    Example:
        >>> import chainrule as cr
        >>> cr.random.resolve(None) is cr.default_generator
        True
        >>> cr.random.resolve(0, "randn")
        Traceback (most recent call last):
        ...
        TypeError: randn: generator must be a chainrule.Generator, got int
    """
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
    """Seed the default generator from the operating system's entropy; returns the seed.

    Example:
        >>> import chainrule as cr
        >>> s = cr.seed(); s == cr.initial_seed()
        True
    """
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator last started from (random in a new process).

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(11); cr.initial_seed()
        11
    """
    return default_generator.initial_seed()


def get_rng() -> Generator:
    """The default generator (for library code that draws random numbers).

    Example:
        >>> import chainrule as cr
        >>> cr.random.get_rng() is cr.default_generator
        True
    """
    return default_generator


def get_rng_state() -> dict[str, Any]:
    """The default generator's position: NumPy's PCG64 state dict (PyTorch: a uint8 tensor).

    Example:
        >>> import chainrule as cr
        >>> state = cr.get_rng_state(); a = cr.randn(2)
        >>> cr.set_rng_state(state); cr.randn(2).tolist() == a.tolist()
        True
    """
    return default_generator._rng.bit_generator.state


def set_rng_state(new_state: dict[str, Any]) -> None:
    """Restore a state from :func:`get_rng_state` (or from ``Generator.get_state()``)."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, **kwargs: Any) -> Iterator[None]:
    """A block whose draws leave the default generator where it was (``torch.random.fork_rng``).

    Args:
        devices: accelerator devices to fork too: chainrule has none, so only [] or None.
        enabled: False makes the block a no-op.

    Example:
        >>> import chainrule as cr
        >>> state = cr.get_rng_state()
        >>> with cr.random.fork_rng():
        ...     _ = cr.manual_seed(0); _ = cr.randn(3)
        >>> cr.get_rng_state() == state
        True
    """
    unknown = set(kwargs) - {"device_type", "_caller", "_devices_kw"}
    if unknown:
        raise TypeError(f"fork_rng() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    for dev in devices or ():
        check_device(dev, "fork_rng")
    if not enabled:
        yield
        return
    saved = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(saved)
