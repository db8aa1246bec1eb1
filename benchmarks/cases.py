"""The benchmark cases, each written once as a function of the framework.

As in :mod:`chainrule.testing.parity`, a case's work is written against the API chainrule and
PyTorch share, with ``lib`` either module (``lib.nn.functional.conv2d(x, w, b, padding=2)``).
A ``setup(fw, settings, **options)`` function builds the inputs from a seeded NumPy generator
(the same arrays for both frameworks) and returns a :class:`~benchmarks.framework.Runner`
whose ``step`` is the timed work and whose ``reset`` zeroes the gradients.

The two models are chainrule's own (``chainrule.models.LeNet5`` and ``MLP``: what users
train). PyTorch runs their mirror, :func:`lenet5` / :func:`mlp`, written once against the
shared ``nn`` API with the same layer names, and starts from chainrule's initial weights;
``tests/test_benchmarks.py`` checks that the mirrors match the real models.
"""
from __future__ import annotations

import functools
import time
from collections import OrderedDict
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .framework import CHAINRULE, PYTORCH, Case, Framework, Runner, Settings, Variant

SEED = 0
BATCH_SIZE = 64
LR = 0.05  # `chainrule train`'s default for SGD
MOMENTUM = 0.9


def _rng(name: str) -> np.random.Generator:
    """A generator seeded by the case name: the same arrays in both frameworks."""
    return np.random.default_rng([SEED, *name.encode()])


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ============================================================================ runners
class GradRunner(Runner):
    """``forward()`` then ``backward(grad_output)``; the inputs' gradients are cleared first.

    Args:
        forward: builds the output from the inputs (closes over them).
        inputs: every tensor whose gradient is wanted (inputs and parameters).
        grad_output: the upstream gradient, made once, outside the timed region.
        impl: chainrule's convolution kernel for the block (ignored by PyTorch).
        fw: the framework (for ``impl``).
    """

    def __init__(self, forward: Callable[[], Any], inputs: Sequence[Any], grad_output: Any,
                 fw: Optional[Framework] = None, impl: Optional[str] = None) -> None:
        self.forward, self.inputs, self.grad_output = forward, list(inputs), grad_output
        self.fw, self.impl = fw, impl

    def reset(self) -> None:
        for t in self.inputs:
            t.grad = None

    def step(self) -> None:
        if self.fw is None:
            self.forward().backward(self.grad_output)
            return
        with self.fw.conv_impl(self.impl):
            self.forward().backward(self.grad_output)


class RepeatRunner(Runner):
    """``calls`` forward+backward passes of a :class:`GradRunner` (gradients cleared each)."""

    def __init__(self, inner: GradRunner, calls: int) -> None:
        self.inner, self.calls = inner, calls

    def step(self) -> None:
        for _ in range(self.calls):
            self.inner.reset()
            self.inner.step()


class TrainStepRunner(Runner):
    """One optimisation step: ``zero_grad``, forward, loss, backward, ``optimizer.step``."""

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable[[Any, Any], Any],
                 x: Any, y: Any) -> None:
        self.model, self.optimizer, self.loss_fn, self.x, self.y = model, optimizer, loss_fn, x, y

    def step(self) -> None:
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()


class ChainRunner(Runner):
    """A chain of ``n`` elementwise ops on a one-element tensor, then backward through it.

    The ops cycle through ``y * c``, ``y + c``, ``sin(y)`` and ``tanh(y)`` (values stay
    bounded); ``step`` returns the forward and backward times separately.
    """

    def __init__(self, fw: Framework, n: int) -> None:
        self.lib, self.n = fw.lib, n
        self.x = fw.tensor(np.array(0.5, np.float32), requires_grad=True)  # 0-d
        self.c = fw.tensor(np.array(1.0001, np.float32))
        lib, c = fw.lib, self.c
        self.ops: tuple[Callable[[Any], Any], ...] = (
            lambda y: y * c, lambda y: y + c, lib.sin, lib.tanh)

    def reset(self) -> None:
        self.x.grad = None

    def forward(self) -> Any:
        """The chain's forward pass: its last tensor (the graph hangs on it)."""
        ops, k = self.ops, len(self.ops)
        y = self.x
        for i in range(self.n):
            y = ops[i % k](y)
        return y

    def step(self) -> dict[str, float]:
        t0 = time.perf_counter()
        y = self.forward()
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        return {"forward": t1 - t0, "backward": t2 - t1}


