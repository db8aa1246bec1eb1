"""DataLoader worker processes: the batches of num_workers=0, PyTorch's seeding, exceptions
forwarded with the worker's traceback, persistent workers, timeouts, and no orphan process
(after the end, a deletion, an exception or Ctrl-C)."""
from __future__ import annotations

import gc
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.data.dataloader import DataLoader, numpy_collate
from chainrule.data.dataset_utils import IterableDataset
from chainrule.data.datasets import Dataset, TensorDataset
from chainrule.data.sampler import draw_seed
from chainrule.data.workers import get_worker_info

ROOT = Path(__file__).resolve().parents[1]


class Items(Dataset):
    """Item i: (i, the worker's id, its seed, Python random, chainrule and numpy draws, pid)."""

    def __init__(self, n=12, fail_at=None, error=ValueError):
        self.n, self.fail_at, self.error = n, fail_at, error

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise self.error(f"item {i} is broken")
        info = get_worker_info()
        return {"i": i, "id": -1 if info is None else info.id,
                "seed": -1 if info is None else info.seed, "py": random.random(),
                "cr": float(cr.rand(1)), "np": float(np.random.random()), "pid": os.getpid()}


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3)
        return i


def gone(pid):
    """The process ended and was reaped (or is a zombie no longer running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def wait_gone(pids, seconds=5.0):
    end = time.time() + seconds
    while time.time() < end and not all(gone(p) for p in pids):
        time.sleep(0.05)
    return all(gone(p) for p in pids)


def ids(loader):
    return [b["i"].tolist() for b in loader]


# -- the batches and the seeds -------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(batch_size=3, shuffle=True),
                                dict(batch_size=5, shuffle=True, drop_last=True),
                                dict(batch_size=4, prefetch_factor=1),
                                dict(batch_size=2, shuffle=True, in_order=False)])
def test_workers_give_the_batches_of_one_process(kw):
    workers = {k: v for k, v in kw.items() if k in ("prefetch_factor", "in_order")}
    plain = {k: v for k, v in kw.items() if k not in workers}
    a = DataLoader(Items(13), seed=4, **plain)
    b = DataLoader(Items(13), seed=4, num_workers=2, **plain, **workers)
    for _ in range(2):
        expected, got = ids(a), ids(b)
        if kw.get("in_order", True):
            assert got == expected
        else:  # any order, the same batches
            assert sorted(got) == sorted(expected)


def test_fast_path_and_tensor_batches_cross_processes():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = TensorDataset(x, np.arange(20))
    one = list(DataLoader(ds, batch_size=6, shuffle=True, seed=1))
    two = list(DataLoader(ds, batch_size=6, shuffle=True, seed=1, num_workers=2))
    for (x1, y1), (x2, y2) in zip(one, two, strict=True):
        assert isinstance(x2, cr.Tensor) and x2.dtype == x1.dtype
        assert x1.tolist() == x2.tolist() and y1.tolist() == y2.tolist()
    nps = list(DataLoader(ds, batch_size=6, num_workers=2, collate_fn=numpy_collate))
    assert isinstance(nps[0][0], np.ndarray) and nps[-1][1].tolist() == [18, 19]


def test_workers_are_seeded_as_pytorchs():
    g = cr.Generator().manual_seed(3)
    loader = DataLoader(Items(4), batch_size=1, num_workers=2, generator=g)
    base = draw_seed(cr.Generator().manual_seed(3))  # the first draw of each iter()
    batches = list(loader)
    for b in batches:
        wid, seed = int(b["id"][0]), int(b["seed"][0])
        assert seed == base + wid  # worker i: base_seed + i
    firsts = {int(b["id"][0]): b for b in batches[:2]}  # each worker's first item
    for wid, b in firsts.items():
        seed = base + wid
        assert float(b["py"][0]) == random.Random(seed).random()
        assert float(b["cr"][0]) == float(cr.Generator().manual_seed(seed)._uniform((1,),
                                                                                    "float32")[0])
        from torch.utils.data._utils.worker import _generate_state

        assert float(b["np"][0]) == np.random.RandomState(_generate_state(base, wid)).random()


def test_worker_init_fn_and_get_worker_info(tmp_path):
    def init(worker_id):
        info = get_worker_info()
        Path(tmp_path, f"w{worker_id}").write_text(
            json.dumps([info.id, info.num_workers, len(info.dataset)]))

    list(DataLoader(Items(4), batch_size=2, num_workers=2, worker_init_fn=init))
    assert sorted(json.loads(p.read_text()) for p in tmp_path.iterdir()) == \
        [[0, 2, 4], [1, 2, 4]]
    assert get_worker_info() is None


def test_spawn_context_with_a_picklable_dataset():
    ds = TensorDataset(np.arange(10))
    got = [b[0].tolist() for b in DataLoader(ds, batch_size=4, num_workers=1, seed=2,
                                             shuffle=True, multiprocessing_context="spawn")]
    assert got == [b[0].tolist() for b in DataLoader(ds, batch_size=4, seed=2, shuffle=True)]


class Shards(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        wid, n = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(wid, 10, n))


def test_iterable_dataset_sharded_over_workers():
    ours = sorted(sum((b.tolist() for b in DataLoader(Shards(), batch_size=3, num_workers=2)),
                      []))
    assert ours == list(range(10))
    assert [b.tolist() for b in DataLoader(Shards(), batch_size=4)] == \
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("error", [ValueError, KeyError])
def test_worker_exception_is_reraised_with_its_traceback(error):
    loader = DataLoader(Items(8, fail_at=5, error=error), batch_size=2, num_workers=2)
    it = iter(loader)
    pids = it._pool.pids
    with pytest.raises(error) as exc:
        list(it)
    text = str(exc.value)
    # batch 2 ([4, 5]) goes to worker 2 % 2 = 0, as in PyTorch
    assert text.startswith(f"Caught {error.__name__} in DataLoader worker process 0.\n"
                           "Original Traceback (most recent call last):")
    assert "item 5 is broken" in text and "__getitem__" in text
    del it, exc
    gc.collect()
    assert wait_gone(pids)


def test_worker_exception_text_matches_torch():
    class Bad(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise ValueError("boom")

    with pytest.raises(ValueError) as theirs:
        next(iter(torch.utils.data.DataLoader(Bad(), num_workers=1)))
    with pytest.raises(ValueError) as ours:
        next(iter(DataLoader(Items(2, fail_at=0), num_workers=1)))
    assert str(ours.value).split("\n")[:2] == str(theirs.value).split("\n")[:2]


def test_timeout_and_a_killed_worker():
    loader = DataLoader(Slow(), num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iter(loader))
    it = iter(DataLoader(Slow(), num_workers=1))
    os.kill(it._pool.pids[0], signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           "unexpectedly"):
        next(it)


def test_unpicklable_batch_is_an_error():
    with pytest.raises(Exception, match="Caught .* in DataLoader worker process 0"):
        next(iter(DataLoader(Items(2), num_workers=1, collate_fn=lambda b: lambda: b)))


# -- lifetimes --------------------------------------------------------------------------------

def test_workers_end_with_the_epoch_or_the_iterator():
    it = iter(DataLoader(Items(6), batch_size=2, num_workers=2))
    pids = it._pool.pids
    list(it)
    assert wait_gone(pids, 2)
    it = iter(DataLoader(Items(6), batch_size=2, num_workers=2))
    next(it)
    pids = it._pool.pids
    del it
    assert wait_gone(pids, 2)


def test_persistent_workers_keep_their_processes_and_draws():
    g = cr.Generator().manual_seed(5)
    loader = DataLoader(Items(6), batch_size=6, shuffle=True, num_workers=2, generator=g,
                        persistent_workers=True)
    first, second = list(loader), list(loader)
    assert set(first[0]["pid"].tolist()) == set(second[0]["pid"].tolist())
    ref = cr.Generator().manual_seed(5)  # base_seed once, then two randperm per epoch
    base = draw_seed(ref)
    perms = [ref._permutation(6).tolist() for _ in range(4)]
    assert first[0]["i"].tolist() == perms[0] and second[0]["i"].tolist() == perms[2]
    assert set(second[0]["seed"].tolist()) <= {base, base + 1}
    pids = loader._iterator._pool.pids
    del loader, first, second
    gc.collect()
    assert wait_gone(pids)


@pytest.mark.parametrize("persistent", [False, True])
def test_resume_mid_epoch_with_workers(persistent):
    def make(seed):
        return DataLoader(Items(14), batch_size=3, shuffle=True, seed=seed, num_workers=2,
                          persistent_workers=persistent)

    a = make(1)
    ids(a)
    it = iter(a)
    next(it), next(it)
    state = json.loads(json.dumps(a.state_dict()))
    rest = [b["i"].tolist() for b in it]
    following = ids(a)
    b = make(77)
    b.load_state_dict(state)
    assert ids(b) == rest and ids(b) == following


def test_ctrl_c_leaves_no_worker(tmp_path):
    script = tmp_path / "ctrl_c.py"
    script.write_text(textwrap.dedent(f"""
        import signal, sys, time
        # Ctrl-C as in a terminal: a shell that ran the tests in the background made this
        # process inherit SIGINT ignored, and Python keeps an ignored SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.path.insert(0, {str(ROOT)!r})
        from chainrule.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self): return 1000
            def __getitem__(self, i):
                time.sleep(0.05)
                return i

        it = iter(DataLoader(Slow(), batch_size=2, num_workers=2))
        print(*it._pool.pids, flush=True)
        for batch in it:
            pass
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert len(pids) == 2 and wait_gone(pids)


def test_a_forked_worker_leaves_an_older_iterator_alone(tmp_path):
    """An iterator kept alive by a caught worker exception is inherited by the next loader's
    forked workers; their garbage collection of it must not stop the parent's workers (nor
    print "Exception ignored in ... __del__ ... can only test a child process")."""
    script = tmp_path / "after_error.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import chainrule as torch
        from chainrule.utils.data import DataLoader, Dataset

        class Items(Dataset):
            def __init__(self, fail_at=None): self.fail_at = fail_at
            def __len__(self): return 8
            def __getitem__(self, i):
                if i == self.fail_at:
                    raise ValueError("boom")
                return torch.tensor([float(i)])

        try:
            for batch in DataLoader(Items(fail_at=3), batch_size=2, num_workers=2):
                pass
        except ValueError:
            print("caught", flush=True)
        for _ in range(2):
            print(sum(len(b) for b in DataLoader(Items(), batch_size=2, num_workers=2)),
                  flush=True)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["caught", "8", "8"]
    assert done.stderr == ""
