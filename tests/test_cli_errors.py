"""Bad command lines and failing surroundings end with ONE error line, never a traceback.

Each case runs ``chainrule``'s ``main`` in-process and checks the exit code (1: a runtime
error, 2: bad arguments, 130: Ctrl-C) and that stderr holds exactly one line besides
argparse's usage block (exit 2) and the download notice. The tests run as root, where
``chmod`` does not stop a write: unwritable places are a path under a regular file, ``/proc``
and ``/sys``.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from chainrule.cli.main import main
from chainrule.data import datasets as ds_mod
from helpers import fake_fashion_mnist


def make_data(folder: Path, n_train: int = 64, n_test: int = 16) -> Path:
    """Fake Fashion-MNIST IDX files: class c lights up rows 2c..2c+4."""
    return fake_fashion_mnist(folder, n_train, n_test, seed=3, cycle_labels=True)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--data", str(data_dir), "--out", str(out), "--epochs", "1",
                 "--batch-size", "16", "--no-progress"]) == 0
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test reaches the network, the user's cache or the system's dataset folder."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(ds_mod.FashionMNIST, "system_dirs", (str(tmp_path / "sys"),))

    def no_network(url, dest, timeout=60.0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ds_mod, "_fetch_url", no_network)


def error_line(capsys, code: int, expected: int) -> str:
    """The one line stderr holds besides argparse's usage block and download notices."""
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err, err
    assert code == expected, (code, err, captured.out)
    lines, in_usage = [], False
    for line in err.splitlines():
        if line.startswith("usage: "):
            in_usage = True
        elif in_usage and line.startswith(" "):
            pass  # the usage block's continuation lines
        elif line.strip() and not re.match(r"\w+: downloading http", line):
            in_usage = False
            lines.append(line)
    assert len(lines) == 1, err
    assert "usage: " in err if expected == 2 else "usage: " not in err
    return lines[0]


def train(data_dir, out, *extra):
    return main(["train", "--data", str(data_dir), "--out", str(out), "--epochs", "1",
                 "--batch-size", "16", "--no-progress", *map(str, extra)])


# -- item 10: where the run is written -------------------------------------------------------

