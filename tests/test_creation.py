"""Factories: dtypes like torch, shapes, reproducible randomness."""
import numpy as np
import pytest

import chainrule as cr


def test_dtype_inference_like_torch():
    assert cr.tensor(1.5).dtype == np.float32 and cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True]).dtype == np.bool_
    assert cr.tensor(np.ones(2)).dtype == np.float64  # ndarrays keep their dtype
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == np.float64


def test_factories():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.ones((2,)).tolist() == [1.0, 1.0]
    assert cr.full((2,), 7).tolist() == [7, 7] and cr.full((1,), 0.5).dtype == np.float32
    assert cr.arange(4).tolist() == [0, 1, 2, 3] and cr.arange(4).dtype == np.int64
    assert cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert cr.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert cr.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert cr.zeros_like(cr.ones(2, dtype=cr.float64)).dtype == np.float64
    assert cr.ones_like(cr.zeros(3)).tolist() == [1.0] * 3
    assert cr.empty(2, 2).shape == (2, 2)
    assert cr.randn(3, 4).dtype == np.float32 and cr.rand(2).dtype == np.float32
    r = cr.randint(0, 5, (100,))
    assert r.dtype == np.int64 and 0 <= r._data.min() and r._data.max() < 5


def test_manual_seed_reproducible():
    cr.manual_seed(42)
    a = (cr.randn(5).tolist(), cr.rand(2).tolist(), cr.randint(10, (3,)).tolist())
    cr.manual_seed(42)
    b = (cr.randn(5).tolist(), cr.rand(2).tolist(), cr.randint(10, (3,)).tolist())
    assert a == b


def test_rng_state_round_trip():
    state = cr.get_rng_state()
    a = cr.randn(3).tolist()
    cr.set_rng_state(state)
    assert cr.randn(3).tolist() == a


def test_bad_sizes_and_args():
    with pytest.raises(ValueError, match="non-negative"):
        cr.zeros(-1)
    with pytest.raises(ValueError, match="low < high"):
        cr.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="seed must be an int"):
        cr.manual_seed("x")


torch = pytest.importorskip("torch")


def _torch_dtype(t):
    return np.dtype(str(t.dtype).replace("torch.", ""))


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")  # torch's
@pytest.mark.parametrize("data", [
    [np.float64(1.0), 2.0], [[np.float64(1.0)], [2.0]], [np.float16(1), 2], [np.float16(1), 2.0],
    [np.int32(1), np.int32(2)], [np.float32(1), 2.0], [np.array([1, 2], np.int32), [3, 4]],
    [np.uint8(1), np.int8(1)], [True, 2.5], [[1, 2], [3, 4]], [[], []], (np.float64(1),),
])
def test_tensor_infers_dtype_of_numpy_elements_like_torch(data):
    ours, theirs = cr.tensor(data), torch.tensor(data)
    assert ours.dtype == _torch_dtype(theirs) and ours.tolist() == theirs.tolist()


def test_tensor_of_float64_tensor_elements_keeps_float64():
    x = cr.tensor([cr.tensor(1.0, dtype=cr.float64), 2.0])
    assert x.dtype == np.float64 and x.tolist() == [1.0, 2.0]


