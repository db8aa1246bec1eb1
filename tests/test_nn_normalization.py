"""BatchNorm1d/2d against torch with copied weights and buffers: train mode (batch statistics,
running-average updates over several steps, momentum None), eval mode, affine and
track_running_stats off, float64 gradcheck, reprs, and the input-rank/channel errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import gradcheck, gradgradcheck
from helpers import module_parity

# every test runs twice: with the compiled kernels (Numba) and with the NumPy formulas
pytestmark = pytest.mark.usefixtures("kernel_mode")

SHAPES = {"BatchNorm1d": [(8, 3), (4, 3, 5)], "BatchNorm2d": [(4, 3, 5, 6)]}
OPTIONS = [dict(), dict(momentum=None), dict(momentum=0.3, eps=1e-3), dict(affine=False),
           dict(track_running_stats=False), dict(bias=False)]
CASES = [(name, shape, opts) for name, shapes in SHAPES.items() for shape in shapes
         for opts in OPTIONS]


def _ids(case) -> str:
    name, shape, opts = case
    return f"{name}-{shape}-" + ",".join(f"{k}={v}" for k, v in opts.items())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_batch_norm_matches_torch(rng, case, train):
    name, shape, opts = case
    ours, theirs = getattr(nn, name)(3, **opts), getattr(torch.nn, name)(3, **opts)
    assert repr(ours) == repr(theirs)
    if theirs.track_running_stats:  # start from non-trivial running statistics
        theirs.running_mean.uniform_(-1, 1)
        theirs.running_var.uniform_(0.5, 2)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    module_parity(ours, theirs, x, train=train, steps=3)


def test_train_updates_running_stats_and_eval_uses_them(rng):
    bn = nn.BatchNorm2d(2, momentum=0.5)
    x = cr.tensor((rng.standard_normal((6, 2, 3, 3)) * 3 + 5).astype(np.float32))
    bn(x)
    mean = x._data.mean(axis=(0, 2, 3))
    var = x._data.var(axis=(0, 2, 3), ddof=1)  # the running variance is unbiased
    np.testing.assert_allclose(bn.running_mean._data, 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var._data, 0.5 + 0.5 * var, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    before = {k: v._data.copy() for k, v in bn.state_dict().items()}
    y = bn(x)
    expected = (x._data - bn.running_mean._data.reshape(1, 2, 1, 1)) / np.sqrt(
        bn.running_var._data.reshape(1, 2, 1, 1) + bn.eps)
    np.testing.assert_allclose(y._data, expected, rtol=1e-5, atol=1e-6)
    for k, v in bn.state_dict().items():  # eval changes nothing
        np.testing.assert_array_equal(v._data, before[k])


def test_momentum_none_is_a_cumulative_average(rng):
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [rng.standard_normal((5, 2)).astype(np.float32) + k for k in range(3)]
    for b in batches:
        bn(cr.tensor(b))
    np.testing.assert_allclose(bn.running_mean._data, np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5)
    assert bn.num_batches_tracked.item() == 3


def test_batch_norm_gradcheck_float64(rng):
    bn = nn.BatchNorm2d(2, track_running_stats=False).double()
    bn.weight._data[:] = [0.5, 2.0]
    x = cr.tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    assert gradcheck(lambda a, w, b: nn.functional.batch_norm(a, None, None, w, b, True),
                     (x, bn.weight, bn.bias))
    assert gradgradcheck(bn, (x,))
    bn1 = nn.BatchNorm1d(2).double().eval()
    assert gradcheck(bn1, (cr.tensor(rng.standard_normal((3, 2)), requires_grad=True),))


def test_input_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 2D input"):
        nn.BatchNorm2d(3)(cr.zeros(4, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D "
                                         r"input"):
        nn.BatchNorm1d(3)(cr.zeros(4, 3, 2, 2))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input with 3 channels "
                                         r"in dimension 1, got 6 \(input shape \(2, 6, 4, 4\)\)"):
        nn.BatchNorm2d(3)(cr.zeros(2, 6, 4, 4))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size \(1, 3\)"):
        nn.BatchNorm1d(3)(cr.zeros(1, 3))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm2d(0)


def test_parameters_and_buffers_like_torch():
    for opts in OPTIONS:
        ours, theirs = nn.BatchNorm2d(4, **opts), torch.nn.BatchNorm2d(4, **opts)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for k, v in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[k]._data, v.numpy())


@pytest.mark.parametrize("opts", [dict(), dict(bias=False), dict(affine=False),
                                  dict(track_running_stats=False)], ids=str)
def test_reset_parameters_matches_torch(rng, opts):
    """``reset_parameters()`` exists, as in torch: running statistics back to 0/1/0 and the
    affine weight and bias back to 1 and 0 (a model-wide re-init loop reaches BatchNorm)."""
    x = rng.standard_normal((6, 3)).astype(np.float32)
    states = []
    for lib in (cr, torch):
        bn = lib.nn.BatchNorm1d(3, **opts)
        bn(lib.tensor(x))
        if bn.weight is not None:
            bn.weight.data[...] = 3.0  # both: a plain write to the parameter's storage
        bn.reset_parameters()
        states.append({k: np.asarray(v.detach().numpy()).tolist()
                       for k, v in bn.state_dict().items()})
    assert states[0] == states[1]
    if opts.get("track_running_stats", True):
        assert states[0]["running_mean"] == [0.0] * 3 and states[0]["num_batches_tracked"] == 0
    if opts.get("affine", True):
        assert states[0]["weight"] == [1.0] * 3


# ----------------------------------------------------------------------------- issue 20
@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (0, 3)), ("BatchNorm1d", (0, 3, 5)),
                                        ("BatchNorm1d", (4, 3, 0)), ("BatchNorm2d", (0, 3, 4, 4))])
@pytest.mark.parametrize("opts", [dict(), dict(track_running_stats=False), dict(affine=False)])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_an_empty_batch_matches_torch(name, shape, opts, train):
    # regression: eval mode raised a reshape error, training refused N = 0; torch gives an
    # empty output, zero parameter gradients, untouched running statistics and (in training)
    # counts the batch in num_batches_tracked
    ours, theirs = getattr(nn, name)(3, **opts), getattr(torch.nn, name)(3, **opts)
    module_parity(ours, theirs, np.zeros(shape, np.float32), train=train, steps=2)


def test_a_batch_of_one_in_training_says_why_like_torch():
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size torch.Size\(\[1, 3\]\)"):
        torch.nn.BatchNorm1d(3)(torch.zeros(1, 3))
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size \(1, 3\)"):
        bn(cr.zeros(1, 3))
    assert bn.eval()(cr.zeros(1, 3)).shape == (1, 3)  # evaluation mode takes one sample
