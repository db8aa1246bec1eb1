"""MLP and Neuron: shapes, names, activations, errors."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.models import MLP, Neuron


@pytest.fixture(autouse=True)
def seed():
    cr.manual_seed(0)


def test_mlp_default_layout():
    model = MLP()
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == [
        ("fc1.weight", (256, 784)), ("fc1.bias", (256,)), ("fc2.weight", (128, 256)),
        ("fc2.bias", (128,)), ("fc3.weight", (10, 128)), ("fc3.bias", (10,))]
    assert model(cr.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model(cr.zeros(2, 784)).shape == (2, 10)


@pytest.mark.parametrize("activation,fn", [("relu", lambda z: np.maximum(z, 0)),
                                           ("tanh", np.tanh),
                                           ("sigmoid", lambda z: 1 / (1 + np.exp(-z)))])
def test_mlp_computes_linear_act_linear(activation, fn):
    model = MLP((3, 4, 2), activation=activation)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    w1, b1 = model.fc1.weight._data, model.fc1.bias._data
    w2, b2 = model.fc2.weight._data, model.fc2.bias._data
    expected = fn(x @ w1.T + b1) @ w2.T + b2
    out = model(cr.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out._data, expected, rtol=1e-5, atol=1e-6)


def test_mlp_trains_on_blobs():
    x = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = MLP((2, 8, 2), activation="tanh")
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = cr.nn.CrossEntropyLoss()
    first = None
    for _ in range(50):
        loss = loss_fn(model(cr.tensor(x)), cr.tensor(y))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


@pytest.mark.parametrize("kwargs,match", [
    ({"sizes": (784,)}, "at least two"), ({"sizes": (784, 0, 10)}, "positive"),
    ({"activation": "gelu"}, "unknown activation")])
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_mlp_wrong_input_width():
    with pytest.raises(ValueError, match=r"MLP: expected input .* 784 features"):
        MLP()(cr.zeros(2, 100))


def test_neuron_is_affine_then_sigmoid():
    n = Neuron(3)
    assert [name for name, _ in n.named_parameters()] == ["linear.weight", "linear.bias"]
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    z = x @ n.linear.weight._data.T + n.linear.bias._data
    out = n(cr.tensor(x))
    assert out.shape == (4, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out._data, 1 / (1 + np.exp(-z)), rtol=1e-5)
    np.testing.assert_allclose(n.logits(cr.tensor(x))._data, z, rtol=1e-5)


def test_neuron_learns_and_gate():
    x, y = cr.data.logic_gate("and")
    n = Neuron(2)
    opt = cr.optim.SGD(n.parameters(), lr=1.0)
    loss_fn = cr.nn.BCELoss()
    for _ in range(300):
        loss = loss_fn(n(cr.tensor(x)), cr.tensor(np.asarray(y, np.float32).reshape(-1, 1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = (n(cr.tensor(x))._data.reshape(-1) > 0.5).astype(int)
    assert pred.tolist() == np.asarray(y).reshape(-1).astype(int).tolist()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_neuron_bad_in_features(bad):
    with pytest.raises(ValueError, match="Neuron"):
        Neuron(bad)
