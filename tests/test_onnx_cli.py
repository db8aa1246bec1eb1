"""``chainrule export RUN --onnx FILE``: a trained LeNet-5 run exported with a dynamic batch
axis predicts in onnxruntime the classes ``chainrule predict`` prints, on 1,000 test images;
the command's errors are one line and exit 1 or 2."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli.evaluate import load_checkpoint_and_data
from chainrule.cli.main import main
from helpers import fake_fashion_mnist

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

REAL_DATA = Path("/usr/share/datasets/fashion-mnist")
N_TEST = 1000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One short epoch of LeNet-5 on 512 training images (the real Fashion-MNIST if
    installed, else learnable fake data), evaluated on 1,000 test images."""
    root = tmp_path_factory.mktemp("onnx_cli")
    if (REAL_DATA / "t10k-images-idx3-ubyte.gz").exists():
        data = REAL_DATA
    else:
        data = fake_fashion_mnist(root / "data", 512, N_TEST, seed=2, noise=80)
    out = root / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1",
                 "--limit-train", "512", "--limit-test", str(N_TEST), "--batch-size", "64",
                 "--no-progress"]) == 0
    return out


def error_line(capsys, code: int, expected: int) -> str:
    assert code == expected
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


def test_export_prints_names_and_shapes_and_predicts_as_chainrule(run_dir, tmp_path, capsys):
    path = tmp_path / "lenet5.onnx"
    capsys.readouterr()
    assert main(["export", str(run_dir), "--onnx", str(path)]) == 0
    out = capsys.readouterr().out
    assert "input input: float32 [batch, 1, 28, 28]" in out
    assert "output output: float32 [batch, 10]" in out
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)

    indices = list(range(N_TEST))
    argv = ["predict", str(run_dir), "--no-image", "--top", "1"]
    for i in indices:
        argv += ["--index", str(i)]
    assert main(argv) == 0
    printed = re.findall(r"^image (\d+) .*predicted '([^']*)'", capsys.readouterr().out,
                         flags=re.MULTILINE)
    assert [int(i) for i, _ in printed] == indices

    ns = argparse.Namespace(checkpoint=str(run_dir), data=None, download=False, split="test")
    _, _, ds = load_checkpoint_and_data(ns)
    images, _ = ds.get_batch(np.asarray(indices))  # (1000, 1, 28, 28), normalised as predict
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {"input": images})
    assert logits.shape == (N_TEST, 10)
    classes = list(ds.classes)
    assert [classes[k] for k in logits.argmax(1)] == [name for _, name in printed]
    (one,) = sess.run(None, {"input": images[:1]})  # another batch size, the same file
    np.testing.assert_allclose(one, logits[:1], rtol=1e-5, atol=1e-5 * np.abs(logits).max())


def test_export_opset_18(run_dir, tmp_path, capsys):
    path = tmp_path / "m.onnx"
    assert main(["export", str(run_dir), "--onnx", str(path), "--opset", "18"]) == 0
    assert onnx.load(str(path)).opset_import[0].version == 18


def test_missing_run_exits_1(tmp_path, capsys):
    line = error_line(capsys, main(["export", str(tmp_path / "nothing"), "--onnx",
                                    str(tmp_path / "m.onnx")]), 1)
    assert line.startswith("chainrule: error:") and "not found" in line
    assert not (tmp_path / "m.onnx").exists()


def test_unwritable_file_exits_1_and_leaves_nothing(run_dir, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "folder" / "m.onnx"
    line = error_line(capsys, main(["export", str(run_dir), "--onnx", str(target)]), 1)
    assert line.startswith("chainrule: error: cannot write")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("case", ["folder", "under_a_file", "no_onnx"])
def test_bad_arguments_exit_2(run_dir, tmp_path, capsys, case):
    (tmp_path / "file.txt").write_text("x")
    argv = {"folder": ["export", str(run_dir), "--onnx", str(tmp_path)],
            "under_a_file": ["export", str(run_dir), "--onnx", str(tmp_path / "file.txt" / "m")],
            "no_onnx": ["export", str(run_dir)]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "chainrule export: error:" in err
