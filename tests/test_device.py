"""Devices as PyTorch's CPU build has them: the device idiom of PyTorch's tutorials runs
unchanged and picks the CPU; every factory takes ``device=``; other devices raise a clear
RuntimeError; the default device and dtype."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr

CUDA_ERROR = "is not available: chainrule runs on the CPU only"


def _np(dtype):
    return np.dtype(str(dtype).replace("torch.", ""))


@pytest.fixture
def default_float64():
    """Both libraries with float64 as the default dtype, restored afterwards."""
    cr.set_default_dtype(cr.float64), torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        cr.set_default_dtype(cr.float32), torch.set_default_dtype(torch.float32)


@pytest.fixture
def cudnn_flags():
    """Both libraries' cuDNN flags restored after a test that sets them."""
    saved = [(lib, lib.backends.cudnn.deterministic, lib.backends.cudnn.benchmark)
             for lib in (cr, torch)]
    try:
        yield
    finally:
        for lib, deterministic, benchmark in saved:
            lib.backends.cudnn.deterministic = deterministic
            lib.backends.cudnn.benchmark = benchmark


# ---------------------------------------------------------------------- the tutorials' lines
def _tutorial_lines(t):
    """Lines of PyTorch's tutorials, run as written with ``t`` as ``torch``."""
    device = t.accelerator.current_accelerator().type if t.accelerator.is_available() \
        else "cpu"
    dtype = t.float
    x = t.zeros(3, device=device)
    a = t.randn((), device=device, dtype=dtype)
    xs = t.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    cuda = "cuda" if t.cuda.is_available() else "cpu"
    mps = "mps" if t.backends.mps.is_available() else cuda
    y = t.ones(2, 2).to(device)
    t.cuda.manual_seed(0), t.cuda.manual_seed_all(0)
    t.backends.cudnn.deterministic = True
    t.backends.cudnn.benchmark = False
    return (device, cuda, mps, str(x.device), x.dtype, a.shape, a.dtype, xs.shape, xs.dtype,
            y.device.type, x.is_cuda, x.get_device())


def test_tutorial_device_idiom_runs_unchanged_as_with_torch(cudnn_flags):
    ours, theirs = _tutorial_lines(cr), _tutorial_lines(torch)
    assert ours[:4] == theirs[:4] == ("cpu", "cpu", "cpu", "cpu")
    assert [_np(v) for v in (ours[4], ours[6], ours[8])] == \
        [_np(v) for v in (theirs[4], theirs[6], theirs[8])]
    assert tuple(ours[5]) == tuple(theirs[5]) and tuple(ours[7]) == tuple(theirs[7])
    assert ours[9:] == theirs[9:] == ("cpu", False, -1)


@pytest.mark.parametrize("query", [
    "cuda.is_available()", "cuda.device_count()", "cuda.is_initialized()",
    "cuda.manual_seed(1)", "cuda.manual_seed_all(1)", "cuda.seed()", "cuda.seed_all()",
    "cuda.empty_cache()", "cuda.memory_allocated()", "cuda.max_memory_allocated()",
    "cuda.is_bf16_supported()", "backends.mps.is_available()", "backends.mps.is_built()",
    "backends.cudnn.is_available()", "backends.cudnn.version()", "backends.cudnn.enabled",
    "backends.cudnn.deterministic", "backends.cudnn.benchmark", "backends.cudnn.allow_tf32",
    "backends.cuda.matmul.allow_tf32", "backends.cuda.is_built()",
    "accelerator.is_available()", "accelerator.current_accelerator()",
    "accelerator.device_count()",
])
def test_device_queries_answer_as_torch_without_an_accelerator(query):
    assert eval("cr." + query) == eval("torch." + query)


@pytest.mark.parametrize("call", [
    "cuda.synchronize()", "cuda.current_device()", "cuda.get_device_name()",
    "cuda.get_rng_state()", "accelerator.synchronize()", "accelerator.current_device_index()",
])
def test_queries_that_need_a_device_raise_as_torch(call):
    with pytest.raises((RuntimeError, AssertionError)):  # torch: AssertionError for cuda
        eval("torch." + call)
    with pytest.raises(RuntimeError, match=call.split("(")[0].replace(".", r"\.")):
        eval("cr." + call)


