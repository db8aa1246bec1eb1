"""Two Gaussian blobs: a linear classifier reaches at least 99% accuracy."""
from __future__ import annotations

import numpy as np

from chainrule.gallery import blobs


def test_separates_the_blobs():
    result = blobs.run()
    assert result["accuracy"] >= 0.99
    losses = np.array(result["losses"])
    assert losses[-1] < 0.1 * losses[0]


def test_graph_and_walkthrough(capsys):
    result = blobs.run(verbose=True)
    assert result["graph"].grad_fn is not None
    assert list(result["params"]) == ["weight", "bias"]
    assert "accuracy on the 200 points" in capsys.readouterr().out


def test_printed_numbers_match_the_walkthrough_and_pytorch(capsys):
    # seed 0 as a learner runs it; the same full-batch SGD in PyTorch from the same weights
    import torch

    import chainrule as cr
    from chainrule import nn
    from chainrule.data.toy import blobs as blobs_data

    result = blobs.run(verbose=True)
    text = capsys.readouterr().out
    for line in ["epoch   0  cross-entropy 2.1144", "epoch  20  cross-entropy 0.0084",
                 "epoch  80  cross-entropy 0.0036", "accuracy on the 200 points: 100.0%"]:
        assert line in text, line
    cr.manual_seed(0)  # rebuild the initial weights exactly as run() draws them
    X, y = blobs_data(n_per_class=100, centers=((-2, -2), (2, 2)), std=0.7, seed=0)
    init = nn.Linear(2, 2)
    w = torch.tensor(init.weight._data.copy(), requires_grad=True)
    b = torch.tensor(init.bias._data.copy(), requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=blobs.LR)
    losses = []
    for _ in range(blobs.EPOCHS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(torch.tensor(X) @ w.T + b, torch.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-4)
    assert result["accuracy"] == 1.0
