"""nn.SyncBatchNorm and chainrule.distributed.sync_batch_norm in a world of one: the module is
exactly BatchNorm (and matches torch's BatchNorm), the Function matches torch's training-mode
batch_norm (values, gradients, second order; hypothesis shapes incl. size-0 batches and size-1
spatial axes), gradcheck/gradgradcheck in float64, convert_sync_batchnorm, and errors; the
function is batch_norm to the bit where the compiled loops run; the merge of the ranks'
statistics. Two or more ranks: tests/distributed/sync_batch_norm_shards.py (uneven and empty
shards, launched here) and tests/distributed/ddp_lenet.py (training, test_distributed.py)."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.nn.functional import batch_norm
from helpers import module_parity
from test_distributed import assert_ok, launch

_sbn = importlib.import_module("chainrule.distributed.sync_batch_norm")  # the package's
# attribute of that name is the function

pytestmark = pytest.mark.usefixtures("kernel_mode")


def _sync_or_torch(lib, x, w, b):
    if lib is torch:
        return torch.nn.functional.batch_norm(x, None, None, w, b, training=True)
    return dist.sync_batch_norm(x, None, None, w, b)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), max_size=2),
       seed=st.integers(0, 2 ** 16))
def test_sync_batch_norm_function_matches_torch_batch_norm(n, c, spatial, seed):
    shape = (n, c, *spatial)
    if n * int(np.prod(spatial)) < 2:  # one value per channel: torch raises (tested below)
        return
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape) * 2 + 1
    w, b = r.standard_normal(c), r.standard_normal(c)
    assert_parity(_sync_or_torch, x, w, b, atol=1e-6, rtol=1e-5, second_order=True)
    assert_parity(_sync_or_torch, x.astype(np.float32), w.astype(np.float32),
                  b.astype(np.float32), atol=1e-4, rtol=1e-4)


def test_sync_batch_norm_empty_batch_matches_torch():
    x = np.zeros((0, 3, 2), np.float32)
    assert_parity(_sync_or_torch, x, np.ones(3, np.float32), np.zeros(3, np.float32))


def test_sync_batch_norm_gradcheck_float64():
    r = np.random.default_rng(1)
    x = cr.tensor(r.standard_normal((3, 2, 4)), requires_grad=True)
    w = cr.tensor(r.standard_normal(2), requires_grad=True)
    b = cr.tensor(r.standard_normal(2), requires_grad=True)
    f = lambda x, w, b: dist.sync_batch_norm(x, None, None, w, b)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_sync_batch_norm_updates_running_stats_as_batch_norm():
    r = np.random.default_rng(2)
    x = cr.tensor(r.standard_normal((5, 3, 2, 2)).astype(np.float32) * 3 + 1)
    rm1, rv1, rm2, rv2 = cr.zeros(3), cr.ones(3), cr.zeros(3), cr.ones(3)
    dist.sync_batch_norm(x, rm1, rv1, momentum=0.3)
    nn.functional.batch_norm(x, rm2, rv2, training=True, momentum=0.3)
    np.testing.assert_allclose(rm1.numpy(), rm2.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rv1.numpy(), rv2.numpy(), rtol=1e-6, atol=1e-7)


def _fwd_bwd(f, x, gy, w, b, rm, rv):
    x, w, b = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = cr.tensor(rm.copy()), cr.tensor(rv.copy())
    y = f(x, rm, rv, w, b)
    y.backward(cr.tensor(gy))
    return [t.numpy() for t in (y.detach(), x.grad, w.grad, b.grad, rm, rv)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 3), (4, 3, 5), (8, 6, 7, 7)])
def test_sync_batch_norm_function_is_batch_norm_in_a_world_of_one(kernel_mode, dtype, shape):
    # the same array steps and a merge that leaves one rank's statistics as they are: to the
    # bit where the compiled loops run; NumPy's float32 statistics are merged in float64, so
    # there within rounding
    r = np.random.default_rng(3)
    x = (r.standard_normal(shape) * 2 + 5).astype(dtype)
    gy, w, b = (r.standard_normal(s).astype(dtype) for s in (shape, shape[1], shape[1]))
    rm, rv = np.zeros(shape[1], dtype), np.ones(shape[1], dtype)
    ours = _fwd_bwd(lambda *a: dist.sync_batch_norm(*a, momentum=0.3), x, gy, w, b, rm, rv)
    want = _fwd_bwd(lambda x, rm, rv, w, b: batch_norm(x, rm, rv, w, b, True, 0.3), x, gy, w,
                    b, rm, rv)
    for name, a, e in zip(("y", "x.grad", "w.grad", "b.grad", "rm", "rv"), ours, want):
        assert a.dtype == e.dtype, name
        # rm in float32: updated from the float64 mean here, the float32 one there
        if kernel_mode and not (name == "rm" and dtype == np.float32):
            assert np.array_equal(a, e), name
        else:
            tol = 1e-12 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 5), min_size=1, max_size=4), offset=st.sampled_from(
    [0.0, 1e4]), seed=st.integers(0, 2 ** 16))
def test_merged_moments_are_the_whole_batch_moments(sizes, offset, seed):
    # every rank's (count, mean, var) merged equals the float64 moments of the whole batch,
    # empty ranks included, with no cancelling far from zero
    C = 2
    r = np.random.default_rng(seed)
    x = offset + r.standard_normal((sum(sizes), C, 3)) * 1e-2
    rows, lo = [], 0
    for n in sizes:
        part = x[lo:lo + n]
        lo += n
        mean = part.mean(axis=(0, 2)) if n else np.zeros(C)
        var = part.var(axis=(0, 2)) if n else np.zeros(C)
        rows.append(np.concatenate([[part.size // C], mean, var]))
    M, mean, var = _sbn._merged_moments(np.stack(rows), C)
    assert M == x.size // C
    if M == 0:
        assert mean is None and var is None
        return
    # a mean near 0 (offset 0) is a difference of values ~1e-2: an absolute bound there
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)), rtol=1e-14, atol=1e-16 * (offset + 1))
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), rtol=1e-9, atol=1e-18)
    one = _sbn._merged_moments(rows[0][None], C)  # a world of one: its own, unchanged
    if sizes[0]:
        assert np.array_equal(one[1], rows[0][1:C + 1]) and np.array_equal(one[2], rows[0][C + 1:])


def test_sync_batch_norm_over_uneven_and_empty_shards_on_two_ranks(kernel_mode):
    if not kernel_mode:
        pytest.skip("the script runs both kernel modes itself")
    assert_ok(launch("sync_batch_norm_shards.py"))


def test_sync_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        dist.sync_batch_norm(cr.ones(1, 3), None, None)
    with pytest.raises(ValueError, match=r"expected weight of shape \(3,\)"):
        dist.sync_batch_norm(cr.ones(2, 3), None, None, cr.ones(2))
    with pytest.raises(ValueError, match=r"shape \(N, C, \.\.\.\)"):
        dist.sync_batch_norm(cr.ones(3), None, None)
    with pytest.raises(TypeError, match="floating point"):
        dist.sync_batch_norm(cr.ones(2, 3, dtype=cr.int64), None, None)
    with pytest.raises(ValueError, match="both be given"):
        dist.sync_batch_norm(cr.ones(2, 3), cr.zeros(3), None)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 5, 6), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("opts", [dict(), dict(momentum=None), dict(affine=False),
                                  dict(track_running_stats=False)], ids=str)
def test_sync_batch_norm_module_matches_torch_batch_norm(shape, train, opts):
    theirs = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
              5: torch.nn.BatchNorm3d}[len(shape)](3, **opts)
    if theirs.track_running_stats:
        theirs.running_mean.uniform_(-1, 1)
        theirs.running_var.uniform_(0.5, 2)
    x = (np.random.default_rng(0).standard_normal(shape) * 2 + 1).astype(np.float32)
    module_parity(nn.SyncBatchNorm(3, **opts), theirs, x, train=train, steps=3)


def test_sync_batch_norm_module_is_exactly_batch_norm_in_a_world_of_one():
    x = cr.randn(6, 4, 3, 3)
    bn, sync = nn.BatchNorm2d(4), nn.SyncBatchNorm(4)
    for _ in range(2):
        assert np.array_equal(bn(x).detach().numpy(), sync(x).detach().numpy())
    for a, b in zip(bn.state_dict().values(), sync.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_convert_sync_batchnorm_keeps_parameters_buffers_and_mode():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, momentum=0.2),
                        nn.Sequential(nn.Flatten(), nn.BatchNorm1d(36, eps=1e-3)))
    net(cr.randn(3, 1, 5, 5))
    net[2].eval()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    weight = net[1].weight
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert out is net
    assert type(net[1]) is nn.SyncBatchNorm and type(net[2][1]) is nn.SyncBatchNorm
    assert net[1].weight is weight and net[1].momentum == 0.2 and net[2][1].eps == 1e-3
    assert not net[2][1].training and net[1].training
    assert list(net.state_dict()) == list(before)
    assert all(np.array_equal(net.state_dict()[k].numpy(), v) for k, v in before.items())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(2))
    assert type(single) is nn.SyncBatchNorm
    with pytest.raises(ValueError, match="process_group"):
        nn.SyncBatchNorm(3, process_group=object())
    with pytest.raises(ValueError, match="expected 2D or 3D or 4D or 5D input"):
        nn.SyncBatchNorm(3)(cr.ones(3))