def test_namespaces_import_as_modules_and_flags_are_settable():
    code = ("import chainrule.backends.cudnn as cudnn, chainrule.cuda, chainrule.accelerator\n"
            "import chainrule as cr\n"
            "cudnn.benchmark = True\n"
            "print(cr.backends.cudnn.benchmark, chainrule.cuda.is_available())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "False"]


# ---------------------------------------------------------------------- Tensor's device
def test_tensor_device_is_the_cpu_device():
    x = cr.ones(2)
    assert x.device == cr.device("cpu") == "cpu" and repr(x.device) == repr(torch.ones(2).device)
    assert str(x.device) == "cpu" and x.device.type == "cpu" and x.device.index is None
    assert x.is_cuda is torch.ones(2).is_cuda is False
    assert x.get_device() == torch.ones(2).get_device() == -1


def test_to_forms_as_torch():
    x, t = cr.ones(2), torch.ones(2)
    for args in [("cpu",), (cr.device("cpu"), cr.float64), ("cpu", cr.int32), (cr.float64,),
                 (cr.zeros(1, dtype=cr.int32),)]:
        targs = [torch.zeros(1, dtype=torch.int32) if isinstance(a, cr.Tensor) else
                 getattr(torch, str(a)) if isinstance(a, np.dtype) else
                 torch.device(str(a)) if isinstance(a, cr.device) else a for a in args]
        assert x.to(*args).dtype == _np(t.to(*targs).dtype)
        assert (x.to(*args) is x) == (t.to(*targs) is t)
    assert x.to(device="cpu", dtype=cr.float64).dtype == np.float64
    assert x.to(torch.device("cpu")) is x  # torch's own device objects are read too
    assert x.to(x.dtype) is x and x.to("cpu", copy=True) is not x
    assert x.to(cr.float32, False, True) is not x  # (dtype, non_blocking, copy)
    assert x.cpu() is x and t.cpu() is t


@pytest.mark.parametrize("call", [
    lambda x: x.to("cuda"), lambda x: x.to("cuda:0"), lambda x: x.to(0),
    lambda x: x.to(device="mps"), lambda x: x.to("cuda", cr.float64),
    lambda x: x.to(cr.device("cuda", 1)), lambda x: x.cuda(), lambda x: x.cuda(0),
])
def test_other_devices_raise_a_clear_runtime_error(call):
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=CUDA_ERROR):
        call(x)


# ---------------------------------------------------------------------- factories
FACTORIES = {  # name: the call, given the library and keyword arguments
    "tensor": lambda t, **k: t.tensor([1.0, 2.0], **k),
    "as_tensor": lambda t, **k: t.as_tensor([1.0, 2.0], **k),
    "zeros": lambda t, **k: t.zeros(2, 3, **k), "ones": lambda t, **k: t.ones((2,), **k),
    "empty": lambda t, **k: t.empty(2, **k), "full": lambda t, **k: t.full((2,), 1.5, **k),
    "zeros_like": lambda t, **k: t.zeros_like(t.ones(2), **k),
    "ones_like": lambda t, **k: t.ones_like(t.ones(2), **k),
    "empty_like": lambda t, **k: t.empty_like(t.ones(2), **k),
    "full_like": lambda t, **k: t.full_like(t.ones(2), 3, **k),
    "arange": lambda t, **k: t.arange(0, 1, 0.25, **k),
    "linspace": lambda t, **k: t.linspace(0, 1, 5, **k),
    "logspace": lambda t, **k: t.logspace(0, 1, 5, **k), "eye": lambda t, **k: t.eye(3, **k),
    "rand": lambda t, **k: t.rand(2, 3, **k), "randn": lambda t, **k: t.randn(2, **k),
    "randint": lambda t, **k: t.randint(0, 5, (3,), **k),
    "randperm": lambda t, **k: t.randperm(4, **k),
    "rand_like": lambda t, **k: t.rand_like(t.ones(2), **k),
    "randn_like": lambda t, **k: t.randn_like(t.ones(2), **k),
    "randint_like": lambda t, **k: t.randint_like(t.ones(2), 5, **k),
    "normal": lambda t, **k: t.normal(0.0, 1.0, (2,), **k),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_every_factory_takes_device_and_refuses_cuda(name):
    make = FACTORIES[name]
    for dev in ("cpu", cr.device("cpu"), None):
        ours = make(cr, device=dev)
        theirs = make(torch, device=None if dev is None else str(dev))
        assert ours.device == "cpu" and ours.dtype == _np(theirs.dtype)
        assert tuple(ours.shape) == tuple(theirs.shape)
    with pytest.raises(RuntimeError, match=f"{name}: device 'cuda' {CUDA_ERROR}"):
        make(cr, device="cuda")
    with pytest.raises((RuntimeError, AssertionError)):
        make(torch, device="cuda")


@pytest.mark.parametrize("name", [n for n in FACTORIES if n not in ("tensor", "as_tensor")])
def test_factories_take_layout_strided_and_refuse_sparse(name):
    assert FACTORIES[name](cr, layout=cr.strided).device == "cpu"
    with pytest.raises(RuntimeError, match="layout torch.sparse_coo is not supported"):
        FACTORIES[name](cr, layout=cr.sparse_coo)


@pytest.mark.parametrize("name", ["tensor", "zeros", "empty", "rand", "randn", "randperm"])
def test_pin_memory_raises_as_torch_without_an_accelerator(name):
    assert FACTORIES[name](cr, pin_memory=False).device == "cpu"
    with pytest.raises(RuntimeError, match="pin_memory=True requires a CUDA"):
        FACTORIES[name](torch, pin_memory=True)
    with pytest.raises(RuntimeError, match="pin_memory=True requires a CUDA"):
        FACTORIES[name](cr, pin_memory=True)


def test_memory_format_is_accepted_and_checked():
    for fmt in (cr.contiguous_format, cr.channels_last):
        assert cr.empty(1, 2, 3, 3, memory_format=fmt).shape == (1, 2, 3, 3)
    assert cr.zeros_like(cr.ones(2), memory_format=cr.preserve_format).tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match="memory_format must be"):
        cr.empty(2, memory_format="channels_last")


