"""``chainrule evaluate`` and ``chainrule predict``, and how both treat broken checkpoints:
each corruption is a clear message and exit code 1, never a traceback."""
from __future__ import annotations

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli.main import main
from helpers import fake_fashion_mnist


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny trained run on fake Fashion-MNIST (class c lights up rows 2c..2c+4)."""
    root = tmp_path_factory.mktemp("eval")
    data = fake_fashion_mnist(root / "data", 96, 40, seed=1, cycle_labels=True, noise=40,
                              bright=250)
    out = root / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1",
                 "--batch-size", "16", "--no-progress"]) == 0
    return out


@pytest.fixture
def copy_run(run_dir, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run_dir, dst)
    return dst


# -- evaluate --------------------------------------------------------------------------------

def test_evaluate_prints_accuracy_per_class_and_writes_png(copy_run, capsys):
    assert main(["evaluate", str(copy_run)]) == 0
    out = capsys.readouterr().out
    assert "accuracy on fashion-mnist test (40 images): " in out
    assert "per-class accuracy:" in out
    for name in ("T-shirt/top", "Trouser", "Ankle boot"):
        assert name in out
    assert "(4/4)" in out or "/4)" in out  # 4 test images per class
    assert (copy_run / "confusion_matrix.png").stat().st_size > 0


def test_evaluate_matches_train_and_accepts_file_paths(copy_run, capsys):
    meta = json.loads((copy_run / "checkpoint.json").read_text())["meta"]
    for target in (copy_run / "checkpoint.json", copy_run / "checkpoint.safetensors",
                   copy_run / "checkpoint"):
        assert main(["evaluate", str(target), "--confusion", str(copy_run / "cm.png")]) == 0
        line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("accuracy")][0]
        acc = float(line.split(": ")[1].split("%")[0])
        assert acc == pytest.approx(100 * meta["metrics"][-1]["test_acc"], abs=0.006)
    assert (copy_run / "cm.png").is_file()


def test_evaluate_limit_and_train_split(copy_run, capsys):
    assert main(["evaluate", str(copy_run), "--split", "train", "--limit", "20"]) == 0
    assert "fashion-mnist train (20 images)" in capsys.readouterr().out


# -- predict ---------------------------------------------------------------------------------

def test_predict_shows_labels_top3_and_ascii(copy_run, capsys):
    assert main(["predict", str(copy_run), "--index", "0", "--index", "5"]) == 0
    out = capsys.readouterr().out
    assert "image 0 (fashion-mnist test): true 'T-shirt/top', predicted" in out
    assert "image 5 (fashion-mnist test): true 'Sandal', predicted" in out
    assert out.count("top-3: ") == 2
    top = [l for l in out.splitlines() if "top-3" in l][0]
    probs = [float(p.rstrip("%,")) for p in top.split() if p.endswith(("%", "%,"))]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 100.01
    art = out.split("\n\n")[0].splitlines()[2:]
    assert len(art) == 30 and art[0] == art[-1] == "+" + "-" * 56 + "+"
    assert all(len(line) == 58 and line[0] == line[-1] == "|" for line in art[1:-1])
    assert "@" * 40 in art[3]  # the bright band of class 0, rows 2..5, columns 4..23


def test_predict_index_out_of_range_exits_2(copy_run, capsys):
    assert main(["predict", str(copy_run), "--index", "40"]) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "--index 40 is out of range" in err


def test_predict_negative_index_exits_2(copy_run, capsys):
    assert main(["predict", str(copy_run), "--index", "-1"]) == 2


# -- broken checkpoints ----------------------------------------------------------------------

def _rewrite_weights(run: Path, new: bytes) -> None:
    """Replace the weights and record their hash in the JSON, so the inner checks are reached."""
    (run / "checkpoint.safetensors").write_bytes(new)
    doc = json.loads((run / "checkpoint.json").read_text())
    doc["weights"]["sha256"] = hashlib.sha256(new).hexdigest()
    (run / "checkpoint.json").write_text(json.dumps(doc))


def _header(raw: bytes) -> tuple[int, dict]:
    n = struct.unpack("<Q", raw[:8])[0]
    return n, json.loads(raw[8:8 + n])


def _with_header(raw: bytes, header: dict) -> bytes:
    n, _ = _header(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + raw[8 + n:]


def corrupt_truncated(run):
    raw = (run / "checkpoint.safetensors").read_bytes()
    _rewrite_weights(run, raw[:len(raw) // 2])


def corrupt_header_length(run):
    raw = bytearray((run / "checkpoint.safetensors").read_bytes())
    raw[:8] = struct.pack("<Q", len(raw) * 4)
    _rewrite_weights(run, bytes(raw))


def corrupt_offsets(run):
    raw = (run / "checkpoint.safetensors").read_bytes()
    _, header = _header(raw)
    header["conv1.weight"]["data_offsets"][1] += 10**6
    _rewrite_weights(run, _with_header(raw, header))


def corrupt_not_json(run):
    raw = bytearray((run / "checkpoint.safetensors").read_bytes())
    raw[8:12] = b"\x00\xff{{"
    _rewrite_weights(run, bytes(raw))


def corrupt_modified_bytes(run):  # the hash no longer matches
    raw = bytearray((run / "checkpoint.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (run / "checkpoint.safetensors").write_bytes(bytes(raw))


def corrupt_bad_json(run):
    (run / "checkpoint.json").write_text("{ not json")


def corrupt_missing_key(run):
    from chainrule.io import load_checkpoint, save_checkpoint

    state, meta = load_checkpoint(run)
    del state["fc2.bias"]
    save_checkpoint(run / "checkpoint", state, meta)


def corrupt_extra_key(run):
    from chainrule.io import load_checkpoint, save_checkpoint

    state, meta = load_checkpoint(run)
    state["fc3.weight"] = np.zeros((2, 2), np.float32)
    save_checkpoint(run / "checkpoint", state, meta)


def corrupt_wrong_shape(run):
    from chainrule.io import load_checkpoint, save_checkpoint

    state, meta = load_checkpoint(run)
    state["fc1.weight"] = np.zeros((84, 100), np.float32)
    save_checkpoint(run / "checkpoint", state, meta)


def corrupt_pickle(run):
    import pickle

    (run / "checkpoint.json").unlink()
    (run / "checkpoint.safetensors").unlink()
    (run / "model.pt").write_bytes(pickle.dumps({"w": 1}))


CORRUPTIONS = {
    corrupt_truncated: "load_file: ",
    corrupt_header_length: "runs past the end of the file",
    corrupt_offsets: "out of range",
    corrupt_not_json: "the header is not valid",
    corrupt_modified_bytes: "SHA-256",
    corrupt_bad_json: "not a valid JSON file",
    corrupt_missing_key: 'Missing key(s) in state_dict: "fc2.bias"',
    corrupt_extra_key: 'Unexpected key(s) in state_dict: "fc3.weight"',
    corrupt_wrong_shape: ("size mismatch for fc1.weight: copying a param with shape (84, 100) from "
                         "checkpoint, the shape in current model is (84, 120)"),
}


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("corrupt", list(CORRUPTIONS), ids=lambda f: f.__name__[8:])
def test_broken_checkpoint_exits_1_with_a_clear_message(copy_run, capsys, corrupt, command):
    corrupt(copy_run)
    code = main([command, str(copy_run)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("chainrule: error: ") and "Traceback" not in err
    assert CORRUPTIONS[corrupt] in err


def _edit_meta(run, edit):
    doc = json.loads((run / "checkpoint.json").read_text())
    edit(doc["meta"])
    (run / "checkpoint.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("edit, message", [
    (lambda m: m["data"].update(mean="x"), "the checkpoint's data mean must be a finite number, "
                                           "got 'x'"),
    (lambda m: m["data"].update(std=0), "the checkpoint's data std must be a finite number > 0, "
                                        "got 0"),
    (lambda m: m["data"].update(std=[1, 2]), "data std must be a finite number > 0, got [1, 2]"),
    (lambda m: m["model_config"].update(num_classes=10**12),
     "cannot rebuild the model of the checkpoint: Unable to allocate"),
    (lambda m: m.update(x=json.loads("[" * 600 + "]" * 600)), "nested too deeply"),
])
def test_tampered_meta_exits_1_with_a_clear_message(copy_run, capsys, command, edit, message):
    _edit_meta(copy_run, edit)
    code = main([command, str(copy_run)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("chainrule: error: ") and "Traceback" not in err
    assert message in err


def test_pickle_file_is_rejected_without_running_it(copy_run, capsys):
    corrupt_pickle(copy_run)
    assert main(["evaluate", str(copy_run / "model.pt")]) == 1
    err = capsys.readouterr().err
    assert "not a chainrule checkpoint" in err and "Traceback" not in err


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 1
    assert "not found" in capsys.readouterr().err


def test_model_weights_untouched_by_a_failed_load(copy_run):
    import chainrule as cr
    from chainrule.io import CheckpointError, load_checkpoint, load_into
    from chainrule.models import LeNet5

    corrupt_wrong_shape(copy_run)
    state, _ = load_checkpoint(copy_run)
    cr.manual_seed(0)
    model = LeNet5()
    before = {k: np.array(v._data) for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError):
        load_into(model, state)
    assert all(np.array_equal(before[k], v._data) for k, v in model.state_dict().items())
