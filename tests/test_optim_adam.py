"""Adam and AdamW against torch.optim (50 steps, amsgrad, weight decay), resuming, errors."""
from __future__ import annotations

import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from helpers import resume_is_exact, torch_parity

CONFIGS = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.05),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, maximize=True, weight_decay=0.01),
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(k) or "defaults")
def test_adam_matches_torch_for_50_steps(kwargs):
    torch_parity(optim.Adam, torch.optim.Adam, kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1,
                                                        amsgrad=True)],
                         ids=["defaults", "decay,amsgrad"])
def test_adamw_matches_torch_for_50_steps(kwargs):
    torch_parity(optim.AdamW, torch.optim.AdamW, kwargs)


def test_adam_param_groups_match_torch():
    torch_parity(optim.Adam, torch.optim.Adam, dict(lr=0.01), split_groups=True)


def test_adamw_defaults_match_torch():
    ours = optim.AdamW([nn.Parameter(cr.ones(1))]).defaults
    theirs = torch.optim.AdamW([torch.nn.Parameter(torch.ones(1))]).defaults
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay"):
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_resumes_exactly_from_state_dict(amsgrad):
    resume_is_exact(lambda ps: optim.Adam(ps, lr=0.01, amsgrad=amsgrad))


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    (dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
])
def test_adam_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.Adam([nn.Parameter(cr.ones(1))], **kwargs)
    with pytest.raises(ValueError, match=message):
        torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], **kwargs)
