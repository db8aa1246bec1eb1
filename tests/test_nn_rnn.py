"""nn.RNN, nn.LSTM, nn.GRU and the cells against torch: outputs, final states, input, initial
state and every parameter gradient (and second order), on hypothesis shapes (batch 1, length
1, empty batch); packed sequences; dropout between layers; saturated gates; state dicts both
ways; gradcheck in float64; and the errors, raised as torch raises them."""
from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Optional

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn.rnn import FusedLSTMCell, lstm_layer_composed, lstm_step_composed
from chainrule.ops.recurrent import LSTMLayer, split_with_sizes
from chainrule.testing import gradcheck, gradgradcheck

LAYERS = ("RNN", "LSTM", "GRU")
CELLS = ("RNNCell", "LSTMCell", "GRUCell")


@pytest.fixture(autouse=True)
def _seed() -> None:
    cr.manual_seed(0)
    torch.manual_seed(0)


def copy_from_torch(ours: nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})


def _flat(out: Any) -> list:
    """The tensors of a layer's result: output (a PackedSequence's data) and states."""
    if isinstance(out, (tuple, list)) and not hasattr(out, "batch_sizes"):
        return [t for o in out for t in _flat(o)]
    return [out.data] if hasattr(out, "batch_sizes") else [out]


def _hx(lib: Any, hx: Any, rg: bool = True) -> Any:
    if hx is None:
        return None
    if isinstance(hx, tuple):
        return tuple(_hx(lib, h, rg) for h in hx)
    return lib.tensor(hx, requires_grad=rg)


def module_parity(ours: nn.Module, theirs: torch.nn.Module, x: np.ndarray, hx: Any = None,
                  call: Optional[Callable] = None, second_order: bool = False,
                  atol: float = 1e-10, rtol: float = 1e-7) -> None:
    """torch's weights copied in; then the outputs, the gradients of the input, the initial
    states and every parameter (and, with ``second_order``, the gradients of ``sum(grads *
    w)``) compared with torch's."""
    copy_from_torch(ours, theirs)
    call = call or (lambda lib, m, a, h: m(a, h))
    results = []
    for lib, m in ((cr, ours), (torch, theirs)):
        grad = cr.autograd.grad if lib is cr else torch.autograd.grad
        xi = lib.tensor(x, requires_grad=True)
        hi = _hx(lib, hx)
        leaves = [xi] + ([] if hi is None else list(hi) if isinstance(hi, tuple) else [hi])
        leaves += list(m.parameters())
        outs = _flat(call(lib, m, xi, hi))
        r = np.random.default_rng(1)
        vs = [lib.tensor(r.standard_normal(tuple(o.shape)).astype(_dtype(o))) for o in outs]
        grads = grad(outs, leaves, grad_outputs=vs, allow_unused=True,
                     create_graph=second_order)
        second = None
        if second_order:
            ws = [lib.tensor(r.standard_normal(tuple(p.shape)).astype(_dtype(p)))
                  for p in leaves]
            s = sum((g * w).sum() for g, w in zip(grads, ws) if g is not None)
            second = grad(s, leaves, allow_unused=True)
        results.append((outs, grads, second))
    params = [n for n, _ in ours.named_parameters()]
    assert params == [n for n, _ in theirs.named_parameters()]
    n_states = len(results[0][1]) - 1 - len(params)
    names = ["input"] + [f"hx[{k}]" for k in range(n_states)] + params
    (oo, og, os_), (to, tg, ts) = results
    for k, (a, b) in enumerate(zip(oo, to)):
        assert a._data.dtype == _dtype(b) and a.shape == tuple(b.shape), f"output {k}"
        np.testing.assert_allclose(a._data, b.detach().numpy(), atol=atol, rtol=rtol,
                                   err_msg=f"output {k}")
    for which, ours_g, theirs_g in (("grad", og, tg), ("2nd-order grad", os_, ts)):
        if theirs_g is None:
            continue
        for name, a, b in zip(names, ours_g, theirs_g):
            if b is None:
                assert a is None or not np.any(a._data), f"{which} of {name}"
                continue
            assert a is not None, f"{which} of {name}: torch has one, ours is None"
            np.testing.assert_allclose(a._data, b.detach().numpy(), atol=atol, rtol=rtol,
                                       err_msg=f"{which} of {name}")


