"""scaled_dot_product_attention (fused and its composed twin) and MultiheadAttention against
torch 2.13: values, input and parameter gradients, second order, gradcheck in float64, masks
(bool keep-masks, float masks, rows masked throughout), grouped-query heads, dropout, state_dict
names both ways, initialisation, and the errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.ops.attention import (AttentionShapeError, ScaledDotProductAttention,
                                     scaled_dot_product_attention_composed)
from chainrule.testing import assert_parity, gradcheck, gradgradcheck

F = nn.functional
SDPA = {"fused": F.scaled_dot_product_attention,
        "composed": scaled_dot_product_attention_composed}


def _sdpa(impl: str):
    """``fn(lib, q, k, v, **kw)`` calling chainrule's ``impl`` or torch's function."""
    def fn(lib, *tensors, **kw):
        f = torch.nn.functional.scaled_dot_product_attention if lib is torch else SDPA[impl]
        return f(*tensors, **kw)
    return fn


def _randn(rng: np.random.Generator, *shape: int, dtype=np.float64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


# ============================================================================ sdpa: parity
@pytest.mark.parametrize("impl", ["fused", "composed"])
@settings(max_examples=12, deadline=None)
@given(batch=st.sampled_from([(), (1,), (2,), (0,), (2, 3)]), length=st.integers(1, 4),
       source=st.integers(1, 4), e=st.integers(1, 4), ev=st.integers(1, 3),
       causal=st.booleans(), seed=st.integers(0, 2**16))
def test_sdpa_matches_torch_on_shapes(impl, batch, length, source, e, ev, causal, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (_randn(rng, *batch, n, d) for n, d in ((length, e), (source, e), (source, ev)))
    f = _sdpa(impl)
    # torch's 4-D CPU kernel has no double backward; the 2-D/3-D (math) path has
    second = len(batch) <= 1 and 0 not in batch
    assert_parity(lambda lib, a, b, c: f(lib, a, b, c, is_causal=causal), q, k, v,
                  second_order=second)


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_sdpa_scale_and_broadcast_batch_match_torch(impl, seeded):
    f, r = _sdpa(impl), seeded
    assert_parity(lambda lib, a, b, c: f(lib, a, b, c, scale=0.3), _randn(r, 2, 1, 3, 4),
                  _randn(r, 1, 3, 5, 4), _randn(r, 1, 3, 5, 6))
    assert_parity(lambda lib, a, b, c: f(lib, a, b, c), _randn(r, 3, 4), _randn(r, 5, 4),
                  _randn(r, 5, 6), second_order=True)


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_sdpa_float32_matches_torch(impl, seeded):
    f, r = _sdpa(impl), seeded
    q, k, v = (_randn(r, 2, 4, 6, 8, dtype=np.float32) for _ in range(3))
    assert_parity(lambda lib, a, b, c: f(lib, a, b, c, is_causal=True), q, k, v, atol=1e-5)


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_sdpa_bool_mask_keeps_where_true_and_dead_rows_give_zero(impl, seeded):
    f, r = _sdpa(impl), seeded
    keep = r.random((3, 5)) > 0.4
    keep[1] = False  # query 1 sees no key: 0, with zero gradients (torch's CPU kernels)
    assert_parity(lambda lib, a, b, c: f(lib, a, b, c, attn_mask=lib.tensor(keep)),
                  _randn(r, 2, 3, 4), _randn(r, 2, 5, 4), _randn(r, 2, 5, 6), second_order=True)
    out = SDPA[impl](*(cr.tensor(_randn(r, 2, 3, 4)) for _ in range(3)),
                     attn_mask=cr.tensor(keep[:, :3]))
    assert np.all(out._data[:, 1] == 0) and np.isfinite(out._data).all()


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_sdpa_float_mask_is_added_and_gets_its_gradient(impl, seeded):
    f, r = _sdpa(impl), seeded
    mask = _randn(r, 3, 5)
    mask[1] = -np.inf  # a dead row: 0, no NaN in any gradient
    mask[0, 2] = -np.inf
    assert_parity(lambda lib, a, b, c, m: f(lib, a, b, c, attn_mask=m), _randn(r, 2, 3, 4),
                  _randn(r, 2, 5, 4), _randn(r, 2, 5, 6), mask, second_order=True)
    # a per-head (N, H, L, S) mask, 4-D inputs
    assert_parity(lambda lib, a, b, c, m: f(lib, a, b, c, attn_mask=m), _randn(r, 2, 2, 3, 4),
                  _randn(r, 2, 2, 5, 4), _randn(r, 2, 2, 5, 6), _randn(r, 2, 2, 3, 5))


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_sdpa_grouped_query_heads_match_torch(impl, seeded):
    f, r = _sdpa(impl), seeded
    assert_parity(lambda lib, a, b, c: f(lib, a, b, c, enable_gqa=True, is_causal=True),
                  _randn(r, 2, 4, 3, 4), _randn(r, 2, 2, 5, 4), _randn(r, 2, 1, 5, 6))


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_sdpa_empty_sequences_and_features_match_torch(impl, seeded):
    f, r = _sdpa(impl), seeded
    for shapes in (((2, 0, 4), (2, 5, 4), (2, 5, 6)), ((2, 3, 4), (2, 0, 4), (2, 0, 6)),
                   ((2, 3, 0), (2, 5, 0), (2, 5, 6))):
        assert_parity(lambda lib, a, b, c: f(lib, a, b, c), *(_randn(r, *s) for s in shapes))


def test_sdpa_fused_equals_composed_with_dropout_and_node_name(seeded):
    r = seeded
    arrays = [_randn(r, 2, 2, 6, 4) for _ in range(3)]
    outs, grads = [], []
    for f in SDPA.values():
        cr.manual_seed(3)  # the same dropout mask for both
        xs = [cr.tensor(a, requires_grad=True) for a in arrays]
        y = f(*xs, dropout_p=0.4, is_causal=True)
        y.backward(cr.tensor(arrays[0]))
        outs.append(y._data)
        grads.append([x.grad._data for x in xs])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-12)
    for g0, g1 in zip(*grads):
        np.testing.assert_allclose(g0, g1, atol=1e-12)
    q = cr.ones(1, 1, 2, 2, requires_grad=True)
    assert F.scaled_dot_product_attention(q, q, q).grad_fn.name() == \
        "ScaledDotProductFlashAttentionForCpuBackward0"
    assert isinstance(F.scaled_dot_product_attention(q, q, q).grad_fn, ScaledDotProductAttention)


def test_sdpa_dropout_drops_weights_with_probability_p():
    v = cr.eye(400).reshape(1, 400, 400)
    q = cr.zeros(1, 400, 8)  # uniform weights 1/400, each kept with p 0.75, scaled by 4/3
    out = F.scaled_dot_product_attention(q, cr.zeros(1, 400, 8), v, dropout_p=0.25)._data
    assert abs((out == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / 400 / 0.75, rtol=1e-5)
    assert F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)._data.max() == 0


def test_sdpa_gradcheck_float64(seeded):
    r = seeded
    q, k, v = (cr.tensor(_randn(r, 2, 3, 4) * 0.5, requires_grad=True) for _ in range(3))
    m = cr.tensor(_randn(r, 3, 3), requires_grad=True)
    for f in SDPA.values():
        assert gradcheck(lambda a, b, c, d: f(a, b, c, attn_mask=d), (q, k, v, m))
        assert gradgradcheck(lambda a, b, c: f(a, b, c, is_causal=True), (q, k, v))


def test_sdpa_errors_name_the_op_and_shapes():
    q = cr.zeros(2, 3, 4)
    f = F.scaled_dot_product_attention
    with pytest.raises(RuntimeError, match=r"attn_mask should not be set when is_causal"):
        f(q, q, q, attn_mask=cr.ones(3, 3, dtype=cr.bool), is_causal=True)
    with pytest.raises(ValueError, match=r"at least 2 dimensional.*\(4,\)"):
        f(cr.zeros(4), q, q)
    with pytest.raises(RuntimeError, match=r"same dtype.*float64"):
        f(q, q.double(), q)
    with pytest.raises(RuntimeError, match=r"attn_mask dtype to be bool or to match query"):
        f(q, q, q, attn_mask=cr.zeros(3, 3, dtype=cr.int64))
    with pytest.raises(RuntimeError, match=r"same embedding size.*\(2, 3, 4\).*\(2, 3, 5\)"):
        f(q, cr.zeros(2, 3, 5), cr.zeros(2, 3, 5))
    with pytest.raises(RuntimeError, match=r"same sequence length"):
        f(q, q, cr.zeros(2, 2, 4))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(3, 4\) cannot be broadcast"):
        f(q, q, q, attn_mask=cr.zeros(3, 4))
    with pytest.raises(RuntimeError, match=r"heads in key and value must divide"):
        f(cr.zeros(1, 4, 3, 4), cr.zeros(1, 3, 3, 4), cr.zeros(1, 3, 3, 4), enable_gqa=True)
    with pytest.raises(RuntimeError, match=r"cannot be broadcast.*enable_gqa=True"):
        f(cr.zeros(1, 4, 3, 4), cr.zeros(1, 2, 3, 4), cr.zeros(1, 2, 3, 4))
    with pytest.raises(RuntimeError, match=r"dropout probability has to be between 0 and 1"):
        f(q, q, q, dropout_p=1.5)
    with pytest.raises(RuntimeError):  # torch raises too
        torch.nn.functional.scaled_dot_product_attention(
            *(torch.zeros(2, 3, 4),) * 3, attn_mask=torch.ones(3, 3, dtype=torch.bool),
            is_causal=True)


# ============================================================================ MultiheadAttention
def _copy_from_torch(ours: nn.Module, theirs: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.5)  # nonzero biases too
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())


def _mha_parity(kw: dict, call: dict, shapes: list, share: str = "qkv", train: bool = False,
                dtype=np.float64, atol: float = 1e-6, seed: int = 0) -> None:
    """Outputs, weights, input and parameter gradients of chainrule's and torch's MHA with
    torch's weights; ``share``: "qkv" self-attention (one tensor), "kv" key is value."""
    r = np.random.default_rng(seed)
    theirs = torch.nn.MultiheadAttention(**kw, dtype=getattr(torch, np.dtype(dtype).name))
    ours = nn.MultiheadAttention(**kw, dtype=dtype)
    _copy_from_torch(ours, theirs)
    ours.train(train), theirs.train(train)
    arrays = [_randn(r, *s, dtype=dtype) for s in shapes]
    picks = {"qkv": (0, 0, 0), "kv": (0, 1, 1), "": (0, 1, 2)}[share]
    ins_o = [cr.tensor(a, requires_grad=True) for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    conv = {k: v for k, v in call.items()}
    out_o, w_o = ours(*(ins_o[i] for i in picks),
                      **{k: cr.tensor(v) if isinstance(v, np.ndarray) else v
                         for k, v in conv.items()})
    out_t, w_t = theirs(*(ins_t[i] for i in picks),
                        **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                           for k, v in conv.items()})
    np.testing.assert_allclose(out_o._data, out_t.detach().numpy(), atol=atol, rtol=1e-5)
    assert (w_o is None) == (w_t is None)
    g = _randn(r, *out_t.shape, dtype=dtype)
    loss_o, loss_t = (out_o * cr.tensor(g)).sum(), (out_t * torch.tensor(g)).sum()
    if w_t is not None:
        np.testing.assert_allclose(w_o._data, w_t.detach().numpy(), atol=atol, rtol=1e-5)
        if not torch.isnan(w_t).any():
            gw = _randn(r, *w_t.shape, dtype=dtype)
            loss_o, loss_t = loss_o + (w_o * cr.tensor(gw)).sum(), \
                loss_t + (w_t * torch.tensor(gw)).sum()
    loss_o.backward(), loss_t.backward()
    for a, b in zip(ins_o, ins_t):
        np.testing.assert_allclose(a.grad._data, b.grad.numpy(), atol=atol, rtol=1e-5)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad._data, q.grad.numpy(), atol=atol, rtol=1e-5,
                                   err_msg=name)


