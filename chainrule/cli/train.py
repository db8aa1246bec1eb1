"""``chainrule train``: train a model on an image dataset (``--task image``) or a
character-level language model on a UTF-8 text (``--task charlm``), with checkpoints, curves
and resume.

Each epoch ends with the train/test loss and accuracy printed and appended to
``<out>/metrics.csv``, ``<out>/curves.png`` redrawn and ``<out>/checkpoint.safetensors`` +
``.json`` saved (weights, optimizer buffers, shuffling and global RNG state, and for a text
run its character vocabulary: no pickle). ``--resume`` continues from that checkpoint and
reaches bit-identical weights. Both tasks share the epoch loop, the NaN guard, the saving and
the exit codes (:func:`_run_epochs`).

``--distributed`` trains data-parallel over MPI (``mpiexec -n N python -m mpi4py -m chainrule
train --distributed ...``, :func:`_run_distributed`): ``--batch-size`` is the global batch,
split evenly over the ranks; every rank draws the same global batches from the same seed and
trains on its rows ``rank::N`` of each (``chainrule.training.data.shard_batches``), the model
wrapped in ``DistributedDataParallel`` after ``SyncBatchNorm.convert_sync_batchnorm``, so N
ranks train what one process trains. Every rank evaluates its part of the test set and the
counts are summed. Rank 0 alone prints and writes the run folder; a NaN on any rank stops every
rank with exit code 3; any other failure on any rank (an error, a crash, Ctrl-C) aborts them
all with its exit code.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from .. import manual_seed, nn
from ..backend import get_num_threads, set_num_threads
from ..data import DataLoader, DatasetChecksumError, DatasetNotFoundError, IdxFormatError
from ..data.sampler import RandomSampler
from ..autograd.tensor import Tensor
from ..data.text import (DEFAULT_TEXT_NAME, CharVocab, TextDataError, read_default_text,
                         read_text_file, text_digest)
from ..random import Generator
from ..io.checkpoint import load_into
from ..io.files import remove_stale_temps
from ..io.safetensors import CheckpointError
from ..models.registry import build_model, model_config
from ..ops import compiled_status
from ..training import (METRIC_FIELDS, NonFiniteLossError, evaluate, read_training_checkpoint,
                        restore_training_state, save_training_checkpoint, train_one_epoch,
                        write_metrics_csv)
from ..training.config import (DEFAULT_LR, DEFAULT_MOMENTUM, MODELS, OPTIMIZERS, SCHEDULES,
                               SEED_BOUND, TrainConfig, TrainConfigError, saved_recipe)
from ..training.data import DATASETS, EmptySplitError, RankSlice, load_split, shard_batches
from ..training.loop import min_train_batch
from ..training.text import (CharLMConfig, TEXT_METRIC_FIELDS, TEXT_MODELS, lm_loss,
                             prepare_text)
from ..viz.plots import plot_curves
from . import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_NONFINITE, EXIT_OK, error, existing_dir,
               folder_problem, int_below, make_writable_folder, missing_data,
               nonnegative_float, os_error_reason, positive_float, positive_int, unit_interval,
               usage_error)

EVAL_BATCH_SIZE = 500
DEFAULTS = TrainConfig()
"""The recipe of a run given no flag."""
TEXT_DEFAULTS = CharLMConfig()
"""The recipe of a text run given no flag but ``--task charlm``."""
SAMPLE_CHARS = 120
"""Characters sampled from a text run's model after each epoch."""

# the flags that define a run's recipe: a resumed run must keep them
_RECIPE = (("model", "--model"), ("dataset", "--dataset"), ("batch_size", "--batch-size"),
           ("optimizer", "--optimizer"), ("lr", "--lr"), ("momentum", "--momentum"),
           ("weight_decay", "--weight-decay"), ("schedule", "--schedule"), ("seed", "--seed"),
           ("limit_train", "--limit-train"), ("limit_test", "--limit-test"))
# the same for a text run (its flags: --task charlm)
_TEXT_RECIPE = (("model", "--model"), ("steps_per_epoch", "--steps-per-epoch"),
                ("batch_size", "--batch-size"), ("block_size", "--block-size"), ("lr", "--lr"),
                ("weight_decay", "--weight-decay"), ("schedule", "--schedule"),
                ("grad_clip", "--grad-clip"), ("seed", "--seed"),
                ("eval_blocks", "--eval-blocks"), ("layers", "--layers"),
                ("width", "--width"), ("heads", "--heads"), ("dropout", "--dropout"))
_IMAGE_ONLY = (("dataset", "--dataset"), ("data", "--data"), ("download", "--download"),
               ("optimizer", "--optimizer"), ("momentum", "--momentum"),
               ("limit_train", "--limit-train"), ("limit_test", "--limit-test"))