def _dtype(t: Any) -> np.dtype:
    return t._data.dtype if isinstance(t, cr.Tensor) else t.detach().numpy().dtype


def pair(kind: str, *args: Any, **kwargs: Any) -> tuple[nn.Module, torch.nn.Module]:
    """The same layer in both libraries (torch's in float64 where kwargs ask, weights
    copied by module_parity)."""
    dtype = kwargs.pop("dtype", None)
    ours = getattr(nn, kind)(*args, dtype=dtype, **kwargs)
    theirs = getattr(torch.nn, kind)(*args, **kwargs)
    if dtype is not None:  # (numpy: float64 == None is True)
        theirs = theirs.double()
    return ours, theirs


def initial_state(kind: str, rng: np.random.Generator, ld: int, batch: Optional[int],
                  h: int, p: int = 0) -> Any:
    lead = (ld,) if batch is None else (ld, batch)
    h0 = rng.standard_normal(lead + (p or h,))
    return (h0, rng.standard_normal(lead + (h,))) if kind == "LSTM" else h0


# ============================================================================ layers vs torch
@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(LAYERS), steps=st.integers(1, 3), batch=st.integers(0, 3),
       c=st.integers(1, 3), h=st.integers(1, 3), layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       with_hx=st.booleans(), seed=st.integers(0, 2**16))
def test_layers_match_torch_on_hypothesis_shapes(kind, steps, batch, c, h, layers,
                                                 bidirectional, batch_first, bias, with_hx,
                                                 seed):
    rng = np.random.default_rng(seed)
    ours, theirs = pair(kind, c, h, layers, bias=bias, batch_first=batch_first,
                        bidirectional=bidirectional, dtype=cr.float64)
    shape = (batch, steps, c) if batch_first else (steps, batch, c)
    hx = initial_state(kind, rng, layers * (1 + bidirectional), batch, h) if with_hx else None
    module_parity(ours, theirs, rng.standard_normal(shape), hx)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(kind, batch_first):
    rng = np.random.default_rng(0)
    ours, theirs = pair(kind, 3, 4, 2, bidirectional=True, batch_first=batch_first,
                        dtype=cr.float64)
    module_parity(ours, theirs, rng.standard_normal((5, 3)))
    module_parity(ours, theirs, rng.standard_normal((5, 3)),
                  initial_state(kind, rng, 4, None, 4))


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "bidirectional": True},
                                    {"bias": False, "batch_first": True}])
def test_lstm_proj_size_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    ours, theirs = pair("LSTM", 3, 5, proj_size=2, dtype=cr.float64, **kwargs)
    ld = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    shape = (2, 4, 3) if kwargs.get("batch_first") else (4, 2, 3)
    module_parity(ours, theirs, rng.standard_normal(shape),
                  initial_state("LSTM", rng, ld, 2, 5, p=2))


