"""Lazy modules against torch: reprs and state_dict before and after the first call, and
outputs and gradients with copied weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember.nn.parameter import is_lazy  # noqa: E402

_CASES = [
    ("LazyLinear", (3,), (2, 5)),
    ("LazyConv1d", (4, 3), (2, 3, 6)),
    ("LazyConv2d", (4, 3), (2, 3, 5, 5)),
    ("LazyConv3d", (2, 2), (1, 3, 3, 3, 3)),
    ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), (2, 3, 4, 4)),
    ("LazyConvTranspose3d", (2, 2), (1, 3, 2, 2, 2)),
    ("LazyBatchNorm1d", (), (4, 3, 5)),
    ("LazyBatchNorm2d", (), (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), (2, 3, 4)),
    ("LazyInstanceNorm2d", (), (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), (2, 3, 2, 2, 2)),
]


def _summary(sd, lazy):
    return {k: repr(v) if lazy(v) else v.numpy().tolist() for k, v in sd.items()}


@pytest.mark.parametrize("name,args,shape", _CASES)
def test_lazy_module_matches_torch(name, args, shape):
    em = getattr(ember.nn, name)(*args, dtype=ember.float64)
    tm = getattr(torch.nn, name)(*args, dtype=torch.float64)
    assert repr(em) == repr(tm)
    tlazy = torch.nn.parameter.is_lazy
    assert _summary(em.state_dict(), is_lazy) == _summary(tm.state_dict(), tlazy)
    x = np.random.default_rng(0).standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    tm(tx)  # materialise torch's, then load its weights into ember's through the lazy path
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    ex = ember.tensor(x, requires_grad=True)
    eo = em(ex)
    to = tm(tx)
    assert type(em).__name__ == type(tm).__name__
    assert repr(em) == repr(tm) or name == "LazyLinear"  # torch keeps in_features=0 there
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-10)
    (eo ** 2).sum().backward()
    (to ** 2).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-9)
    for (n, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=1e-9, err_msg=n)
    es = {k: tuple(v.shape) for k, v in em.state_dict().items()}
    assert es == {k: tuple(v.shape) for k, v in tm.state_dict().items()}


@pytest.mark.parametrize("name,args,shape", _CASES)
def test_lazy_first_call_repr_matches_torch(name, args, shape):
    em = getattr(ember.nn, name)(*args)
    tm = getattr(torch.nn, name)(*args)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    em(ember.tensor(x))
    tm(torch.tensor(x))
    assert repr(em) == repr(tm)
    assert type(em).__name__ == type(tm).__name__


@pytest.mark.parametrize("name,shape", [(n, s) for n, _, s in _CASES if "Norm" in n])
def test_lazy_norm_without_bias_matches_torch(name, shape):
    em = getattr(ember.nn, name)(bias=False, dtype=ember.float64)
    tm = getattr(torch.nn, name)(bias=False, dtype=torch.float64)
    assert em.bias is None and tm.bias is None
    assert repr(em) == repr(tm)
    x = np.random.default_rng(2).standard_normal(shape)
    eo, to = em(ember.tensor(x)), tm(torch.tensor(x))
    assert repr(em) == repr(tm) and em.bias is None
    assert sorted(em.state_dict()) == sorted(tm.state_dict())
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-10)


def test_sync_batch_norm_without_bias_matches_torch():
    em, tm = ember.nn.SyncBatchNorm(3, bias=False), torch.nn.SyncBatchNorm(3, bias=False)
    assert em.bias is None and tm.bias is None
    assert sorted(em.state_dict()) == sorted(tm.state_dict())
