"""The linear model: gradients -2 and -8, and SGD training identical to PyTorch's run."""
import pytest
import torch

from chainrule.gallery import linear


def test_gradients_at_the_two_samples():
    assert linear.gradient_at(1.0, 2.0) == -2.0
    assert linear.gradient_at(2.0, 4.0) == -8.0


def _torch_history(epochs=10, lr=0.01):
    w = torch.tensor(1.0, requires_grad=True)
    history = []
    for epoch in range(epochs):
        for x, y in zip(linear.X_DATA, linear.Y_DATA):
            loss = (x * w - y) ** 2
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
            w.grad = None
        history.append((loss.item(), w.item()))
    return history, (4.0 * w).item()


def test_training_matches_pytorch_epoch_by_epoch():
    result = linear.run()
    expected, after = _torch_history()
    assert result["before"] == 4.0
    for ours, (loss, w) in zip(result["history"], expected):
        assert ours["loss"] == pytest.approx(loss, rel=1e-5)
        assert ours["w"] == pytest.approx(w, rel=1e-6)
    assert result["after"] == pytest.approx(after, rel=1e-6)
    assert 7.8 < result["after"] < 8.0  # moved from 4 toward 8


def test_linear_walkthrough(capsys):
    linear.main()
    out = capsys.readouterr().out
    assert "epoch 9" in out and "before 4.0000" in out
