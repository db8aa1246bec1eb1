"""Transformer layers, stacks and the full model against torch 2.13 with copied weights:
outputs, input and parameter gradients (eval mode, and train mode with dropout 0), post- and
pre-norm, relu/gelu/callable activations, batch_first, masks and the causal hint; state_dict
names both ways; generate_square_subsequent_mask; initialisation; errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import gradcheck

D, H, FF = 8, 2, 16
# torch's and ours: a bool padding mask beside a float attention mask (as PyTorch warns)
pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]


def _copy(ours: nn.Module, theirs: torch.nn.Module) -> None:
    """torch's weights into ours, then ours back into torch: the names match both ways."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v._data) for k, v in ours.state_dict().items()})


def _parity(ours: nn.Module, theirs: torch.nn.Module, shapes: list, call_o: dict = None,
            call_t: dict = None, train: bool = False, atol: float = 1e-4, seed: int = 0) -> None:
    r = np.random.default_rng(seed)
    _copy(ours, theirs)
    ours.train(train), theirs.train(train)
    arrays = [r.standard_normal(s).astype(np.float32) for s in shapes]
    xo = [cr.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    yo, yt = ours(*xo, **(call_o or {})), theirs(*xt, **(call_t or {}))
    np.testing.assert_allclose(yo._data, yt.detach().numpy(), atol=atol, rtol=1e-4)
    g = r.standard_normal(yt.shape).astype(np.float32)
    yo.backward(cr.tensor(g)), yt.backward(torch.tensor(g))
    for a, b in zip(xo, xt):
        np.testing.assert_allclose(a.grad._data, b.grad.numpy(), atol=atol, rtol=1e-4)
    for (name, p), (tname, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad._data, q.grad.numpy(), atol=atol, rtol=1e-4,
                                   err_msg=name)


def _masks(length: int, batch: int) -> tuple:
    """(causal mask, key padding mask) in chainrule and in torch."""
    kpm = np.zeros((batch, length), bool)
    kpm[:, -1] = True
    return (nn.Transformer.generate_square_subsequent_mask(length), cr.tensor(kpm),
            torch.nn.Transformer.generate_square_subsequent_mask(length), torch.tensor(kpm))


def _seq(batch_first: bool, length: int, batch: int) -> tuple:
    return (batch, length, D) if batch_first else (length, batch, D)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    kw = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, activation=activation,
              batch_first=batch_first, norm_first=norm_first)
    ours, theirs = nn.TransformerEncoderLayer(**kw), torch.nn.TransformerEncoderLayer(**kw)
    _parity(ours, theirs, [_seq(batch_first, 5, 3)], train=True)
    m, kpm, mt, kpmt = _masks(5, 3)
    _parity(ours, theirs, [_seq(batch_first, 5, 3)],
            {"src_mask": m, "src_key_padding_mask": kpm, "is_causal": True},
            {"src_mask": mt, "src_key_padding_mask": kpmt, "is_causal": True})


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, batch_first):
    kw = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, activation="gelu",
              batch_first=batch_first, norm_first=norm_first)
    ours, theirs = nn.TransformerDecoderLayer(**kw), torch.nn.TransformerDecoderLayer(**kw)
    shapes = [_seq(batch_first, 4, 3), _seq(batch_first, 5, 3)]
    _parity(ours, theirs, shapes, train=True)
    m, _, mt, _ = _masks(4, 3)
    _, kpm, _, kpmt = _masks(5, 3)
    _parity(ours, theirs, shapes,
            {"tgt_mask": m, "memory_key_padding_mask": kpm, "tgt_is_causal": True},
            {"tgt_mask": mt, "memory_key_padding_mask": kpmt, "tgt_is_causal": True})


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_stack_matches_torch_with_mask_and_unbatched(batch_first):
    kw = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, batch_first=batch_first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's enable_nested_tensor warning
        theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), 2,
                                             norm=torch.nn.LayerNorm(D))
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), 2, norm=nn.LayerNorm(D))
    m, kpm, mt, kpmt = _masks(5, 3)
    _parity(ours, theirs, [_seq(batch_first, 5, 3)], {"mask": m, "src_key_padding_mask": kpm},
            {"mask": mt, "src_key_padding_mask": kpmt})
    _parity(ours, theirs, [(5, D)], {"mask": m}, {"mask": mt})  # unbatched (S, E)
    _parity(ours, theirs, [_seq(batch_first, 1, 1)])  # length 1, batch 1


