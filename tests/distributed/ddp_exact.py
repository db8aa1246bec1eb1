"""Two ranks with DistributedDataParallel equal one process that sums the same two shards'
gradients, bit for bit, and every rank holds the same parameters after every step. An MLP
(no batch norm), SGD with momentum and weight decay; one bucket, a bucket per parameter (the
overlapped path), a few buckets, then gradient accumulation with no_sync. Then the misuse
errors. Launched by tests/test_distributed.py as ``mpiexec -n 2 python -m mpi4py
ddp_exact.py``."""
import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.nn.parallel import DistributedDataParallel as DDP
from chainrule.utils.data import DistributedSampler

B, STEPS = 8, 6  # global batch, steps
gen = np.random.default_rng(0)  # the same data on every rank
X = gen.standard_normal((B * STEPS, 5)).astype(np.float32)
Y = gen.integers(0, 3, B * STEPS)


def make_model():
    cr.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def same_everywhere(model, where):
    world = dist.get_world_size()
    for name, p in model.named_parameters():
        out = [cr.zeros_like(p.detach()) for _ in range(world)]
        dist.all_gather(out, p.detach())
        for r in range(1, world):
            assert np.array_equal(out[0].numpy(), out[r].numpy()), (where, name, r)


def shards(step):
    """Each rank's rows of global batch `step`, as DistributedSampler deals them."""
    world = dist.get_world_size()
    order = list(range(len(X)))[step * B:(step + 1) * B]
    return [order[r::world] for r in range(world)]


def loss_of(model, rows):
    return nn.functional.cross_entropy(model(cr.tensor(X[rows])), cr.tensor(Y[rows]))


def train_ddp(bucket_cap_mb, accumulate):
    rank = dist.get_rank()
    model = make_model()
    if rank == 1:  # a different start: the wrap must broadcast rank 0's parameters
        for p in model.parameters():
            p.data = p.data + 1.0
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    same_everywhere(ddp, "after wrap")
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for step in range(STEPS):
        rows = shards(step)[rank]
        opt.zero_grad()
        if accumulate:  # two micro-batches; only the second backward reduces
            with ddp.no_sync():
                loss_of(ddp, rows[:2]).backward()
            loss_of(ddp, rows[2:]).backward()
        else:
            loss_of(ddp, rows).backward()
        opt.step()
        same_everywhere(ddp, f"step {step}")
    return [p.detach().numpy().copy() for p in model.parameters()]


def train_reference(accumulate):
    """One process: each shard's gradient (accumulated over its micro-batches), then the
    two shards' summed and halved."""
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for step in range(STEPS):
        per_shard = []
        for rows in shards(step):
            opt.zero_grad()
            for part in ([rows[:2], rows[2:]] if accumulate else [rows]):
                loss_of(model, part).backward()
            per_shard.append([p.grad for p in model.parameters()])
        for p, g0, g1 in zip(model.parameters(), *per_shard):
            p.grad = (g0 + g1) / 2
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def check(got, want, what):
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and np.array_equal(a, b), \
            (what, i, float(np.abs(a.astype(np.float64) - b).max()))


def check_misuse():
    """A loss term that bypasses the wrapper, and an output left out of the loss, raise."""
    rank = dist.get_rank()
    rows = shards(0)[rank]
    ddp = DDP(make_model())
    loss = loss_of(ddp, rows) + sum((p * p).sum() for p in ddp.module.parameters())
    try:
        loss.backward()
    except RuntimeError as err:
        assert "after its reduction" in str(err), err
    else:
        raise AssertionError("a loss term on .module's parameters did not raise")

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.a, self.b = nn.Linear(5, 4), nn.Linear(4, 3), nn.Linear(4, 3)

        def forward(self, x):
            h = self.body(x)
            return self.a(h), self.b(h)

    ddp = DDP(TwoHeads())
    out_a, _ = ddp(cr.tensor(X[rows]))
    out_a.sum().backward()  # head b gets no gradient: the reduction cannot finish
    try:
        ddp(cr.tensor(X[rows]))
    except RuntimeError as err:
        assert "finished reduction" in str(err) and "b.weight" in str(err), err
    else:
        raise AssertionError("a backward that missed parameters did not raise at forward")
    ddp(cr.tensor(X[rows]))  # a forward with no backward is forgotten at the next one
    out_a, out_b = ddp(cr.tensor(X[rows]))
    (out_a.sum() + out_b.sum()).backward()
    same_everywhere(ddp, "two heads")


def main():
    dist.init_process_group("mpi")
    assert dist.get_world_size() == 2
    ref = train_reference(accumulate=False)
    check(train_ddp(25, accumulate=False), ref, "one bucket")
    check(train_ddp(1e-4, accumulate=False), ref, "a bucket per parameter")
    check(train_ddp(3e-3, accumulate=False), ref, "a few buckets")
    check(train_ddp(25, accumulate=True), train_reference(accumulate=True), "no_sync")
    check_misuse()
    # the sampler deals the rows the training above took
    sampler = DistributedSampler(range(len(X)), shuffle=False)
    assert list(sampler)[:B // 2] == shards(0)[dist.get_rank()]
    rank = dist.get_rank()
    dist.destroy_process_group()
    print(f"rank {rank} OK", flush=True)


if __name__ == "__main__":
    main()
