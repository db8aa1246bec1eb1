"""``chainrule train --distributed`` launched as ``mpiexec -n 2 python -m mpi4py -m chainrule
train --distributed ...`` on loopback (subprocesses with a timeout, one thread each): two ranks
train what one process trains, rank 0 alone writes the run folder, ``--resume`` continues under
MPI, and a NaN, a crash or Ctrl-C on one rank stops every rank with the right exit code and a
checkpoint that still loads.

The data is a synthetic Fashion-MNIST (:func:`noisy_fashion_mnist`), hard enough that one epoch
does not reach 100% (so equal test accuracies mean something).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import write_idx_gz

pytest.importorskip("mpi4py", reason="needs mpi4py: pip install 'chainrule[mpi]'")

BIN = os.path.dirname(sys.executable)
PATH = BIN + os.pathsep + os.environ.get("PATH", "")
MPIEXEC = shutil.which("mpiexec", path=PATH)
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec next to Python or on PATH")

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120
N_TRAIN, N_TEST, BATCH = 320, 200, 32
RUN_FILES = ["checkpoint.json", "checkpoint.meta.safetensors", "checkpoint.safetensors",
             "curves.png", "metrics.csv"]

# rank 1 misbehaves at its AT-th training loss (counted in grad mode: evaluation is not)
INJECT = '''
import os, signal, sys, time
import chainrule.nn as nn
from chainrule.autograd.grad_mode import is_grad_enabled
mode, at, stamp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if int(os.environ.get("PMI_RANK", "0")) == 1:
    original, calls = nn.CrossEntropyLoss.forward, [0]
    def forward(self, input, target):
        loss = original(self, input, target)
        if is_grad_enabled():
            calls[0] += 1
            if calls[0] == at:
                with open(stamp, "w") as f:
                    f.write(repr(time.time()))
                if mode == "nan":
                    return loss * float("nan")
                if mode == "raise":
                    raise RuntimeError("rank 1 fails on purpose")
                os.kill(os.getpid(), signal.SIGKILL)
        return loss
    nn.CrossEntropyLoss.forward = forward
from chainrule.cli.main import main
sys.exit(main(sys.argv[4:]))
'''


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "OMPI_", "MPI_LOCAL", "HYDRA_"))}
    env.update(PATH=PATH, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _mpi(n: int = 2, wrapper: bool = True) -> list[str]:
    """``mpiexec -n N python -m mpi4py`` (``wrapper``: mpi4py aborts every rank when one
    raises), or a plain ``mpiexec -n N python`` launch, where chainrule must abort itself."""
    return [MPIEXEC, "-n", str(n), sys.executable] + (["-m", "mpi4py"] if wrapper else [])


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)


def noisy_fashion_mnist(folder: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Fake Fashion-MNIST IDX files: class c adds a faint stripe on rows 2c+2..2c+5 to uniform
    noise everywhere, so one epoch learns part of it. No two pixels are equal by design: a
    flat patch (a constant stripe) makes exact ties in max pooling, which rounding in another
    batch split breaks the other way; the runs would then differ by more than rounding."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 180, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 * c + 2:2 * c + 6, 4:24] += 60
        write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", images.astype(np.uint8))
        write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return noisy_fashion_mnist(tmp_path_factory.mktemp("fmnist"), N_TRAIN, N_TEST, seed=3)


def _train_args(data: Path, out: Path, *extra: Any) -> list[str]:
    return ["train", "--distributed", "--data", str(data), "--out", str(out),
            "--batch-size", str(BATCH), "--no-progress", *map(str, extra)]


def _chainrule(data: Path, out: Path, *extra: Any, ranks: int = 2) -> list[str]:
    start = _mpi(ranks) + ["-m", "chainrule"] if ranks > 1 else [sys.executable, "-m",
                                                                   "chainrule"]
    return start + _train_args(data, out, *extra)


def _weights(out: Path) -> tuple[dict, dict]:
    from chainrule.io import load_checkpoint

    return load_checkpoint(out)


def _assert_same_run(one: Path, two: Path) -> None:
    a, meta_a = _weights(one)
    b, meta_b = _weights(two)
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=2e-5, err_msg=key)
    assert meta_a["rng"] == meta_b["rng"]  # dropout drew the same masks
    assert meta_a["loader"] == meta_b["loader"]
    assert meta_a["epoch"] == meta_b["epoch"]
    for row_a, row_b in zip(meta_a["metrics"], meta_b["metrics"]):
        assert row_a["test_acc"] == row_b["test_acc"]  # the same images right, exactly
        assert row_a["train_acc"] == row_b["train_acc"]
        assert row_b["test_loss"] == pytest.approx(row_a["test_loss"], rel=1e-4)
        assert row_b["train_loss"] == pytest.approx(row_a["train_loss"], rel=1e-4)
    assert sorted(p.name for p in two.iterdir()) == RUN_FILES  # one set of files, no rank's


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory) -> dict[str, Any]:
    """One epoch in one process (``--distributed`` without a launcher) and on 2 ranks."""
    base = tmp_path_factory.mktemp("runs")
    single = _run(_chainrule(data, base / "one", "--epochs", 1, ranks=1), base)
    double = _run(_chainrule(data, base / "two", "--epochs", 1), base)
    return {"base": base, "one": single, "two": double}


def test_two_ranks_train_what_one_process_trains(runs):
    one, two = runs["one"], runs["two"]
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    base = runs["base"]
    _assert_same_run(base / "one", base / "two")
    accuracy = json.loads((base / "one" / "checkpoint.json").read_text())["meta"]["metrics"][0]
    assert 0.15 < accuracy["test_acc"] < 1.0  # learnt something, not everything
    # rank 0 alone prints: each line once; the split is named
    assert two.stdout.count("epoch 1/1: train loss") == 1
    assert two.stdout.count("chainrule train: lenet5") == 1
    assert "data parallel: 2 ranks (MPI), 1 thread each; each rank 16 of the 32 images" \
        in two.stdout
    assert "data parallel" not in one.stdout  # a world of one: as without the flag
    last = lambda out: out.strip().splitlines()[-1]  # noqa: E731
    assert last(one.stdout) == last(two.stdout)  # "test accuracy: ..."


def test_resume_under_mpi_continues_as_one_process_does(runs, data):
    base = runs["base"]
    assert runs["one"].returncode == 0 and runs["two"].returncode == 0
    for name in ("one", "two"):
        shutil.copytree(base / name, base / f"{name}-2")
    single = _run(_chainrule(data, base / "one-2", "--epochs", 2, "--resume", ranks=1), base)
    double = _run(_chainrule(data, base / "two-2", "--epochs", 2, "--resume"), base)
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    assert "(resuming after epoch 1)" in double.stdout
    assert double.stdout.count("epoch 2/2: train loss") == 1
    _assert_same_run(base / "one-2", base / "two-2")


def _inject(tmp_path: Path, data: Path, mode: str, at: int, *extra: Any, wrapper: bool = True
            ) -> tuple[subprocess.CompletedProcess, float, Path]:
    script = tmp_path / "inject.py"
    script.write_text(INJECT)
    stamp, out = tmp_path / "stamp", tmp_path / "run"
    cmd = _mpi(wrapper=wrapper) + [str(script), mode, str(at), str(stamp)] \
        + _train_args(data, out, *extra)
    done = _run(cmd, tmp_path)
    return done, time.time() - float(stamp.read_text()), out


def test_nan_on_one_rank_stops_every_rank_with_exit_3(tmp_path, data):
    done, _, out = _inject(tmp_path, data, "nan", 3, "--epochs", 1)
    assert done.returncode == 3, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("chainrule: error:")]
    assert len(lines) == 1 and "loss is nan at epoch 1, step 3/10" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (out / "checkpoint.json").exists()  # no NaN checkpoint


@pytest.mark.parametrize("mode, wrapper", [("raise", True), ("kill", True), ("raise", False)])
def test_a_crashing_rank_stops_every_rank_within_seconds(tmp_path, data, mode, wrapper):
    steps = N_TRAIN // BATCH
    done, after, out = _inject(tmp_path, data, mode, steps + 2, "--epochs", 3, wrapper=wrapper)
    assert done.returncode != 0
    assert after < 10, f"the launch ended {after:.1f} s after the crash"
    if mode == "raise":
        assert "rank 1 fails on purpose" in done.stderr
    from chainrule.training import read_training_checkpoint

    _, meta = read_training_checkpoint(out / "checkpoint")  # whole: epoch 1, loads
    assert meta["epoch"] == 1
    assert not [p.name for p in out.iterdir() if p.name not in RUN_FILES]  # no temp file


def test_ctrl_c_stops_every_rank_with_130(tmp_path, data):
    out = tmp_path / "run"
    proc = subprocess.Popen(_chainrule(data, out, "--epochs", 50), cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        for line in proc.stdout:  # wait for the first epoch's line
            if line.startswith("epoch 1/50"):
                break
        proc.send_signal(signal.SIGINT)  # mpiexec passes Ctrl-C to every rank
        sent = time.time()
        proc.wait(timeout=30)
        stopped = time.time() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = proc.stderr.read()
    assert proc.returncode == 130, err
    assert stopped < 10
    from chainrule.training import read_training_checkpoint

    _, meta = read_training_checkpoint(out / "checkpoint")
    assert meta["epoch"] >= 1


def test_batch_not_divisible_by_the_ranks_is_a_usage_error(tmp_path, data):
    done = _run(_chainrule(data, tmp_path / "r", "--batch-size", 33), tmp_path)
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1, done.stderr  # rank 0 alone says it
    assert "--batch-size 33 is the global batch of the 2 ranks and must be divisible by 2" \
        in lines[0]
    assert not (tmp_path / "r").exists()


def test_without_mpi4py_one_line_says_how_to_install(tmp_path, data):
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from chainrule.cli.main import main\n"
            f"sys.exit(main({_train_args(data, tmp_path / 'r')!r}))")
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert 'pip install "chainrule[mpi]"' in done.stderr
    assert "--distributed needs mpi4py" in done.stderr


def test_charlm_two_ranks_train_what_one_process_trains(tmp_path):
    text = tmp_path / "tiny.txt"
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and a dog ran to the sun".split()
    text.write_text("\n".join(" ".join(rng.choice(words, 6)) for _ in range(120)) + "\n")
    args = ["train", "--distributed", "--task", "charlm", "--model", "gpt", "--text", str(text),
            "--block-size", "16", "--batch-size", "8", "--steps-per-epoch", "6",
            "--eval-blocks", "16", "--lr", "0.01", "--epochs", "1", "--no-progress",
            "--layers", "1", "--width", "16", "--heads", "2"]
    one = _run([sys.executable, "-m", "chainrule", *args, "--out", str(tmp_path / "one")],
               tmp_path)
    two = _run(_mpi() + ["-m", "chainrule", *args, "--out", str(tmp_path / "two")], tmp_path)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert "each rank 4 of the 8 blocks of a batch" in two.stdout
    assert two.stdout.count("  sample: ") == 1
    a, meta_a = _weights(tmp_path / "one")
    b, meta_b = _weights(tmp_path / "two")
    for key in a:  # AdamW: a relative tolerance on the steps it took
        np.testing.assert_allclose(b[key], a[key], rtol=1e-3, atol=1e-4, err_msg=key)
    assert meta_a["rng"] == meta_b["rng"] and meta_a["loader"] == meta_b["loader"]
    assert meta_b["metrics"][0]["test_loss"] == pytest.approx(meta_a["metrics"][0]["test_loss"],
                                                               rel=1e-4)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == RUN_FILES


# -- the benchmark's report (benchmarks/distributed.py; its runs are timed, not tested) ----------

def test_benchmark_section_renders_and_merges(tmp_path):
    from benchmarks import distributed as bd

    row = {"framework": "chainrule", "ranks": 2, "per_rank": 64, "global_batch": 128,
           "sync_bn": True, "images_per_s": 9000.0, "iqr": 100.0, "step_s": 0.0142,
           "allreduce_s": 0.00012, "reduce_wait_s": 0.0004, "efficiency": 0.9,
           "data": "Fashion-MNIST", "params": 61990}
    broken = {"framework": "torch", "ranks": 2, "per_rank": 64, "global_batch": 128,
              "sync_bn": False, "error": "exit 1: a | b"}
    result = {"steps": 40, "repeats": 5, "warmup": 5, "target": 0.85, "rows": [row, broken]}
    section = bd.render_section(result)
    assert "| chainrule (MPI) | 2 x 64 (128) | sync | 9,000 (100) | 90% PASS | 14.2 ms | " \
           "120 µs | 400 µs |" in section
    assert "| PyTorch (gloo) | 2 x 64 (128) | per rank | ERROR: exit 1: a / b |" in section
    (tmp_path / "latest.md").write_text("# report\n\n| a |\n\n## Notes\n\n- n\n")
    (tmp_path / "latest.json").write_text('{"meta": {"started": "x"}, "results": []}')
    bd.merge_into_results(result, tmp_path)
    bd.merge_into_results(result, tmp_path)  # replaces, never repeats
    md = (tmp_path / "latest.md").read_text()
    assert md.count(bd.SECTION) == 1 and md.index(bd.SECTION) < md.index("## Notes")
    doc = json.loads((tmp_path / "latest.json").read_text())
    assert doc["meta"]["started"] == "x" and doc["meta"]["distributed"]["rows"][0] == row
    assert bd.wanted(None, tiny=False) and not bd.wanted(None, tiny=True)
    assert bd.wanted("chain,distributed", tiny=True) and not bd.wanted("chain", tiny=False)
