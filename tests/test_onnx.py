"""``chainrule.onnx.export``: each supported layer and the registered models run in
onnxruntime (CPU) as in chainrule, at two batch sizes through one file with a dynamic batch
axis; the checker passes; an op without a mapping is a named error and no file."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.models import build_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
cr_onnx = pytest.importorskip("chainrule.onnx")

DYN = {"input": {0: "batch"}, "output": {0: "batch"}}


def export_bytes(model, x, **kw) -> bytes:
    buf = io.BytesIO()
    kw.setdefault("dynamic_axes", DYN)
    cr_onnx.export(model, x, buf, **kw)
    return buf.getvalue()


def run_onnx(data: bytes, feeds: dict) -> list:
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(got, ref, rtol=1e-5) -> None:
    """Equal within ``rtol`` of the output's scale (float32 rounding in another order)."""
    ref = np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    scale = max(float(np.max(np.abs(ref))), 1e-30) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale)


def check_model(model, make, sizes=(2, 5), **kw) -> bytes:
    """Export at batch ``sizes[0]``; compare onnxruntime and chainrule at both sizes."""
    model.eval()
    data = export_bytes(model, make(sizes[0]), **kw)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    for n in sizes:
        x = make(n)
        with cr.no_grad():
            ref = model(x)
        ref = ref[0] if isinstance(ref, tuple) else ref
        (got, *_) = run_onnx(data, {"input": x.numpy()})
        assert_close(got, ref.numpy())
    return data


def images(c=3, h=9, w=9):
    return lambda n: cr.randn(n, c, h, w)


def vectors(f=6):
    return lambda n: cr.randn(n, f)


def tokens(v=20, t=7):
    return lambda n: cr.randint(0, v, (n, t))


class Lambda(nn.Module):
    def __init__(self, f, *mods) -> None:
        super().__init__()
        self.f = f
        self.mods = nn.ModuleList(list(mods))

    def forward(self, x):
        return self.f(x, *self.mods)


def _bn(cls, c):
    bn = cls(c)
    bn.running_mean.copy_(cr.randn(c) * 0.3)
    bn.running_var.copy_(cr.rand(c) + 0.5)
    with cr.no_grad():
        bn.weight.copy_(cr.randn(c))
        bn.bias.copy_(cr.randn(c))
    return bn