E = 8
_KPM = np.zeros((3, 5), bool)
_KPM[:, 3:] = True
_CAUSAL = np.triu(np.ones((5, 5), bool), 1)  # True: masked out (MHA's convention)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kw, call, shapes, share", [
    ({}, {}, [(5, 3, E)], "qkv"),
    ({}, {}, [(5, 3, E), (4, 3, E)], "kv"),
    ({}, {}, [(5, 3, E), (4, 3, E), (4, 3, E)], ""),
    ({"batch_first": True}, {}, [(3, 5, E)], "qkv"),
    ({"batch_first": True}, {"average_attn_weights": False}, [(3, 5, E), (3, 4, E)], "kv"),
    ({"num_heads": 4, "kdim": 3, "vdim": 5}, {}, [(5, 3, E), (4, 3, 3), (4, 3, 5)], ""),
    ({"add_bias_kv": True, "add_zero_attn": True}, {}, [(5, 3, E)], "qkv"),
    ({"bias": False}, {}, [(5, E)], "qkv"),
    ({}, {"key_padding_mask": _KPM, "attn_mask": _CAUSAL}, [(5, 3, E)], "qkv"),
    ({}, {"key_padding_mask": _KPM[0]}, [(5, E)], "qkv"),
    ({}, {"attn_mask": np.linspace(-1, 1, 150).reshape(6, 5, 5)}, [(5, 3, E)], "qkv"),
    ({}, {"attn_mask": _CAUSAL[None].repeat(2, 0)}, [(5, E)], "qkv"),
    ({"batch_first": True}, {"key_padding_mask": _KPM}, [(3, 1, E), (3, 5, E)], "kv"),
])
def test_mha_matches_torch(kw, call, shapes, share, need_weights):
    _mha_parity({"embed_dim": E, "num_heads": 2, **kw}, {**call, "need_weights": need_weights},
                shapes, share)


