"""ember.utils.checkpoint against torch.utils.checkpoint on the same weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember.utils.checkpoint import checkpoint, checkpoint_sequential  # noqa: E402


def _pair():
    ours = ember.nn.Sequential(ember.nn.Linear(4, 6), ember.nn.GELU(), ember.nn.Linear(6, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.Linear(6, 2))
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy()))
    return ours, theirs


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("sequential", [False, True])
def test_gradients_match_torch(use_reentrant, sequential):
    ours, theirs = _pair()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    xe = ember.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    if sequential:
        ye = checkpoint_sequential(ours, 2, xe, use_reentrant=use_reentrant)
        yt = torch.utils.checkpoint.checkpoint_sequential(theirs, 2, xt,
                                                          use_reentrant=use_reentrant)
    else:
        ye = checkpoint(ours, xe, use_reentrant=use_reentrant)
        yt = torch.utils.checkpoint.checkpoint(theirs, xt, use_reentrant=use_reentrant)
    ye.square().sum().backward()
    yt.square().sum().backward()
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
