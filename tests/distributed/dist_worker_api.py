"""Checks of the rest of torch.distributed's data-parallel API, run on every rank by
test_dist_api.py through dist_harness: object messages, subgroups, monitored_barrier,
coalesced collectives, Join (with DDP and a custom Joinable), ZeroRedundancyOptimizer, DDP
communication hooks and DeviceMesh. Oracles are single-process NumPy/ember computations that
every rank repeats locally."""
import copy
import time
import warnings
from datetime import timedelta

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.nn.functional as F
from ember import nn
from ember.distributed.algorithms import Join, Joinable, JoinHook
from ember.distributed.algorithms.ddp_comm_hooks import default_hooks
from ember.distributed.optim import ZeroRedundancyOptimizer
from ember.nn.parallel import DistributedDataParallel as DDP

RANK = SIZE = None
PER_RANK = 4


# ---------------------------------------------------------------------------------------------
# Messages, groups, barriers, coalesced collectives

def check_object_lists():
    if RANK == 0:
        for dst in range(1, SIZE):
            dist.send_object_list([{"to": dst}, ember.arange(3) * dst, "x" * dst], dst=dst)
        raises(lambda: dist.send_object_list([1], dst=0), ValueError, "Invalid destination")
    else:
        got = [None, None, None]
        assert dist.recv_object_list(got) == 0  # from any rank: the sender's rank
        assert got[0] == {"to": RANK} and got[2] == "x" * RANK
        assert got[1].tolist() == [0, RANK, 2 * RANK]
    # a ring on a subgroup of ranks 1.., with group ranks
    ring = dist.new_group(list(range(1, SIZE)))
    if RANK > 0 and SIZE > 2:
        n = SIZE - 1
        me = dist.get_rank(ring)
        if me % 2 == 0:
            dist.send_object_list([me], group=ring, group_dst=(me + 1) % n)
            got = [None]
            sender = dist.recv_object_list(got, group=ring, group_src=(me - 1) % n)
        else:
            got = [None]
            sender = dist.recv_object_list(got, group=ring, group_src=(me - 1) % n)
            dist.send_object_list([me], group=ring, group_dst=(me + 1) % n)
        assert got == [(me - 1) % n] and sender == 1 + (me - 1) % n
    if RANK == 0:
        assert dist.recv_object_list([None], group=ring) == -1  # not a member


def check_subgroups():
    before = dist.get_pg_count()
    lists = [[0, SIZE - 1], list(range(1, SIZE - 1))]
    cur, groups = dist.new_subgroups_by_enumeration(lists)
    assert dist.get_pg_count() == before + 2 and len(groups) == 2
    mine = next(ranks for ranks in lists if RANK in ranks)
    assert dist.get_process_group_ranks(cur) == mine
    t = ember.tensor([float(RANK)])
    dist.all_reduce(t, group=cur)
    assert t.item() == sum(mine)
    other = groups[1 - lists.index(mine)]
    assert other is dist.GroupMember.NON_GROUP_MEMBER
    cur, groups = dist.new_subgroups(group_size=SIZE)
    assert len(groups) == 1 and dist.get_process_group_ranks(cur) == list(range(SIZE))
    cur, groups = dist.new_subgroups(group_size=1)
    assert len(groups) == SIZE and dist.get_process_group_ranks(cur) == [RANK]
    raises(lambda: dist.new_subgroups(group_size=SIZE + 1), ValueError, "must not exceed")
    raises(lambda: dist.new_subgroups_by_enumeration([[0, 1], [1]]), ValueError,
           "Rank 1 has appeared in both subgroup")
    raises(lambda: dist.new_subgroups_by_enumeration([]), ValueError, "cannot be empty")
    assert dist.get_backend_config(cur) == "cpu:mpi"
    assert dist.get_node_local_rank() == RANK  # one node: the launcher's local rank


