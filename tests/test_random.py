"""Random numbers as PyTorch's: Generator objects, seeding and state, a fresh seed per process,
each random op drawing with the same calls as PyTorch (the tutorial bridge relies on it), and
the samplers' shapes, dtypes, ranges and errors against torch."""
import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.random import Generator


def _np(dtype):
    return np.dtype(str(dtype).replace("torch.", ""))


class Recording(Generator):
    """A generator that records each of the five draws it makes."""

    def __init__(self):
        super().__init__()
        self.manual_seed(0)
        self.calls = []

    def _normal(self, shape, dtype):
        self.calls.append(("_normal", tuple(shape)))
        return super()._normal(shape, dtype)

    def _uniform(self, shape, dtype):
        self.calls.append(("_uniform", tuple(shape)))
        return super()._uniform(shape, dtype)

    def _integers(self, low, high, shape):
        self.calls.append(("_integers", low, high, tuple(shape)))
        return super()._integers(low, high, shape)

    def _permutation(self, n):
        self.calls.append(("_permutation", n))
        return super()._permutation(n)

    def _bernoulli(self, p, shape):
        self.calls.append(("_bernoulli", tuple(shape)))
        return super()._bernoulli(p, shape)


# ---------------------------------------------------------------------- Generator
def test_generator_seeding_as_torch():
    g, t = cr.Generator(), torch.Generator()
    assert g.device == t.device.type == "cpu" and repr(g.device) == repr(t.device)
    assert g.manual_seed(3) is g and g.initial_seed() == t.manual_seed(3).initial_seed() == 3
    assert g.manual_seed(-1).initial_seed() == t.manual_seed(-1).initial_seed() == 2 ** 64 - 1
    s = g.seed()
    assert s == g.initial_seed() and 0 <= s < 2 ** 64
    assert cr.manual_seed(5) is cr.default_generator and cr.initial_seed() == 5
    s = cr.seed()
    assert s == cr.initial_seed() == cr.default_generator.initial_seed()


def test_generator_refuses_other_devices_and_bad_seeds():
    with pytest.raises(RuntimeError, match="Generator: device 'cuda'"):
        cr.Generator("cuda")
    assert cr.Generator(cr.device("cpu")).device == "cpu"
    with pytest.raises(TypeError, match="seed must be an int"):
        cr.Generator().manual_seed(1.5)
    with pytest.raises(TypeError, match="generator must be a chainrule.Generator"):
        cr.randn(2, generator=torch.Generator())


def test_generator_streams_are_independent_and_reproducible():
    g = cr.Generator().manual_seed(1)
    state = cr.get_rng_state()
    a = [cr.randn(3, generator=g).tolist(), cr.rand(2, generator=g).tolist(),
         cr.randint(0, 9, (4,), generator=g).tolist(), cr.randperm(5, generator=g).tolist()]
    assert cr.get_rng_state() == state  # the default generator did not move
    g.manual_seed(1)
    b = [cr.randn(3, generator=g).tolist(), cr.rand(2, generator=g).tolist(),
         cr.randint(0, 9, (4,), generator=g).tolist(), cr.randperm(5, generator=g).tolist()]
    assert a == b
    assert cr.randn(3, generator=g.manual_seed(2)).tolist() != a[0]


def test_get_state_set_state_round_trip_restores_seed_too_as_torch():
    g = cr.Generator().manual_seed(5)
    state = g.get_state()
    x = cr.rand(4, generator=g).tolist()
    h = cr.Generator().manual_seed(7)
    assert h.set_state(state) is h and h.initial_seed() == 5  # as torch
    assert cr.rand(4, generator=h).tolist() == x
    t = torch.Generator().manual_seed(5)
    assert torch.Generator().manual_seed(7).set_state(t.get_state()).initial_seed() == 5
    c = g.clone_state()
    assert cr.randn(2, generator=c).tolist() == cr.randn(2, generator=g).tolist()
    with pytest.raises(TypeError, match="expected a state"):
        g.set_state([1, 2])


def test_rng_state_functions_accept_both_state_forms():
    cr.manual_seed(3)
    bare, full = cr.get_rng_state(), cr.default_generator.get_state()
    assert bare["bit_generator"] == "PCG64" and full["bit_generator"] == bare
    a = cr.randn(3).tolist()
    cr.set_rng_state(bare)
    assert cr.randn(3).tolist() == a
    cr.set_rng_state(full)
    assert cr.randn(3).tolist() == a


def test_fork_rng_restores_the_default_generator():
    state = cr.get_rng_state()
    with cr.random.fork_rng():
        cr.manual_seed(123)
        cr.randn(10)
    assert cr.get_rng_state() == state and cr.initial_seed() == 0
    with cr.random.fork_rng(enabled=False):
        cr.randn(1)
    assert cr.get_rng_state() != state
    with pytest.raises(RuntimeError, match="fork_rng: device 'cuda:0'"):
        with cr.random.fork_rng(devices=[0]):
            pass


