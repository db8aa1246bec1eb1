"""F.pad (constant incl. negative widths, reflect, replicate, circular) and F.interpolate /
nn.Upsample (nearest, nearest-exact, linear, bilinear, trilinear; size or scale_factor,
align_corners, recompute_scale_factor) against torch: values, gradients and second order on
hypothesis shapes (batch 0 and 1, size 1), node names, float64 gradcheck/gradgradcheck, and
the errors (PyTorch's rules on which ranks each pad mode supports)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from helpers import module_parity


def _fn(name: str):
    return lambda lib: getattr(torch.nn.functional if lib is torch else F, name)


# ============================================================================ pad
@st.composite
def pad_cases(draw, mode):
    k = draw(st.integers(1, 3))
    batched = draw(st.booleans())
    lead = (draw(st.sampled_from([0, 1, 2])), 2) if batched else (2,)
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(k))
    widths = []
    for n in reversed(spatial):  # last dimension first
        hi = {"reflect": n - 1, "replicate": 4, "circular": n}[mode]
        lo = -((n - 1) // 2) if mode != "circular" else -(n // 2)
        a = draw(st.integers(lo, hi))
        if mode != "circular":
            widths += [a, draw(st.integers(lo, hi))]
            continue
        # circular: a width wraps around at most what is left after the other side's crop
        b = draw(st.integers(lo, n - max(-a, 0)))
        widths += [min(a, n - max(-b, 0)), b]
    return lead + spatial, tuple(widths)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_pad_modes_match_torch(mode, data):
    shape, widths = data.draw(pad_cases(mode))
    x = np.random.default_rng(0).standard_normal(shape)
    assert_parity(lambda lib, x: _fn("pad")(lib)(x, widths, mode=mode), x, second_order=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4), st.data())
def test_constant_pad_with_negative_widths_matches_torch(shape, data):
    widths = []
    for n in reversed(shape[len(shape) - data.draw(st.integers(0, len(shape))):]):
        lo = data.draw(st.integers(-n, 2))
        widths += [lo, data.draw(st.integers(-(n + min(lo, 0)), 2))]
    value = data.draw(st.sampled_from([None, 0.0, -1.5]))
    x = np.random.default_rng(1).standard_normal(shape)
    assert_parity(lambda lib, x: _fn("pad")(lib)(x, widths, value=value), x, second_order=True)


def test_pad_node_names_and_integer_input():
    x = cr.ones(1, 2, 3, 3, requires_grad=True)
    names = {m: F.pad(x, (1, 1, 1, 1), mode=m).grad_fn.name() for m in
             ("constant", "reflect", "replicate")}
    assert names == {"constant": "ConstantPadNdBackward0",
                     "reflect": "ReflectionPad2DBackward0",
                     "replicate": "ReplicationPad2DBackward0"}
    xi = np.arange(12).reshape(1, 3, 4)
    for m in ("reflect", "replicate", "circular"):
        np.testing.assert_array_equal(
            F.pad(cr.tensor(xi), (2, 1), mode=m)._data,
            torch.nn.functional.pad(torch.tensor(xi), (2, 1), mode=m).numpy())


@pytest.mark.parametrize("shape,widths,kwargs,exc,message", [
    ((1, 3, 4), (4, 0), dict(mode="reflect"), RuntimeError, "should be less than"),
    ((1, 3, 4), (5, 0), dict(mode="circular"), RuntimeError, "wrapping around more than once"),
    ((1, 3, 4), (-2, -2), dict(mode="reflect"), RuntimeError, "too small"),
    ((1, 3, 4), (1, 1), dict(mode="reflect", value=1.0), RuntimeError,
     "doesn't take in value argument"),
    ((2, 0, 4), (1, 1), dict(mode="replicate"), RuntimeError, "other non-zero dimensions"),
    ((4,), (1, 1), dict(mode="reflect"), NotImplementedError,
     "Padding size 2 is not supported for 1D input"),
    ((2, 2, 2, 2), (1, 1), dict(mode="circular"), NotImplementedError,
     "Padding size 2 is not supported for 4D input"),
    ((1, 3, 4), (1, 2), dict(mode="foo"), NotImplementedError, "Unrecognised padding mode"),
    ((1, 3, 4), (1, 2, 3), {}, RuntimeError, "Padding length must be divisible by 2"),
    ((1, 3, 4), (1,) * 8, {}, RuntimeError, "less than or equal to two times"),
    ((1, 3, 4), (-3, -2), {}, RuntimeError, "resulted in a negative output size"),
])
def test_pad_errors_match_torch(shape, widths, kwargs, exc, message):
    x = np.zeros(shape)
    with pytest.raises(exc):
        torch.nn.functional.pad(torch.tensor(x), widths, **kwargs)
    with pytest.raises(exc, match=message):
        F.pad(cr.tensor(x), widths, **kwargs)


# ============================================================================ interpolate
SPATIAL = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,),
           "bilinear": (2,), "trilinear": (3,)}


@st.composite
def interp_cases(draw, mode):
    k = draw(st.sampled_from(SPATIAL[mode]))
    n = draw(st.sampled_from([0, 1, 2]))
    shape = (n, 2) + tuple(draw(st.integers(1, 5)) for _ in range(k))
    kw: dict = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 9)) for _ in range(k))
        if k == 1 and draw(st.booleans()):
            kw["size"] = kw["size"][0]
    else:
        scale = [draw(st.sampled_from([0.5, 0.7, 1.0, 1.3, 2.0, 2.5, 3.0])) for _ in range(k)]
        if any(int(s * f) < 1 for s, f in zip(shape[2:], scale)):
            scale = [2.0] * k
        kw["scale_factor"] = scale if draw(st.booleans()) or len(set(scale)) > 1 else scale[0]
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in ("linear", "bilinear", "trilinear"):
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    return shape, kw


@pytest.mark.parametrize("mode", list(SPATIAL))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_interpolate_matches_torch(mode, data):
    shape, kw = data.draw(interp_cases(mode))
    x = np.random.default_rng(2).standard_normal(shape)
    assert_parity(lambda lib, x: _fn("interpolate")(lib)(x, **kw), x, second_order=True)
    assert_parity(lambda lib, x: _fn("interpolate")(lib)(x, **kw), x.astype(np.float32),
                  atol=1e-5)


def test_interpolate_node_names_and_gradchecks():
    x = cr.tensor(np.random.default_rng(3).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert F.interpolate(x, scale_factor=2).grad_fn.name() == "UpsampleNearest2DBackward0"
    assert F.interpolate(x, size=(5, 7), mode="bilinear").grad_fn.name() == \
        "UpsampleBilinear2DBackward0"
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear"), (x,))
    assert gradgradcheck(lambda x: F.interpolate(x, size=(2, 5), mode="bilinear",
                                                 align_corners=True), (x,))
    assert gradgradcheck(lambda x: F.pad(x, (1, 2, 2, 0), mode="reflect"), (x,))


@pytest.mark.parametrize("shape,kwargs,exc,message", [
    ((1, 2, 4), dict(size=3, scale_factor=2), ValueError, "only one of size or scale_factor"),
    ((1, 2, 4), dict(), ValueError, "either size or scale_factor"),
    ((1, 2, 4), dict(size=(3, 3)), ValueError, "same number of spatial dimensions"),
    ((1, 2, 4), dict(scale_factor=(2, 2)), ValueError, "same number of spatial dimensions"),
    ((1, 2, 4), dict(size=3, align_corners=True), ValueError, "align_corners option"),
    ((1, 2, 4), dict(size=3, recompute_scale_factor=True), ValueError, "not meaningful"),
    ((1, 2, 4), dict(size=3, mode="bilinear"), NotImplementedError, "bilinear mode needs 4D"),
    ((2, 4), dict(size=3), NotImplementedError, "Only 3D, 4D and 5D input"),
    ((1, 2, 4), dict(size=0), RuntimeError, "greater than 0"),
])
def test_interpolate_errors_match_torch(shape, kwargs, exc, message):
    x = np.zeros(shape)
    with pytest.raises(exc):
        torch.nn.functional.interpolate(torch.tensor(x), **kwargs)
    with pytest.raises(exc, match=message):
        F.interpolate(cr.tensor(x), **kwargs)


@pytest.mark.parametrize("cls,kwargs", [
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(size=(3, 7), mode="bilinear", align_corners=True)),
    ("Upsample", dict(scale_factor=(1.5, 0.5), mode="bilinear", recompute_scale_factor=True)),
    ("Upsample", dict(scale_factor=2, mode="nearest-exact")),
    ("UpsamplingNearest2d", dict(size=5)),
    ("UpsamplingBilinear2d", dict(scale_factor=2)),
], ids=str)
def test_upsample_modules_match_torch(cls, kwargs):
    ours, theirs = getattr(nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5)).astype(np.float32)
    module_parity(ours, theirs, x)
