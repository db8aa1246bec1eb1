"""The LSTM walkthrough: backpropagation through time by hand equals autograd, and every gate,
state and gradient equals PyTorch's nn.LSTM with the same weights, to the printed digit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from chainrule.gallery import lstm


@pytest.fixture(scope="module")
def result() -> dict:
    return lstm.run()


def _torch_lstm():
    net = torch.nn.LSTM(1, 1)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.tensor(lstm.W_IH))
        net.weight_hh_l0.copy_(torch.tensor(lstm.W_HH))
        net.bias_ih_l0.copy_(torch.tensor(lstm.B))
        net.bias_hh_l0.zero_()
    out, (h, c) = net(torch.tensor(lstm.X).reshape(3, 1, 1))  # (T, N, input)
    E = 0.5 * (h.reshape(()) - lstm.Y) ** 2
    E.backward()
    return net, out.reshape(3), c.reshape(()), E


def test_hand_gradients_equal_autograd(result):
    for key in ("d_w_ih", "d_w_hh", "d_b"):
        np.testing.assert_allclose(result[key], result[key + "_autograd"], rtol=1e-5, atol=1e-7)


def test_states_loss_and_gradients_equal_pytorchs_lstm(result):
    net, hs, c, E = _torch_lstm()
    np.testing.assert_allclose([s["h"] for s in result["steps"]], hs.detach().numpy(),
                               rtol=1e-6, atol=1e-7)
    assert result["steps"][-1]["c"] == pytest.approx(c.item(), rel=1e-6, abs=1e-7)  # f32 c~0.01
    assert result["E"] == pytest.approx(E.item(), rel=1e-6)
    np.testing.assert_allclose(result["d_w_ih"], net.weight_ih_l0.grad.numpy(), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(result["d_w_hh"], net.weight_hh_l0.grad.numpy(), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(result["d_b"], net.bias_ih_l0.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_the_walkthrough_prints_pytorchs_numbers(capsys):
    lstm.run(verbose=True)
    text = capsys.readouterr().out
    net, hs, c, E = _torch_lstm()
    assert f"E = 0.5 * (h_3 - 0.5)^2 = {E.item():.6f}" in text
    assert f"{hs[2].item():8.4f}" in text.splitlines()[4]  # the third step's row ends with h_3
    grads = ", ".join(f"{v + 0.0:.4f}" for v in net.weight_ih_l0.grad.numpy().ravel())
    assert f"dE/dW_ih  [{grads}] | [{grads}]" in text
    assert "through time" in text and "t = 1: dh" in text
