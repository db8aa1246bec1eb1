"""conv2d: every kernel (naive, im2col, fast) against torch.nn.functional.conv2d in float64.

Shapes are drawn by hypothesis (size-1 axes, stride, padding incl. 'same'/'valid', dilation,
groups); gradcheck/gradgradcheck cover the fast path's double backward; the error paths check
the messages.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.kernels.conv_schedules as sched
import chainrule.ops.conv as conv_mod
from chainrule.kernels import scratch
from chainrule.autograd import grad
from chainrule.ops.conv import conv2d, conv_impl, output_size
from chainrule.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
F = torch.nn.functional


# ----------------------------------------------------------------------------- helpers
def _reference(x: np.ndarray, w: np.ndarray, b: Any, gy_seed: int, **kw: Any) -> tuple:
    """torch's output and gradients (input, weight, bias) for a fixed upstream gradient."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    gy = np.random.default_rng(gy_seed).standard_normal(tuple(y.shape)).astype(x.dtype)
    grads = torch.autograd.grad(y, [t for t in (xt, wt, bt) if t is not None],
                                torch.tensor(gy))
    return y.detach().numpy(), gy, [g.numpy() for g in grads]


def _ours(x: np.ndarray, w: np.ndarray, b: Any, gy: np.ndarray, impl: str, **kw: Any) -> tuple:
    xc, wc = cr.Tensor(x.copy(), requires_grad=True), cr.Tensor(w.copy(), requires_grad=True)
    bc = None if b is None else cr.Tensor(b.copy(), requires_grad=True)
    y = conv2d(xc, wc, bc, impl=impl, **kw)
    grads = grad(y, [t for t in (xc, wc, bc) if t is not None], cr.Tensor(gy))
    return y._data, [g._data for g in grads]


def _assert_matches_torch(x: np.ndarray, w: np.ndarray, b: Any, impl: str, **kw: Any) -> None:
    y_ref, gy, g_ref = _reference(x, w, b, 1, **kw)
    y, g = _ours(x, w, b, gy, impl, **kw)
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)
    for name, a, r in zip(("input", "weight", "bias"), g, g_ref):
        assert a.shape == r.shape, name
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10, err_msg=name)


@st.composite
def conv_cases(draw: Any, small: bool = False) -> dict:
    """Arguments of a valid conv2d: shapes incl. size-1 axes, any stride/padding/dilation/groups."""
    lim = 2 if small else 3
    groups = draw(st.integers(1, lim))
    cg, ocg = draw(st.integers(1, lim)), draw(st.integers(1, lim))
    kh, kw = draw(st.integers(1, 3 if small else 4)), draw(st.integers(1, 3 if small else 4))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if mode == "same":
        stride = (1, 1)
        padding: Any = "same"
        pads = ((dil[0] * (kh - 1)), (dil[1] * (kw - 1)))
    elif mode == "valid":
        padding, pads = "valid", (0, 0)
    elif mode == "int":
        p = draw(st.integers(0, 2))
        padding, pads = p, (2 * p, 2 * p)
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads = (2 * padding[0], 2 * padding[1])
    # the dilated kernel must fit in the padded input
    h = max(1, dil[0] * (kh - 1) + 1 - pads[0]) + draw(st.integers(0, 3 if small else 5))
    w = max(1, dil[1] * (kw - 1) + 1 - pads[1]) + draw(st.integers(0, 3 if small else 5))
    n = draw(st.integers(0, 2 if small else 3))  # 0: an empty batch, as torch allows
    return dict(x_shape=(n, groups * cg, h, w), w_shape=(groups * ocg, cg, kh, kw),
                bias=draw(st.booleans()), stride=stride, padding=padding, dilation=dil,
                groups=groups)


