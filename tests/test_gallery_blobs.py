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