_TEXT_ONLY = (("text", "--text"), ("steps_per_epoch", "--steps-per-epoch"),
              ("block_size", "--block-size"), ("grad_clip", "--grad-clip"),
              ("eval_blocks", "--eval-blocks"), ("layers", "--layers"), ("width", "--width"),
              ("heads", "--heads"), ("dropout", "--dropout"))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` on the ``chainrule`` subparsers."""
    p = subparsers.add_parser(
        "train", help="train a model (default: LeNet-5 on Fashion-MNIST)",
        description="Train a model on an image dataset, or (--task charlm) a character-level "
                    "language model on a UTF-8 text. The defaults train LeNet-5 on "
                    "Fashion-MNIST with SGD (lr 0.05, momentum 0.9, cosine decay), batch "
                    "size 64, for 5 epochs; --task charlm trains a GPT (4 layers, 4 heads, "
                    "width 128, block 64) with AdamW on the King James Bible of the Debian "
                    "package bible-kjv-text (scripts/get_text.sh installs it), 5 epochs of 200 "
                    "steps of 32 blocks. Each epoch saves "
                    "OUT/checkpoint.safetensors + .json, OUT/metrics.csv and OUT/curves.png.",
        epilog="exit codes: 0 done, 1 bad checkpoint or data file, failed download, or a run "
               "folder that cannot be written (full disk), 2 bad arguments, 3 the loss became "
               "NaN/inf, 130 interrupted")
    p.add_argument("--task", choices=("image", "charlm"), default=None,
                   help="what to train: an image classifier, or a character-level language "
                        "model [default: charlm when --model is gpt or lstm or --text is given, "
                        "else image]")
    p.add_argument("--model", choices=MODELS + TEXT_MODELS, default=None,
                   help=f"model to train [default: {DEFAULTS.model}; {TEXT_DEFAULTS.model} for "
                        "--task charlm]")
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
                   help=f"images (or text blocks) per step [default: {DEFAULTS.batch_size}; "
                        f"{TEXT_DEFAULTS.batch_size} for --task charlm]")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                   help=f"optimizer [default: {DEFAULTS.optimizer}]")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"learning rate [default: {DEFAULT_LR['sgd']} for sgd, "
                        f"{DEFAULT_LR['adam']} for adam; AdamW's for --task charlm: "
                        f"{CharLMConfig(model='gpt').lr} (gpt), {CharLMConfig(model='lstm').lr} "
                        "(lstm)]")
    p.add_argument("--momentum", type=unit_interval, default=None,
                   help=f"SGD momentum [default: {DEFAULT_MOMENTUM}]")
    p.add_argument("--schedule", choices=SCHEDULES, default=None,
                   help="learning-rate schedule: cosine decay to 0 over all steps, or constant "
                        f"[default: {DEFAULTS.schedule}]")
    p.add_argument("--weight-decay", type=nonnegative_float, default=None, metavar="WD",
                   help=f"L2 weight decay [default: {DEFAULTS.weight_decay:g}; for --task "
                        f"charlm AdamW's decoupled decay on matrices, "
                        f"{TEXT_DEFAULTS.weight_decay:g}]")
    p.add_argument("--seed", type=int_below(0, SEED_BOUND, "2**64"), default=None,
                   help="seed of the weights, dropout and shuffling, in [0, 2**64) "
                        f"[default: {DEFAULTS.seed}]")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder [default: runs/MODEL-DATASET, runs/MODEL-TEXT for charlm]")
    p.add_argument("--limit-train", type=positive_int, default=None, metavar="N",
                   help="train on the first N images only")
    p.add_argument("--limit-test", type=positive_int, default=None, metavar="N",
                   help="test on the first N images only")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --out already holds a checkpoint")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI: launch N ranks with `mpiexec -n N "
                        "python -m mpi4py -m chainrule train --distributed ...`; --batch-size "
                        "is the global batch, split evenly over the ranks; rank 0 prints and "
                        "writes the run folder (needs `pip install \"chainrule[mpi]\"`; "
                        "without a launcher: one process, as without the flag)")
    t = p.add_argument_group("language model (--task charlm)")
    t.add_argument("--text", type=text_file, default=None, metavar="FILE",
                   help="the UTF-8 text to learn [default: the King James Bible of the Debian "
                        "packages bible-kjv and bible-kjv-text; on --resume: the run's]")
    t.add_argument("--block-size", type=positive_int, default=None, metavar="T",
                   help=f"characters of context [default: {TEXT_DEFAULTS.block_size}]")
    t.add_argument("--steps-per-epoch", type=positive_int, default=None, metavar="N",
                   help=f"optimizer steps per epoch [default: {TEXT_DEFAULTS.steps_per_epoch}]")
    t.add_argument("--layers", type=positive_int, default=None, metavar="N",
                   help="GPT blocks or LSTM layers [default: 4 (gpt), 2 (lstm)]")
    t.add_argument("--width", type=positive_int, default=None, metavar="C",
                   help="GPT embedding width or LSTM hidden size [default: 128 (gpt), 256 "
                        "(lstm)]")
    t.add_argument("--heads", type=positive_int, default=None, metavar="N",
                   help="GPT attention heads (must divide --width) [default: 4]")
    t.add_argument("--dropout", type=unit_interval, default=None,
                   help=f"dropout of the model [default: {TEXT_DEFAULTS.dropout:g}]")
    t.add_argument("--grad-clip", type=nonnegative_float, default=None, metavar="NORM",
                   help="clip the gradients' global norm (0: no clipping) "
                        f"[default: {TEXT_DEFAULTS.grad_clip:g}]")
    t.add_argument("--eval-blocks", type=positive_int, default=None, metavar="N",
                   help="test blocks scored after each epoch "
                        f"[default: {TEXT_DEFAULTS.eval_blocks}]")
    p.set_defaults(func=run, _parser=p)
    return p


