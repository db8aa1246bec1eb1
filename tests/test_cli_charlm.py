"""``chainrule train --task charlm`` and ``chainrule generate`` end to end on a tiny text: the
outputs, falling loss, resume, deterministic sampling and every error path (one line, exit 1
or 2, no traceback)."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli.main import main
from chainrule.data import text as text_mod

TINY_GPT = ["--layers", "1", "--width", "16", "--heads", "2"]
TINY_LSTM = ["--layers", "1", "--width", "16"]


@pytest.fixture(scope="module")
def text_file(tmp_path_factory) -> Path:
    rng = random.Random(0)
    words = "the cat sat on a mat and a dog ran to the sun".split()
    lines = [" ".join(rng.choice(words) for _ in range(6)) for _ in range(120)]
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train(text, out, *extra, model="gpt"):
    size = TINY_GPT if model == "gpt" else TINY_LSTM
    return main(["train", "--task", "charlm", "--model", model, "--text", str(text), "--out",
                 str(out), "--block-size", "16", "--batch-size", "8", "--steps-per-epoch", "12",
                 "--eval-blocks", "16", "--lr", "0.01", "--epochs", "1", "--no-progress", *size,
                 *map(str, extra)])


def error_line(capsys, code, expected):
    assert code == expected
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    return err[-1]


# -- training ----------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["gpt", "lstm"])
def test_train_writes_outputs_and_loss_falls(text_file, tmp_path, capsys, model):
    out = tmp_path / model
    assert train(text_file, out, "--epochs", 2, model=model) == 0
    stdout = capsys.readouterr().out
    assert "epoch 2/2: train loss" in stdout and "tok/s" in stdout and "sample: " in stdout
    assert stdout.strip().splitlines()[-1].startswith("test loss: ")
    for name in ("checkpoint.safetensors", "checkpoint.json", "metrics.csv", "curves.png"):
        assert (out / name).is_file(), name
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "tokens_per_second" in rows[0]
    losses = [float(r["train_loss"]) for r in rows]
    # from log(V) (uniform) down: the model learns the words
    vocab = json.loads((out / "checkpoint.json").read_text())["meta"]["data"]["vocab"]
    assert losses[1] < losses[0] < np.log(len(vocab))
    assert float(rows[1]["test_loss"]) < 0.9 * np.log(len(vocab))
    meta = json.loads((out / "checkpoint.json").read_text())["meta"]
    assert meta["model"] == model and meta["data"]["task"] == "charlm"
    assert "".join(vocab) == "".join(sorted(set(text_file.read_text())))
    assert meta["train"]["block_size"] == 16


def test_resume_reaches_the_same_weights(text_file, tmp_path, capsys):
    from chainrule.io import load_checkpoint

    straight, split = tmp_path / "a", tmp_path / "b"
    # a constant rate: a cosine decay spans the --epochs a run is started with
    assert train(text_file, straight, "--epochs", 2, "--schedule", "constant") == 0
    assert train(text_file, split, "--epochs", 1, "--schedule", "constant") == 0
    capsys.readouterr()
    assert main(["train", "--out", str(split), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out  # the task read from the run
    a, meta_a = load_checkpoint(straight)
    b, meta_b = load_checkpoint(split)
    assert meta_b["epoch"] == 2
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert meta_a["metrics"][1]["train_loss"] == meta_b["metrics"][1]["train_loss"]


def test_resume_refuses_another_recipe_or_text(text_file, tmp_path, capsys):
    out = tmp_path / "r"
    assert train(text_file, out) == 0
    capsys.readouterr()
    line = error_line(capsys, train(text_file, out, "--resume", "--epochs", 2,
                                    "--block-size", 16), 2)
    assert "--lr 0.01 differs" not in line  # same flags are fine; --block-size 16 is the same
    other = tmp_path / "other.txt"
    other.write_text(text_file.read_text() + "more words\n", encoding="utf-8")
    line = error_line(capsys, main(["train", "--out", str(out), "--resume", "--epochs", "2",
                                    "--text", str(other), "--no-progress"]), 1)
    assert "is not the text the run" in line and "SHA-256" in line
    line = error_line(capsys, main(["train", "--out", str(out), "--resume", "--epochs", "2",
                                    "--block-size", "8", "--no-progress"]), 2)
    assert "--block-size 8 differs from the run being resumed (--block-size 16)" in line


def test_nan_guard_exits_3(text_file, tmp_path, capsys, monkeypatch):
    import chainrule.cli.train as train_cli

    monkeypatch.setattr(train_cli, "lm_loss", lambda logits, y: logits.sum() * float("nan"))
    line = error_line(capsys, train(text_file, tmp_path / "n"), 3)
    assert "loss is nan at epoch 1, step 1/12" in line and "no checkpoint was written" in line


# -- generate ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(text_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "gpt"
    assert train(text_file, out) == 0
    return out


def generate(run, *extra):
    return main(["generate", str(run), *map(str, extra)])


def test_generate_is_deterministic_with_seed(run_dir, capsys):
    assert generate(run_dir, "--prompt", "the cat", "--tokens", 40, "--seed", 7) == 0
    first = capsys.readouterr().out
    assert generate(run_dir, "--prompt", "the cat", "--tokens", 40, "--seed", 7) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("the cat") and len(first) == len("the cat") + 40 + 1
    assert generate(run_dir, "--prompt", "the cat", "--tokens", 40, "--seed", 8,
                    "--top-k", 3) == 0
    assert capsys.readouterr().out != first
    assert generate(run_dir, "--tokens", 5, "--temperature", 0) == 0  # default prompt, greedy
    assert len(capsys.readouterr().out) == 1 + 5 + 1


def test_generate_lstm_and_a_long_prompt(text_file, tmp_path, capsys):
    out = tmp_path / "lstm"
    assert train(text_file, out, model="lstm") == 0
    capsys.readouterr()
    prompt = "the cat sat on a mat " * 3  # longer than a GPT's block: fine for both
    assert generate(out, "--prompt", prompt, "--tokens", 10, "--seed", 1) == 0
    assert capsys.readouterr().out.startswith(prompt)


@pytest.mark.parametrize("prompt, shown", [("the cät", "'ä'"), ("XYZ!", "'X', 'Y', 'Z', '!'")])
def test_generate_prompt_outside_the_vocabulary_exits_2(run_dir, capsys, prompt, shown):
    line = error_line(capsys, generate(run_dir, "--prompt", prompt), 2)
    assert f"--prompt: {shown}" in line and "not in the vocabulary" in line


@pytest.mark.parametrize("args, expected", [
    (["--prompt", ""], "--prompt must hold at least one character"),
    (["--temperature", "-1"], "argument --temperature: must be >= 0"),
    (["--tokens", "0"], "argument --tokens: must be >= 1"),
    (["--top-k", "0"], "argument --top-k: must be >= 1"),
])
def test_generate_bad_arguments_exit_2(run_dir, capsys, args, expected):
    assert expected in error_line(capsys, generate(run_dir, *args), 2)


def test_generate_missing_or_wrong_run_exits_1(tmp_path, capsys):
    line = error_line(capsys, generate(tmp_path / "nothing"), 1)
    assert "no checkpoint in" in line
    from helpers import fake_fashion_mnist

    data = fake_fashion_mnist(tmp_path / "fm", 32, 16, 0)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "img"), "--epochs", "1",
                 "--model", "mlp", "--no-progress"]) == 0
    capsys.readouterr()
    line = error_line(capsys, generate(tmp_path / "img"), 1)
    assert "is not a language model's run (its model is 'mlp')" in line


# -- the text's errors -------------------------------------------------------------------------

def test_missing_text_file_exits_2(tmp_path, capsys):
    line = error_line(capsys, train(tmp_path / "absent.txt", tmp_path / "r"), 2)
    assert "argument --text: text file" in line and "does not exist" in line


def test_text_errors_exit_1(tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait ".encode("latin-1") * 20)
    line = error_line(capsys, train(bad, tmp_path / "r1"), 1)
    assert f"{bad} is not UTF-8 text: byte 0xe9 at offset 3" in line
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert f"{empty} is empty" in error_line(capsys, train(empty, tmp_path / "r2"), 1)
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    line = error_line(capsys, train(short, tmp_path / "r3"), 1)
    assert f"{short} holds 9 characters, too few for block size 16" in line
    assert "34 in all" in line
    assert not (tmp_path / "r3" / "checkpoint.json").exists()


def test_default_text_absent_names_the_package(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(text_mod, "DEFAULT_TEXT_DATA", str(tmp_path / "no-bible.data"))
    line = error_line(capsys, main(["train", "--task", "charlm", "--out", str(tmp_path / "r"),
                                    "--no-progress"]), 1)
    assert "bible-kjv and bible-kjv-text" in line and "scripts/get_text.sh" in line
    assert "--text FILE" in line


@pytest.mark.parametrize("args, expected", [
    (["--task", "charlm", "--model", "lenet5"], "--model lenet5 is not a model for --task charlm"),
    (["--model", "gpt", "--dataset", "mnist"], "--dataset does not apply to --task charlm"),
    (["--task", "image", "--block-size", "8"], "--block-size does not apply to --task image"),
    (["--model", "lstm", "--heads", "2"], "heads applies to model 'gpt' only"),
    (["--model", "gpt", "--heads", "3", "--width", "16"], "n_head=3 must divide n_embd=16"),
    (["--model", "gpt", "--dropout", "1"], "argument --dropout: must be in [0, 1)"),
])
def test_bad_flags_exit_2(tmp_path, capsys, args, expected):
    code = main(["train", "--out", str(tmp_path / "r"), "--no-progress", *args])
    assert expected in error_line(capsys, code, 2)


@pytest.mark.skipif(text_mod.default_text_missing() is not None,
                    reason="the default text (Debian's bible-kjv) is not installed")
def test_default_text_reads_the_kjv():
    text = text_mod.read_default_text()
    assert text.startswith("In the beginning God created the heaven and the earth.\n")
    assert len(text) > 4_000_000 and text.rstrip().endswith("Amen.")
