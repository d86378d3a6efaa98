"""The functional collectives' checks, run on every rank by
test_dist_functional_collectives.py through dist_harness. Oracles are NumPy values computed
locally from every rank's known inputs; gradients are checked against the analytic ones (each
rank weights its result by its own known weights, so every rank knows every rank's gradient
of the result)."""
import warnings

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.distributed._functional_collectives as fc
from ember.distributed.device_mesh import DeviceMesh, init_device_mesh

RANK = SIZE = WORLD = None


def data(r, shape=(4, 3)):
    """Rank ``r``'s input, known to every rank."""
    n = int(np.prod(shape))
    return (np.arange(n) * (r + 1) + r).reshape(shape).astype(np.float64)


def weights(r, shape):
    """Rank ``r``'s weights of its result: d(loss)/d(result) on rank ``r``."""
    n = int(np.prod(shape))
    return (np.arange(n) % 5 + 10 * r + 1).reshape(shape).astype(np.float64)


def leaf(array):
    return ember.tensor(array, requires_grad=True)


def backward_with_weights(out):
    (out * ember.tensor(weights(RANK, tuple(out.shape)))).sum().backward()


def check_all_reduce_values_and_group_forms():
    everyone = np.stack([data(r) for r in range(SIZE)])
    mesh = init_device_mesh("cpu", (SIZE,))
    grid = DeviceMesh("cpu", [list(range(SIZE))], mesh_dim_names=("one", "all"))
    for group in (WORLD, mesh, (grid, 1), grid["all"]):
        for op, oracle in [("sum", np.sum), ("avg", np.mean), ("max", np.max),
                           ("min", np.min), ("product", np.prod), ("SUM", np.sum)]:
            x = ember.tensor(data(RANK))
            out = fc.all_reduce(x, op, group)
            np.testing.assert_allclose(out.numpy(), oracle(everyone, 0), rtol=1e-12)
            np.testing.assert_array_equal(x.numpy(), data(RANK))  # the input is left alone
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fc.all_reduce(ember.tensor(data(RANK)), "sum", list(range(SIZE)))
    assert any(issubclass(w.category, FutureWarning) for w in caught)
    np.testing.assert_allclose(out.numpy(), everyone.sum(0))
    raises(lambda: fc.all_reduce(ember.tensor(data(RANK)), "sum", grid), AssertionError,
           "Only 1D mesh")
    raises(lambda: fc.all_reduce(ember.tensor(data(RANK)), "bogus", WORLD), RuntimeError,
           "Unrecognized reduce_op: bogus")


def check_subgroup():
    # group [0, 1]: rank 2 (on 3 ranks) is not a member and calls nothing
    pair = dist.new_group([0, 1])
    if RANK > 1:
        return
    out = fc.all_reduce(ember.tensor(data(RANK)), "sum", pair)
    np.testing.assert_allclose(out.numpy(), data(0) + data(1))
    out = fc.broadcast(ember.tensor(data(RANK)), 1, pair)
    np.testing.assert_array_equal(out.numpy(), data(1))


def check_all_reduce_gradient():
    x = leaf(data(RANK))
    out = fc.all_reduce(x, "sum", WORLD)
    backward_with_weights(out)
    expected = sum(weights(r, (4, 3)) for r in range(SIZE))
    np.testing.assert_allclose(x.grad.numpy(), expected)
    y = leaf(data(RANK))
    out = fc.all_reduce(y, "max", WORLD)
    raises(lambda: out.sum().backward(), RuntimeError,
           "all_reduce backward only supports 'sum' reduction, got 'max'")


