"""Helpers shared by several test modules (test modules never import each other).

pytest puts this folder on ``sys.path`` (rootdir-relative, as ``tests/`` has no
``__init__.py``), so a test module imports them with ``from helpers import ...``.
"""
from __future__ import annotations

import gzip
import json
import struct
import types
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import chainrule as cr
from chainrule import nn, optim


# ============================================================================ layers vs torch
def module_parity(ours: nn.Module, theirs: torch.nn.Module, x: np.ndarray, train: bool = True,
                  atol: float = 1e-5, steps: int = 1) -> None:
    """Copy torch's weights and buffers into ``ours``, then for ``steps`` forward/backward
    passes (in train or eval mode) compare the output, the input gradient, every parameter
    gradient and every buffer with torch's (used by the per-layer test modules)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.train(train), theirs.train(train)
    r = np.random.default_rng(7)
    for _ in range(steps):
        xo = cr.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo._data, yt.detach().numpy(), atol=atol, rtol=1e-4)
        v = r.standard_normal(yo.shape).astype(x.dtype)
        ours.zero_grad(), theirs.zero_grad()
        yo.backward(cr.tensor(v))
        yt.backward(torch.tensor(v))
        np.testing.assert_allclose(xo.grad._data, xt.grad.numpy(), atol=atol, rtol=1e-4)
        for (name, p), (tname, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            np.testing.assert_allclose(p.grad._data, q.grad.numpy(), atol=atol, rtol=1e-4,
                                       err_msg=name)
        for (name, b), (tname, c) in zip(ours.named_buffers(), theirs.named_buffers()):
            assert name == tname and b.dtype == c.numpy().dtype
            np.testing.assert_allclose(b._data, c.numpy(), atol=atol, rtol=1e-4, err_msg=name)


# ============================================================================ optimizers vs torch
OPTIM_SHAPES = ((3, 4), (4,), (2, 1, 3))
"""The parameter shapes of the optimizer tests."""


def optim_data(seed: int, steps: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial values of :data:`OPTIM_SHAPES` parameters and ``steps`` gradients for each."""
    r = np.random.default_rng(seed)
    inits = [r.standard_normal(s).astype(np.float32) for s in OPTIM_SHAPES]
    grads = [[r.standard_normal(s).astype(np.float32) for s in OPTIM_SHAPES]
             for _ in range(steps)]
    return inits, grads


def param_groups(params: list, split: bool) -> Any:
    """All parameters in one group, or two groups (the second with its own lr)."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}] if split else params


def torch_parity(ours_cls: type, theirs_cls: type, kwargs: dict[str, Any], steps: int = 50,
                 split_groups: bool = False) -> None:
    """Same weights, same gradients, ``steps`` steps: the parameters agree with torch's to
    float32 rounding after every step."""
    inits, grads = optim_data(1, steps)
    ours = [nn.Parameter(cr.tensor(a.copy())) for a in inits]
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in inits]
    opt_o = ours_cls(param_groups(ours, split_groups), **kwargs)
    opt_t = theirs_cls(param_groups(theirs, split_groups), **kwargs)
    for g in grads:
        for p, q, gi in zip(ours, theirs, g):
            p.grad, q.grad = cr.tensor(gi), torch.tensor(gi)
        opt_o.step()
        opt_t.step()
        for p, q in zip(ours, theirs):
            assert p.dtype == np.float32
            np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=2e-5, atol=2e-6)


def _json_ready(sd: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint does: arrays aside, the rest through JSON (int keys become str)."""
    arrays = {}

    def default(v: Any) -> Any:
        assert isinstance(v, np.ndarray), f"not JSON-friendly: {type(v).__name__}"
        arrays[str(len(arrays))] = v
        return {"__array__": str(len(arrays) - 1)}

    def hook(d: dict) -> Any:
        return arrays[d["__array__"]] if "__array__" in d else d

    return json.loads(json.dumps(sd, default=default), object_hook=hook)


