"""The Optimizer base: parameter groups, zero_grad, closures, version bumps, float32
arithmetic, and state_dict in torch's layout (JSON-friendly, round trip resumes exactly).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from helpers import optim_data, param_groups


@pytest.fixture(autouse=True)
def seed() -> None:
    cr.manual_seed(0)


# ============================================================================ the base class
def test_param_groups_take_defaults_and_overrides():
    a, b = nn.Parameter(cr.ones(2)), nn.Parameter(cr.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    c = nn.Parameter(cr.ones(1))
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0


def test_constructor_errors_like_torch():
    p = nn.Parameter(cr.ones(2))
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got "
                                        "Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([1.0], lr=0.1)


def test_zero_grad_and_skipping_params_without_grad():
    a, b = nn.Parameter(cr.ones(2)), nn.Parameter(cr.ones(2))
    opt = optim.SGD([a, b], lr=0.5)
    (a * a).sum().backward()
    opt.step()
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [1.0, 1.0]  # b had no gradient
    assert opt.state_dict()["state"] == {}  # plain SGD keeps no state, as torch
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


def test_step_with_closure_returns_loss():
    w = nn.Parameter(cr.tensor([2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure still records: step enables grad for it
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == 1.0


def test_step_bumps_version_so_stale_graphs_fail():
    w = nn.Parameter(cr.tensor([1.0, 2.0]))
    x = cr.tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()  # Mul saved w for x's gradient
    w.grad = cr.ones(2)
    version = w._version
    optim.SGD([w], lr=0.1).step()
    assert w._version == version + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_updates_stay_float32_in_place(cls):
    w = nn.Parameter(cr.randn(5))
    data = w.data
    opt = cls([w], lr=0.1, weight_decay=0.01)
    for _ in range(3):
        w.grad = cr.randn(5)
        opt.step()
    assert w.data is data and w.dtype == np.float32
    for v in opt.state.get(w, {}).values():
        assert not isinstance(v, np.ndarray) or v.dtype == np.float32


def test_numpy_scalar_hyper_parameters_do_not_upcast():
    w = nn.Parameter(cr.randn(3))
    opt = optim.Adam([w], lr=np.float64(0.1), betas=(np.float64(0.9), 0.999),
                     weight_decay=np.float64(0.01))
    assert type(opt.param_groups[0]["lr"]) is float
    w.grad = cr.randn(3)
    opt.step()
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[w].values() if hasattr(v, "dtype"))


def test_state_dict_layout_matches_torch():
    inits, grads = optim_data(3, 2)
    ours = [nn.Parameter(cr.tensor(a)) for a in inits]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in inits]
    opt_o = optim.Adam(param_groups(ours, True), lr=0.01, amsgrad=True)
    opt_t = torch.optim.Adam(param_groups(theirs, True), lr=0.01, amsgrad=True)
    for g in grads:
        for p, q, gi in zip(ours, theirs, g):
            p.grad, q.grad = cr.tensor(gi), torch.tensor(gi)
        opt_o.step()
        opt_t.step()
    so, st = opt_o.state_dict(), opt_t.state_dict()
    assert list(so["state"]) == list(st["state"]) == [0, 1, 2]
    for k in so["state"]:
        assert set(so["state"][k]) == set(st["state"][k])
        assert so["state"][k]["step"] == int(st["state"][k]["step"]) == 2
        for name, v in so["state"][k].items():
            if name != "step":
                assert isinstance(v, np.ndarray)
                np.testing.assert_allclose(v, st["state"][k][name].numpy(), rtol=1e-6)
    for go, gt in zip(so["param_groups"], st["param_groups"]):
        assert go["params"] == gt["params"]
        for name, v in go.items():
            assert v == gt[name], name


def test_state_dict_is_a_copy():
    w = nn.Parameter(cr.ones(2))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = cr.ones(2)
    opt.step()
    sd = opt.state_dict()
    opt.step()
    assert sd["state"][0]["momentum_buffer"].tolist() == [1.0, 1.0]


def test_load_state_dict_validates_before_changing_anything():
    w = nn.Parameter(cr.ones(3))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    good = {"state": {0: {"momentum_buffer": np.ones(3, np.float32)}},
            "param_groups": [{**opt.state_dict()["param_groups"][0], "lr": 0.5}]}
    bad_shape = {"state": {0: {"momentum_buffer": np.ones(4, np.float32)}},
                 "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape "
                                         r"\(4,\), but the parameter has shape \(3,\)"):
        opt.load_state_dict(bad_shape)
    assert opt.state == {} and opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict({"state": {}, "param_groups": [{**good["param_groups"][0],
                                                            "params": [0, 1]}]})
    opt.load_state_dict(good)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["params"][0] is w
    assert opt.state[w]["momentum_buffer"].dtype == np.float32


def test_repr_lists_groups():
    opt = optim.SGD([nn.Parameter(cr.ones(1))], lr=0.1)
    assert repr(opt).startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1" in repr(opt)
