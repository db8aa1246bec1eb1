"""The compiled direct convolution (chainrule.kernels.direct_conv) against
torch.nn.functional.conv2d.

The kernel is called directly on hypothesis shapes: any number of output channels (so the
zero-padded last vector and every register blocking run), strides, row dilation, padding
(already in the channels-last input it reads), pixel tails, float32 and float64; its
weight and input gradients the same way. How conv2d chooses them is tested in
test_ops_conv.py.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, strategies as st

pytest.importorskip("numba")
torch = pytest.importorskip("torch")

from chainrule.kernels import direct_conv  # noqa: E402

TOL = {np.float32: 1e-4, np.float64: 1e-11}
ROOT = Path(__file__).resolve().parents[1]


@st.composite
def cases(draw: Any) -> dict:
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw, dh = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, 6))
    w = max(1, kw - 2 * pw) + draw(st.integers(0, 40))  # wide rows: several pixel tiles
    return dict(x_shape=(draw(st.integers(1, 3)), draw(st.integers(1, 7)), h, w),
                oc=draw(st.integers(1, 70)), kernel=(kh, kw), stride=(sh, sw), dh=dh,
                padding=(ph, pw), bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])))


def _run(case: dict, seed: int = 0) -> tuple[tuple, tuple]:
    """(our output, our weight gradient), (torch's), for a random upstream gradient."""
    rng = np.random.default_rng(seed)
    dtype = case["dtype"]
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    w = rng.standard_normal((case["oc"], x.shape[1], *case["kernel"])).astype(dtype)
    b = rng.standard_normal(case["oc"]).astype(dtype) if case["bias"] else None
    wt = torch.tensor(w, requires_grad=True)
    yt = torch.nn.functional.conv2d(
        torch.tensor(x), wt, None if b is None else torch.tensor(b),
        stride=case["stride"], padding=case["padding"], dilation=(case["dh"], 1))
    gy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    (gwt,) = torch.autograd.grad(yt, [wt], torch.tensor(gy))
    ph, pw = case["padding"]
    # (N, C, H, W) -> padded (N, C, Hp, Wp) -> channels-last (N, Hp, Wp, C)
    padded = np.ascontiguousarray(
        np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).transpose(0, 2, 3, 1))
    y = direct_conv.conv2d(padded, w, b, case["stride"], case["dh"], *yt.shape[2:])
    gw = direct_conv.conv2d_grad_weight(padded, gy, w.shape, case["stride"], case["dh"])
    return (y, gw), (yt.detach().numpy(), gwt.numpy())


@given(cases())
def test_matches_torch(case: dict) -> None:
    ours, ref = _run(case)
    tol = TOL[case["dtype"]]
    for name, a, r in zip(("output", "weight gradient"), ours, ref):
        assert a.shape == r.shape and a.dtype == case["dtype"] and a.flags.c_contiguous, name
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol * 10, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lenet_conv2_and_the_3x3_case(dtype: Any) -> None:
    """The two shapes conv2d sends here in the benchmark suite, at their real sizes."""
    for case in (dict(x_shape=(64, 6, 14, 14), oc=16, kernel=(5, 5), padding=(0, 0)),
                 dict(x_shape=(2, 64, 32, 32), oc=64, kernel=(3, 3), padding=(1, 1))):
        ours, ref = _run(dict(case, stride=(1, 1), dh=1, bias=True, dtype=dtype))
        for a, r in zip(ours, ref):  # the weight gradient sums ~10^4-10^5 products
            np.testing.assert_allclose(a, r, rtol=TOL[dtype], atol=TOL[dtype] * 100)


@given(cases())
def test_grad_input_matches_torch(case: dict) -> None:
    """The input gradient kernel: stride and dilation 1 (the only ones it takes), any
    padding up to the kernel size, any channel counts."""
    kh, kw = case["kernel"]
    pads = (min(case["padding"][0], kh - 1), min(case["padding"][1], kw - 1))
    case = dict(case, stride=(1, 1), dh=1, padding=pads)
    rng = np.random.default_rng(1)
    dtype = case["dtype"]
    x = torch.tensor(rng.standard_normal(case["x_shape"]).astype(dtype), requires_grad=True)
    w = rng.standard_normal((case["oc"], x.shape[1], kh, kw)).astype(dtype)
    y = torch.nn.functional.conv2d(x, torch.tensor(w), padding=pads)
    gy = rng.standard_normal(tuple(y.shape)).astype(dtype)
    (ref,) = torch.autograd.grad(y, [x], torch.tensor(gy))
    gx = direct_conv.conv2d_grad_input(gy, w, x.shape, (pads[0], pads[0], pads[1], pads[1]))
    assert gx.shape == ref.shape and gx.dtype == dtype and gx.flags.c_contiguous
    np.testing.assert_allclose(gx, ref.numpy(), rtol=TOL[dtype], atol=TOL[dtype] * 10)