class EpochRunner(Runner):
    """One training epoch through ``chainrule.training.train_one_epoch`` (both frameworks).

    The loop is chainrule's (the one ``chainrule train`` runs); it only calls the shared API
    (``model(x)``, ``loss.item()``, ``optimizer.zero_grad()``, ``loss.backward()``...), so
    PyTorch's model and optimizer go through the very same code.
    """

    WARMUP_BATCHES = 3

    def __init__(self, model: Any, optimizer: Any, loss_fn: Any,
                 batches: Sequence[tuple[Any, Any]]) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.batches = list(batches)

    def _epoch(self, batches: Sequence[tuple[Any, Any]]) -> None:
        from chainrule.training import train_one_epoch

        train_one_epoch(self.model, batches, self.loss_fn, self.optimizer, progress=False)

    def step(self) -> None:
        self._epoch(self.batches)

    def warm_up(self) -> None:
        self._epoch(self.batches[:self.WARMUP_BATCHES])


# ============================================================================ models
def lenet5(lib: Any, num_classes: int = 10, dropout: float = 0.3) -> Any:
    """LeNet-5 as ``chainrule.models.LeNet5`` defines it, in ``lib.nn`` (same layer names).

    Example:
        >>> import chainrule as cr
        >>> sum(p.numel() for p in lenet5(cr).parameters())
        61990
    """
    nn = lib.nn
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 6, kernel_size=5, padding=2)), ("bn1", nn.BatchNorm2d(6)),
        ("act1", nn.Tanh()), ("pool1", nn.MaxPool2d(2)),                 # (N, 6, 14, 14)
        ("conv2", nn.Conv2d(6, 16, kernel_size=5)), ("bn2", nn.BatchNorm2d(16)),
        ("act2", nn.Tanh()), ("pool2", nn.MaxPool2d(2)),                 # (N, 16, 5, 5)
        ("conv3", nn.Conv2d(16, 120, kernel_size=5)), ("bn3", nn.BatchNorm2d(120)),
        ("act3", nn.Tanh()), ("flatten", nn.Flatten()),                  # (N, 120)
        ("fc1", nn.Linear(120, 84)), ("dropout", nn.Dropout(dropout)),
        ("act4", nn.Tanh()), ("fc2", nn.Linear(84, num_classes)),        # (N, num_classes)
    ]))


def mlp(lib: Any, sizes: Sequence[int] = (784, 256, 128, 10)) -> Any:
    """The ReLU MLP of ``chainrule.models.MLP`` in ``lib.nn`` (layers ``fc1``, ``act1``...)."""
    layers: list[tuple[str, Any]] = []
    n_layers = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        layers.append((f"fc{i}", lib.nn.Linear(n_in, n_out)))
        if i < n_layers:
            layers.append((f"act{i}", lib.nn.ReLU()))
    return lib.nn.Sequential(OrderedDict(layers))


def gpt(lib: Any, vocab_size: int = 65, block_size: int = 64, n_layer: int = 4,
        n_head: int = 4, n_embd: int = 128, bias: bool = True, dropout: float = 0.0) -> Any:
    """``chainrule.models.GPT`` in ``lib.nn`` (nanoGPT's layout and parameter names, the
    lm head tied to the token embedding), without dropout.

    Example:
        >>> import chainrule as cr
        >>> m = gpt(cr, vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)
        >>> m(cr.zeros(2, 5, dtype=cr.int64)).shape
        (2, 5, 11)
    """
    nn, F = lib.nn, lib.nn.functional

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
            # (B, T, C) -> (B, nh, T, hs) each
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

        def forward(self, x: Any) -> Any:
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(n_embd, bias=bias), Attention()
            self.ln_2, self.mlp = nn.LayerNorm(n_embd, bias=bias), MLP()

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab_size, n_embd), wpe=nn.Embedding(block_size, n_embd),
                h=nn.ModuleList([Block() for _ in range(n_layer)]),
                ln_f=nn.LayerNorm(n_embd, bias=bias)))
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx: Any) -> Any:
            x = self.transformer.wte(idx) + self.transformer.wpe(lib.arange(idx.shape[1]))
            for block in self.transformer.h:
                x = block(x)  # (B, T, C)
            return self.lm_head(self.transformer.ln_f(x))  # (B, T, V)

    return GPT()


