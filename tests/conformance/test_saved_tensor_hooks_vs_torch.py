"""ember.autograd.graph's saved-tensor hooks against torch.autograd.graph's: how many tensors
each op packs and unpacks, and gradients through copying hooks."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

OPS = {
    "mul": lambda a, b: a * b,
    "exp": lambda a, b: a.exp(),
    "pow": lambda a, b: a ** 2,
    "matmul": lambda a, b: a @ b.T,
    "sigmoid": lambda a, b: a.sigmoid(),
    "tanh": lambda a, b: a.tanh(),
    "relu": lambda a, b: a.relu(),
    "add": lambda a, b: a + b,
    "sum": lambda a, b: a.sum(),
    "chain": lambda a, b: ((a * b).exp() + a).tanh(),
}


@pytest.mark.parametrize("name", list(OPS))
def test_pack_unpack_counts_and_grads_match_torch(name):
    x = np.random.default_rng(0).standard_normal((3, 3))
    y = np.random.default_rng(1).standard_normal((3, 3))
    results = {}
    for lib in (torch, ember):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        counts = {"pack": 0, "unpack": 0}

        def pack(t, counts=counts):
            counts["pack"] += 1
            return t.clone()

        def unpack(t, counts=counts):
            counts["unpack"] += 1
            return t
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            out = OPS[name](a, b).sum()
        packs = counts["pack"]
        out.backward()
        grads = [t.grad.numpy() if t.grad is not None else None for t in (a, b)]
        results[lib.__name__] = (packs, counts["unpack"], grads)
    assert results["ember"][:2] == results["torch"][:2]
    for e, t in zip(results["ember"][2], results["torch"][2]):
        assert (e is None) == (t is None)
        if e is not None:
            np.testing.assert_allclose(e, t, rtol=1e-12)


def test_inplace_after_packing_is_allowed_like_torch():
    for lib in (torch, ember):
        a = lib.randn(4, requires_grad=True)
        b = a * 1
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
            y = (b ** 2).sum()
        with lib.no_grad():
            b.add_(1)
        y.backward()  # the hooks own the value: no version error
        assert a.grad is not None
