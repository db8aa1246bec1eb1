"""LeNet5: layer layout, stable names, Xavier init, float32, errors, and parity with PyTorch."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.models import LeNet5

EXPECTED = [  # (name, shape) in registration order
    ("conv1.weight", (6, 1, 5, 5)), ("conv1.bias", (6,)),
    ("bn1.weight", (6,)), ("bn1.bias", (6,)),
    ("conv2.weight", (16, 6, 5, 5)), ("conv2.bias", (16,)),
    ("bn2.weight", (16,)), ("bn2.bias", (16,)),
    ("conv3.weight", (120, 16, 5, 5)), ("conv3.bias", (120,)),
    ("bn3.weight", (120,)), ("bn3.bias", (120,)),
    ("fc1.weight", (84, 120)), ("fc1.bias", (84,)),
    ("fc2.weight", (10, 84)), ("fc2.bias", (10,)),
]


@pytest.fixture(autouse=True)
def seed():
    cr.manual_seed(0)


def test_parameter_names_shapes_and_count():
    model = LeNet5()
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == EXPECTED
    assert sum(p.numel() for p in model.parameters()) == 61990
    keys = list(model.state_dict())
    for bn in ("bn1", "bn2", "bn3"):
        assert f"{bn}.running_mean" in keys and f"{bn}.running_var" in keys


def test_output_shape_and_float32():
    model = LeNet5()
    y = model(cr.randn(3, 1, 28, 28))
    assert y.shape == (3, 10) and y.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert all(v.dtype in (np.float32, np.int64) for v in model.state_dict().values())


def test_xavier_uniform_weights_and_zero_biases():
    model = LeNet5()
    for name in ("conv1", "conv2", "conv3", "fc1", "fc2"):
        w = getattr(model, name).weight._data
        receptive = int(np.prod(w.shape[2:])) if w.ndim == 4 else 1
        fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(w).max() <= bound + 1e-7
        assert np.abs(w).max() > 0.8 * bound  # drawn over the whole interval
        assert not getattr(model, name).bias._data.any()


def test_same_seed_same_weights():
    cr.manual_seed(7)
    a = LeNet5().state_dict()
    cr.manual_seed(7)
    b = LeNet5().state_dict()
    assert all(np.array_equal(a[k]._data, b[k]._data) for k in a)


def test_backward_reaches_every_parameter():
    model = LeNet5()
    loss = cr.nn.CrossEntropyLoss()(model(cr.randn(4, 1, 28, 28)), cr.tensor([0, 1, 2, 3]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.isfinite(p.grad._data).all(), name


def test_dropout_only_in_training_mode():
    model = LeNet5()
    x = cr.randn(8, 1, 28, 28)
    model.eval()
    with cr.no_grad():
        assert np.array_equal(model(x)._data, model(x)._data)


@pytest.mark.parametrize("shape", [(2, 28, 28), (2, 3, 28, 28), (2, 1, 32, 32)])
def test_bad_input_shape_is_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"LeNet5: expected input of shape \(N, 1, 28, 28\)"):
        LeNet5()(cr.zeros(*shape))


@pytest.mark.parametrize("kwargs", [{"num_classes": 0}, {"dropout": 1.0}, {"dropout": -0.1}])
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError, match="LeNet5"):
        LeNet5(**kwargs)


def test_matches_pytorch_in_eval_and_train_mode():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ref = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.BatchNorm2d(6), tnn.Tanh(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.BatchNorm2d(16), tnn.Tanh(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 120, 5), tnn.BatchNorm2d(120), tnn.Tanh(), tnn.Flatten(),
        tnn.Linear(120, 84), tnn.Dropout(0.3), tnn.Tanh(), tnn.Linear(84, 10))
    model = LeNet5()
    mapping = {"conv1": 0, "bn1": 1, "conv2": 4, "bn2": 5, "conv3": 8, "bn3": 9, "fc1": 12,
               "fc2": 15}
    ref_state = ref.state_dict()
    for key, value in model.state_dict().items():
        layer, attr = key.split(".")
        ref_state[f"{mapping[layer]}.{attr}"].copy_(torch.from_numpy(np.array(value._data)))
    x = np.random.default_rng(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    ref.eval()
    model.eval()
    with torch.no_grad(), cr.no_grad():
        np.testing.assert_allclose(model(cr.tensor(x))._data, ref(torch.from_numpy(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)
    # train mode with dropout off: batch statistics and running averages must agree too
    ref.train()
    ref[13].p = 0.0
    model.train()
    model.dropout.p = 0.0
    with torch.no_grad(), cr.no_grad():
        np.testing.assert_allclose(model(cr.tensor(x))._data, ref(torch.from_numpy(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.bn2.running_var._data, ref[5].running_var.numpy(),
                               rtol=1e-5, atol=1e-6)
