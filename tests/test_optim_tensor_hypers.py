"""Tensor hyper-parameters: ``lr=cr.tensor(0.5)`` (and betas, weight decay, ...) are read as
their value at each step, as in PyTorch, for every optimizer and schedule; a value that is no
number raises instead of making the step a silent no-op.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim

# (ours, theirs, keyword arguments besides lr)
OPTIMIZERS = [
    (optim.SGD, torch.optim.SGD, {}),
    (optim.SGD, torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    (optim.Adam, torch.optim.Adam, {}),
    (optim.Adam, torch.optim.Adam, {"amsgrad": True, "weight_decay": 0.1}),
    (optim.AdamW, torch.optim.AdamW, {}),
    (optim.RMSprop, torch.optim.RMSprop, {"momentum": 0.5, "centered": True}),
    (optim.Adagrad, torch.optim.Adagrad, {"lr_decay": 0.1}),
    (optim.Adadelta, torch.optim.Adadelta, {}),
]
IDS = [f"{o.__name__}-{'-'.join(kw) or 'plain'}" for o, _, kw in OPTIMIZERS]


def _pair(seed: int = 0) -> tuple[nn.Linear, torch.nn.Linear]:
    """A Linear(3, 2) of ours with torch's weights."""
    torch.manual_seed(seed)
    theirs = torch.nn.Linear(3, 2)
    ours = nn.Linear(3, 2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


X = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)


def _loss(model: Any, lib: Any) -> Any:
    return (model(lib.tensor(X)) ** 2).sum()


def _run(ours: nn.Module, theirs: torch.nn.Module, opt_o: Any, opt_t: Any, steps: int = 3,
         between: Callable[[int], None] = lambda k: None) -> None:
    """``steps`` steps on both; the weights agree with torch's after each."""
    for k in range(steps):
        opt_o.zero_grad(), opt_t.zero_grad()
        _loss(ours, cr).backward()
        _loss(theirs, torch).backward()
        opt_o.step(), opt_t.step()
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=f"{name} after step {k + 1}")
        between(k)


def _weights(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


# ============================================================================ every optimizer
@pytest.mark.parametrize("ours_cls, theirs_cls, kwargs", OPTIMIZERS, ids=IDS)
def test_tensor_lr_in_the_constructor_steps_as_torch(ours_cls, theirs_cls, kwargs):
    ours, theirs = _pair()
    before = _weights(ours)
    opt_o = ours_cls(ours.parameters(), lr=cr.tensor(0.05), **kwargs)
    opt_t = theirs_cls(theirs.parameters(), lr=torch.tensor(0.05), **kwargs)
    _run(ours, theirs, opt_o, opt_t)
    assert all((a != b).any() for a, b in zip(before, _weights(ours)))  # not a no-op


@pytest.mark.parametrize("ours_cls, theirs_cls, kwargs", OPTIMIZERS, ids=IDS)
def test_tensor_lr_set_in_a_param_group_steps_as_torch(ours_cls, theirs_cls, kwargs):
    ours, theirs = _pair(1)
    opt_o = ours_cls(ours.parameters(), lr=0.01, **kwargs)
    opt_t = theirs_cls(theirs.parameters(), lr=0.01, **kwargs)
    opt_o.param_groups[0]["lr"] = cr.tensor(0.05)
    opt_t.param_groups[0]["lr"] = torch.tensor(0.05)
    _run(ours, theirs, opt_o, opt_t)


@pytest.mark.parametrize("ours_cls, theirs_cls, kwargs", OPTIMIZERS, ids=IDS)
def test_a_tensor_lr_changed_in_place_takes_effect_at_the_next_step(ours_cls, theirs_cls,
                                                                    kwargs):
    ours, theirs = _pair(2)
    lr_o, lr_t = cr.tensor([0.05]), torch.tensor([0.05])  # 1-element, not 0-d: also accepted
    opt_o = ours_cls(ours.parameters(), lr=lr_o, **kwargs)
    opt_t = theirs_cls(theirs.parameters(), lr=lr_t, **kwargs)

    def halve(k: int) -> None:
        with cr.no_grad():
            lr_o.mul_(0.5)
        lr_t.mul_(0.5)

    _run(ours, theirs, opt_o, opt_t, between=halve)
    assert opt_o.param_groups[0]["lr"] is lr_o  # the group keeps the caller's tensor


def _lbfgs_run(lr: Any, lib: Any, model: Any, line_search: Any, steps: int) -> list:
    make = optim.LBFGS if lib is cr else torch.optim.LBFGS
    opt = make(model.parameters(), lr=lr, max_iter=4, line_search_fn=line_search)

    def closure():
        opt.zero_grad()
        loss = _loss(model, lib)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_with_a_tensor_lr_steps_as_torch(line_search):
    # two steps (8 iterations): this loss has a degenerate minimum, where float rounding
    # differences grow from step 3 on (in float64 as well), with a float lr just the same
    ours, theirs = _pair(4)
    before = _weights(ours)
    got = _lbfgs_run(cr.tensor(0.5), cr, ours, line_search, 2)
    want = _lbfgs_run(torch.tensor(0.5), torch, theirs, line_search, 2)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert all((a != b).any() for a, b in zip(before, got))
    # and exactly the run with the same lr as a float, for longer
    with_tensor = _lbfgs_run(cr.tensor(0.5), cr, _pair(4)[0], line_search, 4)
    with_float = _lbfgs_run(0.5, cr, _pair(4)[0], line_search, 4)
    for a, b in zip(with_tensor, with_float):
        np.testing.assert_array_equal(a, b)


def test_other_tensor_hyper_parameters_are_read_like_torch():
    ours, theirs = _pair(5)
    opt_o = optim.Adam(ours.parameters(), lr=cr.tensor(0.05),
                       betas=(cr.tensor(0.8), cr.tensor(0.9)), eps=cr.tensor(1e-6),
                       weight_decay=cr.tensor(0.1))
    opt_t = torch.optim.Adam(theirs.parameters(), lr=torch.tensor(0.05),
                             betas=(torch.tensor(0.8), torch.tensor(0.9)),
                             eps=torch.tensor(1e-6), weight_decay=torch.tensor(0.1))
    _run(ours, theirs, opt_o, opt_t)
    ours, theirs = _pair(6)
    opt_o = optim.SGD(ours.parameters(), lr=0.05, momentum=cr.tensor(0.9),
                      weight_decay=cr.tensor(0.1))
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=torch.tensor(0.9),
                            weight_decay=torch.tensor(0.1))
    _run(ours, theirs, opt_o, opt_t)


