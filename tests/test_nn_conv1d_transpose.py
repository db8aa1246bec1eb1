"""Conv1d, ConvTranspose1d, ConvTranspose2d (modules and F.conv1d, F.conv_transpose1d/2d)
against torch: outputs, input/weight/bias gradients and second order on hypothesis shapes
(batch 0 and 1, length 1, groups, stride, padding incl. 'same'/'valid', dilation,
output_padding incl. output_padding >= stride), padding modes of Conv1d/Conv2d, the
ConvTranspose output_size argument, reprs, node names, float64 gradcheck/gradgradcheck, and
the errors naming the op and the shapes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from helpers import module_parity

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _fn(name: str):
    """``F.<name>`` of whichever library the parity helper passes."""
    return lambda lib: getattr(torch.nn.functional if lib is torch else F, name)


# ============================================================================ F.conv1d
@st.composite
def conv1d_cases(draw):
    g = draw(st.sampled_from([1, 2]))
    cg, ocg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from([0, 1, 2, "same", "valid"]))
    s = 1 if padding == "same" else draw(st.integers(1, 3))
    p = padding if isinstance(padding, int) else 0
    length = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7))
    n = draw(st.sampled_from([0, 1, 2]))
    bias = draw(st.booleans())
    return dict(shape=(n, cg * g, length), w=(ocg * g, cg, k), bias=bias,
                kw=dict(stride=s, padding=padding, dilation=d, groups=g))


@settings(max_examples=25, deadline=None)
@given(conv1d_cases())
def test_conv1d_matches_torch(case):
    r = np.random.default_rng(0)
    arrays = [r.standard_normal(case["shape"]), r.standard_normal(case["w"])]
    if case["bias"]:
        arrays.append(r.standard_normal(case["w"][0]))
    kw = case["kw"]
    assert_parity(lambda lib, *t: _fn("conv1d")(lib)(*t, **kw), *arrays,
                  second_order=case["shape"][0] > 0)


def test_conv1d_unbatched_float32_and_node_name():
    r = np.random.default_rng(1)
    x, w, b = (r.standard_normal(s).astype(np.float32) for s in ((3, 9), (4, 3, 2), (4,)))
    assert_parity(lambda lib, x, w, b: _fn("conv1d")(lib)(x, w, b, stride=2), x, w, b,
                  atol=1e-5)
    y = F.conv1d(cr.tensor(x[None], requires_grad=True), cr.tensor(w), cr.tensor(b))
    assert y.grad_fn.name() == "ConvolutionBackward0"


# ============================================================================ transposed
@st.composite
def transposed_cases(draw, dims):
    g = draw(st.sampled_from([1, 2]))
    c, ocg = draw(st.integers(1, 2)) * g, draw(st.integers(1, 2))
    ks = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    ss = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    ds = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    ops = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(ss, ds))
    sizes = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    ps = tuple(draw(st.integers(0, 2)) for _ in range(dims))
    # keep every output size positive
    ps = tuple(min(p, ((n - 1) * s + d * (k - 1) + o) // 2)
               for p, n, s, d, k, o in zip(ps, sizes, ss, ds, ks, ops))
    n = draw(st.sampled_from([0, 1, 2]))
    bias = draw(st.booleans())
    kw = dict(stride=ss, padding=ps, output_padding=ops, groups=g, dilation=ds)
    return dict(shape=(n, c) + sizes, w=(c, ocg) + ks, bias=bias, oc=ocg * g, kw=kw)


@pytest.mark.parametrize("dims", [1, 2])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_conv_transpose_matches_torch(dims, data):
    case = data.draw(transposed_cases(dims))
    r = np.random.default_rng(0)
    arrays = [r.standard_normal(case["shape"]), r.standard_normal(case["w"])]
    if case["bias"]:
        arrays.append(r.standard_normal(case["oc"]))
    name, kw = f"conv_transpose{dims}d", case["kw"]
    assert_parity(lambda lib, *t: _fn(name)(lib)(*t, **kw), *arrays,
                  second_order=case["shape"][0] > 0)


def test_conv_transpose_unbatched_int_args_and_node_name():
    r = np.random.default_rng(2)
    x, w, b = r.standard_normal((4, 3, 5)), r.standard_normal((4, 3, 3, 2)), r.standard_normal(6)
    assert_parity(lambda lib, x, w, b: _fn("conv_transpose2d")(lib)(
        x, w, b, stride=2, padding=1, output_padding=1, groups=2), x, w, b, second_order=True)
    y = F.conv_transpose1d(cr.tensor(x[None, :, :, 0], requires_grad=True), cr.tensor(w[..., 0]))
    assert y.grad_fn.name() == "ConvolutionBackward0"


def test_gradcheck_and_gradgradcheck_float64():
    r = np.random.default_rng(3)

    def t(*shape):
        return cr.tensor(r.standard_normal(shape), requires_grad=True)

    x1, w1, b1 = t(2, 4, 6), t(4, 1, 3), t(4)
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, groups=4),
                     (x1, w1, b1))
    assert gradgradcheck(lambda x, w, b: F.conv1d(x, w, b, dilation=2, padding="same"),
                         (x1, t(3, 4, 2), t(3)))
    x2, w2, b2 = t(1, 2, 3, 3), t(2, 2, 2, 3), t(2)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(0, 1),  # noqa
                                            output_padding=(1, 0), dilation=(1, 2))
    assert gradcheck(fn, (x2, w2, b2)) and gradgradcheck(fn, (x2, w2, b2))
    fn1 = lambda x, w: F.conv_transpose1d(x, w, stride=3, output_padding=2)  # noqa
    assert gradgradcheck(fn1, (t(2, 2, 3), t(2, 3, 2)))


# ============================================================================ modules
CONV1D = [dict(in_channels=3, out_channels=4, kernel_size=3),
          dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, dilation=2,
               groups=2, bias=False),
          dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),
          dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="reflect"),
          dict(in_channels=2, out_channels=3, kernel_size=2, padding="same",
               padding_mode="replicate"),
          dict(in_channels=2, out_channels=2, kernel_size=3, padding=(1,), stride=(2,),
               padding_mode="circular")]


def _ids(k: dict) -> str:
    return ",".join(f"{a}={b}" for a, b in k.items())


@pytest.mark.parametrize("kwargs", CONV1D, ids=_ids)
def test_conv1d_module_matches_torch(kwargs):
    ours, theirs = nn.Conv1d(**kwargs), torch.nn.Conv1d(**kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    x = np.random.default_rng(4).standard_normal((2, kwargs["in_channels"], 7))
    module_parity(ours, theirs, x.astype(np.float32), atol=1e-4)
    module_parity(ours, theirs, x[0].astype(np.float32), atol=1e-4)  # (C, L)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_padding_modes_match_torch(mode):
    kwargs = dict(in_channels=2, out_channels=3, kernel_size=(3, 2), padding=(1, 1),
                  padding_mode=mode)
    ours, theirs = nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 4)).astype(np.float32)
    module_parity(ours, theirs, x, atol=1e-4)


TRANSPOSED = [(1, dict(in_channels=3, out_channels=4, kernel_size=3)),
              (1, dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1,
                       output_padding=1, groups=2, bias=False)),
              (2, dict(in_channels=3, out_channels=2, kernel_size=(3, 2), stride=(2, 1),
                       padding=(1, 0), dilation=(1, 2), output_padding=(1, 1))),
              (2, dict(in_channels=4, out_channels=4, kernel_size=3, stride=2, groups=4))]


@pytest.mark.parametrize("dims,kwargs", TRANSPOSED, ids=lambda a: str(a))
def test_conv_transpose_module_matches_torch(dims, kwargs):
    cls = "ConvTranspose1d" if dims == 1 else "ConvTranspose2d"
    ours, theirs = getattr(nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    x = np.random.default_rng(6).standard_normal((2, kwargs["in_channels"]) + (4,) * dims)
    module_parity(ours, theirs, x.astype(np.float32), atol=1e-4)
    module_parity(ours, theirs, x[0].astype(np.float32), atol=1e-4)


def test_conv_transpose_output_size_matches_torch():
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1), \
        torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(7).standard_normal((1, 2, 4, 5)).astype(np.float32)
    for size in [(10, 13), (12, 15), [1, 3, 11, 14], (11, 15)]:
        want = theirs(torch.tensor(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours(cr.tensor(x), output_size=size)._data, want, atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes range from"):
        theirs(torch.tensor(x), output_size=(13, 13))
    with pytest.raises(ValueError, match=r"valid sizes range from \[10, 13\] to \[12, 15\]"):
        ours(cr.tensor(x), output_size=(13, 13))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        ours(cr.tensor(x), output_size=(1, 2, 3))
    one = nn.ConvTranspose1d(2, 2, 2, stride=2)
    assert one(cr.zeros(2, 5), output_size=[11]).shape == (2, 11)


def test_module_init_matches_torch_statistics():
    """Weights are drawn as PyTorch's: U(-1/sqrt(fan_in), ..) with fan_in = OC/G * K."""
    m = nn.ConvTranspose1d(8, 64, 4, groups=2)
    bound = 1 / np.sqrt(32 * 4)
    assert m.weight.shape == (8, 32, 4) and m.bias.shape == (64,)
    assert np.abs(m.weight._data).max() <= bound and np.abs(m.bias._data).max() <= bound
    assert np.abs(nn.Conv1d(3, 5, 4).weight._data).max() <= 1 / np.sqrt(12)


