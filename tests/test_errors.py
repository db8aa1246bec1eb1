"""Bad input raises what PyTorch raises (``except RuntimeError`` catches ours where it catches
PyTorch's), stays the class earlier chainrule releases raised, and names the op."""
import pytest
import torch

import chainrule as cr


def _setitem(lib):
    x = lib.ones(2, 3)
    x[0] = lib.ones(2)


def _i64(lib, shape, value):
    return lib.full(shape, value, dtype=lib.int64)


# name: (the bad call, given the library; the op our message names; the class we raised before)
CASES = {
    "add: shapes that do not broadcast": (
        lambda lib: lib.ones(2, 3) + lib.ones(4), "add", ValueError),
    "where: shapes that do not broadcast": (
        lambda lib: lib.where(lib.ones(2, 3) > 0, lib.ones(2, 3), lib.ones(4)), "where",
        ValueError),
    "matmul: inner sizes differ": (
        lambda lib: lib.ones(2, 3) @ lib.ones(4, 5), "matmul", ValueError),
    "matmul: batch sizes differ": (
        lambda lib: lib.ones(2, 2, 3) @ lib.ones(3, 3, 4), "matmul", ValueError),
    "mm: a 3-D input": (
        lambda lib: lib.mm(lib.ones(2, 2, 3), lib.ones(3, 4)), "mm", ValueError),
    "dot: a 2-D input": (lambda lib: lib.dot(lib.ones(2, 3), lib.ones(3)), "dot", ValueError),
    "sum: a repeated dim": (lambda lib: lib.ones(2, 3).sum((0, 0)), "sum", ValueError),
    "pow: an integer to a negative power": (
        lambda lib: lib.tensor([1, 2]).pow(-1), "pow", ValueError),
    "clamp: no bound": (lambda lib: lib.ones(2).clamp(), "clamp", ValueError),
    "conv2d: channel mismatch": (
        lambda lib: lib.nn.functional.conv2d(lib.ones(1, 3, 4, 4), lib.ones(2, 1, 2, 2)),
        "conv2d", ValueError),
    "conv2d: stride 0": (
        lambda lib: lib.nn.functional.conv2d(lib.ones(1, 1, 4, 4), lib.ones(1, 1, 2, 2),
                                             stride=0), "conv2d", ValueError),
    "conv2d: kernel larger than the input": (
        lambda lib: lib.nn.functional.conv2d(lib.ones(1, 1, 2, 2), lib.ones(1, 1, 3, 3)),
        "conv2d", ValueError),
    "max_pool2d: output too small": (
        lambda lib: lib.nn.functional.max_pool2d(lib.ones(1, 1, 2, 2), 3), "max_pool2d",
        ValueError),
    "avg_pool2d: divisor_override 0": (
        lambda lib: lib.nn.functional.avg_pool2d(lib.ones(1, 1, 4, 4), 2, divisor_override=0),
        "avg_pool2d", ValueError),
    "cat: sizes differ": (
        lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)]), "cat", ValueError),
    "stack: sizes differ": (
        lambda lib: lib.stack([lib.ones(2), lib.ones(3)]), "stack", ValueError),
    "reshape: invalid size": (
        lambda lib: lib.ones(2, 3, 4).reshape(5, -1), "reshape", ValueError),
    "expand: fewer sizes than dims": (lambda lib: lib.ones(2, 3).expand(3), "expand", ValueError),
    "expand: size that cannot broadcast": (  # expand is broadcast_to with -1 for "keep"
        lambda lib: lib.ones(2, 3).expand(2, 4), "broadcast_to", ValueError),
    "permute: repeated dim": (lambda lib: lib.ones(2, 3).permute(0, 0), "permute", ValueError),
    "split: sizes that do not sum to the dim": (
        lambda lib: lib.ones(5).split([2, 2]), "split", ValueError),
    "pad: odd padding length": (
        lambda lib: lib.nn.functional.pad(lib.ones(2, 3), (1,)), "pad", ValueError),
    "gather: index out of range": (
        lambda lib: lib.gather(lib.ones(2, 3), 1, _i64(lib, (2, 1), 5)), "gather", IndexError),
    "gather: index larger than the input": (
        lambda lib: lib.gather(lib.ones(2, 3), 1, _i64(lib, (3, 1), 0)), "gather", ValueError),
    "__setitem__: value that does not broadcast": (_setitem, "__setitem__", ValueError),
    "copy_: source that does not broadcast": (
        lambda lib: lib.ones(2, 3).copy_(lib.ones(4)), "copy_", ValueError),
    "item: more than one element": (lambda lib: lib.ones(2).item(), "item()", ValueError),
    "zeros: negative size": (lambda lib: lib.zeros(-1), "zeros", ValueError),
    "arange: step 0": (lambda lib: lib.arange(0, 5, 0), "arange", ValueError),
    "linear: in_features mismatch": (
        lambda lib: lib.nn.Linear(784, 10)(lib.ones(32, 100)), "linear", ValueError),
    "BatchNorm2d: channel mismatch": (
        lambda lib: lib.nn.BatchNorm2d(3)(lib.ones(2, 4, 2, 2)), "BatchNorm2d", ValueError),
    "Unflatten: sizes that do not multiply to the dim": (
        lambda lib: lib.nn.Unflatten(1, (2, 2))(lib.ones(2, 5)), "Unflatten", ValueError),
    "cross_entropy: label out of range": (
        lambda lib: lib.nn.functional.cross_entropy(lib.ones(4, 3), lib.tensor([0, 1, 5, 0])),
        "cross_entropy", ValueError),
    "nll_loss: negative label": (
        lambda lib: lib.nn.functional.nll_loss(lib.ones(4, 3), lib.tensor([0, -1, 2, 0])),
        "nll_loss", ValueError),
    "cross_entropy: class weight of the wrong size": (
        lambda lib: lib.nn.functional.cross_entropy(lib.ones(4, 3), lib.tensor([0, 1, 2, 0]),
                                                    weight=lib.ones(4)), "cross_entropy",
        ValueError),
    "nn.init.normal_: negative std": (
        lambda lib: lib.nn.init.normal_(lib.ones(3), 0.0, -1.0), "normal_", ValueError),
    # argument checks where PyTorch raises ValueError: ours stays a plain ValueError
    "mse_loss: unknown reduction": (
        lambda lib: lib.nn.functional.mse_loss(lib.ones(2), lib.ones(2), reduction="x"),
        "mse_loss", ValueError),
    "dropout: p below 0": (
        lambda lib: lib.nn.functional.dropout(lib.ones(3), p=-0.1), "dropout", ValueError),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_raises_pytorchs_class_and_names_the_op(name):
    call, op, before = CASES[name]
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(cr)
    assert isinstance(ours.value, type(theirs.value)), (
        f"PyTorch raises {type(theirs.value).__name__}, we raise {type(ours.value).__name__}")
    assert isinstance(ours.value, before)  # code written for earlier releases still catches it
    assert op in str(ours.value)


def test_op_errors_are_both_pytorchs_class_and_valueerror():
    assert cr.OpError is cr.autograd.OpError and cr.OpIndexError is cr.autograd.OpIndexError
    assert issubclass(cr.OpError, ValueError) and issubclass(cr.OpError, RuntimeError)
    assert issubclass(cr.OpIndexError, cr.OpError) and issubclass(cr.OpIndexError, IndexError)
    with pytest.raises(RuntimeError, match=r"add: .*\(2, 3\) and \(4,\)"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(IndexError, match="cross_entropy: target label 5"):
        cr.nn.functional.cross_entropy(cr.ones(2, 3), cr.tensor([0, 5]))