def numpy_state(model: Any) -> dict[str, np.ndarray]:
    """A model's state dict as NumPy copies (works for both frameworks)."""
    return {k: np.array(v.detach().numpy(), copy=True) for k, v in model.state_dict().items()}


def load_numpy_state(model: Any, state: dict[str, np.ndarray], fw: Framework) -> None:
    """Load ``state`` into ``model``; every parameter must be there (extra buffers such as
    PyTorch's ``num_batches_tracked`` keep their own values).

    Raises:
        KeyError: a parameter of ``model`` is missing from ``state``.
    """
    missing = [k for k, _ in model.named_parameters() if k not in state]
    if missing:
        raise KeyError(f"no initial value for parameter(s) {missing}")
    own = model.state_dict()
    model.load_state_dict({k: fw.tensor(state[k]) if k in state else v for k, v in own.items()})


def build_model(fw: Framework, name: str, **kwargs: Any) -> Any:
    """chainrule's real model, or its PyTorch mirror starting from the same weights."""
    import chainrule
    from chainrule import models

    real = {"lenet5": models.LeNet5, "mlp": models.MLP, "gpt": models.GPT}[name]
    chainrule.manual_seed(SEED)
    ours = real(**kwargs)
    if fw.name == "chainrule":
        return ours
    mirror = {"lenet5": lenet5, "mlp": mlp, "gpt": gpt}[name](fw.lib, **kwargs)
    load_numpy_state(mirror, numpy_state(ours), fw)
    return mirror


# ============================================================================ setups
def _sized(settings: Settings, full: int, tiny: int) -> int:
    return tiny if settings.tiny else full


def setup_conv(fw: Framework, settings: Settings, *, name: str, n: int, c: int, h: int,
               oc: int, k: int, pad: int, tiny_c: Optional[int] = None,
               tiny_oc: Optional[int] = None, impl: Optional[str] = None) -> GradRunner:
    """conv2d forward + backward, gradients for input, weight and bias."""
    rng = _rng(name)
    n = _sized(settings, n, min(n, 2))
    c = _sized(settings, c, tiny_c or c)
    oc = _sized(settings, oc, tiny_oc or oc)
    x = fw.tensor(_normal(rng, n, c, h, h), requires_grad=True)  # (N, C, H, W)
    w = fw.tensor(_normal(rng, oc, c, k, k, scale=(c * k * k) ** -0.5), requires_grad=True)
    b = fw.tensor(_normal(rng, oc), requires_grad=True)
    oh = h + 2 * pad - k + 1
    gy = fw.tensor(_normal(rng, n, oc, oh, oh))  # (N, OC, OH, OW)
    F = fw.lib.nn.functional
    return GradRunner(lambda: F.conv2d(x, w, b, padding=pad), [x, w, b], gy, fw, impl)


def setup_maxpool(fw: Framework, settings: Settings) -> GradRunner:
    """max_pool2d 2x2 on (64, 6, 28, 28), gradient for the input."""
    rng = _rng("maxpool")
    n = _sized(settings, 64, 2)
    x = fw.tensor(_normal(rng, n, 6, 28, 28), requires_grad=True)
    gy = fw.tensor(_normal(rng, n, 6, 14, 14))
    F = fw.lib.nn.functional
    return GradRunner(lambda: F.max_pool2d(x, 2), [x], gy)


