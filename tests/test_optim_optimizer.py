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
    data = w._data
    opt = cls([w], lr=0.1, weight_decay=0.01)
    for _ in range(3):
        w.grad = cr.randn(5)
        opt.step()
    assert w._data is data and w.dtype == np.float32
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


# ============================================================================ restored states
def _stepped(cls, shapes=((3,), (2, 2)), steps=2, **kwargs):
    params = [nn.Parameter(cr.randn(*s)) for s in shapes]
    opt = cls(params, lr=0.1, **kwargs)
    for _ in range(steps):
        for p in params:
            p.grad = cr.randn(*p.shape)
        opt.step()
    return opt


def _snapshot(opt):
    sd = opt.state_dict()
    return repr(sd["param_groups"]), {k: {n: np.array(v) for n, v in s.items()}
                                      for k, s in sd["state"].items()}


def _same(a, b):
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for k in a[1]:
        assert a[1][k].keys() == b[1][k].keys()
        for n in a[1][k]:
            assert np.array_equal(a[1][k][n], b[1][k][n]), (k, n)


@pytest.mark.parametrize("cls, kwargs", [
    (optim.SGD, dict(momentum=0.9)), (optim.SGD, dict(momentum=0.9, nesterov=True)),
    (optim.Adam, dict(amsgrad=True)), (optim.AdamW, {}),
    (optim.RMSprop, dict(momentum=0.5, centered=True)), (optim.RMSprop, {}),
])
def test_rules_declare_every_hyper_parameter_and_state_entry(cls, kwargs):
    opt = _stepped(cls, **kwargs)
    assert list(opt.hypers) == [k for k in opt.hypers if k in opt.defaults]
    assert set(opt.hypers) == set(opt.defaults)
    for state in opt.state.values():
        assert set(state) <= set(opt.state_kinds)
        assert set(state) == opt._required_state(opt.param_groups[0])
    sd = opt.state_dict()
    opt.validate_state_dict(sd)
    fresh = cls([nn.Parameter(cr.zeros(3)), nn.Parameter(cr.zeros(2, 2))], lr=0.5, **kwargs)
    fresh.load_state_dict(sd)
    _same(_snapshot(fresh), _snapshot(opt))


def _group(key, value):
    def edit(sd):
        sd["param_groups"][0][key] = value
    return edit


def _entry(name, value, index=0):
    def edit(sd):
        sd["state"][index][name] = value
    return edit


