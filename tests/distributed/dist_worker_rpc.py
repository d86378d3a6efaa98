"""Checks of torch.distributed.rpc, distributed autograd and DistributedOptimizer, run on every
rank by test_dist_rpc.py through dist_harness (RPC is started after init_process_group here;
the acceptance scripts start it alone). Rank 0 drives each check while the others serve; the
oracles are the same computations run in one process, and NumPy."""
import gc
import pickle
import time

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.distributed.autograd as dist_autograd
import ember.distributed.rpc as rpc
from ember import nn, optim
from ember.distributed.nn import RemoteModule
from ember.distributed.optim import DistributedOptimizer
from ember.distributed.rpc import RRef

RANK = SIZE = None


def setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()
    rpc.init_rpc(f"worker{RANK}", rank=RANK, world_size=SIZE,
                 rpc_backend_options=rpc.TensorPipeRpcBackendOptions(num_worker_threads=8,
                                                                     rpc_timeout=20))


# ---------------------------------------------------------------------------------------------
# Functions run remotely (module level: RPC pickles functions by name)

def whoami():
    return rpc.get_worker_info().name


def add_scaled(x, y, scale=1.0):
    return x + scale * y


def fail(message):
    raise ValueError(message)


def owner_value_plus(rref, y):
    return rref.local_value() + y


class Counter:
    def __init__(self, start):
        self.count = start

    def increment(self, by=1):
        self.count += by
        return self.count

    @rpc.functions.async_execution
    def increment_later(self, to, by):
        return rpc.rpc_async(to, add_scaled, args=(self.count, by)).then(lambda f: f.wait())


@rpc.functions.async_execution
def async_add_chained(to, x, y, z):
    # PyTorch's documented example: the reply goes once the chain completes
    return rpc.rpc_async(to, ember.add, args=(x, y)).then(lambda fut: fut.wait() + z)


class AsyncExecutionClass:
    @staticmethod
    @rpc.functions.async_execution
    def static_async_add(to, x, y, z):
        return rpc.rpc_async(to, ember.add, args=(x, y)).then(lambda fut: fut.wait() + z)


DONE = []


def slow_mark(seconds, tag):
    time.sleep(seconds)
    DONE.append(tag)


def marks():
    return list(DONE)


# ---------------------------------------------------------------------------------------------
# Calls, RRefs, errors, async_execution, timeouts

def check_values():
    if RANK != 0:
        return
    x, y = ember.arange(4.0), ember.ones(4)
    for dst in range(SIZE):
        info = rpc.get_worker_info(f"worker{dst}")
        assert info == rpc.WorkerInfo(f"worker{dst}", dst) and info.id == dst
        for to in (dst, f"worker{dst}", info):
            assert rpc.rpc_sync(to, whoami) == f"worker{dst}"
        got = rpc.rpc_async(dst, add_scaled, args=(x, y), kwargs={"scale": 2.0}).wait()
        np.testing.assert_array_equal(got.numpy(), np.arange(4.0) + 2)
    futures = [rpc.rpc_async(d, ember.mul, args=(x, d)) for d in range(SIZE)]
    for d, value in enumerate(ember.futures.wait_all(futures)):
        np.testing.assert_array_equal(value.numpy(), np.arange(4.0) * d)
    assert rpc.get_worker_info() == rpc.WorkerInfo("worker0", 0)
    assert repr(rpc.get_worker_info()) == "WorkerInfo(id=0, name=worker0)"
    raises(lambda: rpc.rpc_sync("nobody", whoami), RuntimeError, "Unknown destination worker")


