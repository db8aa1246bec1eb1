"""Text for character-level language models: reading a UTF-8 file, the character vocabulary,
the train/test split and the dataset of blocks.

The default text is the King James Bible (public domain) of Debian's packages ``bible-kjv``
and ``bible-kjv-text`` (``bash scripts/get_text.sh`` installs them): the package keeps the text
compressed in its own format, so it is read through the package's program, ``bible``, one verse
per line with the references left out. Nothing is downloaded.

Example:
    >>> vocab = CharVocab.from_text("hello world")
    >>> vocab.chars
    [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']
    >>> vocab.decode(vocab.encode("hold"))
    'hold'
    >>> ds = CharBlocks(vocab.encode("hello world"), block_size=4)
    >>> x, y = ds[0]
    >>> vocab.decode(x), vocab.decode(y)
    ('hell', 'ello')
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_TEXT_NAME = "kjv"
"""How a run's checkpoint names the default text."""
DEFAULT_TEXT_PACKAGES = ("bible-kjv", "bible-kjv-text")
"""The Debian packages of the default text: the reader program and the compressed text."""
DEFAULT_TEXT_DATA = "/usr/lib/bible.data"
"""Where ``bible-kjv-text`` installs the compressed text."""
_KJV_RANGE = "Gen1:1-Rev22:21"
_KJV_REFERENCE = re.compile(r"^[1-3]?[A-Za-z]+\d+:\d+ ", re.MULTILINE)  # "1Co13:4 " -> ""


class TextDataError(ValueError):
    """A text that cannot be trained on: not UTF-8, empty, too short, or absent (the default
    text not installed). The message is one line naming the file and the rule."""


class UnknownCharactersError(ValueError):
    """A string holds characters the vocabulary does not have (``chars``: them, in order)."""

    def __init__(self, chars: Sequence[str], message: str) -> None:
        self.chars = list(chars)
        super().__init__(message)


