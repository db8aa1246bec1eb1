"""Rank 1 raises while rank 0 waits in a collective: under ``python -m mpi4py`` the exception
aborts every rank, so the launch exits non-zero within seconds instead of hanging. Launched by
tests/test_distributed.py."""
import chainrule as cr
import chainrule.distributed as dist


def main() -> None:
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    t = cr.ones(3)
    dist.all_reduce(t)  # rank 0 waits here for a rank that is gone
    print("rank 0 should never get here", flush=True)


if __name__ == "__main__":
    main()
