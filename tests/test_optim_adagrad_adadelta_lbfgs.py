"""Adagrad, Adadelta and LBFGS against torch.optim (float32 and float64, many steps), param
group edits between steps honoured by every optimizer, resuming, argument errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from helpers import optim_data, resume_is_exact, torch_parity

ADAGRAD = [dict(), dict(lr=0.05, lr_decay=0.01, weight_decay=0.1),
           dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6), dict(lr=0.01, maximize=True)]
ADADELTA = [dict(), dict(lr=0.5, rho=0.8, eps=1e-5), dict(weight_decay=0.1),
            dict(maximize=True, rho=1.0)]


@pytest.mark.parametrize("kwargs", ADAGRAD, ids=lambda k: ",".join(k) or "defaults")
def test_adagrad_matches_torch(kwargs):
    torch_parity(optim.Adagrad, torch.optim.Adagrad, kwargs)
    torch_parity(optim.Adagrad, torch.optim.Adagrad, kwargs, split_groups=True)


@pytest.mark.parametrize("kwargs", ADADELTA, ids=lambda k: ",".join(k) or "defaults")
def test_adadelta_matches_torch(kwargs):
    torch_parity(optim.Adadelta, torch.optim.Adadelta, kwargs)


def _float64_run(ours_cls, theirs_cls, kwargs, steps, edit=None):
    """``steps`` steps in float64 from the same values and gradients, ``edit(groups, k)``
    applied to both optimizers' groups before step k: the parameters agree to 1e-10."""
    inits, grads = optim_data(4, steps)
    ours = [nn.Parameter(cr.tensor(a.astype(np.float64))) for a in inits]
    theirs = [torch.nn.Parameter(torch.tensor(a.astype(np.float64))) for a in inits]
    opt_o = ours_cls([{"params": ours[:2]}, {"params": ours[2:]}], **kwargs)
    opt_t = theirs_cls([{"params": theirs[:2]}, {"params": theirs[2:]}], **kwargs)
    for k, g in enumerate(grads):
        if edit is not None:
            edit(opt_o.param_groups, k), edit(opt_t.param_groups, k)
        for p, q, gi in zip(ours, theirs, g):
            p.grad, q.grad = cr.tensor(gi.astype(np.float64)), torch.tensor(gi.astype(np.float64))
        opt_o.step(), opt_t.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(),
                                       q.detach().numpy(), rtol=1e-10, atol=1e-12)


def _edit_hypers(groups, k):
    """Every few steps change lr (and momentum, weight decay, betas where the group has them)."""
    if k % 7 == 3:
        for i, g in enumerate(groups):
            g["lr"] *= 0.5 + i
            if "momentum" in g and g["momentum"]:
                g["momentum"] = 0.5
            if "weight_decay" in g:
                g["weight_decay"] = 0.01 * (k % 3)
            if "betas" in g:
                g["betas"] = (0.8, 0.99)


EDITED = [("SGD", dict(lr=0.05, momentum=0.9)), ("SGD", dict(lr=0.05, nesterov=True,
                                                              momentum=0.9)),
          ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01, amsgrad=True)),
          ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)), ("Adagrad", dict(lr=0.1)),
          ("Adadelta", dict(lr=0.9))]


@pytest.mark.parametrize("name, kwargs", EDITED, ids=lambda v: str(v))
def test_param_group_edits_take_effect_at_the_next_step_as_torch(name, kwargs):
    _float64_run(getattr(optim, name), getattr(torch.optim, name), kwargs, 40, _edit_hypers)


def test_add_param_group_as_torch():
    inits, grads = optim_data(5, 6)
    ours = [nn.Parameter(cr.tensor(a.astype(np.float64))) for a in inits]
    theirs = [torch.nn.Parameter(torch.tensor(a.astype(np.float64))) for a in inits]
    opt_o, opt_t = optim.Adagrad(ours[:1], lr=0.1), torch.optim.Adagrad(theirs[:1], lr=0.1)
    for k, g in enumerate(grads):
        if k == 3:
            opt_o.add_param_group({"params": ours[1:], "lr": 0.3})
            opt_t.add_param_group({"params": theirs[1:], "lr": 0.3})
        for p, q, gi in zip(ours, theirs, g):
            p.grad, q.grad = cr.tensor(gi.astype(np.float64)), torch.tensor(gi.astype(np.float64))
        opt_o.step(), opt_t.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)
    assert opt_o.param_groups[1]["lr_decay"] == opt_t.param_groups[1]["lr_decay"] == 0


