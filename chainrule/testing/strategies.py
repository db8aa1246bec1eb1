"""Hypothesis strategies for op tests: shapes that broadcast, size-1 axes, 0-d, transposes.

Imported explicitly by tests (``hypothesis`` is a test-only dependency).
"""
from __future__ import annotations

from typing import Any

import numpy
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> Any:
    """Shapes including 0-d and size-1 axes."""
    return array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def broadcast_pairs(max_dims: int = 3, max_side: int = 4) -> Any:
    """Pairs of shapes that broadcast together (including scalars and size-1 axes)."""
    return mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims,
                                         max_side=max_side).map(lambda s: s.input_shapes)


@st.composite
def arrays(draw: Any, shape: Any, low: float = -2.0, high: float = 2.0,
           transposed: Any = None, dtype: Any = numpy.float64) -> numpy.ndarray:
    """A float array of ``shape``; sometimes a non-contiguous transposed view of one."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = numpy.random.default_rng(seed)
    if transposed is None:
        transposed = draw(st.booleans()) if len(shape) >= 2 else False
    if transposed and len(shape) >= 2:
        base = rng.uniform(low, high, size=tuple(reversed(shape))).astype(dtype)
        return base.transpose(tuple(reversed(range(len(shape)))))  # (…reversed) -> shape
    return rng.uniform(low, high, size=shape).astype(dtype)


def away_from(x: numpy.ndarray, points: tuple = (0.0,), margin: float = 0.05) -> numpy.ndarray:
    """Nudge values away from kinks (|x - p| >= margin), so finite differences are valid."""
    x = x.copy()
    for p in points:
        near = numpy.abs(x - p) < margin
        x[near] = p + numpy.where(x[near] >= p, margin, -margin) * 2
    return x