def _data(case: dict, dtype: Any = np.float64, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    w = rng.standard_normal(case["w_shape"]).astype(dtype)
    b = rng.standard_normal(case["w_shape"][0]).astype(dtype) if case["bias"] else None
    return x, w, b


def _kw(case: dict) -> dict:
    return {k: case[k] for k in ("stride", "padding", "dilation", "groups")}


# ----------------------------------------------------------------------------- vs torch
@given(conv_cases())
def test_fast_matches_torch(case: dict) -> None:
    x, w, b = _data(case)
    _assert_matches_torch(x, w, b, "fast", **_kw(case))


@given(conv_cases())
def test_im2col_matches_torch(case: dict) -> None:
    x, w, b = _data(case)
    _assert_matches_torch(x, w, b, "im2col", **_kw(case))


@given(conv_cases(small=True))
def test_naive_matches_torch(case: dict) -> None:
    x, w, b = _data(case)
    _assert_matches_torch(x, w, b, "naive", **_kw(case))


@given(conv_cases(small=True))
def test_naive_and_im2col_agree_with_fast_in_float32(case: dict) -> None:
    x, w, b = _data(case, np.float32)
    gy = np.random.default_rng(2).standard_normal(
        F.conv2d(torch.tensor(x), torch.tensor(w), None, **_kw(case)).shape).astype(np.float32)
    y_fast, g_fast = _ours(x, w, b, gy, "fast", **_kw(case))
    for impl in ("im2col", "naive"):
        y, g = _ours(x, w, b, gy, impl, **_kw(case))
        assert y.dtype == np.float32 and all(a.dtype == np.float32 for a in g)
        np.testing.assert_allclose(y, y_fast, rtol=1e-4, atol=1e-4)
        for a, r in zip(g, g_fast):
            np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4)


# Each schedule of the fast kernel's input gradient, the block loop (several blocks, a short
# last one) and the kept columns, on purpose rather than by chance.
SCHEDULES = [
    # (x_shape, w_shape, kwargs): which _fast_grad_input schedule it takes
    ((3, 4, 6, 6), (4, 4, 3, 3), dict(padding=1)),                 # correlation
    ((3, 2, 7, 9), (5, 2, 3, 2), dict(padding=(0, 1))),            # rows (KH adds)
    ((3, 2, 9, 14), (3, 2, 3, 3), dict(stride=(2, 1), dilation=2)),  # rows, row stride 2
    ((3, 3, 8, 9), (4, 3, 3, 3), dict(stride=2, padding=1)),       # col2im
    ((2, 4, 5, 5), (6, 2, 2, 3), dict(groups=2, padding="same")),  # groups, asymmetric 'same'
    ((3, 6, 5, 5), (6, 1, 3, 3), dict(groups=6, padding=1)),       # depthwise
    ((2, 1, 1, 1), (2, 1, 1, 1), {}),                               # all size 1 (dense)
    ((3, 4, 5, 5), (6, 4, 5, 5), {}),                               # dense: LeNet's conv3
    ((3, 4, 3, 2), (6, 2, 3, 2), dict(groups=2, stride=2)),        # dense, groups, stride
]


# what forward keeps for the weight gradient (the planar path keeps columns or nothing):
# (_KEEP_COLS_ELEMS, _KEEP_CHANNELS_LAST_COLS_ELEMS, _KEEP_INPUT_ELEMS)
KEEP = {"columns": (1 << 22, 1 << 22, 0), "input": (0, 0, 1 << 22), "nothing": (0, 0, 0)}


def _set_keep(monkeypatch: pytest.MonkeyPatch, keep: str) -> None:
    for name, value in zip(("_KEEP_COLS_ELEMS", "_KEEP_CHANNELS_LAST_COLS_ELEMS",
                            "_KEEP_INPUT_ELEMS"), KEEP[keep]):
        monkeypatch.setattr(sched, name, value)


@pytest.mark.parametrize("images_per_block", [1, 2, None])  # None: the default sizing
@pytest.mark.parametrize("keep", sorted(KEEP))
@pytest.mark.parametrize("x_shape,w_shape,kw", SCHEDULES)
def test_fast_schedules_and_blocks(monkeypatch: pytest.MonkeyPatch, x_shape: tuple,
                                   w_shape: tuple, kw: dict, images_per_block: Any,
                                   keep: str, seeded: np.random.Generator) -> None:
    if images_per_block is not None:  # N=3 in blocks of 2: a short last block
        nb = images_per_block
        monkeypatch.setattr(sched, "_blocks", lambda N, per_image: (
            [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)], min(nb, N)))
    _set_keep(monkeypatch, keep)
    x = seeded.standard_normal(x_shape)
    w = seeded.standard_normal(w_shape)
    _assert_matches_torch(x, w, seeded.standard_normal(w_shape[0]), "fast", **kw)