def check_monitored_barrier():
    dist.monitored_barrier(timeout=timedelta(seconds=30))
    # ranks 1.. arrive late: rank 0 names them all; everyone else times out waiting for it
    if RANK > 0:
        time.sleep(0.8)
    short = timedelta(seconds=0.3)
    error = raises(lambda: dist.monitored_barrier(timeout=short, wait_all_ranks=True),
                   RuntimeError)
    if RANK == 0:
        late = ", ".join(str(r) for r in range(1, SIZE))
        assert str(error) == f"[Rank 0]: Ranks {late} failed to pass monitoredBarrier in 300 ms"
    else:
        assert "waiting for send/recv from rank 0" in str(error)
    dist.barrier()
    # only the last rank is late, fail fast: the first missing rank is named
    if RANK == SIZE - 1:
        time.sleep(0.8)
    error = raises(lambda: dist.monitored_barrier(timeout=short), RuntimeError)
    if RANK == 0:
        assert f"Rank {SIZE - 1} failed to pass monitoredBarrier in 300 ms" in str(error)
    dist.barrier()
    # the late messages of the calls above do not count for this one
    dist.monitored_barrier(timeout=timedelta(seconds=30), wait_all_ranks=True)


def check_coalesced():
    def mine(r):
        return [np.arange(6.0).reshape(2, 3) * (r + 1), np.full(4, float(r))]
    tensors = [ember.from_numpy(a.copy()) for a in mine(RANK)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dist.all_reduce_coalesced(tensors, op=dist.ReduceOp.AVG) is None
    assert caught and caught[0].category is FutureWarning
    assert "all_reduce_coalesced` will be deprecated" in str(caught[0].message)
    for t, *parts in zip(tensors, *[mine(r) for r in range(SIZE)]):
        np.testing.assert_allclose(t.numpy(), np.mean(parts, axis=0), rtol=1e-12)
    tensors = [ember.from_numpy(a.copy()) for a in mine(RANK)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        fut = dist.all_reduce_coalesced(tensors, async_op=True)
        assert isinstance(fut, dist.Future) and fut.wait()[0] is tensors[0]
        outs = [[ember.zeros(2, 3, dtype=ember.float64), ember.zeros(4, dtype=ember.float64)]
                for _ in range(SIZE)]
        inputs = [ember.from_numpy(a) for a in mine(RANK)]
        assert dist.all_gather_coalesced(outs, inputs) is None
        raises(lambda: dist.all_reduce_coalesced([ember.ones(2), ember.ones(2).double()]),
               ValueError, "different dtypes")
    np.testing.assert_allclose(tensors[1].numpy(), np.sum([mine(r)[1] for r in range(SIZE)], 0))
    for r in range(SIZE):
        for got, expected in zip(outs[r], mine(r)):
            np.testing.assert_array_equal(got.numpy(), expected)


# ---------------------------------------------------------------------------------------------
# Join

class Counter(Joinable):
    """The tutorial's joinable (pytorch/tutorials advanced_source/generic_join.rst): counts
    the inputs processed by all ranks together."""

    class Hook(JoinHook):
        def __init__(self, counter):
            self.counter = counter

        def main_hook(self):
            dist.all_reduce(ember.zeros(1))  # a joined rank adds nothing

        def post_hook(self, is_last_joiner):
            self.counter.sync_max_count()

    def __init__(self):
        super().__init__()
        self.count = ember.zeros(1)
        self.max_count = ember.zeros(1)

    def __call__(self):
        Join.notify_join_context(self)
        t = ember.ones(1)
        dist.all_reduce(t)
        self.count += t

    def join_hook(self, **kwargs):
        return Counter.Hook(self)

    @property
    def join_device(self):
        return ember.device("cpu")

    @property
    def join_process_group(self):
        return dist.group.WORLD

    def sync_max_count(self):
        self.max_count = self.count.clone()
        dist.all_reduce(self.max_count, op=dist.ReduceOp.MAX)


def batches(n_per_rank, seed=7):
    """Rank r's batches: n_per_rank[r] batches of PER_RANK rows, known to every rank."""
    rng = np.random.default_rng(seed)
    return [[(ember.from_numpy(rng.standard_normal((PER_RANK, 5))),
              ember.from_numpy(rng.integers(0, 3, PER_RANK))) for _ in range(n)]
            for n in n_per_rank]


def net(seed):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def sgd(model, lr=0.5):
    with ember.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.sub_(lr * p.grad)
                p.grad = None


def assert_params(a, b, what, rtol=1e-12):
    for i, (u, v) in enumerate(zip(a.parameters(), b.parameters())):
        np.testing.assert_allclose(u.detach().numpy(), v.detach().numpy(), rtol=rtol,
                                   atol=1e-14, err_msg=f"{what}, parameter {i}")


def check_join_counter():
    counter = Counter()
    inputs = RANK + 1
    with Join([counter]):
        for _ in range(inputs):
            counter()
    total = SIZE * (SIZE + 1) // 2
    assert counter.max_count.item() == total
    # a rank counts its own inputs' iterations, each counting the ranks still running
    assert counter.count.item() == sum(min(r + 1, inputs) for r in range(SIZE))


def uneven_training(divide_by_initial_world_size, hook=None, **ddp_kwargs):
    counts = [2 + r for r in range(SIZE)]
    data = batches(counts)
    ddp = DDP(net(RANK), **ddp_kwargs)
    if hook is not None:
        ddp.register_comm_hook(None, hook)  # the joined ranks run it on zero buckets
    ref = net(0)
    ref.load_state_dict(ddp.module.state_dict())
    with ddp.join(divide_by_initial_world_size=divide_by_initial_world_size):
        for x, y in data[RANK]:
            F.cross_entropy(ddp(x), y).backward()
            sgd(ddp.module)
    for k in range(max(counts)):  # the oracle: each step averages the ranks still training
        active = [r for r in range(SIZE) if k < counts[r]]
        divisor = SIZE if divide_by_initial_world_size else len(active)
        sum(F.cross_entropy(ref(data[r][k][0]), data[r][k][1]) for r in active).div(
            divisor).backward()
        sgd(ref)
    assert_params(ddp.module, ref, "after join")  # every rank: the last joiner's model
    x, y = data[0][0]  # and training goes on normally after the context
    F.cross_entropy(ddp(x), y).backward()
    F.cross_entropy(ref(x), y).backward()
    for p, q in zip(ddp.module.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def check_ddp_join_uneven_inputs():
    uneven_training(divide_by_initial_world_size=True)
    uneven_training(divide_by_initial_world_size=True, hook=default_hooks.allreduce_hook,
                    bucket_cap_mb=100 / 2**20)


def check_ddp_join_divide_by_active_ranks():
    uneven_training(divide_by_initial_world_size=False, find_unused_parameters=True)


class Calls(nn.Module):
    """A linear layer that counts its forwards in a buffer."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 3).double()
        self.register_buffer("calls", ember.zeros(1, dtype=ember.float64))

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


def check_ddp_join_broadcasts_buffers_from_a_training_rank():
    # rank 0 stops first, then the highest ranks: the broadcasting rank changes each time
    counts = [1] + [SIZE + 2 - r for r in range(1, SIZE)]
    ddp = DDP(Calls())
    with ddp.join():
        for k, (x, y) in enumerate(batches(counts)[RANK]):
            F.cross_entropy(ddp(x), y).backward()
            # the buffers came from a rank still training (never a joined rank's stale ones)
            assert ddp.module.calls.item() == k + 1
    assert ddp.module.calls.item() == max(counts)  # the last joiner's


def check_join_throw_on_early_termination():
    ddp = DDP(net(0))
    data = batches([1 + (r > 0) for r in range(SIZE)])[RANK]

    def loop():
        with ddp.join(throw_on_early_termination=True):
            for x, y in data:
                F.cross_entropy(ddp(x), y).backward()
    if RANK == 0:
        raises(loop, RuntimeError, "Rank 0 exhausted all inputs.")
    else:
        raises(loop, RuntimeError, "Detected at least one rank that exhausted inputs")


# ---------------------------------------------------------------------------------------------
# ZeroRedundancyOptimizer

def full_batch(steps):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((steps, PER_RANK * SIZE, 5))
    y = rng.integers(0, 3, (steps, PER_RANK * SIZE))
    return ember.from_numpy(x), ember.from_numpy(y)


def mine(t):
    return t[RANK * PER_RANK:(RANK + 1) * PER_RANK]


def owners(params):
    """ZeRO's partition: largest first, each to the least loaded rank."""
    sizes = [0] * SIZE
    owner = {}
    for i in sorted(range(len(params)), key=lambda i: -params[i].numel()):
        owner[i] = sizes.index(min(sizes))
        sizes[owner[i]] += params[i].numel()
    return owner


def zero_training(steps=3, **zero_kwargs):
    ddp = DDP(net(RANK))
    ref = net(0)
    ref.load_state_dict(ddp.module.state_dict())
    zero = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=ember.optim.Adam, lr=0.05,
                                   **zero_kwargs)
    plain = ember.optim.Adam(ref.parameters(), lr=0.05)
    x, y = full_batch(steps)
    for k in range(steps):
        zero.zero_grad()
        plain.zero_grad()
        F.cross_entropy(ddp(mine(x[k])), mine(y[k])).backward()
        F.cross_entropy(ref(x[k]), y[k]).backward()
        zero.step()
        plain.step()
    assert_params(ddp.module, ref, "ZeRO vs Adam", rtol=1e-10)
    return ddp, zero, plain


def check_zero_matches_plain_optimizer():
    ddp, zero, plain = zero_training()
    params = list(ddp.parameters())
    owner = owners(params)
    local = {id(p) for g in zero.optim.param_groups for p in g["params"]}
    assert local == {id(p) for i, p in enumerate(params) if owner[i] == RANK}
    assert set(map(id, zero.optim.state)) <= local  # the state of this rank's shard only
    # checkpoint: consolidated on rank 1, it is the plain optimizer's state dict
    raises(zero.state_dict, RuntimeError, "consolidate_state_dict")
    zero.consolidate_state_dict(to=1)
    if RANK == 1:
        state, expected = zero.state_dict(), plain.state_dict()
        assert sorted(state["state"]) == sorted(expected["state"])
        assert state["param_groups"] == expected["param_groups"]
        for i, entry in expected["state"].items():
            for key, value in entry.items():
                np.testing.assert_allclose(np.asarray(state["state"][i][key]),
                                           np.asarray(value), rtol=1e-10)
    else:
        raises(zero.state_dict, RuntimeError, "consolidate_state_dict(to=")
    # a fresh ZeRO loading it continues exactly as the plain optimizer does
    box = [zero.state_dict() if RANK == 1 else None]
    dist.broadcast_object_list(box, src=1)
    again = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=ember.optim.Adam, lr=0.5)
    again.load_state_dict(box[0])
    assert again.param_groups[0]["lr"] == 0.05
    x, y = full_batch(1)
    again.zero_grad()
    F.cross_entropy(ddp(mine(x[0])), mine(y[0])).backward()
    ref = net(0)
    ref.load_state_dict(ddp.module.state_dict())
    plain_ref = ember.optim.Adam(ref.parameters(), lr=0.05)
    plain_ref.load_state_dict(copy.deepcopy(box[0]))  # loading shares the state's tensors
    F.cross_entropy(ref(x[0]), y[0]).backward()
    again.step()
    plain_ref.step()
    assert_params(ddp.module, ref, "after load_state_dict", rtol=1e-10)


def check_zero_bucket_view_and_param_groups():
    zero_training(parameters_as_bucket_view=True)
    model = net(0)
    w, b = [p for n, p in model.named_parameters() if n.endswith("weight")], \
        [p for n, p in model.named_parameters() if n.endswith("bias")]
    zero = ZeroRedundancyOptimizer(w, optimizer_class=ember.optim.SGD, lr=0.1)
    zero.add_param_group({"params": b, "lr": 0.01})
    assert len(zero.optim.param_groups) == 2 and zero.param_groups[1]["lr"] == 0.01
    owned = sum(len(g["params"]) for g in zero.optim.param_groups)
    counts = [None] * SIZE
    dist.all_gather_object(counts, owned)
    assert sum(counts) == len(w) + len(b)
    # more ranks than parameters: the ranks without a shard step nothing and receive it
    only = nn.Parameter(ember.ones(3, dtype=ember.float64))
    zero = ZeroRedundancyOptimizer([only], optimizer_class=ember.optim.SGD, lr=0.5)
    only.grad = ember.full((3,), 2.0, dtype=ember.float64)
    zero.step()
    assert only.tolist() == [0.0, 0.0, 0.0]
    assert len(zero.optim.param_groups[0]["params"]) == (RANK == 0)


def check_zero_with_join():
    counts = [1 + r for r in range(SIZE)]
    data = batches(counts)
    ddp = DDP(net(RANK))
    zero = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=ember.optim.SGD, lr=0.1)
    ref = net(0)
    ref.load_state_dict(ddp.module.state_dict())
    with Join([ddp, zero]):
        for x, y in data[RANK]:
            zero.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            zero.step()
    # The oracle, PyTorch's semantics: a shard whose owner trains steps with the average of
    # the training ranks' gradients (joined ones count as zero); a joined owner keeps
    # stepping its shard with the gradients of its own last iteration.
    params = list(ref.parameters())
    owner = owners(params)
    last = {}
    for k in range(max(counts)):
        active = [r for r in range(SIZE) if k < counts[r]]
        sum(F.cross_entropy(ref(data[r][k][0]), data[r][k][1]) for r in active).div(
            SIZE).backward()
        with ember.no_grad():
            for i, p in enumerate(params):
                if k < counts[owner[i]]:
                    last[i] = p.grad.clone()
                p.sub_(0.1 * last[i])
                p.grad = None
    assert_params(ddp.module, ref, "ZeRO with Join")