def check_rrefs():
    if RANK != 0:
        return
    rref = rpc.remote("worker1", ember.add, args=(ember.ones(3), 2))
    assert not rref.is_owner() and rref.owner() == rpc.WorkerInfo("worker1", 1)
    assert rref.owner_name() == "worker1"
    np.testing.assert_array_equal(rref.to_here().numpy(), np.full(3, 3.0))
    assert rref.confirmed_by_owner()
    raises(rref.local_value, RuntimeError, "non-owner")
    # an RRef passed back to its owner is the owner's: local_value works there
    got = rpc.rpc_sync("worker1", owner_value_plus, args=(rref, 1))
    np.testing.assert_array_equal(got.numpy(), np.full(3, 4.0))
    # a local value's RRef, read by another worker through to_here
    mine = RRef(ember.arange(3.0))
    assert mine.is_owner() and mine.confirmed_by_owner()
    np.testing.assert_array_equal(mine.local_value().numpy(), np.arange(3.0))
    got = rpc.rpc_sync(f"worker{SIZE - 1}", RRef.to_here, args=(mine,))
    np.testing.assert_array_equal(got.numpy(), np.arange(3.0))
    # proxies: calls on the owner's object
    counter = rpc.remote("worker2", Counter, args=(10,))
    assert counter.rpc_sync().increment(5) == 15
    assert counter.rpc_async().increment().wait() == 16
    assert counter.remote().increment(by=2).to_here() == 18
    assert counter.rpc_sync().increment_later(1, 100) == 118  # an async_execution method
    raises(lambda: pickle.dumps(mine), RuntimeError, "rref can only be pickled when using RPC")


def check_remote_exceptions():
    if RANK != 0:
        return
    err = raises(lambda: rpc.rpc_sync(1, fail, args=("boom",)), ValueError, "boom",
                 "On WorkerInfo(id=1, name=worker1)")
    assert "Traceback" in str(err)
    raises(lambda: rpc.rpc_async(2, fail, args=("later",)).wait(), ValueError, "later")
    rref = rpc.remote(1, fail, args=("in remote",))
    raises(rref.to_here, ValueError, "in remote")
    assert rpc.rpc_sync(1, add_scaled, args=(1, 2)) == 3  # the worker still serves


def check_async_execution():
    if RANK != 0:
        return
    got = rpc.rpc_sync("worker1", async_add_chained, args=("worker2", ember.ones(2), 1, 1))
    np.testing.assert_array_equal(got.numpy(), np.full(2, 3.0))
    got = rpc.rpc_async("worker2", AsyncExecutionClass.static_async_add,
                        args=("worker1", ember.ones(2), 2, 3)).wait()
    np.testing.assert_array_equal(got.numpy(), np.full(2, 6.0))
    rref = rpc.remote("worker1", async_add_chained, args=("worker0", ember.zeros(1), 1, 1))
    assert rref.to_here().item() == 2.0


def check_timeouts():
    if RANK != 0:
        return
    start = time.monotonic()
    raises(lambda: rpc.rpc_sync(1, time.sleep, args=(0.6,), timeout=0.1), RuntimeError,
           "RPC ran for more than set timeout (100 ms)")
    assert time.monotonic() - start < 0.5
    future = rpc.rpc_async(2, time.sleep, args=(0.6,), timeout=0.1)
    raises(future.wait, RuntimeError, "timeout")
    assert rpc.rpc_sync(1, add_scaled, args=(1, 1), timeout=0) == 2  # 0: no limit


# ---------------------------------------------------------------------------------------------
# Distributed autograd and DistributedOptimizer: a three-stage model, one stage per worker

def make_stage(seed, n_in, n_out):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, n_out), nn.Tanh()).double()


def stage_forward(stage_rref, x, next_rref):
    """Run this worker's stage, then (nested RPC from inside a request) the next worker's."""
    y = stage_rref.local_value()(x)
    if next_rref is None:
        return y
    return rpc.rpc_sync(next_rref.owner(), stage_forward, args=(next_rref, y, None))


def stage_param_rrefs(stage_rref):
    return [RRef(p) for p in stage_rref.local_value().parameters()]


def stage_grads(stage_rref, context_id):
    grads = dist_autograd.get_gradients(context_id)
    stage = stage_rref.local_value()
    assert all(p.grad is None for p in stage.parameters())  # the context's, not .grad
    return [grads[p] for p in stage.parameters()]


def stage_params(stage_rref):
    return [p.detach().clone() for p in stage_rref.local_value().parameters()]


SHAPES = [(4, 5), (5, 6), (6, 3)]


