"""ember.gradient against torch.gradient."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_matches_torch(edge_order):
    rng = np.random.default_rng(0)
    f, coords = rng.standard_normal((4, 5, 6)), np.cumsum(rng.random(6)) + 0.1
    steps = np.arange(4) * 0.5
    got = ember.gradient(ember.tensor(f), spacing=[ember.tensor(steps), ember.tensor(coords)],
                         dim=(0, 2), edge_order=edge_order)
    want = torch.gradient(torch.tensor(f), spacing=[torch.tensor(steps), torch.tensor(coords)],
                          dim=(0, 2), edge_order=edge_order)
    uniform = ember.gradient(ember.tensor(f), spacing=[0.5, 2.0], dim=(0, 1))
    for g, w in zip(uniform, torch.gradient(torch.tensor(f), spacing=[0.5, 2.0], dim=(0, 1))):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)
