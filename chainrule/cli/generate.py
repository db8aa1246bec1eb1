"""``chainrule generate RUN``: sample text from a language model trained by
``chainrule train --task charlm``.

The model and its character vocabulary come from the run's checkpoint (JSON meta, no pickle);
``--seed`` makes the sample repeat exactly.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..autograd.tensor import Tensor
from ..data.text import CharVocab, UnknownCharactersError
from ..io.safetensors import CheckpointError
from ..random import Generator
from ..training import model_from_checkpoint, read_training_checkpoint
from ..training.config import SEED_BOUND
from . import (EXIT_ERROR, EXIT_OK, error, int_below, nonnegative_float, positive_int,
               usage_error)

DEFAULT_TOKENS = 500
DEFAULT_TEMPERATURE = 0.8


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``generate`` on the ``chainrule`` subparsers."""
    p = subparsers.add_parser(
        "generate", help="sample text from a trained language model (--task charlm)",
        description="Continue a prompt with characters sampled from the model of a run "
                    "trained by `chainrule train --task charlm`; prints the prompt and the "
                    "sample.",
        epilog="exit codes: 0 done, 1 bad or missing checkpoint, 2 bad arguments (a prompt "
               "with characters the model never saw)")
    p.add_argument("run", metavar="RUN",
                   help="a run folder, or a checkpoint's stem, .json or .safetensors file")
    p.add_argument("--prompt", default=None,
                   help="the text to continue [default: a new line]")
    p.add_argument("--tokens", type=positive_int, default=DEFAULT_TOKENS, metavar="N",
                   help=f"characters to sample [default: {DEFAULT_TOKENS}]")
    p.add_argument("--temperature", type=nonnegative_float, default=DEFAULT_TEMPERATURE,
                   metavar="T", help="divide the logits by T; 0 always takes the likeliest "
                                     f"character [default: {DEFAULT_TEMPERATURE}]")
    p.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                   help="sample among the K likeliest characters only [default: all]")
    p.add_argument("--seed", type=int_below(0, SEED_BOUND, "2**64"), default=0,
                   help="seed of the sampling, in [0, 2**64) [default: 0]")
    p.set_defaults(func=run, _parser=p)
    return p


def load_language_model(path: str) -> tuple[Any, CharVocab, dict]:
    """The model (eval mode), its vocabulary and the meta of a text run's checkpoint.

    Raises:
        FileNotFoundError: no checkpoint there.
        CheckpointError: a corrupt checkpoint, not a language model's, or a vocabulary that
            does not fit the model.
    """
    state, meta = read_training_checkpoint(path)
    data = meta["data"]
    if data.get("task") != "charlm":
        raise CheckpointError(f"{path} is not a language model's run (its model is "
                              f"{meta['model']!r}): train one with `chainrule train --task "
                              "charlm`")
    try:
        vocab = CharVocab.from_json(data.get("vocab"))
    except ValueError as exc:
        raise CheckpointError(f"the checkpoint's vocabulary is invalid: {exc}") from None
    size = meta["model_config"].get("vocab_size")
    if size != len(vocab):
        raise CheckpointError(f"the checkpoint's vocabulary has {len(vocab)} characters but "
                              f"its model predicts {size!r}")
    model = model_from_checkpoint(state, meta)
    model.eval()
    return model, vocab, meta


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule generate``; returns the exit code."""
    try:
        model, vocab, _ = load_language_model(args.run)
    except FileNotFoundError:
        error(f"no checkpoint in {args.run} (train one with `chainrule train --task charlm "
              f"--out {args.run}`)")
        return EXIT_ERROR
    except CheckpointError as exc:
        error(str(exc))
        return EXIT_ERROR
    prompt = args.prompt
    if prompt is None:
        prompt = "\n" if "\n" in vocab else vocab.chars[0]
    if prompt == "":
        usage_error(args, "--prompt must hold at least one character")
    try:
        ids = vocab.encode(prompt)  # (L,)
    except UnknownCharactersError as exc:
        usage_error(args, f"--prompt: {exc}; the model knows only these characters: "
                          f"{''.join(vocab.chars)!r}")
        raise  # pragma: no cover - usage_error exits
    block = getattr(getattr(model, "config", None), "block_size", None)
    if block is not None and len(ids) > block:  # GPT reads the last block_size characters
        ids = ids[-block:]
    generator = Generator().manual_seed(args.seed)
    out = model.generate(Tensor(ids[None, :]), args.tokens, temperature=args.temperature,
                         top_k=args.top_k, generator=generator)  # (1, L + tokens)
    sys.stdout.write(prompt + vocab.decode(out[0, len(ids):]) + "\n")
    sys.stdout.flush()
    return EXIT_OK