# ============================================================================ reading text
def decode_text(data: bytes, label: str) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped).

    Raises:
        TextDataError: the bytes are not UTF-8, naming the first bad byte and its offset, or
            the text is empty.

    Example:
        >>> decode_text(b"caf\\xc3\\xa9", "t.txt")
        'café'
        >>> decode_text(b"caf\\xe9", "t.txt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chainrule.data.text.TextDataError: t.txt is not UTF-8 text: byte 0xe9 at offset 3 ...
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextDataError(f"{label} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                            f"{exc.start} cannot be decoded ({exc.reason}); convert it, e.g. "
                            f"`iconv -f latin1 -t utf-8`") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        raise TextDataError(f"{label} is empty: there is no text to train on")
    return text


def read_text_file(path: PathLike) -> str:
    """The whole of a UTF-8 text file.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: as ``open``.
        TextDataError: not UTF-8, or empty.
    """
    with open(path, "rb") as f:
        data = f.read()
    return decode_text(data, os.fspath(path))


def default_text_missing() -> Optional[str]:
    """Why the default text cannot be read (one line naming the packages), or None."""
    if shutil.which("bible") is None or not os.path.isfile(DEFAULT_TEXT_DATA):
        packages = " and ".join(DEFAULT_TEXT_PACKAGES)
        return (f"the default text, the King James Bible of the Debian packages {packages}, "
                f"is not installed: run `bash scripts/get_text.sh` (or `apt-get install "
                f"{DEFAULT_TEXT_PACKAGES[0]}`), or pass --text FILE")
    return None


def read_default_text() -> str:
    """The King James Bible, one verse per line (about 4.3 million characters), read from the
    Debian packages ``bible-kjv`` and ``bible-kjv-text`` through their program ``bible``.

    Raises:
        TextDataError: the packages are not installed, or the program failed.
    """
    missing = default_text_missing()
    if missing is not None:
        raise TextDataError(missing)
    folder = os.path.dirname(DEFAULT_TEXT_DATA)
    try:  # -f: one verse per line, each after its reference; -p: only the package's data
        done = subprocess.run(["bible", "-f", "-p", folder, _KJV_RANGE], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TextDataError(f"cannot read the default text with `bible` "
                            f"({DEFAULT_TEXT_PACKAGES[0]}): {exc}") from None
    if done.returncode != 0 or not done.stdout:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise TextDataError(f"cannot read the default text: `bible` exited with "
                            f"{done.returncode}" + (f": {why[-1]}" if why else ""))
    return _KJV_REFERENCE.sub("", decode_text(done.stdout, "the default text"))


def text_digest(text: str) -> str:
    """The SHA-256 of ``text`` in UTF-8 (a resumed run checks that its text is unchanged)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ============================================================================ the vocabulary
@dataclass(frozen=True)
class CharVocab:
    """The characters of a text, sorted by code point; a character's id is its index.

    Saved as JSON (``chars``: a list of one-character strings) with a run's checkpoint.

    Example:
        >>> v = CharVocab.from_text("abca")
        >>> v.encode("cab").tolist(), len(v)
        ([2, 0, 1], 3)
        >>> v.encode("abz")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chainrule.data.text.UnknownCharactersError: 'z' is not in the vocabulary ...
    """

    chars: list

    def __post_init__(self) -> None:
        chars = self.chars
        if not isinstance(chars, (list, tuple)) or not chars \
                or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("CharVocab: chars must be a non-empty list of one-character "
                             f"strings, got {str(chars)[:80]}")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocab: chars must not repeat a character")
        object.__setattr__(self, "chars", list(chars))
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(chars)})

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        """The vocabulary of every character in ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index  # type: ignore[attr-defined]

    def unknown(self, text: str) -> list[str]:
        """The characters of ``text`` not in the vocabulary, each once, in order of appearance."""
        index = self._index  # type: ignore[attr-defined]
        return list(dict.fromkeys(c for c in text if c not in index))

    def encode(self, text: str) -> np.ndarray:
        """``text`` as an int64 array of ids (len(text),).

        Raises:
            UnknownCharactersError: ``text`` holds characters not in the vocabulary.
        """
        bad = self.unknown(text)
        if bad:
            shown = ", ".join(map(repr, bad[:10])) + (", ..." if len(bad) > 10 else "")
            raise UnknownCharactersError(bad, f"{shown} {'is' if len(bad) == 1 else 'are'} not "
                                              f"in the vocabulary of {len(self)} characters")
        if len(text) > 100_000:  # a fast path for whole texts: a lookup table over code points
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            table = np.zeros(int(codes.max()) + 1, dtype=np.int64)
            table[[ord(c) for c in self.chars if ord(c) < table.size]] = \
                [i for i, c in enumerate(self.chars) if ord(c) < table.size]
            return table[codes]
        index = self._index  # type: ignore[attr-defined]
        return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Iterable[Any]) -> str:
        """The characters of ``ids`` (ints, an array or a 1-D Tensor)."""
        ids = np.asarray(getattr(ids, "numpy", lambda: ids)()).reshape(-1)
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> list:
        """The JSON form (the list of characters)."""
        return list(self.chars)

    @classmethod
    def from_json(cls, value: Any) -> "CharVocab":
        """The vocabulary :meth:`to_json` wrote; ``ValueError`` for anything else."""
        return cls(value)


# ============================================================================ splits and blocks
def min_text_length(block_size: int) -> int:
    """The fewest characters a text needs: one example (``block_size + 1`` characters) for
    training and one for testing.

    Example:
        >>> min_text_length(64)
        130
    """
    return 2 * (block_size + 1)


def split_ids(ids: np.ndarray, block_size: int, label: str = "the text") -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Split encoded text into (train, test): the last tenth (at least one example of
    ``block_size + 1`` characters) is the test split.

    Raises:
        TextDataError: the text is shorter than :func:`min_text_length`.

    Example:
        >>> train, test = split_ids(np.arange(100), block_size=4)
        >>> len(train), len(test)
        (90, 10)
    """
    n = int(len(ids))
    need = min_text_length(block_size)
    if n < need:
        raise TextDataError(f"{label} holds {n} characters, too few for block size {block_size}: "
                            f"training and testing need one block of {block_size + 1} "
                            f"characters each, {need} in all; use a longer text or a smaller "
                            "--block-size")
    n_test = max(block_size + 1, n // 10)
    return ids[:n - n_test], ids[n - n_test:]


class CharBlocks:
    """Blocks of encoded text for next-character prediction: item ``i`` is
    ``(ids[s:s+T], ids[s+1:s+T+1])`` for the ``i``-th start ``s``.

    Args:
        ids: the encoded text, int64 (L,).
        block_size: T, the characters per example.
        starts: the start offsets of the items (default: every offset, ``L - T`` items).

    Shape:
        An item is two int64 arrays (T,); ``get_batch`` gives (B, T) and (B, T).

    Example:
        >>> ds = CharBlocks(np.arange(10), 3, starts=[0, 5])
        >>> len(ds), ds.get_batch(np.array([1]))[1].tolist()
        (2, [[6, 7, 8]])
    """

    def __init__(self, ids: Any, block_size: int, starts: Optional[Sequence[int]] = None) -> None:
        self.ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self.block_size = int(block_size)
        if self.block_size < 1:
            raise ValueError(f"CharBlocks: block_size must be >= 1, got {block_size}")
        last = len(self.ids) - self.block_size  # starts must be < last, to have a target
        if last < 1:
            raise ValueError(f"CharBlocks: {len(self.ids)} ids hold no block of "
                             f"{self.block_size} + 1")
        self.starts = np.arange(last, dtype=np.int64) if starts is None \
            else np.asarray(starts, dtype=np.int64).reshape(-1)
        if self.starts.size and (self.starts.min() < 0 or self.starts.max() >= last):
            raise ValueError(f"CharBlocks: starts must be in [0, {last})")
        self._offsets = np.arange(self.block_size + 1, dtype=np.int64)  # (T + 1,)

    @classmethod
    def evenly_spaced(cls, ids: Any, block_size: int, count: int) -> "CharBlocks":
        """At most ``count`` non-overlapping blocks spread over ``ids`` (for testing)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        last = len(ids) - block_size
        fit = max(1, last // block_size)  # non-overlapping starts 0, T, 2T, ...
        starts = np.arange(fit, dtype=np.int64) * block_size
        if fit > count:
            starts = starts[np.linspace(0, fit - 1, count).round().astype(np.int64)]
        return cls(ids, block_size, starts)

    def __len__(self) -> int:
        return int(self.starts.size)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Items ``indices`` stacked: inputs (B, T) and targets (B, T), int64."""
        rows = self.ids[self.starts[np.asarray(indices, dtype=np.int64)][:, None]
                        + self._offsets]  # (B, T + 1)
        return rows[:, :-1], rows[:, 1:]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} blocks")
        x, y = self.get_batch(np.array([index % n]))
        return x[0], y[0]
