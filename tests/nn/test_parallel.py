"""``ember.nn.parallel``: DataParallel / data_parallel on one device, refusal for several."""
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
