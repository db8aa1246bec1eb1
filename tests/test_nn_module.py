"""Module, Parameter and the containers: registration order, traversal, modes, state_dict
(round trip, validate-then-copy errors), repr against PyTorch's, hooks and dtype casts."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


@pytest.fixture(autouse=True)
def seed() -> None:
    cr.manual_seed(0)
    torch.manual_seed(0)


def build(lib):
    """The same small CNN in chainrule and in torch."""
    m = lib.nn

    class LeNet5(m.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = m.Conv2d(1, 6, kernel_size=5, padding=2)
            self.bn1 = m.BatchNorm2d(6)
            self.pool = m.MaxPool2d(2)
            self.head = m.Sequential(m.Flatten(), m.Linear(6 * 14 * 14, 10), m.ReLU(),
                                     m.Dropout(0.25))

        def forward(self, x):
            return self.head(self.pool(self.bn1(self.conv1(x))))

    return LeNet5()


def test_names_order_and_traversal_match_torch():
    ours, theirs = build(cr), build(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == ["conv1", "bn1", "pool", "head"]
    assert len(list(ours.children())) == 4 and len(list(ours.modules())) == 9
    assert all(isinstance(p, nn.Parameter) and p.is_leaf for p in ours.parameters())
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters())


def test_repr_matches_torch():
    assert repr(build(cr)) == repr(build(torch))


def test_parameter_is_a_leaf_tensor_sharing_data():
    data = cr.zeros(3)
    p = nn.Parameter(data)
    assert p.requires_grad and p.is_leaf and p._data is data._data
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor([0., 0., 0.]")
    (p * 2).sum().backward()
    assert p.grad.tolist() == [2.0, 2.0, 2.0]


def test_assignment_rules():
    m = nn.Module()
    m.w = nn.Parameter(cr.ones(2))
    m.plain = cr.ones(2)  # a plain tensor attribute is not registered
    m.register_buffer("stat", cr.zeros(2))
    m.register_buffer("scratch", cr.zeros(1), persistent=False)
    assert list(m.state_dict()) == ["w", "stat"]
    assert [n for n, _ in m.named_buffers()] == ["stat", "scratch"]
    m.stat = cr.ones(2)  # reassigning a buffer keeps it a buffer
    assert m.state_dict()["stat"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = cr.ones(2)
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", cr.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor"):
        m.register_parameter("v", _non_leaf_parameter())
    del m.w
    assert list(m.state_dict()) == ["stat"]
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'w'"):
        m.w


def _non_leaf_parameter() -> nn.Parameter:
    p = nn.Parameter(cr.ones(1))
    p.grad_fn = object()  # pretend it came out of an op
    return p


def test_module_needs_init_and_forward():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cr.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Bad()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(cr.ones(1))


def test_train_eval_and_mode_contexts():
    model = build(cr)
    assert model.training and model.head[3].training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    model.bn1.eval()
    with nn.eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and not model.bn1.training  # each submodule's flag restored
    with pytest.raises(RuntimeError, match="boom"):
        with nn.train_mode(model):
            assert model.bn1.training
            raise RuntimeError("boom")
    assert not model.bn1.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train("yes")


def test_zero_grad_requires_grad_and_apply():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    model(cr.ones(4, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model[0].requires_grad_(False)
    model(cr.ones(4, 3)).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "Linear", "Sequential"]


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(2, 2)
    model = nn.Sequential(fc, fc)
    assert len(list(model.parameters())) == 2
    assert len(list(model.named_modules())) == 2


def test_state_dict_round_trip_and_sharing():
    a, b = build(cr), build(cr)
    x = cr.randn(2, 1, 28, 28)
    a.eval(), b.eval()
    assert not np.allclose(a(x)._data, b(x)._data)
    assert b.load_state_dict(a.state_dict()) == ([], [])
    np.testing.assert_array_equal(a(x)._data, b(x)._data)
    sd = a.state_dict()
    assert not sd["conv1.weight"].requires_grad
    assert sd["conv1.weight"]._data is a.conv1.weight._data  # shares memory, like torch
    assert sd["bn1.num_batches_tracked"].dtype == np.int64


def test_load_state_dict_lists_every_problem_and_leaves_model_untouched():
    class LeNet5(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, k)
            self.fc = nn.Linear(4, 2)

    model = LeNet5(3)
    before = {k: v._data.copy() for k, v in model.state_dict().items()}
    sd = {k: v for k, v in LeNet5(5).state_dict().items() if k != "fc.bias"}
    sd["fc.weight"] = cr.ones(2, 4)
    sd["extra"] = cr.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for LeNet5:")
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    assert 'Missing key(s) in state_dict: "fc.bias".' in msg
    assert ("size mismatch for conv1.weight: copying a param with shape (6, 1, 5, 5) from "
            "checkpoint, the shape in current model is (6, 1, 3, 3).") in msg
    for k, v in model.state_dict().items():  # nothing was copied, not even fc.weight
        np.testing.assert_array_equal(v._data, before[k])
    with pytest.raises(RuntimeError, match="size mismatch for conv1.weight"):
        model.load_state_dict(sd, strict=False)  # shapes are checked even when not strict


def test_load_state_dict_non_strict_returns_keys_and_accepts_arrays():
    model = nn.Linear(2, 1)
    result = model.load_state_dict({"weight": np.array([[1.0, 2.0]]), "junk": np.zeros(1)},
                                   strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["junk"]
    assert model.weight.tolist() == [[1.0, 2.0]] and model.weight.dtype == np.float32
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        model.load_state_dict([("weight", 1)])


def test_loading_torch_weights_gives_torch_outputs():
    ours, theirs = build(cr), build(torch)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x))._data,
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-5)


def test_sequential_and_module_list():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    seq.append(nn.Sigmoid())
    y = seq(cr.ones(4, 2))
    assert y.shape == (4, 1) and ((y._data > 0) & (y._data < 1)).all()
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    with pytest.raises(IndexError, match="index 5 is out of range for Sequential of length 2"):
        named[5]
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.Linear(1, 2)).extend([nn.Linear(2, 3)])
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "Linear"]
    assert list(layers.state_dict())[:2] == ["1.weight", "1.bias"]
    del layers[0]
    assert len(layers) == 3 and list(layers.state_dict())[0] == "0.weight"
    x = cr.ones(2)
    assert nn.Identity(3, foo=1)(x) is x


def test_forward_hooks():
    fc = nn.Linear(2, 2)
    seen = []
    h1 = fc.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    h2 = fc.register_forward_hook(lambda m, args, out: out * 0)
    assert not fc(cr.ones(3, 2))._data.any() and seen == [(3, 2)]
    h1.remove(), h2.remove()
    fc(cr.ones(1, 2))
    assert seen == [(3, 2)]


def test_to_double_keeps_parameter_identity():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    params = list(model.parameters())
    model.double()
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in params)
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model.float()[0].weight.dtype == np.float32
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        model.to(cr.int64)


def test_train_calls_each_childs_own_train_like_torch():
    """A submodule that overrides ``train`` (here: keep its BatchNorm frozen) is obeyed when
    the parent's ``train()``/``eval()`` or a mode context reaches it, as in torch."""
    def make(lib):
        class Frozen(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = lib.nn.BatchNorm1d(2)

            def train(self, mode=True):
                super().train(mode)
                self.bn.eval()
                return self

        return lib.nn.Sequential(Frozen(), lib.nn.Dropout())

    ours, theirs = make(cr), make(torch)
    for model in (ours, theirs):
        model.eval()
        model.train()
    flags = [(name, m.training) for name, m in ours.named_modules()]
    assert flags == [(name, m.training) for name, m in theirs.named_modules()]
    assert flags == [("", True), ("0", True), ("0.bn", False), ("1", True)]
    with nn.train_mode(ours):
        assert not ours[0].bn.training and ours[1].training
    ours.eval()
    with nn.train_mode(ours):
        assert not ours[0].bn.training
    assert not ours[1].training  # restored


def test_sequential_delete_renumbers_like_torch():
    """After ``del seq[i]`` the keys are '0', '1', ... again, so ``append`` adds a module
    instead of overwriting the last one (and state_dict keys match torch's)."""
    def make(lib):
        seq = lib.nn.Sequential(lib.nn.Linear(1, 1), lib.nn.ReLU(), lib.nn.Linear(1, 2))
        del seq[0]
        seq.append(lib.nn.Linear(2, 3))
        return seq

    ours, theirs = make(cr), make(torch)
    assert len(ours) == len(theirs) == 3
    assert [type(m).__name__ for m in ours] == ["ReLU", "Linear", "Linear"]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["1.weight", "1.bias", "2.weight", "2.bias"]
    ours_s = nn.Sequential(*[nn.Linear(1, 1) for _ in range(4)])
    theirs_s = torch.nn.Sequential(*[torch.nn.Linear(1, 1) for _ in range(4)])
    del ours_s[1:3], theirs_s[1:3]
    assert list(ours_s.state_dict()) == list(theirs_s.state_dict()) == \
        ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="'str' object cannot be interpreted as an integer"):
        ours_s["0"]
    with pytest.raises(TypeError, match="'str' object cannot be interpreted as an integer"):
        nn.ModuleList([nn.ReLU()])["0"]


