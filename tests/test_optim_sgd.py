"""SGD against torch.optim.SGD (50 steps, every option), resuming, and its argument errors."""
from __future__ import annotations

import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from helpers import resume_is_exact, torch_parity

CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=1e-2),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    dict(lr=0.05, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(k))
def test_sgd_matches_torch_for_50_steps(kwargs):
    torch_parity(optim.SGD, torch.optim.SGD, kwargs)


def test_sgd_param_groups_match_torch():
    torch_parity(optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9), split_groups=True)


def test_sgd_resumes_exactly_from_state_dict():
    resume_is_exact(lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True))


def test_sgd_default_lr_is_torchs():
    assert optim.SGD([nn.Parameter(cr.ones(1))]).defaults["lr"] == \
        torch.optim.SGD([torch.nn.Parameter(torch.ones(1))]).defaults["lr"] == 1e-3


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
])
def test_sgd_invalid_arguments(kwargs, message):
    p = nn.Parameter(cr.ones(1))
    with pytest.raises(ValueError, match=message):
        optim.SGD([p], **kwargs)
    with pytest.raises(ValueError, match=message):  # torch rejects the same arguments
        torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], **kwargs)
