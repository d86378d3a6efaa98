"""Session 6's CUDA kernels against NumPy and the CPU path: attention's softmax kernels, the
bias-gradient sums through cuBLAS, the fused LSTM cell, and bfloat16 results that CuPy would
widen to float32."""
import ml_dtypes
import numpy as np
import pytest

import ember

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]

BF16 = np.dtype(ml_dtypes.bfloat16)
TOL = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 2e-3, BF16: 2e-2}


def _softmax_reference(scores, scale, noise):
    s = scores.astype(np.float64) * scale
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return p, p * (1.0 if noise is None else noise.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, BF16])
@pytest.mark.parametrize("with_noise", [False, True])
def test_attention_softmax_kernels_match_numpy(dtype, with_noise):
    import cupy

    from ember.backend import cuda_rows
    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((2, 3, 5, 37)) * 4).astype(dtype)
    noise = ((rng.random(scores.shape) > 0.3) / 0.7).astype(dtype) if with_noise else None
    probs, weights = cuda_rows.softmax_forward(
        cupy.asarray(scores), 0.125, None if noise is None else cupy.asarray(noise))
    want_p, want_w = _softmax_reference(scores, 0.125, noise)
    assert probs.dtype == (np.float64 if dtype == np.float64 else np.float32)
    assert weights.dtype == dtype
    np.testing.assert_allclose(probs.get(), want_p, rtol=TOL[dtype] * 10, atol=1e-7)
    np.testing.assert_allclose(weights.get().astype(np.float64), want_w, rtol=TOL[dtype],
                               atol=TOL[dtype] * 1e-2)
    grad = rng.standard_normal(scores.shape).astype(dtype)
    got = cuda_rows.softmax_backward(cupy.asarray(grad), probs, 0.125,
                                        None if noise is None else cupy.asarray(noise))
    p = probs.get().astype(np.float64)
    d = grad.astype(np.float64) * (1.0 if noise is None else noise.astype(np.float64))
    want = p * (d - (d * p).sum(-1, keepdims=True)) * 0.125
    assert got.dtype == dtype
    np.testing.assert_allclose(got.get().astype(np.float64), want, rtol=TOL[dtype] * 10,
                               atol=TOL[dtype] * 0.1)


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32, ember.bfloat16])
def test_self_attention_on_cuda_matches_cpu(dtype):
    ember.manual_seed(0)
    layer = ember.nn.MultiheadAttention(16, 4, dtype=ember.float64)
    x = ember.randn(7, 3, 16, dtype=ember.float64)
    results = {}
    for device in ("cpu", "cuda"):
        model = layer.to(device=device, dtype=dtype)
        xd = x.to(device=device, dtype=dtype).detach().requires_grad_()
        out, _ = model(xd, xd, xd, need_weights=False)
        out.float().square().sum().backward()
        results[device] = [t.detach().float().cpu().numpy() for t in
                           (out, xd.grad, model.in_proj_weight.grad, model.in_proj_bias.grad)]
        model.zero_grad()
    rtol = {ember.float64: 1e-10, ember.float32: 1e-4, ember.bfloat16: 5e-2}[dtype]
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_packed_attention_dropout_noise_on_cuda_matches_cpu():
    from ember.ops.attention import packed_self_attention
    rng = np.random.default_rng(1)
    qkv = rng.standard_normal((6, 2, 24))
    noise = (rng.random((2, 2, 6, 6)) > 0.25) / 0.75
    grads = {}
    for device in ("cpu", "cuda"):
        x = ember.tensor(qkv, device=device, requires_grad=True)
        out = packed_self_attention(x, 2, None, ember.tensor(noise, device=device)._data)
        (out * out).sum().backward()
        grads[device] = (out.detach().cpu().numpy(), x.grad.cpu().numpy())
    for got, want in zip(grads["cuda"], grads["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32, ember.bfloat16])
def test_bias_gradient_sums_through_cublas(dtype):
    rng = np.random.default_rng(2)
    values = rng.standard_normal((4, 33, 10))
    x = ember.tensor(values, device="cuda", dtype=dtype)
    rtol = 1e-2 if dtype is ember.bfloat16 else 1e-6
    for dims, keepdim in [((0,), False), ((0, 1), False), ((0, 1), True), ((1,), False)]:
        got = x.sum(dims, keepdim=keepdim)
        assert got.dtype is dtype
        want = x.cpu().double().numpy().sum(dims, keepdims=keepdim)
        np.testing.assert_allclose(got.double().cpu().numpy(), want, rtol=rtol, atol=rtol)
    linear = ember.nn.Linear(10, 6).to(device="cuda", dtype=dtype)
    linear(x).sum().backward()
    np.testing.assert_allclose(linear.bias.grad.float().cpu().numpy(), np.full(6, 4 * 33.0),
                               rtol=rtol)


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layer_norm_row_kernels_match_cpu(dtype, affine):
    ember.manual_seed(5)
    x = ember.randn(4, 3, 2, 10, dtype=dtype) * 3 + 1
    weight = ember.randn(2, 10, dtype=dtype) if affine[0] else None
    bias = ember.randn(2, 10, dtype=dtype) if affine[1] else None
    results = {}
    for device in ("cpu", "cuda"):
        leaves = [t.to(device).detach().requires_grad_() for t in (x, weight, bias)
                  if t is not None]
        w = leaves[1] if weight is not None else None
        b = leaves[2] if bias is not None else None
        out = ember.nn.functional.layer_norm(leaves[0], (2, 10), w, b)
        (out * out.detach().cos()).sum().backward()
        results[device] = [out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in leaves]
    rtol = 1e-10 if dtype is ember.float64 else 1e-4
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    x2 = ember.randn(3, 10, dtype=dtype, device="cuda", requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda t: ember.nn.functional.layer_norm(t, (10,)), (x2,)) if dtype is ember.float64 \
        else True


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_lstm_cells_match_cpu(dtype, bidirectional):
    ember.manual_seed(3)
    lstm = ember.nn.LSTM(5, 7, num_layers=2, bidirectional=bidirectional, dtype=dtype)
    x = ember.randn(6, 3, 5, dtype=dtype)
    h0 = ember.randn(2 * (1 + bidirectional), 3, 7, dtype=dtype)
    c0 = ember.randn(2 * (1 + bidirectional), 3, 7, dtype=dtype)
    results = {}
    for device in ("cpu", "cuda"):
        model = lstm.to(device)
        xd = x.to(device).detach().requires_grad_()
        out, (h, c) = model(xd, (h0.to(device), c0.to(device)))
        (out.square().sum() + h.sum() + (c * c).sum()).backward()
        results[device] = [t.detach().cpu().numpy() for t in (out, h, c, xd.grad)] + \
            [p.grad.cpu().numpy() for p in model.parameters()]
        model.zero_grad()
    rtol = 1e-10 if dtype is ember.float64 else 1e-4
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("op", ["where", "masked_fill", "tril", "round", "fmax", "nansum",
                                "xlogy", "logaddexp"])
def test_bfloat16_results_stay_bfloat16(op):
    rng = np.random.default_rng(4)
    a = ember.tensor(rng.standard_normal((3, 4)) * 3, dtype=ember.bfloat16)
    b = ember.tensor(rng.random((3, 4)) + 0.5, dtype=ember.bfloat16)
    calls = {"where": lambda a, b: ember.where(a > 0, a, b),
             "masked_fill": lambda a, b: a.masked_fill(a > 0, 1.5),
             "tril": lambda a, b: a.tril(),
             "round": lambda a, b: a.round(),
             "fmax": lambda a, b: ember.fmax(a, b),
             "nansum": lambda a, b: ember.nansum(a, 0),
             "xlogy": lambda a, b: ember.xlogy(a, b),
             "logaddexp": lambda a, b: ember.logaddexp(a, b)}
    want = calls[op](a, b)
    got = calls[op](a.cuda(), b.cuda())
    assert got.dtype is ember.bfloat16
    np.testing.assert_allclose(got.float().cpu().numpy(), want.float().numpy(), rtol=2e-2,
                               atol=2e-2)


def _splitmix_draws(words, count):
    """The dropout kernel's draws, in NumPy: splitmix64's output function of the seed and
    each index, high 32 bits."""
    seed = np.uint64((int(words[0]) << 32) | int(words[1]))
    with np.errstate(over="ignore"):
        z = seed + (np.arange(count, dtype=np.uint64) + np.uint64(1)) * \
            np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return ((z ^ (z >> np.uint64(31))) >> np.uint64(32)).astype(np.uint32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, BF16])
def test_dropout_kernel_draws_match_the_hash(dtype):
    import cupy

    from ember.backend import cuda_rows
    words = np.array([0x12345678, 0x9ABCDEF0], np.uint32)
    threshold = np.uint32(round(0.3 * 2 ** 32))
    scale = np.dtype(dtype).type(1 / 0.7)
    shape = (7, 1000)
    noise = cuda_rows.dropout(None, threshold, scale, cupy.asarray(words), shape,
                              np.dtype(dtype)).get()
    keep = (_splitmix_draws(words, 7000) >= threshold).reshape(shape)
    np.testing.assert_array_equal(noise, np.where(keep, scale, 0).astype(dtype))
    assert abs(keep.mean() - 0.7) < 0.02
    x = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    got = cuda_rows.dropout(cupy.asarray(x), threshold, scale, cupy.asarray(words)).get()
    np.testing.assert_array_equal(got, (x * np.where(keep, scale, 0).astype(dtype)))


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32, ember.float16,
                                   ember.bfloat16])
