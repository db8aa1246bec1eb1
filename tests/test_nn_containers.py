"""``ModuleDict``, ``ParameterList`` and ``ParameterDict`` against torch's: construction,
indexing, update, keys/items/values, len, iteration, parameter registration and names in
``state_dict``, reprs and errors. Each check runs the same function on ``chainrule`` and on
``torch`` (``lib``) and compares what comes out."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


def _plain(value: Any) -> Any:
    """A result in comparable form: shapes as tuples, dtypes and modules by name."""
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        return ("tensor", type(value).__name__, tuple(value.shape),
                str(value.dtype).replace("torch.", ""), value.requires_grad)
    if isinstance(value, (nn.Module, torch.nn.Module)):
        return ("module", repr(value))
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, torch.Size):
        return tuple(value)
    return value


def _same(fn: Callable[[Any], Any]) -> Any:
    """``fn(cr)`` and ``fn(torch)`` give the same (plain) result; returns ours."""
    ours, theirs = fn(cr), fn(torch)
    assert _plain(ours) == _plain(theirs)
    return ours


def _same_error(fn: Callable[[Any], Any], error: Any, match: str) -> None:
    """Both raise ``error``; ours with a message matching ``match``."""
    with pytest.raises(error):
        fn(torch)
    with pytest.raises(error, match=match):
        fn(cr)


def _param(lib: Any, *shape: int, **kw: Any) -> Any:
    return lib.nn.Parameter(lib.zeros(*shape), **kw)


# ============================================================================ ModuleDict
def _heads(lib: Any) -> Any:
    return lib.nn.ModuleDict({"cls": lib.nn.Linear(4, 3), "box": lib.nn.Linear(4, 2)})


def test_module_dict_construction_order_and_views():
    _same(lambda lib: list(_heads(lib)))  # a plain dict keeps its order (no sorting)
    _same(lambda lib: list(_heads(lib).keys()))
    _same(lambda lib: [(k, v) for k, v in _heads(lib).items()])
    _same(lambda lib: list(_heads(lib).values()))
    _same(lambda lib: (len(_heads(lib)), "cls" in _heads(lib), "x" in _heads(lib)))
    _same(lambda lib: list(lib.nn.ModuleDict([("z", lib.nn.ReLU()), ("a", lib.nn.Tanh())])))
    _same(lambda lib: list(lib.nn.ModuleDict(OrderedDict(z=lib.nn.ReLU(), a=lib.nn.Tanh()))))
    _same(lambda lib: list(lib.nn.ModuleDict(_heads(lib))))  # from another ModuleDict
    _same(lambda lib: (len(lib.nn.ModuleDict()), list(lib.nn.ModuleDict())))


def test_module_dict_indexing_update_and_removal():
    def edit(lib: Any) -> Any:
        d = _heads(lib)
        d["cls"] = lib.nn.Linear(4, 5)  # replaced in place: the order stays
        d.update([("extra", lib.nn.ReLU()), ("box", lib.nn.Tanh())])
        d.update({"more": lib.nn.Sigmoid()})
        out = [list(d), d["cls"], d["box"], d.cls]
        popped = d.pop("extra")
        del d["more"]
        out += [popped, list(d), len(d)]
        d["none"] = None  # a placeholder, as torch allows
        out += [list(d), d["none"]]
        d.clear()
        return out + [len(d), list(d.parameters())]

    _same(edit)


def test_module_dict_registers_parameters_with_hierarchical_names():
    _same(lambda lib: [n for n, _ in _heads(lib).named_parameters()])
    _same(lambda lib: list(_heads(lib).state_dict()))

    def nested(lib: Any) -> Any:
        outer = lib.nn.Module()
        outer.heads = _heads(lib)
        return [n for n, _ in outer.named_parameters()], [n for n, _ in outer.named_modules()]

    _same(nested)
    ours, theirs = _heads(cr), _heads(torch)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(ours["box"](cr.tensor(x)).detach().numpy(),
                               theirs["box"](torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_module_dict_repr():
    assert repr(_heads(cr)) == repr(_heads(torch))
    assert repr(cr.nn.ModuleDict()) == repr(torch.nn.ModuleDict()) == "ModuleDict()"


def test_module_dict_errors():
    _same_error(lambda lib: _heads(lib)["missing"], KeyError, "missing")
    _same_error(lambda lib: _heads(lib).pop("missing"), KeyError, "missing")
    _same_error(lambda lib: _heads(lib)(1), NotImplementedError, "forward")
    _same_error(lambda lib: lib.nn.ModuleDict({"a": 1}), TypeError, "int is not a Module")
    _same_error(lambda lib: lib.nn.ModuleDict([1]), TypeError,
                "ModuleDict update sequence element #0 should be Iterable; is int")
    _same_error(lambda lib: lib.nn.ModuleDict([("a",)]), ValueError,
                "ModuleDict update sequence element #0 has length 1; 2 is required")
    _same_error(lambda lib: lib.nn.ModuleDict().update("a"), ValueError,  # a str iterates
                "element #0 has length 1; 2 is required")
    _same_error(lambda lib: lib.nn.ModuleDict().update(5), TypeError,
                "ModuleDict.update should be called with an iterable of key/value pairs, "
                "but got int")
    _same_error(lambda lib: lib.nn.ModuleDict().__setitem__(1, lib.nn.ReLU()), TypeError,
                "module name should be a string")
    _same_error(lambda lib: lib.nn.ModuleDict().__setitem__("a.b", lib.nn.ReLU()), KeyError,
                'contain "."')


# ============================================================================ ParameterList
def _plist(lib: Any) -> Any:
    return lib.nn.ParameterList([_param(lib, 2, 3), lib.ones(4),
                                 lib.ones(2, dtype=lib.float64)])


def test_parameter_list_wraps_tensors_and_registers_them():
    _same(lambda lib: list(_plist(lib)))  # a plain tensor became a Parameter
    _same(lambda lib: [n for n, _ in _plist(lib).named_parameters()])
    _same(lambda lib: list(_plist(lib).state_dict()))
    _same(lambda lib: (len(_plist(lib)), len(list(_plist(lib).parameters()))))
    _same(lambda lib: [p.requires_grad for p in lib.nn.ParameterList(
        [lib.ones(2), lib.nn.Parameter(lib.ones(2), requires_grad=False)])])

    def in_module(lib: Any) -> Any:
        m = lib.nn.Module()
        m.ps = _plist(lib)
        return list(m.state_dict()), [n for n, _ in m.named_parameters()]

    _same(in_module)
    p = nn.Parameter(cr.ones(2))
    assert nn.ParameterList([p])[0] is p  # a Parameter is kept, not copied
    assert len(list(nn.ParameterList([p, p]).parameters())) == 1  # shared: listed once


def test_parameter_list_indexing_slicing_and_iteration():
    _same(lambda lib: (_plist(lib)[0], _plist(lib)[-1], _plist(lib)[-3]))
    _same(lambda lib: (type(_plist(lib)[1:]).__name__, list(_plist(lib)[1:])))
    _same(lambda lib: list(_plist(lib)[::2]))
    _same(lambda lib: list(reversed(_plist(lib))))
    _same(lambda lib: [a for a in dir(_plist(lib)) if a.isdigit()])  # no '0', '1' in dir

    def edit(lib: Any) -> Any:
        ps = _plist(lib)
        ps[0] = lib.ones(5)  # a tensor set is wrapped too
        ps[-1] = lib.nn.Parameter(lib.ones(1, dtype=lib.float64))
        ps.append(lib.zeros(3)).append(lib.zeros(1))
        ps.extend([lib.zeros(2)])
        ps += [lib.zeros(7)]
        return list(ps), [n for n, _ in ps.named_parameters()], len(ps)

    _same(edit)


def test_parameter_list_holds_other_objects_like_torch():
    def mixed(lib: Any) -> Any:
        ps = lib.nn.ParameterList([lib.ones(1)])
        ps.append(3)
        ps.append("text")
        return ps[1], ps[2], len(ps), len(list(ps.parameters())), repr(ps)

    _same(mixed)


def test_parameter_list_repr():
    assert repr(_plist(cr)) == repr(_plist(torch))
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList())


def test_parameter_list_errors():
    _same_error(lambda lib: _plist(lib)[3], IndexError, "index 3 is out of range")
    _same_error(lambda lib: _plist(lib)[-4], IndexError, "out of range")
    _same_error(lambda lib: _plist(lib)["0"], TypeError, "cannot be interpreted as an integer")
    _same_error(lambda lib: _plist(lib).__setitem__(5, lib.ones(1)), IndexError,
                "out of range")
    _same_error(lambda lib: lib.nn.ParameterList().extend(3), TypeError,
                "ParameterList.extend should be called with an iterable, but got int")
    _same_error(lambda lib: lib.nn.ParameterList().extend(lib.ones(2)), TypeError,
                "ParameterList.extend should be called with an iterable, but got")
    _same_error(lambda lib: _plist(lib)(1), RuntimeError, "ParameterList should not be called")


# ============================================================================ ParameterDict
def _pdict(lib: Any) -> Any:
    return lib.nn.ParameterDict({"w": _param(lib, 2, 3), "b": lib.ones(4),
                                 "d": lib.ones(2, dtype=lib.float64)})


def test_parameter_dict_construction_order_and_views():
    _same(lambda lib: list(_pdict(lib)))  # a plain dict is added in sorted key order
    _same(lambda lib: list(_pdict(lib).keys()))
    _same(lambda lib: list(_pdict(lib).values()))
    _same(lambda lib: list(_pdict(lib).items()))
    _same(lambda lib: (len(_pdict(lib)), "w" in _pdict(lib), "x" in _pdict(lib)))
    _same(lambda lib: list(reversed(_pdict(lib))))
    _same(lambda lib: list(lib.nn.ParameterDict(OrderedDict(z=lib.ones(1), a=lib.ones(2)))))
    _same(lambda lib: list(lib.nn.ParameterDict([("z", lib.ones(1)), ("a", lib.ones(2))])))
    _same(lambda lib: list(lib.nn.ParameterDict(_pdict(lib))))
    _same(lambda lib: (_pdict(lib).w, _pdict(lib)["b"]))  # keys are attributes too


def test_parameter_dict_registers_parameters_by_key():
    _same(lambda lib: [n for n, _ in _pdict(lib).named_parameters()])
    _same(lambda lib: list(_pdict(lib).state_dict()))

    def in_module(lib: Any) -> Any:
        m = lib.nn.Module()
        m.pd = _pdict(lib)
        del m.pd["b"]
        return list(m.state_dict()), [n for n, _ in m.named_parameters()]

    _same(in_module)
    ours = _pdict(cr)
    ours.load_state_dict({"w": np.full((2, 3), 2.0, np.float32), "b": np.zeros(4, np.float32),
                          "d": np.ones(2)})
    assert ours["w"].tolist() == [[2.0] * 3] * 2


def test_parameter_dict_dict_methods():
    def edit(lib: Any) -> Any:
        d = _pdict(lib)
        d["w"] = lib.ones(5)  # replaced; a tensor is wrapped
        d.update({"z": lib.ones(1), "a": lib.ones(1)})  # sorted: a, then z
        d.update([("y", lib.ones(1))])
        out = [list(d), d["w"], d.get("w"), d.get("x"), d.get("x", 3)]
        out += [d.setdefault("w", lib.ones(9)), d.setdefault("new", lib.ones(2)), list(d)]
        out += [d.pop("a"), d.popitem(), list(d)]
        copy = d.copy()
        out += [type(copy).__name__, copy is d, copy["w"] is d["w"], list(copy)]
        del d["b"]
        out += [list(d), [n for n, _ in d.named_parameters()]]
        d.clear()
        return out + [len(d), list(d.parameters())]

    _same(edit)
    _same(lambda lib: list(lib.nn.ParameterDict().fromkeys(["b", "a"], lib.ones(1))))
    _same(lambda lib: list(lib.nn.ParameterDict(OrderedDict(a=lib.ones(1)))
                           | lib.nn.ParameterDict(OrderedDict(b=lib.ones(1)))))
    _same(lambda lib: list(lib.nn.ParameterDict(OrderedDict(a=lib.ones(1))).__ror__(
        lib.nn.ParameterDict(OrderedDict(b=lib.ones(1))))))

    def ior(lib: Any) -> Any:
        d = lib.nn.ParameterDict(OrderedDict(a=lib.ones(1)))
        same = d.__ior__({"z": lib.ones(1), "b": lib.ones(1)}) is d
        return same, list(d)

    _same(ior)


def test_parameter_dict_holds_other_objects_like_torch():
    def mixed(lib: Any) -> Any:
        d = lib.nn.ParameterDict(OrderedDict(w=lib.ones(1)))
        d["n"] = 3
        d["none"] = None
        return d["n"], d["none"], list(d), len(list(d.parameters())), repr(d)

    _same(mixed)


def test_parameter_dict_repr():
    assert repr(_pdict(cr)) == repr(_pdict(torch))
    assert repr(nn.ParameterDict({"w": cr.ones(2, 2)})) == \
        repr(torch.nn.ParameterDict({"w": torch.ones(2, 2)}))
    assert repr(nn.ParameterDict()) == repr(torch.nn.ParameterDict())


def test_parameter_dict_errors():
    _same_error(lambda lib: lib.nn.ParameterDict().__setitem__(1, lib.ones(1)), TypeError,
                "Index given to ParameterDict cannot be used as a key as it is not a string "
                r"\(type is 'int'\)")
    _same_error(lambda lib: lib.nn.ParameterDict().__setitem__("a.b", lib.ones(1)), KeyError,
                'contain "."')
    _same_error(lambda lib: lib.nn.ParameterDict().update([1]), TypeError,
                "ParameterDict update sequence element #0 should be Iterable; is int")
    _same_error(lambda lib: lib.nn.ParameterDict().update([("a",)]), ValueError,
                "ParameterDict update sequence element #0 has length 1; 2 is required")
    _same_error(lambda lib: lib.nn.ParameterDict().update(5), TypeError,
                "ParameterDict.update should be called with an iterable of key/value pairs, "
                "but got int")
    _same_error(lambda lib: lib.nn.ParameterDict().pop("x"), (KeyError, AttributeError), "x")
    _same_error(lambda lib: lib.nn.ParameterDict().__delitem__("x"), KeyError, "x")
    _same_error(lambda lib: _pdict(lib)(1), RuntimeError, "ParameterDict should not be called")
    # a missing key: KeyError here (torch raises AttributeError, from its getattr)
    with pytest.raises(AttributeError):
        torch.nn.ParameterDict()["x"]
    with pytest.raises(KeyError, match="x"):
        nn.ParameterDict()["x"]
    d = nn.ParameterDict({"w": cr.ones(1)})
    with pytest.raises(KeyError):
        d["a.b"] = cr.ones(1)
    assert list(d) == ["w"]  # a refused key is not added


# ======================================================================= Sequential, ModuleList
def test_numbered_containers_hide_their_indices_from_dir_like_torch():
    _same(lambda lib: [a for a in dir(lib.nn.Sequential(lib.nn.ReLU())) if a.isdigit()])
    _same(lambda lib: [a for a in dir(lib.nn.ModuleList([lib.nn.ReLU()])) if a.isdigit()])
