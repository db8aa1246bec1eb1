"""Learning-rate schedules against torch.optim.lr_scheduler: the lr sequence, two groups,
state_dict round trip and argument errors."""
from __future__ import annotations

import json

import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=5)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
]


def _pair(name: str, kwargs: dict, lrs=(0.1, 0.02)):
    p, q = nn.Parameter(cr.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt_o = optim.SGD([{"params": [p], "lr": lrs[0]}, {"params": [], "lr": lrs[1]}])
    opt_t = torch.optim.SGD([{"params": [q], "lr": lrs[0]}, {"params": [], "lr": lrs[1]}])
    return (opt_o, getattr(lr_scheduler, name)(opt_o, **kwargs),
            opt_t, getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs))


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=lambda v: str(v))
def test_lr_sequence_matches_torch(name, kwargs):
    opt_o, s_o, opt_t, s_t = _pair(name, kwargs)
    for _ in range(25):  # past T_max: the cosine climbs back, as torch's does
        assert s_o.get_last_lr() == s_t.get_last_lr()
        assert [g["lr"] for g in opt_o.param_groups] == [g["lr"] for g in opt_t.param_groups]
        opt_o.step(), opt_t.step()
        s_o.step(), s_t.step()


@pytest.mark.parametrize("name, kwargs", SCHEDULES[:3], ids=lambda v: str(v))
def test_state_dict_round_trip_resumes_the_sequence(name, kwargs):
    opt, sched, _, _ = _pair(name, kwargs)
    for _ in range(7):
        opt.step(), sched.step()
    saved = json.loads(json.dumps(sched.state_dict()))  # JSON-friendly
    expected = []
    for _ in range(5):
        opt.step(), sched.step()
        expected.append(sched.get_last_lr())
    opt2, sched2, _, _ = _pair(name, kwargs)
    sched2.load_state_dict(saved)
    for g, lr in zip(opt2.param_groups, saved["_last_lr"]):
        g["lr"] = lr  # the optimizer's own state_dict carries its lr in practice
    got = []
    for _ in range(5):
        opt2.step(), sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_scheduler_errors():
    opt = optim.SGD([nn.Parameter(cr.ones(1))], lr=0.1)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(ValueError, match="step_size must be a positive int"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive int"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.ExponentialLR(optim.SGD([nn.Parameter(cr.ones(1))]), gamma=0.5,
                                   last_epoch=3)
    with pytest.raises(TypeError, match="epoch argument is deprecated"):
        lr_scheduler.ExponentialLR(opt, gamma=0.5).step(3)