# ============================================================================ errors
def _raises_like_torch(call, message: str) -> None:
    """torch raises RuntimeError or ValueError; ours raises the same class with ``message``."""
    with pytest.raises((RuntimeError, ValueError, TypeError)) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value), match=message):
        call(cr)


@pytest.mark.parametrize("name,args,kwargs,message", [
    ("conv1d", [(2, 5, 10), (4, 3, 3)], {}, r"expected input\[2, 5, 10\] to have 3 channels"),
    ("conv1d", [(2, 5, 10, 1), (4, 5, 3)], {}, r"Expected 2D \(unbatched\) or 3D"),
    ("conv1d", [(2, 5, 10), (4, 5, 13)], {}, "Kernel size can't be greater"),
    ("conv1d", [(2, 5, 10), (4, 5, 3), (3,)], {}, "expected bias to be 1-dimensional with 4"),
    ("conv1d", [(2, 5, 10), (4, 5, 3)], dict(stride=2, padding="same"),
     "not supported for strided convolutions"),
    ("conv1d", [(2, 5, 10), (4, 5, 3)], dict(padding=(1, 1)), "a list of 1 values"),
    ("conv1d", [(2, 4, 10), (3, 2, 3)], dict(groups=2), "divisible by 2"),
    ("conv_transpose1d", [(2, 5, 10), (4, 2, 3)], {}, r"expected input\[2, 5, 10\] to have 4"),
    ("conv_transpose1d", [(2, 5, 10), (5, 2, 3)], dict(stride=2, output_padding=2),
     "output padding must be smaller than either stride or dilation"),
    ("conv_transpose2d", [(2, 4, 3, 3), (4, 2, 3, 3), (3,)], {},
     "expected bias to be 1-dimensional with 2 elements"),
    ("conv_transpose2d", [(2, 4, 3, 3), (4, 2, 3, 3)], dict(groups=3),
     "expected weight to be divisible by 3"),
])
def test_errors_match_torch(name, args, kwargs, message):
    arrays = [np.zeros(s, np.float32) for s in args]

    def call(lib):
        f = getattr(torch.nn.functional if lib is torch else F, name)
        conv = torch.from_numpy if lib is torch else cr.tensor
        return f(*[conv(a) for a in arrays], **kwargs)

    _raises_like_torch(call, message)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'ConvTranspose1d'):
        nn.ConvTranspose1d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="in_channels \\(3\\) must be divisible by groups"):
        nn.ConvTranspose2d(3, 2, 3, groups=2)
    with pytest.raises(ValueError, match="string paddings"):
        nn.ConvTranspose2d(2, 2, 3, padding="same")
    with pytest.raises(TypeError, match="string paddings"):
        F.conv_transpose1d(cr.zeros(1, 2, 4), cr.zeros(2, 2, 3), padding="same")
    with pytest.raises(RuntimeError, match="output size .* is too small"):
        F.conv_transpose1d(cr.zeros(1, 2, 4), cr.zeros(2, 2, 3), padding=5)
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D"):
        F.conv_transpose2d(cr.zeros(2, 4), cr.zeros(2, 2, 3, 3))
