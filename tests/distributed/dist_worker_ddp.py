"""DistributedDataParallel's checks, run on every rank by test_dist_ddp.py through
dist_harness. The oracle is single-process training on the whole batch with the mean loss,
which every rank computes locally."""
import numpy as np
from dist_harness import run

import ember
import ember.distributed as dist
import ember.nn.functional as F
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DistributedSampler

RANK = SIZE = None
PER_RANK = 4


class Net(nn.Module):
    """An MLP with a conv front (several parameter shapes), with two more heads if asked."""

    def __init__(self, heads=False):
        super().__init__()
        self.conv = nn.Conv1d(1, 3, 3)
        self.fc1 = nn.Linear(3 * 4, 7)
        self.fc2 = nn.Linear(7, 3)
        if heads:
            self.extra = nn.Linear(7, 3)  # used only when asked
            self.never = nn.Linear(7, 3)  # never used

    def forward(self, x, use_extra=False):
        h = ember.tanh(self.fc1(self.conv(x.unsqueeze(1)).flatten(1)))
        out = self.fc2(h)
        return out + self.extra(h) if use_extra else out


def batch():
    rng = np.random.default_rng(42)
    x = rng.standard_normal((PER_RANK * SIZE, 6))
    y = rng.integers(0, 3, PER_RANK * SIZE)
    return ember.from_numpy(x), ember.from_numpy(y)


def mine(t):
    return t[RANK * PER_RANK:(RANK + 1) * PER_RANK]


def fresh(seed, heads=False):
    ember.manual_seed(seed)
    return Net(heads).double()


def reference_like(model, heads=False):
    ref = fresh(123, heads)
    ref.load_state_dict(model.state_dict())
    return ref


def params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def assert_same(a, b, what):
    for i, (u, v) in enumerate(zip(a, b)):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14, err_msg=f"{what}, param {i}")


def sgd_step(model, lr=0.1):
    """Plain SGD written out, so these checks depend on DDP only, not on ember.optim."""
    with ember.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.sub_(lr * p.grad)
                p.grad = None


def train_equivalence(**ddp_kwargs):
    x, y = batch()
    ddp = DDP(fresh(RANK), **ddp_kwargs)  # different seeds: construction broadcasts rank 0's
    ref = reference_like(ddp.module)
    for _ in range(3):
        F.cross_entropy(ddp(mine(x)), mine(y)).backward()
        F.cross_entropy(ref(x), y).backward()
        assert_same([p.grad.numpy() for p in ddp.module.parameters() if p.grad is not None],
                    [p.grad.numpy() for p in ref.parameters() if p.grad is not None], "grad")
        sgd_step(ddp.module)
        sgd_step(ref)
    assert_same(params(ddp.module), params(ref), "parameters")


def check_matches_single_process_training():
    train_equivalence()


def check_matches_with_many_buckets():
    train_equivalence(bucket_cap_mb=50 / 2**20)  # 50-byte buckets: several all-reduces
    assert len(DDP(fresh(0), bucket_cap_mb=50 / 2**20)._buckets) == 4


def check_construction_broadcasts_rank0_state():
    model = fresh(RANK)
    bn = nn.BatchNorm1d(3).double()
    bn.running_mean.fill_(float(RANK))
    ddp = DDP(nn.Sequential(model, bn))
    gathered = [None] * SIZE
    dist.all_gather_object(gathered, [a.tolist() for a in params(ddp.module)])
    assert all(g == gathered[0] for g in gathered)
    assert bn.running_mean.tolist() == [0.0, 0.0, 0.0]
    assert all(k.startswith("module.") for k in ddp.state_dict())
    assert "module.1.running_mean" in ddp.state_dict()
    ddp.load_state_dict(ddp.state_dict())


def check_buffers_broadcast_each_forward():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)
            self.register_buffer("scale", ember.ones(1))

        def forward(self, x):
            return self.lin(x) * self.scale

    ddp = DDP(WithBuffer())
    ddp.module.scale.fill_(float(RANK + 1))
    out = ddp(ember.ones(1, 2))
    assert ddp.module.scale.item() == 1.0
    out.sum().backward()


def check_no_sync_accumulates_then_averages():
    x, y = batch()
    ddp = DDP(fresh(RANK))
    ref = reference_like(ddp.module)
    xs, ys = mine(x), mine(y)
    half = PER_RANK // 2
    with ddp.no_sync():
        (F.cross_entropy(ddp(xs[:half]), ys[:half]) / 2).backward()
    local = [p.grad.numpy().copy() for p in ddp.module.parameters() if p.grad is not None]
    (F.cross_entropy(ddp(xs[half:]), ys[half:]) / 2).backward()
    F.cross_entropy(ref(x), y).backward()
    assert_same([p.grad.numpy() for p in ddp.module.parameters() if p.grad is not None],
                [p.grad.numpy() for p in ref.parameters() if p.grad is not None], "grad")
    assert not all(np.allclose(a, p.grad.numpy()) for a, p in
                   zip(local, [p for p in ddp.module.parameters() if p.grad is not None]))


def check_find_unused_parameters():
    x, y = batch()
    ddp = DDP(fresh(RANK, heads=True), find_unused_parameters=True)
    ref = reference_like(ddp.module, heads=True)
    # only rank 0 uses the extra head; nobody uses `never`
    F.cross_entropy(ddp(mine(x), use_extra=RANK == 0), mine(y)).backward()
    F.cross_entropy(ref(x[:PER_RANK], use_extra=True), y[:PER_RANK]).backward()
    net = ddp.module
    np.testing.assert_allclose(net.extra.weight.grad.numpy(),
                               ref.extra.weight.grad.numpy() / SIZE, rtol=1e-12)
    assert net.never.weight.grad is None and net.never.bias.grad is None
    F.cross_entropy(ddp(mine(x)), mine(y)).backward()  # the next iteration runs too


def check_unused_parameters_error_names_them():
    x, y = batch()
    ddp = DDP(fresh(RANK, heads=True))
    F.cross_entropy(ddp(mine(x)), mine(y)).backward()
    try:
        ddp(mine(x))
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e) and "never.weight" in str(e)
    else:
        raise AssertionError("the second forward must fail")


def check_eval_forward_without_backward_is_fine():
    ddp = DDP(fresh(RANK))
    x, y = batch()
    ddp(mine(x))  # grad mode on, no backward: nothing was reduced, so no error next time
    with ember.no_grad():
        ddp(mine(x))
    F.cross_entropy(ddp(mine(x)), mine(y)).backward()


def check_errors():
    try:
        DDP(fresh(0), device_ids=[0])
    except ValueError as e:
        assert "device_ids" in str(e)
    else:
        raise AssertionError("device_ids on a CPU module must fail")
    try:
        DDP(nn.Linear(2 + RANK, 1))
    except RuntimeError as e:
        assert "same model" in str(e)
    else:
        raise AssertionError("different models must fail")


def check_distributed_sampler():
    sampler = DistributedSampler(list(range(10)), shuffle=True, seed=3)
    assert sampler.num_replicas == SIZE and sampler.rank == RANK
    shards = [None] * SIZE
    dist.all_gather_object(shards, list(sampler))
    everything = sum(shards, [])
    assert len(everything) == len(sampler) * SIZE == 10 + (-10) % SIZE  # padded to divide
    assert set(everything) == set(range(10))


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