# ============================================================================ errors
@pytest.mark.parametrize("ours_cls, theirs_cls, kwargs", OPTIMIZERS, ids=IDS)
def test_a_tensor_lr_of_several_elements_is_refused_like_torch(ours_cls, theirs_cls, kwargs):
    ours, theirs = _pair()
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        theirs_cls(theirs.parameters(), lr=torch.tensor([0.1, 0.2]), **kwargs)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        ours_cls(ours.parameters(), lr=cr.tensor([0.1, 0.2]), **kwargs)
    with pytest.raises(ValueError) as theirs_error:
        theirs_cls(theirs.parameters(), lr=torch.tensor(-0.1), **kwargs)
    with pytest.raises(ValueError) as ours_error:
        ours_cls(ours.parameters(), lr=cr.tensor(-0.1), **kwargs)
    assert str(ours_error.value) == str(theirs_error.value)  # 'Invalid learning rate: -0.1...'



@pytest.mark.parametrize("ours_cls, theirs_cls, kwargs", OPTIMIZERS, ids=IDS)
@pytest.mark.parametrize("bad, error, msg", [
    ("0.5", TypeError, r"\['lr'\] must be a number or a 1-element Tensor, got str"),
    (None, TypeError, r"\['lr'\] must be a number or a 1-element Tensor, got NoneType"),
    ([0.5], TypeError, r"\['lr'\] must be a number or a 1-element Tensor, got list"),
    (cr.tensor([0.1, 0.2]), ValueError, r"\['lr'\]: a Tensor hyper-parameter must be "
                                        r"1-element, got shape \(2,\)"),
])
def test_a_non_number_lr_in_a_group_raises_at_step_and_changes_nothing(
        ours_cls, theirs_cls, kwargs, bad, error, msg):
    ours, _ = _pair()
    opt = ours_cls(ours.parameters(), lr=0.1, **kwargs)
    opt.param_groups[0]["lr"] = bad
    _loss(ours, cr).backward()
    before = _weights(ours)
    with pytest.raises(error, match=f"{ours_cls.__name__}.step: param_groups" + r"\[0\]" + msg):
        opt.step()
    assert all((a == b).all() for a, b in zip(before, _weights(ours)))
    assert opt.state == {}


def test_torch_also_refuses_a_string_lr_at_step():
    _, theirs = _pair()
    opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    opt.param_groups[0]["lr"] = "0.5"
    _loss(theirs, torch).backward()
    with pytest.raises(TypeError):
        opt.step()


