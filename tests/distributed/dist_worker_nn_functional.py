"""Checks of torch.distributed.nn.functional (collectives with gradients), run on every rank by
test_dist_nn_functional.py through dist_harness. Rank r's input is x_r = (r + 1) * [0, 1, 2, 3]
and its loss weights results by known numbers, so each gradient is derived by hand (NumPy)."""
import warnings

import numpy as np
from dist_harness import run

import ember
import ember.distributed as dist
import ember.distributed.nn.functional as dnn

RANK = SIZE = None
BASE = np.arange(4.0)


def x_of(rank):
    return ember.tensor((rank + 1) * BASE, requires_grad=True)


def weight(r, k=0):
    """The loss weight rank ``r`` gives its ``k``-th result."""
    return 10.0 * r + k + 1


def grad_of(x):
    return x.grad.numpy()


def check_all_reduce():
    x = x_of(RANK)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = dnn.all_reduce(x)
    assert "torch.distributed.nn.functional.all_reduce is deprecated" in str(caught[0].message)
    np.testing.assert_array_equal(out.detach().numpy(), sum(r + 1 for r in range(SIZE)) * BASE)
    assert x.detach().numpy().tolist() == ((RANK + 1) * BASE).tolist()  # not written
    (weight(RANK) * out).sum().backward()
    np.testing.assert_array_equal(grad_of(x), sum(weight(r) for r in range(SIZE)))


def check_all_gather():
    x = x_of(RANK)
    outs = dnn.all_gather(x)
    assert len(outs) == SIZE
    for k, o in enumerate(outs):
        np.testing.assert_array_equal(o.detach().numpy(), (k + 1) * BASE)
    sum(weight(RANK, k) * o.sum() for k, o in enumerate(outs)).backward()
    np.testing.assert_array_equal(grad_of(x), sum(weight(r, RANK) for r in range(SIZE)))


def check_broadcast_and_reduce():
    x = x_of(RANK)
    out = dnn.broadcast(x, src=1)
    np.testing.assert_array_equal(out.detach().numpy(), 2 * BASE)
    (weight(RANK) * out).sum().backward()
    expected = sum(weight(r) for r in range(SIZE)) if RANK == 1 else 0.0
    np.testing.assert_array_equal(grad_of(x), expected)
    x = x_of(RANK)
    out = dnn.reduce(x, dst=0)
    if RANK == 0:
        np.testing.assert_array_equal(out.detach().numpy(),
                                      sum(r + 1 for r in range(SIZE)) * BASE)
    (weight(RANK) * out).sum().backward()
    np.testing.assert_array_equal(grad_of(x), weight(0))  # dst's gradient, broadcast


def check_gather_and_scatter():
    x = x_of(RANK)
    outs = dnn.gather(x, dst=0)
    for k, o in enumerate(outs):
        np.testing.assert_array_equal(o.detach().numpy(),
                                      (k + 1) * BASE if RANK == 0 else 0 * BASE)
    sum(weight(RANK, k) * o.sum() for k, o in enumerate(outs)).backward()
    np.testing.assert_array_equal(grad_of(x), weight(0, RANK))  # dst's weights, scattered
    x = x_of(RANK)
    out = dnn.scatter([x * (k + 1) for k in range(SIZE)], src=0)
    np.testing.assert_array_equal(out.detach().numpy(), (RANK + 1) * BASE)  # rank 0's x = BASE
    (weight(RANK) * out).sum().backward()
    expected = sum((k + 1) * weight(k) for k in range(SIZE)) if RANK == 0 else 0.0
    np.testing.assert_array_equal(grad_of(x), expected)


def check_reduce_scatter():
    x = x_of(RANK)
    out = dnn.reduce_scatter(ember.empty(4, dtype=ember.float64),
                             [x * (k + 1) for k in range(SIZE)])
    np.testing.assert_array_equal(out.detach().numpy(),
                                  (RANK + 1) * sum(r + 1 for r in range(SIZE)) * BASE)
    (weight(RANK) * out).sum().backward()
    np.testing.assert_array_equal(grad_of(x), sum((k + 1) * weight(k) for k in range(SIZE)))


def check_all_to_all():
    x = x_of(RANK)
    outs = dnn.all_to_all([ember.empty(4, dtype=ember.float64) for _ in range(SIZE)],
                          [x * (k + 1) for k in range(SIZE)])
    for j, o in enumerate(outs):  # piece RANK of rank j's list
        np.testing.assert_array_equal(o.detach().numpy(), (j + 1) * (RANK + 1) * BASE)
    sum(weight(RANK, j) * o.sum() for j, o in enumerate(outs)).backward()
    np.testing.assert_array_equal(grad_of(x),
                                  sum((k + 1) * weight(k, RANK) for k in range(SIZE)))


def check_all_to_all_single_uneven():
    # every rank sends k + 1 elements to rank k
    sends = [k + 1 for k in range(SIZE)]
    offsets = np.cumsum([0] + sends)
    inputs = [np.arange(offsets[-1], dtype=np.float64) + 100 * r for r in range(SIZE)]
    x = ember.tensor(inputs[RANK], requires_grad=True)
    out = dnn.all_to_all_single(ember.empty(SIZE * (RANK + 1), dtype=ember.float64), x,
                                output_split_sizes=[RANK + 1] * SIZE, input_split_sizes=sends)
    expected = np.concatenate([inputs[j][offsets[RANK]:offsets[RANK + 1]] for j in range(SIZE)])
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    weights = {k: np.arange(SIZE * (k + 1), dtype=np.float64) + 1 + 100 * k
               for k in range(SIZE)}
    (ember.tensor(weights[RANK]) * out).sum().backward()
    # x's piece for rank k sits at block RANK of rank k's output
    want = np.concatenate([weights[k][RANK * (k + 1):(RANK + 1) * (k + 1)]
                           for k in range(SIZE)])
    np.testing.assert_array_equal(grad_of(x), want)


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
