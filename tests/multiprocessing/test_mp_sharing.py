"""ember.multiprocessing: tensors shared across processes; pickling outside multiprocessing."""
import copy
import os
import pickle

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
from ember import nn


def _add_one_from_queue(q, done):
    t = q.get()
    t.add_(1)
    done.put(True)


def _scale_arg(t):
    t.mul_(3)


def _watch(q, ready, out):
    """Receive a tensor, then report what it holds after the sender changed it."""
    t = q.get()
    ready.set()
    out.put(t.clone().numpy().tolist() if out is not None else None)


def _echo_through_pipe(conn):
    t = conn.recv()
    t.fill_(7)
    conn.send(t)
    conn.recv()  # a sender stays alive until its tensors are received (as in PyTorch)


def test_plain_pickle_carries_values():
    t = ember.arange(6.).reshape(2, 3)
    t.requires_grad_()
    back = pickle.loads(pickle.dumps(t))
    assert back.requires_grad and back.dtype == ember.float32
    np.testing.assert_array_equal(back.detach().numpy(), t.detach().numpy())
    assert not back.is_shared()
    p = nn.Parameter(ember.ones(2))
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, nn.Parameter) and q.requires_grad
    assert pickle.loads(pickle.dumps(ember.tensor([1, 2]))).dtype == ember.int64


def test_copy_shares_deepcopy_copies():
    t = ember.zeros(3)
    shallow, deep = copy.copy(t), copy.deepcopy(t)
    t.add_(1)
    assert shallow.tolist() == [1, 1, 1]  # PyTorch's copy.copy shares the storage too
    assert deep.tolist() == [0, 0, 0]


def test_share_memory_in_place_keeps_identity():
    t = ember.arange(4.)
    assert not t.is_shared()
    out = t.share_memory_()
    assert out is t and t.is_shared()
    assert t.tolist() == [0, 1, 2, 3]
    t.share_memory_()  # idempotent
    assert t.is_shared()


def test_module_share_memory_keeps_parameters():
    model = nn.Linear(3, 2)
    weight = model.weight
    model.share_memory()
    assert model.weight is weight
    assert all(p.is_shared() for p in model.parameters())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_queue_tensor_is_shared_both_ways(method):
    ctx = mp.get_context(method)
    q, done = ctx.Queue(), ctx.Queue()
    t = ember.zeros(3)
    p = ctx.Process(target=_add_one_from_queue, args=(q, done))
    p.start()
    q.put(t)
    assert done.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert t.tolist() == [1, 1, 1]  # the child's in-place add is seen by the sender
    assert t.is_shared()  # sending moved it to shared memory in place


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_args_share_memory(method):
    ctx = mp.get_context(method)
    t = ember.ones(2, 2).share_memory_()
    p = ctx.Process(target=_scale_arg, args=(t,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    np.testing.assert_array_equal(t.numpy(), np.full((2, 2), 3.0))


def test_receiver_sees_senders_later_changes():
    ctx = mp.get_context("fork")
    q, ready, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    t = ember.zeros(2)
    p = ctx.Process(target=_watch_after_change, args=(q, ready, out))
    p.start()
    q.put(t)
    assert ready.wait(60)
    t.fill_(5)  # after the receiver got the tensor
    ready.clear()
    out.put("changed")
    assert out_get(out) == [5.0, 5.0]
    p.join(60)


def _watch_after_change(q, ready, out):
    t = q.get()
    ready.set()
    assert out.get(timeout=60) == "changed"
    out.put(t.tolist())


def out_get(out):
    import time
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = out.get(timeout=60)
        if item != "changed":
            return item
        out.put(item)
        time.sleep(0.05)
    raise AssertionError("no answer")


def test_pipe_round_trip_shares():
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    t = ember.zeros(4)
    p = ctx.Process(target=_echo_through_pipe, args=(child,))
    p.start()
    parent.send(t)
    back = parent.recv()
    parent.send("bye")
    p.join(60)
    assert t.tolist() == [7, 7, 7, 7] and back.tolist() == [7, 7, 7, 7]
    back.fill_(1)
    assert t.tolist() == [1, 1, 1, 1]  # the round trip maps the same memory


def test_views_and_dtypes_cross_the_queue():
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    base = ember.arange(12, dtype=ember.int32).reshape(3, 4).share_memory_()
    view = base[:, 1::2]
    q.put(view)
    got = q.get(timeout=60)
    assert got.dtype == ember.int32 and got.tolist() == view.tolist()
    base.zero_()
    assert got.tolist() == [[0, 0]] * 3  # a view of the same shared segment


def test_non_leaf_requiring_grad_refused():
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    x = ember.ones(2, requires_grad=True) * 2
    from multiprocessing.reduction import ForkingPickler
    with pytest.raises(RuntimeError, match="non-leaf"):
        ForkingPickler.dumps(x)
    q.close()


def _fail(i):
    raise ValueError(f"worker {i} failed")


def _touch(i, t):
    t[i] = i + 1


def test_spawn_helper_runs_and_reports_errors():
    t = ember.zeros(2).share_memory_()
    mp.spawn(_touch, args=(t,), nprocs=2, start_method="fork")
    assert t.tolist() == [1, 2]
    with pytest.raises(mp.ProcessRaisedException, match="worker 0 failed"):
        mp.spawn(_fail, nprocs=1, start_method="fork")


def test_drop_in_surface():
    for name in ("Process", "Queue", "Pipe", "Pool", "get_context", "set_start_method",
                 "cpu_count", "SimpleQueue", "Event"):
        assert hasattr(mp, name)
    assert mp.get_sharing_strategy() == "file_descriptor"


def _sum_tensor(t):
    return float(t.sum().item())


def test_pool_map_with_tensors():
    with mp.get_context("fork").Pool(2) as pool:
        sums = pool.map(_sum_tensor, [ember.ones(3), ember.full((2,), 4.0)])
    assert sums == [3.0, 8.0]


def test_no_named_segments_left():
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    for _ in range(3):
        q.put(ember.ones(100))
        q.get(timeout=60)
    after = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    assert after - before == set()