def text_file(text: str) -> str:
    """argparse type: a file that exists (its content is checked when it is read)."""
    if not os.path.isfile(text):
        what = "is not a file" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"text file {text!r} {what}")
    return text


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

@dataclass(frozen=True)
class _Ranks:
    """This process's place in a data-parallel run (a world of one without ``--distributed``).

    Attributes:
        rank: this rank, 0 to ``size - 1``. size: the number of ranks.
    """

    rank: int = 0
    size: int = 1

    @property
    def lead(self) -> bool:
        """Rank 0: the one that prints and writes the run folder."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


SINGLE = _Ranks()
FORWARD_S = 0.5
"""How long a rank waits after printing before it aborts the world: the launcher forwards each
rank's output asynchronously, and an abort at once could drop the last lines (seen under load:
the usage printed, its error line lost)."""
ABORT_GRACE_S = 5.0
"""How long a rank other than 0 waits before it aborts the world for an error every rank
finds at once (bad arguments, a NaN): rank 0 reports it and aborts first."""


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule train``; returns the exit code."""
    task = _task(args)
    runner = _run_charlm if task == "charlm" else _run_image
    if getattr(args, "distributed", False):
        return _run_distributed(args, runner)
    return runner(args, SINGLE)


def _have_mpi4py() -> bool:
    """Whether mpi4py can be imported (the package only: MPI starts in the process group)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _quiet(enabled: bool, errors: io.StringIO) -> Iterator[None]:
    """Send stdout to the null device and keep stderr in ``errors`` (the ranks other than 0:
    rank 0 prints; a rank says what it kept only when the error was its own)."""
    if not enabled:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(errors):
        yield


def _replay(errors: io.StringIO, ranks: _Ranks) -> None:
    """Print what a silenced rank wrote to stderr, each line marked with its rank."""
    for line in errors.getvalue().splitlines():
        print(f"[rank {ranks.rank}] {line}", file=sys.stderr)


_LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE")
"""How launchers tell a rank how many ranks share its machine (MPICH, Open MPI, MVAPICH)."""


def _share_cores(ranks: _Ranks) -> None:
    """Unless ``OMP_NUM_THREADS`` says otherwise, give each rank its share of the machine's
    cores (as ``torchrun`` does): N ranks each using every core would fight over them."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    local = next((os.environ[v] for v in _LOCAL_SIZE_VARS if os.environ.get(v)), None)
    try:
        here = max(1, int(local)) if local is not None else ranks.size
    except ValueError:
        here = ranks.size
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    set_num_threads(max(1, cores // here))


def _run_distributed(args: argparse.Namespace,
                     runner: Callable[[argparse.Namespace, _Ranks], int]) -> int:
    """``runner`` on every rank of the MPI world the launcher started.

    A world of one (no launcher) runs as without ``--distributed``. With more ranks, those
    other than 0 run silenced; a rank that ends with a non-zero code, raises or is interrupted
    aborts every rank with its code (``chainrule.distributed.abort``): a rank left waiting in a
    collective would hang otherwise (under a plain ``mpiexec`` launch; ``python -m mpi4py``
    aborts on an uncaught exception too). An error every rank finds (bad arguments, a NaN) is
    reported by rank 0, which aborts first: another rank waits :data:`ABORT_GRACE_S`, and if it
    is still running then (the error was its own: a data folder missing on its machine), it
    prints what it kept from stderr before it aborts. Checkpoints are written atomically, so
    an abort leaves the last complete one.
    """
    if not _have_mpi4py():
        error('--distributed needs mpi4py, which is not installed: pip install '
              '"chainrule[mpi]" (mpi4py and the MPICH wheel), then launch with `mpiexec -n N '
              'python -m mpi4py -m chainrule train --distributed ...`')
        return EXIT_ERROR
    from .. import distributed as dist

    try:
        dist.init_process_group(backend="mpi")
    except RuntimeError as exc:  # DistributedError: a launcher of another MPI, ...
        error(f"--distributed: {exc}")
        return EXIT_ERROR
    ranks = _Ranks(dist.get_rank(), dist.get_world_size())
    if not ranks.parallel:
        try:
            return runner(args, ranks)
        finally:
            dist.destroy_process_group()
    _share_cores(ranks)
    code: Any = EXIT_ERROR
    local = False  # a failure of this rank alone: abort at once
    errors = io.StringIO()
    try:
        with _quiet(not ranks.lead, errors):
            code = runner(args, ranks)
    except SystemExit as exc:  # usage errors (exit 2): every rank finds them
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        local = True
        print(file=sys.stderr)
        error(f"rank {ranks.rank}: interrupted (Ctrl-C)")
        code = EXIT_INTERRUPTED
    except OSError as exc:
        local = True
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        error(f"rank {ranks.rank}: {os_error_reason(exc)}{where}")
        code = EXIT_ERROR
    except Exception:  # a crash: its traceback, then every rank stops
        local = True
        print(f"chainrule: rank {ranks.rank} of {ranks.size} failed:", file=sys.stderr)
        traceback.print_exc()
        code = EXIT_ERROR
    if code != EXIT_OK:
        if not (local or ranks.lead):
            time.sleep(ABORT_GRACE_S)  # let rank 0 report the error every rank found
        if not ranks.lead:
            _replay(errors, ranks)
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(FORWARD_S)  # let the launcher forward what this rank printed
        dist.abort(int(code))
    dist.destroy_process_group()
    return EXIT_OK


def _task(args: argparse.Namespace) -> str:
    """``--task``, else charlm when a flag says so (``--model gpt``, ``--text``) or the run
    being resumed is a text run, else image; a flag of the other task is a usage error."""
    task = args.task
    if task is None:
        if args.model in TEXT_MODELS or any(getattr(args, k) is not None for k, _ in _TEXT_ONLY):
            task = "charlm"
        elif args.resume and args.model is None and _saved_task(args) == "charlm":
            task = "charlm"
        else:
            task = "image"
    models, wrong = (TEXT_MODELS, _IMAGE_ONLY) if task == "charlm" else (MODELS, _TEXT_ONLY)
    if args.model is not None and args.model not in models:
        usage_error(args, f"--model {args.model} is not a model for --task {task}; choose one "
                          f"of {', '.join(models)}")
    for key, flag in wrong:
        if getattr(args, key) is not None:
            usage_error(args, f"{flag} does not apply to --task {task}")
    return task


def _saved_task(args: argparse.Namespace) -> Optional[str]:
    """The task of the checkpoint in ``--out`` (None when it cannot be read: the resume
    proper reports that)."""
    if not args.out:
        return None
    try:
        _, meta = read_training_checkpoint(Path(args.out) / "checkpoint")
    except (OSError, CheckpointError):
        return None
    data = meta.get("data")
    return data.get("task") if isinstance(data, dict) else None


def _open_run(args: argparse.Namespace, out: Path) -> tuple[Optional[dict], Optional[dict],
                                                           Optional[int]]:
    """Check ``--out`` and read the checkpoint to resume: ``(state, meta, None)`` (both None
    for a new run), or ``(None, None, exit code)`` after reporting the error."""
    problem = folder_problem(out)
    if problem is not None:
        usage_error(args, f"--out {out} {problem}")
    stem = out / "checkpoint"
    if not args.resume:
        if stem.with_suffix(".json").exists() and not args.overwrite:
            usage_error(args, f"{out} already holds a checkpoint: pass --resume to continue it, "
                              "--overwrite to start afresh, or another --out")
        return None, None, None
    if args.overwrite:
        usage_error(args, "--resume and --overwrite exclude each other")
    try:
        state, meta = read_training_checkpoint(stem)
    except FileNotFoundError:
        error(f"--resume: no checkpoint to resume in {out} (expected {stem}.json)")
        return None, None, EXIT_ERROR
    except CheckpointError as exc:
        error(f"cannot resume: {exc}")
        return None, None, EXIT_ERROR
    return state, meta, None


def _prepare_folder(out: Path) -> Optional[int]:
    """Create ``out`` and remove what a save killed mid-way left; an exit code on failure."""
    try:
        make_writable_folder(out)
        remove_stale_temps(out)  # what a save killed mid-way left (the run owns its folder)
    except OSError as exc:
        error(f"cannot write the run folder {out}: {os_error_reason(exc)}")
        return EXIT_ERROR
    return None


def _run_epochs(out: Path, start_epoch: int, epochs: int, metrics: list,
                one_epoch: Any, save: Any, report: Any,
                metric_fields: tuple = METRIC_FIELDS, lead: bool = True) -> Optional[int]:
    """The epoch loop both tasks share: ``row = one_epoch(epoch)``, appended to ``metrics``;
    ``save(epoch, metrics)`` (the checkpoint), ``metrics.csv`` written (``metric_fields``),
    ``curves.png`` redrawn,
    ``report(epoch, row)``. Returns None when every epoch is done, else the exit code of
    what stopped it (NaN/inf, Ctrl-C, a failed save, a bad checkpoint), reported in one line.
    Only the ``lead`` process (rank 0 of a distributed run) saves, writes and reports.
    """
    stem = out / "checkpoint"
    plot = _Plotter(out / "curves.png")
    epoch = start_epoch
    saved = start_epoch - 1  # the epoch of the checkpoint on disk (0: none)
    try:
        for epoch in range(start_epoch, epochs + 1):
            row = one_epoch(epoch)
            metrics.append(row)
            if not lead:
                continue
            try:
                save(epoch, metrics)
                saved = epoch
                write_metrics_csv(metrics, out / "metrics.csv", fields=metric_fields)
            except OSError as exc:  # a full disk, a folder gone read-only or removed
                error(_save_failed(exc, stem, out, epoch, saved))
                return EXIT_ERROR
            plot(metrics)
            report(epoch, row)
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
    return None


# -- data parallel ---------------------------------------------------------------------------

def _check_split(args: argparse.Namespace, batch_size: int, ranks: _Ranks) -> None:
    """A usage error unless the global batch splits evenly over the ranks."""
    if ranks.parallel and batch_size % ranks.size:
        usage_error(args, f"--batch-size {batch_size} is the global batch of the {ranks.size} "
                          f"ranks and must be divisible by {ranks.size}: use --batch-size "
                          f"{max(1, round(batch_size / ranks.size)) * ranks.size}")


def _sync_batch_norm(model: Any, ranks: _Ranks) -> Any:
    """``model`` with its batch norms synchronised over the ranks (unchanged in one process)."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(model) if ranks.parallel else model


def _resume(meta: Optional[dict], state: Any, stem: Path, model: Any, optimizer: Any,
            loader: Any) -> Optional[tuple[list, int]]:
    """``(metrics so far, first epoch to train)``: a fresh run's ``([], 1)``, or the checkpoint's
    weights, optimizer and loader state restored; None (said in one line) when it cannot be."""
    if meta is None:
        return [], 1
    try:
        load_into(model, state, strict=True)
        restore_training_state(meta, model=model, optimizer=optimizer, loader=loader)
    except CheckpointError as exc:
        error(f"cannot resume from {stem}: {exc}")
        return None
    return list(meta["metrics"]), meta["epoch"] + 1


@dataclass
class _Job:
    """What one run trains, for the epoch loop both tasks share (:func:`_epoch_steps`):
    ``net`` is ``model``, or it wrapped for data parallelism; ``unit`` names one target
    (``img``, ``tok``) and the throughput column ``rate`` of metrics.csv."""

    net: Any
    model: Any
    loader: Any
    test_loader: Any
    loss_fn: Callable[[Any, Any], Any]
    optimizer: Any
    schedule: Any
    num_classes: int
    unit: str
    rate: str
    grad_clip: Optional[float] = None


def _epoch_steps(job: _Job, cfg: Any, ranks: _Ranks, args: argparse.Namespace, stem: Path,
                 model_config: dict, data_cfg: dict,
                 after_report: Callable[[], None] = lambda: None) -> tuple:
    """``(one_epoch, save, report)`` for :func:`_run_epochs`: train and evaluate one epoch
    (the test loss must be finite), save the checkpoint, print the epoch's line."""

    def one_epoch(epoch: int) -> dict[str, Any]:
        result = train_one_epoch(job.net, job.loader, job.loss_fn, job.optimizer, epoch=epoch,
                                 epochs=cfg.epochs, progress=ranks.lead and not args.no_progress,
                                 lr_schedule=job.schedule, grad_clip=job.grad_clip,
                                 unit=job.unit, distributed=ranks.parallel)
        ev = evaluate(job.model, job.test_loader, job.loss_fn, num_classes=job.num_classes,
                      distributed=ranks.parallel)
        steps = len(job.loader)
        if ev.loss is None or not math.isfinite(ev.loss):
            raise NonFiniteLossError(epoch, steps, steps, ev.loss, what="test loss")
        return {"epoch": epoch, "train_loss": result.loss, "train_acc": result.accuracy,
                "test_loss": ev.loss, "test_acc": ev.accuracy,
                "seconds": round(result.seconds, 3),
                job.rate: round(result.images_per_second, 1)}

    def save(epoch: int, rows: list) -> None:
        save_training_checkpoint(stem, model=job.model, optimizer=job.optimizer,
                                 loader=job.loader, model_name=cfg.model,
                                 model_config=model_config, data=data_cfg,
                                 train=cfg.train_meta(), epoch=epoch, metrics=rows)

    def report(epoch: int, row: dict[str, Any]) -> None:
        print(f"epoch {epoch}/{cfg.epochs}: train loss {row['train_loss']:.4f} acc "
              f"{row['train_acc']:.2%} | test loss {row['test_loss']:.4f} acc "
              f"{row['test_acc']:.2%} | {row['seconds']:.1f} s "
              f"({row[job.rate]:.0f} {job.unit}/s)", flush=True)
        after_report()

    return one_epoch, save, report


def _data_parallel(model: Any, ranks: _Ranks, batch_size: int, items: str = "images") -> Any:
    """``model`` wrapped in ``DistributedDataParallel`` (which gives every rank rank 0's
    weights and buffers, and averages the gradients); the model itself in one process.
    Rank 0 names the split."""
    if not ranks.parallel:
        return model
    from ..nn.parallel import DistributedDataParallel

    threads = get_num_threads()
    plural = "s" if threads > 1 else ""
    print(f"  data parallel: {ranks.size} ranks (MPI), {threads} thread{plural} each; each rank "
          f"{batch_size // ranks.size} of the {batch_size} {items} of a batch", flush=True)
    # SyncBatchNorm updates the running statistics alike on every rank: nothing to broadcast
    return DistributedDataParallel(model, broadcast_buffers=False)


def _train_part(dataset: Any, ranks: _Ranks) -> Any:
    """The training set as this rank loads it: every global batch, only its own part."""
    return shard_batches(dataset, ranks.rank, ranks.size) if ranks.parallel else dataset


def _test_part(dataset: Any, ranks: _Ranks) -> Any:
    """This rank's contiguous part of the test set (all of it in one process)."""
    return RankSlice(dataset, ranks.rank, ranks.size) if ranks.parallel else dataset


# -- image classification --------------------------------------------------------------------

def _run_image(args: argparse.Namespace, ranks: _Ranks = SINGLE) -> int:
    name_hint = f"{args.model or DEFAULTS.model}-{args.dataset or DEFAULTS.dataset}"
    out = Path(args.out) if args.out else Path("runs") / name_hint
    stem = out / "checkpoint"
    state, meta, code = _open_run(args, out)
    if code is not None:
        return code
    if meta is not None:
        if meta["data"].get("task") == "charlm":
            usage_error(args, f"{out} holds a language model's run: resume it with --task charlm")
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
    _check_split(args, cfg.batch_size, ranks)

    manual_seed(cfg.seed)
    try:
        model = build_model(cfg.model, mcfg)
    except (ValueError, TypeError, MemoryError) as exc:  # only a checkpoint's config can be
        # wrong here (MemoryError: an absurd size such as num_classes=10**12)
        error(f"cannot resume from {stem}: cannot rebuild the model: {exc}")
        return EXIT_ERROR
    need = _check_batch_size(args, cfg, model, len(train_ds))
    model = _sync_batch_norm(model, ranks)
    optimizer = cfg.make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    bs = cfg.batch_size
    # a last batch too small to batch-normalise in train mode (one image), or that does not
    # split evenly over the ranks (dropout's global mask needs equal parts), is dropped; a run
    # saved when every model dropped it keeps its batches
    rest = len(train_ds) % bs
    drop_last = 0 < rest < need or rest % ranks.size != 0 or (
        meta is not None and isinstance(meta.get("loader"), dict)
        and meta["loader"].get("drop_last") is True)
    loader = DataLoader(_train_part(train_ds, ranks), batch_size=bs, shuffle=True,
                        seed=cfg.seed, drop_last=drop_last)
    test_loader = DataLoader(_test_part(test_ds, ranks), batch_size=EVAL_BATCH_SIZE)
    resumed = _resume(meta, state, stem, model, optimizer, loader)
    if resumed is None:
        return EXIT_ERROR
    metrics, start_epoch = resumed

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
    code = _prepare_folder(out) if ranks.lead else None
    if code is not None:
        return code
    print(f"  compiled kernels: {compiled_status()}", flush=True)
    job = _Job(_data_parallel(model, ranks, bs), model, loader, test_loader, loss_fn,
               optimizer, schedule, len(classes), "img", "images_per_second")
    code = _run_epochs(out, start_epoch, cfg.epochs, metrics,
                       *_epoch_steps(job, cfg, ranks, args, stem, mcfg, data_cfg),
                       lead=ranks.lead)
    if code is not None:
        return code
    if not metrics or metrics[-1]["epoch"] < start_epoch:  # nothing left to train
        ev = evaluate(model, test_loader, loss_fn, num_classes=len(classes),
                      distributed=ranks.parallel)
        print(f"{out} already holds {start_epoch - 1} epochs (--epochs {cfg.epochs}); "
              "nothing to train", flush=True)
        accuracy = ev.accuracy
    else:
        accuracy = metrics[-1]["test_acc"]
    print(f"test accuracy: {accuracy:.2%}", flush=True)
    return EXIT_OK


# -- character-level language model ----------------------------------------------------------

def _new_text_config(args: argparse.Namespace) -> CharLMConfig:
    given = {key: getattr(args, key) for key, _ in _TEXT_RECIPE if getattr(args, key) is not None}
    if args.epochs is not None:
        given["epochs"] = args.epochs
    try:
        return CharLMConfig(**given)
    except TrainConfigError as exc:
        usage_error(args, str(exc))
        raise  # pragma: no cover - usage_error exits


def _resumed_text_config(args: argparse.Namespace, meta: dict[str, Any]) -> CharLMConfig:
    try:
        saved = CharLMConfig.from_meta(meta)
    except (TrainConfigError, TypeError) as exc:
        raise CheckpointError(f"the checkpoint's training recipe is invalid: {exc}") from None
    for key, flag in _TEXT_RECIPE:
        given = getattr(args, key)
        if given is not None and given != getattr(saved, key):
            usage_error(args, f"{flag} {given} differs from the run being resumed "
                              f"({flag} {getattr(saved, key)}); a resumed run keeps its recipe "
                              "(use another --out to start a new run)")
    if args.epochs is None:
        return saved
    return CharLMConfig.from_meta(meta, epochs=args.epochs)


def _read_text(path: Optional[str]) -> str:
    """The text of ``--text`` (None: the default text).

    Raises:
        TextDataError, OSError.
    """
    return read_default_text() if path is None else read_text_file(path)


def _run_charlm(args: argparse.Namespace, ranks: _Ranks = SINGLE) -> int:
    text_name = DEFAULT_TEXT_NAME if args.text is None else Path(args.text).stem
    out = Path(args.out) if args.out else \
        Path("runs") / f"{args.model or TEXT_DEFAULTS.model}-{text_name}"
    stem = out / "checkpoint"
    state, meta, code = _open_run(args, out)
    if code is not None:
        return code
    saved_data: Optional[dict] = None
    if meta is not None:
        saved_data = meta["data"]
        if saved_data.get("task") != "charlm":
            usage_error(args, f"{out} holds an image classifier's run: resume it without "
                              "--task charlm and the text flags")
        try:
            cfg = _resumed_text_config(args, meta)
        except CheckpointError as exc:
            error(f"cannot resume: {exc}")
            return EXIT_ERROR
        saved_text = saved_data.get("text")
        if args.text is None and saved_text is not None:
            if not isinstance(saved_text, str) or not os.path.isfile(saved_text):
                error(f"cannot resume: the run's text {saved_text!r} is no longer there; pass "
                      "--text FILE with the same text")
                return EXIT_ERROR
            args.text = saved_text
    else:
        cfg = _new_text_config(args)
    _check_split(args, cfg.batch_size, ranks)

    try:
        text = _read_text(args.text)
        label = "the default text" if args.text is None else args.text
        vocab = None
        if saved_data is not None:
            if saved_data.get("sha256") != text_digest(text):
                error(f"cannot resume: {label} is not the text the run in {out} was trained on "
                      "(its SHA-256 differs)")
                return EXIT_ERROR
            vocab = CharVocab.from_json(saved_data.get("vocab"))
        splits = prepare_text(text, cfg.block_size, cfg.eval_blocks, label, vocab)
    except TextDataError as exc:
        error(str(exc))
        return EXIT_ERROR
    except (ValueError, TypeError) as exc:  # a checkpoint's vocabulary that does not fit
        error(f"cannot resume from {stem}: its vocabulary: {exc}")
        return EXIT_ERROR
    except OSError as exc:
        error(f"cannot read {args.text}: {os_error_reason(exc)}")
        return EXIT_ERROR
    vocab = splits.vocab

    manual_seed(cfg.seed)
    try:
        mcfg = meta["model_config"] if meta is not None else \
            model_config(cfg.model, cfg.model_overrides(len(vocab)))
        model = build_model(cfg.model, mcfg)
    except (ValueError, TypeError, MemoryError) as exc:
        if meta is None:  # --heads not dividing --width, ...
            usage_error(args, str(exc))
        error(f"cannot resume from {stem}: cannot rebuild the model: {exc}")
        return EXIT_ERROR
    model = _sync_batch_norm(model, ranks)
    optimizer = cfg.make_optimizer(model)
    generator = Generator().manual_seed(cfg.seed)
    sampler = RandomSampler(splits.train, replacement=True,
                            num_samples=cfg.steps_per_epoch * cfg.batch_size,
                            generator=generator)
    loader = DataLoader(_train_part(splits.train, ranks), batch_size=cfg.batch_size,
                        sampler=sampler, generator=generator)
    test_loader = DataLoader(_test_part(splits.test, ranks), batch_size=cfg.batch_size)
    resumed = _resume(meta, state, stem, model, optimizer, loader)
    if resumed is None:
        return EXIT_ERROR
    metrics, start_epoch = resumed

    data_cfg = {"task": "charlm", "name": text_name,
                "text": os.path.abspath(args.text) if args.text else None,
                "sha256": text_digest(text), "characters": len(text),
                "train_chars": splits.train_chars, "test_chars": splits.test_chars,
                "vocab": vocab.to_json()}
    n_params = sum(int(p.numel()) for p in model.parameters())
    schedule = cfg.lr_schedule()
    print(f"chainrule train: {cfg.model} ({n_params:,} parameters) on {label} "
          f"({len(text):,} characters, {len(vocab)} distinct; {splits.train_chars:,} train / "
          f"{splits.test_chars:,} test)", flush=True)
    plural = "s" if cfg.epochs != 1 else ""
    print(f"  adamw lr={cfg.lr:g} weight_decay={cfg.weight_decay:g}"
          + (" (cosine decay)" if cfg.schedule == "cosine" else "")
          + f", batch {cfg.batch_size} x {cfg.block_size} characters, {cfg.steps_per_epoch} "
            f"steps x {cfg.epochs} epoch{plural}, seed {cfg.seed} -> {out}"
          + (f" (resuming after epoch {start_epoch - 1})" if meta else ""), flush=True)
    code = _prepare_folder(out) if ranks.lead else None
    if code is not None:
        return code
    print(f"  compiled kernels: {compiled_status()}", flush=True)
    job = _Job(_data_parallel(model, ranks, cfg.batch_size, "blocks"), model, loader,
               test_loader, lm_loss, optimizer, schedule, len(vocab), "tok",
               "tokens_per_second", cfg.grad_clip or None)

    def show_sample() -> None:
        print(f"  sample: {_sample(model, vocab, cfg.seed)!r}", flush=True)

    code = _run_epochs(out, start_epoch, cfg.epochs, metrics,
                       *_epoch_steps(job, cfg, ranks, args, stem, mcfg, data_cfg, show_sample),
                       TEXT_METRIC_FIELDS, lead=ranks.lead)
    if code is not None:
        return code
    if not metrics or metrics[-1]["epoch"] < start_epoch:  # nothing left to train
        ev = evaluate(model, test_loader, lm_loss, num_classes=len(vocab),
                      distributed=ranks.parallel)
        print(f"{out} already holds {start_epoch - 1} epochs (--epochs {cfg.epochs}); "
              "nothing to train", flush=True)
        loss = ev.loss
    else:
        loss = metrics[-1]["test_loss"]
    print(f"test loss: {loss:.4f} nats per character ({loss / math.log(2):.3f} bits)",
          flush=True)
    return EXIT_OK


def _sample(model: Any, vocab: CharVocab, seed: int) -> str:
    """A short sample after an epoch, from its own generator (the run's are untouched)."""
    start = "\n" if "\n" in vocab else vocab.chars[0]
    idx = Tensor(vocab.encode(start)[None, :])  # (1, 1)
    gen = Generator().manual_seed(seed)
    out = model.generate(idx, SAMPLE_CHARS, temperature=0.8, generator=gen)
    return vocab.decode(out[0, 1:])
