"""Atomic file writes: a reader sees the old file or the new one, never a torn one.

Every file chainrule writes (weights, checkpoints, metrics, plots, graph pictures, downloads,
benchmark results) goes through :func:`atomic_path`: the data goes to a temporary file in the
same folder (``.<name>.<12 random hex digits>.tmp``), which is flushed, fsynced and renamed over
the target with ``os.replace``; on any error the temporary file is removed and the target is
untouched.

The new file keeps the permissions of the file it replaces; a new file gets the usual ones
(``0o666`` less the umask, as ``open`` gives).

- :func:`write_atomic`: write bytes or text in one call.
- :func:`atomic_open`: a file object to write to (for writers that stream, such as
  matplotlib's ``savefig``).
- :func:`atomic_path`: the temporary path itself (for writers that take a path, such as a
  download), renamed into place when the block ends.

A process killed in the middle of a write (SIGKILL, a power cut) cannot remove its temporary
file; :func:`remove_stale_temps` removes such leftovers from a folder that no other process is
writing to (e.g. a training run's folder when the run starts or resumes).
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
import uuid
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

_TOKEN_DIGITS = 12
"""Hex digits of the random part of a temporary file's name (48 bits)."""
_TEMP_NAME = re.compile(rf"\.(?P<target>.+)\.[0-9a-f]{{{_TOKEN_DIGITS}}}\.tmp")
"""What :func:`_temp_name` makes, and the only names :func:`remove_stale_temps` removes."""


def _temp_name(name: str) -> str:
    """A fresh temporary name for the file ``name``: ``.<name>.<12 hex digits>.tmp``."""
    return f".{name}.{uuid.uuid4().hex[:_TOKEN_DIGITS]}.tmp"


def temp_target(name: str) -> Optional[str]:
    """The file that a temporary file named ``name`` was to become, or None if ``name`` is not
    a temporary name of :func:`atomic_path`.

    Example:
        >>> temp_target(".checkpoint.json.0123456789ab.tmp"), temp_target("notes.tmp")
        ('checkpoint.json', None)
    """
    match = _TEMP_NAME.fullmatch(name)
    return match["target"] if match else None


def remove_stale_temps(folder: PathLike, targets: Optional[Iterable[str]] = None) -> list[Path]:
    """Remove the temporary files that writes killed mid-way left in ``folder``.

    Only regular files named as :func:`atomic_path` names its temporary files
    (``.<name>.<12 hex digits>.tmp``) are removed, and with ``targets``, only those of the
    files named there; nothing else in the folder, and nothing in its subfolders, is touched.
    A temporary file of a write still in progress looks the same as a stale one, so call this
    only where no other process writes into ``folder``: a training run owns its folder, so its
    start (or resume) is such a place.

    Args:
        folder: the folder to clean; a folder that does not exist holds nothing to remove.
        targets: file names (not paths) whose leftovers to remove; None: every file's.

    Returns:
        The paths removed, sorted.

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for name in (".metrics.csv.0123456789ab.tmp", "notes.tmp", "metrics.csv"):
        ...         _ = open(os.path.join(d, name), "w").close()
        ...     [p.name for p in remove_stale_temps(d)], sorted(os.listdir(d))
        (['.metrics.csv.0123456789ab.tmp'], ['metrics.csv', 'notes.tmp'])
    """
    wanted = None if targets is None else set(targets)
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        target = temp_target(entry.name)
        if target is None or (wanted is not None and target not in wanted):
            continue
        try:
            if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # gone meanwhile, or not ours to remove: a clean-up never fails a run
            continue
    return sorted(removed)


def _create_temp(path: Path) -> Path:
    """Create an empty, unique temporary file (:func:`_temp_name`) beside ``path`` (mode
    0o666 - umask)."""
    while True:
        tmp = path.with_name(_temp_name(path.name))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        os.close(fd)
        return tmp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not possible on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path to fill inside the block; it replaces ``path`` when the block ends.

    On leaving the block normally, the temporary file is fsynced, given the permissions of the
    file it replaces (if any) and renamed over ``path`` with ``os.replace``. If the block (or
    the rename) raises, the temporary file is removed and ``path`` is left as it was.

    Args:
        path: the file to write; its folder must exist.

    Yields:
        The temporary file's path (the file exists, empty).

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with atomic_path(os.path.join(d, "a.txt")) as tmp:
        ...         _ = tmp.write_text("hello")
        ...     sorted(os.listdir(d))
        ['a.txt']
    """
    path = Path(path)
    tmp = _create_temp(path)
    try:
        yield tmp
        _fsync_file(tmp)
        with contextlib.suppress(FileNotFoundError):  # a new file keeps 0o666 - umask
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb", encoding: Optional[str] = None,
                newline: Optional[str] = None) -> Iterator[IO[Any]]:
    """Open ``path`` for writing, atomically: the file appears, complete, when the block ends.

    Args:
        path: the file to write; its folder must exist.
        mode: ``"wb"`` or ``"w"`` (text).
        encoding, newline: as for ``open``, in text mode (the encoding defaults to UTF-8).

    Yields:
        The file object, writing to a temporary file beside ``path`` (see :func:`atomic_path`).

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with atomic_open(os.path.join(d, "a.txt"), "w") as f:
        ...         _ = f.write("hello")
        ...     open(os.path.join(d, "a.txt")).read()
        'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding, newline=newline) as f:
        yield f


def write_atomic(path: PathLike, data: Union[bytes, str, Iterable[Any]]) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`).

    Args:
        path: the file to write; its folder must exist.
        data: bytes, a str (written as UTF-8, newlines unchanged), or an iterable of
            bytes-like objects written one after the other (e.g. a header and array buffers).

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_atomic(os.path.join(d, "a.bin"), [b"hello ", b"world"])
        ...     open(os.path.join(d, "a.bin"), "rb").read(), os.listdir(d)
        (b'hello world', ['a.bin'])
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    chunks = (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data
    with atomic_open(path, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
