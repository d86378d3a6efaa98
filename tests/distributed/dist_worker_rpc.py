"""Checks of torch.distributed.rpc, distributed autograd and DistributedOptimizer, run on every
rank by test_dist_rpc.py through dist_harness (RPC is started after init_process_group here;
the acceptance scripts start it alone). Rank 0 drives each check while the others serve; the
oracles are the same computations run in one process, and NumPy."""
import pickle
import time

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.distributed.autograd as dist_autograd
import ember.distributed.rpc as rpc
from ember import nn, optim
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

def check_graceful_shutdown():
    """A call nobody waits on still runs before any worker's shutdown returns."""
    if RANK == 1:
        rpc.rpc_async(2, slow_mark, args=(0.5, "from 1"))
    rpc.shutdown()
    if RANK == 2:
        assert DONE == ["from 1"], DONE
    raises(lambda: rpc.rpc_sync(0, whoami), RuntimeError, "RPC has not been initialized")


if __name__ == "__main__":
    run({name: fn for name, fn in globals().items() if name.startswith("check_")}, setup)
