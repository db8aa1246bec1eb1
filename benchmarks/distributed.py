"""Data-parallel training speed: LeNet-5 on 1 and 2 ranks, chainrule over MPI beside PyTorch's
``DistributedDataParallel`` (gloo).

Each rank is one process with one thread (``OMP_NUM_THREADS=1``, chainrule's and torch's
``set_num_threads(1)``), so 2 ranks use the 2 cores that one process with 2 threads uses in
the main suite. A rank times whole SGD steps (zero_grad, forward, cross-entropy, ``.item()``,
backward with the gradients averaged over the ranks, momentum step) on Fashion-MNIST batches
made before timing; a sample is ``--steps`` steps between two barriers, so it counts the slowest
rank; the report gives the median of ``--repeats`` samples. Configurations:

- 1 rank, batch 64: the reference (no wrapper, no communication);
- 2 ranks, 64 per rank (global 128): weak scaling, as DDP is usually run;
- 2 ranks, 32 per rank (global 64): the same global batch as one process, as
  ``chainrule train --distributed --batch-size 64`` splits it (strong scaling);
- chainrule, 2 ranks, 64 per rank, with plain ``BatchNorm``: PyTorch's ``SyncBatchNorm`` runs
  on GPUs only, so PyTorch's ranks normalise over their own shard; this row compares alike;
- the machine's ceiling: two single-rank runs at once, independent (no communication, no
  wrapper), summed: what two processes of this step get from the shared caches and memory.

scaling efficiency = images/s of N ranks / (N x images/s of 1 rank at batch 64), target >= 85%.
Besides, each 2-rank run times the Allreduce of one flat float32 array as large as all of
LeNet-5's gradients (median of 200, after a barrier: the communication floor), and chainrule
the wait for its gradient buckets inside backward (per step: communication not hidden behind
backward, plus waiting for the slower rank).

Run ``python -m benchmarks.distributed`` (merges a "Data parallel" table into
``benchmarks/results/latest.json`` and ``latest.md``); ``python -m benchmarks`` runs it too
(unless ``--tiny``; ``--cases distributed`` runs it alone). chainrule's ranks are launched as
``mpiexec -n N python -m mpi4py -m benchmarks.distributed --worker ...`` and PyTorch's with
``torch.multiprocessing.spawn`` on 127.0.0.1, each in a fresh process.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .framework import RESULTS_DIR, ROOT

DISTRIBUTED = "distributed"
"""The ``--cases`` name that selects this benchmark."""
PER_RANK = 64
TARGET = 0.85
STEPS, REPEATS, WARMUP = 40, 5, 5
TINY_STEPS, TINY_REPEATS, TINY_WARMUP = 2, 1, 1
ALLREDUCE_CALLS = 200
LAUNCH_TIMEOUT = 600
SECTION = "## Data parallel: LeNet-5 over MPI beside PyTorch DDP"
_BEGIN, _END = "<!-- distributed: begin -->", "<!-- distributed: end -->"

# (framework, ranks, per-rank batch, synchronised batch norm)
CONFIGS = (("chainrule", 1, 64, True), ("independent", 2, 64, False),
           ("chainrule", 2, 64, True), ("chainrule", 2, 32, True), ("chainrule", 2, 64, False),
           ("torch", 1, 64, False), ("torch", 2, 64, False), ("torch", 2, 32, False))
TINY_CONFIGS = (("chainrule", 1, 64, True), ("chainrule", 2, 64, True), ("torch", 2, 64, False))


# ============================================================================ the ranks
def _batches(per_rank: int, ranks: int, rank: int, steps: int
             ) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """This rank's rows ``rank::ranks`` of ``steps`` global batches of Fashion-MNIST's first
    images (random arrays when the dataset is not found), and what the data is."""
    n = per_rank * ranks * steps
    try:
        from chainrule.training import load_split

        ds = load_split("fashion-mnist", train=True, limit=n)
        x, y = ds.get_batch(np.arange(len(ds)))
        what = "Fashion-MNIST"
        if len(ds) < n:
            reps = -(-n // len(ds))
            x, y = np.concatenate([x] * reps)[:n], np.concatenate([y] * reps)[:n]
    except (OSError, ValueError):  # DatasetNotFoundError is an OSError
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
        what = "random arrays (Fashion-MNIST not found)"
    g = per_rank * ranks
    out = []
    for k in range(steps):
        xs, ys = x[k * g:(k + 1) * g][rank::ranks], y[k * g:(k + 1) * g][rank::ranks]
        out.append((np.ascontiguousarray(xs, np.float32), np.ascontiguousarray(ys, np.int64)))
    return out, what


def _time_steps(step: Callable[[Any, Any], None], batches: Sequence[Any], warmup: int,
                repeats: int, barrier: Callable[[], None]) -> list[float]:
    """``warmup`` untimed steps, then ``repeats`` samples of all ``batches`` between
    barriers (so a sample lasts as long as the slowest rank)."""
    for i in range(warmup):
        step(*batches[i % len(batches)])
    samples = []
    for _ in range(repeats):
        barrier()
        start = time.perf_counter()
        for xb, yb in batches:
            step(xb, yb)
        barrier()
        samples.append(time.perf_counter() - start)
    return samples


def _sgd_step(net: Any, opt: Any, loss_fn: Any) -> Callable[[Any, Any], None]:
    """One timed training step, the same in both frameworks (``.item()``: the loss is read
    every step, as a training loop does)."""
    def step(x: Any, y: Any) -> None:
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.item()
        loss.backward()
        opt.step()
    return step


def _median_call(call: Callable[[], None], calls: int, barrier: Callable[[], None]) -> float:
    barrier()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chainrule_worker(per_rank: int, steps: int, repeats: int, warmup: int, sync_bn: bool,
                     out: str) -> None:
    """One rank of chainrule's run (under ``mpiexec``); rank 0 writes ``out`` (JSON)."""
    import chainrule
    import chainrule.distributed as dist
    from chainrule import nn
    from chainrule.backend import set_num_threads

    from .cases import LR, MOMENTUM, build_model
    from .framework import Framework

    set_num_threads(1)
    dist.init_process_group("mpi")
    rank, ranks = dist.get_rank(), dist.get_world_size()
    batches, what = _batches(per_rank, ranks, rank, steps)
    data = [(chainrule.from_numpy(x), chainrule.from_numpy(y)) for x, y in batches]
    model = build_model(Framework("chainrule"), "lenet5")
    net, waits = model, []
    if ranks > 1:
        if sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        # as `chainrule train --distributed`: synchronised running statistics need no broadcast
        net = nn.parallel.DistributedDataParallel(model, broadcast_buffers=not sync_bn)
        finish = net._finish  # the wait for the gradient buckets, at the end of backward

        def timed_finish(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return finish(*args)
            finally:
                waits.append(time.perf_counter() - start)

        net._finish = timed_finish
    opt = chainrule.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    step = _sgd_step(net, opt, nn.CrossEntropyLoss())

    samples = _time_steps(step, data, warmup, repeats, dist.barrier)
    n_params = sum(int(p.numel()) for p in model.parameters())
    flat = np.zeros(n_params, np.float32)
    allreduce = _median_call(lambda: dist.all_reduce_array(flat), ALLREDUCE_CALLS,
                             dist.barrier) if ranks > 1 else None
    timed_waits = waits[warmup:] if waits else []
    if rank == 0:
        buckets = len(getattr(net, "_buckets", ())) if ranks > 1 else 0
        _write(out, samples=samples, data=what, params=n_params, allreduce_s=allreduce,
               reduce_wait_s=statistics.median(timed_waits) if timed_waits else None,
               buckets=buckets)
    dist.destroy_process_group()


def _torch_rank(rank: int, ranks: int, port: int, per_rank: int, steps: int, repeats: int,
                warmup: int, out: str) -> None:
    """One rank of PyTorch's run (a ``torch.multiprocessing.spawn`` process)."""
    import torch
    import torch.distributed as tdist

    from .cases import LR, MOMENTUM, build_model
    from .framework import Framework

    torch.set_num_threads(1)
    if ranks > 1:
        tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                 world_size=ranks)
    barrier = tdist.barrier if ranks > 1 else (lambda: None)
    batches, what = _batches(per_rank, ranks, rank, steps)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    model = build_model(Framework("torch"), "lenet5")
    net = torch.nn.parallel.DistributedDataParallel(model) if ranks > 1 else model
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    step = _sgd_step(net, opt, torch.nn.CrossEntropyLoss())

    samples = _time_steps(step, data, warmup, repeats, barrier)
    n_params = sum(int(p.numel()) for p in model.parameters())
    allreduce = None
    if ranks > 1:
        flat = torch.zeros(n_params, dtype=torch.float32)
        allreduce = _median_call(lambda: tdist.all_reduce(flat), ALLREDUCE_CALLS, barrier)
    if rank == 0:
        _write(out, samples=samples, data=what, params=n_params, allreduce_s=allreduce,
               reduce_wait_s=None, buckets=None)
    if ranks > 1:
        tdist.destroy_process_group()


