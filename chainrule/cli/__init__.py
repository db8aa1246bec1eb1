"""The ``chainrule`` command (top floor: nothing imports it). See ``chainrule --help``.

Exit codes shared by the subcommands:

==  ================================================================
0   success
1   a runtime error: corrupt or incompatible checkpoint, corrupt or empty data, a failed
    download, an output folder that cannot be written, a full disk
2   bad arguments (argparse's usage message)
3   training stopped because the loss became NaN or inf
130 interrupted (Ctrl-C)
==  ================================================================

This module also holds the small helpers every subcommand uses: argument types that reject
bad values with a usage message (exit 2) instead of a traceback, the checks of an output
folder, and the one-line wording of a failed write or a dataset that is not found.
"""
from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import tempfile
from typing import Any, Callable, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

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


def int_below(minimum: int, bound: int, bound_text: str) -> Callable[[str], int]:
    """argparse type: an integer in ``[minimum, bound)``; ``bound_text`` is how messages write
    the bound.

    Example:
        >>> int_below(0, 2 ** 64, "2**64")("7")
        7
    """
    def parse(text: str) -> int:
        value = _int_at_least(text, minimum)
        if value >= bound:
            raise argparse.ArgumentTypeError(f"must be < {bound_text}, got {value}")
        return value

    return parse


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


def folder_problem(folder: PathLike) -> Optional[str]:
    """Why ``folder`` can never be a folder to write into, judged from what exists, or None.

    The nearest part of the path that exists must be a folder: ``"is not a folder"`` when the
    path itself is a file, ``"is inside F, a file"`` when a part of it is. Whether the folder
    can be created and written is only known by trying (see :func:`make_writable_folder`).

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     folder_problem(os.path.join(f.name, "run")).startswith("is inside ")
        True
        >>> folder_problem("/no/such/place") is None
        True
    """
    path = os.path.normpath(os.fspath(folder) or ".")
    part = path
    while not os.path.lexists(part) and os.path.dirname(part) != part:
        part = os.path.dirname(part) or "."  # "a/b" -> "a" -> "."
    if os.path.isdir(part):
        return None
    return "is not a folder" if part == path else f"is inside {part}, a file"


def file_problem(path: PathLike) -> Optional[str]:
    """Why a file can never be written at ``path``, judged from what exists, or None: the path
    is a folder, or a part of it is a file (an existing file is fine: it is replaced).

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     file_problem(d), file_problem(os.path.join(d, "cm.png"))
        ('is a folder', None)
    """
    if os.path.isdir(path):
        return "is a folder"
    if os.path.lexists(path):
        return None
    return folder_problem(path)  # the path is absent: only a part of it can be a file


def make_writable_folder(folder: PathLike) -> None:
    """Create ``folder`` (and its parents) if needed and check that a file can be created in
    it, so that a command fails before its work rather than when it saves the result.

    The probe is an anonymous temporary file: nothing is left behind, even after a kill.

    Raises:
        OSError: the folder cannot be created or written (see :func:`os_error_reason`).
    """
    os.makedirs(os.fspath(folder) or ".", exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


_ERRNO_HINTS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded"}


def os_error_reason(exc: OSError) -> str:
    """What went wrong, from an ``OSError``, without the file name it carries (often that of a
    temporary file the reader never asked for): ``"No space left on device (the disk is
    full)"``.

    Example:
        >>> os_error_reason(OSError(errno.ENOSPC, "No space left on device", ".x.1f.tmp"))
        'No space left on device (the disk is full)'
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _ERRNO_HINTS.get(exc.errno) if isinstance(exc.errno, int) else None
    return f"{reason} ({hint})" if hint else reason


def missing_data(args: Any, exc: Any) -> int:
    """Report a ``chainrule.data.DatasetNotFoundError`` in the command line's words.

    When no download was tried, the user can fix it with options: a usage error (exit 2)
    naming the folders searched and suggesting ``--data`` or ``--download``. When a download
    was tried and failed, an error (exit 1) saying where it looked, what it downloaded from
    and to, and why that failed.

    Returns:
        The exit code (1); exits with code 2 itself for a usage error.
    """
    files = " and ".join(exc.files) or "the dataset files"
    where = " or ".join(str(folder) for folder, _ in exc.searched) or "any folder"
    found = f"{exc.dataset}: dataset files not found: {files} (or their uncompressed " \
            f"files) are not in {where}"
    if exc.download_error is None:
        usage_error(args, f"{found}; pass --data DIR (a folder holding them), or --download "
                          "to fetch them")
    error(f"{found}, and downloading them from {exc.url} into {exc.target} failed: "
          f"{exc.download_error}; check the network connection and that {exc.target} is "
          "writable, or put the four IDX files in a folder and pass --data DIR")
    return EXIT_ERROR


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