def test_tensor_ragged_and_from_numpy_errors():
    with pytest.raises(ValueError, match="tensor: could not convert"):
        cr.tensor([[1], [2, 3]])
    with pytest.raises(TypeError, match="expected np.ndarray"):
        cr.from_numpy([1, 2])


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "randn", "rand"])
def test_size_keyword_and_forms(name):
    fn = getattr(cr, name)
    for x in (fn(2, 3), fn((2, 3)), fn([2, 3]), fn(size=(2, 3)), fn(size=[2, 3])):
        assert x.shape == tuple(getattr(torch, name)(size=(2, 3)).shape) == (2, 3)
    assert fn(cr.tensor(2)).shape == (2,)  # a 0-d int tensor is a size, as in torch
    assert fn(()).shape == ()
    with pytest.raises(TypeError, match="missing the required argument 'size'"):
        fn()
    with pytest.raises(TypeError, match="both positionally and as size="):
        fn(2, size=(2,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        fn(shape=(2,))
    with pytest.raises(ValueError, match="non-negative ints"):
        fn(True)


def test_full_infers_dtype_of_numpy_fill_like_torch():
    for fill in (np.int32(3), np.int64(3), np.float64(0.5), np.bool_(True), 3, 0.5, True,
                 cr.tensor(2.5)):
        t_fill = torch.tensor(fill.item()) if isinstance(fill, cr.Tensor) else fill
        ours, theirs = cr.full((2,), fill), torch.full((2,), t_fill)
        assert ours.dtype == _torch_dtype(theirs) and ours.tolist() == theirs.tolist()
    assert cr.full((), 3.0).shape == () and cr.full([], 3.0).item() == 3.0
    with pytest.raises(TypeError, match="size must be a tuple of ints"):
        cr.full(2, 3)


def test_like_factories_take_input_and_requires_grad():
    x = cr.ones(2, 3, dtype=cr.float64)
    y = cr.full_like(x, 7, requires_grad=True)
    assert y.requires_grad and y.dtype == np.float64 and y.tolist() == [[7.0] * 3] * 2
    assert cr.zeros_like(input=x).shape == (2, 3) and cr.ones_like(input=x).tolist()[0][0] == 1
    assert cr.full_like(input=cr.tensor([1, 2]), fill_value=2.7).tolist() == [2, 2]


def test_arange_keywords_tensor_bounds_and_sign_check():
    assert cr.arange(end=4).tolist() == torch.arange(end=4).tolist() == [0, 1, 2, 3]
    assert cr.arange(start=1, end=4).tolist() == [1, 2, 3]
    r = cr.arange(cr.tensor(3))
    assert r.dtype == np.int64 and r.tolist() == torch.arange(torch.tensor(3)).tolist()
    assert cr.arange(10, 0, -3).tolist() == torch.arange(10, 0, -3).tolist()
    with pytest.raises(ValueError, match="inconsistent with step sign"):
        cr.arange(0, 5, -1)
    with pytest.raises(RuntimeError):
        torch.arange(0, 5, -1)


def test_rand_and_randn_refuse_integer_dtypes():
    # they used to return all zeros (rand) or truncated normals cast to int
    for fn in (cr.rand, cr.randn):
        with pytest.raises(TypeError, match="floating point dtype"):
            fn(3, dtype=cr.int64)
    assert cr.randn(3, dtype=cr.float64).dtype == np.float64
    assert cr.rand(3, dtype=cr.float16).dtype == np.float16


def test_randint_and_randperm_signatures():
    assert cr.randint(high=5, size=(4,)).shape == (4,)
    assert cr.randint(0, 5, ()).shape == () == tuple(torch.randint(0, 5, ()).shape)
    r = cr.randint(5, (3,), dtype=cr.float32, requires_grad=True)
    assert r.requires_grad and r.dtype == np.float32
    with pytest.raises(TypeError, match="size must be a tuple"):
        cr.randint(5, 2, 3)
    p = cr.randperm(6, dtype=cr.float32, requires_grad=True)
    assert p.requires_grad and sorted(p.tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert cr.randperm(0).shape == (0,)
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match="non-negative int"):
            cr.randperm(bad)


def test_manual_seed_negative_wraps_like_torch():
    cr.manual_seed(-1)
    torch.manual_seed(-1)
    assert cr.initial_seed() == torch.initial_seed() == 2 ** 64 - 1
    a = cr.randn(3).tolist()
    cr.manual_seed(2 ** 64 - 1)
    assert cr.randn(3).tolist() == a
    with pytest.raises(ValueError, match="seed must be in"):
        cr.manual_seed(2 ** 64)
    cr.manual_seed(0)


@pytest.mark.parametrize("like,plain", [(cr.randn_like, cr.randn), (cr.rand_like, cr.rand)])
def test_random_like_factories(like, plain):
    x = cr.zeros(2, 3, dtype=cr.float64)
    cr.manual_seed(7)
    y = like(x, requires_grad=True)
    cr.manual_seed(7)
    assert np.array_equal(y._data, plain(2, 3, dtype=cr.float64)._data)  # the same draws
    assert y.shape == (2, 3) and y.dtype == np.float64 and y.requires_grad
    assert like(x, dtype=cr.float32).dtype == np.float32
    with pytest.raises(TypeError, match="floating point dtype"):
        like(cr.zeros(2, dtype=cr.int64))  # as torch, which has no normal/uniform for ints


@pytest.mark.parametrize("args", [(0, 2, 3), (0, 2, 3, 2.0), (1, -1, 5, 3.0), (0, 1, 0)])
def test_logspace_as_torch(args):
    ours, theirs = cr.logspace(*args), torch.logspace(*args)
    assert ours.dtype == _torch_dtype(theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        cr.logspace(0, 1, -1)


def test_empty_like_and_randint_like_as_torch():
    for dtype in ("float64", "int32"):
        x, t = cr.ones(2, 3, dtype=np.dtype(dtype)), torch.ones(2, 3, dtype=getattr(torch, dtype))
        for ours, theirs in [(cr.empty_like(x), torch.empty_like(t)),
                             (cr.randint_like(x, 5), torch.randint_like(t, 5)),
                             (cr.randint_like(x, 2, 5), torch.randint_like(t, 2, 5))]:
            assert ours.dtype == _torch_dtype(theirs) and ours.shape == tuple(theirs.shape)
    r = cr.randint_like(cr.zeros(1000), 2, 5).numpy()
    assert set(r.tolist()) == {2.0, 3.0, 4.0}
    with pytest.raises(TypeError, match="must be Tensor"):
        cr.empty_like([1, 2])


def test_as_tensor_shares_an_ndarray_of_the_same_dtype_as_torch():
    a = np.zeros(3)
    ours, theirs = cr.as_tensor(a), torch.as_tensor(a)
    a[0] = 7
    assert ours.tolist() == theirs.tolist() == [7.0, 0.0, 0.0]
    copied = cr.as_tensor(a, dtype=cr.float32)
    a[1] = 5
    assert copied.tolist() == [7.0, 0.0, 0.0] and copied.dtype == np.float32
    t = cr.ones(2)
    assert cr.as_tensor(t) is t and cr.as_tensor(t, device="cpu") is t
