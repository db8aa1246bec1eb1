"""Small synthetic datasets for first experiments: logic gates, Gaussian blobs, spirals.

Everything is deterministic given ``seed`` and comes out float32 (inputs) and int64 (class
labels), ready for :class:`~chainrule.data.datasets.TensorDataset`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

_GATES = {
    "AND": [0, 0, 0, 1],
    "OR": [0, 1, 1, 1],
    "XOR": [0, 1, 1, 0],
    "NAND": [1, 1, 1, 0],
}


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a two-input logic gate.

    Args:
        name: ``"AND"``, ``"OR"``, ``"XOR"`` or ``"NAND"`` (any case).

    Shape:
        inputs ``(4, 2)`` float32, rows (0,0), (0,1), (1,0), (1,1); targets ``(4, 1)`` float32.

    Example:
        >>> x, y = logic_gate("xor")
        >>> x.tolist(), y.ravel().tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0.0, 1.0, 1.0, 0.0])
    """
    if not isinstance(name, str) or name.upper() not in _GATES:
        raise ValueError(f"logic_gate: unknown gate {name!r}; expected one of {sorted(_GATES)}")
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    targets = np.array(_GATES[name.upper()], dtype=np.float32).reshape(4, 1)
    return inputs, targets


def _check_count(fn: str, name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum}, got {value!r}")


def blobs(n_per_class: int = 100,
          centers: Sequence[Sequence[float]] = ((-2.0, -2.0), (2.0, 2.0)),
          std: float = 0.7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic 2-D Gaussian clusters, one class per center.

    Args:
        n_per_class: points drawn around each center.
        centers: one ``(x, y)`` per class.
        std: standard deviation of every cluster (>= 0).
        seed: seed of the NumPy generator.

    Shape:
        X ``(N, 2)`` float32 and y ``(N,)`` int64 with ``N = n_per_class * len(centers)``,
        grouped by class (class 0 first).

    Example:
        >>> X, y = blobs(n_per_class=3, seed=0)
        >>> X.shape, X.dtype, y.tolist()
        ((6, 2), dtype('float32'), [0, 0, 0, 1, 1, 1])
    """
    _check_count("blobs", "n_per_class", n_per_class, 1)
    c = np.asarray(centers, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 2 or c.shape[0] < 1:
        raise ValueError(f"blobs: centers must be a list of (x, y) pairs, got shape {c.shape}")
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"blobs: std must be finite and >= 0, got {std!r}")
    rng = np.random.default_rng(seed)
    k = c.shape[0]
    X = np.repeat(c, n_per_class, axis=0) + std * rng.standard_normal((k * n_per_class, 2))
    y = np.repeat(np.arange(k, dtype=np.int64), n_per_class)
    return X.astype(np.float32), y


def spirals(n_per_class: int = 100, n_classes: int = 2, noise: float = 0.2,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one class per arm: a problem no linear model solves.

    Arm ``k`` has points at radius ``r`` in ``[0, 1]`` and angle
    ``3*pi*r + 2*pi*k/n_classes + noise * N(0, 1)`` (so ``noise`` jitters the angle, in radians).

    Args:
        n_per_class: points per arm.
        n_classes: number of arms (>= 1).
        noise: standard deviation of the angle jitter (>= 0).
        seed: seed of the NumPy generator.

    Shape:
        X ``(N, 2)`` float32 within the unit disc and y ``(N,)`` int64, ``N = n_per_class *
        n_classes``, grouped by class.

    Example:
        >>> X, y = spirals(n_per_class=50, n_classes=3)
        >>> X.shape, int(y.max()), bool((X ** 2).sum(1).max() <= 1.0 + 1e-6)
        ((150, 2), 2, True)
    """
    _check_count("spirals", "n_per_class", n_per_class, 1)
    _check_count("spirals", "n_classes", n_classes, 1)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"spirals: noise must be finite and >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    k = np.repeat(np.arange(n_classes), n_per_class)
    theta = 3.0 * np.pi * r + 2.0 * np.pi * k / n_classes + noise * rng.standard_normal(r.shape)
    X = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return X.astype(np.float32), k.astype(np.int64)