def test_zero_grad_without_set_to_none_zeroes_in_place_like_torch():
    """``zero_grad(set_to_none=False)`` (module and optimizer) zeroes the existing gradient
    tensor, as torch's ``grad.zero_()``: a reference taken before sees the zeros."""
    for lib in (cr, torch):
        model = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        model(lib.ones(1, 2)).sum().backward()
        g = model.weight.grad
        model.zero_grad(set_to_none=False)
        assert model.weight.grad is g and g.tolist() == [[0.0, 0.0]], lib.__name__
        model(lib.ones(1, 2)).sum().backward()
        g = model.bias.grad
        opt.zero_grad(set_to_none=False)
        assert model.bias.grad is g and g.tolist() == [0.0], lib.__name__
        model(lib.ones(1, 2)).sum().backward()
        assert model.weight.grad.tolist() == [[1.0, 1.0]], lib.__name__


def test_load_state_dict_reports_missing_before_unexpected_like_torch():
    messages = []
    for lib in (cr, torch):
        model = lib.nn.Linear(2, 1)
        sd = dict(model.state_dict())
        del sd["bias"]
        sd["foo"] = sd["weight"]
        with pytest.raises(RuntimeError) as info:
            model.load_state_dict(sd)
        messages.append(str(info.value))
    assert messages[0] == messages[1] == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        '\n\tUnexpected key(s) in state_dict: "foo". ')