def test_relu_rnn_matches_torch_and_float32_too():
    rng = np.random.default_rng(0)
    ours, theirs = pair("RNN", 3, 4, 2, nonlinearity="relu", dtype=cr.float64)
    module_parity(ours, theirs, rng.standard_normal((5, 2, 3)))
    for kind in LAYERS:  # float32, torch's default (its LSTM goes through oneDNN)
        ours, theirs = pair(kind, 6, 8, 2, bidirectional=True)
        module_parity(ours, theirs, rng.standard_normal((7, 3, 6)).astype(np.float32),
                      atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", LAYERS)
def test_second_order_matches_torch(kind):
    rng = np.random.default_rng(0)
    ours, theirs = pair(kind, 2, 3, 2, bidirectional=True, dtype=cr.float64)
    module_parity(ours, theirs, rng.standard_normal((3, 2, 2)),
                  initial_state(kind, rng, 4, 2, 3), second_order=True)


def test_lstm_proj_second_order_matches_torch():
    rng = np.random.default_rng(0)
    ours, theirs = pair("LSTM", 2, 3, proj_size=2, dtype=cr.float64)
    module_parity(ours, theirs, rng.standard_normal((3, 2, 2)), second_order=True)


@pytest.mark.parametrize("kind", LAYERS)
def test_gradcheck_and_gradgradcheck_float64(kind):
    layer = getattr(nn, kind)(2, 2, 2, bidirectional=True, dtype=cr.float64)
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 2, 2)), requires_grad=True)
    params = list(layer.parameters())

    def f(x: cr.Tensor, *_: cr.Tensor) -> cr.Tensor:
        out, state = layer(x)
        return out.tanh().sum() + sum(s.sum() for s in _flat(state))

    assert gradcheck(f, [x] + params[:4])
    assert gradgradcheck(f, [x] + params[:2])


# ============================================================================ packed sequences
def _packed_call(lengths: list[int], enforce_sorted: bool, batch_first: bool = False
                 ) -> Callable:
    def call(lib: Any, m: Any, x: Any, h: Any) -> Any:
        rnn = lib.nn.utils.rnn
        packed = rnn.pack_padded_sequence(x, lengths, batch_first=batch_first,
                                          enforce_sorted=enforce_sorted)
        out, state = m(packed, h)
        assert type(out).__name__ == "PackedSequence"
        assert out.batch_sizes.tolist() == packed.batch_sizes.tolist()
        padded, lens = rnn.pad_packed_sequence(out, batch_first=batch_first)
        assert lens.tolist() == list(lengths)
        return padded, state
    return call


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(LAYERS), lengths=st.lists(st.integers(1, 4), min_size=1,
                                                       max_size=4),
       bidirectional=st.booleans(), layers=st.integers(1, 2), with_hx=st.booleans(),
       batch_first=st.booleans(), seed=st.integers(0, 2**16))
def test_packed_sequences_match_torch(kind, lengths, bidirectional, layers, with_hx,
                                      batch_first, seed):
    rng = np.random.default_rng(seed)
    ours, theirs = pair(kind, 2, 3, layers, bidirectional=bidirectional,
                        batch_first=batch_first, dtype=cr.float64)
    shape = (len(lengths), max(lengths), 2) if batch_first else (max(lengths), len(lengths), 2)
    hx = initial_state(kind, rng, layers * (1 + bidirectional), len(lengths), 3) \
        if with_hx else None
    module_parity(ours, theirs, rng.standard_normal(shape), hx,
                  call=_packed_call(lengths, enforce_sorted=False, batch_first=batch_first))


def test_packed_sorted_lstm_with_projection_matches_torch():
    rng = np.random.default_rng(0)
    ours, theirs = pair("LSTM", 2, 4, 2, bidirectional=True, proj_size=3, dtype=cr.float64)
    module_parity(ours, theirs, rng.standard_normal((5, 3, 2)),
                  initial_state("LSTM", rng, 4, 3, 4, p=3),
                  call=_packed_call([5, 3, 1], enforce_sorted=True), second_order=True)


def test_packed_final_state_is_each_sequences_last_step():
    gru = nn.GRU(2, 3, dtype=cr.float64)
    seqs = [cr.randn(n, 2, dtype=cr.float64) for n in (2, 4, 1)]
    out, h_n = gru(nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False))
    for b, s in enumerate(seqs):
        alone, h_alone = gru(s)  # unbatched: (L, C)
        np.testing.assert_allclose(h_n._data[0, b], h_alone._data[0], atol=1e-12)
        np.testing.assert_allclose(nn.utils.rnn.unpack_sequence(out)[b]._data, alone._data,
                                   atol=1e-12)


