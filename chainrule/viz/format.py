"""Value and summary formatting shared by graph pictures, trace tables and the CLI.

Small tensors (at most ``max_elems`` elements) are shown by their numbers, larger ones by a
summary (mean, std, min, max), so a table row stays readable whatever the tensor's size.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy

MAX_ELEMS = 6
"""Tensors with at most this many elements are shown by their values."""

PRECISION = 4
"""Significant digits of every formatted number."""


def _array(x: Any) -> numpy.ndarray:
    """The ndarray behind a Tensor, an array or a number."""
    data = getattr(x, "_data", x)
    return numpy.asarray(data)


def format_number(v: Any, precision: int = PRECISION) -> str:
    """Format one number with ``precision`` significant digits, dropping trailing zeros.

    Args:
        v: a Python or NumPy number (bool, int or float).
        precision: significant digits for floats.

    Returns:
        The text, e.g. ``'715'`` for 715.0000305 (a float32 round-off) and ``'2.2'``.

    Example:
        >>> format_number(715.0000305), format_number(2.2000000477), format_number(3)
        ('715', '2.2', '3')
        >>> format_number(float("nan")), format_number(1.5e-7)
        ('nan', '1.5e-07')
    """
    if isinstance(v, (bool, numpy.bool_)):
        return str(bool(v))
    if isinstance(v, (int, numpy.integer)):
        return str(int(v))
    f = float(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    text = f"{f:.{precision}g}"
    return "0" if text == "-0" else text


def format_shape(shape: Sequence[int]) -> str:
    """Format a shape as a tuple, ``()`` for a scalar.

    Args:
        shape: the dimensions.

    Returns:
        ``'(2, 3)'``, ``'(5,)'`` or ``'()'``.

    Example:
        >>> format_shape((2, 3)), format_shape((5,)), format_shape(())
        ('(2, 3)', '(5,)', '()')
    """
    return str(tuple(int(s) for s in shape))


def format_dtype(dtype: Any) -> str:
    """The short name of a dtype (``'float32'``).

    Args:
        dtype: a NumPy dtype or anything ``numpy.dtype`` accepts.

    Returns:
        The dtype's name.

    Example:
        >>> import numpy as np
        >>> format_dtype(np.float32)
        'float32'
    """
    return str(numpy.dtype(dtype))  # str() is much faster than .name for plain dtypes


def summarize(x: Any) -> dict[str, float]:
    """Summary statistics of a tensor or array: mean, std, min and max (as floats).

    Args:
        x: a Tensor, an ndarray or a number.

    Returns:
        ``{"mean": ..., "std": ..., "min": ..., "max": ...}``; empty for an empty array.

    Example:
        >>> summarize([1.0, 2.0, 3.0])["mean"], summarize([1.0, 3.0])["std"]
        (2.0, 1.0)
    """
    a = _array(x)
    if a.size == 0:
        return {}
    a = a.astype(numpy.float64, copy=False)
    with numpy.errstate(all="ignore"):
        return {"mean": float(a.mean()), "std": float(a.std()),
                "min": float(a.min()), "max": float(a.max())}


def format_summary(stats: dict[str, float], precision: int = PRECISION) -> str:
    """Format the output of :func:`summarize` on one line.

    Args:
        stats: a dict with mean, std, min and max.
        precision: significant digits.

    Returns:
        ``'mean=0.5 std=0.5 min=0 max=1'`` (``'empty'`` for an empty dict).

    Example:
        >>> format_summary(summarize([0.0, 1.0]))
        'mean=0.5 std=0.5 min=0 max=1'
    """
    if not stats:
        return "empty"
    return " ".join(f"{k}={format_number(stats[k], precision)}"
                    for k in ("mean", "std", "min", "max"))


def _nested(a: numpy.ndarray, precision: int) -> str:
    if a.ndim == 0:
        return format_number(a.item(), precision)
    return "[" + ", ".join(_nested(sub, precision) for sub in a) + "]"


def format_value(x: Any, max_elems: int = MAX_ELEMS, precision: int = PRECISION,
                 with_shape: bool = True) -> str:
    """Format a tensor's numbers when small, else its shape and summary.

    Args:
        x: a Tensor, an ndarray, a number or None.
        max_elems: tensors with at most this many elements are shown in full.
        precision: significant digits.
        with_shape: prefix summaries with the shape (values show their shape by nesting).

    Returns:
        ``'715'``, ``'[1, 2]'``, ``'(10, 10) mean=... std=... min=... max=...'`` or ``'-'``
        for None.

    Example:
        >>> import numpy as np
        >>> format_value(np.float32(715.0000305)), format_value(np.array([[1.5, 2.0]]))
        ('715', '[[1.5, 2]]')
        >>> format_value(np.arange(10.0))
        '(10,) mean=4.5 std=2.872 min=0 max=9'
    """
    if x is None:
        return "-"
    a = _array(x)
    if a.size <= max_elems:
        return _nested(a, precision) if a.size else f"{format_shape(a.shape)} empty"
    text = format_summary(summarize(a), precision)
    return f"{format_shape(a.shape)} {text}" if with_shape else text


def jsonable_value(x: Any, max_elems: int = MAX_ELEMS) -> dict[str, Any]:
    """Describe a tensor's numbers for JSON: ``{"value": nested list}`` or ``{"summary": ...}``.

    Non-finite numbers become the strings ``"nan"``, ``"inf"`` and ``"-inf"``, so the result
    is strict JSON (``json.dumps(..., allow_nan=False)`` accepts it).

    Args:
        x: a Tensor, an ndarray or a number.
        max_elems: tensors with at most this many elements keep their values.

    Returns:
        A dict with either ``"value"`` or ``"summary"``.

    Example:
        >>> jsonable_value([1.0, float("inf")])
        {'value': [1.0, 'inf']}
    """
    a = _array(x)
    if a.size <= max_elems:
        return {"value": _json_numbers(a.tolist())}
    return {"summary": {k: _json_numbers(v) for k, v in summarize(a).items()}}


def _json_numbers(v: Any) -> Any:
    if isinstance(v, list):
        return [_json_numbers(u) for u in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def truncate(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, ending with ``...`` when cut.

    Args:
        text: the text.
        width: the maximum length (at least 4).

    Returns:
        The text, shortened if needed.

    Example:
        >>> truncate("abcdefgh", 6)
        'abc...'
    """
    if width < 4:
        raise ValueError(f"truncate: width must be at least 4, got {width}")
    return text if len(text) <= width else text[:width - 3] + "..."
