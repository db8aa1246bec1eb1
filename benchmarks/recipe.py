"""The README's main job in both frameworks: LeNet-5 on Fashion-MNIST with `chainrule train`'s
default recipe (5 epochs, batch 64, SGD momentum 0.9, lr 0.05 with per-step cosine decay,
normalised images), from the same initial weights and the same batches.

Run ``python -m benchmarks.recipe [--epochs N] [--frameworks chainrule,torch] [--threads N]``.
It prints per-epoch test accuracy and seconds for each framework and writes
``benchmarks/results/recipe.json`` and ``recipe.md``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from chainrule.backend import keep_freed_memory
from chainrule.io.files import write_atomic

from .cases import BATCH_SIZE, LR, MOMENTUM, SEED, build_model
from .framework import Framework, configure_threads

RESULTS = Path(__file__).parent / "results"


def _batches(train: bool, epoch_seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The normalised split as (x (B, 1, 28, 28) float32, y (B,) int64) batches."""
    from chainrule.data import DataLoader, numpy_collate
    from chainrule.training import load_split

    loader = DataLoader(load_split("fashion-mnist", train=train), batch_size=BATCH_SIZE,
                        shuffle=train, seed=epoch_seed, collate_fn=numpy_collate)
    return [(np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.int64))
            for x, y in loader]


def _accuracy(fw: Framework, model: Any, batches: Sequence[tuple[np.ndarray, np.ndarray]]
              ) -> float:
    model.eval()
    correct = seen = 0
    with fw.lib.no_grad():
        for x, y in batches:
            pred = np.asarray(model(fw.lib.from_numpy(x)).argmax(1))
            correct += int((pred == y).sum())
            seen += len(y)
    model.train()
    return correct / seen


def train_recipe(fw: Framework, epochs: int, verbose: bool = True) -> list[dict[str, float]]:
    """Train LeNet-5 with the recipe; one row per epoch (test accuracy, seconds, images/s)."""
    from chainrule.training import cosine_schedule, train_one_epoch

    test = _batches(False, SEED)
    fw.manual_seed(SEED)
    model = build_model(fw, "lenet5")
    opt = fw.lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = fw.lib.nn.CrossEntropyLoss()
    rows = []
    schedule: Optional[Any] = None
    for epoch in range(1, epochs + 1):
        train = [(fw.lib.from_numpy(x), fw.lib.from_numpy(y))
                 for x, y in _batches(True, SEED + epoch)]
        schedule = schedule or cosine_schedule(LR, epochs, len(train))
        start = time.perf_counter()
        result = train_one_epoch(model, train, loss_fn, opt, epoch=epoch, epochs=epochs,
                                 progress=False, lr_schedule=schedule)
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "train_loss": result.loss, "test_acc": _accuracy(fw, model, test),
               "seconds": seconds, "images_per_s": result.images / seconds}
        rows.append(row)
        if verbose:
            print(f"{fw.label:>9} epoch {epoch}: test accuracy {row['test_acc']:.2%}, "
                  f"{seconds:.1f} s ({row['images_per_s']:.0f} img/s)", flush=True)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recipe", description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--frameworks", default="chainrule,torch")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = configure_threads(args.threads)
    keep_freed_memory()
    results = {name: train_recipe(Framework(name), args.epochs)
               for name in args.frameworks.split(",")}
    lines = ["| framework | final test accuracy | median s/epoch | img/s |", "|---|---|---|---|"]
    for name, rows in results.items():
        secs = float(np.median([r["seconds"] for r in rows]))
        lines.append(f"| {Framework(name).label} | {rows[-1]['test_acc']:.2%} | {secs:.1f} | "
                     f"{60000 / secs:.0f} |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "recipe.json",
                 json.dumps({"threads": threads, "results": results}, indent=2))
    write_atomic(RESULTS / "recipe.md", table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
