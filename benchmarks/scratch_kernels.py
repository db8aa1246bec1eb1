"""Scratch micro-benchmark: conv2d / max_pool2d / batch_norm forward+backward, chainrule vs torch.

Run: ``python benchmarks/scratch_kernels.py [--threads 2] [--rounds 7] [--only conv]``

Both libraries run in one process on the same float32 data, torch with
``torch.set_num_threads(T)`` and NumPy's BLAS limited to T threads (when threadpoolctl is
installed, else whatever OPENBLAS_NUM_THREADS says). Each round times a few repeats of torch,
then of chainrule (after one warm-up call each, so the other library's spinning threads have
settled); the reported ratio is the median over rounds of (chainrule median / torch median).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import chainrule as cr  # noqa: E402
from chainrule.autograd import grad  # noqa: E402
from chainrule.ops.conv import conv2d  # noqa: E402

CONV_SHAPES = [  # (N, C, H, OC, K, padding, target ratio)
    (64, 1, 28, 6, 5, 2, 1.5),
    (64, 6, 14, 16, 5, 0, 1.5),
    (64, 16, 5, 120, 5, 0, 1.5),
    (32, 64, 32, 64, 3, 1, 2.0),
]


CLOCK = time.perf_counter


def _time(fn: Callable[[], object], reps: int) -> list[float]:
    fn()  # warm-up: caches, and the other library's worker threads go idle
    out = []
    for _ in range(reps):
        t = CLOCK()
        fn()
        out.append(CLOCK() - t)
    return out


def compare(ours: Callable[[], object], theirs: Callable[[], object], rounds: int,
            reps: int) -> tuple[float, float, float]:
    """Median ms of ours, of theirs, and the median over rounds of the per-round ratio."""
    a, b, ratios = [], [], []
    for _ in range(rounds):
        tb = _time(theirs, reps)
        ta = _time(ours, reps)
        a += ta
        b += tb
        ratios.append(np.median(ta) / np.median(tb))
    return float(np.median(a) * 1e3), float(np.median(b) * 1e3), float(np.median(ratios))


def conv_cases(rng: np.random.Generator):
    import torch
    import torch.nn.functional as F

    for N, C, H, OC, K, P, target in CONV_SHAPES:
        x = rng.standard_normal((N, C, H, H), dtype=np.float32)
        w = rng.standard_normal((OC, C, K, K), dtype=np.float32) * 0.1
        b = rng.standard_normal(OC, dtype=np.float32)
        OH = H + 2 * P - K + 1
        gy = rng.standard_normal((N, OC, OH, OH), dtype=np.float32)
        xc, wc, bc = (cr.Tensor(a, requires_grad=True) for a in (x, w, b))
        gyc = cr.Tensor(gy)
        xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        gyt = torch.from_numpy(gy)

        def ours(impl: str = "fast") -> object:
            y = conv2d(xc, wc, bc, padding=P, impl=impl)
            return grad(y, (xc, wc, bc), gyc)

        def theirs() -> object:
            y = F.conv2d(xt, wt, bt, padding=P)
            return torch.autograd.grad(y, (xt, wt, bt), gyt)

        yield f"conv2d {(N, C, H, H)} {OC}x{K}x{K} pad {P}", ours, theirs, target


def pool_cases(rng: np.random.Generator):
    import torch
    import torch.nn.functional as F

    from chainrule.ops.pool import max_pool2d

    x = rng.standard_normal((64, 6, 28, 28), dtype=np.float32)
    gy = rng.standard_normal((64, 6, 14, 14), dtype=np.float32)
    xc, gyc = cr.Tensor(x, requires_grad=True), cr.Tensor(gy)
    xt, gyt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(gy)

    def ours(impl: str = "fast") -> object:
        return grad(max_pool2d(xc, 2, impl=impl), (xc,), gyc)

    def theirs() -> object:
        return torch.autograd.grad(F.max_pool2d(xt, 2), (xt,), gyt)

    yield "max_pool2d (64, 6, 28, 28) k2", ours, theirs, 1.5


def norm_cases(rng: np.random.Generator):
    import torch
    import torch.nn.functional as F

    from chainrule.ops.norm import batch_norm

    x = rng.standard_normal((64, 16, 10, 10), dtype=np.float32)
    gy = rng.standard_normal(x.shape, dtype=np.float32)
    g = rng.standard_normal(16, dtype=np.float32)
    be = rng.standard_normal(16, dtype=np.float32)
    xc, gc, bc, gyc = cr.Tensor(x, requires_grad=True), cr.Tensor(g, requires_grad=True), \
        cr.Tensor(be, requires_grad=True), cr.Tensor(gy)
    rmc, rvc = cr.Tensor(np.zeros(16, np.float32)), cr.Tensor(np.ones(16, np.float32))
    xt, gt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, g, be))
    rmt, rvt, gyt = torch.zeros(16), torch.ones(16), torch.from_numpy(gy)

    def ours() -> object:
        y = batch_norm(xc, rmc, rvc, gc, bc, training=True)
        return grad(y, (xc, gc, bc), gyc)

    def theirs() -> object:
        y = F.batch_norm(xt, rmt, rvt, gt, bt, training=True)
        return torch.autograd.grad(y, (xt, gt, bt), gyt)

    yield "batch_norm train (64, 16, 10, 10)", ours, theirs, 1.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", choices=["conv", "pool", "norm"], default=None)
    ap.add_argument("--impls", action="store_true", help="also time the im2col conv kernel")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: process CPU time, robust to other processes on a shared "
                         "machine (meaningful with --threads 1: spinning BLAS/OpenMP threads "
                         "would count too)")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    import torch
    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        print("(threadpoolctl not installed: NumPy's BLAS threads not pinned)")
    rng = np.random.default_rng(0)
    print(f"threads={args.threads} rounds={args.rounds} reps={args.reps} clock={args.clock}")
    print(f"{'case':42s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>6s} {'target':>6s}")
    groups = {"conv": conv_cases, "pool": pool_cases, "norm": norm_cases}
    for name, make in groups.items():
        if args.only and args.only != name:
            continue
        for label, ours, theirs, target in make(rng):
            a, b, r = compare(ours, theirs, args.rounds, args.reps)
            flag = "ok" if r <= target else "SLOW"
            print(f"{label:42s} {a:9.2f} {b:9.2f} {r:6.2f} {target:6.1f} {flag}")
            if args.impls and name == "conv":
                a, b, r = compare(lambda: ours("im2col"), theirs, max(3, args.rounds // 2),
                                  args.reps)
                print(f"{'  (im2col)':42s} {a:9.2f} {b:9.2f} {r:6.2f}")


if __name__ == "__main__":
    main()