def resume_is_exact(make: Callable[[list], optim.Optimizer], steps: int = 20) -> None:
    """Saving after half the steps and resuming in a fresh optimizer gives bit-identical
    parameters to an uninterrupted run."""
    inits, grads = optim_data(2, steps)
    straight = [nn.Parameter(cr.tensor(a.copy())) for a in inits]
    opt = make(straight)
    first = [nn.Parameter(cr.tensor(a.copy())) for a in inits]
    opt1 = make(first)
    for k, g in enumerate(grads):
        for p, gi in zip(straight, g):
            p.grad = cr.tensor(gi)
        opt.step()
        if k < steps // 2:
            for p, gi in zip(first, g):
                p.grad = cr.tensor(gi)
            opt1.step()
    saved = _json_ready(opt1.state_dict())
    resumed = [nn.Parameter(cr.tensor(p._data.copy())) for p in first]
    opt2 = make(resumed)
    opt2.load_state_dict(saved)
    for g in grads[steps // 2:]:
        for p, gi in zip(resumed, g):
            p.grad = cr.tensor(gi)
        opt2.step()
    for p, q in zip(straight, resumed):
        np.testing.assert_array_equal(p._data, q._data)


# ============================================================================ graphs
def named_leaf(value: Any, name: str, dtype: Any = None) -> cr.Tensor:
    """A leaf tensor that requires grad, with ``name`` set."""
    t = cr.tensor(value, dtype=dtype, requires_grad=True)
    t.name = name
    return t


def shop_graph(dtype: Any = None) -> tuple[cr.Tensor, dict[str, cr.Tensor]]:
    """The shop graph of the book: returns (price, leaves)."""
    leaves = {n: named_leaf(v, n, dtype) for n, v in [("apple", 100.0), ("apple_num", 2.0),
                                                      ("orange", 150.0), ("orange_num", 3.0),
                                                      ("tax", 1.1)]}
    apple_price = leaves["apple"] * leaves["apple_num"]
    apple_price.name = "apple_price"
    orange_price = leaves["orange"] * leaves["orange_num"]
    orange_price.name = "orange_price"
    all_price = apple_price + orange_price
    all_price.name = "all_price"
    price = all_price * leaves["tax"]
    price.name = "price"
    return price, leaves


def stub_example(name: str = "chainrule_test_stub") -> types.ModuleType:
    """A gallery example following the contract: main(), run(verbose) -> dict with 'graph'."""
    mod = types.ModuleType(name)
    mod.__doc__ = "A stub example: q = (a * b) + b with a = 4, b = 5.\n\nMore text here."

    def run(verbose: bool = False):
        a = cr.tensor(4.0, requires_grad=True)
        b = cr.tensor(5.0, requires_grad=True)
        a.name, b.name = "a", "b"
        q = a * b + b
        q.name = "q"
        q.backward(retain_graph=True)
        if verbose:
            print(f"q = {q.item():g}; dq/da = {a.grad.item():g}, dq/db = {b.grad.item():g}")
        return {"q": q.item(), "graph": (q,), "params": {"a": a, "b": b}}

    mod.run = run
    mod.main = lambda: run(verbose=True)
    return mod


# ============================================================================ data files
def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """An IDX file: magic 00 00 08 ND, ND big-endian uint32 sizes, uint8 payload; gzipped."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def fake_fashion_mnist(folder: Path, n_train: int, n_test: int, seed: int = 0,
                       cycle_labels: bool = False, noise: int = 60, bright: int = 230) -> Path:
    """Learnable fake Fashion-MNIST IDX files in ``folder``: class c lights up rows 2c..2c+4
    (``bright``) over uniform noise below ``noise``; labels random, or 0, 1, ..., 9, 0, ..."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = ((np.arange(n) % 10) if cycle_labels else rng.integers(0, 10, n)).astype(np.uint8)
        images = rng.integers(0, noise, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c + 2:2 * c + 6, 4:24] = bright
        write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder
