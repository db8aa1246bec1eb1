"""Loss modules against torch's: every reduction, class weights and pos_weight as buffers,
ignore_index and label smoothing passed through, reprs, and the deprecated flags."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity

REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _inputs(rng, name):
    """(input, target, requires_grad) suited to each loss."""
    if name in ("MSELoss", "L1Loss", "BCEWithLogitsLoss"):
        return (rng.standard_normal((4, 3)).astype(np.float32),
                rng.uniform(0, 1, (4, 3)).astype(np.float32), [True, True])
    if name == "BCELoss":
        return (rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32),
                rng.uniform(0, 1, (4, 3)).astype(np.float32), [True, False])
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    if name == "NLLLoss":
        logits = np.log(rng.dirichlet(np.ones(4), 6)).astype(np.float32)
    return logits, rng.integers(0, 4, 6), [True, False]


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
                                  "NLLLoss", "CrossEntropyLoss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_modules_match_torch(rng, name, reduction):
    x, t, rg = _inputs(rng, name)
    assert repr(getattr(nn, name)(reduction=reduction)) == \
        repr(getattr(torch.nn, name)(reduction=reduction))
    assert_parity(lambda lib, a, b: getattr(lib.nn, name)(reduction=reduction)(a, b), x, t,
                  requires_grad=rg, atol=1e-5)


def test_weighted_cross_entropy_module_with_options(rng):
    x, t, _ = _inputs(rng, "CrossEntropyLoss")
    t[0] = 1
    w = rng.uniform(0.5, 2, 4).astype(np.float32)

    def fn(lib, a, b, c):
        return lib.nn.CrossEntropyLoss(weight=c, ignore_index=1, label_smoothing=0.1)(a, b)

    assert_parity(fn, x, t, w, requires_grad=[True, False, False])


def test_weights_are_buffers_like_torch(rng):
    w = rng.uniform(0.5, 2, 3).astype(np.float32)
    for name, kwargs in [("CrossEntropyLoss", {"weight": w}), ("NLLLoss", {"weight": w}),
                         ("BCELoss", {"weight": w}),
                         ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w})]:
        ours = getattr(nn, name)(**{k: cr.tensor(v) for k, v in kwargs.items()})
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kwargs.items()})
        assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(nn.CrossEntropyLoss().state_dict()) == []


def test_bce_with_logits_pos_weight_module(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t = rng.uniform(0, 1, (5, 3)).astype(np.float32)
    pw = rng.uniform(0.5, 3, 3).astype(np.float32)
    assert_parity(lambda lib, a, b, c: lib.nn.BCEWithLogitsLoss(pos_weight=c)(a, b), x, t, pw,
                  requires_grad=[True, False, False])


def test_module_errors_reach_the_user():
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"Using a target size \(\(4,\)\) that is different "
                                         r"to the input size \(\(4, 1\)\) is deprecated"):
        nn.BCELoss()(cr.full((4, 1), 0.5), cr.ones(4))
    with pytest.raises(ValueError, match="target label 5 is out of range for 3 classes"):
        nn.CrossEntropyLoss()(cr.zeros(2, 3), cr.tensor([5, 0]))


def test_deprecated_flags_map_to_reduction():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        loss = nn.L1Loss(size_average=False)
    assert loss.reduction == "sum"
    assert loss(cr.tensor([1.0, -2.0]), cr.zeros(2)).item() == 3.0