# ============================================================================ dropout, saturation
@pytest.mark.parametrize("kind", LAYERS)
def test_dropout_one_between_layers_matches_torch_and_spares_the_last_layer(kind):
    # p = 1 drops everything deterministically: layer 2 sees zeros, in training only
    rng = np.random.default_rng(0)
    ours, theirs = pair(kind, 3, 4, 3, dropout=1.0, dtype=cr.float64)
    x = rng.standard_normal((4, 2, 3))
    module_parity(ours, theirs, x)
    out, _ = ours(cr.tensor(x))
    assert np.any(out._data != 0)  # no dropout after the last layer
    ours.eval(), theirs.eval()
    module_parity(ours, theirs, x)


def test_dropout_draws_a_mask_in_training_only_and_warns_for_one_layer():
    lstm = nn.LSTM(3, 4, 2, dropout=0.5)
    x = cr.randn(5, 2, 3)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(a._data, b._data)  # two masks
    lstm.eval()
    np.testing.assert_array_equal(lstm(x)[0]._data, lstm(x)[0]._data)
    with pytest.warns(UserWarning, match=r"non-zero dropout expects num_layers greater than 1, "
                                         r"but got dropout=0.5 and num_layers=1"):
        nn.GRU(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GRU(3, 4, 2, dropout=0.5)
    assert "dropout=0.5" in repr(lstm) and repr(lstm) == repr(torch.nn.LSTM(3, 4, 2,
                                                                            dropout=0.5))


@pytest.mark.parametrize("kind", LAYERS + CELLS)
def test_saturated_gates_stay_finite_and_match_torch(kind):
    rng = np.random.default_rng(0)
    ours, theirs = pair(kind, 3, 4)
    with torch.no_grad():
        for p in theirs.parameters():
            p.mul_(300.0)  # pre-activations in the thousands: every gate saturated
    x = rng.standard_normal((5, 2, 3) if kind in LAYERS else (2, 3)).astype(np.float32) * 50
    module_parity(ours, theirs, x, atol=1e-3, rtol=1e-4)
    copy_from_torch(ours, theirs)
    xo = cr.tensor(x, requires_grad=True)
    out = ours(xo)
    sum(t.sum() for t in _flat(out)).backward()
    assert np.all(np.isfinite(xo.grad._data))
    assert all(np.all(np.isfinite(p.grad._data)) for p in ours.parameters())


# ============================================================================ cells
@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(kind, batched, bias):
    rng = np.random.default_rng(0)
    ours, theirs = pair(kind, 3, 4, bias=bias, dtype=cr.float64)
    x = rng.standard_normal((2, 3) if batched else (3,))
    h = rng.standard_normal((2, 4) if batched else (4,))
    hx = (h, rng.standard_normal(h.shape)) if kind == "LSTMCell" else h
    module_parity(ours, theirs, x, call=lambda lib, m, a, _: m(a))
    module_parity(ours, theirs, x, hx, second_order=True)


def test_relu_cell_empty_batch_and_repr_match_torch():
    rng = np.random.default_rng(0)
    ours, theirs = pair("RNNCell", 3, 4, nonlinearity="relu", dtype=cr.float64)
    module_parity(ours, theirs, rng.standard_normal((3, 3)), rng.standard_normal((3, 4)))
    module_parity(ours, theirs, np.zeros((0, 3)))
    for kind, args, kw in (("RNNCell", (3, 4), {"bias": False, "nonlinearity": "relu"}),
                           ("LSTMCell", (3, 4), {}), ("GRUCell", (2, 5), {"bias": False})):
        assert repr(getattr(nn, kind)(*args, **kw)) == repr(getattr(torch.nn, kind)(*args,
                                                                                    **kw))


def test_cell_gradcheck_float64():
    rng = np.random.default_rng(0)
    for cell in (nn.LSTMCell(2, 3, dtype=cr.float64), nn.GRUCell(2, 3, dtype=cr.float64),
                 nn.RNNCell(2, 3, dtype=cr.float64)):
        x = cr.tensor(rng.standard_normal((2, 2)), requires_grad=True)
        h = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)

        def f(x: cr.Tensor, h: cr.Tensor, *_: cr.Tensor) -> cr.Tensor:
            out = cell(x, (h, h * 0.5) if isinstance(cell, nn.LSTMCell) else h)
            return sum(t.sum() for t in _flat(out))

        assert gradcheck(f, [x, h] + list(cell.parameters()))
        assert gradgradcheck(f, [x, h])


