"""Classification metrics and the ``metrics.csv`` of a run (written atomically)."""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ..io.files import write_atomic

PathLike = Union[str, "os.PathLike[str]"]

METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                 "images_per_second")
"""Columns of ``metrics.csv``; accuracies are fractions in [0, 1]."""


def confusion_matrix(targets: Any, predictions: Any, num_classes: int) -> np.ndarray:
    """Count ``(true class, predicted class)`` pairs.

    Args:
        targets: true labels, ints in ``[0, num_classes)``.
        predictions: predicted labels, same length.
        num_classes: number of classes K.

    Returns:
        An int64 array (K, K): row = true class, column = predicted class.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3).tolist()
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    t = np.asarray(targets, dtype=np.int64).reshape(-1)
    p = np.asarray(predictions, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: {t.size} targets but {p.size} predictions")
    for name, a in (("targets", t), ("predictions", p)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} must be in [0, {num_classes}), got values "
                             f"in [{a.min()}, {a.max()}]")
    flat = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)  # (K true, K predicted)


def per_class_accuracy(matrix: Any) -> list[Optional[float]]:
    """The recall of each class: correct / total of the class (None for a class never seen).

    Example:
        >>> per_class_accuracy([[3, 1], [0, 0]])
        [0.75, None]
    """
    m = np.asarray(matrix)
    totals = m.sum(axis=1)
    return [float(m[i, i] / totals[i]) if totals[i] else None for i in range(m.shape[0])]


def accuracy(matrix: Any) -> float:
    """Overall accuracy from a confusion matrix (0.0 when it is empty).

    Example:
        >>> accuracy([[3, 1], [0, 4]])
        0.875
    """
    m = np.asarray(matrix)
    total = int(m.sum())
    return float(np.trace(m) / total) if total else 0.0


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return "" if value is None else str(value)


def write_metrics_csv(rows: Sequence[Mapping[str, Any]], path: PathLike,
                      fields: Sequence[str] = METRIC_FIELDS) -> None:
    """Write ``rows`` as CSV to ``path`` atomically (see :func:`chainrule.io.files.write_atomic`).

    The whole file is rewritten each time, so a crash leaves either the old or the new file,
    never a torn one. Floats are written exactly (``repr``), missing keys as empty cells.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_metrics_csv([{"epoch": 1, "test_acc": 0.5}], os.path.join(d, "m.csv"))
        ...     print(open(os.path.join(d, "m.csv")).read().splitlines()[1])
        1,,,,0.5,,
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_format(row.get(f)) for f in fields])
    write_atomic(path, buf.getvalue())


def read_metrics_csv(path: PathLike) -> list[dict[str, Any]]:
    """Read a file written by :func:`write_metrics_csv` (numbers parsed, empty cells None)."""
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            parsed: dict[str, Any] = {}
            for k, v in row.items():
                if v in ("", None):
                    parsed[k] = None
                elif k == "epoch":
                    parsed[k] = int(v)
                else:
                    parsed[k] = float(v)
            out.append(parsed)
    return out
