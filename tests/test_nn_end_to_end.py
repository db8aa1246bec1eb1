"""End to end against PyTorch: a small CNN (conv - batch norm - tanh - max pool - flatten -
linear) with identical initial weights, fed identical batches and trained with
SGD(momentum=0.9) on cross-entropy, gives torch's loss at each of 20 steps; then eval-mode
outputs, weights and running statistics agree too."""
from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def build(lib):
    m = lib.nn
    return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.Tanh(),
                        m.MaxPool2d(2), m.Flatten(), m.Linear(4 * 6 * 6, 3))


def test_small_cnn_trains_exactly_like_torch():
    torch.manual_seed(0)
    theirs, ours = build(torch), build(cr)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    opt_o = cr.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    r = np.random.default_rng(0)
    losses = []
    for _ in range(20):
        x = r.standard_normal((8, 1, 12, 12)).astype(np.float32)
        y = r.integers(0, 3, 8)
        opt_t.zero_grad()
        opt_o.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        loss_o = cr.nn.functional.cross_entropy(ours(cr.tensor(x)), cr.tensor(y))
        loss_t.backward()
        loss_o.backward()
        opt_t.step()
        opt_o.step()
        assert loss_o.dtype == np.float32
        losses.append((loss_o.item(), loss_t.item()))
    ours_l, theirs_l = np.array(losses).T
    np.testing.assert_allclose(ours_l, theirs_l, rtol=1e-4, atol=1e-5)
    assert ours_l[-5:].mean() < ours_l[:5].mean()  # it did learn something
    for (name, p), q in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(p._data, q.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)
    ours.eval(), theirs.eval()
    x = r.standard_normal((4, 1, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x))._data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-3, atol=1e-4)