def setup_batchnorm(fw: Framework, settings: Settings) -> GradRunner:
    """BatchNorm2d(16) in training mode on (64, 16, 10, 10): gradients for x, weight, bias."""
    rng = _rng("batchnorm")
    n = _sized(settings, 64, 2)
    bn = fw.lib.nn.BatchNorm2d(16)
    bn.train()
    x = fw.tensor(_normal(rng, n, 16, 10, 10), requires_grad=True)
    gy = fw.tensor(_normal(rng, n, 16, 10, 10))
    return GradRunner(lambda: bn(x), [x, bn.weight, bn.bias], gy)


def setup_mlp(fw: Framework, settings: Settings) -> TrainStepRunner:
    """A 784-256-128-10 MLP train step with cross-entropy at batch 128 and SGD."""
    rng = _rng("mlp")
    n = _sized(settings, 128, 4)
    model = build_model(fw, "mlp", sizes=(784, 256, 128, 10))
    x = fw.tensor(_normal(rng, n, 784))
    y = fw.tensor(rng.integers(0, 10, n).astype(np.int64))
    opt = fw.lib.optim.SGD(model.parameters(), lr=LR)
    return TrainStepRunner(model, opt, fw.lib.nn.functional.cross_entropy, x, y)


class ProductRunner(Runner):
    """``calls`` matrix products ``a @ b`` with no graph (the BLAS library's own speed)."""

    def __init__(self, a: Any, b: Any, calls: int) -> None:
        self.a, self.b, self.calls = a, b, calls

    def step(self) -> None:
        for _ in range(self.calls):
            self.a @ self.b


def setup_gemm(fw: Framework, settings: Settings) -> ProductRunner:
    """(128, 784) @ (784, 256) float32, 20 times, no autograd: the MLP's first layer GEMM.

    chainrule's products are NumPy's (OpenBLAS here), PyTorch's are MKL's: this row is the
    floor the matrix library sets under the GEMM-bound cases (the MLP, the large 3x3 conv).
    """
    rng = _rng("gemm")
    n = _sized(settings, 128, 4)
    a = fw.tensor(_normal(rng, n, 784))
    b = fw.tensor(_normal(rng, 784, 256))
    return ProductRunner(a, b, 20)


def chain_ops(settings: Settings) -> int:
    return _sized(settings, 1000, 20)


def setup_chain(fw: Framework, settings: Settings) -> ChainRunner:
    """1,000 elementwise ops on a one-element tensor: the graph's per-op overhead."""
    return ChainRunner(fw, chain_ops(settings))


def epoch_images(settings: Settings) -> int:
    return len(epoch_batches(_epoch_limit(settings))[1])


def _epoch_limit(settings: Settings) -> Optional[int]:
    return 2 * BATCH_SIZE if settings.tiny else settings.epoch_images


@functools.lru_cache(maxsize=2)
def epoch_batches(limit: Optional[int]) -> tuple[tuple[tuple[np.ndarray, np.ndarray], ...],
                                                  np.ndarray]:
    """Fashion-MNIST training batches (normalised, shuffled once, seed 0), as arrays.

    Returns:
        ``(batches, labels)``: the ``(x (B, 1, 28, 28) float32, y (B,) int64)`` batches and
        all labels (whose length is the image count).
    """
    from chainrule.data import DataLoader, numpy_collate
    from chainrule.training import load_split

    dataset = load_split("fashion-mnist", train=True, limit=limit)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, seed=SEED,
                        collate_fn=numpy_collate)
    batches = tuple((np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.int64))
                    for x, y in loader)
    return batches, np.concatenate([y for _, y in batches])


def setup_epoch(fw: Framework, settings: Settings) -> EpochRunner:
    """A LeNet-5 training epoch on Fashion-MNIST: batch 64, SGD momentum 0.9."""
    batches, _ = epoch_batches(_epoch_limit(settings))
    fw.manual_seed(SEED)  # dropout masks
    model = build_model(fw, "lenet5")
    opt = fw.lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    data = [(fw.tensor(x), fw.tensor(y)) for x, y in batches]
    return EpochRunner(model, opt, fw.lib.nn.CrossEntropyLoss(), data)