def test_a_new_process_starts_from_a_random_seed():
    code = "import chainrule as cr; print(cr.initial_seed(), cr.randn(2).tolist())"
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert outs[0] != outs[1]


def test_dataloader_seed_idiom_as_torch():
    g = cr.Generator().manual_seed(0)
    seed = cr.empty((), dtype=cr.int64).random_(generator=g).item()
    assert isinstance(seed, int) and 0 <= seed < 2 ** 63


# ---------------------------------------------------------------------- the same calls as torch
CALLS = [  # (call given the generator, the draws PyTorch makes for it)
    (lambda g: cr.rand(2, 3, generator=g), [("_uniform", (2, 3))]),
    (lambda g: cr.randn((), generator=g), [("_normal", ())]),
    (lambda g: cr.rand_like(cr.ones(2), generator=g), [("_uniform", (2,))]),
    (lambda g: cr.randn_like(cr.ones(2), generator=g), [("_normal", (2,))]),
    (lambda g: cr.randint(3, 7, (2,), generator=g), [("_integers", 3, 7, (2,))]),
    (lambda g: cr.randint_like(cr.ones(2), 4, generator=g), [("_integers", 0, 4, (2,))]),
    (lambda g: cr.randperm(5, generator=g), [("_permutation", 5)]),
    (lambda g: cr.empty(2, 2).uniform_(-1, 1, generator=g), [("_uniform", (2, 2))]),
    (lambda g: cr.empty(3).normal_(0, 2, generator=g), [("_normal", (3,))]),
    (lambda g: cr.empty(3).bernoulli_(0.3, generator=g), [("_bernoulli", (3,))]),
    (lambda g: cr.empty(3).random_(10, generator=g), [("_integers", 0, 10, (3,))]),
    (lambda g: cr.empty((), dtype=cr.int64).random_(generator=g),
     [("_integers", 0, 2 ** 63, ())]),
    (lambda g: cr.empty(2).random_(generator=g), [("_integers", 0, 2 ** 24 + 1, (2,))]),
    (lambda g: cr.normal(cr.zeros(2, 1), cr.ones(3), generator=g), [("_normal", (2, 3))]),
    (lambda g: cr.normal(1.0, 2.0, (4,), generator=g), [("_normal", (4,))]),
    (lambda g: cr.bernoulli(cr.full((2,), 0.5), generator=g), [("_bernoulli", (2,))]),
    (lambda g: cr.multinomial(cr.ones(2, 4), 2, generator=g), [("_uniform", (2, 4))]),
    (lambda g: cr.multinomial(cr.ones(4), 3, True, generator=g), [("_uniform", (1, 3))]),
]


@pytest.mark.parametrize("call,expected", CALLS)
def test_each_random_op_draws_once_from_the_given_generator(call, expected):
    g = Recording()
    state = cr.get_rng_state()
    call(g)
    assert g.calls == expected
    assert cr.get_rng_state() == state


@pytest.mark.parametrize("call", [c for c, _ in CALLS])
def test_random_ops_use_the_default_generator_without_one(call, monkeypatch):
    g = Recording()
    monkeypatch.setattr(cr.random, "default_generator", g)
    call(None)
    assert len(g.calls) == 1


# ---------------------------------------------------------------------- in-place fills
def test_inplace_fills_ranges_and_dtypes():
    x = cr.empty(1000, dtype=cr.float64).uniform_(2, 5)
    assert x.dtype == np.float64 and 2 <= x.min().item() and x.max().item() < 5
    y = cr.empty(20000).normal_(3, 2)
    assert abs(y.mean().item() - 3) < 0.1 and abs(y.std().item() - 2) < 0.1
    b = cr.zeros(5, dtype=cr.int64).bernoulli_(cr.tensor([0.0, 1.0, 0.0, 1.0, 1.0]))
    assert b.dtype == np.int64 and b.tolist() == [0, 1, 0, 1, 1]
    r = cr.empty(1000, dtype=cr.uint8).random_()
    assert r.dtype == np.uint8 and r.numpy().max() > 200
    assert set(cr.empty(100).random_(3, 5).tolist()) == {3.0, 4.0}
    assert set(cr.empty(50, dtype=cr.bool).random_().tolist()) == {False, True}


@pytest.mark.parametrize("call", [
    lambda t: t.zeros(2, dtype=t.int64).uniform_(), lambda t: t.zeros(2).uniform_(2, 1),
    lambda t: t.zeros(2, dtype=t.int64).normal_(), lambda t: t.zeros(2).normal_(0, -1),
    lambda t: t.zeros(2).bernoulli_(1.5), lambda t: t.zeros(2).random_(5, 3),
    lambda t: t.zeros(2, dtype=t.uint8).random_(0, 1000),
    lambda t: t.zeros(2, requires_grad=True).uniform_(),
    lambda t: t.zeros(2, requires_grad=True).normal_(),
])
def test_inplace_fill_errors_are_runtime_errors_as_torch(call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError):
        call(cr)


