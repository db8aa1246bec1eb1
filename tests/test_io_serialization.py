"""chainrule.save / chainrule.load: torch.save / torch.load without pickle.

Round trips of every supported structure (against torch.save/torch.load's own round trip),
module, optimizer and scheduler state dicts, file objects, the file read by safetensors and
by PyTorch, every refused object and every malformed file, atomic writes."""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import serialization as ser
from chainrule.io.errors import CheckpointError, SerializationError
from chainrule.io.safetensors import load_bytes

torch = pytest.importorskip("torch")
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the benchmarks folder (torch's LeNet-5 mirror) is not installed
    sys.path.insert(0, str(REPO))

from benchmarks.cases import lenet5 as lenet5_in  # noqa: E402


def round_trip(obj, **load_args):
    buf = io.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    return cr.load(buf, **load_args)


def torch_round_trip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def shape_of(value):
    """A comparable description of a loaded object: exact container and scalar types, key
    types and order, NaN as a marker; tensors as (dtype, shape, values, requires_grad)."""
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        array = value.detach().numpy()
        return ("tensor", str(array.dtype), array.shape, array.tobytes(), value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, dict):
        return (type(value).__name__, [(shape_of(k), shape_of(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape_of(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(map(repr, map(shape_of, value))))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def to_torch(value):
    """The same object with chainrule tensors as torch tensors (for torch's round trip)."""
    if isinstance(value, cr.Tensor):
        t = torch.from_numpy(value.detach().numpy().copy())
        return t.requires_grad_(value.requires_grad)
    if isinstance(value, dict):
        return type(value)((k, to_torch(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(to_torch(v) for v in value)
    return value


# -- structures ----------------------------------------------------------------------------------

DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.floats(allow_nan=False),
                 st.booleans(), st.none(), st.tuples(st.integers(0, 3), st.text(max_size=2)))


@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    grad = dtype.startswith("float") and draw(st.booleans())
    return cr.tensor(array, requires_grad=grad)


structures = st.recursive(
    st.one_of(scalars, tensors()),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=4).map(OrderedDict)),
    max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=structures)
def test_round_trip_matches_torch_round_trip(obj):
    ours = round_trip(obj)
    assert shape_of(ours) == shape_of(obj)
    assert shape_of(ours) == shape_of(torch_round_trip(to_torch(obj)))


@settings(max_examples=30, deadline=None)
@given(elements=st.sets(keys, max_size=5), frozen=st.frozensets(st.integers(), max_size=4),
       blob=st.binary(min_size=1, max_size=20))
def test_sets_and_bytes_round_trip_as_in_torch(elements, frozen, blob):
    obj = {"s": elements, "b": blob}
    assert shape_of(round_trip(obj)) == shape_of(obj) == shape_of(torch_round_trip(obj))
    # torch.load(weights_only=True) refuses a frozenset and b""; chainrule keeps them
    assert shape_of(round_trip([frozen, b""])) == shape_of([frozen, b""])


def test_special_floats_and_key_types():
    obj = {0: float("nan"), 1: float("inf"), -1: float("-inf"), 2.5: -0.0, True: None,
           None: 5e-324, (1, "a"): [1, 1.0, True], "0": "str key beside int key 0"}
    back = round_trip(obj)
    assert shape_of(back) == shape_of(obj)
    assert math.copysign(1.0, back[2.5]) == -1.0
    assert list(back) == list(obj)


def test_single_tensor_and_list_of_tensors():
    t = cr.arange(6, dtype=cr.float16).reshape(2, 3)
    back = round_trip(t)
    assert isinstance(back, cr.Tensor) and back.dtype == np.float16 and back.shape == (2, 3)
    assert back.numpy().tobytes() == t.numpy().tobytes()
    a, b = round_trip([cr.zeros(2), cr.ones(3, dtype=cr.int64)])
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [1, 1, 1] and b.dtype == np.int64


def test_requires_grad_kept_and_a_non_leaf_loads_as_a_leaf():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    lx, ly, lz = round_trip([x, y, y.detach()])
    tx, ty, tz = torch_round_trip([torch.ones(2, requires_grad=True),
                                   torch.ones(2, requires_grad=True) * 2, torch.ones(2)])
    assert (lx.requires_grad, ly.requires_grad, lz.requires_grad) == \
        (tx.requires_grad, ty.requires_grad, tz.requires_grad) == (True, True, False)
    assert ly.is_leaf and ly.grad_fn is None and ly.tolist() == [2.0, 2.0]


def test_shared_tensor_saved_once_and_loaded_as_one_object():
    t = cr.randn(3)
    obj = {"a": t, "b": [t, cr.randn(3)]}
    buf = io.BytesIO()
    cr.save(obj, buf)
    arrays, _ = load_bytes(buf.getvalue())
    assert sorted(arrays) == ["a", "b.1"]  # the tensor once, under its first path
    back = round_trip(obj)
    assert back["a"] is back["b"][0]
    torch_back = torch_round_trip(to_torch({"x": [1]}) | {"a": (s := torch.ones(1)), "b": [s]})
    assert torch_back["a"] is torch_back["b"][0]  # torch keeps the identity too


def test_parameters_come_back_as_tensors_requiring_grad():
    p = nn.Parameter(cr.ones(2))
    back = round_trip([p])[0]
    assert type(back) is cr.Tensor and back.requires_grad and back.tolist() == [1.0, 1.0]


def test_numpy_values():
    obj = {"a": np.arange(3, dtype=np.int16), "s": np.float32(0.5), "i": np.int64(7),
           "b": np.bool_(True)}
    back = round_trip(obj)
    assert isinstance(back["a"], np.ndarray) and back["a"].dtype == np.int16
    assert back["a"].tolist() == [0, 1, 2]
    assert (back["s"], back["i"], back["b"]) == (0.5, 7, True)
    assert type(back["i"]) is int and type(back["b"]) is bool


def test_tensor_names_follow_paths_and_never_collide():
    obj = {"a.b": cr.zeros(1), "a": {"b": cr.ones(1)}, "__metadata__": cr.ones(2)}
    buf = io.BytesIO()
    cr.save(obj, buf)
    arrays, meta = load_bytes(buf.getvalue())
    assert sorted(arrays) == ["__metadata__#1", "a.b", "a.b#1"]
    assert meta["format"] == "chainrule.save" and meta["version"] == "1"
    back = round_trip(obj)
    assert back["a"]["b"].tolist() == [1.0] and back["a.b"].tolist() == [0.0]


def test_same_object_gives_identical_bytes(tmp_path):
    obj = {"w": cr.randn(3, 4), "meta": {"epoch": 3, "lr": 0.1}}
    cr.save(obj, tmp_path / "a.pth")
    cr.save(obj, tmp_path / "b.pth")
    assert (tmp_path / "a.pth").read_bytes() == (tmp_path / "b.pth").read_bytes()


# -- state dicts ---------------------------------------------------------------------------------

def test_model_state_dict_round_trip_as_torch_documents(tmp_path):
    cr.manual_seed(0)
    model = cr.models.LeNet5()
    path = tmp_path / "model.pth"
    cr.save(model.state_dict(), path)  # torch.save(model.state_dict(), PATH)
    loaded = cr.load(path, weights_only=True)
    assert type(loaded) is OrderedDict
    fresh = cr.models.LeNet5()
    fresh.load_state_dict(loaded)
    for (k, a), (k2, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())
    theirs = torch_round_trip(lenet5_in(torch).state_dict())
    assert type(theirs) is OrderedDict and list(theirs) == list(loaded)


def test_a_chainrule_state_dict_loads_into_pytorch(tmp_path):
    ref = pytest.importorskip("safetensors.torch")
    cr.manual_seed(1)
    model = cr.models.LeNet5()
    path = tmp_path / "model.pth"
    cr.save(model.state_dict(), path)
    theirs = lenet5_in(torch)
    result = theirs.load_state_dict(ref.load_file(str(path)), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    np.testing.assert_array_equal(theirs.fc2.weight.detach().numpy(), model.fc2.weight.detach().numpy())
    assert int(theirs.bn1.num_batches_tracked) == int(model.bn1.num_batches_tracked)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=1e-2, betas=(0.8, 0.99)),
    lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1, amsgrad=True),
    lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
])
def test_optimizer_state_dict_round_trip_resumes_identically(tmp_path, make):
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    opt = make(model.parameters())
    x, y = cr.randn(5, 4), cr.randint(0, 2, (5,))

    def step(m, o):
        o.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()

    for _ in range(3):
        step(model, opt)
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
            tmp_path / "ckpt.pth")
    ckpt = cr.load(tmp_path / "ckpt.pth")
    assert ckpt["epoch"] == 3 and all(type(k) is int for k in ckpt["optimizer"]["state"])
    assert shape_of(ckpt["optimizer"]) == shape_of(opt.state_dict())
    model2 = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    model2.load_state_dict(ckpt["model"])
    opt2 = make(model2.parameters())
    opt2.load_state_dict(ckpt["optimizer"])
    assert shape_of(opt2.state_dict()) == shape_of(opt.state_dict())
    step(model, opt)
    step(model2, opt2)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes()


def test_torch_optimizer_state_dict_keys_round_trip_like_ours():
    tp = torch.nn.Parameter(torch.ones(2))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    tp.grad = torch.ones(2)
    topt.step()
    theirs = torch_round_trip(topt.state_dict())
    p = nn.Parameter(cr.ones(2))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = cr.ones(2)
    opt.step()
    ours = round_trip(opt.state_dict())
    assert list(ours["state"]) == list(theirs["state"]) == [0]
    assert type(ours["param_groups"][0]["params"]) is type(theirs["param_groups"][0]["params"])
    np.testing.assert_array_equal(np.asarray(ours["state"][0]["momentum_buffer"]),
                                  theirs["state"][0]["momentum_buffer"].numpy())


def test_scheduler_state_dict_round_trip():
    opt = optim.SGD([nn.Parameter(cr.zeros(1))], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    back = round_trip(saved)
    assert shape_of(back) == shape_of(saved)
    opt2 = optim.SGD([nn.Parameter(cr.zeros(1))], lr=1.0)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    sched2.load_state_dict(back)
    assert sched2.get_last_lr() == sched.get_last_lr()


# -- files ---------------------------------------------------------------------------------------

def test_file_objects_and_paths(tmp_path):
    obj = {"w": cr.ones(2, 2), "n": 1}
    with open(tmp_path / "a.bin", "wb") as f:
        f.write(b"")
        cr.save(obj, f)
    with open(tmp_path / "a.bin", "rb") as f:
        assert shape_of(cr.load(f)) == shape_of(obj)
    cr.save(obj, str(tmp_path / "b.pth"))
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.pth").read_bytes()
    buf = io.BytesIO(b"prefix")
    buf.seek(0, io.SEEK_END)
    cr.save(obj, buf)
    buf.seek(6)  # read from the file's position, as torch.load does
    assert cr.load(buf)["n"] == 1


def test_load_options(tmp_path):
    path = tmp_path / "m.pth"
    cr.save({"w": cr.arange(3.0)}, path)
    for location in (None, "cpu", cr.device("cpu"), {"cuda:0": "cpu"}):
        assert cr.load(path, map_location=location)["w"].tolist() == [0.0, 1.0, 2.0]
    assert cr.load(path, weights_only=False)["w"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="chainrule.load: device 'cuda' is not available"):
        cr.load(path, map_location="cuda")
    with pytest.raises(TypeError, match="map_location as a function"):
        cr.load(path, map_location=lambda storage, loc: storage)


def test_mmap(tmp_path):
    path = tmp_path / "m.pth"
    cr.save({"w": cr.arange(4.0)}, path)
    before = path.read_bytes()
    w = cr.load(path, mmap=True)["w"]
    assert w.tolist() == [0.0, 1.0, 2.0, 3.0]
    w.add_(1.0)  # copy-on-write: the file is never changed
    assert w.tolist() == [1.0, 2.0, 3.0, 4.0] and path.read_bytes() == before
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap"):
        cr.load(io.BytesIO(before), mmap=True)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(SerializationError, match="truncated"):
        cr.load(tmp_path / "empty", mmap=True)


def test_plain_safetensors_files_load_as_dicts(tmp_path):
    ref = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    weights = {"w": torch.randn(2, 3), "h": torch.randn(4).to(torch.bfloat16),
               "i": torch.arange(3)}
    ref.save_file(weights, str(path))
    back = cr.load(path)
    assert sorted(back) == ["h", "i", "w"]
    np.testing.assert_array_equal(back["w"].numpy(), weights["w"].numpy())
    assert back["h"].dtype == np.float32  # bfloat16 widened, exactly
    assert back["h"].numpy().tobytes() == weights["h"].float().numpy().tobytes()
    assert back["i"].dtype == np.int64


def test_bfloat16_from_safetensors_numpy_with_raw_bits(tmp_path):
    # safetensors.numpy writes what its arrays are; a BF16 entry written by hand, as
    # ml_dtypes-backed writers do, is read the same way
    bits = torch.tensor([1.5, -3.0, 0.0]).to(torch.bfloat16).view(torch.int16).numpy()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}})
    blob = header.encode() + b" " * (-len(header) % 8)
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + bits.tobytes())
    assert cr.load(path)["x"].tolist() == [1.5, -3.0, 0.0]


