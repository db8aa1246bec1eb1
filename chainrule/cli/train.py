"""``chainrule train``: train a model on an image dataset, with checkpoints, curves and resume.

Each epoch ends with the train/test loss and accuracy printed and appended to
``<out>/metrics.csv``, ``<out>/curves.png`` redrawn and ``<out>/checkpoint.safetensors`` +
``.json`` saved (weights, optimizer buffers, shuffling and global RNG state: no pickle).
``--resume`` continues from that checkpoint and reaches bit-identical weights.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, Optional

from .. import manual_seed, nn
from ..data import DataLoader, DatasetChecksumError, DatasetNotFoundError, IdxFormatError
from ..io.checkpoint import load_into
from ..io.files import remove_stale_temps
from ..io.safetensors import CheckpointError
from ..models.registry import build_model, model_config
from ..ops import compiled_status
from ..training import (NonFiniteLossError, evaluate, read_training_checkpoint,
                        restore_training_state, save_training_checkpoint, train_one_epoch,
                        write_metrics_csv)
from ..training.config import (DEFAULT_LR, DEFAULT_MOMENTUM, MODELS, OPTIMIZERS, SCHEDULES,
                               SEED_BOUND, TrainConfig, TrainConfigError, saved_recipe)
from ..training.data import DATASETS, EmptySplitError, load_split
from ..training.loop import min_train_batch
from ..viz.plots import plot_curves
from . import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_NONFINITE, EXIT_OK, error, existing_dir,
               folder_problem, int_below, make_writable_folder, missing_data,
               nonnegative_float, os_error_reason, positive_float, positive_int, unit_interval,
               usage_error)

EVAL_BATCH_SIZE = 500
DEFAULTS = TrainConfig()
"""The recipe of a run given no flag."""

# the flags that define a run's recipe: a resumed run must keep them
_RECIPE = (("model", "--model"), ("dataset", "--dataset"), ("batch_size", "--batch-size"),
           ("optimizer", "--optimizer"), ("lr", "--lr"), ("momentum", "--momentum"),
           ("weight_decay", "--weight-decay"), ("schedule", "--schedule"), ("seed", "--seed"),
           ("limit_train", "--limit-train"), ("limit_test", "--limit-test"))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` on the ``chainrule`` subparsers."""
    p = subparsers.add_parser(
        "train", help="train a model (default: LeNet-5 on Fashion-MNIST)",
        description="Train a model on an image dataset. The defaults train LeNet-5 on "
                    "Fashion-MNIST with SGD (lr 0.05, momentum 0.9, cosine decay), batch "
                    "size 64, for 5 epochs. Each epoch saves "
                    "OUT/checkpoint.safetensors + .json, OUT/metrics.csv and OUT/curves.png.",
        epilog="exit codes: 0 done, 1 bad checkpoint or data file, failed download, or a run "
               "folder that cannot be written (full disk), 2 bad arguments, 3 the loss became "
               "NaN/inf, 130 interrupted")
    p.add_argument("--model", choices=MODELS, default=None,
                   help=f"model to train [default: {DEFAULTS.model}]")
    p.add_argument("--dataset", choices=tuple(DATASETS), default=None,
                   help=f"dataset [default: {DEFAULTS.dataset}]")
    p.add_argument("--data", type=existing_dir, default=None, metavar="DIR",
                   help="folder holding the IDX files [default: $CHAINRULE_DATA, the user cache, "
                        "/usr/share/datasets/DATASET; on --resume: the run's folder]")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                   help="download the dataset (checksums verified) if it is not found "
                        "[default: yes, unless --data is given]")
    p.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                   help=f"total number of epochs [default: {DEFAULTS.epochs}]")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help=f"images per step [default: {DEFAULTS.batch_size}]")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                   help=f"optimizer [default: {DEFAULTS.optimizer}]")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"learning rate [default: {DEFAULT_LR['sgd']} for sgd, "
                        f"{DEFAULT_LR['adam']} for adam]")
    p.add_argument("--momentum", type=unit_interval, default=None,
                   help=f"SGD momentum [default: {DEFAULT_MOMENTUM}]")
    p.add_argument("--schedule", choices=SCHEDULES, default=None,
                   help="learning-rate schedule: cosine decay to 0 over all steps, or constant "
                        f"[default: {DEFAULTS.schedule}]")
    p.add_argument("--weight-decay", type=nonnegative_float, default=None, metavar="WD",
                   help=f"L2 weight decay [default: {DEFAULTS.weight_decay:g}]")
    p.add_argument("--seed", type=int_below(0, SEED_BOUND, "2**64"), default=None,
                   help="seed of the weights, dropout and shuffling, in [0, 2**64) "
                        f"[default: {DEFAULTS.seed}]")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder [default: runs/MODEL-DATASET]")
    p.add_argument("--limit-train", type=positive_int, default=None, metavar="N",
                   help="train on the first N images only")
    p.add_argument("--limit-test", type=positive_int, default=None, metavar="N",
                   help="test on the first N images only")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --out already holds a checkpoint")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run, _parser=p)
    return p


