"""Rank 1 calls ``chainrule.distributed.abort(3)`` while rank 0 waits: every rank stops with
exit status 3 (what the command line does on a NaN). Launched by tests/test_distributed.py."""
import chainrule as cr
import chainrule.distributed as dist


def main() -> None:
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        dist.abort(3)
    dist.barrier()
    print("rank 0 should never get here", flush=True)


if __name__ == "__main__":
    main()
