"""scaled_dot_product_attention's output layout and backend choice as torch's on the CPU: the
default (flash) kernel writes the output in the query's dim order, the math kernel and dropout
give a contiguous output, a choice of only the efficient kernel finds none."""
import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember.nn.attention import SDPBackend as ESDPBackend
from ember.nn.attention import sdpa_kernel as e_sdpa_kernel

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402
from torch.nn.attention import SDPBackend as TSDPBackend  # noqa: E402
from torch.nn.attention import sdpa_kernel as t_sdpa_kernel  # noqa: E402

QKV = np.random.default_rng(0).standard_normal((2, 16, 48)).astype(np.float32)


def _heads(lib, perm=(0, 2, 1, 3)):
    """q, k, v of 2 heads viewed out of a (N, L, 3 * H * E) projection."""
    return [t.view(2, -1, 2, 8).permute(*perm) for t in lib.tensor(QKV).chunk(3, -1)]


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3}])
def test_default_kernel_output_follows_query_layout(kwargs):
    got = EF.scaled_dot_product_attention(*_heads(ember), **kwargs)
    want = TF.scaled_dot_product_attention(*_heads(torch), **kwargs)
    assert got.stride() == want.stride()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    # what attention modules do next: merge the heads back without a copy
    assert got.transpose(1, 2).view(2, 16, 16).shape == (2, 16, 16)


def test_math_kernel_and_dropout_give_contiguous_output():
    with e_sdpa_kernel(ESDPBackend.MATH), t_sdpa_kernel(TSDPBackend.MATH):
        got = EF.scaled_dot_product_attention(*_heads(ember))
        want = TF.scaled_dot_product_attention(*_heads(torch))
    assert got.stride() == want.stride() == (256, 128, 8, 1)
    got = EF.scaled_dot_product_attention(*_heads(ember), dropout_p=0.3)
    want = TF.scaled_dot_product_attention(*_heads(torch), dropout_p=0.3)
    assert got.stride() == want.stride()


def test_contiguous_and_3d_inputs_stay_contiguous():
    q = ember.tensor(QKV[:, :, :16]).view(2, 16, 2, 8).contiguous()
    assert EF.scaled_dot_product_attention(q, q, q).is_contiguous()
    x = ember.tensor(QKV[:, :, :8]).transpose(0, 1)
    assert EF.scaled_dot_product_attention(x, x, x).is_contiguous()


def test_efficient_only_finds_no_cpu_kernel():
    with e_sdpa_kernel(ESDPBackend.EFFICIENT_ATTENTION):
        with pytest.raises(RuntimeError, match="No viable backend"):
            EF.scaled_dot_product_attention(*_heads(ember))
    with t_sdpa_kernel(TSDPBackend.EFFICIENT_ATTENTION):
        with pytest.raises(RuntimeError, match="No viable backend"):
            TF.scaled_dot_product_attention(*_heads(torch))


def test_layout_output_backpropagates():
    q, k, v = (t.detach().requires_grad_() for t in _heads(ember))
    out = EF.scaled_dot_product_attention(q, k, v)
    out.transpose(1, 2).reshape(2, 16, 16).pow(2).sum().backward()
    tq, tk, tv = (t.detach().requires_grad_() for t in _heads(torch))
    TF.scaled_dot_product_attention(tq, tk, tv).transpose(1, 2).reshape(2, 16, 16) \
        .pow(2).sum().backward()
    for a, b in ((q, tq), (k, tk), (v, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