# -- refused objects -----------------------------------------------------------------------------

@pytest.mark.parametrize("obj, exc, msg", [
    (nn.Linear(2, 2), TypeError, r"chainrule.save: obj is a Linear.*save its state_dict\(\) "
                                 r"instead, e.g. chainrule.save\(model.state_dict\(\), PATH\)"),
    ({"model": nn.Sequential(nn.Tanh())}, TypeError, r"obj\['model'\] is a Sequential"),
    ({"opt": optim.SGD([nn.Parameter(cr.ones(1))], lr=0.1)}, TypeError,
     r"obj\['opt'\] is a SGD.*state_dict"),
    ({"a": [1, object()]}, TypeError, r"obj\['a'\]\[1\] has type object, which chainrule.save "
                                      r"cannot store"),
    ({"c": 1j}, TypeError, r"obj\['c'\] has type complex"),
    ({"f": print}, TypeError, "has type builtin_function_or_method"),
    ({"b": bytearray(b"x")}, TypeError, "has type bytearray"),
    ({"w": np.array(["a"])}, TypeError, r"obj\['w'\] has dtype <U1, which the file cannot "
                                        "hold"),
    ({"w": np.zeros(2, np.complex64)}, TypeError, "has dtype complex64"),
    ({(1, frozenset([2])): 3}, TypeError, r"a key of obj is frozenset\(\{2\}\) of type "
                                          "frozenset; keys and set elements must be"),
    ({cr.ones(1): 3}, TypeError, "a key of obj is"),
    ({"n": 10 ** 100}, ValueError, r"obj\['n'\] is an integer of over 100 digits"),
])
def test_unsupported_objects_are_refused_and_nothing_is_written(tmp_path, obj, exc, msg):
    path = tmp_path / "x.pth"
    cr.save({"old": 1}, path)
    before = path.read_bytes()
    with pytest.raises(exc, match=msg):
        cr.save(obj, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x.pth"]
    buf = io.BytesIO()
    with pytest.raises(exc):
        cr.save(obj, buf)
    assert buf.getvalue() == b""


def test_a_cycle_is_refused():
    a: list = [1]
    a.append({"again": a})
    with pytest.raises(ValueError, match=r"obj\[1\]\['again'\] contains itself"):
        cr.save(a, io.BytesIO())


def test_a_failing_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    cr.save({"epoch": 1}, path)

    def crash(src, dst):
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        cr.save({"epoch": 2, "w": cr.ones(100)}, path)
    monkeypatch.undo()
    assert cr.load(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["model.pth"]  # no temporary file left


# -- refused files -------------------------------------------------------------------------------

@pytest.fixture
def good(tmp_path):
    path = tmp_path / "model.pth"
    cr.save({"w": cr.ones(3), "step": 2, "state": {0: (cr.zeros(2), float("nan"))}}, path)
    return path


def test_a_real_torch_save_file_is_refused_and_never_unpickled(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(SerializationError,
                       match=r"chainrule.load: .*model.pth: not a chainrule file: it is a zip "
                             r"archive, the format of torch.save, which holds a pickle, and "
                             r"chainrule never loads pickle.*safetensors.torch.save_file"):
        cr.load(path)
    torch.save({"w": torch.ones(1)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(SerializationError, match="it is a Python pickle"):
        cr.load(path)


class Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    for protocol in (2, 4, 5):
        (tmp_path / "evil.pth").write_bytes(pickle.dumps(Payload(str(marker)), protocol))
        with pytest.raises(SerializationError, match="pickle"):
            cr.load(tmp_path / "evil.pth")
    assert not marker.exists()


def test_errors_are_one_line_runtime_and_checkpoint_errors(good):
    good.write_bytes(good.read_bytes()[:20])
    with pytest.raises(RuntimeError) as info:
        cr.load(good)
    assert isinstance(info.value, CheckpointError) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"chainrule.load: {good}: not a valid chainrule file: ")


@pytest.mark.parametrize("blob, msg", [
    (b"", "truncated: the file has 0 bytes"),
    (b"\x05\x00", "truncated: the file has 2 bytes"),
    (b"hello world, not a file of ours", "header length .* runs past the end of the file"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "the header is not valid UTF-8"),
    (struct.pack("<Q", 2) + b"[]", "the header must be a JSON object, got list"),
])
def test_garbage_is_refused(tmp_path, blob, msg):
    path = tmp_path / "g.pth"
    path.write_bytes(blob)
    with pytest.raises(SerializationError, match="chainrule.load: .*g.pth: not a valid "
                                                 "chainrule file: " + msg):
        cr.load(path)
    with pytest.raises(SerializationError, match=r"chainrule.load: <BytesIO>: "):
        cr.load(io.BytesIO(blob))


def test_every_truncation_is_refused(good):
    blob = good.read_bytes()
    for cut in range(0, len(blob), 7):
        with pytest.raises(SerializationError, match="not a valid chainrule file"):
            cr.load(io.BytesIO(blob[:cut]))


def rewrite(path: Path, edit) -> None:
    """Rewrite the structure of a saved file (a valid safetensors file stays valid)."""
    arrays, meta = load_bytes(path.read_bytes())
    meta = dict(meta)
    edit(meta)
    from chainrule.io.safetensors import save_file
    save_file(arrays, path, meta)


@pytest.mark.parametrize("edit, msg", [
    (lambda m: m.update(version="2"), "a chainrule.save file of version '2' with a structure; "
                                      "this chainrule reads version 1"),
    (lambda m: m.pop("structure"), "with no structure"),
    (lambda m: m.update(structure='{"dict": [["w", NaN]]}'),
     "the structure holds NaN, which is not a JSON number"),
    (lambda m: m.update(structure="{not json"), "the structure is not valid JSON"),
    (lambda m: m.update(structure='{"dict": [], "odict": []}'),
     "the structure at obj is .*not a value or a node of one tag"),
    (lambda m: m.update(structure='{"pickle": "os.system"}'), "an unknown tag"),
    (lambda m: m.update(structure='{"float": "NaN"}'), "an unknown tag or a malformed body"),
    (lambda m: m.update(structure='{"dict": [["a"]]}'), r"must hold \[key, value\] pairs"),
    (lambda m: m.update(structure='{"dict": 3}'), "the dict at obj must hold a JSON array"),
    (lambda m: m.update(structure='{"dict": [[[1], 2]]}'), "not hashable"),
    (lambda m: m.update(structure='{"dict": [["a", 1], ["a", 2]]}'), "names the key 'a' twice"),
    (lambda m: m.update(structure='{"set": [[1]]}'), "not hashable"),
    (lambda m: m.update(structure='{"tensor": {"name": "ghost", "type": "Tensor", '
                                  '"requires_grad": false}}'),
     "obj refers to the tensor 'ghost', which the file does not hold"),
    (lambda m: m.update(structure='{"tensor": {"name": "w", "type": "Module", '
                                  '"requires_grad": false}}'), "the tensor at obj must be"),
    (lambda m: m.update(structure='{"tensor": {"name": "w", "type": "Tensor"}}'),
     "the tensor at obj must be"),
    (lambda m: m.update(structure='[{"tensor": {"name": "w", "type": "Tensor", "requires_grad": '
                                  'false}}, {"tensor": {"name": "w", "type": "ndarray", '
                                  '"requires_grad": false}}]'), "named twice with different"),
    (lambda m: m.update(structure='{"bytes": "w"}'), "expected a 1-d uint8 tensor"),
    (lambda m: m.update(structure='{"tensor": {"name": "state.0.0", "type": "Tensor", '
                                  '"requires_grad": true}}'), "the file holds tensors its "
                                                              r"structure never uses: \['w'\]"),
    (lambda m: m.update(structure="[" * 100_000 + "]" * 100_000),
     "the structure is nested too deeply to parse"),
    (lambda m: m.update(structure='{"tuple": ' * 5000 + "[]" + "}" * 5000),
     "nested too deeply to (parse|restore)"),
])
def test_a_structure_that_lies_is_refused(good, edit, msg):
    rewrite(good, edit)
    with pytest.raises(SerializationError, match=f"chainrule.load: .*model.pth: .*{msg}"):
        cr.load(good)


def test_requires_grad_on_an_integer_tensor_is_refused(tmp_path):
    path = tmp_path / "i.pth"
    cr.save({"i": cr.arange(3)}, path)
    rewrite(path, lambda m: m.update(structure=m["structure"].replace(
        '"requires_grad":false', '"requires_grad":true')))
    with pytest.raises(SerializationError, match="cannot require grad: only floating point"):
        cr.load(path)


def test_tampered_tensor_bytes_are_refused(good):
    blob = bytearray(good.read_bytes())
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header["w"]["shape"] = [4]  # 4 float32 need 16 bytes, the offsets hold 12
    text = json.dumps(header).encode()
    good.write_bytes(struct.pack("<Q", len(text)) + text + bytes(blob[8 + n:]))
    with pytest.raises(SerializationError, match=r"tensor 'w': dtype F32 and shape \[4\] need "
                                                 "16 bytes"):
        cr.load(good)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fuzzed_bytes_only_raise_serialization_error(data):
    buf = io.BytesIO()
    cr.save({"w": cr.ones(3), "d": {0: (1, "x", cr.arange(2))}, "f": float("nan")}, buf)
    blob = bytearray(buf.getvalue())
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    try:
        cr.load(io.BytesIO(bytes(blob)))
    except SerializationError:
        pass


def test_public_names():
    assert cr.save is ser.save and cr.load is ser.load
    assert cr.io.save is ser.save and cr.io.SerializationError is SerializationError


def test_a_header_length_that_starts_like_a_pickle_is_still_safetensors(tmp_path):
    """A header of 0x380 bytes makes the file start 0x80 0x03, a pickle's first two bytes
    (found by hypothesis): the file is read as the safetensors it is."""
    for pad in range(0, 400):
        obj = {"k" * pad: cr.ones(1)}
        cr.save(obj, tmp_path / "f.pth")
        raw = (tmp_path / "f.pth").read_bytes()
        if raw[:2] == b"\x80\x03":
            break
    else:
        pytest.fail("no padding gave a header of 0x380 bytes")
    assert struct.unpack("<Q", raw[:8])[0] % 0x10000 == 0x380
    assert list(cr.load(tmp_path / "f.pth")) == ["k" * pad]
    pickled = b"\x80\x03" + raw[2:]  # the same bytes, but no safetensors header fits: refused
    (tmp_path / "p.pth").write_bytes(pickled[:12])
    with pytest.raises(RuntimeError, match="it is a Python pickle"):
        cr.load(tmp_path / "p.pth")
