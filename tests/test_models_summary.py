"""summary(): shapes, parameter and MAC counts (checked against the formulas); the registry."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.models import (LeNet5, MLP, Neuron, available_models, build_model, model_config,
                              summary)


def test_lenet5_rows_and_totals():
    s = summary(LeNet5(), (1, 1, 28, 28), print_fn=None)
    rows = {r.name: r for r in s.rows}
    assert [r.name for r in s.rows] == ["conv1", "bn1", "act1", "pool1", "conv2", "bn2", "act2",
                                        "pool2", "conv3", "bn3", "act3", "flatten", "fc1",
                                        "dropout", "act4", "fc2"]
    assert rows["conv1"].output_shape == (1, 6, 28, 28)
    assert rows["pool2"].output_shape == (1, 16, 5, 5)
    assert rows["conv3"].output_shape == (1, 120, 1, 1)
    assert rows["flatten"].output_shape == (1, 120)
    # conv: KW*KH*C_in*C_out*OW*OH*N; linear: in*out*N
    assert rows["conv1"].macs == 5 * 5 * 1 * 6 * 28 * 28
    assert rows["conv2"].macs == 5 * 5 * 6 * 16 * 10 * 10
    assert rows["conv3"].macs == 5 * 5 * 16 * 120
    assert rows["fc1"].macs == 120 * 84 and rows["fc2"].macs == 84 * 10
    assert rows["bn1"].macs == 0 and rows["bn1"].params == 12
    assert rows["conv2"].params == 16 * 6 * 25 + 16
    assert s.total_params == s.trainable_params == 61990
    assert s.total_macs == 416520


def test_macs_scale_with_batch_and_string_form():
    s1 = summary(LeNet5(), (1, 1, 28, 28), print_fn=None)
    s4 = summary(LeNet5(), (4, 1, 28, 28), print_fn=None)
    assert s4.total_macs == 4 * s1.total_macs
    text = str(s4)
    assert "conv1" in text and "[4, 6, 28, 28]" in text and "total MACs: 1,666,080" in text
    assert "total params: 61,990" in text


def test_grouped_convolution_divides_c_in():
    class Grouped(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = cr.nn.Conv2d(4, 8, 3, groups=2)

        def forward(self, x):
            return self.conv(x)

    try:
        model = Grouped()
    except (TypeError, ValueError):
        pytest.skip("Conv2d has no groups")
    s = summary(model, (2, 4, 6, 6), print_fn=None)
    assert s.rows[0].macs == 3 * 3 * (4 // 2) * 8 * 4 * 4 * 2


def test_prints_and_restores_mode_without_touching_state():
    model = LeNet5()
    model.train()
    before = {k: np.array(v._data) for k, v in model.state_dict().items()}
    rng_before = cr.get_rng_state()
    printed = []
    summary(model, (2, 1, 28, 28), print_fn=printed.append)
    assert len(printed) == 1 and "fc2" in printed[0]
    assert model.training and model.bn1.training
    assert all(np.array_equal(before[k], v._data) for k, v in model.state_dict().items())
    assert cr.get_rng_state() == rng_before


def test_printed_by_default(capsys):
    summary(MLP((784, 16, 10)), (3, 784))
    out = capsys.readouterr().out
    assert "fc1" in out and "total MACs: " + f"{3 * (784 * 16 + 16 * 10):,}" in out


def test_neuron_summary():
    s = summary(Neuron(5), (7, 5), print_fn=None)
    assert s.total_params == 6 and s.total_macs == 5 * 1 * 7 and s.rows[0].output_shape == (7, 1)


@pytest.mark.parametrize("shape", [(), (0, 1, 28, 28), (1, -1, 28, 28)])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="summary: input_shape"):
        summary(LeNet5(), shape, print_fn=None)


def test_registry():
    assert available_models() == ["gpt", "lenet5", "lstm", "mlp", "neuron"]
    assert isinstance(build_model("lenet5"), LeNet5)
    m = build_model("mlp", {"sizes": [4, 3, 2]})
    assert m.sizes == (4, 3, 2)
    assert model_config("lenet5") == {"num_classes": 10, "dropout": 0.3}
    with pytest.raises(ValueError, match="unknown model 'resnet'.*gpt, lenet5, lstm, mlp, neuron"):
        build_model("resnet")
    with pytest.raises(ValueError, match="no config key 'width'"):
        build_model("mlp", {"width": 3})
