"""PyTorch's beginner tutorials run under chainrule with only their import lines changed.

Each script in tests/tutorials/ is a port of one tutorial (Learn the Basics, Learning PyTorch
with Examples, the 60 Minute Blitz). Each test runs it twice in fresh interpreters, as written
under PyTorch and with its imports rewritten for chainrule, and compares every number, boolean,
dtype name and grad_fn name the two print (tests/tutorials/harness.py; each script's header says
what it shortened). chainrule's random draws come from PyTorch's stream in its run
(tests/tutorials/bridge.py), so even randomly initialised models print the same numbers.
"""
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr

HERE = Path(__file__).resolve().parent / "tutorials"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"tutorials_{Path(name).name}",
                                                  HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


harness = _load("harness")
bridge = _load("bridge")


@dataclass(frozen=True)
class Spec:
    timeout: float = 90.0  # seconds for both runs together (they run side by side)
    rtol: float = 1e-4
    atol: float = 1e-5
    data: bool = False  # reads Fashion-MNIST
    # the chainrule run must stop with this error (a deliberate difference from PyTorch), and
    # print what PyTorch prints before it
    refused: str = ""


SPECS = {
    # Learn the Basics
    "quickstart_tutorial": Spec(timeout=240, data=True),
    "tensorqs_tutorial": Spec(rtol=0, atol=0),
    "data_tutorial": Spec(timeout=120, rtol=0, atol=0, data=True),
    # it prints a float32 sum of 784 pixels to 17 digits: the order of the summation (PyTorch's
    # vectorised lanes, NumPy's pairwise blocks) moves its last bits
    "transforms_tutorial": Spec(timeout=120, rtol=1e-6, atol=1e-6, data=True),
    "buildmodel_tutorial": Spec(),
    "autogradqs_tutorial": Spec(),
    "optimization_tutorial": Spec(timeout=240, data=True),
    # torch.save(model) pickles the module; chainrule refuses it (no pickle): README, Differences
    "saveloadrun_tutorial": Spec(refused="TypeError: chainrule.save: obj is a VGG, an object "
                                         "with a state_dict(); chainrule saves data, never objects"),
    # Learning PyTorch with Examples (polynomial_numpy.py is NumPy only: not ported)
    "polynomial_tensor": Spec(),
    "polynomial_autograd": Spec(),
    "polynomial_custom_function": Spec(),
    "polynomial_nn": Spec(),
    # RMSprop's late steps have size ~lr whatever the gradient, so the last losses and the
    # coefficients near 0 are rounding-driven: PyTorch itself moves the final loss by 0.7% and
    # those coefficients by 5e-4 when only the order of the summation changes.
    "polynomial_optim": Spec(rtol=1e-2, atol=2e-3),
    "polynomial_module": Spec(),
    "dynamic_net": Spec(timeout=120),
    # 60 Minute Blitz
    "blitz_tensor_tutorial": Spec(rtol=0, atol=0),
    "blitz_autograd_tutorial": Spec(),
    "neural_networks_tutorial": Spec(),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorials' working folder, with data/FashionMNIST/raw filled from the real files."""
    return harness.prepare_workdir(tmp_path_factory.mktemp("tutorials"))


def test_every_script_has_a_spec_and_credits_its_source():
    scripts = {p.stem for p in HERE.glob("*.py")} - {"harness", "runner", "bridge", "conftest"}
    assert scripts == set(SPECS)
    for name in scripts:
        head = (HERE / f"{name}.py").read_text().split("\nimport", 1)[0]
        assert "pytorch/tutorials, beginner_source/" in head and "BSD-3-Clause" in head, name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_rewrite_touches_only_import_lines(name):
    source = (HERE / f"{name}.py").read_text()
    twin = harness.rewrite_imports(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), twin.splitlines()) if a != b]
    assert len(source.splitlines()) == len(twin.splitlines())
    assert changed and all(a.lstrip().startswith(("import ", "from ")) for a, _ in changed)
    assert "import chainrule as torch" in twin


@pytest.mark.parametrize("name", sorted(SPECS))
def test_tutorial_prints_what_pytorch_prints(name, workdir):
    spec = SPECS[name]
    if spec.data and not harness.have_fashion():
        pytest.skip(f"Fashion-MNIST not in {harness.fashion_source()} (scripts/get_data.sh)")
    ref, got = harness.run_both(HERE / f"{name}.py", workdir, spec.timeout)
    assert ref.returncode == 0, f"the PyTorch run of {name} failed:\n{ref.failure()}"
    ref_stdout = ref.stdout
    if spec.refused:
        assert got.returncode == 1 and spec.refused in got.stderr, got.failure()
        ref_stdout = "".join(ref.stdout.splitlines(keepends=True)[:len(got.stdout.splitlines())])
    else:
        assert got.returncode == 0, f"the chainrule run of {name} failed:\n{got.failure()}"
    mismatch = harness.compare(ref_stdout, got.stdout, spec.rtol, spec.atol)
    assert mismatch is None, f"{name}: chainrule printed other numbers than PyTorch:\n{mismatch}"