# -- configuration ---------------------------------------------------------------------------

def _new_config(args: argparse.Namespace) -> TrainConfig:
    if args.optimizer not in (None, "sgd") and args.momentum is not None:
        usage_error(args, "--momentum applies to --optimizer sgd only")
    given = {key: getattr(args, key) for key, _ in _RECIPE if getattr(args, key) is not None}
    if args.epochs is not None:
        given["epochs"] = args.epochs
    try:
        return TrainConfig(**given)  # the argument types have checked each flag
    except TrainConfigError as exc:  # a rule the argument types do not know yet
        usage_error(args, str(exc))
        raise  # pragma: no cover - usage_error exits


def _resumed_config(args: argparse.Namespace, meta: dict[str, Any]) -> TrainConfig:
    saved = saved_recipe(meta)
    for key, flag in _RECIPE:
        given = getattr(args, key)
        if given is not None and given != saved[key]:
            usage_error(args, f"{flag} {given} differs from the run being resumed "
                              f"({flag} {saved[key]}); a resumed run keeps its recipe (use "
                              "another --out to start a new run)")
    try:
        return TrainConfig.from_meta(meta, **({} if args.epochs is None
                                              else {"epochs": args.epochs}))
    except TrainConfigError as exc:
        raise CheckpointError(f"the checkpoint's training recipe is invalid ({exc.fields}): "
                              f"{exc.details}") from None


def _load_data(args: argparse.Namespace, cfg: TrainConfig) -> tuple[Any, Any]:
    """Both splits of the run's dataset.

    Raises:
        DatasetNotFoundError, DatasetChecksumError, IdxFormatError, EmptySplitError.
    """
    download = args.download if args.download is not None else args.data is None
    train = load_split(cfg.dataset, train=True, root=args.data, limit=cfg.limit_train,
                       download=download)
    test = load_split(cfg.dataset, train=False, root=args.data, limit=cfg.limit_test,
                      download=download)
    return train, test


def _check_batch_size(args: argparse.Namespace, cfg: TrainConfig, model: Any,
                      images: int) -> int:
    """The smallest batch ``model`` can train on (:func:`min_train_batch`); a usage error when
    the batch size, or the training images, are fewer."""
    need = min_train_batch(model)
    if cfg.batch_size < need:
        usage_error(args, f"--batch-size {cfg.batch_size} cannot train {cfg.model}: its batch "
                          f"norm layers need at least {need} images per training batch (with "
                          "one image, a channel of a 1x1 feature map has a single value and "
                          f"no variance; PyTorch refuses it too); use --batch-size {need} or "
                          "more")
    if images < need:
        usage_error(args, f"{images} training image(s) make no training batch (a batch of a "
                          f"single image is dropped: batch norm needs {need}); train on {need} "
                          "images or more (--limit-train)")
    return need


def _save_failed(exc: OSError, stem: Path, out: Path, epoch: int, saved: int) -> str:
    """The one line that reports a failed save at the end of ``epoch`` (the file named by
    ``exc`` is often a temporary one: the folder is named instead)."""
    kept = f"the checkpoint of epoch {saved} is kept in {stem}.json; free some space or " \
           f"fix the folder, then continue with: chainrule train --out {out} --resume" \
        if saved else "no checkpoint was written"
    return f"cannot save epoch {epoch} into {out}: {os_error_reason(exc)}; {kept}"