@pytest.mark.parametrize("cls, kwargs, edit, msg", [
    # the hyper-parameters: types, finiteness, ranges
    (optim.SGD, dict(momentum=0.9), _group("lr", "x"),
     r"param_groups\[0\]\['lr'\] must be a finite number >= 0, got 'x'"),
    (optim.SGD, dict(momentum=0.9), _group("lr", -1),
     r"param_groups\[0\]\['lr'\] must be a finite number >= 0, got -1"),
    (optim.SGD, dict(momentum=0.9), _group("lr", float("nan")), r"\['lr'\] .* got nan"),
    (optim.SGD, dict(momentum=0.9), _group("lr", float("inf")), r"\['lr'\] .* got inf"),
    (optim.SGD, dict(momentum=0.9), _group("lr", True), r"\['lr'\] .* got True"),
    (optim.SGD, dict(momentum=0.9), _group("momentum", "x"),
     r"\['momentum'\] must be a finite number >= 0, got 'x'"),
    (optim.SGD, dict(momentum=0.9), _group("weight_decay", "x"),
     r"\['weight_decay'\] must be a finite number >= 0, got 'x'"),
    (optim.SGD, dict(momentum=0.9), _group("dampening", None),
     r"\['dampening'\] must be a finite number, got None"),
    (optim.SGD, dict(momentum=0.9), _group("nesterov", 1),
     r"\['nesterov'\] must be true or false, got 1"),
    (optim.SGD, dict(momentum=0.9, nesterov=True), _group("dampening", 0.5),
     r"param_groups\[0\]: Nesterov momentum requires a momentum and zero dampening"),
    (optim.Adam, {}, _group("betas", [0.9]), r"\['betas'\] must be two finite numbers in "
                                             r"\[0, 1\), got \[0.9\]"),
    (optim.Adam, {}, _group("betas", [1.0, 0.9]), r"\['betas'\] must be two finite numbers"),
    (optim.Adam, {}, _group("eps", -1e-8), r"\['eps'\] must be a finite number >= 0"),
    (optim.RMSprop, {}, _group("alpha", "0.9"), r"\['alpha'\] must be a finite number >= 0"),
    # the group's keys against the optimizer's
    (optim.SGD, dict(momentum=0.9), lambda sd: sd["param_groups"][0].pop("momentum"),
     r"param_groups\[0\] does not fit SGD: it lacks \['momentum'\] and has \[\]"),
    (optim.SGD, dict(momentum=0.9), _group("betas", [0.9, 0.99]),
     r"does not fit SGD: it lacks \[\] and has \['betas'\], which SGD does not use"),
    (optim.SGD, dict(momentum=0.9), _group("params", [0, True]),
     r"param_groups\[0\] must be a dict whose 'params' is a list of parameter indices"),
    (optim.SGD, dict(momentum=0.9), _group("params", [0, 0]),
     "parameter index 0 appears twice"),
    (optim.SGD, dict(momentum=0.9), lambda sd: sd.update(param_groups={"lr": 1}),
     "'param_groups' must be a list, got dict"),
    # the state's keys, entries and arrays
    (optim.SGD, dict(momentum=0.9), lambda sd: sd["state"].update({5: {}}),
     "state for parameter 5, which is in no parameter group"),
    (optim.SGD, dict(momentum=0.9), lambda sd: sd["state"].update({"x": {}}),
     "state for parameter 'x', which is in no parameter group"),
    (optim.SGD, dict(momentum=0.9), lambda sd: sd["state"].update({0: [1]}),
     "state of parameter 0 must be a dict, got list"),
    (optim.SGD, dict(momentum=0.9), lambda sd: sd.update(state=[1]), "'state' must be a dict"),
    (optim.SGD, dict(momentum=0.9), _entry("momentum_buffer", np.float32(1.0)),
     r"state 'momentum_buffer' of parameter 0 has a float32, but the parameter has shape \(3,\)"),
    (optim.SGD, dict(momentum=0.9), _entry("momentum_buffer", np.array(1.0, np.float32)),
     r"state 'momentum_buffer' of parameter 0 has shape \(\), but the parameter has shape"),
    (optim.SGD, dict(momentum=0.9), _entry("momentum_buffer", np.ones(3, np.int64)),
     r"state of parameter 0: 'momentum_buffer' must be a float array, got dtype int64"),
    (optim.SGD, dict(momentum=0.9), _entry("momentum_buffer", np.array([1, np.nan, 1])),
     r"state of parameter 0: 'momentum_buffer' holds NaN or inf"),
    (optim.SGD, dict(momentum=0.9), _entry("exp_avg", np.ones(3, np.float32)),
     r"state of parameter 0 does not fit SGD: it lacks \[\] and has \['exp_avg'\]"),
    (optim.Adam, {}, lambda sd: sd["state"][1].pop("exp_avg_sq"),
     r"state of parameter 1 does not fit Adam: it lacks \['exp_avg_sq'\]"),
    (optim.Adam, {}, _group("amsgrad", True), r"it lacks \['max_exp_avg_sq'\]"),
    (optim.RMSprop, {}, _group("centered", True), r"it lacks \['grad_avg'\]"),
    (optim.Adam, {}, _entry("step", 0), r"'step' must be an int in \[1, 2\*\*63\), got 0"),
    (optim.Adam, {}, _entry("step", True), r"'step' must be an int .* got True"),
    (optim.Adam, {}, _entry("step", 2.0), r"'step' must be an int .* got 2.0"),
    (optim.Adam, {}, _entry("step", 2 ** 70), r"'step' must be an int .* got 1180"),
])
def test_load_state_dict_refuses_a_bad_state_and_changes_nothing(cls, kwargs, edit, msg):
    opt = _stepped(cls, **kwargs)
    bad = opt.state_dict()
    edit(bad)
    before = _snapshot(opt)
    with pytest.raises(ValueError, match=msg):
        opt.validate_state_dict(bad)
    with pytest.raises(ValueError, match=msg):
        opt.load_state_dict(bad)
    _same(_snapshot(opt), before)


def test_a_state_of_another_optimizer_is_refused_by_name():
    # SGD's state given to Adam used to fail mid-step with KeyError 'betas'
    sgd = _stepped(optim.SGD, momentum=0.9)
    adam = optim.Adam([nn.Parameter(cr.zeros(3)), nn.Parameter(cr.zeros(2, 2))])
    with pytest.raises(ValueError, match=r"param_groups\[0\] does not fit Adam: it lacks "
                                         r"\['betas', 'eps', 'amsgrad', 'decoupled_weight_decay'"
                                         r"\] and has \['momentum', 'dampening', 'nesterov'\]"):
        adam.load_state_dict(sgd.state_dict())
    assert adam.state == {} and adam.param_groups[0]["betas"] == (0.9, 0.999)


def test_a_state_after_a_plain_json_round_trip_still_loads():
    import json

    opt = _stepped(optim.Adam)
    sd = opt.state_dict()
    doc = json.loads(json.dumps({"state": {k: {n: v.tolist() if isinstance(v, np.ndarray)
                                               else v for n, v in s.items()}
                                           for k, s in sd["state"].items()},
                                 "param_groups": sd["param_groups"]}))
    assert list(doc["state"]) == ["0", "1"]  # JSON keys are strings
    for s in doc["state"].values():
        for n in ("exp_avg", "exp_avg_sq"):
            s[n] = np.array(s[n], np.float32)
    fresh = optim.Adam([nn.Parameter(cr.zeros(3)), nn.Parameter(cr.zeros(2, 2))])
    fresh.load_state_dict(doc)
    _same(_snapshot(fresh), _snapshot(opt))