@pytest.mark.parametrize("threads", [2, 3])
def test_split_over_threads_matches_torch(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Large calls run as runs of images on worker threads (here every call, 5 images in 2
    or 3 uneven runs); the weight gradient's parts are summed."""
    from chainrule.kernels import threads as worker_threads

    monkeypatch.setattr(direct_conv, "_SPLIT_MACS", 0)
    monkeypatch.setattr(worker_threads, "get_num_threads", lambda: threads)
    runs, split = [], direct_conv.over_parts
    monkeypatch.setattr(direct_conv, "over_parts",
                        lambda *a: runs.append(split(*a)) or runs[-1])
    case = dict(x_shape=(5, 3, 9, 8), oc=16, kernel=(3, 3), stride=(1, 1), dh=1,
                padding=(1, 1), bias=True, dtype=np.float64)
    for a, r in zip(*_run(case)):
        np.testing.assert_allclose(a, r, rtol=1e-11, atol=1e-11)
    test_grad_input_matches_torch.hypothesis.inner_test(case)
    assert runs == [threads] * 3  # forward, weight gradient, input gradient


def _forward_in_child(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return direct_conv.conv2d(x, w, None, (1, 1), 1, x.shape[1] - 2, x.shape[2] - 2)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_splits_over_threads_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent's worker threads do not exist in a forked child (a DataLoader worker, say):
    the child must start its own pool instead of waiting on the parent's forever."""
    import multiprocessing

    from chainrule.kernels import threads as worker_threads

    monkeypatch.setattr(direct_conv, "_SPLIT_MACS", 0)
    monkeypatch.setattr(worker_threads, "get_num_threads", lambda: 2)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 8, 8, 3)), rng.standard_normal((16, 3, 3, 3))
    here = _forward_in_child(x, w)  # the parent's pool now exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.apply_async(_forward_in_child, (x, w)).get(timeout=60)
    np.testing.assert_array_equal(there, here)


def test_lanes_and_blocking_fit_the_registers() -> None:
    vl = direct_conv.lanes(np.float32)
    assert vl in (8, 16) and direct_conv.lanes(np.float64) == vl // 2
    budget = 24 if vl == 16 else 12
    for ocp in (vl, 2 * vl, 3 * vl, 4 * vl, 6 * vl, 8 * vl):
        for ow in (1, 5, 10, 24, 25, 32, 100):
            ocb, rw, tail = direct_conv.blocking(np.float32, ocp, ow)
            assert (ocp // vl) % ocb == 0 and 1 <= ocb <= 4
            assert ocb * rw <= budget and 1 <= rw <= ow and tail == ow % rw
    assert direct_conv.blocking(np.float32, vl, 10)[1:] == (10, 0)  # one tile per row
    for c in (1, 2, 6, 7, 8, 12, 64):
        for w in (1, 4, 14, 33):
            cb, rw, tail = direct_conv.input_blocking(c, w)
            assert c % cb == 0 and cb <= 8 and cb * rw <= budget and tail == w % rw


def test_each_blocking_compiles_once_into_one_engine() -> None:
    """Kernels share one engine (it owns the target machine: engines that shared one each
    deleted it when freed, a crash); each blocking compiles once under its own symbol."""
    first = direct_conv._kernel("forward", np.float32, 1, 3, 1)
    assert direct_conv._kernel("forward", np.float32, 1, 3, 1) is first
    assert direct_conv._kernel("forward", np.float64, 1, 3, 1) is not first
    assert direct_conv._engine() is direct_conv._engine()


def test_a_process_compiling_many_kernels_exits_cleanly() -> None:
    code = ("import numpy as np\n"
            "from chainrule.kernels import direct_conv as d\n"
            "for name, dt, ocb, rows, tail in [('forward', np.float32, 1, 10, 0),\n"
            "        ('grad_input', np.float32, 6, 4, 2), ('grad_weight', np.float64, 2, 5, 1)]:\n"
            "    d._kernel(name, dt, ocb, rows, tail)\n"
            "x = np.ones((2, 6, 6, 3), np.float32); w = np.ones((16, 3, 3, 3), np.float32)\n"
            "print(float(d.conv2d(x, w, None, (1, 1), 1, 4, 4).sum()))\n"
            "d._kernel.cache_clear()\n"
            "d._kernel('forward', np.float32, 1, 10, 0)\n"  # again: found in the engine
            "d._kernel.cache_clear(); d._engine.cache_clear()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == 2 * 16 * 4 * 4 * 27


def test_kernels_for_a_cpu_without_avx512() -> None:
    """Compiled for Haswell (AVX2: 8 float32 lanes, 16 registers, 12 accumulators), which this
    CPU also runs: every kernel and blocking still matches PyTorch."""
    code = """
import functools
import llvmlite.binding as llvm
import numpy as np
from chainrule.kernels import direct_conv as d

def haswell():
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu="haswell", features="-avx512f", opt=3), 16

d._target = functools.lru_cache(maxsize=None)(haswell)
assert d.lanes(np.float32) == 8 and d.blocking(np.float32, 16, 10) == (2, 5, 0)
import tests.test_kernels_direct_conv as t
for dtype in (np.float32, np.float64):
    for oc in (5, 16, 24):
        case = dict(x_shape=(3, 6, 14, 13), oc=oc, kernel=(5, 3), stride=(1, 1), dh=1,
                    padding=(1, 1), bias=True, dtype=dtype)
        for a, r in zip(*t._run(case)):
            np.testing.assert_allclose(a, r, rtol=t.TOL[dtype], atol=t.TOL[dtype] * 10)
        t.test_grad_input_matches_torch.hypothesis.inner_test(case)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