# ---------------------------------------------------------------------- defaults
def test_default_device_is_the_cpu_and_cuda_is_refused():
    assert cr.get_default_device() == torch.get_default_device().type == "cpu"
    cr.set_default_device("cpu"), cr.set_default_device(None)
    assert cr.zeros(2).device == "cpu"
    with pytest.raises(RuntimeError, match=f"set_default_device: device 'cuda' {CUDA_ERROR}"):
        cr.set_default_device("cuda")
    assert cr.get_default_device() == "cpu"


@pytest.mark.parametrize("name", ["tensor", "zeros", "ones", "empty", "full", "arange",
                                  "linspace", "logspace", "eye", "rand", "randn", "normal"])
def test_factories_honour_the_default_dtype_as_torch(name, default_float64):
    ours, theirs = FACTORIES[name](cr), FACTORIES[name](torch)
    assert ours.dtype == _np(theirs.dtype) == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64 and cr.full((1,), 2).dtype == np.int64


def test_set_default_dtype_refuses_non_floats_as_torch():
    assert cr.get_default_dtype() == _np(torch.get_default_dtype()) == np.float32
    for bad in (cr.int64, cr.bool, "x"):
        with pytest.raises(TypeError, match="only floating-point types"):
            cr.set_default_dtype(bad)
    with pytest.raises(TypeError, match="only floating-point types"):
        torch.set_default_dtype(torch.int64)
    assert cr.get_default_dtype() == np.float32


# ---------------------------------------------------------------------- new_* methods
NEW_CALLS = {
    "zeros": lambda x: x.new_zeros(2, 3), "zeros_seq": lambda x: x.new_zeros((2, 3)),
    "ones": lambda x: x.new_ones(2), "empty": lambda x: x.new_empty((1, 2)),
    "full": lambda x: x.new_full((2,), 7), "tensor": lambda x: x.new_tensor([1, 2]),
    "zeros_dtype": lambda x: x.new_zeros(2, dtype=x.dtype),
}


@pytest.mark.parametrize("name", NEW_CALLS)
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_new_methods_as_torch(name, dtype):
    ours = NEW_CALLS[name](cr.ones(1, dtype=np.dtype(dtype)))
    theirs = NEW_CALLS[name](torch.ones(1, dtype=getattr(torch, dtype)))
    assert ours.dtype == _np(theirs.dtype) and tuple(ours.shape) == tuple(theirs.shape)
    if name != "empty":  # (torch's is uninitialised)
        assert ours.tolist() == theirs.tolist()
    assert not ours.requires_grad and ours.device == "cpu"


def test_new_methods_keywords_and_errors():
    x = cr.ones(2, requires_grad=True)
    y = x.new_tensor([1.0], requires_grad=True)
    assert y.requires_grad and y.is_leaf and x.new_ones(2, dtype=cr.int64).dtype == np.int64
    with pytest.raises(TypeError, match="must be tuple of ints"):
        x.new_full(2, 3)
    with pytest.raises(RuntimeError, match=CUDA_ERROR):
        x.new_zeros(2, device="cuda")
    with pytest.raises(ValueError, match="new_full: bad size"):
        x.new_zeros(-1)