IMPL_CALLS = 100


def impl_calls(settings: Settings) -> int:
    return _sized(settings, IMPL_CALLS, 2)


def setup_impl(fw: Framework, settings: Settings, impl: Optional[str] = None) -> RepeatRunner:
    """100 conv2d forward+backward calls on a 3x3 input, 16 filters 3x3, padding 1."""
    inner = setup_conv(fw, settings, name="impls", n=1, c=1, h=3, oc=16, k=3, pad=1,
                       impl=impl)
    return RepeatRunner(inner, impl_calls(settings))


# ---------------------------------------------------------------------------- sequences
def setup_layernorm(fw: Framework, settings: Settings) -> GradRunner:
    """LayerNorm(256) on (64, 128, 256): gradients for x, weight and bias."""
    rng = _rng("layernorm")
    n = _sized(settings, 64, 2)
    norm = fw.lib.nn.LayerNorm(256)
    x = fw.tensor(_normal(rng, n, 128, 256), requires_grad=True)  # (B, T, C)
    gy = fw.tensor(_normal(rng, n, 128, 256))
    return GradRunner(lambda: norm(x), [x, norm.weight, norm.bias], gy)


def setup_embedding(fw: Framework, settings: Settings) -> GradRunner:
    """Embedding(10,000, 128) looked up at (64, 128) indices: the weight's gradient (an index
    add of 8,192 rows into a (10,000, 128) zero matrix)."""
    rng = _rng("embedding")
    n = _sized(settings, 64, 2)
    emb = fw.lib.nn.Embedding(10_000, 128)
    idx = fw.tensor(rng.integers(0, 10_000, (n, 128)).astype(np.int64))  # (B, T)
    gy = fw.tensor(_normal(rng, n, 128, 128))  # (B, T, C)
    return GradRunner(lambda: emb(idx), [emb.weight], gy)


def setup_lstm(fw: Framework, settings: Settings) -> GradRunner:
    """A 2-layer LSTM, input and hidden 200, on (35, 20, 200) (T, B, C): forward and backward
    through time, gradients for the input and the 16 weight and bias tensors."""
    rng = _rng("lstm")
    t, n = _sized(settings, 35, 3), _sized(settings, 20, 2)
    net = fw.lib.nn.LSTM(200, 200, num_layers=2)
    x = fw.tensor(_normal(rng, t, n, 200), requires_grad=True)  # (T, B, C)
    gy = fw.tensor(_normal(rng, t, n, 200))
    return GradRunner(lambda: net(x)[0], [x, *net.parameters()], gy)


def setup_attention(fw: Framework, settings: Settings) -> GradRunner:
    """Causal scaled_dot_product_attention on (8, 4, 128, 32) (B, heads, T, head dim):
    gradients for q, k and v."""
    rng = _rng("attention")
    n, t = _sized(settings, 8, 1), _sized(settings, 128, 8)
    q, k, v = (fw.tensor(_normal(rng, n, 4, t, 32), requires_grad=True) for _ in range(3))
    gy = fw.tensor(_normal(rng, n, 4, t, 32))
    F = fw.lib.nn.functional
    return GradRunner(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                      [q, k, v], gy)


def setup_gpt(fw: Framework, settings: Settings) -> TrainStepRunner:
    """One GPT training step (4 layers, 4 heads, width 128, block 64, batch 8, 65 characters):
    cross-entropy of every position's next token, AdamW."""
    rng = _rng("gpt")
    n, t = _sized(settings, 8, 2), _sized(settings, 64, 8)
    shape = dict(vocab_size=65, block_size=64, n_layer=_sized(settings, 4, 1), n_head=4,
                 n_embd=_sized(settings, 128, 16))
    model = build_model(fw, "gpt", **shape)
    ids = rng.integers(0, 65, (n, t + 1)).astype(np.int64)  # (B, T + 1)
    x, y = fw.tensor(ids[:, :-1]), fw.tensor(ids[:, 1:])  # inputs and next tokens, (B, T)
    opt = fw.lib.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    F = fw.lib.nn.functional
    return TrainStepRunner(model, opt, lambda logits, target: F.cross_entropy(
        logits.reshape(-1, 65), target.reshape(-1)), x, y)  # (B*T, V) against (B*T,)


