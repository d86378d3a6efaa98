"""The collectives' checks, run on every rank by test_dist_collectives.py through
dist_harness (``mpiexec -n N python dist_worker_collectives.py OUTDIR BACKEND CHECK...``).
Oracles are NumPy results computed locally from every rank's known data."""
import ml_dtypes
import numpy as np
from dist_harness import run

import ember
import ember.distributed as dist

RANK = SIZE = None


def data(r, n=6, dtype=np.float64):
    """Rank ``r``'s tensor contents, known to every rank."""
    return (np.arange(n) * (r + 1) + r).astype(dtype)


def everyone(n=6, dtype=np.float64):
    return [data(r, n, dtype) for r in range(SIZE)]


def check_ranks():
    assert dist.is_initialized()
    assert dist.get_backend() == "mpi"
    assert 0 <= RANK < SIZE == dist.get_world_size()
    assert dist.get_process_group_ranks(None) == list(range(SIZE))
    assert dist.get_world_size(dist.group.WORLD) == SIZE
    assert dist.get_rank(dist.GroupMember.WORLD) == RANK


def check_all_reduce_ops():
    for op, oracle in [(dist.ReduceOp.SUM, np.sum), (dist.ReduceOp.PRODUCT, np.prod),
                       (dist.ReduceOp.MIN, np.min), (dist.ReduceOp.MAX, np.max),
                       (dist.ReduceOp.AVG, np.mean)]:
        for dtype in (np.float64, np.float32, np.int64):
            if op is dist.ReduceOp.AVG and dtype == np.int64:
                continue
            t = ember.from_numpy(data(RANK, dtype=dtype).reshape(2, 3))
            assert dist.all_reduce(t, op=op) is None
            expected = oracle(np.stack(everyone(dtype=dtype)), axis=0).reshape(2, 3)
            np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6)
            assert t.dtype == ember.from_numpy(np.zeros(1, dtype)).dtype


def check_all_reduce_bool_bitwise_bfloat16():
    t = ember.tensor([RANK == 0, False, True])
    dist.all_reduce(t)  # SUM on bools is OR
    assert t.tolist() == [True, False, True]
    t = ember.tensor([RANK == 0, True])
    dist.all_reduce(t, op=dist.ReduceOp.MIN)  # AND
    assert t.tolist() == [SIZE == 1, True]
    t = ember.tensor([1 << RANK, 3])
    dist.all_reduce(t, op=dist.ReduceOp.BOR)
    assert t.tolist() == [(1 << SIZE) - 1, 3]
    b = ember.from_numpy(data(RANK, 4, ml_dtypes.bfloat16))
    dist.all_reduce(b)
    assert b.dtype == ember.bfloat16
    np.testing.assert_allclose(b.float().numpy(), np.sum(everyone(4), 0), rtol=1e-2)


def check_all_reduce_async_and_version():
    t = ember.from_numpy(data(RANK))
    before = t._version
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    assert isinstance(work, dist.Work)
    assert work.wait() is True and work.is_completed() and work.result()[0] is t
    np.testing.assert_allclose(t.numpy(), np.mean(everyone(), 0))
    assert t._version > before
    p = ember.nn.Parameter(ember.from_numpy(data(RANK)))
    dist.all_reduce(p)  # a leaf that requires grad: collectives bypass autograd, as in PyTorch
    np.testing.assert_allclose(p.detach().numpy(), np.sum(everyone(), 0))


def check_broadcast():
    src = SIZE - 1
    for dtype in (np.float32, np.int16, ml_dtypes.bfloat16, np.complex128):
        t = ember.from_numpy(data(RANK, 5, dtype))
        dist.broadcast(t, src=src)
        np.testing.assert_array_equal(t.numpy(), data(src, 5, dtype))
    t = ember.tensor(float(RANK))  # 0-d
    dist.broadcast(t, group_src=0)
    assert t.item() == 0.0


def check_reduce():
    dst = SIZE - 1
    t = ember.from_numpy(data(RANK))
    dist.reduce(t, dst=dst, op=dist.ReduceOp.MAX)
    if RANK == dst:
        np.testing.assert_array_equal(t.numpy(), np.max(everyone(), 0))


