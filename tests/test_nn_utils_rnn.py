"""nn.utils.rnn against torch: pad_sequence (batch_first, padding_value, padding_side),
pack_padded_sequence (enforce_sorted), pad_packed_sequence (total_length), pack_sequence,
unpack/unpad, PackedSequence; values, gradients through packing and padding, and errors."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.nn.utils import rnn as R
from chainrule.testing import assert_parity, gradcheck

lengths_st = st.lists(st.integers(1, 4), min_size=1, max_size=4)


def _u(lib: Any) -> Any:
    return lib.nn.utils.rnn


@settings(max_examples=20, deadline=None)
@given(lengths=st.lists(st.integers(0, 4), min_size=1, max_size=4), trailing=st.sampled_from(
    [(), (2,), (1, 3)]), batch_first=st.booleans(), side=st.sampled_from(["left", "right"]),
       value=st.sampled_from([0.0, -1.5]), seed=st.integers(0, 2**16))
def test_pad_sequence_matches_torch(lengths, trailing, batch_first, side, value, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n,) + trailing) for n in lengths]
    assert_parity(lambda lib, *seqs: _u(lib).pad_sequence(list(seqs), batch_first, value, side),
                  *arrays, second_order=True)


@settings(max_examples=20, deadline=None)
@given(lengths=lengths_st, trailing=st.sampled_from([(), (2,)]), batch_first=st.booleans(),
       seed=st.integers(0, 2**16))
def test_pack_and_pad_round_trip_matches_torch(lengths, trailing, batch_first, seed):
    rng = np.random.default_rng(seed)
    steps, batch = max(lengths), len(lengths)
    x = rng.standard_normal(((batch, steps) if batch_first else (steps, batch)) + trailing)
    for enforce in (False, True):
        if enforce:
            lengths = sorted(lengths, reverse=True)

        def fn(lib: Any, a: Any, enforce: bool = enforce, total: Any = None) -> tuple:
            packed = _u(lib).pack_padded_sequence(a, lengths, batch_first, enforce)
            padded, lens = _u(lib).pad_packed_sequence(packed, batch_first, 7.0, total)
            extra = [] if packed.sorted_indices is None else [packed.sorted_indices,
                                                               packed.unsorted_indices]
            return (packed.data, packed.batch_sizes, padded, lens, *extra)

        assert_parity(fn, x, second_order=True)
        assert_parity(lambda lib, a: fn(lib, a, total=steps + 2), x)


def test_pack_sequence_unpack_and_unpad_match_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]

    def fn(lib: Any, *seqs: Any) -> tuple:
        packed = _u(lib).pack_sequence(list(seqs), enforce_sorted=False)
        return (packed.data, *_u(lib).unpack_sequence(packed))

    assert_parity(fn, *arrays, second_order=True)
    padded = np.stack([np.pad(a, ((0, 4 - len(a)), (0, 0))) for a in arrays], 0)
    assert_parity(lambda lib, p: tuple(_u(lib).unpad_sequence(p, lib.tensor([2, 4, 1]),
                                                              batch_first=True)), padded)
    # time-major: torch transposes its argument in place (so no leaf), ours does not
    time_major = padded.transpose(1, 0, 2).copy()
    ours = R.unpad_sequence(cr.tensor(time_major), [2, 4, 1])
    for a, b in zip(ours, arrays):
        np.testing.assert_array_equal(a._data, b)


def test_packed_sequence_fields_and_methods_match_torch():
    seqs = [np.arange(3.0), np.arange(2.0)]
    ours = R.pack_sequence([cr.tensor(s) for s in seqs])
    theirs = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs])
    assert ours._fields == theirs._fields
    assert ours.sorted_indices is None and ours.unsorted_indices is None
    assert ours.batch_sizes.dtype == np.int64 and ours.batch_sizes.tolist() == [2, 2, 1]
    data, batch_sizes, _, _ = ours  # a named tuple, as torch's
    assert data is ours.data and not ours.is_cuda and ours.cpu() is ours
    assert ours.float().data.dtype == np.float32 and ours.double() is ours
    legacy = R.PackedSequence((ours.data, ours.batch_sizes))
    assert legacy.batch_sizes is ours.batch_sizes
    perm = R.PackedSequence(ours.data, ours.batch_sizes, cr.tensor([1, 0]))
    assert perm.unsorted_indices.tolist() == [1, 0]
    assert R.invert_permutation(cr.tensor([2, 0, 1])).tolist() == \
        torch.nn.utils.rnn.invert_permutation(torch.tensor([2, 0, 1])).tolist()
    assert R.invert_permutation(None) is None


def test_packing_gradcheck_float64():
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 3, 2)), requires_grad=True)

    def f(a: cr.Tensor) -> cr.Tensor:
        packed = R.pack_padded_sequence(a, [2, 4, 1], enforce_sorted=False)
        return R.pad_packed_sequence(packed, total_length=5)[0].tanh()

    assert gradcheck(f, [x])


def same_error(build: Callable[[Any], Any], pattern: str) -> None:
    """torch raises; chainrule raises something catchable as torch's class, matching."""
    with pytest.raises(Exception) as theirs:
        build(torch)
    with pytest.raises(type(theirs.value), match=pattern):
        build(cr)


def test_errors_match_torch():
    x = np.zeros((4, 3, 2), np.float32)
    same_error(lambda lib: _u(lib).pack_padded_sequence(lib.tensor(x), [2, 3, 1]),
               "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
               "True")
    same_error(lambda lib: _u(lib).pack_padded_sequence(lib.tensor(x), [3, 0, 0],
                                                        enforce_sorted=False),
               "Length of all samples has to be greater than 0")
    same_error(lambda lib: _u(lib).pack_padded_sequence(lib.tensor(x), [3, 2]),
               r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 "
               r"\(batch_size=3\)")
    same_error(lambda lib: _u(lib).pack_padded_sequence(lib.tensor(x), lib.tensor([[3, 2, 1]])),
               "'lengths' argument should be a 1D CPU int64 tensor")
    same_error(lambda lib: _u(lib).pack_padded_sequence(lib.zeros(4, 0, 2), []),
               "Cannot pack empty tensors.")
    same_error(lambda lib: _u(lib).pad_packed_sequence(
        _u(lib).pack_padded_sequence(lib.tensor(x), [3, 2, 1]), total_length=2),
        "Expected total_length to be at least the length of the longest sequence in input, "
        "but got total_length=2 and max sequence length being 3")
    same_error(lambda lib: _u(lib).pad_sequence([]), "received an empty list of sequences")
    same_error(lambda lib: _u(lib).pad_sequence([lib.zeros(2), lib.zeros(3)],
                                                padding_side="middle"),
               "Expected padding_side to be one of left or right, but got middle.")
    same_error(lambda lib: _u(lib).pad_sequence(5),
               "pad_sequence: Expected iterable for input sequences")
    same_error(lambda lib: _u(lib).pad_sequence([lib.zeros(2, 3), lib.zeros(3, 4)]),
               r"sequence 1 has shape \(3, 4\) but sequence 0 has shape \(2, 3\)")
    with pytest.raises(RuntimeError, match=r"a length of 5 is longer than the input's 4 time "
                                           r"steps"):  # torch reads past the end here
        R.pack_padded_sequence(cr.tensor(x), [5, 3, 1])