def _conv_case(key: str, title: str, target: float, **shape: Any) -> Case:
    return Case(key=key, groups=("conv",), title=title, target=target, memory=True,
                setup=functools.partial(setup_conv, name=key, **shape))


CASES: tuple[Case, ...] = (
    _conv_case("conv1", "conv2d (64,1,28,28) 6x5x5 pad 2", 1.5,
               n=64, c=1, h=28, oc=6, k=5, pad=2),
    _conv_case("conv2", "conv2d (64,6,14,14) 16x5x5", 1.5,
               n=64, c=6, h=14, oc=16, k=5, pad=0, tiny_oc=4),
    _conv_case("conv3", "conv2d (64,16,5,5) 120x5x5", 1.5,
               n=64, c=16, h=5, oc=120, k=5, pad=0, tiny_c=3, tiny_oc=4),
    _conv_case("conv3x3", "conv2d (32,64,32,32) 64x3x3 pad 1", 2.0,
               n=32, c=64, h=32, oc=64, k=3, pad=1, tiny_c=3, tiny_oc=4),
    Case(key="maxpool", groups=("pool",), title="max_pool2d 2x2 (64,6,28,28)",
         setup=setup_maxpool, target=1.5, memory=True),
    Case(key="batchnorm", groups=("bn", "norm"), title="BatchNorm2d train (64,16,10,10)",
         setup=setup_batchnorm, target=1.5, memory=True),
    Case(key="mlp", groups=("train",), title="MLP 784-256-128-10 step, batch 128",
         setup=setup_mlp, target=1.5, memory=True),
    Case(key="gemm", groups=("blas",), title="reference: 20 sgemm (128,784)@(784,256), no graph",
         setup=setup_gemm),
    Case(key="chain", groups=("overhead",), title="1,000-op chain, fwd+bwd per op",
         setup=setup_chain, kind="per_unit", units=chain_ops, unit_name="op", target=1.5,
         phases=("forward", "backward")),
    Case(key="epoch", groups=("lenet", "train"), title="LeNet-5 epoch, Fashion-MNIST",
         setup=setup_epoch, kind="throughput", units=epoch_images, unit_name="img",
         target=1.5, memory=True, mem_target=1.5, repeat_cap=3),
    Case(key="layernorm", groups=("norm", "seq"), title="LayerNorm(256) fwd+bwd (64,128,256)",
         setup=setup_layernorm, target=1.5, memory=True),
    Case(key="embedding", groups=("seq",), title="Embedding(10000,128) bwd, 64x128 indices",
         setup=setup_embedding, target=1.5, memory=True),
    Case(key="lstm", groups=("seq",), title="LSTM 2 layers 200-200, (35,20) fwd+bwd",
         setup=setup_lstm, target=1.5, memory=True),
    Case(key="attention", groups=("seq",), title="causal SDPA (8,4,128,32) fwd+bwd",
         setup=setup_attention, target=1.5, memory=True),
    Case(key="gpt", groups=("seq", "train"), title="GPT 4x128 step, batch 8, block 64",
         setup=setup_gpt, target=1.5, memory=True),
    Case(key="impls", groups=("conv",), table="impls", kind="per_unit", units=impl_calls,
         unit_name="call", setup=setup_impl,
         title="conv2d kernels: (1,1,3,3) input, 16 filters 3x3, pad 1, 100 fwd+bwd calls",
         variants=tuple(Variant(name, "chainrule", (("impl", name),))
                        for name in ("naive", "im2col", "fast")) + (PYTORCH,)),
)
"""Every case, in table order (``--cases`` selects by key or group)."""

__all__ = ["CASES", "lenet5", "mlp", "gpt", "build_model", "numpy_state", "load_numpy_state",
           "epoch_batches", "CHAINRULE", "PYTORCH"]