# ============================================================================ parameters
@pytest.mark.parametrize("kind,kwargs", [("RNN", {"num_layers": 2, "bidirectional": True}),
                                         ("LSTM", {"num_layers": 2, "proj_size": 2}),
                                         ("GRU", {"bias": False, "bidirectional": True}),
                                         ("LSTMCell", {}), ("GRUCell", {"bias": False})])
def test_parameters_are_named_shaped_and_initialised_as_torch(kind, kwargs):
    ours, theirs = pair(kind, 3, 5, **kwargs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert all(p.dtype == np.float32 for p in ours.parameters())
    bound = 1 / np.sqrt(5)
    values = np.concatenate([p._data.ravel() for p in ours.parameters()])
    assert values.min() >= -bound and values.max() <= bound and values.std() > bound / 3
    assert repr(ours) == repr(theirs)
    if kind in LAYERS:
        assert [[tuple(p.shape) for p in ps] for ps in ours.all_weights] == \
            [[tuple(p.shape) for p in ps] for ps in theirs.all_weights]


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("kind", LAYERS)
def test_state_dict_loads_both_ways(kind):
    rng = np.random.default_rng(0)
    kw = {"proj_size": 2} if kind == "LSTM" else {}
    ours, theirs = pair(kind, 3, 4, 2, bidirectional=True, batch_first=True, **kw)
    theirs.load_state_dict({k: torch.from_numpy(v._data.copy())
                            for k, v in ours.state_dict().items()})  # chainrule -> torch
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    out_o, _ = ours(cr.tensor(x))
    out_t, _ = theirs(torch.tensor(x))
    np.testing.assert_allclose(out_o._data, out_t.detach().numpy(), atol=2e-6)
    fresh = getattr(nn, kind)(3, 4, 2, bidirectional=True, batch_first=True, **kw)
    fresh.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(fresh(cr.tensor(x))[0]._data, out_o._data, atol=0)


def test_double_and_reset_parameters():
    lstm = nn.LSTM(2, 3, 2).double()
    out, (h, c) = lstm(cr.randn(4, 1, 2, dtype=cr.float64))
    assert out.dtype == h.dtype == c.dtype == np.float64
    before = lstm.weight_hh_l1._data.copy()
    lstm.reset_parameters()
    assert not np.array_equal(before, lstm.weight_hh_l1._data)
    lstm.flatten_parameters()


# ============================================================================ split_with_sizes
def test_split_with_sizes_is_one_node_whose_backward_is_a_cat():
    x = cr.tensor(np.arange(12.0).reshape(6, 2), requires_grad=True)
    a, b, c = split_with_sizes(x, [1, 3, 2])
    assert a.grad_fn is b.grad_fn and a.grad_fn.name() == "SplitWithSizesBackward0"
    assert a.grad_fn.name() == torch.split(torch.zeros(6, 2, requires_grad=True),
                                           [1, 3, 2])[0].grad_fn.name()
    (b.sum() * 2).backward()  # a and c get no gradient: zeros in their rows
    np.testing.assert_array_equal(x.grad._data[:, 0], [0, 2, 2, 2, 0, 0])
    _, b, c = split_with_sizes(x, [1, 3, 2])
    (g,) = cr.autograd.grad((b * b).sum() + c.sum(), x, create_graph=True)
    (gg,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(gg._data[:, 1], [0, 2, 2, 2, 0, 0])
    with pytest.raises(ValueError, match=r"sizes \[1, 2\] do not sum to 6"):
        split_with_sizes(x, [1, 2])


# ============================================================================ fused LSTM cell
@pytest.mark.parametrize("scale", [1.0, 30.0])  # 30: saturated gates
def test_fused_lstm_cell_equals_its_composed_twin(scale):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) * k for s, k in (((3, 8), scale), ((3, 8), scale),
                                                       ((3, 2), 1.0))]
    up = [cr.tensor(rng.standard_normal((3, 2))) for _ in range(2)]
    ws = [cr.tensor(rng.standard_normal(a.shape)) for a in arrays]
    results = []
    for fused in (True, False):
        gi, gh, c = (cr.tensor(a, requires_grad=True) for a in arrays)
        if fused:
            outs = FusedLSTMCell()(gi, gh, c)
        else:
            outs = lstm_step_composed(gi, (None, c), lambda _: gh)
        assert outs[0].grad_fn is not None
        fast = cr.autograd.grad(outs, [gi, gh, c], up, retain_graph=True)  # the array path
        only_h = cr.autograd.grad(outs[0].sum(), [gi, gh, c], retain_graph=True)
        first = cr.autograd.grad(outs, [gi, gh, c], up, create_graph=True)  # the formula
        second = cr.autograd.grad(sum((g * w).sum() for g, w in zip(first, ws)), [gi, gh, c])
        results.append([*outs, *fast, *first, *second, *only_h])
    for k, (a, b) in enumerate(zip(*results)):
        assert np.all(np.isfinite(a._data)), k
        np.testing.assert_allclose(a._data, b._data, rtol=1e-12, atol=1e-12, err_msg=str(k))
    assert FusedLSTMCell()(*[cr.tensor(a, requires_grad=True) for a in arrays])[0] \
        .grad_fn.name() == "ThnnFusedLstmCellBackward0"


