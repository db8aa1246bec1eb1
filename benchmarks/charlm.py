"""The README's text job in both frameworks: `chainrule train --task charlm`'s default GPT
recipe (4 layers, 4 heads, width 128, blocks of 64 characters, batch 32, AdamW lr 1e-3 with
betas (0.9, 0.99) and decay 0.1 on matrices, per-step cosine decay, gradients clipped to norm
1) on the default text, from the same initial weights and the same batches.

Run ``python -m benchmarks.charlm [--epochs N] [--steps-per-epoch N] [--frameworks ...]``. It
prints each epoch's test loss (nats per character) and seconds for each framework and writes
``benchmarks/results/charlm.json`` and ``charlm.md``.
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

from .cases import SEED, build_model
from .framework import Framework, configure_threads

RESULTS = Path(__file__).parent / "results"


def _splits() -> Any:
    """The default text, encoded and split as `chainrule train --task charlm` splits it."""
    from chainrule.data.text import DEFAULT_TEXT_NAME, read_default_text
    from chainrule.training.text import CharLMConfig, prepare_text

    cfg = CharLMConfig()
    return cfg, prepare_text(read_default_text(), cfg.block_size, cfg.eval_blocks,
                             DEFAULT_TEXT_NAME)


def _lm_loss(fw: Framework) -> Any:
    """Mean cross-entropy of the next character, logits (B, T, V) against targets (B, T)."""
    F = fw.lib.nn.functional
    return lambda logits, y: F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _test_loss(fw: Framework, model: Any, test: Any) -> float:
    """Mean cross-entropy per character over the test blocks."""
    x, y = test.get_batch(np.arange(len(test)))
    model.eval()
    with fw.lib.no_grad():
        loss = float(_lm_loss(fw)(model(fw.lib.from_numpy(x)), fw.lib.from_numpy(y)))
    model.train()
    return loss


def train_gpt(fw: Framework, epochs: int, steps: int, verbose: bool = True
              ) -> list[dict[str, float]]:
    """Train the recipe's GPT; one row per epoch (train and test loss, seconds, tokens/s)."""
    from chainrule.training import cosine_schedule

    cfg, splits = _splits()
    model = build_model(fw, "gpt", vocab_size=len(splits.vocab), block_size=cfg.block_size,
                        n_layer=4, n_head=4, n_embd=128)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    opt = fw.lib.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.99))
    schedule = cosine_schedule(cfg.lr, epochs, steps)
    rows = []
    for epoch in range(1, epochs + 1):
        draws = np.random.default_rng(SEED + epoch).integers(0, len(splits.train),
                                                             (steps, cfg.batch_size))
        batches = [tuple(fw.lib.from_numpy(a) for a in splits.train.get_batch(idx))
                   for idx in draws]  # (B, T) inputs and next characters
        loss_fn, clip = _lm_loss(fw), fw.lib.nn.utils.clip_grad_norm_
        start, total = time.perf_counter(), 0.0
        for step, (x, y) in enumerate(batches, 1):
            for group in opt.param_groups:
                group["lr"] = schedule(epoch, step)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            clip(params, cfg.grad_clip)
            opt.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "train_loss": total / steps,
               "test_loss": _test_loss(fw, model, splits.test), "seconds": seconds,
               "tokens_per_s": steps * cfg.batch_size * cfg.block_size / seconds}
        rows.append(row)
        if verbose:
            print(f"{fw.label:>9} epoch {epoch}: test loss {row['test_loss']:.4f}, "
                  f"{seconds:.1f} s ({row['tokens_per_s']:.0f} tok/s)", flush=True)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.charlm", description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--frameworks", default="chainrule,torch")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = configure_threads(args.threads)
    keep_freed_memory()
    results = {name: train_gpt(Framework(name), args.epochs, args.steps_per_epoch)
               for name in args.frameworks.split(",")}
    epochs = range(args.epochs)
    lines = ["| framework | " + " | ".join(f"test loss, epoch {e + 1}" for e in epochs)
             + " | median s/epoch |", "|---" * (args.epochs + 2) + "|"]
    for name, rows in results.items():
        secs = float(np.median([r["seconds"] for r in rows]))
        lines.append(f"| {Framework(name).label} | "
                     + " | ".join(f"{r['test_loss']:.3f}" for r in rows) + f" | {secs:.1f} |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "charlm.json", json.dumps(
        {"threads": threads, "steps_per_epoch": args.steps_per_epoch, "results": results},
        indent=2))
    write_atomic(RESULTS / "charlm.md", table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
