"""The random bridge: chainrule's Generators draw PyTorch's numbers (tutorial tests only).

PyTorch and chainrule use different random streams, so a tutorial that initialises a model or
shuffles data prints different numbers in each. Every random number in chainrule comes from
five draws of :class:`chainrule.random.Generator` (``_normal``, ``_uniform``, ``_integers``,
``_permutation``, ``_bernoulli``). :func:`install` replaces those five with calls to a
``torch.Generator`` that each chainrule Generator owns, seeded with the same seed whenever the
chainrule one is (``manual_seed``; ``__init__`` and ``seed()`` go through it). So chainrule
draws PyTorch's very numbers wherever it draws with the same calls in the same order as PyTorch.

The draw -> PyTorch call table (a chainrule op that draws like PyTorch calls the draw on the
left where PyTorch calls the function on the right):

==============================  =========================================================
``_normal(shape, dtype)``       ``torch.randn(shape, dtype=dtype, generator=g)``
``_uniform(shape, dtype)``      ``torch.rand(shape, dtype=dtype, generator=g)``
``_integers(low, high, shape)`` ``torch.randint(low, high, shape, generator=g)``;
                                ``_integers(0, 2**63, shape)`` is
                                ``torch.empty(shape, dtype=torch.int64).random_(generator=g)``
                                (how ``RandomSampler`` and the DataLoader iterator draw seeds)
``_permutation(n)``             ``torch.randperm(n, generator=g)``
``_bernoulli(p, shape)``        ``torch.empty(shape).bernoulli_(p, generator=g)`` (number p);
                                ``torch.bernoulli(p, generator=g)`` (array p, its dtype kept)
==============================  =========================================================

Example (run by hand; needs torch):
    >>> import torch, chainrule
    >>> uninstall = install(chainrule.random.Generator)
    >>> _ = chainrule.manual_seed(0); _ = torch.manual_seed(0)
    >>> chainrule.random.default_generator._normal((3,), "float32").tolist() == \\
    ...     torch.randn(3).tolist()
    True
    >>> uninstall()
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

INT64_RANGE = 2 ** 63  # _integers(0, INT64_RANGE, ...): torch's random_() on int64


def _torch_dtype(dtype: Any) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype


def _shape(shape: Any) -> tuple:
    return (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)


def _normal(self: Any, shape: Any, dtype: Any) -> np.ndarray:
    return torch.randn(_shape(shape), dtype=_torch_dtype(dtype),
                       generator=self._torch_gen).numpy()


def _uniform(self: Any, shape: Any, dtype: Any) -> np.ndarray:
    return torch.rand(_shape(shape), dtype=_torch_dtype(dtype),
                      generator=self._torch_gen).numpy()


def _integers(self: Any, low: int, high: int, shape: Any) -> np.ndarray:
    shape = _shape(shape)
    if int(low) == 0 and int(high) == INT64_RANGE:
        out = torch.empty(shape, dtype=torch.int64).random_(generator=self._torch_gen)
    else:
        out = torch.randint(int(low), int(high), shape, generator=self._torch_gen)
    return out.numpy()


def _permutation(self: Any, n: int) -> np.ndarray:
    return torch.randperm(int(n), generator=self._torch_gen).numpy()


def _bernoulli(self: Any, p: Any, shape: Any) -> np.ndarray:
    shape = _shape(shape)
    if np.ndim(p) == 0:
        out = torch.empty(shape).bernoulli_(float(p), generator=self._torch_gen)
    else:
        probs = np.broadcast_to(np.asarray(p), shape).copy()  # writable, C order
        out = torch.bernoulli(torch.from_numpy(probs), generator=self._torch_gen)
    return out.numpy().astype(bool)


_DRAWS = (_normal, _uniform, _integers, _permutation, _bernoulli)


def install(generator_cls: type) -> Callable[[], None]:
    """Patch ``generator_cls`` (chainrule's Generator) so its draws come from PyTorch.

    Generators created before the call get their torch stream at their next ``manual_seed``
    (the harness seeds the default one right after installing). Returns a function that
    undoes the patch (for tests that install it in-process).
    """
    names = ("manual_seed", "get_state", "set_state") + tuple(d.__name__ for d in _DRAWS)
    saved = {name: generator_cls.__dict__.get(name) for name in names}
    original_manual_seed = generator_cls.manual_seed
    original_get_state = generator_cls.get_state
    original_set_state = generator_cls.set_state

    def manual_seed(self: Any, seed: int) -> Any:
        out = original_manual_seed(self, seed)
        self._torch_gen = torch.Generator().manual_seed(self._seed)  # same seed, torch stream
        return out

    def get_state(self: Any) -> dict:
        state = original_get_state(self)
        state["bridge_torch_state"] = self._torch_gen.get_state().tolist()
        return state

    def set_state(self: Any, state: dict) -> Any:
        out = original_set_state(self, state)
        if "bridge_torch_state" in state:
            self._torch_gen.set_state(torch.tensor(state["bridge_torch_state"], dtype=torch.uint8))
        return out

    generator_cls.manual_seed = manual_seed
    generator_cls.get_state = get_state
    generator_cls.set_state = set_state
    for draw in _DRAWS:
        setattr(generator_cls, draw.__name__, draw)

    def uninstall() -> None:
        for name, value in saved.items():
            if value is None:
                delattr(generator_cls, name)  # it was inherited
            else:
                setattr(generator_cls, name, value)

    return uninstall
