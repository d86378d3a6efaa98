"""flex_attention, BlockMask and the causal biases against PyTorch: outputs and log-sum-exps
against torch's eager flex_attention, gradients against the same attention composed of torch
ops (torch's flex_attention has no CPU backward), block lists against torch's create_block_mask,
CausalBias through F.scaled_dot_product_attention, and the errors torch raises."""
import math
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

import torch.nn.attention.bias as tbias  # noqa: E402
import torch.nn.attention.flex_attention as tflex  # noqa: E402

import ember.nn.attention.bias as ebias  # noqa: E402
import ember.nn.attention.flex_attention as eflex  # noqa: E402

LIBS = ((torch, tflex), (ember, eflex))
RNG = np.random.default_rng(0)
DOCS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])


def causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def sliding(b, h, q_idx, kv_idx):
    return (q_idx - kv_idx <= 3) & (q_idx >= kv_idx)


def prefix(b, h, q_idx, kv_idx):
    return kv_idx < 4


def documents(lib):
    docs = lib.tensor(DOCS)
    return lambda b, h, q_idx, kv_idx: docs[q_idx] == docs[kv_idx]


def per_batch(b, h, q_idx, kv_idx):
    return (kv_idx <= q_idx + b) | (h == 1)


MASK_MODS = {
    "causal": lambda lib, flex: causal,
    "sliding": lambda lib, flex: sliding,
    "prefix_lm": lambda lib, flex: flex.or_masks(prefix, causal),
    "document_causal": lambda lib, flex: flex.and_masks(documents(lib), causal),
    "per_batch_head": lambda lib, flex: per_batch,
}


def relative(lib):
    return lambda score, b, h, q_idx, kv_idx: score + (q_idx - kv_idx) * 0.1


def softcap(lib):
    return lambda score, b, h, q_idx, kv_idx: 2.0 * lib.tanh(score / 2.0)


def alibi(lib):
    slopes = lib.tensor([0.5, 0.25, 0.125, 0.0625], dtype=lib.float64)
    return lambda score, b, h, q_idx, kv_idx: score + slopes[h] * (kv_idx - q_idx)


def causal_score(lib):
    return lambda score, b, h, q_idx, kv_idx: lib.where(q_idx >= kv_idx, score, -math.inf)


SCORE_MODS = {"none": None, "relative": relative, "softcap": softcap, "alibi": alibi,
              "causal_score": causal_score}


def arrays(b=2, hq=4, hkv=4, length=10, source=10, e=8, ev=5):
    return (RNG.standard_normal((b, hq, length, e)), RNG.standard_normal((b, hkv, source, e)),
            RNG.standard_normal((b, hkv, source, ev)))


