"""``ember.nn.parallel``: DataParallel / data_parallel on one device, refusal for several;
scatter_gather's scatter / gather through nested containers (oracle: NumPy splits)."""
import numpy as np
import pytest

import ember
from ember import nn


def test_data_parallel_on_one_device_is_the_module():
    lin = nn.Linear(3, 2)
    x = ember.randn(4, 3)
    expected = lin(x).detach().numpy()
    np.testing.assert_array_equal(nn.parallel.data_parallel(lin, x).detach().numpy(), expected)
    wrapped = nn.DataParallel(lin)
    out = wrapped(x)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    out.sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(x.sum(0).numpy(), (2, 1)),
                               rtol=1e-6)
    assert list(wrapped.state_dict()) == ["module.weight", "module.bias"]


def test_data_parallel_over_several_devices_is_refused():
    with pytest.raises(NotImplementedError, match="several devices"):
        nn.parallel.data_parallel(nn.Linear(3, 2), ember.randn(4, 3), range(2))
    with pytest.raises(NotImplementedError, match="several devices"):
        nn.DataParallel(nn.Linear(3, 2), device_ids=[0, 1])


def test_scatter_and_gather_round_trip_through_containers():
    from collections import namedtuple

    from ember.nn.parallel.scatter_gather import gather, scatter, scatter_kwargs
    Pair = namedtuple("Pair", "a b")
    x = ember.arange(10.0).reshape(5, 2).requires_grad_()
    inputs = (x, [x * 2, "tag"], {"k": Pair(x, None)})
    per_device = scatter(inputs, ["cpu", "cpu"])
    assert len(per_device) == 2
    for part, rows in zip(per_device, np.array_split(np.arange(10.0).reshape(5, 2), [3])):
        np.testing.assert_array_equal(part[0].detach().numpy(), rows)
        np.testing.assert_array_equal(part[1][0].detach().numpy(), 2 * rows)
        assert part[1][1] == "tag" and isinstance(part[1], list)
        assert isinstance(part[2]["k"], Pair) and part[2]["k"].b is None
    joined = gather(per_device, -1)
    np.testing.assert_array_equal(joined[0].detach().numpy(), x.detach().numpy())
    assert isinstance(joined[2]["k"], Pair) and joined[2]["k"].b is None
    joined[1][0].sum().backward()  # the chunks carry gradients back to x
    np.testing.assert_array_equal(x.grad.numpy(), np.full((5, 2), 2.0))
    args, kwargs = scatter_kwargs((x,), None, ["cpu", "cpu", "cpu"])
    assert [a[0].shape[0] for a in args] == [2, 2, 1] and kwargs == ({}, {}, {})