def test_mha_causal_hint_train_mode_float32_and_batch_one():
    _mha_parity({"embed_dim": E, "num_heads": 2}, {"attn_mask": _CAUSAL, "is_causal": True,
                                                   "need_weights": False}, [(5, 3, E)])
    _mha_parity({"embed_dim": E, "num_heads": 2, "dropout": 0.0}, {"key_padding_mask": _KPM},
                [(5, 3, E)], train=True)
    _mha_parity({"embed_dim": E, "num_heads": 2, "batch_first": True}, {}, [(1, 1, E)],
                dtype=np.float32, atol=1e-5)


def test_mha_fully_masked_query_gives_torchs_values():
    kpm = np.zeros((3, 5), bool)
    kpm[1] = True  # sample 1 sees no key: NaN with need_weights (explicit softmax), 0 without
    _mha_parity({"embed_dim": E, "num_heads": 2}, {"key_padding_mask": kpm,
                                                   "need_weights": False}, [(5, 3, E)])
    mha = nn.MultiheadAttention(E, 2)
    x = cr.randn(5, 3, E)
    out, w = mha(x, x, x, key_padding_mask=cr.tensor(kpm))
    assert np.isnan(out._data[:, 1]).all() and np.isnan(w._data[1]).all()
    assert np.isfinite(out._data[:, [0, 2]]).all()


