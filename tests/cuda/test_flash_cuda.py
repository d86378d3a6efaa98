"""The fused attention kernels (ember.backend.cuda_flash) on a GPU: scaled_dot_product_attention
and MultiheadAttention's packed core against ember's composed float64 path on the CPU, and with
dropout against the composed GPU path drawing the same hashed mask."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops import attention

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]

TOL = {ember.bfloat16: 3e-2, ember.float16: 5e-3}


def _run(fn, inputs):
    """fn's output and its inputs' gradients for a fixed output gradient."""
    leaves = [t.detach().requires_grad_() for t in inputs]
    out = fn(*leaves)
    grad = ember.linspace(-1, 1, out.numel(), device=out.device).reshape(out.shape)
    out.backward(grad.to(out.dtype))
    return [out.detach()] + [t.grad for t in leaves]


def _close(got, want, dtype):
    for g, w in zip(got, want):
        g, w = g.detach().double().cpu().numpy(), w.detach().double().cpu().numpy()
        np.testing.assert_allclose(g, w, atol=TOL[dtype] * np.abs(w).max())


def _close_in_norm(got, want, rtol):
    """Relative error in the Frobenius norm: for gradients whose entries are at rounding
    level (a weight's q and k rows, behind half-precision softmax products)."""
    for g, w in zip(got, want):
        g, w = g.detach().double().cpu().numpy(), w.detach().double().cpu().numpy()
        assert np.linalg.norm(g - w) <= rtol * np.linalg.norm(w)


@pytest.mark.parametrize("dtype", [ember.bfloat16, ember.float16])
@pytest.mark.parametrize("shape, causal", [((2, 3, 100, 100, 64), True),
                                           ((2, 2, 70, 130, 32), False),
                                           ((1, 2, 65, 65, 128), True)])
def test_sdpa_runs_fused_and_matches_cpu(dtype, shape, causal):
    batch, heads, q_len, k_len, dim = shape
    ember.manual_seed(0)
    q = ember.randn(batch, q_len, heads, dim, dtype=ember.float64).transpose(1, 2)
    k, v = (ember.randn(batch, heads, k_len, dim, dtype=ember.float64) for _ in range(2))

    def sdpa(a, b, c):
        out = F.scaled_dot_product_attention(a, b, c, is_causal=causal)
        if a.is_cuda:
            assert type(out.grad_fn).__name__ == "ScaledDotProductFlashAttentionBackward0"
        return out
    got = _run(sdpa, [t.to("cuda", dtype) for t in (q, k, v)])
    want = _run(sdpa, [t.to(dtype).double() for t in (q, k, v)])
    assert got[0].dtype is dtype
    _close(got, want, dtype)


def test_sdpa_under_autocast_takes_float32_inputs():
    ember.manual_seed(1)
    q, k, v = (ember.randn(2, 2, 33, 64, device="cuda") for _ in range(3))
    with ember.autocast("cuda", dtype=ember.bfloat16):
        got = _run(lambda *t: F.scaled_dot_product_attention(*t), [q, k, v])
    assert got[0].dtype is ember.bfloat16 and got[1].dtype is ember.float32
    want = _run(lambda *t: F.scaled_dot_product_attention(*t),
                [t.to(ember.bfloat16).double() for t in (q, k, v)])
    _close(got, want, ember.bfloat16)


def test_sdpa_dropout_draws_the_composed_paths_mask(monkeypatch):
    ember.manual_seed(2)
    q, k, v = (ember.randn(2, 4, 80, 64, device="cuda", dtype=ember.float16) for _ in range(3))

    def sdpa(*t):
        return F.scaled_dot_product_attention(*t, dropout_p=0.3)
    ember.manual_seed(7)
    fused = _run(sdpa, [q, k, v])
    monkeypatch.setattr(attention, "_flash_inputs", lambda *t: None)
    ember.manual_seed(7)
    composed = _run(sdpa, [q, k, v])
    _close(fused, composed, ember.float16)
    assert (fused[0] == 0).float().mean().item() < 0.05  # dropped weights, not outputs


def test_sdpa_double_backward_through_the_composed_form():
    ember.manual_seed(3)
    q, k, v = (ember.randn(1, 2, 20, 32, device="cuda", dtype=ember.float16,
                           requires_grad=True) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (gq,) = ember.autograd.grad(out.float().square().sum(), q, create_graph=True)
    gq.float().sum().backward()
    q64, k64, v64 = (t.detach().double().cpu().requires_grad_() for t in (q, k, v))
    out64 = F.scaled_dot_product_attention(q64, k64, v64, is_causal=True)
    (gq64,) = ember.autograd.grad(out64.square().sum(), q64, create_graph=True)
    gq64.sum().backward()
    _close([gq, k.grad, v.grad], [gq64, k64.grad, v64.grad], ember.float16)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_transformer_layer_step_fused_matches_materialised(monkeypatch, dropout):
    """A bf16-autocast TransformerEncoderLayer step (MultiheadAttention's packed core) with the
    fused kernels against the materialised GPU path, the same seed drawing the same mask."""
    ember.manual_seed(4)
    layer = ember.nn.TransformerEncoderLayer(128, 4, dropout=dropout, batch_first=True).cuda()
    x = ember.randn(3, 50, 128, device="cuda")
    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(attention, "_on_flash_kernels", lambda *a: False)
        layer.zero_grad()
        ember.manual_seed(9)
        with ember.autocast("cuda", dtype=ember.bfloat16):
            out = layer(x)
        out.float().square().mean().backward()
        results.append([out.detach(), layer.self_attn.in_proj_weight.grad.clone(),
                        layer.linear1.weight.grad.clone()])
    _close(results[0][:1], results[1][:1], ember.bfloat16)
    _close_in_norm(results[0][1:], results[1][1:], 3e-2)