LAYERS = {
    "linear": (lambda: nn.Linear(6, 4), vectors()),
    "linear_3d": (lambda: nn.Linear(6, 4), lambda n: cr.randn(n, 3, 6)),
    "linear_no_bias": (lambda: nn.Linear(6, 4, bias=False), vectors()),
    "conv": (lambda: nn.Conv2d(3, 4, 3), images()),
    "conv_stride_pad_dil_groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2,
                                                     groups=2, bias=False), images(4)),
    "conv1d": (lambda: nn.Conv1d(4, 6, 3, padding=2, dilation=2, groups=2),
               lambda n: cr.randn(n, 4, 9)),
    "conv_transpose": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                                  groups=2, dilation=2), images(4, 5, 6)),
    "max_pool1d": (lambda: nn.MaxPool1d(3, 2, padding=1), lambda n: cr.randn(n, 3, 10)),
    "avg_pool1d": (lambda: nn.AvgPool1d(3, 2), lambda n: cr.randn(n, 3, 10)),
    "prelu": (lambda: nn.PReLU(3), lambda n: cr.randn(n, 3, 4)),
    "cosine_similarity": (lambda: Lambda(lambda x: F.cosine_similarity(x, x.flip(1) * 0.5)),
                          lambda n: cr.randn(n, 3, 4)),
    "cast_cumsum_sign": (lambda: Lambda(lambda x: x.double().cumsum(1).float() * x.sign()),
                         vectors()),
    "conv_asym": (lambda: nn.Conv2d(3, 2, (3, 1), stride=(1, 2), padding=(1, 0)), images()),
    "max_pool": (lambda: nn.MaxPool2d(2), images()),
    "max_pool_pad_ceil_dil": (lambda: nn.MaxPool2d(3, 2, padding=1, dilation=2, ceil_mode=True),
                              images()),
    "avg_pool": (lambda: nn.AvgPool2d(3, 2), images()),
    "avg_pool_pad_ceil_exclude": (lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True,
                                                       count_include_pad=False), images()),
    "avg_pool_pad_include": (lambda: nn.AvgPool2d(2, padding=1), images()),
    "adaptive_avg": (lambda: nn.AdaptiveAvgPool2d(3), images()),
    "adaptive_avg_uneven": (lambda: nn.AdaptiveAvgPool2d((2, 4)), images()),
    "adaptive_max": (lambda: nn.AdaptiveMaxPool2d(3), images()),
    "batch_norm_2d": (lambda: _bn(nn.BatchNorm2d, 3), images()),
    "batch_norm_1d": (lambda: _bn(nn.BatchNorm1d, 6), vectors()),
    "dropout": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(6, 3)), vectors()),
    "flatten": (lambda: nn.Flatten(), images()),
    "view_batch": (lambda: Lambda(lambda x: x.view(x.shape[0], -1)), images()),
    "view_concrete": (lambda: Lambda(lambda x: x.reshape(x.shape[0], 3, 81).permute(2, 0, 1)
                                     .reshape(81, x.shape[0] * 3)), images()),
    "transpose": (lambda: Lambda(lambda x: x.transpose(1, 3).contiguous()), images()),
    "unflatten": (lambda: nn.Unflatten(1, (2, 3)), vectors()),
    "relu": (nn.ReLU, vectors()),
    "sigmoid": (nn.Sigmoid, vectors()),
    "tanh": (nn.Tanh, vectors()),
    "gelu": (nn.GELU, vectors()),
    "gelu_tanh": (lambda: nn.GELU("tanh"), vectors()),
    "silu": (nn.SiLU, vectors()),
    "elu": (lambda: nn.ELU(0.7), vectors()),
    "selu": (nn.SELU, vectors()),
    "celu": (lambda: nn.CELU(1.3), vectors()),
    "leaky_relu": (lambda: nn.LeakyReLU(0.1), vectors()),
    "softplus": (lambda: nn.Softplus(beta=2.0, threshold=1.0), vectors()),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.7), vectors()),
    "relu6": (nn.ReLU6, lambda n: cr.randn(n, 6) * 5),
    "hardswish": (nn.Hardswish, lambda n: cr.randn(n, 6) * 3),
    "hardsigmoid": (nn.Hardsigmoid, lambda n: cr.randn(n, 6) * 3),
    "mish": (nn.Mish, vectors()),
    "log_sigmoid": (nn.LogSigmoid, vectors()),
    "softmax": (lambda: nn.Softmax(dim=1), vectors()),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), vectors()),
    "glu": (nn.GLU, vectors()),
    "arithmetic": (lambda: Lambda(lambda x: ((x * 2 + 1) / (x.abs() + 1) - 0.5) ** 3
                                  + x.exp().log() - (x * x + 1).sqrt() + (-x).clamp(-0.2, 0.3)
                                  + cr.maximum(x, x.t().t() * 0.5) + cr.minimum(x, 0.1 * x)
                                  + x.reciprocal().clamp(max=2.0) + x.sin() * x.cos()
                                  + cr.erf(x) + x.abs().log1p() + x.expm1()),
                   vectors()),
    "broadcasting": (lambda: Lambda(lambda x, lin: x[:, None, :] * lin.weight + lin.bias[:, None],
                                    nn.Linear(6, 6)), vectors()),
    "matmul": (lambda: Lambda(lambda x, lin: x @ lin.weight.t() @ lin.weight, nn.Linear(6, 4)),
               vectors()),
    "batched_matmul": (lambda: Lambda(lambda x: x @ x.transpose(1, 2)),
                       lambda n: cr.randn(n, 3, 4)),
    "reductions": (lambda: Lambda(lambda x: cr.cat([t.flatten(1) for t in (
        x.sum(1, keepdim=True), x.mean(-1, True), x.amax(1, keepdim=True), x.amin(1, True),
        x.max(1)[0], x.min(2)[0], x.var(1, keepdim=True), x.std(1, correction=0),
        x.logsumexp(2), x.sum((1, 2))[:, None, None].expand(-1, 2, 3), x.sum(-1))], 1)),
        lambda n: cr.randn(n, 5, 3)),
    "cat_stack": (lambda: Lambda(lambda x: cr.stack([cr.cat([x, x * 2], 1),
                                                     x.flip(1).repeat(1, 2)],
                                                    1)), vectors()),
    "indexing": (lambda: Lambda(lambda x: cr.cat([x[:, 1:3, 0], x[:, -1, ::2], x[..., 1],
                                                  x[:, [0, 2], 1],
                                                  x[:, None, 0, 0].squeeze(1)[:, None]
                                                  ], 1)),
                 lambda n: cr.randn(n, 4, 3)),
    "split_chunk": (lambda: Lambda(lambda x: sum(p.sum(1) for p in x.chunk(3, 1))
                                   + x.split([2, 4], 1)[1].mean(1)), vectors()),
    "pad": (lambda: Lambda(lambda x: F.pad(x, (1, 2, 0, 1), value=0.5)), images()),
    "where_const": (lambda: Lambda(lambda x: cr.where(cr.tensor([True, False, True, False, True,
                                                                  False]), x, -x)), vectors()),
    "embedding": (lambda: nn.Embedding(20, 5), tokens()),
    "embedding_padding": (lambda: nn.Embedding(20, 5, padding_idx=0), tokens()),
    "layer_norm": (lambda: nn.LayerNorm(6), vectors()),
    "layer_norm_2d_no_affine": (lambda: nn.LayerNorm((3, 4), elementwise_affine=False),
                                lambda n: cr.randn(n, 2, 3, 4)),
    "group_norm": (lambda: nn.GroupNorm(2, 4), images(4)),
    "sdpa_causal": (lambda: Lambda(lambda x: F.scaled_dot_product_attention(x, x * 0.5, x,
                                                                             is_causal=True)),
                    lambda n: cr.randn(n, 2, 5, 4)),
    "multihead_attention": (lambda: Lambda(lambda x, m: m(x, x, x, need_weights=False)[0],
                                           nn.MultiheadAttention(8, 2, batch_first=True)),
                            lambda n: cr.randn(n, 5, 8)),
    "transformer_layer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1,
                                                             batch_first=True),
                          lambda n: cr.randn(n, 5, 8)),
    "lstm": (lambda: Lambda(lambda x, m: m(x)[0], nn.LSTM(4, 6, 2, batch_first=True)),
             lambda n: cr.randn(n, 5, 4)),
    "lstm_states": (lambda: Lambda(lambda x, m: cr.cat(list(m(x)[1]), 2),
                                   nn.LSTM(4, 6, 1, bias=False)), lambda n: cr.randn(3, n, 4)),
    "lstm_bidirectional": (lambda: Lambda(lambda x, m: m(x)[0],
                                          nn.LSTM(4, 5, 2, bidirectional=True, batch_first=True)),
                           lambda n: cr.randn(n, 3, 4)),
    "lstm_cell": (lambda: Lambda(lambda x, m: cr.cat(list(m(x)), 1), nn.LSTMCell(4, 5)),
                  vectors(4)),
    "gru": (lambda: Lambda(lambda x, m: m(x)[0], nn.GRU(4, 5, batch_first=True)),
            lambda n: cr.randn(n, 4, 4)),
    "rnn": (lambda: Lambda(lambda x, m: m(x)[1], nn.RNN(4, 5, 2, nonlinearity="relu")),
            lambda n: cr.randn(3, n, 4)),
    # resampling: Resize where it computes the same map, else Gather/Mul/Add of the map
    "upsample_nearest": (lambda: nn.Upsample(scale_factor=2), images()),
    "upsample_nearest_size": (lambda: nn.Upsample(size=(5, 13)), images()),
    "upsample_nearest_scale": (lambda: Lambda(lambda x: F.interpolate(x, scale_factor=1.7)),
                               images()),
    "upsample_nearest_exact": (lambda: Lambda(lambda x: F.interpolate(
        x, size=(4, 13), mode="nearest-exact")), images()),
    "upsample_nearest_1d": (lambda: nn.Upsample(scale_factor=3), lambda n: cr.randn(n, 2, 5)),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), images()),
    "upsample_bilinear_size": (lambda: nn.Upsample(size=(5, 14), mode="bilinear"), images()),
    "upsample_bilinear_size1": (lambda: Lambda(lambda x: F.interpolate(
        x, size=(1, 4), mode="bilinear")), images()),
    "upsample_bilinear_scale": (lambda: Lambda(lambda x: F.interpolate(
        x, scale_factor=1.3, mode="bilinear")), images()),
    "upsample_bilinear_align": (lambda: nn.Upsample(size=(5, 14), mode="bilinear",
                                                    align_corners=True), images()),
    "upsampling_bilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), images()),
    "upsampling_nearest2d": (lambda: nn.UpsamplingNearest2d(size=(12, 7)), images()),
    "upsample_linear_trilinear": (lambda: Lambda(lambda x: cr.cat([
        F.interpolate(x.flatten(2), size=30, mode="linear", align_corners=True),
        F.interpolate(x[:, :, None], scale_factor=(1, 2, 2), mode="trilinear")
        .flatten(2)[..., :30]], 2)), lambda n: cr.randn(n, 2, 3, 4)),
    "pad_reflect_replicate_circular": (lambda: Lambda(lambda x: cr.cat([
        F.pad(x, (2, 1, 1, 2), mode="reflect"), F.pad(x, (2, 1, 1, 2), mode="replicate"),
        F.pad(x, (2, 1, 1, 2), mode="circular")], 1)), images()),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1,
                                                    output_padding=1, groups=2, dilation=2),
                         lambda n: cr.randn(n, 4, 7)),
    "conv_transpose1d_plain": (lambda: nn.ConvTranspose1d(3, 2, 4, bias=False),
                               lambda n: cr.randn(n, 3, 5)),
    "rounding": (lambda: Lambda(lambda x: cr.cat([
        x.floor(), x.ceil(), x.round(), x.trunc(), x.round(decimals=1),
        (x * 100).round(decimals=-1), cr.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5]) + 0 * x], 1)),
                 lambda n: cr.randn(n, 6) * 3),
    "floor_divide_remainder": (lambda: Lambda(lambda x: cr.cat([
        x // 0.7, x % 0.7, cr.remainder(x, -0.7), cr.floor_divide(x, -0.7),
        cr.div(x, 0.7, rounding_mode="trunc"), cr.div(x, -0.7, rounding_mode="floor"),
        x % cr.tensor([0.3, -0.3, 1.0, -1.0, 0.1, 2.0]),
        x // cr.tensor([0.3, -0.3, 1.0, -1.0, 0.1, 2.0])], 1)), lambda n: cr.randn(n, 6) * 3),
    "integer_divide_remainder": (lambda: Lambda(lambda x: cr.cat([
        (x - 10) // 3, (x - 10) % 3, (x - 10) // -3, (x - 10) % -3,
        cr.div(x - 10, 4, rounding_mode="trunc"), cr.div(x - 10, -4, rounding_mode="floor"),
        cr.remainder(x - 10, -4)], 1)), tokens()),
    "prod_cumprod": (lambda: Lambda(lambda x: cr.cat([
        x.prod(1, keepdim=True), x.prod(1).unsqueeze(1), x.cumprod(1),
        x.relu().cumprod(1), (x.prod() + 0 * x[:, :1]), x.double().cumprod(1).float()], 1)),
                     vectors()),
    "norms": (lambda: Lambda(lambda x: cr.cat([
        cr.linalg.vector_norm(x, p, dim=2) for p in (1, 2, 3, 0.5, float("inf"),
                                                     float("-inf"), 0)] + [
        cr.linalg.vector_norm(x.relu(), 0, dim=(1, 2), keepdim=True).flatten(1),
        x.norm(dim=1), cr.linalg.norm(x, dim=2)], 1)), lambda n: cr.randn(n, 4, 5)),
    "roll": (lambda: Lambda(lambda x: x.roll(1, 2) + x.roll((1, -2), (1, 3)) + x.roll(10, 1)
                            + x.roll(0, 3)), images(3, 4, 5)),
    "einsum": (lambda: Lambda(lambda x: cr.cat([
        cr.einsum("bchw,bcHw->bhH", x, x).flatten(1), cr.einsum("bchw->bwc", x).flatten(1),
        cr.einsum("bchw,bc->bhw", x, x.sum((2, 3))).flatten(1)], 1)), images(3, 4, 4)),
    "gather_scatter": (lambda: Lambda(lambda x: cr.cat([
        x.gather(1, cr.tensor([[2, 0, 2, 5]]).expand(x.shape[0], 4)),
        x.scatter(1, cr.tensor([[1, 3]]).expand(x.shape[0], 2), x[:, :3] * 2)[:, :4],
        x.scatter(1, cr.tensor([[0, 4]]).expand(x.shape[0], 2), 1.5)[:, :4],
        x.scatter_add(1, cr.tensor([[1, 1, 2]]).expand(x.shape[0], 3), x[:, 3:])[:, :4],
        x.index_select(1, cr.tensor([5, 0, 0, 3]))], 1)), vectors()),
    "losses": (lambda: Lambda(lambda x: cr.stack([
        F.mse_loss(x, x.flip(1)), F.l1_loss(x, x * 0.5, reduction="sum"),
        F.smooth_l1_loss(x, x.flip(1), beta=0.5), F.huber_loss(x, x.flip(1) * 2, delta=0.7),
        F.binary_cross_entropy(x.sigmoid(), x.flip(1).sigmoid()),
        F.binary_cross_entropy(x.sigmoid(), x.flip(1).sigmoid(), cr.arange(6) * 0.2,
                               reduction="sum"),
        F.binary_cross_entropy_with_logits(x * 5, x.flip(1).sigmoid(),
                                           pos_weight=cr.arange(6) * 0.3 + 0.5),
        F.kl_div(x.log_softmax(1), x.flip(1).softmax(1), reduction="batchmean"),
        F.kl_div(x.log_softmax(1), x.flip(1).log_softmax(1), reduction="sum", log_target=True)]
                                          )[None].expand(x.shape[0], -1)), vectors()),
    "losses_none": (lambda: Lambda(lambda x: cr.cat([
        F.mse_loss(x, x.flip(1), reduction="none"),
        F.smooth_l1_loss(x, x.flip(1), reduction="none"),
        F.huber_loss(x, x.flip(1), reduction="none"),
        F.binary_cross_entropy(x.sigmoid(), x.flip(1).sigmoid(), reduction="none"),
        F.binary_cross_entropy_with_logits(x, x.flip(1).sigmoid(), reduction="none"),
        F.kl_div(x.log_softmax(1), x.flip(1).softmax(1).relu(), reduction="none")], 1)),
                    vectors()),
    "indexing_several_arrays": (lambda: Lambda(lambda x: cr.cat([
        x[:, [0, 2], [1, 2]].flatten(1), x[:, [[0], [3]], [1, 2]].flatten(1),
        x[:, 1:3, [[0, 1]]].flatten(1), x[:, cr.tensor([[True, False, True], [False, True, True],
                                                         [True, True, False], [False] * 3])],
        cr.diag(x.sum(0)[:3])[None].expand(x.shape[0], -1), x[:, [0, 1, 2], [0, 1, 2]],
        x[..., [2, 0]].flatten(1)], 1)), lambda n: cr.randn(n, 4, 3)),
    "indexing_arrays_apart": (lambda: Lambda(lambda x: x[[0, 1, 1], :, [2, 0, 1]]),
                              lambda n: cr.randn(2, n, 3)),
    "diag_of_vectors": (lambda: Lambda(lambda x: x[:, None] * (
        cr.diag(x.sum(0)) + cr.diag(x.sum(0), 1)[1:, :4] + cr.diag(x.sum(0), -2)[2:, :4])),
                        lambda n: cr.randn(n, 4)),
    "lerp_clamp_log": (lambda: Lambda(lambda x: cr.cat([
        cr.lerp(x, x * 2 + 1, 0.3), cr.lerp(x, -x, x.sigmoid()), cr.lerp(x, x + 1, 1.0),
        x.clamp(x * 0.5 - 0.2, x.abs() + 0.1), x.clamp(min=x * 0.5),
        (x.abs() + 0.1).log10(), (x.abs() + 0.1).log2()], 1)), vectors()),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_onnxruntime_at_two_batch_sizes(name):
    build, make = LAYERS[name]
    model = build()
    axes = {"input": {0: "batch"}}
    if name in ("lstm_states", "rnn", "indexing_arrays_apart"):  # the batch is axis 1
        axes = {"input": {1: "batch"}}
    check_model(model, make, dynamic_axes=axes)


@pytest.mark.parametrize("name,make", [
    ("lenet5", images(1, 28, 28)), ("mlp", images(1, 28, 28)),
    ("gpt", tokens(65, 16)), ("lstm", tokens(65, 12))])
def test_registered_models_match_onnxruntime(name, make):
    config = {"n_layer": 2, "n_embd": 32, "block_size": 16} if name == "gpt" else \
        {"hidden_size": 32, "n_embd": 16} if name == "lstm" else None
    model = build_model(name, config)
    if name == "lenet5":  # running statistics that are not the initial 0 and 1
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(cr.randn(*m.running_mean.shape) * 0.2)
                m.running_var.copy_(cr.rand(*m.running_var.shape) + 0.5)
    data = check_model(model, make, sizes=(1, 4) if name == "lenet5" else (3, 1))
    proto = onnx.load_from_string(data)
    names = {i.name for i in proto.graph.initializer}
    assert set(dict(model.named_parameters())) <= names  # weights under their state_dict names
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"


def test_parameters_and_buffers_are_initializers_by_state_dict_name():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 3))
    proto = onnx.load_from_string(export_bytes(model.eval(), cr.randn(2, 1, 5, 5)))
    names = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.running_mean", "1.running_var", "3.weight"} <= names
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.opset_import[0].version == 17


def test_names_opset18_and_static_shapes(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(1))
    path = tmp_path / "m.onnx"
    x = cr.randn(2, 4)
    cr_onnx.export(model, (x,), path, input_names=["x"], output_names=["logp"],
                   opset_version=18)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 18
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 4]  # no dynamic axes: the example's sizes
    (got,) = run_onnx(path.read_bytes(), {"x": x.numpy()})
    with cr.no_grad():
        assert_close(got, model(x).numpy())


def test_several_inputs_and_outputs():
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, a, b):
            h = self.lin(a) + b
            return h.relu(), (h.sum(1), None)

    model = Two()
    a, b = cr.randn(4, 3), cr.randn(4, 3)
    buf = io.BytesIO()
    cr_onnx.export(model, (a, b), buf, input_names=["a", "b"],
                   dynamic_axes={"a": {0: "n"}, "b": {0: "n"}})
    out = run_onnx(buf.getvalue(), {"a": a.numpy()[:2], "b": b.numpy()[:2]})
    with cr.no_grad():
        r1, (r2, _) = model(a[:2], b[:2])
    assert_close(out[0], r1.numpy())
    assert_close(out[1], r2.numpy())