def test_mha_second_order_and_gradcheck_float64(seeded):
    mha = nn.MultiheadAttention(4, 2, dtype=cr.float64)
    x = cr.tensor(_randn(seeded, 3, 2, 4), requires_grad=True)
    assert gradcheck(lambda a, w: F.multi_head_attention_forward(
        a, a, a, 4, 2, w, mha.in_proj_bias, None, None, False, 0.0, mha.out_proj.weight,
        mha.out_proj.bias, need_weights=False)[0], (x, mha.in_proj_weight))
    assert gradgradcheck(lambda a: mha(a, a, a)[0], (x,))


def test_mha_parameters_init_and_state_dict_both_ways():
    cr.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    theirs = torch.nn.MultiheadAttention(16, 4, add_bias_kv=True)
    assert [n for n, _ in mha.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    bound = (6 / (16 + 48)) ** 0.5  # xavier_uniform_ on the (3E, E) in_proj_weight
    w = mha.in_proj_weight._data
    assert w.shape == (48, 16) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.all(mha.in_proj_bias._data == 0) and np.all(mha.out_proj.bias._data == 0)
    assert mha.bias_k.shape == (1, 1, 16) and mha.bias_k._data.std() > 0
    theirs.load_state_dict({k: torch.tensor(v._data) for k, v in mha.state_dict().items()})
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert list(sep.state_dict()) == list(
        torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False).state_dict())
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (8, 3)
    assert repr(sep) == repr(torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False))