def test_a_refused_fill_draws_nothing():
    g = Recording()
    with pytest.raises(RuntimeError):
        cr.zeros(2, requires_grad=True).normal_(generator=g)
    assert g.calls == []


# ---------------------------------------------------------------------- normal, bernoulli
@pytest.mark.parametrize("args", [
    lambda t: (t.zeros(3), 1.0), lambda t: (2.0, t.ones(3)),
    lambda t: (t.zeros(2, 1), t.ones(3)), lambda t: (t.zeros(3, dtype=t.float64), t.ones(3)),
    lambda t: (0.0, 1.0, (2, 3)),
])
def test_normal_shapes_and_dtypes_as_torch(args):
    ours, theirs = cr.normal(*args(cr)), torch.normal(*args(torch))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == _np(theirs.dtype)


def test_normal_statistics_and_errors():
    x = cr.normal(cr.full((20000,), 5.0), 0.5)
    assert abs(x.mean().item() - 5) < 0.05 and abs(x.std().item() - 0.5) < 0.05
    assert cr.normal(0.0, 1.0, (2,), dtype=cr.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        cr.normal(cr.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        torch.normal(torch.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match="do not broadcast"):
        cr.normal(cr.zeros(2), cr.ones(3))
    with pytest.raises(NotImplementedError):
        cr.normal(cr.zeros(2, dtype=cr.int64), 1.0)
    with pytest.raises(TypeError, match="size"):
        cr.normal(0.0, 1.0)


def test_bernoulli_as_torch():
    p = [0.0, 1.0, 1.0, 0.0]
    for dtype in ("float32", "float64"):
        ours = cr.bernoulli(cr.tensor(p, dtype=np.dtype(dtype)))
        theirs = torch.bernoulli(torch.tensor(p, dtype=getattr(torch, dtype)))
        assert ours.dtype == _np(theirs.dtype) and ours.tolist() == theirs.tolist()
    assert cr.bernoulli(cr.zeros(3), 1.0).tolist() == torch.bernoulli(torch.zeros(3), 1.0).tolist()
    assert abs(cr.bernoulli(cr.full((20000,), 0.3)).mean().item() - 0.3) < 0.02
    for bad in (lambda t: t.bernoulli(t.tensor([0.2, 1.5])),
                lambda t: t.bernoulli(t.tensor([0, 1]))):
        with pytest.raises(RuntimeError):
            bad(torch)
        with pytest.raises(RuntimeError):
            bad(cr)


# ---------------------------------------------------------------------- multinomial
@pytest.mark.parametrize("args", [
    lambda t: (t.tensor([1.0, 0.0, 2.0]), 2), lambda t: (t.tensor([1.0, 0.0, 2.0]), 3),
    lambda t: (t.ones(4, 5, dtype=t.float64), 5), lambda t: (t.tensor([1.0, 0.0, 2.0]), 7, True),
    lambda t: (t.ones(2, 3), 1, True),
])
def test_multinomial_shapes_and_dtypes_as_torch(args):
    ours, theirs = cr.multinomial(*args(cr)), torch.multinomial(*args(torch))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == _np(theirs.dtype)


def test_multinomial_without_replacement_draws_distinct_indices_positive_weights_first():
    out = cr.multinomial(cr.tensor([[1.0, 0.0, 2.0, 3.0]] * 50), 4).numpy()
    assert all(sorted(row) == [0, 1, 2, 3] for row in out)
    assert (out[:, 3] == 1).all()  # the zero-weight category comes last


def test_multinomial_frequencies_follow_the_weights():
    w = cr.tensor([1.0, 0.0, 3.0])
    with_repl = cr.multinomial(w, 20000, replacement=True).numpy()
    freq = np.bincount(with_repl, minlength=3) / 20000
    assert freq[1] == 0 and abs(freq[2] - 0.75) < 0.02
    first = cr.multinomial(w.expand(20000, 3), 1).numpy()[:, 0]
    assert abs((first == 2).mean() - 0.75) < 0.02 and not (first == 1).any()


@pytest.mark.parametrize("args", [
    lambda t: (t.tensor([1.0, 0.0, 2.0]), 0), lambda t: (t.tensor([1.0, -1.0, 2.0]), 1),
    lambda t: (t.tensor([0.0, 0.0]), 1), lambda t: (t.ones(2, 2, 2), 1),
    lambda t: (t.tensor([1, 2]), 1), lambda t: (t.tensor([1.0, float("nan")]), 1),
    lambda t: (t.tensor([1.0, 0.0, 2.0]), 4),
])
def test_multinomial_errors_as_torch(args):
    with pytest.raises(RuntimeError):
        torch.multinomial(*args(torch))
    with pytest.raises(RuntimeError, match="multinomial"):
        cr.multinomial(*args(cr))
