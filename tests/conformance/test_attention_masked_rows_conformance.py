"""Attention with a query row whose every key is masked: PyTorch's attention kernels give that
row zeros (and finite gradients), its composed path (need_weights=True) gives NaN."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

MASK = np.array([[True, True, True], [False, False, False], [True, False, True]])


@pytest.mark.parametrize("float_mask", [False, True])
def test_sdpa_row_masked_whole_gives_zeros(float_mask):
    qn = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    mask = np.where(MASK, 0.0, -np.inf) if float_mask else MASK
    results = []
    for lib in (torch, ember):
        q = lib.tensor(qn, requires_grad=True)
        out = lib.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=lib.tensor(mask))
        (out * out).sum().backward()
        results.append((out.detach().numpy(), q.grad.numpy()))
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert not np.isnan(results[1][1]).any()


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("cross", [False, True])
def test_multihead_attention_with_every_key_padded(need_weights, cross):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    ours = ember.nn.MultiheadAttention(4, 2, batch_first=True)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    kv = rng.standard_normal((2, 5, 4)).astype(np.float32) if cross else x
    padding = np.zeros((2, kv.shape[1]), bool)
    padding[0] = True  # the first sequence attends to nothing
    outs = []
    for lib, module in ((torch, theirs), (ember, ours)):
        q, k = lib.tensor(x), lib.tensor(kv)
        out, _ = module(q, k, k, key_padding_mask=lib.tensor(padding), need_weights=need_weights)
        outs.append(out.detach().numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)
