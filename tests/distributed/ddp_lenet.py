"""Two ranks train LeNet-5 (batch norm converted to SyncBatchNorm, dropout with the global
mask rule) as one process trains it on the whole batch: after 30 steps the weights, the
running statistics and the evaluation outputs agree within float32 tolerance, and every rank
holds the same state. The data comes through DataLoader + DistributedSampler (shuffled): each
rank loads B/2 of every global batch of B; the reference loads B with the same sampler in a
world of one. Bucketing changes nothing (bit for bit); without SyncBatchNorm and the dropout
rule the ranks would train something else (the control). Launched by
tests/test_distributed.py as ``mpiexec -n 2 python -m mpi4py ddp_lenet.py``."""
import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.models import LeNet5
from chainrule.nn.parallel import DistributedDataParallel as DDP
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset

B, N, EPOCHS = 16, 160, 3  # global batch, samples, epochs: 30 steps
gen = np.random.default_rng(0)
# a learnable task (a template per class plus noise): random labels on noise would make the
# training chaotic, so that any rounding difference grows without bound
templates = gen.standard_normal((10, 1, 28, 28)).astype(np.float32)
labels = gen.integers(0, 10, N)
images = (templates[labels] + 0.5 * gen.standard_normal((N, 1, 28, 28))).astype(np.float32)
data = TensorDataset(cr.tensor(images), cr.tensor(labels))


def train(distributed, sync=True, bucket_cap_mb=None):
    world = dist.get_world_size()
    cr.manual_seed(3)
    model = LeNet5(dropout=0.3)
    if distributed:
        if sync:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = DDP(model, bucket_cap_mb=bucket_cap_mb, global_batch_dropout=sync)
        sampler = DistributedSampler(data, shuffle=True, seed=7)
    else:
        sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=7)
    loader = DataLoader(data, batch_size=B // world if distributed else B, sampler=sampler)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    net = model.module if distributed else model
    return net, {k: v.numpy().copy() for k, v in net.state_dict().items()}


def largest_difference(got, want):
    assert list(got) == list(want)
    worst = (0.0, "")
    for key in want:
        a, b = got[key], want[key]
        if a.dtype.kind == "f":
            worst = max(worst, (float(np.abs(a - b).max()), key))
        else:
            assert np.array_equal(a, b), key
    return worst


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    net, got = train(distributed=True)
    assert type(net.bn1).__name__ == "SyncBatchNorm" and net.dropout.batch_shard == (rank, 2)
    ref_net, want = train(distributed=False)
    for key in want:
        assert np.allclose(got[key], want[key], rtol=2e-4, atol=2e-5), key
    worst = largest_difference(got, want)
    x = data[:8][0]
    with nn.eval_mode(net), nn.eval_mode(ref_net):
        assert np.allclose(net(x).detach().numpy(), ref_net(x).detach().numpy(), rtol=1e-4,
                           atol=1e-4)
    # every rank ends with the same state
    for key, value in got.items():
        out = [cr.tensor(np.zeros_like(value)) for _ in range(world)]
        dist.all_gather(out, cr.tensor(value))
        assert all(np.array_equal(o.numpy(), value) for o in out), key
    # a bucket per few parameters: the same sums, so the same bits
    _, small = train(distributed=True, bucket_cap_mb=0.01)
    assert all(np.array_equal(small[k], got[k]) for k in got)
    # the control: per-rank batch norm and per-rank masks train something else
    _, plain = train(distributed=True, sync=False)
    control = largest_difference(plain, want)
    assert control[0] > 100 * max(worst[0], 1e-6), (control, worst)
    dist.destroy_process_group()
    print(f"rank {rank} OK (largest difference {worst[0]:.1e}, in {worst[1]}; without "
          f"SyncBatchNorm and the dropout rule {control[0]:.1e})", flush=True)


if __name__ == "__main__":
    main()
