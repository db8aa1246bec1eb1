"""``chainrule.models.GPT`` and ``CharLSTM``: shapes, weight tying, the decay groups, sampling,
and the forward pass (and gradients) against PyTorch twins loaded with the same state_dict."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.models import GPT, CharLSTM, GPTConfig, build_model, decay_groups, sample_next

TINY = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16)


# -- the PyTorch twins (same layout and parameter names) ---------------------------------------

class TorchAttention(torch.nn.Module):
    def __init__(self, c: int, h: int, bias: bool) -> None:
        super().__init__()
        self.n_head = h
        self.c_attn = torch.nn.Linear(c, 3 * c, bias=bias)
        self.c_proj = torch.nn.Linear(c, c, bias=bias)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class TorchMLP(torch.nn.Module):
    def __init__(self, c: int, bias: bool) -> None:
        super().__init__()
        self.c_fc = torch.nn.Linear(c, 4 * c, bias=bias)
        self.gelu = torch.nn.GELU()
        self.c_proj = torch.nn.Linear(4 * c, c, bias=bias)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class TorchBlock(torch.nn.Module):
    def __init__(self, c: int, h: int, bias: bool) -> None:
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(c, bias=bias)
        self.attn = TorchAttention(c, h, bias)
        self.ln_2 = torch.nn.LayerNorm(c, bias=bias)
        self.mlp = TorchMLP(c, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(torch.nn.Module):
    """nanoGPT's model (no dropout), to load chainrule's state_dict."""

    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, bias=True, **_):
        super().__init__()
        self.transformer = torch.nn.ModuleDict(dict(
            wte=torch.nn.Embedding(vocab_size, n_embd),
            wpe=torch.nn.Embedding(block_size, n_embd),
            h=torch.nn.ModuleList([TorchBlock(n_embd, n_head, bias) for _ in range(n_layer)]),
            ln_f=torch.nn.LayerNorm(n_embd, bias=bias)))
        self.lm_head = torch.nn.Linear(n_embd, vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


class TorchCharLSTM(torch.nn.Module):
    def __init__(self, vocab_size, n_embd, hidden_size, num_layers, **_):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, n_embd)
        self.lstm = torch.nn.LSTM(n_embd, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, idx):
        return self.head(self.lstm(self.embedding(idx))[0])


def to_torch_state(model) -> dict:
    return {k: torch.from_numpy(np.array(v.detach().numpy(), dtype=np.float64))
            for k, v in model.state_dict().items()}


@pytest.fixture(autouse=True)
def seeded():
    cr.manual_seed(0)


# -- GPT ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (3, 8)])
def test_gpt_forward_and_grads_match_pytorch(shape, bias):
    model = GPT(**TINY, bias=bias).double()
    twin = TorchGPT(**TINY, bias=bias).double()
    twin.load_state_dict(to_torch_state(model))
    idx = np.random.default_rng(1).integers(0, TINY["vocab_size"], shape)
    logits = model(cr.tensor(idx))
    ref = twin(torch.from_numpy(idx))
    np.testing.assert_allclose(logits.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    # the loss's gradients, parameter by parameter (the tied weight gets both contributions)
    F.cross_entropy(logits.reshape(-1, TINY["vocab_size"]), cr.tensor(idx.reshape(-1))).backward()
    TF.cross_entropy(ref.reshape(-1, TINY["vocab_size"]), torch.from_numpy(idx.reshape(-1))) \
        .backward()
    theirs = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-7,
                                   atol=1e-10, err_msg=name)


def test_gpt_float32_matches_pytorch():
    model = GPT(**TINY)
    twin = TorchGPT(**TINY)
    twin.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy())
                          for k, v in model.state_dict().items()})
    idx = np.random.default_rng(2).integers(0, TINY["vocab_size"], (4, 8))
    out = model(cr.tensor(idx))
    assert out.dtype == cr.float32 and out.shape == (4, 8, TINY["vocab_size"])
    np.testing.assert_allclose(out.detach().numpy(), twin(torch.from_numpy(idx)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_gpt_weight_tying_and_state_dict_keys():
    model = GPT(**TINY)
    assert model.lm_head.weight is model.transformer.wte.weight
    keys = list(model.state_dict())
    assert "lm_head.weight" in keys and "transformer.wte.weight" in keys
    assert "transformer.h.1.attn.c_attn.weight" in keys and "transformer.h.0.mlp.c_fc.bias" in keys
    assert set(keys) == set(TorchGPT(**TINY).state_dict())
    # parameters() lists the tied weight once; the count is nanoGPT's formula
    c, v, t, n = TINY["n_embd"], TINY["vocab_size"], TINY["block_size"], TINY["n_layer"]
    per_block = (2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + (4 * c * c + 4 * c)
                 + (4 * c * c + c))
    assert model.num_parameters() == v * c + t * c + n * per_block + 2 * c
    # the residual projections are drawn smaller (GPT-2's init)
    std = model.transformer.h[0].attn.c_proj.weight.detach().numpy().std()
    assert std < 0.02 / math.sqrt(2 * n) * 1.5


def test_gpt_decay_groups_are_nanogpts():
    model = GPT(**TINY)
    decay, no_decay = decay_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"])
    assert all(p.ndim < 2 for p in no_decay["params"])
    ids = [id(p) for g in (decay, no_decay) for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=3e-4)
    assert type(opt).__name__ == "AdamW" and [g["weight_decay"] for g in opt.param_groups] \
        == [0.1, 0.0]


def test_gpt_trains_a_few_steps():
    model = GPT(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16)
    opt = model.configure_optimizers(weight_decay=0.0, learning_rate=1e-2)
    idx = cr.tensor(np.tile(np.arange(5), (4, 2))[:, :9])  # 0 1 2 3 4 0 1 2 3: predictable
    losses = []
    for _ in range(30):
        logits = model(idx[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 5), idx[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_gpt_dropout_only_in_training():
    model = GPT(**TINY, dropout=0.5)
    idx = cr.zeros(2, 8, dtype=cr.int64)
    model.eval()
    np.testing.assert_array_equal(model(idx).detach().numpy(), model(idx).detach().numpy())
    model.train()
    assert not np.array_equal(model(idx).detach().numpy(), model(idx).detach().numpy())


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_head=3), "n_head=3 must divide n_embd=16"),
    (dict(n_layer=0), "n_layer must be an int >= 1"),
    (dict(dropout=1.0), "dropout must be a number in"),
    (dict(vocab_size=True), "vocab_size must be an int"),
])
def test_gpt_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GPT(**{**TINY, **kwargs})


def test_gpt_bad_input():
    model = GPT(**TINY)
    with pytest.raises(ValueError, match=r"GPT: a sequence of 9 tokens is longer than "
                                         r"block_size=8"):
        model(cr.zeros(1, 9, dtype=cr.int64))
    with pytest.raises(ValueError, match=r"GPT: expected token ids of shape \(B, T\), got \(8,\)"):
        model(cr.zeros(8, dtype=cr.int64))
    with pytest.raises(ValueError, match="not both"):
        GPT(GPTConfig(), vocab_size=3)


def test_gpt_generate_is_deterministic_and_crops_the_context():
    model = GPT(**TINY)
    start = cr.zeros(2, 3, dtype=cr.int64)
    a = model.generate(start, 12, generator=cr.Generator().manual_seed(5))
    b = model.generate(start, 12, generator=cr.Generator().manual_seed(5))
    assert a.shape == (2, 15) and a.tolist() == b.tolist()  # longer than block_size: cropped
    assert model.training  # restored
    greedy = model.generate(start, 4, temperature=0)
    assert greedy.tolist() == model.generate(start, 4, temperature=0).tolist()


def test_sample_next_top_k_and_temperature():
    logits = cr.tensor([[0.0, 3.0, 2.0, -1.0]] * 200)
    draws = sample_next(logits, 1.0, top_k=2, generator=cr.Generator().manual_seed(0)).numpy()
    assert set(draws.ravel()) <= {1, 2} and draws.shape == (200, 1)
    assert sample_next(logits[:1], 0.0).tolist() == [[1]]
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_next(logits, -1.0)


# -- CharLSTM ----------------------------------------------------------------------------------

def test_charlstm_matches_pytorch():
    cfg = dict(vocab_size=9, n_embd=6, hidden_size=7, num_layers=2)
    model = CharLSTM(**cfg).double()
    twin = TorchCharLSTM(**cfg).double()
    twin.load_state_dict(to_torch_state(model))
    idx = np.random.default_rng(3).integers(0, 9, (3, 5))
    out = model(cr.tensor(idx))
    ref = twin(torch.from_numpy(idx))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    out.sum().backward()
    ref.sum().backward()
    theirs = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-7,
                                   atol=1e-10, err_msg=name)


def test_charlstm_state_carries_over():
    model = CharLSTM(vocab_size=9, n_embd=6, hidden_size=7, num_layers=1)
    idx = cr.tensor(np.random.default_rng(4).integers(0, 9, (2, 6)))
    whole = model(idx).detach().numpy()
    first, state = model.forward_with_state(idx[:, :4])
    rest, _ = model.forward_with_state(idx[:, 4:], state)
    joined = np.concatenate([first.detach().numpy(), rest.detach().numpy()], 1)
    np.testing.assert_allclose(joined, whole, rtol=1e-5, atol=1e-6)
    a = model.generate(idx[:, :2], 7, generator=cr.Generator().manual_seed(1))
    b = model.generate(idx[:, :2], 7, generator=cr.Generator().manual_seed(1))
    assert a.shape == (2, 9) and a.tolist() == b.tolist()


@pytest.mark.parametrize("kwargs, match", [(dict(hidden_size=0), "hidden_size must be"),
                                           (dict(dropout=-0.1), "dropout must be")])
def test_charlstm_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=f"CharLSTM: {match}"):
        CharLSTM(**kwargs)


def test_registry_builds_both():
    gpt = build_model("gpt", {"vocab_size": 7, "n_layer": 1, "n_embd": 8, "n_head": 2})
    lstm = build_model("lstm", {"vocab_size": 7, "hidden_size": 8})
    assert isinstance(gpt, GPT) and gpt.config.vocab_size == 7
    assert isinstance(lstm, CharLSTM) and lstm.head.out_features == 7