def distributed_model():
    """Stage 0 here, stages 1 and 2 on workers 1 and 2."""
    first = RRef(make_stage(0, *SHAPES[0]))
    rest = [rpc.remote(i, make_stage, args=(i, *SHAPES[i])) for i in (1, 2)]
    return [first] + rest


def distributed_loss(stages, x, target):
    h = stages[0].local_value()(x)
    out = rpc.rpc_sync(1, stage_forward, args=(stages[1], h, stages[2]))
    return ((out - target) ** 2).sum()


def local_model():
    return [make_stage(i, *SHAPES[i]) for i in range(3)]


def data():
    ember.manual_seed(123)
    return ember.randn(7, 4, dtype=ember.float64), ember.randn(7, 3, dtype=ember.float64)


def check_dist_autograd_matches_local():
    if RANK != 0:
        return
    x, target = data()
    stages = distributed_model()
    local = local_model()
    loss_local = ((local[2](local[1](local[0](x))) - target) ** 2).sum()
    loss_local.backward()
    with dist_autograd.context() as context_id:
        loss = distributed_loss(stages, x, target)
        np.testing.assert_allclose(loss.item(), loss_local.item(), rtol=1e-12)
        dist_autograd.backward(context_id, [loss])
        grads = [stage_grads(stages[0], context_id)]
        grads += [rpc.rpc_sync(i, stage_grads, args=(stages[i], context_id)) for i in (1, 2)]
        for stage_grads_, module in zip(grads, local):
            for got, param in zip(stage_grads_, module.parameters()):
                np.testing.assert_allclose(got.numpy(), param.grad.numpy(), rtol=1e-10)
        # a second backward pass in the same context accumulates there
        dist_autograd.backward(context_id, [distributed_loss(stages, x, target)])
        again = rpc.rpc_sync(2, stage_grads, args=(stages[2], context_id))
        for got, param in zip(again, local[2].parameters()):
            np.testing.assert_allclose(got.numpy(), 2 * param.grad.numpy(), rtol=1e-10)
    raises(lambda: dist_autograd.get_gradients(context_id), RuntimeError,
           "Could not find autograd context with id")
    with dist_autograd.context() as context_id:
        raises(lambda: dist_autograd.backward(context_id, [ember.ones(1)]), RuntimeError,
               "does not require grad")
        raises(dist_autograd.context().__enter__, RuntimeError, "Already have an autograd "
               "context id")


def check_distributed_optimizer_matches_local():
    if RANK != 0:
        return
    x, target = data()
    stages = distributed_model()
    param_rrefs = stage_param_rrefs(stages[0])
    for i in (1, 2):
        param_rrefs += rpc.rpc_sync(i, stage_param_rrefs, args=(stages[i],))
    opt = DistributedOptimizer(optim.SGD, param_rrefs, lr=0.05, momentum=0.9)
    local = local_model()
    local_opt = optim.SGD([p for m in local for p in m.parameters()], lr=0.05, momentum=0.9)
    for _ in range(3):
        with dist_autograd.context() as context_id:
            dist_autograd.backward(context_id, [distributed_loss(stages, x, target)])
            opt.step(context_id)
        local_opt.zero_grad()
        ((local[2](local[1](local[0](x))) - target) ** 2).sum().backward()
        local_opt.step()
    got = stage_params(stages[0]) + [p for i in (1, 2)
                                     for p in rpc.rpc_sync(i, stage_params, args=(stages[i],))]
    want = [p for m in local for p in m.parameters()]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# RemoteModule

def forward_through(remote_module, x):
    """Run on another worker: a RemoteModule that arrived in an RPC's arguments."""
    return remote_module(x)