class _Plotter:
    """Redraw ``curves.png``; a missing matplotlib (or a plotting error) warns once, never stops
    training."""

    def __init__(self, path: Path) -> None:
        self.path, self.warned = path, False

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        try:
            keys = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
            plot_curves([{k: r[k] for k in keys} for r in rows], os.fspath(self.path))
        except Exception as exc:  # a plot is a convenience: report and keep training
            if not self.warned:
                print(f"chainrule: warning: cannot draw {self.path}: {exc}", file=sys.stderr)
                self.warned = True


# -- the command -----------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    """Run ``chainrule train``; returns the exit code."""
    name_hint = f"{args.model or DEFAULTS.model}-{args.dataset or DEFAULTS.dataset}"
    out = Path(args.out) if args.out else Path("runs") / name_hint
    problem = folder_problem(out)
    if problem is not None:
        usage_error(args, f"--out {out} {problem}")
    stem = out / "checkpoint"
    state: Optional[dict] = None
    meta: Optional[dict] = None
    if args.resume:
        if args.overwrite:
            usage_error(args, "--resume and --overwrite exclude each other")
        try:
            state, meta = read_training_checkpoint(stem)
        except FileNotFoundError:
            error(f"--resume: no checkpoint to resume in {out} (expected {stem}.json)")
            return EXIT_ERROR
        except CheckpointError as exc:
            error(f"cannot resume: {exc}")
            return EXIT_ERROR
        try:
            cfg = _resumed_config(args, meta)
        except CheckpointError as exc:
            error(f"cannot resume: {exc}")
            return EXIT_ERROR
        mcfg = meta["model_config"]
        if args.data is None and isinstance(meta["data"].get("root"), str) \
                and os.path.isdir(meta["data"]["root"]):
            args.data = meta["data"]["root"]  # the folder the run was started with
    else:
        if stem.with_suffix(".json").exists() and not args.overwrite:
            usage_error(args, f"{out} already holds a checkpoint: pass --resume to continue it, "
                              "--overwrite to start afresh, or another --out")
        cfg = _new_config(args)
        mcfg = None

    try:
        train_ds, test_ds = _load_data(args, cfg)
    except DatasetNotFoundError as exc:
        return missing_data(args, exc)
    except (IdxFormatError, DatasetChecksumError, EmptySplitError) as exc:
        error(str(exc))
        return EXIT_ERROR
    classes = list(train_ds.classes)
    if mcfg is None:
        mcfg = model_config(cfg.model, {"num_classes": len(classes)}
                            if cfg.model == "lenet5" else None)

    manual_seed(cfg.seed)
    try:
        model = build_model(cfg.model, mcfg)
    except (ValueError, TypeError, MemoryError) as exc:  # only a checkpoint's config can be
        # wrong here (MemoryError: an absurd size such as num_classes=10**12)
        error(f"cannot resume from {stem}: cannot rebuild the model: {exc}")
        return EXIT_ERROR
    need = _check_batch_size(args, cfg, model, len(train_ds))
    optimizer = cfg.make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    bs = cfg.batch_size
    # a last batch too small to batch-normalise in train mode (one image) is dropped; a run
    # saved when every model dropped it keeps its batches
    drop_last = 0 < len(train_ds) % bs < need or (
        meta is not None and isinstance(meta.get("loader"), dict)
        and meta["loader"].get("drop_last") is True)
    loader = DataLoader(train_ds, batch_size=bs, shuffle=True, seed=cfg.seed,
                        drop_last=drop_last)
    test_loader = DataLoader(test_ds, batch_size=EVAL_BATCH_SIZE)
    metrics: list[dict[str, Any]] = []
    start_epoch = 1
    if meta is not None:
        try:
            load_into(model, state, strict=True)
            restore_training_state(meta, model=model, optimizer=optimizer, loader=loader)
        except CheckpointError as exc:
            error(f"cannot resume from {stem}: {exc}")
            return EXIT_ERROR
        metrics = list(meta["metrics"])
        start_epoch = meta["epoch"] + 1

    data_cfg = {"name": cfg.dataset, "mean": DATASETS[cfg.dataset].mean,
                "std": DATASETS[cfg.dataset].std, "classes": classes,
                "limit_train": cfg.limit_train, "limit_test": cfg.limit_test,
                "root": os.path.abspath(args.data) if args.data else None}
    n_params = sum(int(p.numel()) for p in model.parameters())
    opt_desc = f"{cfg.optimizer} lr={cfg.lr:g}" + (
        f" momentum={cfg.momentum:g}" if cfg.optimizer == "sgd" else "") + (
        " (cosine decay)" if cfg.schedule == "cosine" else "")
    schedule = cfg.lr_schedule(len(loader))
    print(f"chainrule train: {cfg.model} ({n_params:,} parameters) on {cfg.dataset} "
          f"({len(train_ds)} train / {len(test_ds)} test images)", flush=True)
    plural = "s" if cfg.epochs != 1 else ""
    print(f"  {opt_desc}, batch size {bs}, {cfg.epochs} epoch{plural}, seed {cfg.seed} "
          f"-> {out}" + (f" (resuming after epoch {start_epoch - 1})" if meta else ""),
          flush=True)
    try:
        make_writable_folder(out)
        remove_stale_temps(out)  # what a save killed mid-way left (the run owns its folder)
    except OSError as exc:
        error(f"cannot write the run folder {out}: {os_error_reason(exc)}")
        return EXIT_ERROR
    print(f"  compiled kernels: {compiled_status()}", flush=True)
    plot = _Plotter(out / "curves.png")

    epoch = start_epoch
    saved = start_epoch - 1  # the epoch of the checkpoint on disk (0: none)
    try:
        for epoch in range(start_epoch, cfg.epochs + 1):
            result = train_one_epoch(model, loader, loss_fn, optimizer, epoch=epoch,
                                     epochs=cfg.epochs, progress=not args.no_progress,
                                     lr_schedule=schedule)
            ev = evaluate(model, test_loader, loss_fn, num_classes=len(classes))
            if ev.loss is None or not math.isfinite(ev.loss):
                raise NonFiniteLossError(epoch, len(loader), len(loader), ev.loss,
                                         what="test loss")
            row = {"epoch": epoch, "train_loss": result.loss, "train_acc": result.accuracy,
                   "test_loss": ev.loss, "test_acc": ev.accuracy,
                   "seconds": round(result.seconds, 3),
                   "images_per_second": round(result.images_per_second, 1)}
            metrics.append(row)
            try:
                save_training_checkpoint(stem, model=model, optimizer=optimizer, loader=loader,
                                         model_name=cfg.model, model_config=mcfg,
                                         data=data_cfg, train=cfg.train_meta(), epoch=epoch,
                                         metrics=metrics)
                saved = epoch
                write_metrics_csv(metrics, out / "metrics.csv")
            except OSError as exc:  # a full disk, a folder gone read-only or removed
                error(_save_failed(exc, stem, out, epoch, saved))
                return EXIT_ERROR
            plot(metrics)
            print(f"epoch {epoch}/{cfg.epochs}: train loss {result.loss:.4f} acc "
                  f"{result.accuracy:.2%} | test loss {ev.loss:.4f} acc {ev.accuracy:.2%} | "
                  f"{result.seconds:.1f} s ({result.images_per_second:.0f} img/s)", flush=True)
    except NonFiniteLossError as exc:
        last = f"the last good checkpoint (epoch {saved}) is {stem}.json" if saved \
            else "no checkpoint was written"
        error(f"{exc}; {last}")
        return EXIT_NONFINITE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        error(f"interrupted during epoch {epoch}; continue with: chainrule train --out {out} "
              "--resume")
        return EXIT_INTERRUPTED
    except CheckpointError as exc:
        error(str(exc))
        return EXIT_ERROR

    if not metrics or metrics[-1]["epoch"] < start_epoch:  # nothing left to train
        ev = evaluate(model, test_loader, loss_fn, num_classes=len(classes))
        print(f"{out} already holds {start_epoch - 1} epochs (--epochs {cfg.epochs}); "
              "nothing to train", flush=True)
        accuracy = ev.accuracy
    else:
        accuracy = metrics[-1]["test_acc"]
    print(f"test accuracy: {accuracy:.2%}", flush=True)
    return EXIT_OK

