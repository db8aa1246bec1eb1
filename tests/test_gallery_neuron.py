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
