"""Dropout and Dropout2d: inverted scaling, the drop rate (whole channels for Dropout2d), eval
is the identity, the mask comes from the global generator and routes the gradient, p validated
like torch, and Dropout2d's warnings for inputs that are not 4-D, as torch's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


@pytest.fixture(autouse=True)
def seed() -> None:
    cr.manual_seed(0)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_drops_at_rate_p_and_scales_survivors(p):
    y = nn.Dropout(p)(cr.ones(100_000))._data
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    assert abs(y.mean() - 1) < 0.02  # inverted dropout keeps the expectation


def test_eval_mode_is_identity_and_train_mode_is_not():
    drop = nn.Dropout(0.5)
    x = cr.randn(3, 4)
    assert drop.eval()(x) is x
    with nn.train_mode(drop):
        assert not np.array_equal(drop(x)._data, x._data)
    assert not drop.training


def test_mask_is_reproducible_from_the_global_seed():
    cr.manual_seed(3)
    a = nn.Dropout(0.5)(cr.ones(50))._data
    cr.manual_seed(3)
    b = nn.Dropout(0.5)(cr.ones(50))._data
    c = nn.Dropout(0.5)(cr.ones(50))._data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_gradient_flows_through_kept_units_only():
    x = cr.ones(1000, requires_grad=True)
    y = nn.functional.dropout(x, 0.25)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, y._data)  # d(sum)/dx = mask / (1 - p)


def test_edge_probabilities():
    x = cr.ones(10)
    assert nn.functional.dropout(x, 0.0) is x
    assert nn.functional.dropout(x, 1.0).tolist() == [0.0] * 10
    assert torch.nn.functional.dropout(torch.ones(10), 1.0).tolist() == [0.0] * 10


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"])
def test_invalid_p(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.functional.dropout(cr.ones(2), p)


def test_repr_matches_torch():
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))


# ============================================================================ Dropout2d
def test_dropout2d_repr_and_p_checks_match_torch():
    for kwargs in ({}, {"p": 0.3}, {"p": 0.3, "inplace": True}, {"p": 0}, {"p": 1}):
        assert repr(nn.Dropout2d(**kwargs)) == repr(torch.nn.Dropout2d(**kwargs))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            torch.nn.Dropout2d(p)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                             f"but got {p}"):
            nn.Dropout2d(p)
        with pytest.raises(ValueError, match="dropout2d: dropout probability"):
            nn.functional.dropout2d(cr.ones(1, 1, 1, 1), p)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout2d_zeroes_whole_channels_at_rate_p_and_scales_by_1_over_1_minus_p(p, dtype):
    x = np.random.default_rng(0).uniform(1, 2, (200, 50, 3, 4)).astype(dtype)
    y = nn.Dropout2d(p)(cr.tensor(x)).numpy()
    assert y.dtype == dtype and y.shape == x.shape
    kept = (y != 0).reshape(200, 50, -1)
    assert (kept.all(-1) | ~kept.any(-1)).all()  # each (n, c) map kept or dropped whole
    rate = 1 - kept[..., 0].mean()
    assert abs(rate - p) < 0.02  # 10,000 channel draws
    scale = np.asarray(1, dtype) / np.asarray(1 - p, dtype)  # torch's noise.div_(1 - p)
    np.testing.assert_array_equal(y[y != 0], (x * scale)[y != 0])
    # torch's layer has the same statistics
    yt = torch.nn.Dropout2d(p)(torch.tensor(x)).numpy()
    kept_t = (yt != 0).reshape(200, 50, -1)
    assert (kept_t.all(-1) | ~kept_t.any(-1)).all()
    assert abs((1 - kept_t[..., 0].mean()) - rate) < 0.04
    np.testing.assert_allclose(yt[yt != 0], (x * scale)[yt != 0], rtol=1e-6)


def test_dropout2d_gradient_is_the_mask_over_1_minus_p():
    x = cr.tensor(np.random.default_rng(1).standard_normal((4, 6, 2, 3)), requires_grad=True)
    y = nn.Dropout2d(0.4)(x)
    v = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(cr.tensor(v))
    mask = (y.detach().numpy() != 0) / 0.6
    np.testing.assert_allclose(x.grad.numpy(), v * mask, rtol=1e-12)
    assert x.grad.dtype == np.float64


def test_dropout2d_eval_mode_is_the_identity_like_torch():
    for lib in (cr, torch):
        drop = lib.nn.Dropout2d(0.5).eval()
        x = lib.ones(2, 3, 4, 4)
        assert drop(x) is x  # the same tensor, no copy
    drop = nn.Dropout2d(0.5)
    x = cr.randn(2, 3, 4, 4)
    with nn.train_mode(drop):
        assert not np.array_equal(drop(x).numpy(), x.numpy())
    assert drop.training  # train_mode restores the mode it found


def test_dropout2d_edge_probabilities_like_torch():
    for lib in (cr, torch):
        x = lib.ones(2, 3, 2, 2, requires_grad=True)
        assert lib.nn.Dropout2d(0.0)(x) is x  # p=0: no draw, the input itself
        y = lib.nn.Dropout2d(1.0)(x)  # p=1: everything zeroed, gradients too
        y.sum().backward()
        assert y.detach().numpy().tolist() == np.zeros((2, 3, 2, 2)).tolist()
        assert x.grad.numpy().tolist() == np.zeros((2, 3, 2, 2)).tolist()
        empty = lib.ones(0, 3, 2, 2)
        assert tuple(lib.nn.Dropout2d(0.5)(empty).shape) == (0, 3, 2, 2)


def test_dropout2d_mask_is_reproducible_from_the_global_seed():
    cr.manual_seed(5)
    a = nn.Dropout2d(0.5)(cr.ones(8, 16, 2, 2)).numpy()
    cr.manual_seed(5)
    b = nn.Dropout2d(0.5)(cr.ones(8, 16, 2, 2)).numpy()
    np.testing.assert_array_equal(a, b)


def _warnings(fn, lib):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(lib)
    return out, [str(w.message) for w in caught], [w.filename for w in caught]


def test_dropout2d_of_a_3d_input_drops_1d_channels_with_torch_warning():
    fn = lambda lib: lib.nn.Dropout2d(0.5)(lib.ones(40, 30, 5))  # noqa: E731
    (yo, msgs_o, files_o), (yt, msgs_t, _) = _warnings(fn, cr), _warnings(fn, torch)
    assert len(msgs_o) == len(msgs_t) == 1
    assert msgs_o[0].startswith("dropout2d: Received a 3D input to dropout2d and assuming that "
                                "channel-wise 1D dropout behavior is desired")
    assert msgs_t[0].startswith(msgs_o[0][:100])
    assert files_o[0].endswith("dropout.py")  # the layer's call, as torch's stacklevel=2
    for y in (yo.numpy(), yt.numpy()):  # read as (N, C, L): whole rows of L zeroed
        assert y.shape == (40, 30, 5)
        assert ((y == 0).all(-1) | (y == 2).all(-1)).all()
        assert 0.3 < (y[..., 0] == 0).mean() < 0.7
    # the warning comes in eval mode too, as torch's
    fn_eval = lambda lib: lib.nn.Dropout2d(0.5).eval()(lib.ones(2, 3, 4))  # noqa: E731
    assert len(_warnings(fn_eval, cr)[1]) == len(_warnings(fn_eval, torch)[1]) == 1


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4, 5, 6)])
def test_dropout2d_of_other_ranks_warns_and_drops_along_dim_1_like_torch(shape):
    fn = lambda lib: lib.nn.Dropout2d(0.5)(lib.ones(*shape))  # noqa: E731
    (yo, msgs_o, _), (yt, msgs_t, _) = _warnings(fn, cr), _warnings(fn, torch)
    assert len(msgs_o) == len(msgs_t) == 1
    want = f"dropout2d: Received a {len(shape)}-D input to dropout2d, which is deprecated"
    assert msgs_o[0].startswith(want) and msgs_t[0].startswith(want)
    for y in (yo.numpy(), yt.numpy()):
        flat = y.reshape(shape[0], shape[1], -1)
        assert ((flat == 0).all(-1) | (flat == 2).all(-1)).all()


def test_dropout2d_of_a_1d_input_fails_like_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
            torch.nn.Dropout2d(0.5)(torch.ones(3))
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
            nn.Dropout2d(0.5)(cr.ones(3))


def test_dropout2d_of_an_integer_input_is_refused_like_torch():
    with pytest.raises(RuntimeError):
        torch.nn.Dropout2d(0.5)(torch.ones(1, 3, 2, 2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
        nn.Dropout2d(0.5)(cr.ones(1, 3, 2, 2, dtype=cr.int64))
    for p, want in ((0.0, 1), (1.0, 0)):  # nothing random: the input, or zeros, as torch
        assert nn.Dropout(p)(cr.ones(4, dtype=cr.int64)).tolist() == [want] * 4