def test_to_rejects_a_device_other_than_cpu():
    """``to('cuda')`` is an error naming the op and the device (the layers' ``device=`` is
    too), not a silent no-op; ``'cpu'`` is accepted, alone or with a dtype."""
    model = nn.Linear(2, 2)
    assert model.to("cpu") is model and model.to(device="cpu").weight.dtype == np.float32
    assert model.to("cpu", cr.float64).weight.dtype == np.float64
    for call in (lambda: model.to("cuda"), lambda: model.to(device="cuda:0"),
                 lambda: model.to("cuda", cr.float32)):
        with pytest.raises(RuntimeError, match="nn.Module.to: device 'cuda(:0)?' is not "
                                               "available: chainrule runs on the CPU only"):
            call()
    assert model.weight.dtype == np.float64  # nothing was cast by the refused calls


def test_get_submodule_as_torch():
    ours = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    ref = torch.nn.Sequential(torch.nn.Linear(2, 3),
                              torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    assert ours.get_submodule("") is ours
    assert ours.get_submodule("1.1") is ours[1][1]
    for target in ("2", "1.5", "0.weight", "0.weight.x", "1.0.inplace"):
        with pytest.raises(AttributeError) as torch_err:
            ref.get_submodule(target)
        with pytest.raises(AttributeError) as our_err:
            ours.get_submodule(target)
        assert str(our_err.value) == str(torch_err.value), target


# -- load_state_dict: validate every entry, convert, then assign (issue 20, item 6) -------------

def _lenet_with_other_values():
    """LeNet-5 and a state dict of it whose every entry differs from the model's values."""
    model = cr.models.LeNet5()
    with cr.no_grad():
        model(cr.randn(4, 1, 28, 28))  # training mode: the running stats and counts move
    other = cr.models.LeNet5()
    return model, {k: v._data.copy() for k, v in other.state_dict().items()}


def _snapshot(model):
    return {k: (v._data.copy(), v._version) for k, v in model.state_dict(keep_vars=True).items()}


def _assert_untouched(model, before):
    after = _snapshot(model)
    assert list(after) == list(before)
    for k, (data, version) in before.items():
        assert after[k][0].dtype == data.dtype and after[k][0].shape == data.shape, k
        assert after[k][0].tobytes() == data.tobytes(), f"{k} was overwritten"  # bit-identical
        assert after[k][1] == version, k


_LAST = "fc2.bias"  # the last of LeNet-5's 25 entries: everything before it would be written
_BAD_ENTRIES = {
    "wrong shape": (lambda v: np.zeros(v.shape + (1,), v.dtype),
                    r"size mismatch for fc2\.bias: copying a param with shape \(10, 1\)"),
    "string array": (lambda v: np.array(["w"] * v.size),
                     r'parameter named "fc2\.bias".*<U1.*not numbers'),
    "numeric strings": (lambda v: np.array(["1.0"] * v.size),  # NumPy would parse them
                        r'parameter named "fc2\.bias".*<U3.*not numbers'),
    "object array of None": (lambda v: np.array([None] * v.size, dtype=object),
                             r'parameter named "fc2\.bias".*object.*not numbers'),
    "complex": (lambda v: v.astype(np.complex64) + 1j,
                r'parameter named "fc2\.bias".*model is float32.*checkpoint is complex64.*'
                r"imaginary part"),
    "a list": (lambda v: v.tolist(),
               r'parameter named "fc2\.bias", expected a Tensor or a NumPy array from the '
               r"checkpoint but received <class 'list'>"),
    "a float": (lambda v: 1.0, r'parameter named "fc2\.bias".*received <class \'float\'>'),
    "None": (lambda v: None, r'parameter named "fc2\.bias".*received <class \'NoneType\'>'),
}


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("case", list(_BAD_ENTRIES))
def test_load_state_dict_bad_last_entry_leaves_every_tensor_bit_identical(case, strict):
    """A bad value in the last key used to leave the 24 entries before it overwritten (then
    raise), turn None into NaN weights and drop imaginary parts: now every key is checked
    before anything is written, the error names the key, and every parameter and buffer keeps
    its bits and its version."""
    model, sd = _lenet_with_other_values()
    make, match = _BAD_ENTRIES[case]
    sd[_LAST] = make(sd[_LAST])
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match=match) as info:
        model.load_state_dict(sd, strict=strict)
    assert str(info.value).startswith("Error(s) in loading state_dict for LeNet5:")
    _assert_untouched(model, before)