@pytest.mark.parametrize("planar", [False, True])  # force each unfold layout
@pytest.mark.parametrize("images_per_block", [2, None])
@pytest.mark.parametrize("keep", sorted(KEEP))
@pytest.mark.parametrize("x_shape,w_shape,kw", SCHEDULES + [
    ((3, 1, 12, 11), (4, 1, 5, 5), dict(padding=2)),               # LeNet's conv1, small
    ((3, 3, 13, 12), (6, 1, 3, 2), dict(groups=3, stride=(2, 1), dilation=(1, 2))),
])
def test_fast_unfold_layouts(monkeypatch: pytest.MonkeyPatch, x_shape: tuple, w_shape: tuple,
                             kw: dict, images_per_block: Any, keep: str, planar: bool,
                             seeded: np.random.Generator) -> None:
    if images_per_block is not None:
        nb = images_per_block
        monkeypatch.setattr(sched, "_blocks", lambda N, per_image: (
            [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)], min(nb, N)))
    _set_keep(monkeypatch, keep)
    monkeypatch.setattr(sched, "_use_planar", lambda *a: planar)
    x = seeded.standard_normal(x_shape)
    w = seeded.standard_normal(w_shape)
    _assert_matches_torch(x, w, seeded.standard_normal(w_shape[0]), "fast", **kw)


@pytest.mark.parametrize("planar", [False, True])
def test_kept_columns_of_live_graphs_are_not_recycled(monkeypatch: pytest.MonkeyPatch,
                                                      planar: bool) -> None:
    """Several graphs alive at once each keep their own columns (more than the pool holds)."""
    monkeypatch.setattr(sched, "_use_planar", lambda *a: planar)
    rng = np.random.default_rng(5)
    w = cr.Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    xs = [rng.standard_normal((2, 2, 9, 9)) for _ in range(scratch.KEEP_POOL_SIZE + 2)]
    ys = [conv2d(cr.Tensor(x), w, padding=1) for x in xs]  # all built before any backward
    for x, y in zip(xs, ys):
        (gw,) = grad(y, [w], cr.ones_like(y))
        wt = torch.tensor(w._data, requires_grad=True)
        yt = F.conv2d(torch.tensor(x), wt, padding=1)
        (ref,) = torch.autograd.grad(yt, [wt], torch.ones_like(yt))
        np.testing.assert_allclose(gw._data, ref.numpy(), rtol=1e-10, atol=1e-10)