def check_all_gather():
    outs = [ember.zeros(2, 3, dtype=ember.float64) for _ in range(SIZE)]
    dist.all_gather(outs, ember.from_numpy(data(RANK).reshape(2, 3)))
    for r, o in enumerate(outs):
        np.testing.assert_array_equal(o.numpy(), data(r).reshape(2, 3))
    flat = ember.zeros(SIZE * 6, dtype=ember.float64)
    dist.all_gather_into_tensor(flat, ember.from_numpy(data(RANK)))
    np.testing.assert_array_equal(flat.numpy(), np.concatenate(everyone()))
    stacked = ember.zeros(SIZE, 6, dtype=ember.float64)
    work = dist.all_gather_into_tensor(stacked, ember.from_numpy(data(RANK)), async_op=True)
    work.wait()
    np.testing.assert_array_equal(stacked.numpy(), np.stack(everyone()))


def check_reduce_scatter():
    out = ember.zeros(3, dtype=ember.float64)
    dist.reduce_scatter_tensor(out, ember.from_numpy(data(RANK, 3 * SIZE)))
    total = np.sum(everyone(3 * SIZE), 0)
    np.testing.assert_array_equal(out.numpy(), total[3 * RANK:3 * RANK + 3])
    inputs = [ember.from_numpy(data(RANK, 3 * SIZE)[3 * r:3 * r + 3]) for r in range(SIZE)]
    out = ember.zeros(3, dtype=ember.float64)
    dist.reduce_scatter(out, inputs, op=dist.ReduceOp.AVG)
    np.testing.assert_allclose(out.numpy(), total[3 * RANK:3 * RANK + 3] / SIZE)


def check_gather_scatter():
    dst = SIZE - 1
    outs = [ember.zeros(6, dtype=ember.float64) for _ in range(SIZE)] if RANK == dst else None
    dist.gather(ember.from_numpy(data(RANK)), outs, dst=dst)
    if RANK == dst:
        for r, o in enumerate(outs):
            np.testing.assert_array_equal(o.numpy(), data(r))
    src = 0
    pieces = [ember.from_numpy(data(r, 4)) for r in range(SIZE)] if RANK == src else None
    mine = ember.zeros(4, dtype=ember.float64)
    dist.scatter(mine, pieces, src=src)
    np.testing.assert_array_equal(mine.numpy(), data(RANK, 4))


def check_all_to_all():
    # rank r sends (r + 1) * (j + 1) rows to rank j; each row is [r, j].
    send = np.concatenate([np.tile([RANK, j], ((RANK + 1) * (j + 1), 1)) for j in range(SIZE)])
    out = ember.zeros(sum((r + 1) * (RANK + 1) for r in range(SIZE)), 2, dtype=ember.int64)
    dist.all_to_all_single(out, ember.from_numpy(send),
                           [(r + 1) * (RANK + 1) for r in range(SIZE)],
                           [(RANK + 1) * (j + 1) for j in range(SIZE)])
    expected = np.concatenate([np.tile([r, RANK], ((r + 1) * (RANK + 1), 1))
                               for r in range(SIZE)])
    np.testing.assert_array_equal(out.numpy(), expected)
    even = ember.zeros(SIZE * 2, dtype=ember.float64)
    dist.all_to_all_single(even, ember.from_numpy(data(RANK, SIZE * 2)))
    expected = np.concatenate([data(r, SIZE * 2)[2 * RANK:2 * RANK + 2] for r in range(SIZE)])
    np.testing.assert_array_equal(even.numpy(), expected)
    outs = [ember.zeros(j + 1, dtype=ember.float32) for j in range(SIZE)]
    dist.all_to_all(outs, [ember.full((RANK + 1,), float(10 * RANK + j)) for j in range(SIZE)])
    for j, o in enumerate(outs):
        np.testing.assert_array_equal(o.numpy(), np.full(j + 1, 10 * j + RANK, np.float32))


