"""Checks of torch.distributed.tensor's DTensor conversions and ops, run on every rank by
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
from ember.distributed.tensor._utils import compute_local_shape_and_global_offset
from ember.distributed.tensor.experimental import implicit_replication
from ember.distributed.tensor.placement_types import _StridedShard

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
    # _StridedShard: rows cut as if tp had sharded them first (FSDP2 over tensor parallelism)
    strided = distribute_tensor(ember.tensor(full), mesh, [_StridedShard(0, split_factor=2),
                                                          Shard(0)])
    rows = [4 * col + 2 * row, 4 * col + 2 * row + 1]  # tp's half, dp's quarter of it
    np.testing.assert_array_equal(strided.to_local().numpy(), full[rows])
    np.testing.assert_array_equal(strided.full_tensor().numpy(), full)
    total = (dt * 2 + dt).sum()  # ops on a 2-d mesh: each sharded mesh dim becomes partial
    assert total.placements == (Partial(), Partial())
    np.testing.assert_allclose(total.full_tensor().item(), 3 * full.sum())
    np.testing.assert_allclose((strided.exp() - 1).full_tensor().numpy(), np.expm1(full),
                               rtol=1e-5)
    shape, offset = compute_local_shape_and_global_offset((8, 6), mesh, [Shard(0), Shard(1)])
    assert shape == (4, 3) and offset == (4 * row, 3 * col)


def check_metadata_and_ops_without_rules():
    mesh = init_device_mesh("cpu", (SIZE,))
    dt = distribute_tensor(ember.ones(SIZE, 2), mesh, [Shard(0)])
    assert dt.size() == (SIZE, 2) and dt.dim() == 2 and dt.numel() == 2 * SIZE
    assert dt.nbytes == 8 * SIZE and dt.device == ember.device("cpu") and not dt.is_meta
    raises(lambda: ember.cumsum(dt, 0), NotImplementedError, "torch.cumsum",
           "no sharding rule")
    raises(lambda: dt + ember.ones(SIZE, 2), RuntimeError, "mixed torch.Tensor and DTensor")
    # inside implicit_replication the plain tensor counts as replicated (also in a list)
    rows = ember.arange(2.0 * SIZE).reshape(SIZE, 2)
    with implicit_replication():
        total = dt + rows
        joined = ember.stack([dt, rows])
    assert total.placements == (Shard(0),) and isinstance(joined, DTensor)
    np.testing.assert_array_equal(total.full_tensor().numpy(), 1 + rows.numpy())
    np.testing.assert_array_equal(joined.full_tensor().numpy()[1], rows.numpy())
    raises(lambda: dt + rows, RuntimeError, "mixed torch.Tensor and DTensor")
    raises(lambda: DTensor(ember.ones(2)), TypeError, "from_local")
    raises(lambda: distribute_tensor(ember.ones(2, requires_grad=True) * 2, mesh), RuntimeError,
           "leaf tensors")


def check_pointwise_ops():
    mesh = init_device_mesh("cpu", (SIZE,))
    a = np.linspace(-2, 2, 7 * 3).reshape(7, 3)  # 7 rows: uneven pieces
    b = np.cos(np.arange(7 * 3.0)).reshape(7, 3)
    da = distribute_tensor(ember.tensor(a), mesh, [Shard(0)])
    db = distribute_tensor(ember.tensor(b), mesh, [Shard(0)])
    for got, want in [(da.exp(), np.exp(a)), (ember.tanh(da), np.tanh(a)), (-da, -a),
                      (da * db + 1, a * b + 1), (2 - da, 2 - a), (da / 2, a / 2),
                      (ember.maximum(da, db), np.maximum(a, b)), (da.clamp(min=0), a.clip(0)),
                      (ember.where(da > 0, da, db), np.where(a > 0, a, b)),
                      (da.addcmul(db, db, value=0.5), a + 0.5 * b * b)]:
        assert got.placements == (Shard(0),) and got.shape == (7, 3)
        np.testing.assert_allclose(got.full_tensor().numpy(), want, rtol=1e-12)
    # a replicated operand is laid out as the sharded one; a broadcast one is used whole
    row = np.arange(3.0)
    for other in (distribute_tensor(ember.tensor(b), mesh), distribute_tensor(
            ember.tensor(row), mesh), ember.tensor(2.0)):
        got = da * other
        assert got.placements == (Shard(0),)
        np.testing.assert_allclose(got.full_tensor().numpy(), a * other.full_tensor().numpy()
                                   if isinstance(other, DTensor) else a * 2.0, rtol=1e-12)
    # in place, foreach (one op per tensor), factories and copies keep the layout
    c = distribute_tensor(ember.tensor(a), mesh, [Shard(0)])
    c.mul_(3).add_(db, alpha=2)
    np.testing.assert_allclose(c.full_tensor().numpy(), 3 * a + 2 * b, rtol=1e-12)
    ember._foreach_add_([c, da], [db, db])
    ember._foreach_lerp_([c], [db], 0.5)
    np.testing.assert_allclose(c.full_tensor().numpy(), (3 * a + 3 * b + b) / 2, rtol=1e-12)
    assert (ember.zeros_like(c).placements == (Shard(0),)
            and ember.ones_like(c).full_tensor().tolist() == np.ones((7, 3)).tolist())
    c.zero_()
    c.copy_(db)
    np.testing.assert_array_equal(c.clone().full_tensor().numpy(), b)
    c.fill_(4.0)
    assert c.full_tensor().sum().item() == 4.0 * 21
    # Partial survives linear ops, other ops reduce it first
    p = DTensor.from_local(ember.full((2,), RANK + 1.0), mesh, [Partial()])
    total = SIZE * (SIZE + 1) / 2
    assert (p * 2).placements == (Partial(),) and (p + p).placements == (Partial(),)
    np.testing.assert_allclose((p * 2).full_tensor().numpy(), [2 * total] * 2)
    assert p.exp().placements == (Replicate(),) and (p + 1).placements == (Replicate(),)
    np.testing.assert_allclose((p + 1).full_tensor().numpy(), [total + 1] * 2)
    raises(lambda: p.exp_(), RuntimeError, "Partial")


def check_reductions():
    mesh = init_device_mesh("cpu", (SIZE,))
    a = np.sin(np.arange(7 * 4.0)).reshape(7, 4)
    da = distribute_tensor(ember.tensor(a), mesh, [Shard(0)])
    s = da.sum()
    assert s.placements == (Partial(),) and s.shape == ()
    np.testing.assert_allclose(s.full_tensor().item(), a.sum(), rtol=1e-12)
    rows = da.sum(1)  # over a dimension that is not sharded: still sharded
    assert rows.placements == (Shard(0),)
    np.testing.assert_allclose(rows.full_tensor().numpy(), a.sum(1), rtol=1e-12)
    cols = da.sum(0, keepdim=True)
    assert cols.placements == (Partial(),) and cols.shape == (1, 4)
    np.testing.assert_allclose(cols.full_tensor().numpy(), a.sum(0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(da.mean().full_tensor().item(), a.mean(), rtol=1e-12)
    np.testing.assert_allclose(da.mean(0).full_tensor().numpy(), a.mean(0), rtol=1e-12)
    for norm, want in [(da.norm(), np.linalg.norm(a)),
                       (ember.linalg.vector_norm(da, 3), (np.abs(a) ** 3).sum() ** (1 / 3)),
                       (ember.linalg.vector_norm(da, float("inf")), np.abs(a).max()),
                       (da.amax(), a.max()), (da.max(), a.max()), (da.amin(), a.min())]:
        assert norm.placements[0].is_partial()
        np.testing.assert_allclose(norm.full_tensor().item(), want, rtol=1e-12)
    # a norm of partial norms is reduced first, as clip_grad_norm_ computes it (as PyTorch)
    total = ember.stack([da.norm(), (da * 2).norm()]).norm()
    assert total.placements == (Replicate(),)
    np.testing.assert_allclose(float(total), np.sqrt(5) * np.linalg.norm(a), rtol=1e-12)


def check_autograd():
    mesh = init_device_mesh("cpu", (SIZE,))
    a = np.sin(np.arange(7 * 3.0)).reshape(7, 3)
    row = np.arange(1.0, 4.0)
    w = distribute_tensor(ember.tensor(a, requires_grad=True), mesh, [Shard(0)])
    r = distribute_tensor(ember.tensor(row, requires_grad=True), mesh)
    loss = ((w * r).tanh() ** 2).sum()
    assert loss.requires_grad and loss.placements == (Partial(),)
    loss.full_tensor().backward()
    t = np.tanh(a * row)
    assert w.grad.placements == (Shard(0),) and r.grad.placements == (Replicate(),)
    np.testing.assert_allclose(w.grad.full_tensor().numpy(), 2 * t * (1 - t * t) * row,
                               rtol=1e-12)
    np.testing.assert_allclose(r.grad.to_local().numpy(), (2 * t * (1 - t * t) * a).sum(0),
                               rtol=1e-12)
    # from_local: the local tensor gets its part of the gradient; full_tensor: this rank's part
    local = ember.full((2, 3), float(RANK + 1), requires_grad=True)
    dt = DTensor.from_local(local, mesh, [Shard(0)])
    (dt.full_tensor() * ember.arange(2.0 * SIZE).view(-1, 1)).sum().backward()
    np.testing.assert_allclose(local.grad.numpy(), np.arange(2.0 * RANK, 2.0 * RANK + 2)
                               [:, None].repeat(3, 1))
    # to_local passes the gradient through; redistribute lays it back out
    local = ember.ones(3, requires_grad=True)
    dt = DTensor.from_local(local, mesh, [Partial()])
    (dt.redistribute(mesh, [Replicate()]).to_local() * 5).sum().backward()
    np.testing.assert_allclose(local.grad.numpy(), [5.0] * 3)
    x = distribute_tensor(ember.tensor(a, requires_grad=True), mesh)
    x.redistribute(mesh, [Shard(1)]).to_local().sum().backward()
    np.testing.assert_allclose(x.grad.to_local().numpy(), np.ones((7, 3)))
    # grad_placements: each rank's gradient of the full value is an addend
    g = distribute_tensor(ember.tensor(a, requires_grad=True), mesh, [Shard(0)])
    (g.full_tensor(grad_placements=[Partial()]) * (RANK + 1)).sum().backward()
    np.testing.assert_allclose(g.grad.full_tensor().numpy(),
                               np.full((7, 3), SIZE * (SIZE + 1) / 2))
    # from_local's grad_placements: the local gradient is laid out so (Replicate -> Partial
    # divides a replicated value among the ranks)
    local = ember.ones(2, requires_grad=True)
    dt = DTensor.from_local(local, mesh, [Replicate()], grad_placements=[Partial()])
    (dt * 6).sum().backward()
    np.testing.assert_allclose(local.grad.numpy(), [6 / SIZE] * 2, rtol=1e-6)
    n = distribute_tensor(ember.tensor(a, requires_grad=True), mesh, [Shard(0)])
    n.norm().full_tensor().backward()
    np.testing.assert_allclose(n.grad.full_tensor().numpy(), a / np.linalg.norm(a), rtol=1e-12)


def check_optimizers_and_clip_grad_norm():
    mesh = init_device_mesh("cpu", (SIZE,))
    a = np.sin(np.arange(7 * 3.0)).reshape(7, 3)
    for make in [lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, foreach=False),
                 lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, foreach=True),
                 lambda ps: ember.optim.Adam(ps, lr=0.1, foreach=True),
                 lambda ps: ember.optim.AdamW(ps, lr=0.1, foreach=False)]:
        plain = ember.tensor(a, requires_grad=True)
        sharded = distribute_tensor(ember.tensor(a, requires_grad=True), mesh, [Shard(0)])
        opt_plain, opt_sharded = make([plain]), make([sharded])
        scale = distribute_tensor(ember.arange(1.0, 4.0, dtype=ember.float64), mesh)
        for _ in range(3):
            ((plain * ember.arange(1.0, 4.0, dtype=ember.float64)).sin() ** 2).sum().backward()
            ((sharded * scale).sin() ** 2).sum().backward()
            want = ember.nn.utils.clip_grad_norm_([plain], 0.5)
            got = ember.nn.utils.clip_grad_norm_([sharded], 0.5)
            np.testing.assert_allclose(got.full_tensor().item(), want.item(), rtol=1e-12)
            opt_plain.step()
            opt_sharded.step()
            opt_plain.zero_grad()
            opt_sharded.zero_grad(set_to_none=False)
        state = next(iter(opt_sharded.state.values()))
        assert any(isinstance(v, DTensor) for v in state.values())
        np.testing.assert_allclose(sharded.full_tensor().detach().numpy(),
                                   plain.detach().numpy(), rtol=1e-12)


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