def test_each_input_gradient_schedule_is_exercised(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    rows, fwd = sched._grad_input_rows, sched.fast_forward
    monkeypatch.setattr(sched, "_grad_input_rows",
                        lambda *a: calls.append("rows") or rows(*a))
    seen = []
    for x_shape, w_shape, kw in SCHEDULES[:4]:
        calls.clear()
        x = cr.randn(*x_shape, dtype=cr.float64, requires_grad=True)
        y = conv2d(x, cr.randn(*w_shape, dtype=cr.float64), **kw)
        monkeypatch.setattr(sched, "fast_forward",
                            lambda *a: calls.append("corr") or fwd(*a))
        grad(y, x, cr.ones_like(y))
        monkeypatch.setattr(sched, "fast_forward", fwd)
        seen.append(calls[0] if calls else "col2im")
    assert seen == ["corr", "rows", "rows", "col2im"]


def test_dense_kernels_take_the_gemm_path(monkeypatch: pytest.MonkeyPatch,
                                          seeded: np.random.Generator) -> None:
    """A kernel covering the whole input runs three GEMMs, none of the unfold kernels."""
    calls: list[str] = []
    for name in ("_dense_forward", "_dense_grad_input", "_dense_grad_weight"):
        real = getattr(sched, name)
        monkeypatch.setattr(sched, name, lambda *a, _n=name, _f=real: calls.append(_n)
                            or _f(*a))
    x = seeded.standard_normal((3, 4, 5, 5))
    w = seeded.standard_normal((6, 4, 5, 5))
    _assert_matches_torch(x, w, seeded.standard_normal(6), "fast")
    assert sorted(set(calls)) == ["_dense_forward", "_dense_grad_input", "_dense_grad_weight"]
    calls.clear()
    _assert_matches_torch(x, w[:, :, :4], None, "fast")  # 5x4 kernel on 5x5: 1x2 output
    assert calls == []
    assert sched._is_dense((3, 4, 5, 5), (6, 4, 5, 5), conv_mod.ConvGeometry(
        (1, 1), (0, 0, 0, 0), (1, 1), 1))
    assert not sched._is_dense((3, 4, 5, 5), (6, 4, 5, 5), conv_mod.ConvGeometry(
        (1, 1), (1, 1, 1, 1), (1, 1), 1))  # padded: a 3x3 output


def test_float32_stays_float32(seeded: np.random.Generator) -> None:
    x = cr.Tensor(seeded.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = cr.Tensor(seeded.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = cr.Tensor(np.zeros(4, np.float32), requires_grad=True)
    y = conv2d(x, w, b, padding=1)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grad(y.sum(), (x, w, b)))


def test_unbatched_input(seeded: np.random.Generator) -> None:
    x, w = seeded.standard_normal((3, 7, 6)), seeded.standard_normal((2, 3, 3, 3))
    y = conv2d(cr.Tensor(x), cr.Tensor(w), padding=1)
    ref = F.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    assert y.shape == (2, 7, 6)
    np.testing.assert_allclose(y._data, ref.numpy(), atol=1e-12)


def test_inputs_are_not_modified(seeded: np.random.Generator) -> None:
    x, w = seeded.standard_normal((2, 2, 5, 5)), seeded.standard_normal((3, 2, 3, 3))
    x0, w0 = x.copy(), w.copy()
    for impl in conv_mod.IMPLS:
        xc, wc = cr.Tensor(x, requires_grad=True), cr.Tensor(w, requires_grad=True)
        conv2d(xc, wc, padding=1, impl=impl).sum().backward()
        assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_output_size_formula() -> None:
    assert output_size(28, 4, 5, 1, 1) == 28
    assert output_size(14, 0, 5, 1, 1) == 10
    assert output_size(7, 2, 3, 2, 2) == 3  # floor((7 + 2 - 2*2 - 1)/2 + 1)


# The compiled direct convolution: conv2d takes it with one group, column dilation 1 and
# output channels that fill the SIMD vectors (8 or 16 here: 8 float64 lanes with AVX-512).
DIRECT = [
    ((2, 2, 7, 9), (8, 2, 3, 3), dict(padding=1)),        # 2 input channels fill no lanes
    ((3, 2, 9, 14), (8, 2, 3, 2), dict(stride=(2, 1), dilation=(2, 1))),
    ((2, 4, 9, 8), (16, 4, 5, 5), dict(padding=2, stride=2)),
]


@pytest.mark.parametrize("keep", sorted(KEEP))
@pytest.mark.parametrize("x_shape,w_shape,kw", DIRECT)
def test_direct_kernel_is_taken_and_matches_torch(monkeypatch: pytest.MonkeyPatch,
                                                  kernel_mode: bool, keep: str, x_shape: tuple,
                                                  w_shape: tuple, kw: dict,
                                                  seeded: np.random.Generator) -> None:
    _set_keep(monkeypatch, keep)
    ran: list[str] = []
    if kernel_mode:
        from chainrule.kernels import direct_conv

        for name in ("conv2d", "conv2d_grad_weight", "conv2d_grad_input"):
            kernel = getattr(direct_conv, name)
            monkeypatch.setattr(direct_conv, name, lambda *a, _k=kernel, _n=name: ran.append(_n)
                                or _k(*a))
    x = seeded.standard_normal(x_shape)
    w = seeded.standard_normal(w_shape)
    _assert_matches_torch(x, w, seeded.standard_normal(w_shape[0]), "fast", **kw)
    stride_1 = kw.get("stride", 1) == 1 and kw.get("dilation", 1) == 1
    expected = ["conv2d"] + ["conv2d_grad_input"] * stride_1 + ["conv2d_grad_weight"]
    assert ran == (expected if kernel_mode else [])  # the backward: input gradient first


def test_direct_kernel_needs_one_group_and_full_vectors() -> None:
    g1 = conv_mod.ConvGeometry((1, 1), (0, 0, 0, 0), (1, 1), 1)
    x, w = np.zeros((2, 6, 14, 14), np.float32), np.zeros((16, 6, 5, 5), np.float32)

    def pick(OC: int, g: Any = g1, dtype: Any = np.float32) -> Any:
        return sched.direct_kernels(x.astype(dtype), w.astype(dtype), g, OC)

    if pick(16) is None:
        pytest.skip("no compiled kernels")
    vl = pick(16).lanes(np.float32)
    assert pick(vl * 3 // 4 - 1) is None         # under 3/4 of the lanes (LeNet's conv1: 6/16)
    assert pick(vl * 3 // 4) is not None and pick(2 * vl) is not None
    assert pick(vl + 1) is None                  # 17 of 32 lanes
    assert pick(4 * vl) is not None              # the 3x3 case: 64
    assert pick(16, g1._replace(groups=2)) is None
    assert pick(16, g1._replace(dilation=(1, 2))) is None
    assert pick(16, g1._replace(dilation=(2, 1))) is not None
    assert pick(16, dtype=np.float16) is None


def test_direct_kernel_falls_back_where_llvm_cannot_target_the_cpu(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numba")
    from chainrule.kernels import direct_conv

    def no_target() -> None:
        raise RuntimeError("no native target")

    monkeypatch.setattr(direct_conv, "_target", no_target)
    monkeypatch.setattr(direct_conv, "available", direct_conv.available.__wrapped__)  # not cached
    x = np.random.default_rng(0).standard_normal((2, 6, 9, 9))
    w = np.random.default_rng(1).standard_normal((8, 6, 3, 3))
    assert sched.direct_kernels(x, w, conv_mod.ConvGeometry((1, 1), (0,) * 4, (1, 1), 1),
                                8) is None
    _assert_matches_torch(x, w, None, "fast", padding=1)  # im2col + GEMM


# ----------------------------------------------------------------------------- second order
GRAD_CASES = [
    ((1, 2, 5, 5), (2, 2, 3, 3), dict(padding=1)),
    ((2, 2, 5, 4), (4, 1, 2, 2), dict(stride=2, groups=2)),
    ((1, 3, 4, 4), (2, 3, 2, 2), {}),
    ((1, 2, 6, 5), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    ((1, 2, 5, 5), (2, 2, 2, 2), dict(padding="same")),
    ((2, 2, 3, 2), (4, 1, 3, 2), dict(groups=2)),                   # dense
    ((1, 2, 5, 6), (8, 2, 3, 3), dict(padding=1)),                  # direct (8 float64 lanes)
]


@pytest.mark.parametrize("x_shape,w_shape,kw", GRAD_CASES)
def test_gradcheck_and_gradgradcheck_fast(x_shape: tuple, w_shape: tuple, kw: dict,
                                          seeded: np.random.Generator) -> None:
    x = cr.Tensor(seeded.standard_normal(x_shape), requires_grad=True)
    w = cr.Tensor(seeded.standard_normal(w_shape), requires_grad=True)
    b = cr.Tensor(seeded.standard_normal(w_shape[0]), requires_grad=True)

    def f(x: cr.Tensor, w: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return conv2d(x, w, b, **kw)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("impl", ["im2col", "naive"])
def test_reference_impls_are_first_order_only(impl: str) -> None:
    x = cr.randn(1, 1, 4, 4, dtype=cr.float64, requires_grad=True)
    w = cr.randn(1, 1, 3, 3, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, w: conv2d(x, w, impl=impl), (x, w))
    with pytest.raises(RuntimeError, match="first-order backward only.*impl='fast'"):
        grad(conv2d(x, w, impl=impl).sum(), x, create_graph=True)


# ----------------------------------------------------------------------------- selection
def test_conv_impl_context_manager_selects_and_restores() -> None:
    x, w = cr.randn(1, 1, 3, 3), cr.randn(1, 1, 2, 2)
    with conv_impl("naive"):
        assert isinstance(conv2d(x.requires_grad_(), w).grad_fn, conv_mod.Conv2dNaive)
        with pytest.raises(KeyError):
            with conv_impl("im2col"):
                raise KeyError("boom")
        assert conv_mod._IMPL.current == "naive"
    assert isinstance(conv2d(x, w).grad_fn, conv_mod.Conv2d)
    assert isinstance(conv2d(x, w, impl="im2col").grad_fn, conv_mod.Conv2dIm2col)


def test_unknown_impl() -> None:
    with pytest.raises(ValueError, match="unknown impl 'winograd'"):
        conv2d(cr.randn(1, 1, 3, 3), cr.randn(1, 1, 2, 2), impl="winograd")
    with pytest.raises(ValueError, match="unknown impl"):
        with conv_impl("gpu"):
            pass


# ----------------------------------------------------------------------------- errors
def test_channel_mismatch_message() -> None:
    with pytest.raises(ValueError, match=(
            r"^conv2d: expected input with 3 channels \(weight shape \(16, 3, 3, 3\), "
            r"groups=1\), got 1 channels \(input shape \(8, 1, 28, 28\)\)$")):
        conv2d(cr.zeros(8, 1, 28, 28), cr.zeros(16, 3, 3, 3))


@pytest.mark.parametrize("x_shape,w_shape,kw,pattern", [
    ((8, 28, 28, 1, 1), (6, 1, 5, 5), {}, r"expected 3-D \(unbatched C, H, W\) or 4-D"),
    ((28, 28), (6, 1, 5, 5), {}, r"got input of shape \(28, 28\)"),
    ((8, 1, 28, 28), (6, 1, 5), {}, r"expected a 4-D weight"),
    ((1, 1, 4, 4), (2, 1, 5, 5), {}, r"kernel size \(5 x 5.*can't be greater than the padded "
                                     r"input size \(4 x 4\)"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(dilation=2), r"\(3 x 3, dilated to 5 x 5\)"),
    ((1, 4, 4, 4), (3, 2, 3, 3), dict(groups=2), r"out_channels \(3.*divisible by groups=2"),
    ((1, 3, 4, 4), (4, 1, 3, 3), dict(groups=2), r"in_channels \(3, input shape \(1, 3, 4, 4\)\) "
                                                  r"must be divisible by groups=2"),
    ((1, 4, 4, 4), (4, 1, 3, 3), dict(groups=2), r"expected input with 2 channels"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(stride=0), r"stride must be positive, got 0"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(stride=(1, -1)), r"stride must be positive"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(dilation=0), r"dilation must be positive"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(padding=-1), r"padding must be non-negative"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(padding="same", stride=2),
     r"padding='same' is not supported for strided convolutions"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(padding="full"), r"invalid padding string 'full'"),
    ((1, 1, 4, 4), (2, 1, 3, 3), dict(groups=0), r"groups must be a positive int"),
])
def test_value_errors(x_shape: tuple, w_shape: tuple, kw: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        conv2d(cr.zeros(*x_shape), cr.zeros(*w_shape), **kw)


def test_bias_shape_and_type_errors() -> None:
    x, w = cr.zeros(1, 1, 4, 4), cr.zeros(2, 1, 3, 3)
    with pytest.raises(ValueError, match=r"expected bias of shape \(2,\).*got bias of shape "
                                         r"\(3,\)"):
        conv2d(x, w, cr.zeros(3))
    with pytest.raises(TypeError, match=r"input dtype \(float64\) and weight dtype \(float32\)"):
        conv2d(cr.zeros(1, 1, 4, 4, dtype=cr.float64), w)
    with pytest.raises(TypeError, match="floating point input"):
        conv2d(cr.Tensor(np.zeros((1, 1, 4, 4), np.int64)), w)
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        conv2d(x, w, stride=1.5)
    with pytest.raises(TypeError, match="weight must be a Tensor"):
        conv2d(x, [[1.0]])


def test_one_element_stride_and_padding_mean_both_axes_as_in_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 7, 7))
    weight = rng.standard_normal((3, 2, 3, 3))
    ours = conv2d(cr.tensor(x), cr.tensor(weight), stride=(2,), padding=[1])
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight), stride=(2,),
                                     padding=[1])
    np.testing.assert_allclose(ours._data, ref.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="conv2d: stride must be an int or a pair of ints"):
        conv2d(cr.tensor(x), cr.tensor(weight), stride=(2, 1, 1))


def test_what_forward_keeps_for_the_weight_gradient() -> None:
    """Planar columns (LeNet's conv1: 5 MB), channels-last columns only while they fit in
    cache, else the channels-last input (LeNet's conv2: 3.8 MB of columns, 300 KB of input;
    the suite's 3x3 case: 75 MB, 9.5 MB), nothing without a weight gradient."""
    g1 = conv_mod.ConvGeometry((1, 1), (0, 0, 0, 0), (1, 1), 1)
    g2 = conv_mod.ConvGeometry((1, 1), (2, 2, 2, 2), (1, 1), 1)
    g3 = conv_mod.ConvGeometry((1, 1), (1, 1, 1, 1), (1, 1), 1)
    w1 = cr.zeros(6, 1, 5, 5, requires_grad=True)
    w5 = cr.zeros(16, 6, 5, 5, requires_grad=True)
    w3 = cr.zeros(64, 64, 3, 3, requires_grad=True)
    assert conv_mod._what_to_keep(cr.zeros(64, 1, 28, 28), w1, g2) == "columns"
    assert conv_mod._what_to_keep(cr.zeros(64, 6, 14, 14), w5, g1) == "input"
    assert conv_mod._what_to_keep(cr.zeros(4, 6, 14, 14), w5, g1) == "columns"
    assert conv_mod._what_to_keep(cr.zeros(32, 64, 32, 32), w3, g3) == "input"
    assert conv_mod._what_to_keep(cr.zeros(512, 64, 32, 32), w3, g3) == ""  # both too big
    assert conv_mod._what_to_keep(cr.zeros(1024, 1, 28, 28), w1, g2) == ""  # planar, too big
    with cr.no_grad():
        assert conv_mod._what_to_keep(cr.zeros(64, 6, 14, 14), w5, g1) == ""
    assert conv_mod._what_to_keep(cr.zeros(64, 6, 14, 14), w5.detach(), g1) == ""
    dense = cr.zeros(120, 16, 5, 5, requires_grad=True)
    assert conv_mod._what_to_keep(cr.zeros(64, 16, 5, 5), dense, g1) == ""


# ----------------------------------------------------------------------------- issue 20
EMPTY_BATCH = [  # LeNet-5's three convolutions (planar, direct/channels-last, dense), and more
    ((0, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)), ((0, 6, 14, 14), (16, 6, 5, 5), {}),
    ((0, 16, 5, 5), (120, 16, 5, 5), {}), ((0, 4, 6, 6), (4, 2, 3, 3), dict(groups=2)),
    ((0, 3, 7, 7), (16, 3, 3, 3), dict(stride=2, padding=1)),
    ((0, 2, 7, 7), (4, 2, 3, 3), dict(dilation=2, padding="same")),
]


@pytest.mark.parametrize("impl", ["fast", "im2col", "naive"])
@pytest.mark.parametrize("x_shape,w_shape,kw", EMPTY_BATCH)
def test_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients_like_torch(
        kernel_mode: bool, impl: str, x_shape: tuple, w_shape: tuple, kw: dict) -> None:
    # regression: conv2d refused N = 0 ("input ... is empty"); torch returns (0, OC, OH, OW),
    # an empty input gradient and zero weight and bias gradients
    x, w, b = _data(dict(x_shape=x_shape, w_shape=w_shape, bias=True))
    _assert_matches_torch(x, w, b, impl, **kw)
    if impl == "fast":  # the differentiable backward, and a second order through it
        xc, wc, bc = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
        gx, gw, gb = grad(conv2d(xc, wc, bc, **kw).sum(), [xc, wc, bc], create_graph=True)
        assert gx.shape == x_shape and not gw._data.any() and not gb._data.any()
        (gxx,) = grad((gw * gw).sum() + gx.sum(), [xc], allow_unused=True)
        assert gxx is None or gxx.shape == x_shape


def test_an_empty_batch_through_the_layer() -> None:
    layer = cr.nn.Conv2d(1, 6, 5, padding=2)
    y = layer(cr.zeros(0, 1, 28, 28))
    assert y.shape == (0, 6, 28, 28)
    y.sum().backward()
    assert layer.weight.grad.shape == (6, 1, 5, 5) and not layer.weight.grad._data.any()
