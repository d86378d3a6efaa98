import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def test_dlpack_shares_memory_with_torch_both_ways():
    t = torch.arange(6.0).reshape(2, 3)
    e = ember.from_dlpack(t)
    t[0, 0] = 100.0
    assert e[0, 0].item() == 100.0
    e2 = ember.ones(3)
    t2 = torch.from_dlpack(e2)
    e2.add_(1)
    assert t2.tolist() == [2.0, 2.0, 2.0]
