"""Checkpoints: round trips, no pickle, detection of a half-updated pair, crash safety (including
a process killed mid-save) and load_into's all-or-nothing copy."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import checkpoint as ckpt_mod
from chainrule.io.checkpoint import checkpoint_paths, load_checkpoint, load_into, save_checkpoint
from chainrule.io.safetensors import CheckpointError, load_file, save_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(99)


def model_state(rng, scale=1.0):
    return {"conv1.weight": (scale * rng.standard_normal((6, 1, 5, 5))).astype(np.float32),
            "conv1.bias": np.zeros(6, np.float32),
            "fc.weight": (scale * rng.standard_normal((10, 84))).astype(np.float32),
            "bn.num_batches_tracked": np.array(7, np.int64)}


def rich_meta(rng):
    return {"model": "LeNet5", "config": {"lr": 0.1, "layers": (1, 2)}, "epoch": np.int64(4),
            "metrics": {"val_acc": np.float32(0.875), "best": None},
            "optim": {"state": {0: {"momentum_buffer": rng.standard_normal((6, 1, 5, 5)),
                                    "step": 12}},
                      "param_groups": [{"lr": 0.1, "params": [0, 1, 2]}]},
            "loader": {"generator": np.random.default_rng(0).bit_generator.state},
            "flag": np.bool_(True)}


FakeTensor = cr.Tensor  # a live tensor (its .data is the array load_into writes into)


class FakeModule:
    """The duck type of nn.Module for load_into: state_dict() -> name -> live Tensor."""

    def __init__(self, rng):
        self.params = {"fc.weight": FakeTensor(rng.standard_normal((3, 4)).astype(np.float32)),
                       "fc.bias": FakeTensor(np.zeros(3, np.float32))}

    def state_dict(self):
        return dict(self.params)

    def snapshot(self):
        return {k: t._data.copy() for k, t in self.params.items()}


# -- round trip ----------------------------------------------------------------------------------

def test_round_trip(tmp_path, rng):
    state, meta = model_state(rng), rich_meta(rng)
    paths = save_checkpoint(tmp_path / "run", state, meta)
    assert paths.weights == tmp_path / "run.safetensors" and paths.meta == tmp_path / "run.json"
    loaded, lmeta = load_checkpoint(tmp_path / "run")
    assert list(loaded) == list(state)  # order kept
    for k in state:
        assert loaded[k].dtype == state[k].dtype and loaded[k].tobytes() == state[k].tobytes()
    assert lmeta["model"] == "LeNet5" and lmeta["epoch"] == 4 and type(lmeta["epoch"]) is int
    assert lmeta["config"] == {"lr": 0.1, "layers": [1, 2]}  # tuples come back as lists
    assert lmeta["metrics"] == {"val_acc": pytest.approx(0.875), "best": None}
    assert lmeta["flag"] is True
    buf = lmeta["optim"]["state"][0]["momentum_buffer"]  # int key restored
    np.testing.assert_array_equal(buf, meta["optim"]["state"][0]["momentum_buffer"])
    assert lmeta["optim"]["param_groups"] == [{"lr": 0.1, "params": [0, 1, 2]}]
    assert lmeta["loader"]["generator"] == meta["loader"]["generator"]


def test_files_are_plain_safetensors_and_json(tmp_path, rng):
    state = model_state(rng)
    save_checkpoint(tmp_path / "c", state, rich_meta(rng))
    weights = load_file(tmp_path / "c.safetensors")  # readable by any safetensors reader
    assert list(weights) == sorted(state, key=lambda k: (-state[k].itemsize, k))
    arrays = load_file(tmp_path / "c.meta.safetensors")  # the meta's arrays apart
    assert sorted(arrays) == ["optim.state.0.momentum_buffer"]
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["format"] == "chainrule.checkpoint" and doc["version"] == 2
    assert len(doc["weights"]["sha256"]) == 64 and len(doc["arrays"]["sha256"]) == 64
    assert doc["arrays"]["file"] == "c.meta.safetensors"
    assert doc["meta"]["optim"]["state"]["__items__"][0][1]["momentum_buffer"] == \
        {"__tensor__": "optim.state.0.momentum_buffer"}
    ref = pytest.importorskip("safetensors.numpy")
    assert set(ref.load_file(str(tmp_path / "c.safetensors"))) == set(state)
    assert set(ref.load_file(str(tmp_path / "c.meta.safetensors"))) == set(arrays)


def test_weights_load_into_pytorch_strictly(tmp_path):
    """The weights file holds the model's tensors only, under their names: PyTorch's strict
    load_state_dict takes it as it is."""
    torch = pytest.importorskip("torch")
    ref = pytest.importorskip("safetensors.torch")
    src = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    state = {k: cr.tensor(v.detach().numpy()) for k, v in src.state_dict().items()}
    save_checkpoint(tmp_path / "c", state, {"optim": {"state": {0: {"buf": np.ones(3)}}}})
    dst = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    dst.load_state_dict(ref.load_file(str(tmp_path / "c.safetensors")), strict=True)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def write_v1(stem: Path, state: dict, meta: dict, refs: dict) -> None:
    """A checkpoint as version 1 wrote it: the meta's arrays in the weights file, under
    ``__meta__.<path>``, the JSON referring to them."""
    tensors = dict(state, **{f"__meta__.{k}": v for k, v in refs.items()})
    save_file(tensors, stem.with_suffix(".safetensors"),
              {"format": "chainrule.checkpoint", "version": "1"})
    blob = stem.with_suffix(".safetensors").read_bytes()
    doc = {"format": "chainrule.checkpoint", "version": 1,
           "weights": {"file": stem.name + ".safetensors",
                       "sha256": ckpt_mod.hashlib.sha256(blob).hexdigest(), "bytes": len(blob)},
           "state_keys": list(state), "meta": meta}
    stem.with_suffix(".json").write_text(json.dumps(doc))


def test_version_1_checkpoints_still_load(tmp_path):
    stem = tmp_path / "old"
    write_v1(stem, {"w": np.ones(2, np.float32)},
             {"epoch": 4, "optim": {"state": {"__items__": [[0, {"momentum_buffer": {
                 "__tensor__": "__meta__.optim.state.0.momentum_buffer"}}]]}}},
             {"optim.state.0.momentum_buffer": np.full(2, 3.0)})
    state, meta = load_checkpoint(stem)
    assert list(state) == ["w"] and meta["epoch"] == 4
    assert meta["optim"]["state"][0]["momentum_buffer"].tolist() == [3.0, 3.0]
    # an array of a version 1 weights file that nothing names is refused
    write_v1(stem, {"w": np.ones(2, np.float32)}, {"epoch": 4}, {"ghost": np.ones(1)})
    with pytest.raises(CheckpointError, match=r"unexpected tensors \['__meta__.ghost'\]"):
        load_checkpoint(stem)
    # resaving over it writes version 2: the weights file holds the weights only
    save_checkpoint(stem, {"w": np.zeros(2, np.float32)}, {"buf": np.ones(1)})
    assert list(load_file(tmp_path / "old.safetensors")) == ["w"]
    assert sorted(os.listdir(tmp_path)) == ["old.json", "old.meta.safetensors",
                                            "old.safetensors"]


def test_a_meta_without_arrays_writes_no_arrays_file_and_removes_an_old_one(tmp_path):
    save_checkpoint(tmp_path / "c", {"w": np.ones(1)}, {"buf": np.ones(2)})
    assert (tmp_path / "c.meta.safetensors").is_file()
    save_checkpoint(tmp_path / "c", {"w": np.ones(1)}, {"epoch": 2})
    assert sorted(os.listdir(tmp_path)) == ["c.json", "c.safetensors"]
    assert json.loads((tmp_path / "c.json").read_text())["arrays"] is None
    assert load_checkpoint(tmp_path / "c")[1] == {"epoch": 2}


@pytest.mark.parametrize("given, stem", [("run", "run"), ("run.json", "run"),
                                         ("run.safetensors", "run"), ("run.v2", "run.v2"),
                                         ("run.meta.safetensors", "run")])
def test_paths(tmp_path, given, stem):
    paths = checkpoint_paths(tmp_path / given)
    assert paths.weights == tmp_path / f"{stem}.safetensors"
    assert paths.meta == tmp_path / f"{stem}.json"
    assert paths.arrays == tmp_path / f"{stem}.meta.safetensors"
    assert checkpoint_paths(tmp_path).meta == tmp_path / "checkpoint.json"  # a folder


def test_same_input_gives_identical_files(tmp_path, rng):
    state, meta = model_state(rng), rich_meta(rng)
    save_checkpoint(tmp_path / "a", state, meta)
    save_checkpoint(tmp_path / "b", state, meta)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    assert (tmp_path / "a.meta.safetensors").read_bytes() == \
        (tmp_path / "b.meta.safetensors").read_bytes()
    a, b = (json.loads((tmp_path / f"{s}.json").read_text()) for s in "ab")
    for doc, s in ((a, "a"), (b, "b")):
        assert doc["weights"].pop("file") == f"{s}.safetensors"
        assert doc["arrays"].pop("file") == f"{s}.meta.safetensors"
    assert a == b


def test_parent_folders_are_created(tmp_path):
    paths = save_checkpoint(tmp_path / "runs" / "exp1" / "best", {"w": np.ones(2)}, {})
    assert paths.meta.is_file() and paths.weights.is_file()
    assert load_checkpoint(paths.meta)[0]["w"].tolist() == [1.0, 1.0]


def test_tensors_accepted_as_state(tmp_path):
    save_checkpoint(tmp_path / "t", {"w": FakeTensor(np.arange(3.0))},
                    {"m": FakeTensor(np.ones(2))})
    state, meta = load_checkpoint(tmp_path / "t.json")
    assert state["w"].tolist() == [0.0, 1.0, 2.0] and meta["m"].tolist() == [1.0, 1.0]


# -- refusing to save ----------------------------------------------------------------------------

def test_nan_weights_refused_and_old_checkpoint_kept(tmp_path, rng):
    good = model_state(rng)
    save_checkpoint(tmp_path / "c", good, {"epoch": 1})
    bad = dict(good, **{"fc.weight": np.full((10, 84), np.nan, np.float32)})
    with pytest.raises(ValueError, match="tensor 'fc.weight' holds 840 non-finite value"):
        save_checkpoint(tmp_path / "c", bad, {"epoch": 2})
    state, meta = load_checkpoint(tmp_path / "c")
    assert meta["epoch"] == 1 and np.array_equal(state["fc.weight"], good["fc.weight"])


@pytest.mark.parametrize("state, meta, exc, msg", [
    ({"w": np.zeros(1)}, {"loss": float("inf")}, ValueError, r"meta\.loss is inf"),
    ({"w": np.zeros(1)}, {"s": {1, 2}}, TypeError, r"meta\.s has type set.*nothing is pickled"),
    ({"w": np.zeros(1)}, {"f": lambda: 0}, TypeError, "has type function"),
    ({"w": np.zeros(1)}, {"d": {"__tensor__": "x"}}, ValueError, "reserved key"),
    ({"w": np.zeros(1)}, {"d": {(1, 2): 3}}, TypeError, "dict keys must be str or int"),
    ({"__metadata__": np.zeros(1)}, {}, ValueError, "reserved by the safetensors format"),
    ({"w": [1.0]}, {}, TypeError, r"state\['w'\] must be an array or Tensor, got list"),
    ([("w", np.zeros(1))], {}, TypeError, "state must be a dict"),
])
def test_save_rejects(tmp_path, state, meta, exc, msg):
    with pytest.raises(exc, match=msg):
        save_checkpoint(tmp_path / "x", state, meta)
    assert os.listdir(tmp_path) == []


# -- refusing to load ----------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path, rng):
    save_checkpoint(tmp_path / "c", model_state(rng), {"epoch": 3, "buf": np.ones(2)})
    return tmp_path / "c"


def rewrite_json(stem: Path, edit) -> None:
    path = stem.with_suffix(".json")
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_missing_json(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.json not found"):
        load_checkpoint(tmp_path / "nope")


def test_modified_weights_detected(saved):
    w = saved.with_suffix(".safetensors")
    blob = bytearray(w.read_bytes())
    blob[-1] ^= 0xFF
    w.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="expects weights with SHA-256 [0-9a-f]{64}, but "
                                              ".*c.safetensors has [0-9a-f]{64}: the checkpoint "
                                              "is half-updated"):
        load_checkpoint(saved)


def test_modified_meta_arrays_detected(saved):
    arrays = saved.with_suffix(".meta.safetensors")
    blob = bytearray(arrays.read_bytes())
    blob[-1] ^= 0xFF
    arrays.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="expects meta arrays with SHA-256 [0-9a-f]{64}, "
                                              r"but .*c\.meta\.safetensors has [0-9a-f]{64}"):
        load_checkpoint(saved)
    arrays.unlink()
    with pytest.raises(CheckpointError, match=r"c\.meta\.safetensors does not exist"):
        load_checkpoint(saved)


def test_missing_weights(saved):
    saved.with_suffix(".safetensors").unlink()
    with pytest.raises(CheckpointError, match="c.safetensors does not exist"):
        load_checkpoint(saved)


@pytest.mark.parametrize("edit, msg", [
    (lambda d: d.update(format="other"), "expected format 'chainrule.checkpoint', got 'other'"),
    (lambda d: d.update(version=99), r"unsupported version 99, expected one of \[1, 2\]"),
    (lambda d: d.update(version=True), "unsupported version True"),
    (lambda d: d.update(version=1), "a version 1 checkpoint has no 'arrays'"),
    (lambda d: d.update(weights={}), "'weights' must hold the sha256"),
    (lambda d: d.update(arrays=[]), "'arrays' must hold the sha256 of the arrays file, or be "
                                    "null"),
    (lambda d: d.update(state_keys=["a", "a"]), "distinct strings"),
    (lambda d: d.update(meta=[1]), "'meta' must be an object"),
    (lambda d: d["state_keys"].append("fc2.weight"), r"missing tensors \['fc2.weight'\]"),
    (lambda d: d["state_keys"].remove("conv1.bias"), r"c\.safetensors: unexpected tensors "
                                                     r"\['conv1.bias'\]"),
    (lambda d: d["meta"].pop("buf"), r"c\.meta\.safetensors: unexpected tensors \['buf'\]"),
    (lambda d: d["meta"].update(x={"__tensor__": "ghost"}), "refers to tensor 'ghost'"),
    (lambda d: d["meta"].update(x={"__items__": 3}), "malformed __items__"),
])
def test_inconsistent_json(saved, edit, msg):
    rewrite_json(saved, edit)
    with pytest.raises(CheckpointError, match=msg):
        load_checkpoint(saved)


def test_json_not_json(saved):
    saved.with_suffix(".json").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="not a valid JSON file"):
        load_checkpoint(saved)


def test_deeply_nested_json_is_a_checkpoint_error(saved):
    saved.with_suffix(".json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match=r"c\.json: the file is nested too deeply to parse"):
        load_checkpoint(saved)


@pytest.mark.parametrize("old, new, msg", [
    ('"epoch": 3', '"epoch": NaN', "holds NaN, which is not a JSON number"),
    ('"epoch": 3', '"epoch": -Infinity', "holds -Infinity, which is not a JSON number"),
    ('"epoch": 3', '"epoch": 1e999', "holds the number 1e999, beyond the range of a float"),
    ('"epoch": 3', '"epoch": ' + "3" * 5000, "holds an integer of 5000 digits"),
    ('"epoch": 3', '"epoch": 3, "epoch": 4', "names 'epoch' twice in one object"),
])
def test_json_that_python_accepts_but_json_does_not_is_refused(saved, old, new, msg):
    path = saved.with_suffix(".json")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CheckpointError, match=r"load_checkpoint: .*c\.json: the file " + msg):
        load_checkpoint(saved)


def test_save_refuses_integers_that_load_would_refuse(tmp_path):
    state = {"w": np.zeros(2, np.float32)}
    save_checkpoint(tmp_path / "ok", state, {"big": 10 ** 99, "rng": 2 ** 128 - 1})
    assert load_checkpoint(tmp_path / "ok")[1]["big"] == 10 ** 99
    with pytest.raises(ValueError, match=r"meta\.big is an integer of over 100 digits"):
        save_checkpoint(tmp_path / "bad", state, {"big": 10 ** 100})
    assert not (tmp_path / "bad.json").exists()


def test_resave_over_a_json_python_cannot_parse(tmp_path):
    # save_checkpoint reads the old JSON's hash: a broken old JSON must not break the save
    save_checkpoint(tmp_path / "c", {"w": np.zeros(2, np.float32)}, {"epoch": 1})
    (tmp_path / "c.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "c.safetensors.prev").write_bytes((tmp_path / "c.safetensors").read_bytes())
    save_checkpoint(tmp_path / "c", {"w": np.ones(2, np.float32)}, {"epoch": 2})
    assert load_checkpoint(tmp_path / "c")[1]["epoch"] == 2


@pytest.mark.parametrize("depth", [600, 900])
def test_deeply_nested_meta_is_a_checkpoint_error(saved, depth):
    # Near json's own limit: depending on the stack, parsing or restoring the meta runs out of
    # recursion; either way a CheckpointError, never a RecursionError.
    path = saved.with_suffix(".json")
    text = path.read_text()
    head, tail = text.rsplit('"meta": ', 1)
    path.write_text(head + '"meta": {"x": ' + "[" * depth + "]" * depth + ", " + tail[1:])
    with pytest.raises(CheckpointError, match=r"c\.json: .*nested too deeply to (parse|restore)"):
        load_checkpoint(saved)


def test_weights_validated_like_load_file(saved):
    # A weights file whose hash matches the JSON but whose content is malformed.
    w = saved.with_suffix(".safetensors")
    w.write_bytes(w.read_bytes() + b"\x00")
    rewrite_json(saved, lambda d: d["weights"].update(sha256=ckpt_mod._sha256_file(w)))
    with pytest.raises(CheckpointError, match="1 trailing bytes"):
        load_checkpoint(saved)


# -- pickle payloads -----------------------------------------------------------------------------

class Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_payload_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"state_dict": Payload(str(marker))})
    # The payload is real: unpickling it would create the marker.
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Payload(str(probe))))
    assert probe.exists()
    offered = []
    for name in ("model.pt", "ckpt.safetensors", "ckpt.json"):
        (tmp_path / name).write_bytes(blob)
        offered.append(tmp_path / name)
    for path in offered:
        with pytest.raises(CheckpointError, match="pickle"):
            load_checkpoint(path)
    with pytest.raises(CheckpointError, match="pickle"):
        load_file(tmp_path / "ckpt.safetensors")
    assert not marker.exists()


# -- crash safety --------------------------------------------------------------------------------

@pytest.mark.parametrize("fail_at, arrays", [(1, False), (2, False), (3, False), (1, True),
                                             (2, True), (3, True), (4, True), (5, True)])
@pytest.mark.parametrize("rollback", [True, False])
def test_failed_replace_keeps_previous(tmp_path, rng, monkeypatch, fail_at, arrays, rollback):
    # the renames of a save: weights aside, new weights, [arrays aside, new arrays], the JSON
    old = model_state(rng)
    extra = {"buf": np.full(3, 1.0)} if arrays else {}
    save_checkpoint(tmp_path / "c", old, {"epoch": 1, **extra})
    real_replace, calls = os.replace, []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == fail_at or (not rollback and len(calls) > fail_at):
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(tmp_path / "c", model_state(rng, scale=2.0),
                        {"epoch": 2, **({"buf": np.full(3, 2.0)} if arrays else {})})
    monkeypatch.setattr(os, "replace", real_replace)
    state, meta = load_checkpoint(tmp_path / "c")
    assert meta["epoch"] == 1
    assert all(np.array_equal(state[k], old[k]) for k in old)
    assert not arrays or meta["buf"].tolist() == [1.0, 1.0, 1.0]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    # The next save works and wins.
    save_checkpoint(tmp_path / "c", old, {"epoch": 3})
    assert load_checkpoint(tmp_path / "c")[1]["epoch"] == 3
    assert sorted(os.listdir(tmp_path)) == ["c.json", "c.safetensors"]


KILLER = textwrap.dedent("""
    import os, sys
    import numpy as np
    from chainrule.io.checkpoint import save_checkpoint
    stem, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real = {"replace": os.replace, "unlink": os.unlink}
    calls = []

    def killer(name):
        def f(*args, **kwargs):
            calls.append(name)
            if name == target and calls.count(name) == n:
                os._exit(9)  # like SIGKILL: no cleanup, no finally blocks
            return real[name](*args, **kwargs)
        return f

    os.replace, os.unlink = killer("replace"), killer("unlink")
    save_checkpoint(stem, {"w": np.full(1000, 2.0, np.float32)}, {"epoch": 2})
    sys.exit(0)
