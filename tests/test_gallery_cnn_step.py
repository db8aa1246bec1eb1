"""The CNN step: the published numbers, the hand chain rule equal to autograd, every
intermediate equal to torch's, the one-step decrease, the walkthrough and the script."""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from chainrule.gallery import cnn_step


@pytest.fixture(scope="module")
def result() -> dict:
    return cnn_step.run()


def test_forward_numbers(result):
    assert round(result["out"], 4) == 0.5033
    assert round(result["E"], 4) == 0.1233
    np.testing.assert_allclose(result["L1"][0], [0.24, 0.27, 0.30, 0.33], atol=1e-6)
    assert result["pooled"].shape == (2, 2)


def test_hand_gradient_equals_autograd(result):
    np.testing.assert_allclose(result["dE_dW1"], result["dE_dW1_autograd"], rtol=1e-5,
                               atol=1e-9)
    np.testing.assert_allclose(result["dE_dW2"], result["dE_dW2_autograd"], rtol=1e-6)
    assert result["dE_dW1"].shape == (3, 3) and (result["dE_dW1"] < 0).all()


def test_pool_mask_routes_to_each_windows_maximum(result):
    mask = result["pool_mask"]
    assert mask.sum() == 4 and mask[1, 1] == mask[1, 3] == mask[3, 1] == mask[3, 3] == 1
    # only the windows W2 reads (pooled positions 1 and 3) carry gradient
    assert np.count_nonzero(result["dE_dL1_a"]) == 2


def test_one_gradient_step_lowers_the_error(result):
    assert round(result["E_after"], 4) == 0.1226
    np.testing.assert_allclose(result["W1_after"], result["W1"] - result["dE_dW1"])


def test_every_number_matches_torch(result):
    x = torch.arange(1.0, 37.0).reshape(1, 1, 6, 6)
    w1 = (0.01 * torch.eye(3)).reshape(1, 1, 3, 3).requires_grad_()
    w2 = torch.tensor([[0.0, 0.01, 0.0, 0.01]], requires_grad=True)
    L1 = torch.nn.functional.conv2d(x, w1)
    L1_a = torch.sigmoid(L1)
    L1_a.retain_grad()
    pooled = torch.nn.functional.max_pool2d(L1_a, 2, 2)
    out = torch.sigmoid(pooled.flatten(1) @ w2.T)
    E = 0.5 * (1.0 - out) ** 2
    E.sum().backward()
    for key, theirs in [("L1", L1), ("L1_a", L1_a), ("pooled", pooled)]:
        np.testing.assert_allclose(result[key], theirs[0, 0].detach().numpy(), rtol=1e-6)
    assert result["out"] == pytest.approx(out.item(), rel=1e-6)
    assert result["E"] == pytest.approx(E.item(), rel=1e-6)
    np.testing.assert_allclose(result["dE_dL1_a"], L1_a.grad[0, 0].numpy(), atol=1e-9)
    np.testing.assert_allclose(result["dE_dW1"], w1.grad[0, 0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(result["dE_dW2"], w2.grad.numpy(), rtol=1e-6)
    with torch.no_grad():
        w1 -= w1.grad
        e2 = 0.5 * (1 - torch.sigmoid(torch.nn.functional.max_pool2d(
            torch.sigmoid(torch.nn.functional.conv2d(x, w1)), 2).flatten(1) @ w2.T)) ** 2
    assert result["E_after"] == pytest.approx(e2.item(), rel=1e-5)


def test_graph_is_kept_for_drawing(result):
    graph = result["graph"]
    assert graph.grad_fn is not None and graph.name == "E"
    assert set(result["params"]) == {"W1", "W2"}
    graph.backward()  # retain_graph=True kept it: a second backward works


def test_walkthrough_and_script(capsys):
    cnn_step.main()
    text = capsys.readouterr().out
    for line in ["L1 = conv2d(X, W1)", "L1_a = sigmoid(L1)", "pooled = max_pool2d",
                 "out = sigmoid(flatten(pooled) @ W2.T) = 0.5033", "with Y = 1: 0.1233",
                 "pool arg-max mask", "dE/dW1 from autograd",
                 "E goes from 0.1233 to 0.1226"]:
        assert line in text
    script = Path(__file__).resolve().parents[1] / "examples" / "cnn_step.py"
    runpy.run_path(str(script), run_name="__main__")
    assert "E goes from 0.1233 to 0.1226" in capsys.readouterr().out
