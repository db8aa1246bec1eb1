"""Conv2d against torch with copied weights (stride, padding incl. 'same'/'valid', dilation,
groups, no bias), float64 gradcheck, repr, and the channel-mismatch and argument errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import gradcheck, gradgradcheck
from helpers import module_parity

CONFIGS = [
    dict(in_channels=1, out_channels=6, kernel_size=5, padding=2),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2),
    dict(in_channels=3, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    dict(in_channels=2, out_channels=4, kernel_size=3, dilation=2, padding="valid"),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),  # asymmetric padding
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, bias=False, padding="same"),
]


@pytest.fixture
def rng() -> np.random.Generator:
    cr.manual_seed(0)
    torch.manual_seed(0)
    return np.random.default_rng(0)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in
                                                                   k.items()))
def test_conv2d_matches_torch(rng, kwargs):
    ours, theirs = nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, kwargs["in_channels"], 9, 8)).astype(np.float32)
    module_parity(ours, theirs, x, atol=1e-4)


def test_conv2d_unbatched_input(rng):
    module_parity(nn.Conv2d(2, 3, 3), torch.nn.Conv2d(2, 3, 3),
                  rng.standard_normal((2, 6, 6)).astype(np.float32))


def test_conv2d_gradcheck_float64(rng):
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    x = cr.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    assert gradcheck(layer, (x,))
    assert gradgradcheck(lambda a: layer(a).tanh(), (x,))


def test_conv2d_channel_mismatch_names_channels_and_shapes():
    with pytest.raises(ValueError, match=r"expected input with 3 channels \(weight shape "
                                         r"\(16, 3, 3, 3\), groups=1\), got 1 channels \(input "
                                         r"shape \(8, 1, 28, 28\)\)"):
        nn.Conv2d(3, 16, 3)(cr.zeros(8, 1, 28, 28))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(groups=2), ValueError, r"in_channels \(3\) must be divisible by groups \(2\)"),
    (dict(padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (dict(padding="same", stride=2), ValueError, "padding='same' is not supported for strided"),
    (dict(padding="full"), ValueError, "invalid padding string 'full'"),
    (dict(stride=0), ValueError, "stride must be positive"),
    (dict(kernel_size=(3, 3, 3)), TypeError, "kernel_size must be an int or a pair of ints"),
])
def test_conv2d_argument_errors(kwargs, error, message):
    args = dict(in_channels=3, out_channels=4, kernel_size=3) | kwargs
    with pytest.raises(error, match=message):
        nn.Conv2d(**args)


def test_conv2d_parameters():
    conv = nn.Conv2d(3, 8, (5, 3), groups=1, bias=False)
    assert conv.weight.shape == (8, 3, 5, 3) and conv.bias is None
    assert [n for n, _ in conv.named_parameters()] == ["weight"]
