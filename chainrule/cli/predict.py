"""``chainrule predict CHECKPOINT --index I``: predictions with top-3 probabilities and the image
drawn in ASCII."""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..data import DatasetNotFoundError
from ..training import predict_proba
from . import EXIT_ERROR, EXIT_OK, error, missing_data, nonnegative_int, usage_error
from .evaluate import LOAD_ERRORS, add_checkpoint_arguments, load_checkpoint_and_data

SHADES = " .:-=+*#%@"
"""Characters from dark (0) to bright (255) for :func:`ascii_image`."""


def ascii_image(image: Any, shades: str = SHADES, frame: bool = False) -> str:
    """Draw a grayscale image (H, W) as text, two characters per pixel (for the aspect ratio).

    Args:
        image: uint8 (0..255) or floats in [0, 1], shape (H, W).
        shades: characters from dark to bright.
        frame: draw a ``+--+`` border around it (then no line is stripped).

    Example:
        >>> print(ascii_image(np.array([[0, 255], [128, 0]], np.uint8)))
          @@
        ++
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"ascii_image: expected an image of shape (H, W), got {a.shape}")
    if np.asarray(image).dtype == np.uint8:
        a = a / 255.0
    levels = np.clip((a * len(shades)).astype(np.int64), 0, len(shades) - 1)  # (H, W)
    rows = ["".join(shades[v] * 2 for v in row) for row in levels]
    if not frame:
        return "\n".join(r.rstrip() for r in rows)
    edge = "+" + "-" * (2 * a.shape[1]) + "+"
    return "\n".join([edge] + [f"|{r}|" for r in rows] + [edge])


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``predict`` on the ``chainrule`` subparsers."""
    p = subparsers.add_parser(
        "predict", help="predict single images with a trained checkpoint",
        description="Show the prediction of a checkpoint for dataset images: the true and "
                    "the predicted label, the top-3 probabilities and the image in ASCII.",
        epilog="exit codes: 0 done, 1 bad checkpoint or data file, 2 bad arguments")
    add_checkpoint_arguments(p)
    p.add_argument("--index", type=nonnegative_int, action="append", default=None,
                   metavar="I", help="index of an image in the split (repeatable) [default: 0]")
    p.add_argument("--top", type=int, default=3, choices=range(1, 11), metavar="K",
                   help="how many classes to list (1-10) [default: 3]")
    p.add_argument("--no-image", action="store_true", help="do not draw the images")
    p.set_defaults(func=run, _parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule predict``; returns the exit code."""
    indices = args.index or [0]
    try:
        model, meta, ds = load_checkpoint_and_data(args)
    except DatasetNotFoundError as exc:
        return missing_data(args, exc)
    except LOAD_ERRORS as exc:
        error(str(exc))
        return EXIT_ERROR
    bad = [i for i in indices if i >= len(ds)]
    if bad:
        usage_error(args, f"--index {bad[0]} is out of range: the {args.split} split has "
                          f"{len(ds)} images (0..{len(ds) - 1})")
    classes = list(ds.classes)
    images, targets = ds.get_batch(np.asarray(indices))  # (B, 1, 28, 28) float32, (B,)
    probs = predict_proba(model, Tensor(images))  # (B, K)
    k = min(args.top, probs.shape[1])
    for row, (i, target) in enumerate(zip(indices, targets)):
        p = probs[row]
        top = np.argsort(-p, kind="stable")[:k]
        pred = int(top[0])
        mark = "correct" if pred == int(target) else "WRONG"
        print(f"image {i} ({meta['data']['name']} {args.split}): true {classes[int(target)]!r}, "
              f"predicted {classes[pred]!r} ({mark})")
        print("  top-" + str(k) + ": " + ", ".join(f"{classes[c]} {p[c]:.2%}" for c in top))
        if not args.no_image:
            print(ascii_image(ds.data[i], frame=True))
        print()
    return EXIT_OK
