"""Session 12 fast paths against PyTorch: unshifted softmax exponentials (large-vocabulary
cross-entropy) and the embedding gradient summed by a sparse product."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shift", [0.0, 70.0, -30.0])
def test_cross_entropy_large_vocab(shift):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 5000)) * 3 + shift).astype(np.float32)
    t = rng.integers(0, 5000, 64)
    xe = ember.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    le = ember.nn.functional.cross_entropy(xe, ember.tensor(t), label_smoothing=0.0)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    le.backward()
    lt.backward()
    np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-5)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(ember.log_softmax(ember.tensor(x), 1).numpy(),
                               torch.log_softmax(torch.tensor(x), 1).numpy(), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("padding_idx", [None, 5])
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_grad(padding_idx, scale, sparse):
    if sparse and scale:
        pytest.skip("refused by both")
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 300, (35, 20))
    idx[0, :3] = 5
    w = rng.standard_normal((1000, 64)).astype(np.float32)
    g = rng.standard_normal((35, 20, 64)).astype(np.float32)
    grads = []
    for lib in (ember, torch):
        weight = lib.tensor(w, requires_grad=True)
        out = lib.nn.functional.embedding(lib.tensor(idx), weight, padding_idx=padding_idx,
                                          scale_grad_by_freq=scale, sparse=sparse)
        out.backward(lib.tensor(g))
        grads.append(weight.grad.to_dense().numpy() if sparse else weight.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5)