def test_out_under_a_regular_file_exits_2_before_loading_anything(data_dir, tmp_path, capsys,
                                                                  monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr("chainrule.cli.train.load_split",
                        lambda *a, **k: pytest.fail("the data was loaded"))
    line = error_line(capsys, train(data_dir, tmp_path / "file" / "sub"), 2)
    assert f"--out {tmp_path / 'file' / 'sub'} is inside {tmp_path / 'file'}, a file" in line


@pytest.mark.parametrize("out", ["/proc/chainrule-run", "/sys/chainrule-run", "/proc", "/sys"])
def test_out_that_cannot_be_written_exits_1_before_training(data_dir, capsys, out):
    if not os.path.isdir("/" + out.split("/")[1]):
        pytest.skip("no /proc or /sys here")
    line = error_line(capsys, train(data_dir, out), 1)
    assert line.startswith(f"chainrule: error: cannot write the run folder {out}: ")
    assert "tmp" not in line  # no name of our probe file
    assert not Path(out, "checkpoint.json").exists()


@pytest.mark.parametrize("writer", ["chainrule.io.checkpoint.write_atomic",
                                    "chainrule.training.metrics.write_atomic"])
def test_full_disk_at_the_epoch_end_keeps_the_last_checkpoint(data_dir, tmp_path, capsys,
                                                              monkeypatch, writer):
    from chainrule.io import load_checkpoint

    module, name = writer.rsplit(".", 1)
    real = getattr(__import__(module, fromlist=[name]), name)
    calls = {"n": 0}

    def full_disk(path, data):
        calls["n"] += 1  # a checkpoint is 3 writes (weights, meta arrays, JSON), metrics.csv 1
        if calls["n"] > (3 if module.endswith("checkpoint") else 1):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(writer, full_disk)
    out = tmp_path / "r"
    line = error_line(capsys, train(data_dir, out, "--epochs", 3, "--limit-train", 32), 1)
    assert "the disk is full" in line and f"{out}" in line and "epoch 2" in line
    _, meta = load_checkpoint(out)
    assert meta["epoch"] == (1 if module.endswith("checkpoint") else 2)
    assert f"checkpoint of epoch {meta['epoch']} is kept" in line
    assert f"chainrule train --out {out} --resume" in line


def test_other_write_error_at_the_epoch_end_exits_1(data_dir, tmp_path, capsys, monkeypatch):
    def read_only(path, data):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("chainrule.io.checkpoint.write_atomic", read_only)
    line = error_line(capsys, train(data_dir, tmp_path / "r", "--limit-train", 32), 1)
    assert "Read-only file system" in line and "no checkpoint was written" in line


# -- item 10: batch norm needs two values per channel ----------------------------------------

def test_batch_size_1_with_batch_norm_is_refused_up_front(data_dir, tmp_path, capsys,
                                                          monkeypatch):
    # PyTorch refuses LeNet-5's last batch norm (120 channels of 1x1) on one image
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm2d(120).train()(torch.zeros(1, 120, 1, 1))
    monkeypatch.setattr("chainrule.training.loop.train_one_epoch",
                        lambda *a, **k: pytest.fail("training started"))
    line = error_line(capsys, train(data_dir, tmp_path / "r", "--batch-size", 1), 2)
    assert "--batch-size 1" in line and "lenet5" in line and "batch norm" in line
    assert "at least 2 images" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name, need", [("lenet5", 2), ("mlp", 1)])
def test_min_train_batch_is_what_pytorch_allows(name, need):
    import chainrule as cr
    from chainrule.models.registry import build_model
    from chainrule.training.loop import min_train_batch

    model = build_model(name).train()
    assert min_train_batch(model) == need
    x = np.zeros((need, 1, 28, 28), np.float32)
    model(cr.tensor(x))  # a batch of `need` images trains
    if need > 1:  # one image less fails, in chainrule as in PyTorch
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            model(cr.tensor(x[:need - 1]))


def test_batch_size_1_without_batch_norm_trains(data_dir, tmp_path):
    torch.nn.Linear(3, 2).train()(torch.zeros(1, 3))  # PyTorch has no limit here either
    assert train(data_dir, tmp_path / "r", "--batch-size", 1, "--model", "mlp",
                 "--limit-train", 3, "--limit-test", 2) == 0


@pytest.mark.parametrize("model, drop_last, steps", [("lenet5", True, 2), ("mlp", False, 3)])
def test_a_last_batch_of_one_is_dropped_only_for_batch_norm(data_dir, tmp_path, model,
                                                           drop_last, steps):
    out = tmp_path / "r"
    assert train(data_dir, out, "--model", model, "--limit-train", 33) == 0
    meta = json.loads((out / "checkpoint.json").read_text())["meta"]
    assert meta["loader"]["drop_last"] is drop_last
    assert len(torch.utils.data.DataLoader(range(33), batch_size=16,
                                           drop_last=drop_last)) == steps


def test_resume_keeps_the_dropped_last_batch_of_an_older_run(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(data_dir, out, "--model", "mlp", "--limit-train", 33) == 0
    doc = json.loads((out / "checkpoint.json").read_text())
    doc["meta"]["loader"]["drop_last"] = True  # as every run was saved before
    (out / "checkpoint.json").write_text(json.dumps(doc))
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    meta = json.loads((out / "checkpoint.json").read_text())["meta"]
    assert meta["epoch"] == 2 and meta["loader"]["drop_last"] is True


def test_one_image_with_an_mlp_trains(data_dir, tmp_path):
    assert train(data_dir, tmp_path / "r", "--model", "mlp", "--limit-train", 1) == 0


# -- item 10: the seed -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", [2 ** 64, 2 ** 70, -1])
def test_seed_out_of_range_exits_2(data_dir, tmp_path, capsys, seed):
    if seed >= 0:  # PyTorch's range ends there too
        with pytest.raises((RuntimeError, ValueError)):
            torch.manual_seed(seed)
    line = error_line(capsys, train(data_dir, tmp_path / "r", "--seed", seed), 2)
    assert line.startswith("chainrule train: error: argument --seed: ")
    assert "2**64" in line or ">= 0" in line


def test_largest_seed_trains(data_dir, tmp_path):
    torch.manual_seed(2 ** 64 - 1)
    assert train(data_dir, tmp_path / "r", "--seed", 2 ** 64 - 1, "--limit-train", 16) == 0


# -- item 10: bench --------------------------------------------------------------------------

def test_bench_out_is_a_file_exits_2_before_running_the_suite(tmp_path, capsys, monkeypatch):
    from chainrule.cli import bench

    harness = bench.load_harness()
    if harness is None:
        pytest.skip("no benchmarks/ checkout")
    monkeypatch.setattr(harness, "run_suite", lambda *a, **k: pytest.fail("the suite ran"))
    (tmp_path / "file").write_text("x")
    line = error_line(capsys, main(["bench", "--tiny", "--out", str(tmp_path / "file")]), 2)
    assert f"--out {tmp_path / 'file'} is not a folder" in line
    line = error_line(capsys, main(["bench", "--tiny", "--out", "/proc/bench"]), 1)
    assert line.startswith("chainrule: error: cannot write the results folder /proc/bench: ")


# -- item 10: Ctrl-C -------------------------------------------------------------------------

def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("target", ["chainrule.cli.main.build_parser",  # imports
                                    "chainrule.cli.train.load_split",  # data loading
                                    "chainrule.cli.train.build_model"])
def test_ctrl_c_during_start_up_exits_130(data_dir, tmp_path, capsys, monkeypatch, target):
    monkeypatch.setattr(target, _interrupt)
    line = error_line(capsys, train(data_dir, tmp_path / "r"), 130)
    assert line == "chainrule: error: interrupted (Ctrl-C)"
    assert not (tmp_path / "r").exists()


def test_ctrl_c_in_evaluate_exits_130(run_dir, capsys, monkeypatch):
    monkeypatch.setattr("chainrule.cli.evaluate.load_split", _interrupt)
    assert error_line(capsys, main(["evaluate", str(run_dir)]), 130) == \
        "chainrule: error: interrupted (Ctrl-C)"


# -- item 11: empty splits -------------------------------------------------------------------

def test_empty_test_split_exits_1_saying_so(tmp_path, capsys):
    data = make_data(tmp_path / "d", n_test=0)
    line = error_line(capsys, train(data, tmp_path / "r"), 1)
    assert "the test split of fashion-mnist is empty" in line
    assert str(data / "t10k-images-idx3-ubyte.gz") in line
    assert "NaN" not in line and "learning rate" not in line
    assert not (tmp_path / "r").exists()


def test_empty_train_split_exits_1_saying_so(tmp_path, capsys):
    data = make_data(tmp_path / "d", n_train=0)
    line = error_line(capsys, train(data, tmp_path / "r"), 1)
    assert "the train split of fashion-mnist is empty" in line


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_evaluate_or_predict_on_no_image_exits_1(run_dir, tmp_path, capsys, command):
    data = make_data(tmp_path / "d", n_test=0)
    line = error_line(capsys, main([command, str(run_dir), "--data", str(data)]), 1)
    assert "the test split of fashion-mnist is empty" in line
    assert "0.00%" not in line and "0..-1" not in line


# -- item 11: not found, download failed -----------------------------------------------------

def test_failed_download_says_what_was_tried(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = error_line(capsys, main(["train", "--data", str(empty), "--download",
                                    "--out", str(tmp_path / "r")]), 1)
    assert "downloading" in line and "failed" in line
    assert "Temporary failure in name resolution" in line  # why
    assert ds_mod.FashionMNIST.base_url in line and f"into {empty}" in line  # from, to
    assert f"not in {empty}" in line  # where it looked
    assert "--download to fetch" not in line  # it was passed already
    assert "--data DIR" in line


def test_missing_files_without_download_suggest_it(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = error_line(capsys, main(["train", "--data", str(empty), "--no-download",
                                    "--out", str(tmp_path / "r")]), 2)
    assert f"not in {empty}" in line and "--download" in line and "root=" not in line


def test_failed_download_in_evaluate(run_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = error_line(capsys, main(["evaluate", str(run_dir), "--data", str(empty),
                                    "--download"]), 1)
    assert "downloading" in line and "failed" in line and "--download to fetch" not in line


def test_corrupt_download_exits_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ds_mod, "_fetch_url",
                        lambda url, dest, timeout=60.0: Path(dest).write_bytes(b"junk"))
    line = error_line(capsys, main(["train", "--download", "--out", str(tmp_path / "r")]), 1)
    assert "MD5 checksum mismatch" in line


# -- the audit: other bad command lines ------------------------------------------------------

def test_confusion_under_a_regular_file_exits_2_before_evaluating(run_dir, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    png = tmp_path / "file" / "cm.png"
    line = error_line(capsys, main(["evaluate", str(run_dir), "--confusion", str(png)]), 2)
    assert f"--confusion {png} is inside {tmp_path / 'file'}, a file" in line


def test_confusion_that_cannot_be_written_warns_without_temp_names(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--confusion", "/proc/cm.png"]) == 0
    err = capsys.readouterr().err
    assert "cannot draw /proc/cm.png: No such file or directory" in err
    assert ".tmp" not in err and "Traceback" not in err


@pytest.mark.parametrize("args, expected", [
    (["train", "--lr", "inf"], 2), (["train", "--lr", "nan"], 2), (["train", "--lr", "1e400"], 2),
    (["train", "--weight-decay", "-inf"], 2), (["train", "--momentum", "nan"], 2),
    (["train", "--epochs", "-3"], 2), (["train", "--batch-size", "x"], 2),
    (["train", "--data", "/nonexistent"], 2), (["train", "--out", "/dev/null"], 2),
    (["train", "--out", "/nonexistent-run", "--resume"], 1),
    (["evaluate", "/nonexistent"], 1), (["evaluate"], 2), (["predict", "/nonexistent"], 1),
    (["predict", "RUN", "--index", "99"], 2), (["predict", "RUN", "--top", "0"], 2),
    (["evaluate", "RUN", "--batch-size", "0"], 2), (["explain", "nope"], 2),
    (["explain", "gate", "--out", "/proc/pics"], 1), (["bogus"], 2),
])
def test_bad_command_lines(run_dir, tmp_path, capsys, args, expected):
    args = [str(run_dir) if a == "RUN" else a for a in args]
    if args[0] == "train" and "--out" not in args:
        args += ["--out", str(tmp_path / "r")]
    error_line(capsys, main(args), expected)


def test_resume_of_an_unwritable_copy_exits_1(run_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)

    def read_only(path, data):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("chainrule.io.checkpoint.write_atomic", read_only)
    line = error_line(capsys, main(["train", "--out", str(out), "--resume", "--epochs", "2",
                                    "--no-progress"]), 1)
    assert "checkpoint of epoch 1 is kept" in line