def test_dropout_on_cuda_keeps_its_mask_for_backward(dtype):
    ember.manual_seed(7)
    x = (ember.rand(64, 50, device="cuda", dtype=ember.float64) + 0.5).to(dtype)
    x = x.t().requires_grad_()  # non-contiguous
    y = ember.nn.functional.dropout(x, 0.25)
    kept = (y != 0).to(dtype)
    scale = ember.tensor(1 / 0.75, dtype=dtype).item()
    np.testing.assert_allclose(y.detach().float().cpu().numpy(),
                               (x.detach() * kept * scale).float().cpu().numpy(), rtol=1e-2)
    assert abs(kept.float().mean().item() - 0.75) < 0.03
    (grad,) = ember.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(grad.detach().float().cpu().numpy(),
                               (kept * scale).float().cpu().numpy(), rtol=1e-2)
    ember.manual_seed(7)
    x2 = (ember.rand(64, 50, device="cuda", dtype=ember.float64) + 0.5).to(dtype).t()
    again = ember.nn.functional.dropout(x2, 0.25)
    np.testing.assert_array_equal(again.float().cpu().numpy(), y.detach().float().cpu().numpy())


def test_transformer_layer_with_dropout_trains_on_cuda():
    ember.manual_seed(8)
    layer = ember.nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.1,
                                             batch_first=True).cuda()
    opt = ember.optim.Adam(layer.parameters(), lr=1e-3)
    x = ember.randn(4, 10, 32, device="cuda")
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = (layer(x) - x).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < losses[0] * 0.8


def test_out_of_range_target_raises_at_the_next_synchronisation():
    logits = ember.randn(4, 3, device="cuda")
    with pytest.raises(IndexError, match=r"Target out of bounds.*\[0, 3\)"):
        loss = ember.nn.functional.cross_entropy(logits,
                                                 ember.tensor([0, 1, 5, 2], device="cuda"))
        loss.item()
    good = ember.nn.functional.cross_entropy(logits, ember.tensor([0, 1, 2, 2], device="cuda"))
    assert np.isfinite(good.item())  # the failed check was raised once and forgotten
    with pytest.raises(IndexError):
        ember.nn.functional.nll_loss(logits, ember.tensor([-1, 0, 0, 0], device="cuda"))
        ember.cuda.synchronize()
    with pytest.raises(IndexError):
        ember.nn.functional.nll_loss(logits, ember.tensor([3, 0, 0, 0], device="cuda"))
        logits.cpu()
    ignored = ember.nn.functional.cross_entropy(
        logits, ember.tensor([-100, 0, 1, 2], device="cuda"))
    assert np.isfinite(ignored.item())
