"""nn.init: gains and fans as torch's, in-place float32 fills from the global generator,
the distributions' bounds and moments, PyTorch's default Linear/Conv2d initialisation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import init


@pytest.fixture(autouse=True)
def seed() -> None:
    cr.manual_seed(0)


@pytest.mark.parametrize("name, param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                         ("tanh", None), ("relu", None), ("leaky_relu", None),
                                         ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                         ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-12)


@pytest.mark.parametrize("shape", [(10, 784), (6, 1, 5, 5), (16, 6, 3, 3), (3, 4, 2)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(cr.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_init_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cr.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(cr.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="expected a <= b"):
        init.uniform_(cr.empty(2), 1, 0)


FILLS = [
    (init.uniform_, dict(a=-0.5, b=0.5)),
    (init.normal_, dict(mean=1.0, std=0.5)),
    (init.xavier_uniform_, dict(gain=2.0)),
    (init.xavier_normal_, dict()),
    (init.kaiming_uniform_, dict(a=math.sqrt(5))),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu")),
]


@pytest.mark.parametrize("fn, kwargs", FILLS, ids=lambda v: getattr(v, "__name__", ""))
def test_fills_in_place_float32_reproducibly_on_parameters(fn, kwargs):
    p = nn.Parameter(cr.zeros(200, 300))
    data, version = p._data, p._version
    assert fn(p, **kwargs) is p
    assert p._data is data and p.dtype == np.float32 and p._version == version + 1
    assert p.requires_grad and p.grad_fn is None
    first = p._data.copy()
    fn(p, **kwargs)
    assert not np.array_equal(first, p._data)  # the generator advanced
    cr.manual_seed(0)
    fn(p, **kwargs)
    np.testing.assert_array_equal(first, p._data)  # same seed, same draw


@pytest.mark.parametrize("fn, kwargs, bound, std", [
    (init.uniform_, dict(a=-0.5, b=0.5), 0.5, 1 / math.sqrt(12)),
    (init.xavier_uniform_, dict(gain=2.0), 2 * math.sqrt(6 / 500), 2 * math.sqrt(2 / 500)),
    (init.xavier_normal_, dict(), None, math.sqrt(2 / 500)),
    (init.kaiming_uniform_, dict(), math.sqrt(6 / 300), math.sqrt(2 / 300)),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu"), None,
     math.sqrt(2 / 200)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_distribution_bounds_and_spread(fn, kwargs, bound, std):
    w = fn(cr.empty(200, 300), **kwargs)._data
    if bound is not None:
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(std, rel=0.02)


def test_normal_mean_and_constants():
    w = init.normal_(cr.empty(100, 100), mean=3.0, std=0.1)._data
    assert w.mean() == pytest.approx(3.0, abs=0.01) and w.std() == pytest.approx(0.1, rel=0.03)
    t = cr.empty(2, 3)
    assert init.zeros_(t).tolist() == [[0.0] * 3] * 2
    assert init.ones_(t).tolist() == [[1.0] * 3] * 2
    assert init.constant_(t, 0.25).tolist() == [[0.25] * 3] * 2 and t.dtype == np.float32


def test_zero_element_tensor_warns_and_is_a_no_op():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(cr.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Linear(300, 200), 300),
                                          (lambda: nn.Conv2d(12, 200, 5), 300)])
def test_default_layer_init_is_torchs(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight._data, layer.bias._data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)  # U(-bound, bound)
    cr.manual_seed(0)
    np.testing.assert_array_equal(make().weight._data, w)
