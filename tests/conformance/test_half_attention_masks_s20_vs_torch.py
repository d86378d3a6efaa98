"""Masked half-type attention against PyTorch's CPU flash kernel: scaled_dot_product_attention
with float, bool and half masks of the kernel's shapes (2-D, 4-D broadcast over batch or heads,
a query masked whole) and of the math path's (3-D), and MultiheadAttention without weights
(plain, causal, bool, key padding, 3-D per-head masks, cross attention): outputs and gradients.

bfloat16 agrees bit for bit. float16 within an ulp: PyTorch's SLEEF exp and NumPy's float32
exp differ in the last float32 bit on rare elements, which float16's longer mantissa sometimes
keeps when the weights are rounded."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

MASKS = {  # name: (shape, kind)
    "causal": ((12, 12), "causal"),
    "float32_2d": ((12, 12), "float32"),
    "half_4d_batch": ((2, 1, 12, 12), "half"),
    "half_4d_heads": ((1, 2, 1, 12), "half"),
    "bool_4d": ((2, 2, 12, 12), "bool"),
    "dead_row": ((12, 12), "dead"),
    "math_path_3d": ((2, 12, 12), "half"),
}


def _mask(lib, shape, kind, dtype):
    rng = np.random.default_rng(7)
    if kind == "causal":
        return lib.tensor(np.triu(np.full(shape, -np.inf, np.float32), 1)).to(dtype)
    if kind in ("bool", "dead"):
        keep = rng.random(shape) > 0.3
        if kind == "dead":
            keep[4] = False
        return lib.tensor(keep)
    mask = lib.tensor(rng.standard_normal(shape).astype(np.float32))
    return mask if kind == "float32" else mask.to(dtype)


def _sdpa(lib, dtype_name, shape, kind):
    dtype = getattr(lib, dtype_name)
    rng = np.random.default_rng(0)
    tensors = [lib.tensor(rng.standard_normal((2, 2, 12, 16)).astype(np.float32)).to(dtype)
               .requires_grad_() for _ in range(3)]
    out = lib.nn.functional.scaled_dot_product_attention(
        *tensors, attn_mask=_mask(lib, shape, kind, dtype))
    out.backward(lib.ones_like(out))
    return [t.detach().float().numpy() for t in (out, *(t.grad for t in tensors))]


def _assert_match(got, expected, dtype_name):
    for g, e in zip(got, expected):
        if dtype_name == "bfloat16":
            np.testing.assert_array_equal(g, e)
        else:
            np.testing.assert_allclose(g, e, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
@pytest.mark.parametrize("mask", sorted(MASKS))
def test_masked_attention_matches_torch(mask, dtype_name):
    shape, kind = MASKS[mask]
    _assert_match(_sdpa(ember, dtype_name, shape, kind), _sdpa(torch, dtype_name, shape, kind),
                  dtype_name)


def _mha(lib, dtype_name, case):
    dtype = getattr(lib, dtype_name)
    rng = np.random.default_rng(1)
    lib.manual_seed(1)
    mha = lib.nn.MultiheadAttention(16, 2, batch_first=True).to(dtype)
    x = lib.tensor(rng.standard_normal((2, 6, 16)).astype(np.float32)).to(dtype)
    x.requires_grad_()
    other = lib.tensor(rng.standard_normal((2, 6, 16)).astype(np.float32)).to(dtype)
    kv = other if case == "cross" else x
    options = {
        "plain": {}, "cross": {},
        "causal": {"attn_mask": lib.tensor(np.triu(np.full((6, 6), -np.inf, np.float32), 1))
                   .to(dtype)},
        "bool": {"attn_mask": lib.tensor(rng.random((6, 6)) > 0.7)},
        "key_padding": {"key_padding_mask": lib.tensor([[False] * 5 + [True], [False] * 6])},
        "per_head": {"attn_mask": lib.tensor(rng.standard_normal((4, 6, 6)).astype(np.float32))
                     .to(dtype)},
    }[case]
    out = mha(x, kv, kv, need_weights=False, **options)[0]
    out.backward(lib.ones_like(out))
    return [t.detach().float().numpy()
            for t in (out, x.grad, mha.in_proj_weight.grad, mha.out_proj.weight.grad)]


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
@pytest.mark.parametrize("case", ["plain", "cross", "causal", "bool", "key_padding", "per_head"])
def test_multihead_attention_without_weights_matches_torch(case, dtype_name):
    _assert_match(_mha(ember, dtype_name, case), _mha(torch, dtype_name, case), dtype_name)
