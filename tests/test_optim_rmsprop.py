"""RMSprop against torch.optim.RMSprop (50 steps, centered, momentum), resuming, errors."""
from __future__ import annotations

import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from helpers import resume_is_exact, torch_parity

CONFIGS = [
    dict(),
    dict(lr=0.001, alpha=0.9, eps=1e-6),
    dict(lr=0.001, momentum=0.9),
    dict(lr=0.001, centered=True, weight_decay=0.01),
    dict(lr=0.001, centered=True, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(k) or "defaults")
def test_rmsprop_matches_torch_for_50_steps(kwargs):
    torch_parity(optim.RMSprop, torch.optim.RMSprop, kwargs)


def test_rmsprop_resumes_exactly_from_state_dict():
    resume_is_exact(lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True))


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (dict(momentum=-0.9), "Invalid momentum value: -0.9"),
    (dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (dict(alpha=-0.5), "Invalid alpha value: -0.5"),
])
def test_rmsprop_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.RMSprop([nn.Parameter(cr.ones(1))], **kwargs)
    with pytest.raises(ValueError, match=message):
        torch.optim.RMSprop([torch.nn.Parameter(torch.ones(1))], **kwargs)