def check_send_recv():
    right, left = (RANK + 1) % SIZE, (RANK - 1) % SIZE
    box = ember.zeros(6, dtype=ember.float64)
    if RANK % 2 == 0:
        dist.send(ember.from_numpy(data(RANK)), dst=right)
        sender = dist.recv(box, src=left)
    else:
        sender = dist.recv(box, src=left)
        dist.send(ember.from_numpy(data(RANK)), dst=right)
    assert sender == left
    np.testing.assert_array_equal(box.numpy(), data(left))
    box = ember.zeros(6, dtype=ember.float64)
    works = dist.batch_isend_irecv([dist.P2POp(dist.isend, ember.from_numpy(data(RANK)), right),
                                    dist.P2POp(dist.irecv, box, None, tag=0)])
    for w in works:
        w.wait()
    assert works[1].source_rank() == left
    np.testing.assert_array_equal(box.numpy(), data(left))
    try:
        dist.send(box, dst=RANK)
    except ValueError as e:
        assert "destination" in str(e)
    else:
        raise AssertionError("sending to oneself must fail")


def check_objects_and_barrier():
    gathered = [None] * SIZE
    dist.all_gather_object(gathered, {"rank": RANK, "name": f"r{RANK}"})
    assert gathered == [{"rank": r, "name": f"r{r}"} for r in range(SIZE)]
    objs = ["a", RANK, [RANK]]
    dist.broadcast_object_list(objs, src=SIZE - 1)
    assert objs == ["a", SIZE - 1, [SIZE - 1]]
    got = [None] * SIZE if RANK == 0 else None
    dist.gather_object(RANK * 2, got, dst=0)
    assert RANK != 0 or got == [2 * r for r in range(SIZE)]
    out = [None]
    dist.scatter_object_list(out, [f"to{r}" for r in range(SIZE)] if RANK == 0 else None, src=0)
    assert out == [f"to{RANK}"]
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()


def check_new_group():
    members = list(range(0, SIZE, 2)) if SIZE > 2 else [SIZE - 1]
    g = dist.new_group(members)
    if RANK not in members:
        assert g is dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(g) == -1
        assert dist.all_reduce(ember.ones(2), group=g) is None
        return
    assert dist.get_world_size(g) == len(members)
    assert dist.get_rank(g) == members.index(RANK)
    assert dist.get_global_rank(g, 0) == members[0]
    t = ember.from_numpy(data(RANK))
    dist.all_reduce(t, group=g)
    np.testing.assert_array_equal(t.numpy(), np.sum([data(r) for r in members], 0))
    t = ember.from_numpy(data(RANK))
    dist.broadcast(t, src=members[-1], group=g)  # src is a global rank
    np.testing.assert_array_equal(t.numpy(), data(members[-1]))
    dist.destroy_process_group(g)


def _raises(fn, kind, *words):
    try:
        fn()
    except kind as e:
        for w in words:
            assert w in str(e), f"{w!r} not in {e}"
    else:
        raise AssertionError(f"expected {kind.__name__}")


def check_local_errors():
    x = ember.ones(2, 3)
    _raises(lambda: dist.all_gather([x], x) if SIZE > 1 else dist.all_gather([], x),
            ValueError, "all_gather", "tensor_list")
    _raises(lambda: dist.all_gather([ember.ones(3)] * SIZE, x), ValueError, "all_gather",
            "shape")
    _raises(lambda: dist.all_reduce(x.t()), ValueError, "all_reduce", "contiguous")
    _raises(lambda: dist.all_reduce(ember.ones(2, dtype=ember.int64), op=dist.ReduceOp.AVG),
            ValueError, "AVG")
    _raises(lambda: dist.all_gather_into_tensor(ember.ones(SIZE * 6 + 1), x), ValueError,
            "all_gather_into_tensor")
    _raises(lambda: dist.all_to_all_single(ember.ones(SIZE + 1), ember.ones(SIZE + 1)),
            ValueError, "all_to_all_single")
    _raises(lambda: dist.all_reduce(ember.ones(2, dtype=ember.complex64), op=dist.ReduceOp.MAX),
            RuntimeError, "all_reduce failed")  # MPI's own error, naming the op
    _raises(lambda: dist.broadcast(x, group_src=SIZE), ValueError, "broadcast", "out of range")
    _raises(lambda: dist.reduce(x, dst=SIZE), ValueError, "not part of group")
    _raises(lambda: dist.init_process_group("mpi"), RuntimeError, "twice")


def check_debug_mismatch():
    """Only under TORCH_DISTRIBUTED_DEBUG=DETAIL: shapes differ between ranks."""
    t = ember.ones(3 + RANK)
    _raises(lambda: dist.all_reduce(t), RuntimeError, "all_reduce", "rank 0", "(3,)")


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
