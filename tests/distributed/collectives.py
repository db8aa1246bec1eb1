"""Two or more ranks: all_reduce (every ReduceOp), broadcast and all_gather give exact results
for integer and float tensors, contiguous or not, blocking or async. Launched by
tests/test_distributed.py as ``mpiexec -n 2 python -m mpi4py collectives.py``."""
import numpy as np

import chainrule as cr
import chainrule.distributed as dist


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world >= 2 and dist.is_initialized(), (rank, world)
    ranks = np.arange(world)

    for dtype in (np.float32, np.float64, np.int32, np.int64):
        base = np.arange(6, dtype=dtype).reshape(2, 3)
        expected = {  # the value on rank r is base + r + 1
            dist.ReduceOp.SUM: sum(base + r + 1 for r in ranks),
            dist.ReduceOp.PRODUCT: np.prod([base + r + 1 for r in ranks], axis=0),
            dist.ReduceOp.MIN: base + 1,
            dist.ReduceOp.MAX: base + world,
        }
        if np.dtype(dtype).kind == "f":
            expected[dist.ReduceOp.AVG] = sum(base + r + 1 for r in ranks) / dtype(world)
        for op, want in expected.items():
            t = cr.tensor(base + rank + 1)
            assert dist.all_reduce(t, op=op) is None
            assert t.dtype == np.dtype(dtype) and np.array_equal(t.numpy(), want), (op, dtype, t)
            # a strided view: reduced through a copy, written back in place
            big = cr.tensor(np.stack([base + rank + 1, base]).transpose(1, 0, 2).copy())
            view = big[:, 0]
            dist.all_reduce(view, op=op)
            assert np.array_equal(big.numpy()[:, 0], want)
            assert np.array_equal(big.numpy()[:, 1], base)
        t = cr.tensor(base + rank)
        work = dist.all_reduce(t, async_op=True)
        work.wait()
        assert np.array_equal(t.numpy(), sum(base + r for r in ranks))
        # broadcast from every source
        for src in ranks:
            t = cr.tensor(base * (rank + 1))
            dist.broadcast(t, src=int(src))
            assert np.array_equal(t.numpy(), base * (src + 1)), (src, t)
        # all_gather into the given tensors
        out = [cr.tensor(np.zeros((2, 3), dtype)) for _ in ranks]
        dist.all_gather(out, cr.tensor(base + 10 * rank))
        for r, o in enumerate(out):
            assert np.array_equal(o.numpy(), base + 10 * r), (r, o)

    # extreme float values survive exactly (no conversion on the way)
    t = cr.tensor(np.array([1e-45, 3.4e38, -0.0, 1 / 3], np.float32) * (1 if rank == 0 else 0))
    dist.all_reduce(t)
    assert np.array_equal(t.numpy(), np.array([1e-45, 3.4e38, -0.0, 1 / 3], np.float32))
    objs = [None] * world
    dist.all_gather_object(objs, {"rank": rank})
    assert objs == [{"rank": r} for r in ranks]
    dist.barrier()
    try:
        dist.all_gather([cr.zeros(2)], cr.zeros(2))
    except RuntimeError as err:
        assert "one tensor per rank" in str(err)
    else:
        raise AssertionError("all_gather with too few tensors did not raise")
    dist.destroy_process_group()
    print(f"rank {rank} OK", flush=True)


if __name__ == "__main__":
    main()
