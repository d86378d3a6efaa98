"""scaled_dot_product_attention on the CPU as one node (HostAttention) against PyTorch: values
and gradients for no mask, causal, bool and float masks, masked-out rows, 2-D to 4-D inputs
and three dtypes; double backward, also where key and value are the query or computed from
it."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

TOL = {"float64": 1e-10, "float32": 1e-5, "bfloat16": 3e-2}
CASES = {  # name: (query shape, key length, mask shape and kind, causal)
    "plain": ((2, 3, 5, 4), 7, None, False),
    "causal": ((2, 3, 5, 4), 5, None, True),
    "bool": ((2, 3, 5, 4), 7, ((5, 7), "bool"), False),
    "padding": ((2, 3, 5, 4), 7, ((2, 1, 1, 7), "bool"), False),
    "float": ((2, 3, 5, 4), 7, ((3, 5, 7), "float"), False),
    "dead_row": ((2, 3, 5, 4), 7, ((5, 7), "dead"), False),
    "2d": ((5, 4), 7, ((5, 7), "float"), False),
    "3d_causal": ((4, 5, 4), 5, None, True),
}


def _attend(lib, arrays, mask, causal, dtype):
    dt = getattr(lib, dtype)
    q, k, v = (lib.tensor(a, dtype=dt, requires_grad=True) for a in arrays)
    m = None if mask is None else lib.tensor(mask, dtype=lib.bool if mask.dtype == bool else dt)
    out = lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)
    out.backward(lib.ones_like(out))
    return [t.detach().float().numpy() for t in (out, q.grad, k.grad, v.grad)]


@pytest.mark.parametrize("dtype", sorted(TOL))
@pytest.mark.parametrize("case", sorted(CASES))
def test_values_and_gradients(case, dtype):
    shape, source, mask_spec, causal = CASES[case]
    rng = np.random.default_rng(len(case))
    arrays = (rng.standard_normal(shape), rng.standard_normal(shape[:-2] + (source, shape[-1])),
              rng.standard_normal(shape[:-2] + (source, 6)))
    mask = None
    if mask_spec is not None:
        mshape, kind = mask_spec
        mask = rng.standard_normal(mshape) if kind == "float" else rng.random(mshape) > 0.3
        if kind == "dead":
            mask[1] = False  # query 1 sees no key: zeros out, zero gradients
    want, got = (_attend(lib, arrays, mask, causal, dtype) for lib in (torch, ember))
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, atol=TOL[dtype], rtol=TOL[dtype])


@pytest.mark.parametrize("inputs", ["same", "computed"])
@pytest.mark.parametrize("causal", [False, True])
def test_double_backward(inputs, causal):
    data = np.random.default_rng(0).standard_normal((2, 3, 4))
    results = []
    for lib in (torch, ember):
        q = lib.tensor(data, requires_grad=True)
        k, v = (q, q) if inputs == "same" else (q * 2, q * 3)
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        (g,) = lib.autograd.grad(out.sum(), q, create_graph=True)
        (gg,) = lib.autograd.grad(g.pow(2).sum(), q)
        results.append((g.detach().numpy(), gg.numpy()))
    for w, g in zip(*results):
        np.testing.assert_allclose(g, w, atol=1e-10, rtol=1e-10)