@pytest.mark.parametrize("case", ["missing key", "unexpected key"])
def test_load_state_dict_bad_keys_leave_every_tensor_bit_identical(case):
    model, sd = _lenet_with_other_values()
    if case == "missing key":
        del sd[_LAST]
        match = r'Missing key\(s\) in state_dict: "fc2\.bias"\.'
    else:
        sd["fc3.weight"] = np.zeros(3, np.float32)
        match = r'Unexpected key\(s\) in state_dict: "fc3\.weight"\.'
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match=match):
        model.load_state_dict(sd)
    _assert_untouched(model, before)


def test_load_state_dict_lists_every_bad_entry_at_once():
    model, sd = _lenet_with_other_values()
    sd["conv1.weight"] = "weights"
    sd["bn1.running_mean"] = sd["bn1.running_mean"].astype(np.complex128)
    sd[_LAST] = np.array([None] * 10, dtype=object)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    named = [line.split('"')[1] for line in str(info.value).split("\n\t")[1:]]
    assert named == ["conv1.weight", "bn1.running_mean", _LAST]  # the module's order


def test_load_state_dict_converts_dtypes_as_torch_does():
    """float64 -> float32 (and int/bool -> float) convert as torch's ``copy_`` does; the
    model keeps its dtypes and each tensor its identity."""
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    rng = np.random.default_rng(0)
    values = {"weight": rng.standard_normal(3), "bias": np.array([1, -2, 3]),
              "running_mean": np.array([True, False, True]),
              "running_var": rng.random(3) + 0.5, "num_batches_tracked": np.array(7, np.uint8)}
    weight = ours.weight
    ours.load_state_dict(values)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in values.items()})
    assert ours.weight is weight
    for k, v in ours.state_dict().items():
        ref = theirs.state_dict()[k].numpy()
        assert v.dtype == ref.dtype, k
        np.testing.assert_array_equal(v._data, ref)