def check_remote_module():
    if RANK != 0:
        return
    ember.manual_seed(5)
    remote = RemoteModule("worker1/cpu", nn.Linear, args=(4, 3), kwargs={"dtype": ember.float64})
    assert remote.on == "worker1" and remote.device == "cpu"
    local = remote.get_module_rref().to_here()  # a copy of the remote module
    assert isinstance(local, nn.Linear) and remote.get_module_rref().owner().id == 1
    x = ember.randn(5, 4, dtype=ember.float64)
    want = local(x).detach().numpy()
    np.testing.assert_allclose(remote(x).detach().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(remote.forward_async(x).wait().detach().numpy(), want, rtol=1e-12)
    got = rpc.rpc_sync("worker2", forward_through, args=(remote, x))  # it travels in RPCs
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12)
    by_rank = RemoteModule("rank:2", nn.ReLU)
    assert by_rank.on == 2 and by_rank(-x.abs()).max().item() == 0
    # dist autograd through it, and a DistributedOptimizer over remote_parameters()
    param_rrefs = remote.remote_parameters()
    assert [p.owner().id for p in param_rrefs] == [1, 1]
    opt = DistributedOptimizer(optim.SGD, param_rrefs, lr=0.1)
    (local(x) ** 2).sum().backward()
    with dist_autograd.context() as context_id:
        dist_autograd.backward(context_id, [(remote(x) ** 2).sum()])
        opt.step(context_id)
    for p_rref, p in zip(param_rrefs, local.parameters()):
        np.testing.assert_allclose(p_rref.to_here().detach().numpy(),
                                   (p - 0.1 * p.grad).detach().numpy(), rtol=1e-12)
    # what PyTorch refuses
    raises(remote.parameters, ValueError, "Method ``parameters`` not supported for RemoteModule. "
           "Please use ``remote_parameters`` instead.")
    for name in ("named_parameters", "state_dict", "to", "cuda", "zero_grad", "modules"):
        raises(getattr(remote, name), ValueError, f"Method ``{name}`` not supported for "
               "RemoteModule")
    raises(lambda: pickle.dumps(remote), RuntimeError, "Cannot pickle RemoteModule in python "
           "pickler")
    raises(lambda: RemoteModule("a/b/c", nn.ReLU), ValueError, "Could not parse remote_device")


# ---------------------------------------------------------------------------------------------
# RRef reference counting, _get_type, backward, the default timeout

HELD = []


def owned_ids():
    from ember.distributed.rpc import rref as rref_module
    with rref_module._lock:
        return sorted(rref_module._owned)


def hold(rref):
    HELD.append(rref)


def drop_held():
    HELD.clear()
    gc.collect()


def wait_until(condition, what):
    deadline = time.monotonic() + 10
    while not condition():
        gc.collect()
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def check_rref_counting():
    if RANK != 0:
        return
    rref = rpc.remote(1, ember.ones, args=(3,))
    rref.to_here()
    rid = rref._id
    assert rid in rpc.rpc_sync(1, owned_ids)
    rpc.rpc_sync(2, hold, args=(rref,))  # a second user: a fork
    del rref
    gc.collect()
    time.sleep(0.1)
    assert rid in rpc.rpc_sync(1, owned_ids)  # worker2 still holds it
    rpc.rpc_sync(2, drop_held)
    wait_until(lambda: rid not in rpc.rpc_sync(1, owned_ids), "the owner kept a deleted value")
    # an RRef of this worker's value, held by others and sent back: no entry left behind
    mine = RRef(ember.arange(2.0))
    rpc.rpc_sync(2, hold, args=(mine,))
    assert mine._id in owned_ids()
    got = rpc.rpc_sync(1, RRef.to_here, args=(mine,))
    np.testing.assert_array_equal(got.numpy(), [0.0, 1.0])
    rpc.rpc_sync(2, drop_held)
    wait_until(lambda: mine._id not in owned_ids(), "a forked local value stayed in the table")
    np.testing.assert_array_equal(mine.local_value().numpy(), [0.0, 1.0])  # still ours
    # remote() to this worker itself
    selfish = rpc.remote(0, ember.zeros, args=(2,))
    rid = selfish._id
    assert selfish.is_owner() and selfish.local_value().tolist() == [0.0, 0.0]
    del selfish
    wait_until(lambda: rid not in owned_ids(), "a remote() to self stayed in the table")


def scalar_with_graph(x):
    return (x * x).sum()