def test_mha_errors_name_the_layer_and_shapes():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim must be divisible"):  # and a ValueError
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="num_heads must be a positive int"):
        nn.MultiheadAttention(8, 0)
    mha = nn.MultiheadAttention(8, 2)
    x = cr.zeros(5, 3, 8)
    with pytest.raises(AttentionShapeError, match=r"expecting embedding dimension of 8, but "
                                                  r"got 6"):
        mha(cr.zeros(5, 3, 6), cr.zeros(5, 3, 6), cr.zeros(5, 3, 6))
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(4, 4\), but should be \(5, 5\)"):
        mha(x, x, x, attn_mask=cr.zeros(4, 4))
    with pytest.raises(AssertionError, match=r"key_padding_mask of shape \(3, 5\) \(N, S\), "
                                             r"but got \(3, 4\)"):
        mha(x, x, x, key_padding_mask=cr.zeros(3, 4, dtype=cr.bool))
    with pytest.raises(AssertionError, match=r"key shape \(5, 3, 8\) does not match value"):
        mha(x, x, cr.zeros(4, 3, 8))
    with pytest.raises(AssertionError, match=r"query should be unbatched 2D or batched 3D"):
        mha(cr.zeros(8), cr.zeros(8), cr.zeros(8))
    with pytest.raises(RuntimeError, match=r"Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match=r"only bool and floating types of attn_mask"):
        mha(x, x, x, attn_mask=cr.zeros(5, 5, dtype=cr.int64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mha(x, x, x, key_padding_mask=cr.zeros(3, 5, dtype=cr.bool), attn_mask=cr.zeros(5, 5))
    assert any("mismatched key_padding_mask and attn_mask" in str(w.message) for w in caught)


def test_sdpa_fast_backward_equals_its_formula(seeded):
    """The op contract for the fused node (as tests/test_autograd_contract.py checks every
    fast path): the array backward equals the differentiable one, in float64, with a bool
    mask, a float mask, dropout and broadcast batch dimensions."""
    r = seeded
    q = cr.tensor(_randn(r, 2, 1, 3, 4), requires_grad=True)
    k = cr.tensor(_randn(r, 1, 2, 5, 4), requires_grad=True)
    v = cr.tensor(_randn(r, 1, 2, 5, 6), requires_grad=True)
    mask = _randn(r, 2, 1, 3, 5)
    mask[0, 0, 1] = -np.inf  # a dead row
    cases = [dict(attn_mask=cr.tensor(mask, requires_grad=True), dropout_p=0.3),
             dict(is_causal=True), dict(attn_mask=cr.tensor(r.random((3, 5)) > 0.3))]
    for kw in cases:
        y = F.scaled_dot_product_attention(q, k, v, **kw)
        node = y.grad_fn
        gy = _randn(r, *y.shape)
        fast = node.fast_backward(gy.copy())
        with cr.no_grad():
            formula = node.backward(cr.tensor(gy))
        for a, b in zip(fast, formula):
            assert (a is None) == (b is None)
            if a is not None:
                assert a.shape == b.shape and a.dtype == b.dtype
                np.testing.assert_allclose(a, b._data, rtol=1e-10, atol=1e-12)
