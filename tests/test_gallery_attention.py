"""The attention walkthrough: the gradient through the scores and the softmax by hand equals
autograd, and every number equals PyTorch's scaled_dot_product_attention (causal)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from chainrule.gallery import attention


@pytest.fixture(scope="module")
def result() -> dict:
    return attention.run()


def _torch():
    q, k, v = (torch.tensor(m, requires_grad=True) for m in (attention.Q, attention.K,
                                                             attention.V))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    E = (out * torch.tensor(attention.G)).sum()
    E.backward()
    weights = torch.softmax((q @ k.T / math.sqrt(2)).masked_fill(
        torch.ones(3, 3, dtype=torch.bool).triu(1), float("-inf")), dim=-1)
    return q, k, v, out, E, weights


def test_hand_gradients_equal_autograd(result):
    for n in "QKV":
        np.testing.assert_allclose(result[f"dE_d{n}"], result[f"dE_d{n}_autograd"], rtol=1e-5,
                                   atol=1e-6)


def test_every_number_equals_pytorchs(result):
    q, k, v, out, E, weights = _torch()
    np.testing.assert_allclose(result["O"], out.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(result["A"], weights.detach().numpy(), rtol=1e-6)
    assert result["E"] == pytest.approx(E.item(), rel=1e-6)
    for n, t in zip("QKV", (q, k, v)):
        np.testing.assert_allclose(result[f"dE_d{n}"], t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_masked_scores_get_no_gradient_and_a_lone_token_none_at_all(result):
    assert (np.triu(result["A"], 1) == 0).all() and (np.triu(result["dE_dS"], 1) == 0).all()
    assert (result["dE_dS"][0] == 0).all()  # token 1 sees only itself: softmax is constant 1
    jac = result["jacobian_row3"]
    np.testing.assert_allclose(jac.sum(axis=1), 0, atol=1e-7)  # a shift of the scores: no change


def test_the_walkthrough_prints_pytorchs_numbers(capsys):
    attention.run(verbose=True)
    text = capsys.readouterr().out
    _, _, _, out, E, _ = _torch()
    assert f"E = sum(O * G) = {E.item():.4f}" in text
    assert np.array2string(out.detach().numpy() + 0.0, precision=4, floatmode="fixed",
                           suppress_small=True) in text