def test_lbfgs_refuses_a_non_number_lr():
    ours, _ = _pair()
    opt = optim.LBFGS(ours.parameters(), lr=1.0)
    opt.param_groups[0]["lr"] = "1"
    with pytest.raises(TypeError, match=r"LBFGS.step: param_groups\[0\]\['lr'\] must be a "
                                        "number"):
        opt.step(lambda: _loss(ours, cr))


def test_mixed_tensor_and_float_betas_are_refused_like_torch():
    ours, theirs = _pair()
    with pytest.raises(ValueError, match="betas must be either both floats or both Tensors"):
        torch.optim.Adam(theirs.parameters(), betas=(torch.tensor(0.9), 0.99))
    with pytest.raises(ValueError, match="betas must be either both floats or both Tensors"):
        optim.Adam(ours.parameters(), betas=(cr.tensor(0.9), 0.99))
    with pytest.raises(ValueError, match=r"Tensor betas\[1\] must be 1-element"):
        optim.Adam(ours.parameters(), betas=(cr.tensor(0.9), cr.tensor([0.9, 0.9])))


# ============================================================================ state dicts
def test_state_dict_keeps_a_tensor_lr_and_loads_it_back_as_a_copy():
    ours, theirs = _pair()
    opt_o = optim.Adam(ours.parameters(), lr=cr.tensor(0.05))
    opt_t = torch.optim.Adam(theirs.parameters(), lr=torch.tensor(0.05))
    _run(ours, theirs, opt_o, opt_t, steps=2)
    sd_o, sd_t = opt_o.state_dict(), opt_t.state_dict()
    assert isinstance(sd_t["param_groups"][0]["lr"], torch.Tensor)
    assert isinstance(sd_o["param_groups"][0]["lr"], cr.Tensor)
    fresh = optim.Adam(ours.parameters(), lr=0.001)
    fresh.load_state_dict(sd_o)
    lr = fresh.param_groups[0]["lr"]
    assert isinstance(lr, cr.Tensor) and lr.item() == pytest.approx(0.05)
    assert lr is not sd_o["param_groups"][0]["lr"]  # torch deep-copies the groups too
    bad = opt_o.state_dict()
    bad["param_groups"][0]["lr"] = cr.tensor(-1.0)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\] must be a finite number "
                                         ">= 0"):
        fresh.validate_state_dict(bad)


# ============================================================================ schedules
SCHEDULES = [
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("MultiStepLR", {"milestones": [1, 3], "gamma": 0.1}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}),
    ("LinearLR", {"start_factor": 0.5, "total_iters": 3}),
    ("CosineAnnealingWarmRestarts", {"T_0": 2}),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_fill_a_tensor_lr_in_place_as_torch(name, kwargs):
    ours, theirs = _pair()
    lr_o, lr_t = cr.tensor(0.1), torch.tensor(0.1)
    opt_o = optim.SGD(ours.parameters(), lr=lr_o, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=lr_t, momentum=0.9)
    sched_o = getattr(optim.lr_scheduler, name)(opt_o, **kwargs)
    sched_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs)
    assert opt_o.param_groups[0]["initial_lr"] is not lr_o  # a copy, as torch's

    def advance(k: int) -> None:
        sched_o.step(), sched_t.step()
        assert opt_o.param_groups[0]["lr"] is lr_o  # filled in place, not replaced
        assert lr_o.item() == pytest.approx(lr_t.item(), rel=1e-6)
        (last_o,), (last_t,) = sched_o.get_last_lr(), sched_t.get_last_lr()
        assert isinstance(last_o, cr.Tensor) and last_o is not lr_o
        assert last_o.item() == pytest.approx(last_t.item(), rel=1e-6)

    _run(ours, theirs, opt_o, opt_t, steps=6, between=advance)
    assert sched_o.base_lrs[0].item() == pytest.approx(0.1)


def test_reduce_on_plateau_fills_a_tensor_lr_in_place_as_torch():
    lr_o, lr_t = cr.tensor(0.1), torch.tensor(0.1)
    opt_o = optim.SGD([nn.Parameter(cr.zeros(1))], lr=lr_o)
    opt_t = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr_t)
    sched_o = optim.lr_scheduler.ReduceLROnPlateau(opt_o, patience=0, factor=0.5)
    sched_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, patience=0, factor=0.5)
    for metric in (1.0, 1.0, 2.0, 0.5, 0.5):
        sched_o.step(metric), sched_t.step(metric)
        assert opt_o.param_groups[0]["lr"] is lr_o
        assert lr_o.item() == pytest.approx(lr_t.item(), rel=1e-6)
