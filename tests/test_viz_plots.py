"""Plots: autograd derivatives of the activations, valid non-trivial PNGs, atomic writes."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz.plots import (activation_curves, plot_activations, plot_confusion_matrix,
                                 plot_curves, save_figure)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_side=100):
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5000
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_side
    assert img[..., :3].std() > 0.05  # something drawn, not a blank canvas
    return img


def test_activation_derivatives_match_the_formulas():
    x = np.linspace(-5, 5, 401)
    x = x[np.abs(x) > 1e-9]  # ReLU's kink: its derivative at 0 is a convention (tested below)
    c = activation_curves(x, negative_slope=0.1)
    np.testing.assert_array_equal(c["x"], x)
    y, dy = c["relu"]
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(dy, (x > 0).astype(float))
    y, dy = c["leaky_relu"]
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(dy, np.where(x > 0, 1.0, 0.1))
    s = 1 / (1 + np.exp(-x))
    y, dy = c["sigmoid"]
    np.testing.assert_allclose(y, s, rtol=1e-12)
    np.testing.assert_allclose(dy, s * (1 - s), rtol=1e-10, atol=1e-15)
    y, dy = c["tanh"]
    np.testing.assert_allclose(y, np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(dy, 1 - np.tanh(x) ** 2, rtol=1e-10, atol=1e-15)


def test_activation_derivatives_at_zero_follow_pytorch():
    c = activation_curves([0.0])
    assert c["relu"][1][0] == 0.0 and c["leaky_relu"][1][0] == 0.1
    assert c["sigmoid"][1][0] == 0.25 and c["tanh"][1][0] == 1.0


def test_activation_curves_come_from_autograd(monkeypatch):
    calls = []
    original = cr.autograd.Tensor.backward

    def spy(self, *a, **k):
        calls.append(self.shape)
        return original(self, *a, **k)

    monkeypatch.setattr(cr.autograd.Tensor, "backward", spy)
    activation_curves([-1.0, 1.0])
    assert len(calls) == 4  # one backward per activation


def test_activation_curves_errors():
    with pytest.raises(ValueError, match="activation_curves: x must be a non-empty 1-D"):
        activation_curves([[1.0, 2.0]])
    with pytest.raises(ValueError, match="activation_curves: x must be a non-empty 1-D"):
        activation_curves([])


def test_plot_activations_png(tmp_path):
    fig = plot_activations(tmp_path / "act.png")
    assert_png(tmp_path / "act.png", min_side=300)
    assert [ax.get_title() for ax in fig.axes] == ["ReLU", "LeakyReLU (slope 0.1)", "sigmoid",
                                                   "tanh"]
    sig = fig.axes[2]
    (xs, ys), (_, dys) = [line.get_data() for line in sig.get_lines()[:2]]
    np.testing.assert_allclose(dys, ys * (1 - ys), atol=1e-12)  # the drawn derivative
    assert [p.name for p in tmp_path.iterdir()] == ["act.png"]  # no temp file left


ROWS = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.2 / e, "train_acc": 1 - 0.5 / e,
         "test_acc": 1 - 0.6 / e} for e in range(1, 6)]


def test_plot_curves_png_and_data(tmp_path):
    fig = plot_curves(ROWS, tmp_path / "curves.png")
    assert_png(tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "loss" and acc_ax.get_title() == "accuracy"
    train = loss_ax.get_lines()[0]
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(train.get_ydata(), [r["train_loss"] for r in ROWS])
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["train", "test"]


def test_plot_curves_missing_metrics_and_path_str(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.3, "test_loss": None}]
    fig = plot_curves(rows, str(tmp_path / "c.svg"))
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    assert len(fig.axes[0].get_lines()) == 1 and fig.axes[1].get_lines() == []


def test_plot_curves_errors():
    with pytest.raises(ValueError, match="plot_curves: metrics_rows is empty"):
        plot_curves([], None)
    with pytest.raises(TypeError, match=r"plot_curves: metrics_rows\[0\] must be a dict"):
        plot_curves([3], None)
    with pytest.raises(ValueError, match=r"plot_curves: metrics_rows\[1\] has no 'epoch'"):
        plot_curves([{"epoch": 1, "train_loss": 1}, {"train_loss": 1}], None)
    with pytest.raises(ValueError, match="plot_curves: no row has any of"):
        plot_curves([{"epoch": 1, "lr": 0.1}], None)


def test_plot_confusion_matrix_png(tmp_path):
    m = np.array([[50, 2, 0], [3, 40, 7], [0, 5, 45]])
    fig = plot_confusion_matrix(cr.tensor(m), ["cat", "dog", "bird"], tmp_path / "cm.png")
    assert_png(tmp_path / "cm.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in m.ravel()]
    assert ax.get_title() == "accuracy 88.82%"  # 135 of 152
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), m)


def test_plot_confusion_matrix_errors():
    with pytest.raises(ValueError, match=r"plot_confusion_matrix: matrix must be square .* "
                                         r"\(2, 3\)"):
        plot_confusion_matrix(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="plot_confusion_matrix: 3 class_names for a 2x2"):
        plot_confusion_matrix(np.eye(2), ["a", "b", "c"])


def test_save_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "act.png"
    plot_activations(target)
    before = target.read_bytes()
    fig = plot_curves(ROWS)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, target)
    assert target.read_bytes() == before  # the old picture survives a failed save
    assert [p.name for p in tmp_path.iterdir()] == ["act.png"]
    with pytest.raises(ValueError, match="save_figure: cannot tell the image format"):
        save_figure(fig, tmp_path / "x.bmp2")
