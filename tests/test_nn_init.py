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


# -- the same stream gives torch's weights (issue 21) -------------------------------------------

class TorchStream(cr.Generator):
    """A chainrule Generator whose draws are torch's (``torch.rand``/``torch.randn`` on a
    torch generator), as the tutorial tests substitute."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.torch_gen = torch.Generator().manual_seed(seed)

    def _uniform(self, shape, dtype):
        dt = getattr(torch, np.dtype(dtype).name)
        return torch.rand(shape, dtype=dt, generator=self.torch_gen).numpy()

    def _normal(self, shape, dtype):
        dt = getattr(torch, np.dtype(dtype).name)
        return torch.randn(shape, dtype=dt, generator=self.torch_gen).numpy()


STREAM_FILLS = [
    ("uniform_", dict(a=-0.3, b=0.7), 0),
    ("normal_", dict(mean=1.0, std=0.5), 1e-7),
    ("trunc_normal_", dict(std=0.02, a=-0.04, b=0.04), 1e-7),     # normal draws, redrawn
    ("trunc_normal_", dict(mean=0.5, std=1.5, a=1.0, b=1.5), 1e-7),   # uniform, accepted
    ("xavier_uniform_", dict(gain=2.0), 0),
    ("xavier_normal_", dict(gain=0.5), 1e-7),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), 0),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), 1e-7),
    ("orthogonal_", dict(gain=1.5), 1e-5),
]


@pytest.mark.parametrize("shape", [(30, 20), (6, 3, 5, 5), (4, 7)])
@pytest.mark.parametrize("name, kwargs, atol", STREAM_FILLS, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_init_with_torch_stream_gives_torch_values(name, kwargs, atol, shape, dtype):
    ours = getattr(init, name)(cr.empty(*shape, dtype=getattr(cr, dtype)),
                               generator=TorchStream(3), **kwargs)
    theirs = getattr(torch.nn.init, name)(torch.empty(*shape, dtype=getattr(torch, dtype)),
                                          generator=torch.Generator().manual_seed(3), **kwargs)
    assert ours.dtype == np.dtype(dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=atol)


@pytest.mark.parametrize("make", [
    lambda m: m.Linear(20, 7), lambda m: m.Conv2d(3, 6, 5), lambda m: m.Conv2d(4, 8, 3, groups=2),
    lambda m: m.Linear(5, 3, bias=False)])
def test_layers_draw_torchs_initial_weights_from_the_same_stream(make, monkeypatch):
    """Linear and Conv2d draw weight then bias, as torch: with the global generator replaced
    by a torch-backed stream, the initial weights are torch's bit for bit."""
    monkeypatch.setattr(cr.random, "default_generator", TorchStream(11))
    ours = make(nn)
    torch.manual_seed(11)
    theirs = make(torch.nn)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=name)


def test_eye_dirac_and_errors_match_torch():
    np.testing.assert_array_equal(init.eye_(cr.empty(3, 5)).numpy(),
                                  torch.nn.init.eye_(torch.empty(3, 5)).numpy())
    for shape, groups in (((4, 2, 3, 3), 1), ((6, 3, 3), 2), ((2, 4, 3, 3, 3), 2)):
        np.testing.assert_array_equal(init.dirac_(cr.empty(*shape), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(cr.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(cr.empty(3))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(cr.empty(3, 3))
    with pytest.raises(TypeError, match="generator must be a chainrule.Generator"):
        init.uniform_(cr.empty(2), generator=torch.Generator())
