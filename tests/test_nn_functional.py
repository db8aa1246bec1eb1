"""nn.functional: every documented name exists, core ops are re-exported (not copied), and
the forms defined here (linear, dropout, relu, leaky_relu, softmax, log_softmax, pad,
flatten) match torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ops
from chainrule.testing import assert_parity

NAMES = ["conv1d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "avg_pool1d",
         "adaptive_avg_pool1d", "interpolate", "scaled_dot_product_attention",
         "multi_head_attention_forward", "gelu", "silu", "elu", "selu", "celu", "softplus",
         "mish", "hardtanh", "relu6", "hardswish", "hardsigmoid", "prelu", "softsign",
         "tanhshrink", "glu", "linear", "conv2d", "max_pool2d", "avg_pool2d",
         "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm", "dropout", "dropout1d",
         "dropout2d", "relu", "leaky_relu", "logsigmoid", "sigmoid", "tanh", "softmax",
         "log_softmax", "pad", "flatten", "mse_loss", "l1_loss", "binary_cross_entropy",
         "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "smooth_l1_loss",
         "huber_loss", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
         "cosine_similarity", "ctc_loss", "embedding", "one_hot", "layer_norm", "group_norm",
         "rms_norm"]


def test_every_functional_form_exists_with_torchs_name():
    assert sorted(F.__all__) == sorted(NAMES)
    for name in NAMES:
        assert callable(getattr(F, name))
        assert name == "flatten" or hasattr(torch.nn.functional, name)


def test_core_ops_are_reexported_not_duplicated():
    from chainrule.ops import conv, loss, norm, pool

    assert F.conv2d is conv.conv2d and F.max_pool2d is pool.max_pool2d
    assert F.avg_pool2d is pool.avg_pool2d and F.batch_norm is norm.batch_norm
    assert F.cross_entropy is loss.cross_entropy and F.nll_loss is loss.nll_loss
    assert F.sigmoid is ops.sigmoid and F.tanh is ops.tanh
    assert F.pad is ops.pad and F.flatten is ops.flatten


@pytest.mark.parametrize("name, kwargs", [("relu", {}), ("leaky_relu", {"negative_slope": 0.3}),
                                          ("softmax", {"dim": 0}),
                                          ("log_softmax", {"dim": -1})])
def test_activation_forms_match_torch(name, kwargs):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    assert_parity(lambda lib, a: getattr(lib.nn.functional, name)(a, **kwargs), x)


def test_pad_and_flatten_match_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    assert_parity(lambda lib, a: lib.nn.functional.pad(a, (1, 2, 0, 1), value=0.5), x)
    assert_parity(lambda lib, a: lib.flatten(a, 1), x)
    assert F.flatten(cr.tensor(x), 1).shape == (2, 12)


def test_dropout_functional_respects_training_flag():
    x = cr.ones(4)
    assert F.dropout(x, 0.5, training=False) is x
    cr.manual_seed(0)
    y = F.dropout(x, 0.5)
    assert set(y.tolist()) <= {0.0, 2.0}


# ---------------------------------------------------------------- review regressions
def test_functionals_take_torch_keyword_names():
    x = np.array([[0.5, -1.0, 2.0]])
    for lib, mod in ((cr, F), (torch, torch.nn.functional)):
        t = lib.tensor(x)
        got = [mod.sigmoid(input=t), mod.tanh(input=t), mod.relu(input=t),
               mod.leaky_relu(input=t, negative_slope=0.1), mod.softmax(input=t, dim=1),
               mod.log_softmax(input=t, dim=1), mod.pad(input=t, pad=(1, 2), value=3.0)]
        vals = [(g._data if lib is cr else g.numpy()).ravel() for g in got]
        if lib is cr:
            ours = vals
    np.testing.assert_allclose(np.concatenate(ours), np.concatenate(vals), rtol=1e-6)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_casts_first_like_torch(name):
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    assert_parity(lambda lib, t: getattr(lib.nn.functional, name)(t, 1, dtype=lib.float64), x)
    assert_parity(lambda lib, t: getattr(lib.nn.functional, name)(t, dim=1,
                                                                  dtype=lib.float32), x)
