"""Flatten and Unflatten: shapes, gradients and reprs as torch's, and the size error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity


@pytest.mark.parametrize("args", [(), (0,), (1, 2), (-3, -2)])
def test_flatten_matches_torch(args):
    x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    assert_parity(lambda lib, a: lib.nn.Flatten(*args)(a), x)
    assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))


@pytest.mark.parametrize("dim, sizes", [(1, (3, 4)), (-1, (2, -1)), (0, (1, 2))])
def test_unflatten_matches_torch(dim, sizes):
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    assert_parity(lambda lib, a: lib.nn.Unflatten(dim, sizes)(a).sum(-1), x)
    assert repr(nn.Unflatten(dim, sizes)) == repr(torch.nn.Unflatten(dim, sizes))


def test_flatten_then_unflatten_round_trips():
    x = cr.randn(8, 16, 5, 5)
    y = nn.Unflatten(1, (16, 5, 5))(nn.Flatten()(x))
    np.testing.assert_array_equal(x._data, y._data)


def test_unflatten_size_error():
    with pytest.raises(ValueError, match=r"Unflatten: unflattened_size \(5, 5\) does not "
                                         r"multiply to the size 24 of dim 1"):
        nn.Unflatten(1, (5, 5))(cr.zeros(2, 24))
    with pytest.raises(IndexError, match="dim 3 is out of range"):
        nn.Unflatten(3, (1,))(cr.zeros(2, 24))