def test_the_model_is_left_in_its_mode():
    model = build_model("lenet5")
    model.train()
    export_bytes(model, cr.randn(2, 1, 28, 28))
    assert all(m.training for m in model.modules())


# -- errors ------------------------------------------------------------------------------------

class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), Lambda(
            lambda x: F.ctc_loss(x.log_softmax(1), cr.tensor([1]), (2,), (1,))))

    def forward(self, x):
        return self.body(x)


def test_unmapped_op_names_op_site_and_module_and_writes_nothing(tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(RuntimeError) as info:
        cr_onnx.export(Unsupported(), cr.randn(2, 4), path)
    msg = str(info.value)
    assert isinstance(info.value, cr_onnx.ExportError)
    assert "CTCLoss" in msg and "body.1" in msg
    assert "test_onnx.py:" in msg  # the call site: the lambda's line in this file
    assert list(tmp_path.iterdir()) == []


def test_batch_dependent_constant_is_refused():
    model = Lambda(lambda x: x - cr.tensor(x.detach().numpy().mean(0)))  # NumPy's statistic
    with pytest.raises(cr_onnx.ExportError, match="changes with the dynamic axis"):
        export_bytes(model, cr.randn(3, 4))


def test_batch_statistics_batch_norm_is_refused():
    model = nn.BatchNorm1d(4, track_running_stats=False)
    with pytest.raises(cr_onnx.ExportError, match="BatchNorm .*model.eval"):
        export_bytes(model, cr.randn(3, 4))


def test_control_flow_on_the_batch_is_refused_with_dynamic_axes():
    model = Lambda(lambda x: x.relu() if x.shape[0] % 2 else x.tanh())
    with pytest.raises(cr_onnx.ExportError, match="control flow"):
        export_bytes(model, cr.randn(3, 4))


def test_control_flow_on_data_is_traced_as_run():
    model = Lambda(lambda x: x.relu() if float(x.sum()) > 0 else -x)
    x = cr.ones(2, 3)
    data = export_bytes(model, x)
    (got,) = run_onnx(data, {"input": -np.ones((4, 3), np.float32)})
    assert (got == 0).all()  # the branch taken while tracing: relu


@pytest.mark.parametrize("kw,match", [
    ({"opset_version": 13}, "opset_version"),
    ({"dynamic_axes": {"nope": {0: "b"}}}, "neither an input"),
    ({"dynamic_axes": {"input": {5: "b"}}}, "out of range"),
    ({"input_names": ["a", "b"]}, "2 input names for 1 inputs"),
])
def test_bad_arguments(kw, match):
    kw.setdefault("dynamic_axes", None)
    with pytest.raises(ValueError, match=match):
        export_bytes(nn.Linear(2, 2), cr.randn(2, 2), **kw)


def test_supported_ops_lists_the_table():
    names = cr_onnx.supported_ops()
    for op in ("Conv2d", "LSTMLayer", "ScaledDotProductAttention", "Embedding", "LayerNorm"):
        assert op in names


def test_docs_list_exactly_the_mapped_functions():
    """docs/onnx.md's table names every Function with a mapping, and its "Not mapped" list
    only Functions without one."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parent.parent / "docs" / "onnx.md").read_text()
    table = text[text.index("## Supported ops"):text.index("| layers and models tested")]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", "".join(rows)))
    assert set(cr_onnx.supported_ops()) <= documented
    not_mapped = text[text.index("Not mapped"):]
    named = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", not_mapped.split(". ")[0]))
    assert named and not named & set(cr_onnx.supported_ops())
    import importlib
    import inspect
    import pkgutil

    from chainrule.autograd.function import Function
    unmapped = set()
    for info in pkgutil.walk_packages(cr.ops.__path__, "chainrule.ops."):
        for name, c in inspect.getmembers(importlib.import_module(info.name), inspect.isclass):
            if issubclass(c, Function) and c.__module__ == info.name and \
                    c not in cr_onnx.CONVERTERS:
                unmapped.add(name)
    assert unmapped == named  # every Function of chainrule.ops: mapped or listed


def test_import_chainrule_does_not_import_the_exporter():
    code = ("import sys, chainrule, chainrule.nn, chainrule.models; "
            "print('chainrule.onnx' in sys.modules, 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_ops_under_no_grad_inside_forward_are_recorded():
    def f(x, lin):
        with cr.no_grad():
            h = lin(x).tanh()
        return h * 2

    data = check_model(Lambda(f, nn.Linear(6, 3)), vectors())
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    assert "Tanh" in ops and "Gemm" in ops


def test_in_place_write_to_a_recorded_value_is_refused():
    def f(x):
        h = x * 2
        with cr.no_grad():
            h += 1  # not an op: the graph would miss it
        return h.relu()

    with pytest.raises(cr_onnx.ExportError, match="modified in place"):
        export_bytes(Lambda(f), cr.randn(2, 3))


def test_register_maps_a_custom_function():
    from chainrule.autograd import Function

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            return x ** 3

        @staticmethod
        def backward(ctx, gy):
            return gy

    model = Lambda(lambda x, lin: Cube.apply(lin(x)), nn.Linear(3, 3))
    with pytest.raises(cr_onnx.ExportError, match="no ONNX mapping for CubeBackward"):
        export_bytes(model, cr.randn(2, 3))

    @cr_onnx.register(Cube)
    def cube(op):
        x = op.x(0)
        return [op.one("Mul", [op.one("Mul", [x, x]), x])]

    try:
        check_model(model, vectors(3))
    finally:
        del cr_onnx.CONVERTERS[Cube]


# -- resampling, division, dynamic sequence axis -----------------------------------------------

@pytest.mark.parametrize("name,resize", [
    ("upsample_nearest", True), ("upsample_nearest_exact", True), ("upsample_bilinear", True),
    ("upsample_bilinear_align", True), ("upsampling_bilinear2d", True),
    ("upsample_nearest_scale", False), ("pad_reflect_replicate_circular", False)])
def test_resampling_is_resize_where_resize_computes_the_same_map(name, resize):
    build, make = LAYERS[name]
    ops = [n.op_type for n in onnx.load_from_string(export_bytes(build(), make(2))).graph.node]
    assert ("Resize" in ops) == resize
    assert ("Gather" in ops) != resize  # else the map itself: Gather, Mul, Add


def test_division_edge_cases_are_exact():
    a = cr.tensor([1.0, -1.0, 1.0, 0.0, 3.0, -3.0, 7.5, -7.5, 1.0, 0.0])
    b = cr.tensor([0.1, 0.1, 0.0, 0.0, 1.0, 0.3, -2.0, 2.0, -0.0, -1.0])

    def f(x):
        return cr.stack([x // b, x % b, cr.div(x, b, rounding_mode="trunc"),
                         cr.div(x, b, rounding_mode="floor"), cr.remainder(x, b),
                         x.floor(), x.round(), x.trunc()])

    model = Lambda(f)
    (got,) = run_onnx(export_bytes(model, a, dynamic_axes=None), {"input": a.numpy()})
    with cr.no_grad():
        ref = model(a).numpy()
    assert got[0, 0] == 9.0  # 1.0 // 0.1 is 9 (floor(1.0 / 0.1) would be 10)
    np.testing.assert_array_equal(got, ref)  # inf and nan where b is 0, as chainrule


def test_gpt_with_a_dynamic_sequence_axis():
    model = build_model("gpt", {"n_layer": 2, "n_embd": 32, "block_size": 16}).eval()
    axes = {"input": {1: "time"}, "output": {1: "time"}}
    data = export_bytes(model, cr.randint(0, 65, (2, 8)), dynamic_axes=axes)
    for t in (8, 1, 16):  # positions (arange(T)) and the causal mask follow T
        x = cr.randint(0, 65, (2, t))
        with cr.no_grad():
            ref = model(x)
        (got,) = run_onnx(data, {"input": x.numpy()})
        assert_close(got, ref.numpy())
    with pytest.raises(cr_onnx.ExportError, match="one symbolic size"):
        export_bytes(model, cr.randint(0, 65, (4, 4)), dynamic_axes={"input": {0: "b", 1: "t"}})


def test_fixed_length_ops_refuse_a_dynamic_axis_along_them():
    for f in (lambda x: x.cumprod(0), lambda x: x.roll(1, 0)):
        with pytest.raises(cr_onnx.ExportError, match="changes with the dynamic axis"):
            export_bytes(Lambda(f), cr.randn(3, 4))


@pytest.mark.parametrize("name", ["norms", "prod_cumprod", "upsample_bilinear",
                                  "gather_scatter", "rounding"])
def test_new_mappings_at_opset_18(name):
    build, make = LAYERS[name]
    check_model(build(), make, opset_version=18, dynamic_axes={"input": {0: "batch"}})


@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                {"weight": cr.rand(5) + 0.5, "ignore_index": 2},
                                {"label_smoothing": 0.1}])
def test_cross_entropy_with_constant_targets(kw):
    target = cr.tensor([0, 2, 4, 1])
    model = Lambda(lambda x: F.cross_entropy(x * 3, target, **kw))
    x = cr.randn(4, 5)
    (got,) = run_onnx(export_bytes(model, x, dynamic_axes=None), {"input": x.numpy()})
    with cr.no_grad():
        assert_close(got, model(x).numpy())


@pytest.mark.parametrize("impl", ["im2col", "naive"])
def test_the_other_conv_and_pool_kernels_export(impl):
    from chainrule.ops.conv import conv_impl
    from chainrule.ops.pool import pool_impl

    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1), nn.ReLU(),
                          nn.MaxPool2d(2, ceil_mode=True),
                          nn.AvgPool2d(2, padding=1, count_include_pad=False))
    with conv_impl(impl), pool_impl("naive" if impl == "naive" else "fast"):
        data = export_bytes(model.eval(), cr.randn(2, 3, 11, 11))
    x = cr.randn(3, 3, 11, 11)
    (got,) = run_onnx(data, {"input": x.numpy()})
    with cr.no_grad():
        assert_close(got, model(x).numpy())
