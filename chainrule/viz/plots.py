"""Plots: activation functions with their autograd derivatives, training curves, confusion
matrices.

matplotlib is imported inside the functions (importing chainrule never needs it). Figures are
built with ``matplotlib.figure.Figure`` directly, not pyplot: no global state, no GUI backend,
and files are rendered by Agg. Files are written atomically
(:func:`chainrule.io.files.atomic_open`), so an interrupted save never leaves half a PNG behind.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy

from ..creation import float64, tensor
from ..io.files import atomic_open
from ..ops import leaky_relu, relu, sigmoid, tanh

PathLike = Union[str, "os.PathLike[str]"]

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
"""The activations :func:`plot_activations` draws, in order."""

_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg")


def _import_matplotlib(fn_name: str) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a test dependency
        raise ImportError(f"{fn_name} needs matplotlib: `pip install matplotlib` (or "
                          f"`pip install chainrule[viz]`)") from None
    return Figure


def save_figure(fig: Any, path: PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure atomically; the format comes from the suffix.

    Args:
        fig: a ``matplotlib.figure.Figure``.
        path: the file to write (``.png``, ``.svg``, ``.pdf``, ``.jpg``); parent folders are
            created.
        dpi: resolution for raster formats.

    Returns:
        The path written.

    Raises:
        ValueError: for another suffix.

    Example:
        >>> import os, tempfile
        >>> from matplotlib.figure import Figure
        >>> fig = Figure(); _ = fig.add_subplot().plot([0, 1])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = save_figure(fig, os.path.join(d, "line.png"))
        ...     p.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in _FORMATS:
        raise ValueError(f"save_figure: cannot tell the image format of {str(path)!r}; use a "
                         f"suffix among {_FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


# ============================================================================ activations
def activation_curves(x: Optional[Sequence[float]] = None,
                      negative_slope: float = 0.1) -> dict[str, Any]:
    """Values and derivatives of ReLU, LeakyReLU, sigmoid and tanh, by chainrule's autograd.

    The derivatives come from one ``backward()`` through each activation (summing the outputs,
    so each input's gradient is its own derivative), not from formulas.

    Args:
        x: the points (default 401 points on [-5, 5]), float64.
        negative_slope: LeakyReLU's slope for x < 0.

    Returns:
        ``{"x": array, "relu": (y, dy), "leaky_relu": (y, dy), "sigmoid": (y, dy),
        "tanh": (y, dy)}`` of NumPy arrays.

    Example:
        >>> c = activation_curves([-1.0, 0.0, 2.0])
        >>> c["relu"][1].tolist(), float(c["sigmoid"][1][1])
        ([0.0, 0.0, 1.0], 0.25)
    """
    xs = numpy.linspace(-5.0, 5.0, 401) if x is None else numpy.asarray(x, dtype=numpy.float64)
    if xs.ndim != 1 or xs.size == 0:
        raise ValueError(f"activation_curves: x must be a non-empty 1-D sequence, got shape "
                         f"{xs.shape}")
    fns = {"relu": relu,
           "leaky_relu": lambda t: leaky_relu(t, negative_slope),
           "sigmoid": sigmoid,
           "tanh": tanh}
    out: dict[str, Any] = {"x": xs}
    for name, f in fns.items():
        t = tensor(xs, dtype=float64, requires_grad=True)
        y = f(t)
        y.sum().backward()
        out[name] = (y.detach().numpy().copy(), t.grad.numpy().copy())  # type: ignore[union-attr]
    return out


def plot_activations(path: Optional[PathLike] = None, negative_slope: float = 0.1) -> Any:
    """Draw ReLU, LeakyReLU, sigmoid and tanh, each with its derivative computed by autograd.

    Args:
        path: where to save the picture (format from the suffix); None to only return it.
        negative_slope: LeakyReLU's slope for x < 0.

    Returns:
        The ``matplotlib.figure.Figure`` (2 x 2 panels; Jupyter shows it inline).

    Example:
        >>> fig = plot_activations()
        >>> [ax.get_title() for ax in fig.axes]
        ['ReLU', 'LeakyReLU (slope 0.1)', 'sigmoid', 'tanh']
    """
    Figure = _import_matplotlib("plot_activations")
    curves = activation_curves(negative_slope=negative_slope)
    xs = curves["x"]
    titles = {"relu": "ReLU", "leaky_relu": f"LeakyReLU (slope {negative_slope:g})",
              "sigmoid": "sigmoid", "tanh": "tanh"}
    fig = Figure(figsize=(8, 6))
    axes = fig.subplots(2, 2)
    for ax, name in zip(axes.flat, ACTIVATIONS):
        y, dy = curves[name]
        ax.plot(xs, y, label="f(x)", color="tab:blue", linewidth=2)
        ax.plot(xs, dy, label="f'(x) by autograd", color="tab:orange", linestyle="--")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(titles[name])
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


# ============================================================================ training curves
def _column(rows: Sequence[Mapping[str, Any]], key: str) -> Optional[numpy.ndarray]:
    values = [r.get(key) for r in rows]
    if all(v is None for v in values):
        return None
    return numpy.array([numpy.nan if v is None else float(v) for v in values])


def plot_curves(metrics_rows: Sequence[Mapping[str, Any]],
                path: Optional[PathLike] = None) -> Any:
    """Draw training curves: loss and accuracy per epoch, for train and test.

    Args:
        metrics_rows: one dict per epoch, e.g. ``{"epoch": 1, "train_loss": 0.3,
            "train_acc": 0.91, "test_loss": 0.25, "test_acc": 0.93}``; any of the four
            metrics may be missing (or None) and is then not drawn.
        path: where to save the picture (format from the suffix); None to only return it.

    Returns:
        The ``matplotlib.figure.Figure``: loss on the left, accuracy on the right.

    Raises:
        ValueError: when ``metrics_rows`` is empty, a row has no ``epoch``, or no row has
            any of the four metrics.
        TypeError: when a row is not a mapping.

    Example:
        >>> rows = [{"epoch": 1, "train_loss": 0.9, "test_loss": 1.0, "train_acc": 0.7,
        ...          "test_acc": 0.6}, {"epoch": 2, "train_loss": 0.5, "test_loss": 0.7,
        ...          "train_acc": 0.85, "test_acc": 0.8}]
        >>> fig = plot_curves(rows)
        >>> [ax.get_title() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    Figure = _import_matplotlib("plot_curves")
    rows = list(metrics_rows)
    if not rows:
        raise ValueError("plot_curves: metrics_rows is empty; expected one dict per epoch")
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise TypeError(f"plot_curves: metrics_rows[{i}] must be a dict, got "
                            f"{type(r).__name__}")
        if "epoch" not in r:
            raise ValueError(f"plot_curves: metrics_rows[{i}] has no 'epoch' key (keys: "
                             f"{sorted(r)})")
    epochs = numpy.array([float(r["epoch"]) for r in rows])
    panels = [("loss", ("train_loss", "test_loss")), ("accuracy", ("train_acc", "test_acc"))]
    series = {k: _column(rows, k) for _, keys in panels for k in keys}
    if all(v is None for v in series.values()):
        raise ValueError("plot_curves: no row has any of train_loss, test_loss, train_acc, "
                         "test_acc")
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    for ax, (title, keys) in zip(axes, panels):
        for key, style in zip(keys, ("-o", "--s")):
            ys = series[key]
            if ys is not None:
                ax.plot(epochs, ys, style, label=key.split("_")[0], markersize=4)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


# ============================================================================ confusion matrix
def plot_confusion_matrix(matrix: Any, class_names: Optional[Sequence[str]] = None,
                          path: Optional[PathLike] = None) -> Any:
    """Draw a confusion matrix (rows: true class, columns: predicted class) with its counts.

    Args:
        matrix: a square (K, K) array, Tensor or nested list of counts.
        class_names: K labels (default ``0 .. K-1``).
        path: where to save the picture (format from the suffix); None to only return it.

    Returns:
        The ``matplotlib.figure.Figure``.

    Raises:
        ValueError: when the matrix is not square or ``class_names`` has the wrong length.

    Example:
        >>> fig = plot_confusion_matrix([[5, 1], [0, 4]], ["cat", "dog"])
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
        ('predicted', 'true')
    """
    Figure = _import_matplotlib("plot_confusion_matrix")
    m = numpy.asarray(getattr(matrix, "_data", matrix))
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"plot_confusion_matrix: matrix must be square (K, K) with K >= 1, "
                         f"got shape {m.shape}")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class_names for a {k}x{k} "
                         f"matrix; expected {k}")
    size = max(4.0, 0.5 * k + 2)
    fig = Figure(figsize=(size, size * 0.85))
    ax = fig.subplots()
    image = ax.imshow(m, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    limit = m.max() / 2 if m.size else 0
    is_int = m.dtype.kind in "iub" or numpy.all(numpy.mod(m, 1) == 0)
    for i in range(k):
        for j in range(k):
            text = f"{int(m[i, j])}" if is_int else f"{m[i, j]:.2g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > limit else "black")
    total = m.sum()
    if total:
        ax.set_title(f"accuracy {numpy.trace(m) / total:.2%}")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
