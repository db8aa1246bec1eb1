"""The ``chainrule`` command (top floor: nothing imports it). See ``chainrule --help``.

Exit codes shared by the subcommands:

==  ================================================================
0   success
1   a runtime error: corrupt or incompatible checkpoint, corrupt data
2   bad arguments (argparse's usage message)
3   training stopped because the loss became NaN or inf
130 interrupted (Ctrl-C)
==  ================================================================

This module also holds the small helpers every subcommand uses: argument types that reject
bad values with a usage message (exit 2) instead of a traceback.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NONFINITE = 3
EXIT_INTERRUPTED = 130


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") \
            from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1.

    Example:
        >>> positive_int("64")
        64
    """
    return _int_at_least(text, 1)


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0.

    Example:
        >>> positive_float("0.05")
        0.05
    """
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1) (momentum, dropout)."""
    value = _finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def existing_dir(text: str) -> str:
    """argparse type: a folder that exists."""
    if not os.path.isdir(text):
        what = "is not a folder" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"data folder {text!r} {what}")
    return text


def error(message: str) -> None:
    """Print ``chainrule: error: message`` to stderr (for exit codes other than 2)."""
    print(f"chainrule: error: {message}", file=sys.stderr, flush=True)


def usage_error(args: Any, message: str) -> None:
    """Exit with code 2 and the subcommand's usage line, like argparse's own errors."""
    parser = getattr(args, "_parser", None)
    if parser is None:  # pragma: no cover - always set by main
        error(message)
        raise SystemExit(EXIT_USAGE)
    parser.error(message)
