"""chainrule.distributed, DistributedDataParallel and the dropout rule.

Two ranks on loopback: each test launches ``mpiexec -n 2 python -m mpi4py SCRIPT`` (a script
under tests/distributed/) as a subprocess with a timeout and ``OMP_NUM_THREADS=1``; a script
asserts on every rank and prints ``rank R OK``. The rest runs in this process, a world of one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.nn.dropout import sharded_dropout
from chainrule.nn.parallel import DistributedDataParallel as DDP

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent  # .venv/bin: mpiexec sits next to python (the MPICH wheel)


def _mpiexec() -> str:
    for where in (BIN, None):
        found = shutil.which("mpiexec", path=str(where) if where else None)
        if found:
            return found
    pytest.skip("mpiexec not found (pip install \"chainrule[mpi]\")")


def launch(script: str, n: int = 2, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run tests/distributed/SCRIPT on n ranks; the result (rc, stdout, stderr)."""
    pytest.importorskip("mpi4py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "MPI_"))}
    env.update(OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}")
    return subprocess.run([_mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py",
                           str(HERE / "distributed" / script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_ok(result: subprocess.CompletedProcess, n: int = 2) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    for r in range(n):
        assert f"rank {r} OK" in result.stdout, result.stdout + result.stderr


# ============================================================================ two ranks
def test_collectives_are_exact_for_int_and_float_tensors_over_two_ranks() -> None:
    assert_ok(launch("collectives.py"))


def test_ddp_equals_one_process_summing_the_same_shards_bit_for_bit() -> None:
    # also: every rank holds the same parameters after each step; several buckets; no_sync
    assert_ok(launch("ddp_exact.py"))


def test_ddp_with_sync_batch_norm_and_dropout_equals_full_batch_training() -> None:
    assert_ok(launch("ddp_lenet.py", timeout=120))


def test_a_rank_that_raises_stops_every_rank_within_seconds() -> None:
    start = time.perf_counter()
    result = launch("rank_raises.py", timeout=30)
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr
    assert "should never get here" not in result.stdout
    assert time.perf_counter() - start < 15


def test_abort_stops_every_rank_with_its_exit_code() -> None:
    result = launch("abort_code.py", timeout=30)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "should never get here" not in result.stdout


# ============================================================================ a world of one
@pytest.fixture
def no_group():
    """No process group before or after the test (tests may initialise one)."""
    if dist.is_initialized():
        dist.destroy_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.fixture
def no_mpi4py(monkeypatch):
    """As if mpi4py were not installed (its import fails)."""
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)


def test_a_world_of_one_without_a_launcher(no_group, no_mpi4py) -> None:
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (0, 1, False)
    assert not dist.is_available()
    dist.init_process_group("mpi")
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (0, 1, True)
    assert dist.get_backend() == "mpi"
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group(backend=None, world_size=1, rank=0)


def test_more_than_one_rank_without_mpi4py_says_how_to_install_and_launch(
        no_group, no_mpi4py, monkeypatch) -> None:
    with pytest.raises(RuntimeError, match=r'pip install "chainrule\[mpi\]".*mpiexec -n N '
                                           r'python -m mpi4py'):
        dist.init_process_group(world_size=2)
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.raises(dist.DistributedError, match="mpi4py"):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_other_backends_and_ranks_are_refused(no_group, no_mpi4py) -> None:
    with pytest.raises(RuntimeError, match="backend 'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(RuntimeError, match="rank=1"):
        dist.init_process_group(rank=1)


def test_collectives_are_identities_in_a_world_of_one(no_group) -> None:
    for dtype in (np.float32, np.float64, np.int64, np.int32):
        values = np.arange(6, dtype=dtype).reshape(2, 3)
        for op in dist.ReduceOp:
            if op is dist.ReduceOp.AVG and values.dtype.kind == "i":
                with pytest.raises(RuntimeError, match="AVG needs a floating tensor"):
                    dist.all_reduce(cr.tensor(values), op=op)
                continue
            t = cr.tensor(values)
            assert dist.all_reduce(t, op=op) is None
            assert np.array_equal(t.numpy(), values) and t.dtype == values.dtype
        t = cr.tensor(values)
        dist.broadcast(t, src=0)
        assert np.array_equal(t.numpy(), values)
        out = [cr.tensor(np.zeros_like(values))]
        dist.all_gather(out, cr.tensor(values))
        assert np.array_equal(out[0].numpy(), values)
    work = dist.all_reduce(cr.ones(2), op="sum", async_op=True)
    assert work.wait() and work.is_completed()
    dist.barrier()
    with pytest.raises(RuntimeError, match="src=1"):
        dist.broadcast(cr.ones(2), src=1)
    with pytest.raises(RuntimeError, match="one tensor per rank"):
        dist.all_gather([cr.ones(2), cr.ones(2)], cr.ones(2))
    with pytest.raises(RuntimeError, match="tensor_list\\[0\\] has shape"):
        dist.all_gather([cr.ones(3)], cr.ones(2))
    with pytest.raises(ValueError, match="unknown reduce op"):
        dist.all_reduce(cr.ones(2), op="median")
    with pytest.raises(TypeError, match="chainrule Tensor"):
        dist.all_reduce(np.ones(2))


def test_abort_in_a_world_of_one_exits_with_its_code(no_group) -> None:
    with pytest.raises(SystemExit) as info:
        dist.abort(3)
    assert info.value.code == 3


def test_import_chainrule_does_not_import_mpi4py() -> None:
    code = "import sys, chainrule, chainrule.distributed; print('mpi4py' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ============================================================================ DDP, world of one
def test_ddp_in_a_world_of_one_is_a_passthrough(no_group) -> None:
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    ddp = DDP(net)
    assert ddp.module is net and ddp._hooks == [] and net[1].batch_shard is None
    assert [id(p) for p in ddp.parameters()] == [id(p) for p in net.parameters()]
    assert list(ddp.state_dict()) == ["module." + k for k in net.state_dict()]
    x = cr.randn(5, 3)
    cr.manual_seed(1)
    y = ddp(x)
    cr.manual_seed(1)
    assert np.array_equal(y.detach().numpy(), net(x).detach().numpy())
    y.sum().backward()
    grads = [p.grad.numpy().copy() for p in net.parameters()]
    with ddp.no_sync():
        assert not ddp.require_backward_grad_sync
    assert ddp.require_backward_grad_sync
    # the state dict round trip, and the unwrapped model's
    other = DDP(nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)))
    other.load_state_dict(ddp.state_dict())
    assert all(np.array_equal(a.detach().numpy(), b.detach().numpy())
               for a, b in zip(other.parameters(), net.parameters()))
    assert list(ddp.module.state_dict()) == list(net.state_dict())
    assert all(g.shape == p.shape for g, p in zip(grads, net.parameters()))


def test_ddp_argument_errors(no_group) -> None:
    with pytest.raises(TypeError, match="nn.Module"):
        DDP(lambda x: x)
    with pytest.raises(ValueError, match="process_group"):
        DDP(nn.Linear(2, 2), process_group=object())
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DDP(nn.Linear(2, 2), bucket_cap_mb=0)


# ============================================================================ the dropout rule
@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("layer", ["Dropout", "Dropout1d", "Dropout2d"])
def test_sharded_dropout_takes_the_global_masks_rows(world: int, layer: str) -> None:
    shape = {"Dropout": (4, 5), "Dropout1d": (4, 3, 5), "Dropout2d": (4, 3, 2, 2)}[layer]
    full = cr.randn(shape[0] * world, *shape[1:])
    whole = getattr(nn, layer)(0.4)
    cr.manual_seed(7)
    want = whole(full).numpy()
    for rank in range(world):
        part = getattr(nn, layer)(0.4)
        part.batch_shard = (rank, world)
        assert f"batch_shard=({rank}, {world})" in repr(part)
        cr.manual_seed(7)
        got = part(full[rank::world])
        assert np.array_equal(got.numpy(), want[rank::world])
        assert np.array_equal(part.eval()(full[rank::world]).numpy(),
                              full[rank::world].numpy())


def test_sharded_dropout_gradient_and_edge_cases() -> None:
    x = cr.randn(3, 4, requires_grad=True)
    cr.manual_seed(2)
    y = sharded_dropout(x, 0.5, rank=0, world_size=2)
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), (y.detach().numpy() != 0) * 2.0)
    assert sharded_dropout(x, 0.0, 0, 2) is x
    assert not sharded_dropout(x, 1.0, 1, 2).detach().numpy().any()
    with pytest.raises(RuntimeError, match="floating input"):
        sharded_dropout(cr.ones(2, 2, dtype=cr.int64), 0.5, 0, 2)
    with pytest.raises(ValueError, match="expected a batch"):
        sharded_dropout(cr.tensor(1.0), 0.5, 0, 2)