def run_torch_flex(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that eager flex_attention is unfused
        return tflex.flex_attention(*args, **kwargs)


@pytest.mark.parametrize("mask_name", [None, *MASK_MODS])
@pytest.mark.parametrize("score_name", list(SCORE_MODS))
def test_output_and_lse_match_torch(score_name, mask_name):
    q, k, v = arrays(hkv=2)
    results = []
    for lib, flex in LIBS:
        score_mod = SCORE_MODS[score_name] and SCORE_MODS[score_name](lib)
        block_mask = mask_name and flex.create_block_mask(MASK_MODS[mask_name](lib, flex), 2, 4,
                                                         10, 10, device="cpu", BLOCK_SIZE=4)
        call = run_torch_flex if lib is torch else eflex.flex_attention
        out, lse = call(lib.tensor(q), lib.tensor(k), lib.tensor(v), score_mod=score_mod,
                        block_mask=block_mask, enable_gqa=True, return_lse=True)
        results.append((out.numpy(), lse.numpy()))
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_dtypes_and_aux_output(dtype):
    q, k, v = arrays(length=7, source=9)
    results = []
    for lib, flex in LIBS:
        call = run_torch_flex if lib is torch else eflex.flex_attention
        t = [lib.tensor(a, dtype=getattr(lib, dtype)) for a in (q, k, v)]
        out, aux = call(*t, scale=0.2, return_aux=flex.AuxRequest(lse=True))
        assert aux.max_scores is None
        results.append((out, aux.lse))
    (tout, tlse), (eout, else_) = results
    assert str(eout.dtype) == str(tout.dtype) and str(else_.dtype) == str(tlse.dtype)
    tol = 1e-5 if dtype == "float32" else 2e-3
    np.testing.assert_allclose(eout.float().numpy(), tout.float().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(else_.numpy(), tlse.numpy(), rtol=tol, atol=tol)


def torch_reference(q, k, v, table, keep):
    """The attention composed of torch ops: the gradient oracle."""
    k, v = (t.repeat_interleave(q.shape[1] // k.shape[1], 1) for t in (k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + table[None]
    scores = scores.masked_fill(~keep, -math.inf)
    dead = (scores == -math.inf).all(-1, keepdim=True)
    weights = scores.masked_fill(dead, 0).softmax(-1).masked_fill(dead, 0)
    lse = scores.masked_fill(dead, 0).logsumexp(-1).masked_fill(dead[..., 0], -math.inf)
    return weights @ v, lse


@pytest.mark.parametrize("mask_name", ["causal", "document_causal", "per_batch_head"])
def test_gradients_match_torch_composition(mask_name):
    q, k, v = arrays(hkv=2)
    table = RNG.standard_normal((4, 10, 10))
    cot, cot_lse = RNG.standard_normal((2, 4, 10, 5)), RNG.standard_normal((2, 4, 10))
    grads = []
    for lib, flex in LIBS:
        leaves = [lib.tensor(a, requires_grad=True) for a in (q, k, v, table)]
        mask_mod = MASK_MODS[mask_name](lib, flex)
        if lib is torch:
            keep = tflex.create_mask(mask_mod, 2, 4, 10, 10, device="cpu")
            out, lse = torch_reference(*leaves, keep)
        else:
            block_mask = eflex.create_block_mask(mask_mod, 2, 4, 10, 10, BLOCK_SIZE=4)
            out, lse = eflex.flex_attention(
                *leaves[:3], score_mod=lambda s, b, h, i, j, tab=leaves[3]: s + tab[h, i, j],
                block_mask=block_mask, enable_gqa=True, return_lse=True)
        finite = lib.tensor(np.isfinite(lse.detach().numpy()))
        loss = ((out * lib.tensor(cot)).sum()
                + (lse.masked_fill(~finite, 0) * lib.tensor(cot_lse)).sum())
        loss.backward()
        grads.append([t.grad.numpy() for t in leaves])
    for want, got in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


BLOCK_FIELDS = ("kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices",
                "q_num_blocks", "q_indices", "full_q_num_blocks", "full_q_indices")


@pytest.mark.parametrize("mask_name", list(MASK_MODS))
@pytest.mark.parametrize("shape, block", [((2, 4, 10, 10), 4), ((None, None, 10, 10), (2, 4)),
                                          ((1, 4, 7, 10), 3), ((2, None, 10, 10), 128)])
@pytest.mark.parametrize("separate_full_blocks", [True, False])
def test_block_mask_matches_torch(mask_name, shape, block, separate_full_blocks):
    masks = []
    for lib, flex in LIBS:
        masks.append(flex.create_block_mask(MASK_MODS[mask_name](lib, flex), *shape,
                                            device="cpu", BLOCK_SIZE=block,
                                            separate_full_blocks=separate_full_blocks))
    want, got = masks
    assert got.shape == want.shape and got.BLOCK_SIZE == want.BLOCK_SIZE
    assert got.seq_lengths == want.seq_lengths and got.numel() == want.numel()
    assert got.sparsity() == pytest.approx(want.sparsity())
    for name in BLOCK_FIELDS:
        w, g = getattr(want, name), getattr(got, name)
        assert (w is None) == (g is None), name
        if w is not None:
            assert str(g.dtype) == str(w.dtype), name
            np.testing.assert_array_equal(g.numpy(), w.numpy(), err_msg=name)
    np.testing.assert_array_equal(got.to_dense().numpy(), want.to_dense().numpy())
    assert str(got.to_dense().dtype) == str(want.to_dense().dtype)
    for index in (0, (slice(None), 0), -1):
        assert got[index].shape == want[index].shape
        np.testing.assert_array_equal(got[index].to_dense().numpy(),
                                      want[index].to_dense().numpy())


@pytest.mark.parametrize("mask_name", ["causal", "document_causal"])
@pytest.mark.parametrize("size", [(2, 3, 4, 10), (1, 1, 10, 7)])
def test_create_mask_matches_torch(mask_name, size):
    got, want = (flex.create_mask(MASK_MODS[mask_name](lib, flex), *size, device="cpu")
                 for lib, flex in (LIBS[1], LIBS[0]))
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_create_mask_of_score_mod_matches_torch():
    got, want = (flex.create_mask(causal_score(lib), 1, 1, 5, 6, device="cpu")
                 for lib, flex in (LIBS[1], LIBS[0]))
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_from_kv_blocks_matches_torch():
    masks = []
    for lib, flex in LIBS:
        num = lib.tensor([[[1, 2, 0]]], dtype=lib.int32)
        idx = lib.tensor([[[[2, 0, 1], [1, 0, 2], [0, 1, 2]]]], dtype=lib.int32)
        full_num = lib.tensor([[[0, 1, 1]]], dtype=lib.int32)
        full_idx = lib.tensor([[[[0, 1, 2], [2, 0, 1], [1, 0, 2]]]], dtype=lib.int32)
        masks.append(flex.BlockMask.from_kv_blocks(num, idx, full_num, full_idx, BLOCK_SIZE=8))
    want, got = masks
    assert got.shape == want.shape and got.sparsity() == pytest.approx(want.sparsity())
    for name in BLOCK_FIELDS:
        np.testing.assert_array_equal(getattr(got, name).numpy(), getattr(want, name).numpy())
    np.testing.assert_array_equal(got.to_dense().numpy(), want.to_dense().numpy())


def test_mask_combinators_and_noop_match_torch():
    args = [np.arange(2).reshape(2, 1, 1, 1), np.arange(2).reshape(1, 2, 1, 1),
            np.arange(5).reshape(1, 1, 5, 1), np.arange(6).reshape(1, 1, 1, 6)]
    for combine in ("and_masks", "or_masks"):
        got, want = (getattr(flex, combine)(causal, prefix, per_batch)(
            *[lib.tensor(a, dtype=lib.int32) for a in args]) for lib, flex in (LIBS[1], LIBS[0]))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    got, want = (flex.noop_mask(*[lib.tensor(0)] * 4) for lib, flex in (LIBS[1], LIBS[0]))
    assert got.item() is want.item() is True


@pytest.mark.parametrize("variant", ["causal_upper_left", "causal_lower_right"])
@pytest.mark.parametrize("length, source", [(6, 4), (4, 6), (5, 5)])
def test_causal_bias_in_sdpa_matches_torch(variant, length, source):
    q, k, v = arrays(b=2, hq=2, hkv=2, length=length, source=source)
    cot = RNG.standard_normal((2, 2, length, 5))
    results = []
    for lib, bias in ((torch, tbias), (ember, ebias)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lower right with L > S warns of NaNs
            mask = getattr(bias, variant)(length, source)
        assert mask.variant == getattr(bias.CausalVariant, variant.split("_", 1)[1].upper())
        leaves = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = lib.nn.functional.scaled_dot_product_attention(*leaves, attn_mask=mask, scale=0.3)
        (out * lib.tensor(cot)).sum().backward()
        results.append([out.detach().numpy(), mask._materialize().numpy(),
                        *(t.grad.numpy() for t in leaves)])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_causal_bias_warnings_and_errors_match_torch():
    for bias in (tbias, ebias):
        with pytest.warns(UserWarning, match="NaNs"):
            bias.causal_lower_right(5, 3)
        with pytest.raises(AssertionError):
            bias.causal_upper_left(3)
    q = arrays(b=1, hq=1, hkv=1, length=3, source=3)[0]
    for lib, bias in ((torch, tbias), (ember, ebias)):
        with pytest.raises(ValueError, match="causal=True"):
            t = lib.tensor(q)
            lib.nn.functional.scaled_dot_product_attention(
                t, t, t, attn_mask=bias.causal_upper_left(3, 3), is_causal=True)


ERROR_CASES = {
    "heads_without_gqa": (dict(hq=4, hkv=2), {}, ValueError),
    "heads_not_multiple": (dict(hq=4, hkv=3), dict(enable_gqa=True), ValueError),
    "embedding_mismatch": ("embedding", {}, ValueError),
    "batch_mismatch": ("batch", {}, ValueError),
    "not_4d": ("3d", {}, NotImplementedError),
    "block_mask_longer": ("mask8", {}, ValueError),
    "lse_and_aux": ({}, "both", ValueError),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_match_torch(case):
    sizes, kwargs, error = ERROR_CASES[case]
    q, k, v = arrays(**sizes) if isinstance(sizes, dict) else arrays()
    if sizes == "embedding":
        k = k[..., :4]
    elif sizes == "batch":
        k, v = k[:1], v[:1]
    elif sizes == "3d":
        q, k, v = q[0], k[0], v[0]
    for lib, flex in LIBS:
        extra = dict(kwargs) if isinstance(kwargs, dict) else dict(
            return_lse=True, return_aux=flex.AuxRequest(lse=True))
        if sizes == "mask8":
            extra["block_mask"] = flex.create_block_mask(causal, 1, 1, 8, 8, device="cpu")
        call = run_torch_flex if lib is torch else eflex.flex_attention
        with pytest.raises(error):
            call(lib.tensor(q), lib.tensor(k), lib.tensor(v), **extra)


def test_sliced_block_mask_mod_raises_like_torch():
    for lib, flex in LIBS:
        sliced = flex.create_block_mask(causal, 2, 1, 8, 8, device="cpu")[1]
        with pytest.raises(RuntimeError, match="sliced BlockMask"):
            sliced.mask_mod(*[lib.tensor(0)] * 4)


@pytest.mark.parametrize("variant", ["causal_upper_left", "causal_lower_right"])
def test_causal_bias_is_a_bool_tensor_like_torch(variant):
    """A Tensor subclass that prints as its dense mask, in both. (PyTorch's is built through
    the legacy constructor, so its own shape is (variant, L, S) with unset values; ember's is
    the (L, S) mask itself.)"""
    biases = [getattr(lib.nn.attention.bias, variant)(2, 5) for lib in (torch, ember)]
    assert issubclass(type(biases[1]), ember.Tensor)
    assert issubclass(type(biases[0]), torch.Tensor)
    assert repr(biases[1]) == repr(biases[0])
    assert tuple(biases[1].shape) == (2, 5)