def test_fused_lstm_cell_gradcheck_float64():
    rng = np.random.default_rng(1)
    inputs = [cr.tensor(rng.standard_normal(s), requires_grad=True)
              for s in ((2, 8), (2, 8), (2, 2))]
    assert gradcheck(lambda *t: FusedLSTMCell()(*t), inputs)
    assert gradgradcheck(lambda *t: FusedLSTMCell()(*t), inputs)


@pytest.mark.parametrize("scale, bias, steps, H", [(1.0, True, 4, 2), (30.0, True, 3, 2),
                                                   (1.0, False, 1, 2), (1.0, False, 2, 1)])
def test_lstm_layer_equals_its_composed_twin(scale, bias, steps, H):
    """One node for the whole layer: outputs, the first-order array path, the formula and
    the second order equal the step-by-step composition's; W_hh is never written (with
    H = 1 its transpose is already contiguous: a scaled copy must still be a copy)."""
    rng = np.random.default_rng(2)
    B = 3
    shapes = [(steps * B, 4 * H), (4 * H, H), (4 * H,), (B, H), (B, H)]
    arrays = [rng.standard_normal(s) * (scale if k < 2 else 1.0) for k, s in enumerate(shapes)]
    if not bias:
        arrays[2] = None
    up = [cr.tensor(rng.standard_normal(s)) for s in ((steps * B, H), (B, H), (B, H))]
    ws = [cr.tensor(rng.standard_normal(a.shape)) for a in arrays if a is not None]
    results = []
    for fused in (True, False):
        xs = [None if a is None else cr.tensor(a, requires_grad=True) for a in arrays]
        outs = (LSTMLayer(steps) if fused else lstm_layer_composed)(*xs)
        np.testing.assert_array_equal(xs[1].detach().numpy(), arrays[1])  # W_hh untouched
        wrt = [x for x in xs if x is not None]
        fast = cr.autograd.grad(outs, wrt, up, retain_graph=True)  # the array path
        first = cr.autograd.grad(outs, wrt, up, create_graph=True)  # the formula
        second = cr.autograd.grad(sum((g * w).sum() for g, w in zip(first, ws)), wrt)
        results.append([*outs, *fast, *first, *second])
    for k, (a, b) in enumerate(zip(*results)):
        assert np.all(np.isfinite(a._data)), k
        np.testing.assert_allclose(a._data, b._data, rtol=1e-10, atol=1e-10, err_msg=str(k))


