"""Checks of torch.distributed.tensor's DTensor conversions, run on every rank by
test_dist_dtensor.py through dist_harness (3 ranks, or 4 for the 2-d mesh). Oracles are NumPy:
``np.array_split`` cuts as ``torch.chunk`` does when the size divides evenly, and the uneven
cases spell out torch.chunk's pieces."""
import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
from ember.distributed.tensor import (
    DTensor,
    Partial,
    Replicate,
    Shard,
    distribute_tensor,
    init_device_mesh,
)

RANK = SIZE = None


def chunk(array, parts, index, axis):
    """torch.chunk's piece ``index`` (empty past the last piece)."""
    step = -(-array.shape[axis] // parts)
    return np.take(array, range(min(index * step, array.shape[axis]),
                                min((index + 1) * step, array.shape[axis])), axis=axis)


def check_distribute_and_gather_1d():
    mesh = init_device_mesh("cpu", (SIZE,))
    full = np.arange(7 * 4, dtype=np.float32).reshape(7, 4)  # 7 rows: uneven pieces
    mine = full if RANK == 0 else np.zeros_like(full)  # the value of rank 0 is the source
    for placement, axis in [(Shard(0), 0), (Shard(-1), 1)]:
        dt = distribute_tensor(ember.tensor(mine), mesh, [placement])
        assert isinstance(dt, DTensor) and dt.shape == (7, 4) and dt.dtype == ember.float32
        assert dt.placements == (Shard(axis),) and dt.device_mesh is mesh
        np.testing.assert_array_equal(dt.to_local().numpy(), chunk(full, SIZE, RANK, axis))
        np.testing.assert_array_equal(dt.full_tensor().numpy(), full)
    dt = distribute_tensor(ember.tensor(mine), mesh)  # all Replicate by default
    assert dt.placements == (Replicate(),)
    np.testing.assert_array_equal(dt.to_local().numpy(), full)


def check_from_local_and_redistribute():
    mesh = init_device_mesh("cpu", (SIZE,))
    local = ember.full((2, 3), float(RANK))
    dt = DTensor.from_local(local, mesh, [Shard(0)])
    assert dt.shape == (2 * SIZE, 3) and dt.to_local() is local
    full = np.repeat(np.arange(SIZE, dtype=np.float32), 2)[:, None].repeat(3, 1)
    np.testing.assert_array_equal(dt.full_tensor().numpy(), full)
    by_column = dt.redistribute(mesh, [Shard(1)])
    np.testing.assert_array_equal(by_column.to_local().numpy(), chunk(full, SIZE, RANK, 1))
    assert by_column.placements == (Shard(1),) and by_column.shape == dt.shape
    np.testing.assert_array_equal(by_column.redistribute(placements=[Replicate()])
                                  .to_local().numpy(), full)
    whole = np.arange(SIZE + 1, dtype=np.float32)  # torch.chunk's pieces: 2, 2, 0 of 4
    uneven = DTensor.from_local(ember.tensor(chunk(whole, SIZE, RANK, 0)), mesh, [Shard(0)],
                                shape=(SIZE + 1,), stride=(1,))
    np.testing.assert_array_equal(uneven.full_tensor().numpy(), whole)
    raises(lambda: DTensor.from_local(local, mesh, [Shard(0)], shape=(6, 3)), RuntimeError,
           "both shape and stride")
    mine = ember.full((2,), float(RANK))
    checked = DTensor.from_local(mine, mesh, [Replicate()], run_check=True)
    assert checked.to_local() is mine and mine.tolist() == [0.0, 0.0]  # rank 0's, in place
    raises(lambda: dt.redistribute(placements=[Partial()]), RuntimeError, "to Partial")
    raises(lambda: dt.redistribute(), RuntimeError, "placements is needed")


def check_partial_reduces_on_redistribute():
    mesh = init_device_mesh("cpu", (SIZE,))
    ranks = np.arange(SIZE, dtype=np.float32)
    for op, want in [("sum", ranks.sum() + SIZE), ("max", SIZE), ("avg", ranks.mean() + 1)]:
        dt = DTensor.from_local(ember.full((2,), RANK + 1.0), mesh, [Partial(op)])
        np.testing.assert_allclose(dt.full_tensor().numpy(), [want, want], rtol=1e-6)
    as_shards = DTensor.from_local(ember.arange(4.0) * (RANK + 1), mesh, [Partial()])
    summed = np.arange(4.0) * (ranks + 1).sum()
    np.testing.assert_allclose(as_shards.redistribute(placements=[Shard(0)]).to_local().numpy(),
                               chunk(summed, SIZE, RANK, 0))
    # Replicate -> Partial("sum") divides, so that the sum is the value again
    split = distribute_tensor(ember.full((3,), 6.0), mesh, [Partial()])
    np.testing.assert_allclose(split.to_local().numpy(), np.full(3, 6.0 / SIZE))
    np.testing.assert_allclose(split.full_tensor().numpy(), np.full(3, 6.0), rtol=1e-6)


def check_two_dim_mesh():
    mesh = init_device_mesh("cpu", (2, SIZE // 2), mesh_dim_names=("dp", "tp"))
    row, col = mesh.get_coordinate()
    full = np.arange(8 * 6, dtype=np.float32).reshape(8, 6)
    dt = distribute_tensor(ember.tensor(full), mesh, [Shard(0), Shard(1)])
    want = chunk(chunk(full, 2, row, 0), SIZE // 2, col, 1)
    np.testing.assert_array_equal(dt.to_local().numpy(), want)
    nested = distribute_tensor(ember.tensor(full), mesh, [Shard(0), Shard(0)])
    np.testing.assert_array_equal(nested.to_local().numpy(),
                                  chunk(chunk(full, 2, row, 0), SIZE // 2, col, 0))
    np.testing.assert_array_equal(nested.full_tensor().numpy(), full)
    mixed = nested.redistribute(placements=[Replicate(), Shard(1)])
    np.testing.assert_array_equal(mixed.to_local().numpy(), chunk(full, SIZE // 2, col, 1))
    raises(lambda: distribute_tensor(ember.tensor(full), mesh, [Shard(0)]), ValueError,
           "same length as `device_mesh.ndim`")


def check_no_ops_and_no_grad_through_conversions():
    mesh = init_device_mesh("cpu", (SIZE,))
    dt = distribute_tensor(ember.ones(SIZE, 2), mesh, [Shard(0)])
    assert dt.size() == (SIZE, 2) and dt.dim() == 2 and dt.numel() == 2 * SIZE
    assert dt.nbytes == 8 * SIZE and dt.device == ember.device("cpu")
    raises(lambda: dt + 1, NotImplementedError, "ember runs no ops on DTensors")
    raises(lambda: ember.relu(dt), NotImplementedError, "to_local() or full_tensor()")
    weight = distribute_tensor(ember.ones(SIZE, requires_grad=True), mesh, [Shard(0)])
    assert weight.requires_grad and not weight.to_local().requires_grad
    raises(weight.full_tensor, NotImplementedError, "no_grad")
    with ember.no_grad():
        np.testing.assert_array_equal(weight.full_tensor().numpy(), np.ones(SIZE))
    raises(lambda: DTensor(ember.ones(2)), TypeError, "from_local")
    raises(lambda: distribute_tensor(ember.ones(2, requires_grad=True) * 2, mesh), RuntimeError,
           "leaf tensors")


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