def check_rref_extras():
    if RANK != 0:
        return
    rref = rpc.remote(1, ember.ones, args=(2,))
    assert rref._get_type() is ember.Tensor
    assert rref._get_type(blocking=False).wait() is ember.Tensor
    assert RRef([1])._get_type() is list
    # backward: the owner's local graph, or a distributed pass from the owner
    x = ember.arange(3.0, requires_grad=True)
    RRef(scalar_with_graph(x)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 4.0])
    raises(lambda: rref.backward(), RuntimeError, "User RRefs require 'dist_autograd_ctx_id' "
           "to be specified")
    with dist_autograd.context() as context_id:
        x = ember.arange(3.0, requires_grad=True)
        loss = rpc.remote(1, scalar_with_graph, args=(x,))
        loss.backward(context_id)
        np.testing.assert_array_equal(dist_autograd.get_gradients(context_id)[x].numpy(),
                                      [0.0, 2.0, 4.0])
    raises(lambda: RRef("text").backward(), RuntimeError, "RRef should contain a tensor")
    # the default timeout
    assert rpc.get_rpc_timeout() == 20
    rpc._set_rpc_timeout(0.1)
    try:
        assert rpc.get_rpc_timeout() == 0.1
        raises(lambda: rpc.rpc_sync(1, time.sleep, args=(0.5,)), RuntimeError, "(100 ms)")
    finally:
        rpc._set_rpc_timeout(20)


def check_dist_autograd_retain_graph():
    if RANK != 0:
        return
    x = ember.arange(3.0, dtype=ember.float64, requires_grad=True)
    with dist_autograd.context() as context_id:
        loss = rpc.rpc_sync(1, scalar_with_graph, args=(ember.sin(x),)).exp()
        dist_autograd.backward(context_id, [loss], retain_graph=True)
        dist_autograd.backward(context_id, [loss])
        want = 2 * loss.item() * 2 * np.sin(np.arange(3.0)) * np.cos(np.arange(3.0))
        np.testing.assert_allclose(dist_autograd.get_gradients(context_id)[x].numpy(), want,
                                   rtol=1e-12)
        raises(lambda: dist_autograd.backward(context_id, [loss]), RuntimeError,
               "Trying to backward through the graph a second time")


# ---------------------------------------------------------------------------------------------
# DDP inside distributed autograd: ranks 0 and 1 train a DDP layer on a group of their own

def doubled(x):
    return x * 2


def check_ddp_in_dist_autograd():
    group = dist.new_group([0, 1])
    if RANK == 2:
        return

    def layer():
        ember.manual_seed(0)
        return nn.Linear(4, 3).double()

    def batch(rank):
        ember.manual_seed(100 + rank)
        return ember.randn(5, 4, dtype=ember.float64)

    want = []
    for r in (0, 1):  # the oracle: each rank's gradient, computed here, then averaged
        replica = layer()
        (replica(2 * batch(r)) ** 2).sum().backward()
        want.append([p.grad.numpy() for p in replica.parameters()])
    ddp = nn.parallel.DistributedDataParallel(layer(), process_group=group)
    x = batch(RANK).requires_grad_()
    with dist_autograd.context() as context_id:
        out = ddp(rpc.rpc_sync(2, doubled, args=(x,)))
        dist_autograd.backward(context_id, [(out ** 2).sum()])
        grads = dist_autograd.get_gradients(context_id)
        for p, w0, w1 in zip(ddp.module.parameters(), *want):
            np.testing.assert_allclose(grads[p].numpy(), (w0 + w1) / 2, rtol=1e-12)
            assert p.grad is None
        assert x in grads  # the pass went through worker 2 and back


# ---------------------------------------------------------------------------------------------

def check_graceful_shutdown():
    """A call nobody waits on still runs before any worker's shutdown returns."""
    if RANK == 1:
        rpc.rpc_async(2, slow_mark, args=(0.5, "from 1"))
    rpc.shutdown()
    if RANK == 2:
        assert DONE == ["from 1"], DONE
    assert owned_ids() == [] and not dist_autograd._contexts  # nothing kept after shutdown
    raises(lambda: rpc.rpc_sync(0, whoami), RuntimeError, "RPC has not been initialized")


if __name__ == "__main__":
    run({name: fn for name, fn in globals().items() if name.startswith("check_")}, setup)