def test_lstm_layer_gradcheck_float64_and_is_what_nn_lstm_runs():
    rng = np.random.default_rng(3)
    inputs = [cr.tensor(rng.standard_normal(s), requires_grad=True)
              for s in ((6, 8), (8, 2), (8,), (2, 2), (2, 2))]
    assert gradcheck(lambda *t: LSTMLayer(3)(*t), inputs)
    assert gradgradcheck(lambda *t: LSTMLayer(3)(*t), inputs)
    out, _ = nn.LSTM(3, 4)(cr.randn(5, 2, 3))  # (T, B, H), a view of the layer's (T*B, H)
    assert out.grad_fn.next_functions[0][0].name() == "LSTMLayerBackward0"


# ============================================================================ errors
def same_error(build: Callable[[Any], Any], pattern: str) -> None:
    """torch raises; chainrule raises something catchable as torch's class, matching."""
    with pytest.raises(Exception) as theirs:
        build(torch)
    with pytest.raises(type(theirs.value), match=pattern):
        build(cr)


@pytest.mark.parametrize("kind", LAYERS)
def test_forward_errors_match_torch(kind):
    lstm = kind == "LSTM"

    def hx(lib: Any, *shape: int) -> Any:
        return (lib.zeros(*shape), lib.zeros(*shape)) if lstm else lib.zeros(*shape)

    def layer(lib: Any, **kw: Any) -> Any:
        return getattr(lib.nn, kind)(3, 4, **kw)

    same_error(lambda lib: layer(lib)(lib.zeros(2, 2, 2, 3)),
               f"{kind}: Expected input to be 2D or 3D, got 4D")
    same_error(lambda lib: layer(lib)(lib.zeros(5, 2, 4)),
               r"input.size\(-1\) must be equal to input_size. Expected 3, got 4")
    same_error(lambda lib: layer(lib)(lib.zeros(5, 2, 3, dtype=lib.float64)),
               r"RNN input dtype \(.*float64\) does not match weight dtype \(.*float32\)")
    same_error(lambda lib: layer(lib)(lib.zeros(5, 2, 3), hx(lib, 1, 3, 4)),
               re.escape("Expected hidden[0] size (1, 2, 4), got [1, 3, 4]") if lstm else
               re.escape("Expected hidden size (1, 2, 4), got [1, 3, 4]"))
    same_error(lambda lib: layer(lib)(lib.zeros(5, 2, 3), hx(lib, 2, 4)),
               "For batched 3-D input, hx")
    same_error(lambda lib: layer(lib)(lib.zeros(5, 3), hx(lib, 1, 1, 4)),
               "For unbatched 2-D input, hx")
    same_error(lambda lib: layer(lib)(lib.zeros(0, 2, 3)),
               "Expected sequence length to be larger than 0")


def test_lstm_cell_state_size_error_matches_torch():
    same_error(lambda lib: lib.nn.LSTM(3, 4)(lib.zeros(5, 2, 3),
                                            (lib.zeros(1, 2, 4), lib.zeros(1, 2, 5))),
               re.escape("Expected hidden[1] size (1, 2, 4), got [1, 2, 5]"))


