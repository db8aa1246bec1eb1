"""The single neuron learns AND from random weights: all four predictions right."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.gallery import neuron


def test_learns_the_and_gate():
    result = neuron.run()
    assert result["predictions"] == result["targets"] == [0, 0, 0, 1]
    assert result["losses"][-1] < 0.1 < result["losses"][0]
    initial = result["initial"]["0.weight"]
    assert np.abs(initial).max() > 0  # started from random weights
    probs = np.array(result["probabilities"])
    assert probs[3] > 0.5 and (probs[:3] < 0.5).all()


@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds_and_gates(seed):
    assert neuron.run(seed=seed)["predictions"] == [0, 0, 0, 1]
    assert neuron.run(gate="OR", seed=seed)["predictions"] == [0, 1, 1, 1]


def test_graph_and_walkthrough(capsys):
    result = neuron.run(verbose=True)
    assert result["graph"].grad_fn is not None
    text = capsys.readouterr().out
    assert "AND(1, 1) = 1" in text and "all right: True" in text


def test_printed_numbers_match_the_walkthrough_and_pytorch(capsys):
    # the numbers a learner reproduces to the digit with seed 0, recomputed independently by
    # running the same full-batch SGD in PyTorch from the same initial weights
    import torch

    from chainrule.data.toy import logic_gate

    result = neuron.run(verbose=True)
    text = capsys.readouterr().out
    for line in ["epoch   0  BCE 0.7218", "epoch 400  BCE 0.0427", "AND(0, 1) = 0: p = 0.040",
                 "AND(1, 1) = 1: p = 0.945", "weights [6.026, 6.026], bias -9.217"]:
        assert line in text, line
    X, y = (torch.tensor(a) for a in logic_gate("AND"))
    w = torch.tensor(result["initial"]["0.weight"], requires_grad=True)
    b = torch.tensor(result["initial"]["0.bias"], requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=neuron.LR)
    losses = []
    for _ in range(neuron.EPOCHS):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(torch.sigmoid(X @ w.T + b), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-4)
    np.testing.assert_allclose(result["weight"], w.detach().numpy().ravel(), rtol=1e-4)
    assert result["bias"] == pytest.approx(b.item(), rel=1e-4)
