"""scaled_dot_product_attention's CPU node (HostAttention) against NumPy, and gradcheck /
gradgradcheck in float64 (also with key and value computed from the query)."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def _reference(q, k, v, mask=None, causal=False):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        scores = scores + np.triu(np.full(scores.shape[-2:], -np.inf), 1)
    if mask is not None:
        scores = scores + (np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask)
    top = scores.max(-1, keepdims=True)
    e = np.exp(scores - np.where(np.isinf(top), 0.0, top))
    total = e.sum(-1, keepdims=True)
    return (e / np.where(total == 0, 1.0, total)) @ v


@pytest.mark.parametrize("mask_kind", [None, "causal", "bool", "float"])
def test_matches_numpy(mask_kind):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 6, 4)) for _ in range(3))
    mask = {None: None, "causal": None, "bool": rng.random((6, 6)) > 0.4,
            "float": rng.standard_normal((3, 6, 6))}[mask_kind]
    got = F.scaled_dot_product_attention(
        *(ember.tensor(a) for a in (q, k, v)), is_causal=mask_kind == "causal",
        attn_mask=None if mask is None else ember.tensor(mask))
    assert got.grad_fn is None
    np.testing.assert_allclose(got.numpy(), _reference(q, k, v, mask, mask_kind == "causal"),
                               atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_gradients(causal):
    rng = np.random.default_rng(4)
    q, k, v = (ember.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
               for _ in range(3))

    def attend(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert attend(q, k, v).grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    assert gradcheck(attend, (q, k, v))
    assert gradgradcheck(attend, (q, k, v))
    assert gradgradcheck(lambda q: attend(q, q * 2, q.sin()), (q,))
