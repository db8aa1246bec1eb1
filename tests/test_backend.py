"""chainrule.backend: the array namespace and the switch for the compiled kernels (which
chainrule.kernels hands out)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend, kernels

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**__import__("os").environ, **env})
    return out.stdout.strip()


def test_get_array_module_is_numpy():
    assert backend.get_array_module(np.zeros(1)) is np


def test_use_compiled_switches_off_and_restores_even_on_error():
    before, enabled = kernels.compiled(), backend.compiled_enabled()
    with pytest.raises(RuntimeError):
        with backend.use_compiled(False):
            assert kernels.compiled() is None and not backend.compiled_enabled()
            raise RuntimeError("boom")
    assert kernels.compiled() is before and backend.compiled_enabled() is enabled


def test_compiled_is_the_kernel_module_where_numba_is_installed():
    pytest.importorskip("numba")
    from chainrule.kernels import numba_loops

    with backend.use_compiled(True):
        assert kernels.compiled() is numba_loops
        assert kernels.compiled_status() == f"on (Numba {numba_loops.numba.__version__})"


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_, np.complex64])
def test_compiled_for_needs_float32_or_float64(dtype):
    assert kernels.compiled_for(np.zeros(2, dtype)) is None
    assert kernels.compiled_for(np.zeros(2, np.float32), np.zeros(2, dtype)) is None


def test_compiled_for_float_arrays_is_compiled():
    assert kernels.compiled_for(np.zeros(2, np.float32), np.zeros(2)) is kernels.compiled()


def test_the_ground_floor_imports_nothing_of_chainrule():
    """backend is the ground floor: no import of chainrule's own modules, even in a function
    (the compiled kernels it switches live above, in chainrule.kernels)."""
    import ast

    tree = ast.parse((ROOT / "chainrule" / "backend.py").read_text())
    own = [ast.unparse(node) for node in ast.walk(tree)
           if isinstance(node, ast.ImportFrom) and (node.level or "chainrule" in str(node.module))
           or isinstance(node, ast.Import) and any("chainrule" in a.name for a in node.names)]
    assert own == []


def test_import_chainrule_does_not_import_numba():
    code = "import sys, chainrule; print('numba' in sys.modules)"
    assert _run(code) == "False"


def test_environment_variable_turns_the_kernels_off():
    code = ("import chainrule as cr; from chainrule.kernels import compiled; "
            "x = cr.randn(8, 3, 4, 4, requires_grad=True); "
            "cr.nn.functional.batch_norm(x, None, None, training=True).sum().backward(); "
            "import sys; print(compiled() is None, 'numba' in sys.modules)")
    assert _run(code, CHAINRULE_JIT="0") == "True False"


def test_both_modes_give_the_same_batch_norm_step():
    # a LeNet-like block, compiled kernels against NumPy formulas: same outputs and gradients
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, 12, 12)).astype(np.float32)
    results = []
    for on in (True, False):
        with backend.use_compiled(on):
            t = cr.tensor(x, requires_grad=True)
            bn = cr.nn.BatchNorm2d(6)
            y = cr.nn.functional.max_pool2d(cr.tanh(bn(t)), 2)
            (y * cr.tensor(np.arange(y.numel(), dtype=np.float32).reshape(y.shape))).sum() \
                .backward()
            results.append((y.detach().numpy(), t.grad.numpy(), bn.weight.grad.numpy(),
                            bn.running_var.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-4)


def test_set_num_threads_as_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_num_threads", backend.get_num_threads())  # restored after
    cr.set_num_threads(3)
    assert cr.get_num_threads() == 3
    for bad, err in ((0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(err, match="set_num_threads"):
            cr.set_num_threads(bad)
    assert cr.get_num_threads() == 3


def test_set_num_threads_limits_numpys_blas(monkeypatch: pytest.MonkeyPatch) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(backend, "_num_threads", backend.get_num_threads())
    with threadpoolctl.threadpool_limits(limits=None):  # restores the pools' limits after
        cr.set_num_threads(1)
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)


def test_default_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert backend._default_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert backend._default_threads() >= 1
