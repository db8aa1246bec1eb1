"""Learning-rate schedules against torch.optim.lr_scheduler: the lr sequence, two groups,
state_dict round trip and argument errors."""
from __future__ import annotations

import json

import numpy as np

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


# -- the schedules of issue 21 ------------------------------------------------------------------

def _halve(epoch):
    return 0.5 ** (epoch // 3)


class _Warmup:
    """A callable object (its __dict__ is saved in state_dict, as torch's)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


NEW_SCHEDULES = [
    ("MultiStepLR", lambda m, o: dict(milestones=[2, 5, 5, 9], gamma=0.5)),
    ("LinearLR", lambda m, o: dict(start_factor=0.25, total_iters=6)),
    ("LinearLR", lambda m, o: dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("LambdaLR", lambda m, o: dict(lr_lambda=_halve)),
    ("LambdaLR", lambda m, o: dict(lr_lambda=[_halve, _Warmup(4)])),
    ("MultiplicativeLR", lambda m, o: dict(lr_lambda=lambda e: 0.9 if e % 2 else 1.0)),
    ("CosineAnnealingWarmRestarts", lambda m, o: dict(T_0=4)),
    ("CosineAnnealingWarmRestarts", lambda m, o: dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("OneCycleLR", lambda m, o: dict(max_lr=[1.0, 0.5], total_steps=30)),
    ("OneCycleLR", lambda m, o: dict(max_lr=0.3, epochs=3, steps_per_epoch=10,
                                     anneal_strategy="linear", three_phase=True)),
    ("SequentialLR", lambda m, o: dict(schedulers=[m.LinearLR(o, 0.1, total_iters=4),
                                                   m.CosineAnnealingLR(o, T_max=8),
                                                   m.StepLR(o, 3, 0.5)],
                                       milestones=[5, 12])),
]


def _new_pair(name, make_kwargs, opt_name="SGD", opt_kwargs=None):
    opt_kwargs = dict(momentum=0.9) if opt_kwargs is None else opt_kwargs
    p, q = nn.Parameter(cr.ones(1)), torch.nn.Parameter(torch.ones(1))
    groups = lambda x: [{"params": [x], "lr": 0.1}, {"params": [], "lr": 0.02}]  # noqa: E731
    opt_o = getattr(optim, opt_name)(groups(p), **opt_kwargs)
    opt_t = getattr(torch.optim, opt_name)(groups(q), **opt_kwargs)
    s_o = getattr(lr_scheduler, name)(opt_o, **make_kwargs(lr_scheduler, opt_o))
    s_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **make_kwargs(torch.optim.lr_scheduler,
                                                                       opt_t))
    return opt_o, s_o, opt_t, s_t


def _same_groups(opt_o, opt_t):
    for go, gt in zip(opt_o.param_groups, opt_t.param_groups):
        assert go["lr"] == gt["lr"]
        for key in ("momentum", "betas"):
            if key in gt:
                assert tuple(np.atleast_1d(go[key])) == tuple(np.atleast_1d(gt[key])), key


@pytest.mark.parametrize("name, make_kwargs", NEW_SCHEDULES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(NEW_SCHEDULES)])
def test_new_schedules_match_torch_exactly(name, make_kwargs):
    opt_o, s_o, opt_t, s_t = _new_pair(name, make_kwargs)
    steps = 29 if name == "OneCycleLR" else 40
    for _ in range(steps):
        assert s_o.get_last_lr() == s_t.get_last_lr()
        _same_groups(opt_o, opt_t)
        opt_o.step(), opt_t.step()
        s_o.step(), s_t.step()


def test_one_cycle_cycles_adam_beta1_as_torch():
    kwargs = lambda m, o: dict(max_lr=0.01, total_steps=20, pct_start=0.4)  # noqa: E731
    opt_o, s_o, opt_t, s_t = _new_pair("OneCycleLR", kwargs, "Adam", dict())
    for _ in range(20):
        assert s_o.get_last_lr() == s_t.get_last_lr()
        _same_groups(opt_o, opt_t)
        opt_o.step(), opt_t.step()
        s_o.step(), s_t.step()
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        s_o.step()
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad([nn.Parameter(cr.ones(1))]), 0.1, 10)


def test_warm_restarts_with_float_epochs_match_torch():
    opt_o, s_o, opt_t, s_t = _new_pair("CosineAnnealingWarmRestarts",
                                       lambda m, o: dict(T_0=2, T_mult=3, eta_min=0.01))
    for epoch in range(12):
        for i in range(5):
            s_o.step(epoch + i / 5), s_t.step(epoch + i / 5)
            assert s_o.get_last_lr() == s_t.get_last_lr()
            assert (s_o.T_cur, s_o.T_i, s_o.last_epoch) == (s_t.T_cur, s_t.T_i, s_t.last_epoch)


PLATEAU = [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.1, cooldown=2),
           dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.03, 0.001]),
           dict(mode="max", threshold_mode="abs", patience=0, eps=0.05, factor=0.7)]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=lambda k: ",".join(k) or "defaults")
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    opt_o, s_o, opt_t, s_t = _new_pair("ReduceLROnPlateau", lambda m, o: kwargs)
    metrics = np.random.default_rng(0).standard_normal(80).cumsum() * 0.1 + 3
    for k, metric in enumerate(metrics):
        metric = float(metric) if k % 2 else cr.tensor(float(metric))  # a 0-d tensor too
        s_o.step(metric), s_t.step(float(metric))
        assert s_o.get_last_lr() == s_t.get_last_lr()
        assert (s_o.num_bad_epochs, s_o.cooldown_counter, s_o.best) == \
            (s_t.num_bad_epochs, s_t.cooldown_counter, s_t.best)


@pytest.mark.parametrize("name, make_kwargs", [NEW_SCHEDULES[i] for i in (0, 2, 4, 5, 7, 8, 10)],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_new_schedules_resume_from_a_json_state_dict(name, make_kwargs):
    opt, sched, _, _ = _new_pair(name, make_kwargs)
    for _ in range(7):
        opt.step(), sched.step()
    saved = json.loads(json.dumps(sched.state_dict()))
    groups = [dict(g) for g in opt.param_groups]
    expected = []
    for _ in range(8):
        opt.step(), sched.step()
        expected.append(sched.get_last_lr())
    opt2, sched2, _, _ = _new_pair(name, make_kwargs)
    sched2.load_state_dict(saved)
    for g, saved_g in zip(opt2.param_groups, groups):
        g.update({k: v for k, v in saved_g.items() if k != "params"})
    got = []
    for _ in range(8):
        opt2.step(), sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_lambda_state_dict_keeps_no_function_as_torch():
    opt_o, s_o, opt_t, s_t = _new_pair("LambdaLR", NEW_SCHEDULES[4][1])
    assert s_o.state_dict()["lr_lambdas"] == s_t.state_dict()["lr_lambdas"] == [None,
                                                                                {"steps": 4}]
    assert sorted(s_o.state_dict()) == sorted(k for k in s_t.state_dict()
                                              if not k.startswith("_get_lr_called"))


def test_new_scheduler_errors_as_torch():
    opt_o = optim.SGD([nn.Parameter(cr.ones(1))], lr=0.1)
    opt_t = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    cases = [("LinearLR", dict(start_factor=0), "Starting multiplicative factor"),
             ("LinearLR", dict(end_factor=2), "Ending multiplicative factor"),
             ("LambdaLR", dict(lr_lambda=[_halve, _halve]), "Expected 1 lr_lambdas, but got 2"),
             ("CosineAnnealingWarmRestarts", dict(T_0=0), "Expected positive integer T_0"),
             ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0), "Expected integer T_mult"),
             ("OneCycleLR", dict(max_lr=0.1), "You must define either total_steps"),
             ("OneCycleLR", dict(max_lr=0.1, total_steps=5, pct_start=2.0),
              "Expected float between 0 and 1 pct_start"),
             ("OneCycleLR", dict(max_lr=0.1, total_steps=5, anneal_strategy="exp"),
              "anneal_strategy must be one of"),
             ("ReduceLROnPlateau", dict(factor=1.0), "Factor should be < 1.0."),
             ("ReduceLROnPlateau", dict(mode="best"), "mode best is unknown!"),
             ("ReduceLROnPlateau", dict(threshold_mode="x"), "threshold mode x is unknown!"),
             ("SequentialLR", dict(schedulers=[], milestones=[]), "expects at least one")]
    for name, kwargs, message in cases:
        for mod, opt in ((lr_scheduler, opt_o), (torch.optim.lr_scheduler, opt_t)):
            with pytest.raises(ValueError, match=message):
                getattr(mod, name)(opt, **kwargs)