def check_all_gather_and_gradient():
    for dim in (0, 1):
        x = leaf(data(RANK))
        out = fc.all_gather_tensor_autograd(x, dim, WORLD)
        everyone = [data(r) for r in range(SIZE)]
        np.testing.assert_array_equal(out.detach().numpy(), np.concatenate(everyone, dim))
        backward_with_weights(out)
        # rank RANK's block of every rank's weights, summed: a reduce-scatter of gradients
        blocks = [np.split(weights(r, tuple(out.shape)), SIZE, axis=dim)[RANK]
                  for r in range(SIZE)]
        np.testing.assert_allclose(x.grad.numpy(), sum(blocks))
    scalar = leaf(np.float64(RANK + 1))
    out = fc.all_gather_single(scalar, 0, WORLD)
    assert out.shape == (SIZE,)
    np.testing.assert_array_equal(out.detach().numpy(), np.arange(1, SIZE + 1))
    out.sum().backward()
    assert scalar.grad.shape == () and scalar.grad.item() == SIZE


def check_reduce_scatter_and_gradient():
    for dim in (0, 1):
        shape = (2 * SIZE, 3) if dim == 0 else (3, 2 * SIZE)
        x = leaf(data(RANK, shape))
        out = fc.reduce_scatter_tensor_autograd(x, "sum", dim, WORLD)
        total = sum(data(r, shape) for r in range(SIZE))
        np.testing.assert_allclose(out.detach().numpy(), np.split(total, SIZE, axis=dim)[RANK])
        backward_with_weights(out)
        # every rank's weights joined along dim: an all-gather of gradients
        gathered = [weights(r, tuple(out.shape)) for r in range(SIZE)]
        np.testing.assert_allclose(x.grad.numpy(), np.concatenate(gathered, dim))
    everyone = np.stack([data(r, (SIZE, 2)) for r in range(SIZE)])
    out = fc.reduce_scatter_tensor(ember.tensor(data(RANK, (SIZE, 2))), "max", 0, WORLD)
    np.testing.assert_array_equal(out.numpy(), everyone.max(0)[RANK:RANK + 1])
    raises(lambda: fc.reduce_scatter_single(ember.ones(SIZE + 1, 2), "sum", 0, WORLD),
           AssertionError, "must be a multiple of group_size")


def sent(src, dst):
    """Rows that rank ``src`` sends to rank ``dst`` in the uneven all-to-all."""
    return src + dst + 1


def rows_of(r):
    """Rank ``r``'s input: row ``k`` holds ``[100 r + k, -(100 r + k)]``."""
    n = sum(sent(r, q) for q in range(SIZE))
    ids = 100 * r + np.arange(n, dtype=np.float64)
    return np.stack([ids, -ids], 1)


def piece(src, dst, array):
    """The rows of ``array`` (rank ``src``'s input) that go to ``dst``."""
    start = sum(sent(src, q) for q in range(dst))
    return array[start:start + sent(src, dst)]


def check_all_to_all_and_gradient():
    x = ember.tensor(data(RANK, (2 * SIZE, 3)))
    out = fc.all_to_all_single(x, None, None, WORLD)
    expected = [np.split(data(r, (2 * SIZE, 3)), SIZE)[RANK] for r in range(SIZE)]
    np.testing.assert_array_equal(out.numpy(), np.concatenate(expected))
    x = leaf(rows_of(RANK))
    output_split_sizes = [sent(q, RANK) for q in range(SIZE)]
    input_split_sizes = [sent(RANK, q) for q in range(SIZE)]
    out = fc.all_to_all_single_autograd(x, output_split_sizes, input_split_sizes, WORLD)
    expected = [piece(q, RANK, rows_of(q)) for q in range(SIZE)]
    np.testing.assert_array_equal(out.detach().numpy(), np.concatenate(expected))
    backward_with_weights(out)
    # the rows sent to rank q get rank q's weights of the rows it received from here
    grad = [piece_of_received(q) for q in range(SIZE)]
    np.testing.assert_allclose(x.grad.numpy(), np.concatenate(grad))
    raises(lambda: fc.all_to_all_single(x, [1] * SIZE, None, WORLD), AssertionError,
           "specified together")


