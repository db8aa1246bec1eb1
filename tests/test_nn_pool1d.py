"""MaxPool1d, AvgPool1d, AdaptiveAvgPool1d (modules and F.max_pool1d, F.avg_pool1d,
F.adaptive_avg_pool1d) against torch: outputs, gradients and second order on hypothesis shapes
(batch 0 and 1, length 1, unbatched), ties, return_indices, ceil_mode, count_include_pad,
dilation, reprs, float64 gradcheck/gradgradcheck, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from helpers import module_parity


def _fn(name: str):
    return lambda lib: getattr(torch.nn.functional if lib is torch else F, name)


@st.composite
def windows(draw, dilated: bool):
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    d = draw(st.integers(1, 2)) if dilated else 1
    ceil = draw(st.booleans())
    length = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 8))
    lead = draw(st.sampled_from([(0, 2), (1, 1), (2, 3), (3,)]))  # (3,): unbatched (C, L)
    # a window whose dilated taps all fall in the padding: torch's index points outside the
    # input (a documented difference of max_pool2d, see chainrule.ops.pool)
    out = cr.ops.pool.pool_output_size(length, k, s, p, d, ceil)
    assume(all(any(0 <= i * s - p + j * d < length for j in range(k)) for i in range(out)))
    return lead + (length,), dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil), d


@settings(max_examples=30, deadline=None)
@given(windows(dilated=True), st.booleans())
def test_max_pool1d_matches_torch(case, ties):
    shape, kw, d = case
    r = np.random.default_rng(0)
    x = r.integers(0, 2, shape).astype(np.float64) if ties else r.standard_normal(shape)
    assert_parity(lambda lib, x: _fn("max_pool1d")(lib)(x, dilation=d, **kw), x,
                  second_order=True)
    assert_parity(lambda lib, x: _fn("max_pool1d")(lib)(x, dilation=d, return_indices=True,
                                                        **kw), x)


@settings(max_examples=30, deadline=None)
@given(windows(dilated=False), st.booleans())
def test_avg_pool1d_matches_torch(case, count_include_pad):
    shape, kw, _ = case
    x = np.random.default_rng(1).standard_normal(shape)
    assert_parity(lambda lib, x: _fn("avg_pool1d")(lib)(x, count_include_pad=count_include_pad,
                                                        **kw), x, second_order=True)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([(2, 3), (1, 2), (0, 2), (3,)]), st.integers(1, 9), st.integers(1, 9))
def test_adaptive_avg_pool1d_matches_torch(lead, length, out):
    x = np.random.default_rng(2).standard_normal(lead + (length,))
    assert_parity(lambda lib, x: _fn("adaptive_avg_pool1d")(lib)(x, out), x, second_order=True)
    assert_parity(lambda lib, x: _fn("adaptive_avg_pool1d")(lib)(x, (out,)),
                  x.astype(np.float32), atol=1e-6)


def test_adaptive_avg_pool1d_empty_output_and_channels():
    for shape, out in [((2, 3, 5), 0), ((2, 0, 5), 3)]:
        x = np.zeros(shape)
        ours = F.adaptive_avg_pool1d(cr.tensor(x), out)
        assert ours.shape == tuple(torch.nn.functional.adaptive_avg_pool1d(
            torch.tensor(x), out).shape)


def test_gradcheck_float64():
    r = np.random.default_rng(3)
    x = cr.tensor(r.standard_normal((2, 2, 7)), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool1d(x, 3, 2, 1, dilation=2, ceil_mode=True), (x,))
    assert gradgradcheck(lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), (x,))
    assert gradgradcheck(lambda x: F.adaptive_avg_pool1d(x, 4), (x,))


MODULES = [("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
           ("MaxPool1d", dict(kernel_size=2)),
           ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                              count_include_pad=False)),
           ("AvgPool1d", dict(kernel_size=(2,))),
           ("AdaptiveAvgPool1d", dict(output_size=3)),
           ("AdaptiveAvgPool1d", dict(output_size=4))]


@pytest.mark.parametrize("cls,kwargs", MODULES, ids=lambda a: str(a))
def test_modules_match_torch(cls, kwargs):
    ours, theirs = getattr(nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(4).standard_normal((2, 3, 8)).astype(np.float32)
    module_parity(ours, theirs, x)
    module_parity(ours, theirs, x[0])


def test_max_pool1d_module_return_indices():
    x = np.array([[[1.0, 3.0, 3.0, 0.0, 5.0, 5.0]]], np.float32)
    ours, theirs = nn.MaxPool1d(3, 1, return_indices=True), \
        torch.nn.MaxPool1d(3, 1, return_indices=True)
    (y, i), (yt, it) = ours(cr.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_array_equal(y._data, yt.numpy())
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i._data, it.numpy())


@pytest.mark.parametrize("name,shape,args,message", [
    ("max_pool1d", (2, 5, 10), (3, 1, 2), "padding should be at most half of kernel size"),
    ("max_pool1d", (2, 5, 10), (0,), "kernel_size must be greater than zero"),
    ("max_pool1d", (2, 5, 10), (11,), "Invalid computed output size"),
    ("max_pool1d", (2, 5, 10, 2), (2,), r"Expected 2D or 3D \(batch mode\) tensor"),
    ("max_pool1d", (10,), (2,), r"Expected 2D or 3D \(batch mode\) tensor"),
    ("max_pool1d", (2, 5, 10), (3, 0), "stride must be greater than zero"),
    ("max_pool1d", (2, 5, 10), ((3, 2),), "tuple of ints of size 1 but got size 2"),
    ("avg_pool1d", (2, 5, 10), (3, 1, 2), "half of"),
    ("adaptive_avg_pool1d", (2, 5, 10), ((3, 2),), "should contain one int"),
    ("adaptive_avg_pool1d", (2, 5, 10, 3), (3,), "Expected 2 to 3 dimensions"),
    ("adaptive_avg_pool1d", (5, 10), (-1,), "greater than or equal to 0"),
])
def test_errors_match_torch(name, shape, args, message):
    x = np.zeros(shape, np.float32)
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch.nn.functional, name)(torch.tensor(x), *args)
    with pytest.raises(type(theirs.value), match=message):
        getattr(F, name)(cr.tensor(x), *args)
    with pytest.raises(TypeError, match="floating"):
        getattr(F, name)(cr.zeros(2, 3, 4, dtype=cr.int64), 2)