@pytest.mark.parametrize("make", [lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
                                  lambda ps: optim.Adadelta(ps, weight_decay=0.1)],
                         ids=["adagrad", "adadelta"])
def test_resumes_exactly_from_state_dict(make):
    resume_is_exact(make)


def test_defaults_and_state_names_match_torch():
    for name in ("Adagrad", "Adadelta"):
        ours = getattr(optim, name)([nn.Parameter(cr.ones(2))])
        theirs = getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))])
        for key, value in ours.defaults.items():
            assert theirs.defaults[key] == value, (name, key)
        p, q = ours.param_groups[0]["params"][0], theirs.param_groups[0]["params"][0]
        p.grad, q.grad = cr.ones(2), torch.ones(2)
        ours.step(), theirs.step()
        assert sorted(ours.state[p]) == sorted(theirs.state[q]), name


@pytest.mark.parametrize("cls, kwargs, message", [
    ("Adagrad", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adagrad", dict(lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
    ("Adagrad", dict(initial_accumulator_value=-1.0),
     "Invalid initial_accumulator_value value: -1.0"),
    ("Adagrad", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adadelta", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("LBFGS", dict(lr=-1.0), "Invalid learning rate: -1.0"),
])
def test_invalid_arguments_as_torch(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, cls)([nn.Parameter(cr.ones(1))], **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, cls)([torch.nn.Parameter(torch.ones(1))], **kwargs)


# -- LBFGS ---------------------------------------------------------------------------------------

def _rosenbrock_pair(dtype, x0=(-1.5, 2.0, 0.5, -0.7)):
    """The same 4-D Rosenbrock problem (in two parameters) in chainrule and torch."""
    ours = [nn.Parameter(cr.tensor(x0[:2], dtype=dtype)), nn.Parameter(cr.tensor(x0[2:],
                                                                                 dtype=dtype))]
    theirs = [torch.nn.Parameter(torch.tensor(x0[:2], dtype=getattr(torch, str(dtype)))),
              torch.nn.Parameter(torch.tensor(x0[2:], dtype=getattr(torch, str(dtype))))]
    return ours, theirs


def _closure(opt, params):
    def closure():
        opt.zero_grad()
        x = params[0][0] * 1, params[0][1] * 1, params[1][0] * 1, params[1][1] * 1
        loss = 0
        for a, b in zip(x[:-1], x[1:]):
            loss = loss + 100 * (b - a * a) ** 2 + (1 - a) ** 2
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("kwargs", [dict(), dict(line_search_fn="strong_wolfe"),
                                    dict(lr=0.5, history_size=3, max_iter=5),
                                    dict(line_search_fn="strong_wolfe", history_size=2,
                                         max_iter=7, max_eval=9)],
                         ids=["fixed", "wolfe", "short-history", "wolfe-short"])
def test_lbfgs_matches_torch_step_by_step_in_float64(kwargs):
    ours, theirs = _rosenbrock_pair(cr.float64)
    opt_o, opt_t = optim.LBFGS(ours, **{"lr": 0.1, **kwargs} if not kwargs.get(
        "line_search_fn") else kwargs), None
    opt_t = torch.optim.LBFGS(theirs, **{"lr": 0.1, **kwargs} if not kwargs.get(
        "line_search_fn") else kwargs)
    c_o, c_t = _closure(opt_o, ours), _closure(opt_t, theirs)
    for _ in range(15):
        lo, lt = opt_o.step(c_o), opt_t.step(c_t).detach()
        assert abs(float(lo) - float(lt)) <= 1e-6 * max(1.0, abs(float(lt)))
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6,
                                       atol=1e-6)
        so, st = opt_o.state[ours[0]], opt_t.state[theirs[0]]
        assert (so["func_evals"], so["n_iter"]) == (st["func_evals"], st["n_iter"])


def test_lbfgs_converges_on_rosenbrock_and_refuses_groups():
    ours, _ = _rosenbrock_pair(cr.float64, x0=(-1.2, 1.0, -1.2, 1.0))
    opt = optim.LBFGS(ours, line_search_fn="strong_wolfe", max_iter=200, max_eval=400,
                      tolerance_grad=1e-12, tolerance_change=1e-14)
    opt.step(_closure(opt, ours))
    np.testing.assert_allclose(np.concatenate([p.detach().numpy() for p in ours]), 1.0,
                               atol=1e-6)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": ours[:1]}, {"params": ours[1:]}])
    with pytest.raises(ValueError, match="only line_search_fn=None or 'strong_wolfe'"):
        optim.LBFGS(ours, line_search_fn="armijo")
