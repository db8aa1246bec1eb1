"""The shallow CNN: the loss falls at every one of the 100 epochs, for several seeds."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.gallery import shallow_cnn


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_falls_every_epoch(seed):
    result = shallow_cnn.run(seed=seed)
    losses = np.array(result["losses"])
    assert len(losses) == 100
    assert (np.diff(losses) < 0).all(), f"loss rose at epochs {np.where(np.diff(losses) >= 0)}"
    assert losses[-1] < 0.1 * losses[0]
    high, low = result["outputs"]
    assert high > 0.8 and low < 0.2  # targets 1 and 0


def test_graph_and_walkthrough(capsys):
    result = shallow_cnn.run(verbose=True)
    assert result["graph"].grad_fn is not None
    assert list(result["params"]) == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    text = capsys.readouterr().out
    assert "epoch   1" in text and "epoch 100" in text and "targets 1 and 0" in text


def test_printed_numbers_match_the_walkthrough_and_pytorch(capsys):
    # seed 0 as a learner runs it; the same network and plain GD in PyTorch from the same
    # images and initial weights
    import torch

    import chainrule as cr

    result = shallow_cnn.run(verbose=True)
    text = capsys.readouterr().out
    for line in ["epoch   1  loss 0.250066", "epoch  51  loss 0.081682",
                 "epoch 100  loss 0.010630", "outputs after training: [0.902, 0.1056]"]:
        assert line in text, line
    cr.manual_seed(0)  # rebuild the images and initial weights exactly as run() draws them
    x = torch.tensor(cr.rand(2, 1, 6, 6)._data)
    state = shallow_cnn.ShallowCNN().state_dict()
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.Sigmoid(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    ref.load_state_dict({k.replace("conv", "0").replace("fc", "4"): torch.tensor(v._data)
                         for k, v in state.items()})
    target = torch.tensor([[1.0], [0.0]])
    opt = torch.optim.SGD(ref.parameters(), lr=shallow_cnn.LR)
    losses = []
    for _ in range(shallow_cnn.EPOCHS):
        opt.zero_grad()
        loss = 0.5 * ((target - ref(x)) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-4)
    np.testing.assert_allclose(result["outputs"], ref(x).detach().numpy().ravel(), rtol=1e-4)
    assert losses[0] == pytest.approx(0.25, abs=0.01) and losses[-1] == pytest.approx(0.01,
                                                                                       abs=0.005)