def test_decoder_stack_and_transformer_match_torch():
    kw = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(**kw), 2, norm=nn.LayerNorm(D))
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(**kw), 2,
                                         norm=torch.nn.LayerNorm(D))
    m, _, mt, _ = _masks(4, 3)
    _parity(ours, theirs, [(4, 3, D), (5, 3, D)], {"tgt_mask": m}, {"tgt_mask": mt})
    for norm_first, bf in ((False, False), (True, True)):
        kw2 = dict(kw, num_encoder_layers=2, num_decoder_layers=1, norm_first=norm_first,
                   batch_first=bf)
        ours, theirs = nn.Transformer(**kw2), torch.nn.Transformer(**kw2)
        m, _, mt, _ = _masks(4, 2)
        _, kpm, _, kpmt = _masks(5, 2)
        _parity(ours, theirs, [_seq(bf, 5, 2), _seq(bf, 4, 2)],
                {"tgt_mask": m, "src_key_padding_mask": kpm},
                {"tgt_mask": mt, "src_key_padding_mask": kpmt})


def test_callable_activation_and_no_bias_match_torch():
    kw = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, bias=False)
    _parity(nn.TransformerEncoderLayer(activation=nn.Tanh(), **kw),
            torch.nn.TransformerEncoderLayer(activation=torch.nn.Tanh(), **kw), [(5, 3, D)])
    layer = nn.TransformerEncoderLayer(activation=nn.functional.gelu, **kw)
    assert layer.activation_relu_or_gelu == 2 and layer.norm1.bias is None


def test_default_dropout_is_active_in_training_only():
    layer = nn.TransformerEncoderLayer(D, H, FF)  # dropout 0.1
    x = cr.randn(5, 3, D)
    a, b = layer(x), layer(x)
    assert not np.allclose(a._data, b._data)
    layer.eval()
    np.testing.assert_array_equal(layer(x)._data, layer(x)._data)


def test_gradcheck_float64_encoder_layer():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=cr.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 2, 4)), requires_grad=True)
    m = nn.Transformer.generate_square_subsequent_mask(3, dtype=cr.float64)
    assert gradcheck(lambda a: layer(a, src_mask=m), (x,))


def test_generate_square_subsequent_mask_and_causal_detection():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(m._data, t.numpy())
    assert m.dtype == np.float32 and nn.Transformer.generate_square_subsequent_mask(0).shape \
        == (0, 0)
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=cr.float64).dtype == \
        np.float64
    from chainrule.nn.transformer import _detect_is_causal_mask
    assert _detect_is_causal_mask(m) and not _detect_is_causal_mask(cr.zeros(4, 4))
    assert _detect_is_causal_mask(None, True) and not _detect_is_causal_mask(m, False)


def test_structure_names_and_init_as_torch():
    kw = dict(d_model=D, nhead=H, num_encoder_layers=2, num_decoder_layers=1,
              dim_feedforward=FF)
    ours, theirs = nn.Transformer(**kw), torch.nn.Transformer(**kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    # xavier_uniform_ on every matrix (linear1.weight: fan_in D, fan_out FF)
    w = ours.encoder.layers[0].linear1.weight._data
    assert np.abs(w).max() <= (6 / (D + FF)) ** 0.5
    l0, l1 = ours.encoder.layers
    assert l0.linear1.weight is not l1.linear1.weight  # clones, not shared
    assert not np.array_equal(l0.linear1.weight._data, l1.linear1.weight._data)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 1,
                                enable_nested_tensor=True)
    assert enc.enable_nested_tensor and not enc.use_nested_tensor


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, H, FF, activation="tanh")
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerEncoderLayer(D, 3, FF)
    model = nn.Transformer(D, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt must be equal"):
        model(cr.zeros(5, 3, D), cr.zeros(4, 2, D))
    with pytest.raises(RuntimeError, match=r"feature number of src and tgt must be equal to "
                                           r"d_model=8"):
        model(cr.zeros(5, 3, 6), cr.zeros(4, 3, 6))
    layer = nn.TransformerEncoderLayer(D, H, FF)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: src of shape \(5, 3, 6\)"):
        layer(cr.zeros(5, 3, 6))
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(4, 4\), but should be \(5, 5\)"):
        layer(cr.zeros(5, 3, D), src_mask=cr.zeros(4, 4))
    with pytest.raises(ValueError, match="num_layers must be a non-negative int"):
        nn.TransformerEncoder(layer, -1)
