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