# ---------------------------------------------------------------------------------------------
# DDP communication hooks

def hooked_grads(hook, state=None):
    x, y = full_batch(1)
    ddp = DDP(net(RANK), bucket_cap_mb=100 / 2**20)  # several buckets
    if hook is not None:
        ddp.register_comm_hook(state, hook)
    F.cross_entropy(ddp(mine(x[0])), mine(y[0])).backward()
    ref = net(0)
    ref.load_state_dict(ddp.module.state_dict())
    F.cross_entropy(ref(x[0]), y[0]).backward()
    return ddp, [p.grad.numpy() for p in ddp.module.parameters()], \
        [p.grad.numpy() for p in ref.parameters()]


def check_comm_hooks():
    for hook, rtol in [(default_hooks.allreduce_hook, 1e-12),
                       (default_hooks.fp16_compress_hook, 2e-3),
                       (default_hooks.bf16_compress_hook, 2e-2),
                       (default_hooks.bf16_compress_wrapper(default_hooks.allreduce_hook), 2e-2)]:
        ddp, got, expected = hooked_grads(hook)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.abs(e).max(),
                                       err_msg=hook.__name__)
    raises(lambda: ddp.register_comm_hook(None, hook), RuntimeError, "only be called once")


def check_custom_comm_hook_sees_grad_buckets():
    seen = []

    def local_only(state, bucket):
        state.append(bucket)
        assert all(g.shape == p.shape for g, p in zip(bucket.gradients(), bucket.parameters()))
        assert bucket.buffer().numel() == sum(p.numel() for p in bucket.parameters())
        fut = dist.Future()
        fut.set_result(bucket.buffer() * 1.0)  # no communication: local gradients stay
        return fut
    ddp, got, _ = hooked_grads(local_only, seen)
    assert [b.index() for b in seen] == list(range(len(seen))) and len(seen) > 1
    assert [b.is_last() for b in seen] == [False] * (len(seen) - 1) + [True]
    x, y = full_batch(1)
    local = net(0)
    local.load_state_dict(ddp.module.state_dict())
    F.cross_entropy(local(mine(x[0])), mine(y[0])).backward()
    for g, p in zip(got, local.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# DeviceMesh (run on 4 ranks)

def check_device_mesh():
    mesh = dist.init_device_mesh("cpu", (2, SIZE // 2), mesh_dim_names=("dp", "tp"))
    row, col = divmod(RANK, SIZE // 2)
    assert mesh.get_coordinate() == (row, col) and mesh.shape == (2, SIZE // 2)
    assert mesh.get_local_rank("dp") == row and mesh.get_local_rank(1) == col
    assert mesh.size() == SIZE and mesh.size(0) == 2 and mesh.ndim == 2
    assert mesh.get_rank() == RANK and mesh.mesh.tolist() == \
        np.arange(SIZE).reshape(2, -1).tolist()
    dp, tp = mesh.get_group("dp"), mesh.get_group("tp")
    assert dist.get_process_group_ranks(dp) == [col, col + SIZE // 2]
    assert dist.get_process_group_ranks(tp) == [row * (SIZE // 2) + c for c in range(SIZE // 2)]
    t = ember.tensor([float(RANK)])
    dist.all_reduce(t, group=tp)
    assert t.item() == sum(dist.get_process_group_ranks(tp))
    sub = mesh["tp"]
    assert sub.get_group() is tp and sub.mesh_dim_names == ("tp",) and sub.ndim == 1
    assert sub.mesh.tolist() == dist.get_process_group_ranks(tp)
    assert sub.get_local_rank() == col and mesh["dp", "tp"] is mesh
    assert mesh.get_all_groups() == [dp, tp]
    raises(mesh.get_group, RuntimeError, "mesh_dim")
    raises(lambda: mesh["pp"], KeyError, "Valid mesh_dim_names")
    flat = dist.init_device_mesh("cpu", (SIZE,))
    assert flat.get_group() is dist.group.WORLD
    raises(lambda: flat["dp"], RuntimeError, "without mesh_dim_names")
    raises(lambda: dist.init_device_mesh("cpu", (SIZE, 2)), RuntimeError, "bigger than")


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