def test_load_state_dict_refuses_a_float_into_an_integer_buffer():
    """torch's copy_ truncates 2.5 to 2 in num_batches_tracked; a lossy cross-kind cast is
    refused here (only casts within a kind or to a wider kind are made)."""
    model = nn.BatchNorm1d(2)
    sd = {k: v._data.copy() for k, v in model.state_dict().items()}
    sd["num_batches_tracked"] = np.array(2.5)
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match=r'parameter named "num_batches_tracked".*float64.*'
                                           r"int64"):
        model.load_state_dict(sd)
    _assert_untouched(model, before)


def test_load_state_dict_copies_sources_before_writing():
    """Sources that alias the model's own arrays (here two parameters swapped) are read before
    anything is written."""
    model = nn.Linear(2, 2, bias=False)
    model2 = nn.Linear(2, 2, bias=False)
    seq = nn.Sequential(model, model2)
    w0, w1 = model.weight._data.copy(), model2.weight._data.copy()
    seq.load_state_dict({"0.weight": model2.weight._data, "1.weight": model.weight._data})
    np.testing.assert_array_equal(model.weight._data, w1)
    np.testing.assert_array_equal(model2.weight._data, w0)


def test_load_state_dict_non_strict_returns_torchs_named_tuple():
    ours, theirs = nn.Linear(2, 1), torch.nn.Linear(2, 1)
    state = {"weight": [[1.0, 2.0]], "junk": [0.0]}
    got = ours.load_state_dict({k: np.array(v) for k, v in state.items()}, strict=False)
    ref = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert isinstance(got, tuple) and got._fields == ref._fields
    assert got == ref and got.missing_keys == ["bias"] and got.unexpected_keys == ["junk"]
    np.testing.assert_array_equal(ours.weight._data, theirs.weight.detach().numpy())


# ======================================================================= load_state_dict's result
def test_load_state_dict_result_prints_like_torch():
    ours, theirs = nn.Linear(2, 1), torch.nn.Linear(2, 1)
    got = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ref = theirs.load_state_dict(theirs.state_dict())
    assert repr(got) == str(got) == repr(ref) == "<All keys matched successfully>"
    assert got == ([], []) and got.missing_keys == [] and got.unexpected_keys == []
    got = ours.load_state_dict({"weight": np.ones((1, 2), np.float32), "junk": np.zeros(1)},
                               strict=False)
    ref = theirs.load_state_dict({"weight": torch.ones(1, 2), "junk": torch.zeros(1)},
                                 strict=False)
    assert repr(got) == str(got) == repr(ref) == \
        "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['junk'])"  # torch's name
    missing, unexpected = got  # still a named tuple
    assert (missing, unexpected) == (["bias"], ["junk"])


