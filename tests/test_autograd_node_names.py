"""Node names (``grad_fn.name()``) are PyTorch's where the op is the same op, and the graph of a
layer has PyTorch's shape (``nn.Linear`` is ``addmm(bias, x, weight.t())``); where chainrule
records another op than PyTorch, the difference is the one the README lists."""
from __future__ import annotations

import pytest
import torch

import chainrule as cr


def _lib(L):
    return (cr.nn.functional if L is cr else torch.nn.functional)


SAME = {
    "add": lambda L, x, y: x + y, "mul": lambda L, x, y: x * y, "div": lambda L, x, y: x / y,
    "pow": lambda L, x, y: x ** 2, "pow_tensor": lambda L, x, y: x.abs() ** y,
    "exp": lambda L, x, y: x.exp(), "sum": lambda L, x, y: x.sum(),
    "relu": lambda L, x, y: L.relu(x), "leaky_relu": lambda L, x, y: _lib(L).leaky_relu(x),
    "sigmoid": lambda L, x, y: L.sigmoid(x), "tanh": lambda L, x, y: L.tanh(x),
    "softmax": lambda L, x, y: L.softmax(x, 1), "log_softmax": lambda L, x, y: L.log_softmax(x, 1),
    "mse_loss": lambda L, x, y: _lib(L).mse_loss(x, y),
    "bce_with_logits": lambda L, x, y: _lib(L).binary_cross_entropy_with_logits(x, y.sigmoid()),
    "linear": lambda L, x, y: _lib(L).linear(x, y, L.ones(2)),
    "conv2d": lambda L, x, y: _lib(L).conv2d(x.reshape(1, 1, 2, 2), y.reshape(1, 1, 2, 2)),
    "max_pool2d": lambda L, x, y: _lib(L).max_pool2d(x.reshape(1, 1, 2, 2), 2),
    "avg_pool2d": lambda L, x, y: _lib(L).avg_pool2d(x.reshape(1, 1, 2, 2), 2),
    "batch_norm": lambda L, x, y: _lib(L).batch_norm(x, None, None, training=True),
    "clamp": lambda L, x, y: x.clamp(0, 1), "clamp_tensor": lambda L, x, y: x.clamp(y * 0, y),
    "pad": lambda L, x, y: _lib(L).pad(x, (1, 1)), "logsumexp": lambda L, x, y: x.logsumexp(1),
    "max": lambda L, x, y: x.max(), "cumsum": lambda L, x, y: x.cumsum(0),
    "cumprod": lambda L, x, y: x.cumprod(0), "double": lambda L, x, y: x.double(),
    "permute": lambda L, x, y: x.permute(1, 0), "cat": lambda L, x, y: L.cat([x, y]),
    "select": lambda L, x, y: x[0], "slice": lambda L, x, y: x[:, 1:],
    "select_after_slice": lambda L, x, y: x[1:, 0], "unsqueeze_index": lambda L, x, y: x[None],
    "log1p": lambda L, x, y: x.abs().log1p(), "sum_dim": lambda L, x, y: x.sum(0),
    "min": lambda L, x, y: x.min(),
    "alias": lambda L, x, y: x[...], "advanced": lambda L, x, y: x[L.tensor([1, 0])],
}

# ops chainrule records as another op than PyTorch: (chainrule's node, PyTorch's node)
DIFFERENT = {
    "mean": (lambda L, x, y: x.mean(), "DivBackward0", "MeanBackward0"),
    "t": (lambda L, x, y: x.t(), "PermuteBackward0", "TBackward0"),
    "view": (lambda L, x, y: x.view(-1), "ReshapeBackward0", "ViewBackward0"),
    "unsqueeze": (lambda L, x, y: x.unsqueeze(0), "ReshapeBackward0", "UnsqueezeBackward0"),
    "mm": (lambda L, x, y: x @ y, "MatMulBackward0", "MmBackward0"),
    "cross_entropy": (lambda L, x, y: _lib(L).cross_entropy(x, L.tensor([0, 1])),
                      "CrossEntropyBackward0", "NllLossBackward0"),
    "linear_no_bias": (lambda L, x, y: _lib(L).linear(x, y), "LinearBackward0", "MmBackward0"),
    "expand": (lambda L, x, y: x[:1].expand(3, 2), "BroadcastToBackward0", "ExpandBackward0"),
}


def _names(fn):
    out = []
    for L in (cr, torch):
        x = L.tensor([[1.0, 2.0], [3.0, -4.0]], requires_grad=True)
        y = L.tensor([[0.5, 1.0], [2.0, 3.0]], requires_grad=True)
        out.append(fn(L, x, y).grad_fn.name())
    return out


@pytest.mark.parametrize("op", sorted(SAME))
def test_the_same_op_has_pytorchs_node_name(op):
    ours, theirs = _names(SAME[op])
    assert ours == theirs


@pytest.mark.parametrize("op", sorted(DIFFERENT))
def test_the_listed_differences_are_the_real_ones(op):
    fn, ours, theirs = DIFFERENT[op]
    assert _names(fn) == [ours, theirs]


def test_linear_graph_is_pytorchs_addmm():
    """The 60 Minute Blitz walks ``loss.grad_fn.next_functions``: MseLoss -> Addmm -> the
    bias's AccumulateGrad, then the input's node and the weight's transpose."""
    graphs = []
    for L in (cr, torch):
        L.manual_seed(0)
        fc = L.nn.Linear(3, 2)
        h = L.relu(L.ones(4, 3, requires_grad=True))
        loss = L.nn.MSELoss()(fc(h), L.zeros(4, 2))
        addmm = loss.grad_fn.next_functions[0][0]
        bias, inp, weight_t = (n for n, _ in addmm.next_functions)
        graphs.append((loss.grad_fn.name(), addmm.name(), bias.name(), inp.name(),
                       weight_t.next_functions[0][0].name(), bias.variable is fc.bias))
    assert graphs[0][:4] == graphs[1][:4] == ("MseLossBackward0", "AddmmBackward0",
                                              "torch::autograd::AccumulateGrad", "ReluBackward0")
    assert graphs[0][4:] == graphs[1][4:] == ("torch::autograd::AccumulateGrad", True)


def test_names_from_the_op_arguments_outlive_the_backward():
    """A freed node keeps its name (graph pictures and errors name nodes after backward)."""
    x = cr.ones(2, 3, requires_grad=True)
    y = x[0].sum(0) + x[:, 1:].max()
    nodes = [y.grad_fn] + [n for n, _ in y.grad_fn.next_functions]
    before = [n.name() for n in nodes] + [n.next_functions[0][0].name() for n in nodes[1:]]
    y.backward()
    after = [n.name() for n in nodes] + [n.next_functions[0][0].name() for n in nodes[1:]]
    assert before == after == ["AddBackward0", "SumBackward1", "MaxBackward1",
                               "SelectBackward0", "SliceBackward0"]
    with pytest.raises(RuntimeError, match="second time .* at AddBackward0"):
        y.backward()