""")


@pytest.mark.parametrize("target, n, expected_epoch", [
    ("replace", 1, 1),  # killed while moving the old weights aside
    ("replace", 2, 1),  # killed while renaming the new weights: the JSON still names the old
    ("replace", 3, 1),  # killed while renaming the new JSON
    ("unlink", 1, 2),   # killed after the commit, before removing the .prev copy
])
def test_process_killed_mid_save(tmp_path, target, n, expected_epoch):
    stem = tmp_path / "c"
    save_checkpoint(stem, {"w": np.full(1000, 1.0, np.float32)}, {"epoch": 1})
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", KILLER, str(stem), target, str(n)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    state, meta = load_checkpoint(stem)
    assert meta["epoch"] == expected_epoch
    assert state["w"][0] == float(expected_epoch)
    # Saving again after the crash recovers a clean pair.
    save_checkpoint(stem, {"w": np.full(1000, 5.0, np.float32)}, {"epoch": 5})
    state, meta = load_checkpoint(stem)
    assert meta["epoch"] == 5 and state["w"][0] == 5.0
    assert sorted(p for p in os.listdir(tmp_path) if not p.endswith(".tmp")) == \
        ["c.json", "c.safetensors"]


def test_resave_after_crash_keeps_the_referenced_weights(tmp_path, monkeypatch):
    """After a crash between the weights rename and the JSON rename, the JSON names the .prev
    file; a second crash during the next save must still leave that checkpoint loadable."""
    stem = tmp_path / "c"
    save_checkpoint(stem, {"w": np.full(3, 1.0)}, {"epoch": 1})
    # The crash state: unreferenced new weights in place, the referenced ones as .prev.
    os.replace(tmp_path / "c.safetensors", tmp_path / "c.safetensors.prev")
    save_file({"w": np.full(3, 9.0)}, tmp_path / "c.safetensors")
    assert load_checkpoint(stem)[1]["epoch"] == 1  # served from .prev
    real_replace, calls = os.replace, []

    def fail_json_rename(src, dst):
        calls.append(dst)
        if str(dst).endswith(".json"):
            raise OSError("second crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_json_rename)
    with pytest.raises(OSError, match="second crash"):
        save_checkpoint(stem, {"w": np.full(3, 3.0)}, {"epoch": 3})
    monkeypatch.setattr(os, "replace", real_replace)
    state, meta = load_checkpoint(stem)
    assert meta["epoch"] == 1 and state["w"].tolist() == [1.0, 1.0, 1.0]


# -- load_into -----------------------------------------------------------------------------------

def test_load_into_copies_in_place(rng):
    model = FakeModule(rng)
    live = model.params["fc.weight"]._data
    new = {"fc.weight": rng.standard_normal((3, 4)), "fc.bias": FakeTensor(np.ones(3))}
    result = load_into(model, new)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert model.params["fc.weight"]._data is live  # identity kept (optimizers hold it)
    assert live.dtype == np.float32
    np.testing.assert_allclose(live, new["fc.weight"].astype(np.float32))
    assert model.params["fc.bias"]._data.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("state, strict, msg", [
    ({"fc.weight": np.ones((3, 4))}, True, r'Missing key\(s\) in state_dict: "fc.bias"'),
    ({"fc.weight": np.ones((3, 4)), "fc.bias": np.ones(3), "extra": np.ones(1)}, True,
     r'Unexpected key\(s\) in state_dict: "extra"'),
    ({"fc.weight": np.ones((3, 4)), "fc.bias": np.ones(5)}, True,
     r"size mismatch for fc.bias: copying a param with shape \(5,\) from checkpoint, the shape "
     r"in current model is \(3,\)"),
    ({"fc.weight": np.ones((4, 3)), "fc.bias": np.ones(3)}, False,
     r"nothing was copied.*size mismatch for fc.weight: .*\(4, 3\).*\(3, 4\)"),
    ({"fc.weight": np.ones((3, 4)), "fc.bias": np.ones(3, np.complex64)}, True,
     r'"fc.bias".*complex values would lose their imaginary part'),
    ({"fc.weight": np.ones((3, 4)), "fc.bias": [1.0, 2.0, 3.0]}, True,
     r'"fc.bias", expected a Tensor or a NumPy array'),
    ({"fc.weight": np.ones((3, 4)), "fc.bias": np.array(["1", "2", "x"])}, True,
     r'"fc.bias".*holds text or records, not numbers'),
])
def test_load_into_leaves_model_untouched(rng, state, strict, msg):
    model = FakeModule(rng)
    before = model.snapshot()
    with pytest.raises(CheckpointError, match=msg):
        load_into(model, state, strict=strict)
    after = model.snapshot()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_into_non_strict_reports_keys(rng):
    model = FakeModule(rng)
    result = load_into(model, {"fc.bias": np.full(3, 2.0), "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["fc.weight"] and result.unexpected_keys == ["other"]
    assert model.params["fc.bias"]._data.tolist() == [2.0, 2.0, 2.0]


def test_checkpoint_into_module_end_to_end(tmp_path, rng):
    src, dst = FakeModule(rng), FakeModule(np.random.default_rng(5))
    save_checkpoint(tmp_path / "m", src.state_dict(), {"epoch": 1})
    state, _ = load_checkpoint(tmp_path / "m")
    load_into(dst, state)
    assert all(np.array_equal(dst.snapshot()[k], src.snapshot()[k]) for k in src.params)
