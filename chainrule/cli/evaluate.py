"""``chainrule evaluate CHECKPOINT``: accuracy, per-class accuracy and a confusion-matrix PNG."""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, Optional

from ..data import DataLoader, DatasetChecksumError, DatasetNotFoundError, IdxFormatError
from ..io.checkpoint import checkpoint_paths
from ..io.safetensors import CheckpointError
from ..training import evaluate, model_from_checkpoint, per_class_accuracy, read_training_checkpoint
from ..training.data import DATASETS, EmptySplitError, load_split
from ..viz.plots import plot_confusion_matrix
from . import (EXIT_ERROR, EXIT_OK, error, existing_dir, file_problem, missing_data,
               os_error_reason, positive_int, usage_error)

LOAD_ERRORS = (FileNotFoundError, CheckpointError, IdxFormatError, DatasetChecksumError,
               EmptySplitError)
"""What :func:`load_checkpoint_and_data` raises for a bad checkpoint or data file (exit 1)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluate`` on the ``chainrule`` subparsers."""
    p = subparsers.add_parser(
        "evaluate", help="accuracy and per-class accuracy of a trained checkpoint",
        description="Evaluate a checkpoint written by `chainrule train` on its dataset: print "
                    "the accuracy and the accuracy of each class, and write the confusion "
                    "matrix as a PNG.",
        epilog="exit codes: 0 done, 1 bad checkpoint or data file, 2 bad arguments")
    add_checkpoint_arguments(p)
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="evaluate the first N images only")
    p.add_argument("--batch-size", type=positive_int, default=500, help="images per forward pass")
    p.add_argument("--confusion", default=None, metavar="PNG",
                   help="where to write the confusion matrix [default: confusion_matrix.png "
                        "beside the checkpoint]")
    p.set_defaults(func=run, _parser=p)
    return p


def add_checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments ``evaluate`` and ``predict`` share: the checkpoint and where the data is."""
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a run folder, or a checkpoint's stem, .json or .safetensors file")
    p.add_argument("--data", type=existing_dir, default=None, metavar="DIR",
                   help="folder holding the IDX files [default: the training run's, else the "
                        "default places]")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="which split to use [default: test]")


def load_checkpoint_and_data(args: argparse.Namespace,
                             limit: Optional[int] = None) -> tuple[Any, dict, Any]:
    """Load the model of ``args.checkpoint`` and the split it names.

    Returns:
        ``(model, meta, dataset)``; the model is in eval mode.

    Raises:
        FileNotFoundError, CheckpointError: the checkpoint is absent or does not fit.
        IdxFormatError, DatasetChecksumError: a corrupt data file or download.
        EmptySplitError: the split holds no image.
        DatasetNotFoundError: the files are not found (see :func:`chainrule.cli.missing_data`).
    """
    state, meta = read_training_checkpoint(args.checkpoint)
    model = model_from_checkpoint(state, meta)
    model.eval()
    data = meta["data"]
    name = data.get("name")
    if name not in DATASETS:
        raise CheckpointError(f"the checkpoint names an unknown dataset {name!r}")
    stats = {k: data.get(k, getattr(DATASETS[name], k)) for k in ("mean", "std")}
    for k, v in stats.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or (k == "std" and v <= 0):
            raise CheckpointError(f"the checkpoint's data {k} must be a finite number"
                                  f"{' > 0' if k == 'std' else ''}, got {v!r}")
    root = args.data
    saved_root = data.get("root")
    if root is None and isinstance(saved_root, str) and os.path.isdir(saved_root):
        root = saved_root
    ds = load_split(name, train=args.split == "train", root=root, limit=limit,
                    download=args.download, mean=float(stats["mean"]), std=float(stats["std"]))
    return model, meta, ds


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule evaluate``; returns the exit code."""
    problem = file_problem(args.confusion) if args.confusion else None
    if problem is not None:  # found before the evaluation, not after it
        usage_error(args, f"--confusion {args.confusion} {problem}")
    try:
        model, meta, ds = load_checkpoint_and_data(args, args.limit)
    except DatasetNotFoundError as exc:
        return missing_data(args, exc)
    except LOAD_ERRORS as exc:
        error(str(exc))
        return EXIT_ERROR
    classes = list(ds.classes)
    result = evaluate(model, DataLoader(ds, batch_size=args.batch_size), num_classes=len(classes))
    cm = result.confusion
    correct = int(cm.trace())
    print(f"checkpoint: {checkpoint_paths(args.checkpoint).meta} ({meta['model']}, "
          f"epoch {meta['epoch']})")
    print(f"accuracy on {meta['data']['name']} {args.split} ({result.images} images): "
          f"{result.accuracy:.2%} ({correct}/{result.images})")
    print("per-class accuracy:")
    width = max(len(c) for c in classes)
    for i, (name, acc) in enumerate(zip(classes, per_class_accuracy(cm))):
        shown = "   n/a" if acc is None else f"{acc:7.2%}"
        print(f"  {i:2d} {name:<{width}}  {shown}  ({int(cm[i, i])}/{int(cm[i].sum())})")
    png = Path(args.confusion) if args.confusion else \
        checkpoint_paths(args.checkpoint).meta.parent / "confusion_matrix.png"
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        plot_confusion_matrix(cm, classes, os.fspath(png))
        print(f"confusion matrix: {png}")
    except Exception as exc:  # the numbers are printed: a missing plot is only a warning
        reason = os_error_reason(exc) if isinstance(exc, OSError) else str(exc)
        print(f"chainrule: warning: cannot draw {png}: {reason}", file=sys.stderr)
    return EXIT_OK