def piece_of_received(q):
    """Rank q's weights of the rows it received from this rank."""
    received = sum(sent(k, q) for k in range(SIZE))
    start = sum(sent(k, q) for k in range(RANK))
    return weights(q, (received, 2))[start:start + sent(RANK, q)]


def check_coalesced_and_gradient():
    a, b = leaf(data(RANK)), leaf(data(RANK, (SIZE, 2)))
    summed = fc.all_reduce_coalesced([a, b], "sum", WORLD)
    np.testing.assert_allclose(summed[0].detach().numpy(), sum(data(r) for r in range(SIZE)))
    np.testing.assert_allclose(summed[1].detach().numpy(),
                               sum(data(r, (SIZE, 2)) for r in range(SIZE)))
    backward_with_weights(summed[1])  # one backward runs for both (a's gradient is zeros)
    np.testing.assert_allclose(b.grad.numpy(), sum(weights(r, (SIZE, 2)) for r in range(SIZE)))
    gathered = fc.all_gather_into_tensor_coalesced([a, b], WORLD)
    np.testing.assert_array_equal(gathered[0].detach().numpy(),
                                  np.concatenate([data(r) for r in range(SIZE)]))
    b.grad = None
    backward_with_weights(gathered[1])
    blocks = [np.split(weights(r, (SIZE * SIZE, 2)), SIZE)[RANK] for r in range(SIZE)]
    np.testing.assert_allclose(b.grad.numpy(), sum(blocks))
    wide = ember.tensor(data(RANK, (2, 2 * SIZE)))
    scattered = fc.reduce_scatter_tensor_coalesced([wide, b], "sum", [1, 0], WORLD)
    total = sum(data(r, (2, 2 * SIZE)) for r in range(SIZE))
    np.testing.assert_allclose(scattered[0].detach().numpy(), total[:, 2 * RANK:2 * RANK + 2])
    np.testing.assert_allclose(scattered[1].detach().numpy(),
                               sum(data(r, (SIZE, 2)) for r in range(SIZE))[RANK:RANK + 1])
    b.grad = None
    backward_with_weights(scattered[1])
    np.testing.assert_allclose(b.grad.numpy(),
                               np.concatenate([weights(r, (1, 2)) for r in range(SIZE)]))


def check_broadcast_and_permute():
    src = SIZE - 1
    out = fc.broadcast(ember.tensor(data(RANK)), src, WORLD)
    np.testing.assert_array_equal(out.numpy(), data(src))
    x = ember.tensor(data(RANK, (5,)))
    out = fc.permute_tensor(x, [(m + 1) % SIZE for m in range(SIZE)], WORLD)
    np.testing.assert_array_equal(out.numpy(), data((RANK - 1) % SIZE, (5,)))


def check_async_collective_tensor():
    x = leaf(data(RANK))
    out = fc.all_reduce(x, "sum", WORLD)
    assert isinstance(out, fc.AsyncCollectiveTensor) and not out.completed
    plain = out.trigger_wait()
    assert type(plain) is ember.Tensor and out.completed and plain is out.elem
    assert fc.wait_tensor(out) is plain and fc.wait_tensor(plain) is plain
    assert type(out.wait()) is ember.Tensor
    assert type(out + 1) is ember.Tensor  # ops see the completed result
    assert out.requires_grad and repr(out).startswith("AsyncCollectiveTensor(tensor(")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fc.all_gather_tensor(x.detach(), 0, WORLD)
        fc.reduce_scatter_tensor(ember.ones(SIZE), "sum", 0, WORLD)
        fc.all_gather_single(x.detach(), 0, WORLD)
    assert [w.category for w in caught] == [FutureWarning, FutureWarning]
    assert "all_gather_single" in str(caught[0].message)


def _setup():
    global RANK, SIZE, WORLD
    RANK, SIZE, WORLD = dist.get_rank(), dist.get_world_size(), dist.group.WORLD


if __name__ == "__main__":
    run(globals(), _setup)
