"""Two or more ranks: sync_batch_norm over uneven shards of one batch, empty shards included,
computes what batch_norm computes on the whole batch (outputs, input gradients, the ranks'
weight and bias gradients summed, running statistics), in both kernel modes, float64 and
float32, with a mean far from zero; every rank holds the same running statistics to the bit;
one value per channel over all ranks raises on every rank (no rank left waiting). Launched by
tests/test_distributed_sync_batch_norm.py as ``mpiexec -n 2 python -m mpi4py
sync_batch_norm_shards.py``."""
import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule.backend import use_compiled
from chainrule.nn.functional import batch_norm

C = 3


def splits(world):
    """Per-rank batch sizes: an empty first rank, uneven, one each, an empty last rank."""
    return ([0] + [3] * (world - 1), [r + 1 for r in range(world)], [1] * world,
            [4] * (world - 1) + [0])


def run(sync, x, gy, w, b, rm, rv):
    """Output, input gradient, weight and bias gradients, running stats (arrays)."""
    x, w, b = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = cr.tensor(rm.copy()), cr.tensor(rv.copy())
    if sync:
        y = dist.sync_batch_norm(x, rm, rv, w, b, momentum=0.3)
    else:
        y = batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
    y.backward(cr.tensor(gy))
    return [t.numpy() for t in (y.detach(), x.grad, w.grad, b.grad, rm, rv)]


def check(rank, world, dtype, rtol, atol):
    gen = np.random.default_rng(0)  # the same batch on every rank
    for sizes in splits(world):
        lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
        x = (100 + 3 * gen.standard_normal((sum(sizes), C, 2, 5))).astype(dtype)
        gy = gen.standard_normal(x.shape).astype(dtype)
        w, b = (gen.standard_normal(C).astype(dtype) for _ in range(2))
        rm, rv = gen.standard_normal(C).astype(dtype), gen.uniform(0.5, 2, C).astype(dtype)
        want = run(False, x, gy, w, b, rm, rv)
        got = run(True, x[lo:hi], gy[lo:hi], w, b, rm, rv)
        for i in (2, 3):  # weight and bias gradients: this rank's share, summed here
            t = cr.tensor(got[i])
            dist.all_reduce(t)
            got[i] = t.numpy()
        for name, g, e in zip(("y", "x.grad", "w.grad", "b.grad", "running_mean",
                               "running_var"), got, want):
            e = e[lo:hi] if name in ("y", "x.grad") else e
            assert g.dtype == e.dtype and g.shape == e.shape, (name, sizes, g.shape, e.shape)
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{name} {sizes}")
        for stat in got[4:]:  # the same bits on every rank
            parts = [cr.zeros(C, dtype=stat.dtype) for _ in range(world)]
            dist.all_gather(parts, cr.tensor(stat))
            assert all(np.array_equal(p.numpy(), stat) for p in parts), (sizes, stat)


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world >= 2, world
    for compiled in (True, False):
        with use_compiled(compiled):
            check(rank, world, np.float64, 1e-9, 1e-9)
            check(rank, world, np.float32, 1e-4, 1e-4)
    x = cr.ones(1 if rank == 0 else 0, C)  # one value per channel over all ranks
    try:
        dist.sync_batch_norm(x, None, None)
        raise AssertionError("one value per channel did not raise")
    except ValueError as e:
        assert "more than 1 value per channel" in str(e) and "over all ranks" in str(e), e
    dist.barrier()
    print(f"rank {rank} OK", flush=True)


if __name__ == "__main__":
    main()