# ------------------------------------------------------------------ the harness itself

def test_rewrite_table():
    src = ("import torch\nfrom torch import nn, optim\nimport torch.nn.functional as F\n"
           "from torch.utils.data import DataLoader\nfrom torchvision import datasets\n"
           "    from torchvision.transforms import ToTensor, Lambda\nimport numpy as np\n"
           "x = torch.ones(2)  # import torch\n")
    assert harness.rewrite_imports(src) == (
        "import chainrule as torch\nfrom chainrule import nn, optim\n"
        "import chainrule.nn.functional as F\nfrom chainrule.utils.data import DataLoader\n"
        "from chainrule.vision import datasets\n"
        "    from chainrule.vision.transforms import ToTensor, Lambda\nimport numpy as np\n"
        "x = torch.ones(2)  # import torch\n")


@pytest.mark.parametrize("line", ["import torch.nn", "from torch import (nn,", "import torch, os"])
def test_rewrite_refuses_what_the_table_cannot_map(line):
    with pytest.raises(harness.RewriteError, match="no rewrite rule"):
        harness.rewrite_imports(line + "\n")


def test_tokens_ignore_addresses_identifiers_and_spelling():
    torch_out = ("torch.Size([3, 4]) torch.float32 <MulBackward0 object at 0x7f12ab>\n"
                 "tensor([1.5000e-05, nan, -inf]) x^2 True")
    ours = "(3, 4) dtype('float32') <MulBackward0 object at 0x55aa>\n[1.5e-05, nan, -inf] x^2 True"
    assert harness.compare(torch_out, ours, 0, 0) is None
    kinds = [(t.kind, t.text) for t in harness.tokens(torch_out)]
    assert kinds == [("num", "3"), ("num", "4"), ("dtype", "float32"), ("gradfn", "MulBackward0"),
                     ("num", "1.5000e-05"), ("num", "nan"), ("num", "-inf"), ("num", "2"),
                     ("bool", "True")]


@pytest.mark.parametrize("torch_out, ours, ok", [
    ("loss: 0.4963", "loss: 0.49632", True),  # rounding to the printed digits
    ("loss: 0.4963", "loss: 0.4965", False),
    ("Accuracy: 45.5%", "Accuracy: 45.6%", True),  # one unit of the last printed digit
    ("Accuracy: 45.5%", "Accuracy: 45.7%", False),
    ("[   64/60000]", "[   65/60000]", False),  # integers are exact
    ("tensor([1., 2.])", "tensor([1.0000, 2.0001])", False),  # "1." is an exact value
    ("True", "False", False),
    ("torch.float32", "float64", False),
    ("AddmmBackward0", "LinearBackward0", False),
    ("1 2 3", "1 2", False),  # a missing number
])
def test_compare_detects_differences(torch_out, ours, ok):
    assert (harness.compare(torch_out, ours, rtol=0, atol=0) is None) == ok


def test_bridge_draws_pytorch_numbers():
    uninstall = bridge.install(cr.random.Generator)
    try:
        g, t = cr.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        pairs = [
            (g._normal((2, 3), "float32"), torch.randn(2, 3, generator=t)),
            (g._uniform((4,), "float64"), torch.rand(4, dtype=torch.float64, generator=t)),
            (g._integers(0, 2 ** 63, ()),
             torch.empty((), dtype=torch.int64).random_(generator=t)),
            (g._integers(-5, 60000, (3,)), torch.randint(-5, 60000, (3,), generator=t)),
            (g._permutation(10), torch.randperm(10, generator=t)),
            (g._bernoulli(0.3, (20,)), torch.empty(20).bernoulli_(0.3, generator=t).bool()),
            (g._bernoulli(np.linspace(0, 1, 6, dtype=np.float32), (2, 6)),
             torch.bernoulli(torch.linspace(0, 1, 6).expand(2, 6), generator=t).bool()),
        ]
        for ours, theirs in pairs:
            np.testing.assert_array_equal(ours, theirs.numpy())
        cr.manual_seed(0), torch.manual_seed(0)
        np.testing.assert_array_equal(cr.randn(5).numpy(), torch.randn(5).numpy())
    finally:
        uninstall()
        cr.manual_seed(0)
    assert not np.array_equal(cr.randn(5).numpy(), torch.randn(5).numpy())


def test_torchvision_standin_matches_torchvision_semantics():
    transforms = _load("_standin/torchvision/transforms")
    img = np.arange(6, dtype=np.uint8).reshape(2, 3) * 51  # (H, W)
    out = transforms.ToTensor()(img)
    assert out.shape == (1, 2, 3) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy()[0], img / 255, rtol=1e-6)
    assert transforms.Lambda(lambda v: v + 1)(1) == 2