def test_constructor_errors_match_torch():
    same_error(lambda lib: lib.nn.RNN(3, 4, nonlinearity="sigmoid"),
               "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'.")
    same_error(lambda lib: lib.nn.GRU(3, 4, proj_size=2),
               "proj_size argument is only supported for LSTM, not RNN or GRU")
    same_error(lambda lib: lib.nn.LSTM(3, 4, proj_size=4),
               "proj_size has to be smaller than hidden_size")
    same_error(lambda lib: lib.nn.LSTM(3, 4, proj_size=-1),
               "proj_size should be a positive integer or zero")
    same_error(lambda lib: lib.nn.LSTM(3, 4, dropout=1.5), "dropout should be a number in "
                                                           r"range \[0, 1\]")
    same_error(lambda lib: lib.nn.LSTM(3, 0), "hidden_size must be greater than zero")
    same_error(lambda lib: lib.nn.LSTM(0, 3), "input_size must be greater than zero")
    same_error(lambda lib: lib.nn.LSTM(3, 4, num_layers=0), "num_layers must be greater than "
                                                            "zero")
    same_error(lambda lib: lib.nn.LSTM(3.0, 4), "input_size should be of type int")
    same_error(lambda lib: lib.nn.GRU(3, 4, bias=1), "bias should be of type bool")
    same_error(lambda lib: lib.nn.GRU(3, 4, batch_first=None), "batch_first should be of type "
                                                               "bool")


def test_cell_errors_match_torch():
    same_error(lambda lib: lib.nn.RNNCell(3, 4)(lib.zeros(2, 5)),
               "input has inconsistent input_size: got 5 expected 3")
    same_error(lambda lib: lib.nn.LSTMCell(3, 4)(lib.zeros(2, 3),
                                                (lib.zeros(3, 4), lib.zeros(2, 4))),
               "Input batch size 2 doesn't match hidden0 batch size 3")
    same_error(lambda lib: lib.nn.GRUCell(3, 4)(lib.zeros(2, 3), lib.zeros(2, 5)),
               "hidden0 has inconsistent hidden_size: got 5, expected 4")
    same_error(lambda lib: lib.nn.LSTMCell(3, 4)(lib.zeros(2, 3),
                                                (lib.zeros(2, 4), lib.zeros(2, 5))),
               "hidden1 has inconsistent hidden_size: got 5, expected 4")
    same_error(lambda lib: lib.nn.GRUCell(3, 4)(lib.zeros(1, 2, 3)),
               "GRUCell: Expected input to be 1D or 2D, got 3D instead")
    same_error(lambda lib: lib.nn.RNNCell(3, 4)(lib.zeros(2, 3), lib.zeros(1, 2, 4)),
               "RNNCell: Expected hidden to be 1D or 2D, got 3D instead")
    same_error(lambda lib: lib.nn.LSTMCell(3, 4)(lib.zeros(3), (lib.zeros(4),
                                                               lib.zeros(1, 1, 4))),
               r"LSTMCell: Expected hx\[1\] to be 1D or 2D, got 3D instead")
    with pytest.raises(ValueError, match="RNNCell: Unknown nonlinearity: sigmoid"):
        nn.RNNCell(3, 4, nonlinearity="sigmoid")  # torch waits for the forward


@pytest.mark.usefixtures("kernel_mode")  # compiled float32 gates (rational tanh), then NumPy
def test_float32_lstm_layer_matches_torch_on_both_paths():
    rng = np.random.default_rng(4)
    theirs = torch.nn.LSTM(5, 6, num_layers=2)
    ours = nn.LSTM(5, 6, num_layers=2)
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((7, 3, 5)).astype(np.float32) * 3
    outs = []
    for lib, m in ((cr, ours), (torch, theirs)):
        xi = lib.tensor(x, requires_grad=True)
        y, (h, c) = m(xi)
        (y.sum() + h.sum() + c.sum()).backward()
        outs.append([t.detach().numpy() for t in (y, h, c, xi.grad)] +
                    [p.grad.numpy() for p in m.parameters()])
    for k, (a, b) in enumerate(zip(*outs)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg=str(k))
