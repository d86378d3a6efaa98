"""The fused fast paths against torch: multi-head self-attention without weights (one
primitive over the packed projection) and cross_entropy / log_softmax over rows wide enough
to be split into several cache blocks. Outputs and gradients, float64."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402


def _arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _close(e, t, atol=1e-10):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-8)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "float", "bool_causal", "padding", "3d_and_padding"])
def test_self_attention_without_weights_matches_torch(batch_first, masks):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=torch.float64)
    em = enn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=ember.float64)
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = _arr(3, 5, 8) if batch_first else _arr(5, 3, 8)
    kw = {}
    if masks == "float":
        kw["attn_mask"] = _arr(5, 5, seed=1)
    if masks == "bool_causal":
        kw["attn_mask"] = np.triu(np.ones((5, 5), bool), 1)
    if masks in ("padding", "3d_and_padding"):
        kw["key_padding_mask"] = np.array([[0, 0, 0, 1, 1], [0] * 5, [1, 0, 0, 0, 0]], bool)
    if masks == "3d_and_padding":
        kw["attn_mask"] = _arr(6, 5, 5, seed=2)
    te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e = em(te, te, te, need_weights=False, **{k: ember.tensor(v) for k, v in kw.items()})[0]
    out_t = tm(tt, tt, tt, need_weights=False, **{k: torch.tensor(v) for k, v in kw.items()})[0]
    _close(out_e, out_t)
    g = _arr(*x.shape, seed=3)
    out_e.backward(ember.tensor(g))
    out_t.backward(torch.tensor(g))
    _close(te.grad, tt.grad)
    for pe, pt in zip(em.parameters(), tm.parameters()):
        _close(pe.grad, pt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_wide_cross_entropy_matches_torch(reduction):
    x = _arr(64, 9000) * 3
    target = np.random.default_rng(1).integers(0, 9000, 64)
    target[5] = -100
    weight = np.abs(_arr(9000, seed=2)) + 0.1
    te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    le = EF.cross_entropy(te, ember.tensor(target), ember.tensor(weight), reduction=reduction)
    lt = torch.nn.functional.cross_entropy(tt, torch.tensor(target), torch.tensor(weight),
                                           reduction=reduction)
    _close(le, lt)
    g = _arr(*lt.shape, seed=3)
    le.backward(ember.tensor(g))
    lt.backward(torch.tensor(g))
    _close(te.grad, tt.grad)
    _close(EF.log_softmax(te, 1), torch.log_softmax(tt, 1))
    _close(EF.softmax(te, 0), torch.softmax(tt, 0))