def torch_worker(ranks: int, per_rank: int, steps: int, repeats: int, warmup: int,
                 out: str) -> None:
    """PyTorch's run: ``ranks`` spawned processes (or this one for a single rank)."""
    args = (ranks, _free_port(), per_rank, steps, repeats, warmup, out)
    if ranks == 1:
        _torch_rank(0, *args)
        return
    import torch.multiprocessing as mp

    mp.spawn(_torch_rank, args=args, nprocs=ranks, join=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write(path: str, **result: Any) -> None:
    from chainrule.io.files import write_atomic

    write_atomic(path, json.dumps(result))


# ============================================================================ the launcher
def _env() -> dict[str, str]:
    """One thread per rank; the repository importable; no launcher variables inherited."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "OMPI_", "MPI_LOCAL", "HYDRA_"))}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _mpiexec() -> Optional[str]:
    return shutil.which("mpiexec", path=_env()["PATH"])


def run_config(framework: str, ranks: int, per_rank: int, sync_bn: bool, steps: int,
               repeats: int, warmup: int) -> dict[str, Any]:
    """Launch one configuration in fresh processes; its measurements (or ``error``)."""
    row: dict[str, Any] = {"framework": framework, "ranks": ranks, "per_rank": per_rank,
                           "global_batch": per_rank * ranks, "sync_bn": sync_bn and ranks > 1}
    if framework == "independent":
        return _run_independent(row, ranks, per_rank, steps, repeats, warmup)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        worker = [sys.executable, "-m", "benchmarks.distributed", "--worker", framework,
                  "--per-rank", str(per_rank), "--steps", str(steps), "--repeats",
                  str(repeats), "--warmup", str(warmup), "--json", out]
        if framework == "chainrule":
            mpiexec = _mpiexec()
            if mpiexec is None:
                row["error"] = 'no mpiexec (pip install "chainrule[mpi]")'
                return row
            cmd = [mpiexec, "-n", str(ranks), sys.executable, "-m", "mpi4py"] + worker[1:]
            if not sync_bn:
                cmd.append("--no-sync-bn")
        else:
            cmd = worker + ["--ranks", str(ranks)]
        try:
            done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True,
                                  timeout=LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            row["error"] = f"timed out after {LAUNCH_TIMEOUT} s"
            return row
        if done.returncode != 0 or not os.path.exists(out):
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            row["error"] = f"exit {done.returncode}: {' / '.join(tail)}"
            return row
        with open(out) as f:
            measured = json.load(f)
    samples = measured["samples"]
    images = per_rank * ranks * steps
    rates = [images / s for s in samples]
    row.update(images_per_s=statistics.median(rates),
               iqr=float(np.subtract(*np.percentile(rates, [75, 25]))) if len(rates) > 1
               else 0.0,
               step_s=statistics.median(samples) / steps, samples_s=samples,
               allreduce_s=measured["allreduce_s"], reduce_wait_s=measured["reduce_wait_s"],
               buckets=measured["buckets"], params=measured["params"], data=measured["data"])
    return row


def _run_independent(row: dict[str, Any], ranks: int, per_rank: int, steps: int, repeats: int,
                     warmup: int) -> dict[str, Any]:
    """``ranks`` single-rank chainrule runs at once, each its own world: their summed img/s is
    the most ``ranks`` processes of this step get from the machine (no communication)."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [os.path.join(tmp, f"result{r}.json") for r in range(ranks)]
        procs = [subprocess.Popen(
            [sys.executable, "-m", "benchmarks.distributed", "--worker", "chainrule",
             "--no-sync-bn", "--per-rank", str(per_rank), "--steps", str(steps), "--repeats",
             str(repeats), "--warmup", str(warmup), "--json", out], cwd=ROOT, env=_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for out in outs]
        try:
            errors = [p.communicate(timeout=LAUNCH_TIMEOUT)[1] for p in procs]
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            row["error"] = f"timed out after {LAUNCH_TIMEOUT} s"
            return row
        if any(p.returncode != 0 or not os.path.exists(o) for p, o in zip(procs, outs)):
            row["error"] = "exit " + " / ".join(e.strip().splitlines()[-1:][0] if e.strip()
                                                else str(p.returncode)
                                                for p, e in zip(procs, errors))
            return row
        runs = []
        for out in outs:
            with open(out) as f:
                runs.append(json.load(f))
    images = per_rank * steps  # per process and sample
    rates = [sum(images / run["samples"][i] for run in runs) for i in range(repeats)]
    row.update(images_per_s=statistics.median(rates),
               iqr=float(np.subtract(*np.percentile(rates, [75, 25]))) if len(rates) > 1
               else 0.0,
               step_s=statistics.median(s for run in runs for s in run["samples"]) / steps,
               allreduce_s=None, reduce_wait_s=None, data=runs[0]["data"])
    return row


def measure(tiny: bool = False, steps: Optional[int] = None, repeats: Optional[int] = None,
            warmup: Optional[int] = None,
            log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run every configuration once (``tiny``: three, two steps each: a smoke test) and
    return the results with the scaling efficiencies."""
    steps = steps or (TINY_STEPS if tiny else STEPS)
    repeats = repeats or (TINY_REPEATS if tiny else REPEATS)
    warmup = warmup if warmup is not None else (TINY_WARMUP if tiny else WARMUP)
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    rows = []
    for framework, ranks, per_rank, sync_bn in (TINY_CONFIGS if tiny else CONFIGS):
        log(f"  {DISTRIBUTED}: {framework}, {ranks} rank(s) x batch {per_rank} ...")
        rows.append(run_config(framework, ranks, per_rank, sync_bn, steps, repeats, warmup))
    for row in rows:
        base = "chainrule" if row["framework"] == "independent" else row["framework"]
        one = next((r for r in rows if r["framework"] == base and r["ranks"] == 1
                    and r.get("images_per_s")), None)
        if row.get("images_per_s") and one is not None and row["ranks"] > 1:
            row["efficiency"] = row["images_per_s"] / (row["ranks"] * one["images_per_s"])
    return {"steps": steps, "repeats": repeats, "warmup": warmup, "tiny": tiny,
            "target": TARGET, "cpu_count": os.cpu_count(), "loadavg_start": load,
            "rows": rows}


# ============================================================================ the report
def _fmt_time(s: Optional[float]) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} µs"


def render_section(result: dict[str, Any]) -> str:
    """The markdown section of the suite's report: one row per configuration."""
    header = ("framework", "ranks x batch (global)", "batch norm", "img/s (IQR)",
              "scaling efficiency", "step", "Allreduce of all gradients",
              "wait for gradients per step")
    lines = [_BEGIN, SECTION, "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in result.get("rows", []):
        name = {"chainrule": "chainrule (MPI)", "torch": "PyTorch (gloo)",
                "independent": "ceiling: 2 separate 1-rank runs"}[row["framework"]]
        shape = f"{row['ranks']} x {row['per_rank']} ({row['global_batch']})"
        norm = "sync" if row.get("sync_bn") else ("-" if row["ranks"] == 1 else "per rank")
        if row.get("error"):
            lines.append(f"| {name} | {shape} | {norm} | ERROR: "
                         f"{row['error'].replace('|', '/')} | - | - | - | - |")
            continue
        eff = row.get("efficiency")
        verdict = "" if eff is None else (" PASS" if eff >= result.get("target", TARGET)
                                          else " FAIL")
        lines.append(
            f"| {name} | {shape} | {norm} | {row['images_per_s']:,.0f} ({row['iqr']:,.0f}) | "
            f"{'-' if eff is None else f'{eff:.0%}{verdict}'} | {_fmt_time(row['step_s'])} | "
            f"{_fmt_time(row.get('allreduce_s'))} | {_fmt_time(row.get('reduce_wait_s'))} |")
    first = next((r for r in result.get("rows", []) if r.get("data")), {})
    lines += [
        "",
        f"- {result.get('steps')} steps per sample, median of {result.get('repeats')} "
        f"samples after {result.get('warmup')} warm-up steps; one thread per rank; "
        f"{result.get('cpu_count')} CPUs, load average {result.get('loadavg_start')} at the "
        f"start; data: {first.get('data', '-')}. Target: efficiency >= "
        f"{result.get('target', TARGET):.0%}.",
        "- scaling efficiency = img/s of N ranks / (N x img/s of 1 rank, batch 64). 2 x 64: "
        "weak scaling (per-rank batch kept); 2 x 32: one process's batch split in two, as "
        "`chainrule train --distributed --batch-size 64`.",
        f"- Allreduce: one flat float32 array of all {first.get('params', '-')} gradients, "
        "median of 200 after a barrier. Wait per step: chainrule's wait for its gradient "
        "buckets at the end of backward (communication not overlapped, and the slower rank).",
        "- PyTorch's SyncBatchNorm runs on GPUs only, so its ranks normalise their own shard "
        "('per rank'); chainrule's 'per rank' row compares alike, its 'sync' rows are what "
        "`chainrule train --distributed` runs (3 synchronised batch norms: 3 Allgathers "
        "and 3 Allreduces a step).",
        "- ceiling: two single-rank chainrule runs at the same time, each alone in its world "
        "(no communication, no wrapper), their img/s summed: what two processes of this "
        "step get from this machine's shared caches and memory; no data-parallel run can do "
        "better here.",
        "- One run on a shared 2-CPU VM: other processes take the cores the 2 ranks need, "
        "so the 2-rank rows are the noisiest; compare frameworks within one run.",
        _END,
    ]
    return "\n".join(lines)


def merge_into_results(result: dict[str, Any], out: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """Put ``result`` into ``out/latest.json`` (``meta["distributed"]``) and its section
    into ``out/latest.md`` (replacing an earlier one), keeping the rest of both files."""
    from chainrule.io.files import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "latest.json", out / "latest.md"
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    doc.setdefault("meta", {})[DISTRIBUTED] = result
    write_atomic(json_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    try:
        text = md_path.read_text(encoding="utf-8")
    except OSError:
        text = "# chainrule vs PyTorch benchmarks\n"
    write_atomic(md_path, insert_section(text, render_section(result)))
    return json_path, md_path


def insert_section(text: str, section: str) -> str:
    """``text`` with ``section`` in place of an earlier one, else before ``## Notes``, else at
    the end.

    Example:
        >>> insert_section("# r\\n\\n## Notes\\n", "S")
        '# r\\n\\nS\\n\\n## Notes\\n'
    """
    if _BEGIN in text and _END in text:
        head, rest = text.split(_BEGIN, 1)
        return head + section + rest.split(_END, 1)[1]
    if "\n## Notes" in text:
        head, rest = text.split("\n## Notes", 1)
        return head.rstrip("\n") + "\n\n" + section + "\n\n## Notes" + rest
    return text.rstrip("\n") + "\n\n" + section + "\n"


def wanted(spec: Optional[str], tiny: bool) -> bool:
    """Whether a suite run with ``--cases spec`` includes this benchmark: when named, or in
    a whole run that is not ``--tiny``."""
    names = [w.strip() for w in (spec or "").split(",") if w.strip()]
    if DISTRIBUTED in names:
        return True
    return not tiny and (not names or names == ["all"])


# ============================================================================ command line
def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m benchmarks.distributed``: measure and merge into the results (0), or, with
    ``--worker``, be one launched rank."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                description="LeNet-5 data-parallel training speed: chainrule "
                                            "over MPI beside PyTorch DDP (gloo)")
    p.add_argument("--steps", type=int, default=None, help=f"steps per sample [{STEPS}]")
    p.add_argument("--repeats", type=int, default=None, help=f"samples [{REPEATS}]")
    p.add_argument("--warmup", type=int, default=None, help=f"warm-up steps [{WARMUP}]")
    p.add_argument("--tiny", action="store_true", help="a smoke test: 3 runs of 2 steps")
    p.add_argument("--out", default=str(RESULTS_DIR), help="results folder to merge into")
    p.add_argument("--no-merge", action="store_true", help="print the table only")
    p.add_argument("--worker", choices=("chainrule", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--per-rank", type=int, default=PER_RANK, help=argparse.SUPPRESS)
    p.add_argument("--ranks", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--no-sync-bn", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker == "chainrule":
        chainrule_worker(args.per_rank, args.steps, args.repeats, args.warmup,
                         not args.no_sync_bn, args.json)
        return 0
    if args.worker == "torch":
        torch_worker(args.ranks, args.per_rank, args.steps, args.repeats, args.warmup,
                     args.json)
        return 0
    result = measure(args.tiny, args.steps, args.repeats, args.warmup,
                     lambda s: print(s, file=sys.stderr, flush=True))
    print(render_section(result))
    if not args.no_merge:
        paths = merge_into_results(result, Path(args.out))
        print(f"merged into {paths[0]} and {paths[1]}", file=sys.stderr)
    return 1 if any(r.get("error") for r in result["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
