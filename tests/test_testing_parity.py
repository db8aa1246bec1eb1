"""The parity helper reports real differences from PyTorch."""
import numpy as np
import pytest

from chainrule.testing import assert_parity


def test_parity_passes_for_equal_functions():
    assert_parity(lambda lib, x: (x * x).sum(), np.arange(3.0), second_order=True)


def test_parity_fails_on_different_values():
    with pytest.raises(AssertionError, match="output 0"):
        assert_parity(lambda lib, x: x * (2 if lib.__name__ == "chainrule" else 3),
                      np.arange(3.0))


def test_parity_fails_on_dtype_difference():
    with pytest.raises(AssertionError, match="dtype"):
        assert_parity(lambda lib, x: x.double() if lib.__name__ == "chainrule" else x,
                      np.arange(3.0, dtype=np.float32))
