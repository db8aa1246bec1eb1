"""``chainrule export RUN --onnx FILE``: a training run's model as an ONNX file.

The model is rebuilt from the run's checkpoint (its registry name and config, then the
weights), exported with a dynamic batch axis (:func:`chainrule.onnx.export`) and checked;
the graph's input and output names and shapes are printed. The ``onnx`` package is imported
only when the command runs.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..io.safetensors import CheckpointError
from ..models import get_spec
from ..onnx import ExportError, export
from ..training import model_from_checkpoint, read_training_checkpoint
from . import EXIT_ERROR, EXIT_OK, error, file_problem, os_error_reason, usage_error

TOKEN_MODELS = ("gpt", "lstm")
"""Registered models that read token ids (int64), not images."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``export`` on the ``chainrule`` subparsers."""
    p = subparsers.add_parser(
        "export", help="export a trained run's model to ONNX",
        description="Rebuild the model of a run written by `chainrule train` from its "
                    "checkpoint and write it as an ONNX file with a dynamic batch axis, "
                    "runnable in onnxruntime; print its inputs and outputs.",
        epilog="exit codes: 0 done, 1 bad checkpoint, a model that cannot be exported or a "
               "file that cannot be written, 2 bad arguments")
    p.add_argument("run", metavar="RUN",
                   help="a run folder, or a checkpoint's stem, .json or .safetensors file")
    p.add_argument("--onnx", required=True, metavar="FILE", help="the ONNX file to write")
    p.add_argument("--opset", type=int, choices=(17, 18), default=17,
                   help="the ONNX opset [default: 17]")
    p.set_defaults(func=run, _parser=p)
    return p


def example_input(meta: dict) -> Tensor:
    """One example batch of two items for the run's model (zeros: only shapes matter)."""
    spec = get_spec(meta["model"])
    if spec.name in TOKEN_MODELS:
        length = meta["model_config"].get("block_size", spec.input_shape[0])
        return Tensor(np.zeros((2, int(length)), np.int64))
    return Tensor(np.zeros((2,) + tuple(spec.input_shape), np.float32))


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule export``; returns the exit code."""
    problem = file_problem(args.onnx)
    if problem is not None:
        usage_error(args, f"--onnx {args.onnx} {problem}")
    try:
        state, meta = read_training_checkpoint(args.run)
        model = model_from_checkpoint(state, meta)
    except (FileNotFoundError, CheckpointError) as exc:
        error(str(exc))
        return EXIT_ERROR
    x = example_input(meta)
    try:
        proto = export(model, x, args.onnx, input_names=["input"],
                               output_names=["output"], dynamic_axes={
                                   "input": {0: "batch"}, "output": {0: "batch"}},
                               opset_version=args.opset)
    except (ExportError, ImportError) as exc:  # ImportError: the onnx extra is missing
        error(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        error(f"cannot write {args.onnx}: {os_error_reason(exc)}")
        return EXIT_ERROR
    print(f"exported {meta['model']} (epoch {meta['epoch']}) to {os.fspath(args.onnx)} "
          f"(opset {args.opset}, {len(proto.graph.node)} nodes)")
    for kind, values in (("input", proto.graph.input), ("output", proto.graph.output)):
        for v in values:
            print(f"  {kind} {v.name}: {_describe(v)}")
    return EXIT_OK


def _describe(value: Any) -> str:
    """``float32 [batch, 1, 28, 28]`` for an ONNX ValueInfo."""
    from onnx import helper
    t = value.type.tensor_type
    dims = [d.dim_param or str(d.dim_value) if (d.dim_param or d.HasField("dim_value"))
            else "?" for d in t.shape.dim]
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)).name
    return f"{dtype} [{', '.join(dims)}]"
