"""``chainrule train`` end to end on tiny synthetic IDX files: outputs, determinism, resume,
the NaN guard and argument errors (exit 2, a usage message, no traceback)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli.main import main
from helpers import fake_fashion_mnist

REAL_DATA = Path("/usr/share/datasets/fashion-mnist")


def make_fashion_mnist(folder: Path, n_train: int = 160, n_test: int = 64, seed: int = 0) -> Path:
    """Learnable fake Fashion-MNIST: class c lights up rows 2c..2c+4, plus noise."""
    return fake_fashion_mnist(folder, n_train, n_test, seed)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_fashion_mnist(tmp_path_factory.mktemp("fmnist"))


def train(data_dir, out, *extra):
    return main(["train", "--data", str(data_dir), "--out", str(out), "--epochs", "1",
                 "--batch-size", "32", "--no-progress", *map(str, extra)])


# -- the main job ----------------------------------------------------------------------------

def test_train_writes_checkpoint_metrics_and_curves(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", 2) == 0
    stdout = capsys.readouterr().out
    lines = stdout.strip().splitlines()
    assert lines[-1].startswith("test accuracy: ") and lines[-1].endswith("%")
    assert "epoch 1/2: train loss" in stdout and "epoch 2/2: train loss" in stdout
    assert "img/s" in stdout
    from chainrule.ops import compiled_status

    assert f"  compiled kernels: {compiled_status()}\n" in stdout
    for name in ("checkpoint.safetensors", "checkpoint.meta.safetensors", "checkpoint.json",
                 "metrics.csv", "curves.png"):
        assert (out / name).is_file(), name
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) >= {"train_loss", "train_acc", "test_loss", "test_acc"}
    meta = json.loads((out / "checkpoint.json").read_text())["meta"]
    assert meta["epoch"] == 2 and meta["model"] == "lenet5"
    assert meta["train"]["optimizer"] == "sgd" and meta["train"]["momentum"] == 0.9
    assert meta["data"]["name"] == "fashion-mnist" and meta["data"]["classes"][0] == "T-shirt/top"
    assert {"optimizer", "loader", "rng", "metrics"} <= set(meta)
    assert float(lines[-1].split()[-1].rstrip("%")) == pytest.approx(
        100 * float(rows[-1]["test_acc"]), abs=0.006)
    # no pickle anywhere: the run folder holds only these files
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.json", "checkpoint.meta.safetensors", "checkpoint.safetensors", "curves.png",
        "metrics.csv"]


def test_learns_the_synthetic_task(data_dir, tmp_path, capsys):
    assert train(data_dir, tmp_path / "r", "--epochs", 2, "--optimizer", "adam") == 0
    acc = float(capsys.readouterr().out.strip().splitlines()[-1].split()[-1].rstrip("%"))
    assert acc > 30.0  # chance is 10%


def test_checkpoint_is_float32(data_dir, tmp_path):
    from chainrule.io import load_checkpoint

    assert train(data_dir, tmp_path / "r", "--limit-train", 64, "--limit-test", 32) == 0
    state, meta = load_checkpoint(tmp_path / "r")
    for name, arr in state.items():
        assert arr.dtype in (np.float32, np.int64), (name, arr.dtype)
    buffers = meta["optimizer"]["state"]
    assert all(b["momentum_buffer"].dtype == np.float32 for b in buffers.values())


def test_same_seed_gives_identical_checkpoints(data_dir, tmp_path):
    for name in ("a", "b"):
        assert train(data_dir, tmp_path / name, "--seed", 5, "--limit-train", 96) == 0
    assert train(data_dir, tmp_path / "c", "--seed", 6, "--limit-train", 96) == 0
    for name in ("checkpoint.safetensors", "checkpoint.meta.safetensors"):  # weights, buffers
        a, b, c = ((tmp_path / n / name).read_bytes() for n in "abc")
        assert a == b
        assert a != c


def test_resume_after_a_kill_is_bit_identical(data_dir, tmp_path, capsys, monkeypatch):
    from chainrule.models.lenet import LeNet5

    full, part = tmp_path / "full", tmp_path / "part"
    assert train(data_dir, full, "--epochs", 2, "--limit-train", 96) == 0
    real_forward = LeNet5.forward
    calls = {"n": 0}

    def killed(self, x):  # 96 images / 32 = 3 steps per epoch: die in epoch 2, step 2
        if self.training:
            calls["n"] += 1
            if calls["n"] == 5:
                raise KeyboardInterrupt
        return real_forward(self, x)

    monkeypatch.setattr(LeNet5, "forward", killed)
    assert train(data_dir, part, "--epochs", 2, "--limit-train", 96) == 130
    assert "interrupted during epoch 2" in capsys.readouterr().err
    monkeypatch.setattr(LeNet5, "forward", real_forward)
    # no --data: the resumed run reads the folder the run was started with
    assert main(["train", "--out", str(part), "--resume", "--no-progress"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    for name in ("checkpoint.safetensors", "checkpoint.meta.safetensors"):  # weights, buffers
        assert (full / name).read_bytes() == (part / name).read_bytes()

    def strip(path):  # the metrics without the timing columns
        return [",".join(r.split(",")[:5]) for r in path.read_text().splitlines()]

    assert strip(full / "metrics.csv") == strip(part / "metrics.csv")


def test_resume_with_more_epochs_constant_lr_is_bit_identical(data_dir, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    common = ("--limit-train", 64, "--schedule", "constant", "--optimizer", "adam")
    assert train(data_dir, full, "--epochs", 2, *common) == 0
    assert train(data_dir, part, "--epochs", 1, *common) == 0
    assert train(data_dir, part, "--epochs", 2, "--resume") == 0
    for name in ("checkpoint.safetensors", "checkpoint.meta.safetensors"):  # weights, buffers
        assert (full / name).read_bytes() == (part / name).read_bytes()


def test_resume_when_already_done(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(data_dir), "--out", str(out), "--resume",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "nothing to train" in text and "test accuracy: " in text


@pytest.mark.parametrize("resume", [False, True])
def test_stale_temp_files_of_a_killed_save_are_removed_at_start(data_dir, tmp_path, resume):
    """A kill during a save leaves ``.<file>.<12 hex>.tmp`` files (a full copy of the
    weights); the next run or resume in that folder removes them, and nothing else."""
    out = tmp_path / "r"
    if resume:
        assert train(data_dir, out, "--limit-train", 64) == 0
    out.mkdir(exist_ok=True)
    stale = [".checkpoint.safetensors.0123456789ab.tmp", ".checkpoint.json.ba9876543210.tmp",
             ".checkpoint.meta.safetensors.0123456789ac.tmp", ".metrics.csv.00000000ffff.tmp"]
    for name in stale + ["notes.txt", ".hidden.tmp"]:
        (out / name).write_text("x")
    args = ["--resume", "--epochs", "2"] if resume else ["--overwrite"]
    assert train(data_dir, out, "--limit-train", 64, *args) == 0
    left = {p.name for p in out.iterdir()}
    assert not left & set(stale) and {"notes.txt", ".hidden.tmp"} <= left


def test_resume_refuses_another_recipe(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    capsys.readouterr()
    assert train(data_dir, out, "--limit-train", 64, "--lr", 0.5, "--resume") == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "--lr 0.5 differs from the run being resumed" in err


def test_resume_without_checkpoint(data_dir, tmp_path, capsys):
    assert train(data_dir, tmp_path / "empty", "--resume") == 1
    assert "no checkpoint to resume" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["checkpoint.safetensors", "checkpoint.meta.safetensors"])
def test_resume_from_corrupt_checkpoint(data_dir, tmp_path, capsys, name):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    part = out / name
    part.write_bytes(part.read_bytes()[:-10])
    capsys.readouterr()
    assert train(data_dir, out, "--epochs", 2, "--resume") == 1
    err = capsys.readouterr().err
    assert "cannot resume" in err and f"{part} has" in err and "Traceback" not in err


def test_resume_with_a_tampered_recipe_exits_1(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    doc = json.loads((out / "checkpoint.json").read_text())
    doc["meta"]["train"]["lr"] = "fast"
    (out / "checkpoint.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert "training recipe is invalid" in err and "Traceback" not in err


@pytest.mark.parametrize("section, key, value", [
    ("train", "lr", -1.0),
    ("train", "lr", 0),
    ("train", "momentum", 1.5),
    ("train", "weight_decay", -0.1),
    ("train", "schedule", "linear"),
    ("data", "limit_train", "x"),
    ("data", "limit_train", -5),
    ("data", "limit_test", 0),
])
def test_resume_with_an_out_of_range_recipe_exits_1(data_dir, tmp_path, capsys, section, key,
                                                    value):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    doc = json.loads((out / "checkpoint.json").read_text())
    doc["meta"][section][key] = value
    (out / "checkpoint.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"training recipe is invalid (['{key}'])" in err and "Traceback" not in err


def test_resume_with_malformed_metrics_exits_1(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    doc = json.loads((out / "checkpoint.json").read_text())
    doc["meta"]["metrics"] = [1, 2]
    (out / "checkpoint.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "meta 'metrics'[0] must be a dict with an int 'epoch', got 1" in err
    assert "Traceback" not in err


def test_existing_run_needs_resume_or_overwrite(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 64) == 0
    assert train(data_dir, out, "--limit-train", 64) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert train(data_dir, out, "--limit-train", 64, "--overwrite") == 0


def test_progress_bar(data_dir, tmp_path, capsys):
    assert main(["train", "--data", str(data_dir), "--out", str(tmp_path / "r"), "--epochs", "1",
                 "--limit-train", "64", "--limit-test", "32", "--batch-size", "32"]) == 0
    assert "epoch 1/1" in capsys.readouterr().err


def test_mlp_model(data_dir, tmp_path):
    assert train(data_dir, tmp_path / "r", "--model", "mlp", "--limit-train", 64) == 0


# -- the NaN guard ---------------------------------------------------------------------------

def test_nan_loss_exits_3_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, capsys,
                                                            monkeypatch):
    from chainrule.models.lenet import LeNet5

    out = tmp_path / "r"
    real_forward = LeNet5.forward
    calls = {"n": 0}

    def poisoned(self, x):
        y = real_forward(self, x)
        if self.training:
            calls["n"] += 1
            if calls["n"] == 5:
                return y * float("nan")
        return y

    # 64 images, batch 32: 2 steps per epoch; the 5th training forward is epoch 3, step 1
    monkeypatch.setattr(LeNet5, "forward", poisoned)
    code = train(data_dir, out, "--epochs", 3, "--limit-train", 64)
    err = capsys.readouterr().err
    assert code == 3
    assert "loss is nan at epoch 3, step 1/2" in err and "Traceback" not in err
    from chainrule.io import load_checkpoint

    state, meta = load_checkpoint(out)
    assert meta["epoch"] == 2
    assert all(np.isfinite(a).all() for a in state.values() if a.dtype.kind == "f")


def test_huge_learning_rate_exits_3(data_dir, tmp_path, capsys):
    code = train(data_dir, tmp_path / "r", "--model", "mlp", "--lr", "1e38", "--epochs", 3,
                 "--limit-train", 64)
    err = capsys.readouterr().err
    assert code == 3, err
    assert "at epoch 1, step" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "checkpoint.safetensors").exists()


# -- bad arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--data", "/nonexistent/folder"], "does not exist"),
    (["--lr", "0"], "argument --lr: must be > 0"),
    (["--lr", "-0.1"], "argument --lr: must be > 0"),
    (["--lr", "nan"], "argument --lr: must be a finite number"),
    (["--lr", "abc"], "argument --lr: expected a number"),
    (["--batch-size", "0"], "argument --batch-size: must be >= 1"),
    (["--epochs", "0"], "argument --epochs: must be >= 1"),
    (["--epochs", "1.5"], "argument --epochs: expected an integer >= 1"),
    (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice"),
    (["--momentum", "1.5"], "argument --momentum: must be in [0, 1)"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum applies to --optimizer sgd"),
    (["--limit-train", "0"], "argument --limit-train: must be >= 1"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_exit_2_with_usage(args, message, capsys, tmp_path):
    code = main(["train", "--out", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert "usage: chainrule train" in err and message in err
    assert "Traceback" not in err


def test_one_training_image_exits_2_without_a_checkpoint(data_dir, tmp_path, capsys):
    # one image: its single-image batch is dropped (batch norm), so no step could run
    out = tmp_path / "r"
    assert train(data_dir, out, "--limit-train", 1) == 2
    err = capsys.readouterr().err
    assert "usage: chainrule train" in err and "Traceback" not in err
    assert "1 training image(s) make no training batch (a batch of a single image is dropped: " \
           "batch norm needs 2); train on 2 images or more (--limit-train)" in err
    assert not (out / "checkpoint.json").exists()


def test_folder_without_the_files_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data", str(empty), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "dataset files not found" in err and "Traceback" not in err


def test_corrupt_data_file_exits_1(tmp_path, capsys):
    folder = make_fashion_mnist(tmp_path / "d", 32, 16)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not an idx file at all")
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "r")]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_no_command_and_help(capsys):
    assert main([]) == 2
    assert "usage: chainrule" in capsys.readouterr().err
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "evaluate" in out and "predict" in out
    assert main(["train", "--help"]) == 0
    assert "--resume" in capsys.readouterr().out


def test_python_m_chainrule_help():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-m", "chainrule", "--help"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "train" in proc.stdout and "predict" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", "--lr", "0"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# -- the real data, if installed --------------------------------------------------------------

@pytest.mark.skipif(not (REAL_DATA / "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_512_images(tmp_path, capsys):
    assert main(["train", "--data", str(REAL_DATA), "--out", str(tmp_path / "r"), "--epochs", "1",
                 "--limit-train", "512", "--limit-test", "512", "--no-progress"]) == 0
    acc = float(capsys.readouterr().out.strip().splitlines()[-1].split()[-1].rstrip("%"))
    assert acc > 40.0  # one epoch of 512 images already beats chance (10%) by far