# ============================================================================ to(), reprs
def _dtypes(model) -> list[str]:
    return [str(t.dtype).replace("torch.", "") for t in (*model.parameters(), *model.buffers())]


def _bn_net(lib):
    return lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))


@pytest.mark.parametrize("call", [
    lambda lib, m: m.to(lib.float64),
    lambda lib, m: m.to(dtype=lib.float64),
    lambda lib, m: m.to(lib.ones(1, dtype=lib.float64)),  # a tensor's dtype
    lambda lib, m: m.to("cpu", lib.float64),
    lambda lib, m: m.to("cpu", lib.float64, True),  # non_blocking positional
    lambda lib, m: m.to(device="cpu", dtype=lib.float64, non_blocking=True),
    lambda lib, m: m.to(lib.device("cpu")),
    lambda lib, m: m.to("cpu"),
    lambda lib, m: m.to(),
    lambda lib, m: m.to(lib.float16),
    lambda lib, m: m.half(),
    lambda lib, m: m.double().float(),
    lambda lib, m: m.type(lib.float64),  # integer buffers too
    lambda lib, m: m.cpu(),
], ids=["dtype", "dtype=", "tensor", "device,dtype", "non_blocking", "keywords", "device",
        "cpu-str", "nothing", "float16", "half", "double-float", "type", "cpu()"])
def test_to_casts_like_torch(call):
    ours, theirs = _bn_net(cr), _bn_net(torch)
    assert call(cr, ours) is ours
    call(torch, theirs)
    assert _dtypes(ours) == _dtypes(theirs)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["dtype", "tensor"])
def test_to_refuses_a_non_floating_dtype_like_torch(dtype, as_tensor):
    def arg(lib):
        return lib.ones(1, dtype=getattr(lib, dtype)) if as_tensor else getattr(lib, dtype)

    with pytest.raises(TypeError) as theirs:
        _bn_net(torch).to(arg(torch))
    ours = _bn_net(cr)
    with pytest.raises(TypeError) as error:
        ours.to(arg(cr))
    assert str(error.value) == str(theirs.value).replace("torch.", "")
    assert set(_dtypes(ours)) == {"float32", "int64"}  # nothing cast


def test_to_casts_gradients_in_place_and_optimizers_keep_working_like_torch():
    def run(lib):
        model = lib.nn.Linear(2, 1)
        model(lib.ones(3, 2)).sum().backward()
        grad, weight = model.weight.grad, model.weight
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        model.double()
        same = (model.weight is weight, model.weight.grad is grad)
        opt.step()  # the optimizer still holds the (now float64) parameters
        return same, str(model.weight.grad.dtype), str(model.weight.dtype)

    ours, theirs = run(cr), run(torch)
    assert ours[0] == theirs[0] == (True, True)
    assert ours[1:] == tuple(s.replace("torch.", "") for s in theirs[1:]) == \
        ("float64", "float64")


def _zoo(lib):
    """A model with the containers, pooling and dropout layers nested in each other."""
    m = lib.nn
    model = m.Module()
    model.heads = m.ModuleDict({"cls": m.Sequential(m.AdaptiveAvgPool2d((None, 3)),
                                                    m.Dropout2d(0.1), m.Flatten()),
                                "box": m.ModuleList([m.AdaptiveMaxPool2d(2),
                                                     m.MaxPool2d(3, 2, 1), m.AvgPool2d(2)])})
    model.extra = m.ParameterList([m.Parameter(lib.zeros(2, 3)), lib.ones(4)])
    model.table = m.ParameterDict({"scale": lib.ones(3), "shift": lib.zeros(3)})
    model.empty = m.ModuleDict()
    model.drop = m.Dropout(0.5, inplace=True)
    return model


def test_nested_container_and_layer_reprs_match_torch():
    assert repr(_zoo(cr)) == repr(_zoo(torch))
    assert list(_zoo(cr).state_dict()) == list(_zoo(torch).state_dict())
    assert [n for n, _ in _zoo(cr).named_modules()] == \
        [n for n, _ in _zoo(torch).named_modules()]
