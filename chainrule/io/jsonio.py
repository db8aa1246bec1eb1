"""Strict JSON: the one parser of the JSON that chainrule reads back (safetensors headers,
checkpoint JSON files).

Python's ``json`` module accepts more than JSON: the tokens ``NaN``, ``Infinity`` and
``-Infinity``, a number such as ``1e999`` that becomes ``inf``, an object naming a key twice (the
last one wins), and integers of any length (one of 5,000 digits then fails inside ``int()`` with
a bare ``ValueError``). Every file chainrule writes holds finite numbers, distinct keys and
integers of at most :data:`MAX_INT_DIGITS` digits, so :func:`parse_json` refuses all of these
with a :class:`~chainrule.io.errors.CheckpointError` that names the file and the value, and the
writers refuse to write them (:func:`int_fits`).
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, NoReturn

from .errors import CheckpointError

MAX_INT_DIGITS = 100
"""Most decimal digits of an integer in a JSON file chainrule writes or reads (a 128-bit
generator state has 39; Python itself refuses to parse more than 4,300)."""
_SHOWN = 40
"""Characters of an offending number quoted in an error message."""


def int_fits(value: int) -> bool:
    """Whether ``value`` has at most :data:`MAX_INT_DIGITS` decimal digits.

    Example:
        >>> int_fits(2 ** 128), int_fits(-10 ** MAX_INT_DIGITS)
        (True, False)
    """
    return abs(value) < 10 ** MAX_INT_DIGITS


def _quote(literal: str) -> str:
    return literal if len(literal) <= _SHOWN else literal[:_SHOWN] + "..."


def parse_json(text: str, where: str) -> Any:
    """Parse JSON text strictly: what Python's ``json`` lets through but JSON forbids is refused.

    Args:
        text: the JSON text.
        where: what holds the text, the subject of the error messages (e.g.
            ``"load_file: w.safetensors: the header"``).

    Returns:
        The parsed value (objects as dicts).

    Raises:
        CheckpointError: ``f"{where} holds NaN, ..."``: a ``NaN``, ``Infinity`` or
            ``-Infinity`` token, a number beyond float's range (``1e999``), an integer of more
            than :data:`MAX_INT_DIGITS` digits, a key named twice in one object, or nesting too
            deep to parse.
        json.JSONDecodeError: the text is not JSON at all (the caller says what it expected).

    Example:
        >>> parse_json('{"lr": 0.1, "steps": [1, 2]}', "run.json")
        {'lr': 0.1, 'steps': [1, 2]}
        >>> parse_json('{"loss": NaN}', "run.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chainrule.io.errors.CheckpointError: run.json holds NaN, which is not a JSON number ...
    """
    def fail(message: str) -> NoReturn:
        raise CheckpointError(f"{where} {message}")

    def constant(token: str) -> NoReturn:
        fail(f"holds {token}, which is not a JSON number (JSON numbers are finite)")

    def integer(literal: str) -> int:
        digits = len(literal.lstrip("-"))
        if digits > MAX_INT_DIGITS:
            fail(f"holds an integer of {digits} digits ({_quote(literal)}), over the limit of "
                 f"{MAX_INT_DIGITS} digits")
        return int(literal)

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            fail(f"holds the number {_quote(literal)}, beyond the range of a float")
        return value

    def distinct(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                fail(f"names {key!r} twice in one object")
            out[key] = value
        return out

    hooks: dict[str, Callable[..., Any]] = {"parse_constant": constant, "parse_int": integer,
                                            "parse_float": number, "object_pairs_hook": distinct}
    try:
        return json.loads(text, **hooks)
    except RecursionError:
        fail("is nested too deeply to parse")
