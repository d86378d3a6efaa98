"""The gaps of tests/test_diffusers_gaps_s16.py against real PyTorch: ``linear``'s rounding and
graph on contiguous and strided half-precision inputs, its dtype errors, float32 ``exp``
agreeing with PyTorch's element for element (NumPy's own float32 exp misses about 40%), and
convolutions inside CPU autocast."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def _pair(array: np.ndarray):
    return torch.from_numpy(array.copy()), ember.from_numpy(array.copy())


# one ulp of each dtype, relative: the products' sums may run in another order than BLAS's
ULP = {"bfloat16": 2 ** -7, "float16": 2 ** -10, "float32": 2 ** -22}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "4d", "4d-transposed", "1d"])
def test_linear_matches_torch(dtype, layout):
    rng = np.random.default_rng(1)
    shape = {"contiguous": (2, 48, 32), "transposed": (2, 32, 48), "4d": (2, 3, 8, 32),
             "4d-transposed": (2, 3, 32, 8), "1d": (32,)}[layout]
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (shape, (16, 32), (16,)))
    results = []
    (xt, xe), (wt, we), (bt, be) = _pair(x), _pair(w), _pair(b)
    for lib, xx, ww, bb in ((torch, xt, wt, bt), (ember, xe, we, be)):
        half = getattr(lib, dtype)
        xx, ww, bb = xx.to(half), (ww * 0.2).to(half).requires_grad_(), bb.to(half)
        if layout.endswith("transposed"):
            xx = xx.transpose(-1, -2)
        out = lib.nn.functional.linear(xx, ww, bb)
        results.append((out.float().detach().numpy(), type(out.grad_fn).__name__))
    (expected, expected_node), (got, node) = results
    assert node == expected_node  # fused into one addmm or not, as PyTorch decides
    np.testing.assert_allclose(got, expected, rtol=ULP[dtype], atol=1e-6)
    if dtype != "float32":  # a bias added after rounding shifts about a third of the outputs
        assert (got != expected).mean() < 0.01


@pytest.mark.parametrize("input_dtype, bias_dtype, shape", [
    ("long", "float32", (2, 4)), ("int32", "float32", (2, 2, 4)), ("bool", "float32", (4,)),
    ("float64", "float32", (2, 4)), ("float32", "long", (2, 4)), ("float32", "float64", (2, 2, 4)),
])
def test_linear_dtype_errors_match_torch(input_dtype, bias_dtype, shape):
    messages = []
    for lib in (torch, ember):
        x = lib.ones(shape, dtype=getattr(lib, input_dtype))
        bias = lib.ones(3, dtype=getattr(lib, bias_dtype))
        with pytest.raises(RuntimeError) as caught:
            lib.nn.functional.linear(x, lib.ones(3, 4), bias)
        messages.append(str(caught.value))
    assert messages[1] == messages[0]


def test_float32_exp_agrees_with_torch():
    x = (np.random.default_rng(0).standard_normal(200000) * 5).astype(np.float32)
    expected = torch.exp(torch.from_numpy(x)).numpy()
    got = ember.exp(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=2.5e-7)  # one ulp at most
    assert (got != expected).mean() < 0.03  # PyTorch's exp is rounded correctly ~99% of times


def test_sinusoidal_timestep_embedding_matches_torch():
    """diffusers' timestep embedding (exp of a frequency ramp, times 1000 timesteps, sine):
    an ulp of exp becomes a different angle there."""
    outputs = []
    for lib in (torch, ember):
        ramp = -np.log(10000) * lib.arange(0, 16, dtype=lib.float32) / 16
        angles = 1000 * lib.tensor([3.0, 700.0])[:, None] * lib.exp(ramp)[None, :]
        outputs.append(lib.cat([lib.sin(angles), lib.cos(angles)], -1).numpy())
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-6)


def test_autocast_convolutions_match_torch():
    """Inside CPU autocast: conv2d of a bfloat16 activation with float32 weights, and
    conv_transpose2d with a bias, forward and backward."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(np.float32)
              for s in ((2, 4, 8, 8), (6, 4, 3, 3), (4, 6, 3, 3), (6,))]
    results = []
    for lib in (torch, ember):
        x, w, wt, b = (lib.from_numpy(a.copy()).requires_grad_() for a in arrays)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            y = lib.nn.functional.conv2d(x.to(lib.bfloat16), w, b, padding=1)
            z = lib.nn.functional.conv_transpose2d(x, wt, b, stride=2)
        (y.float().pow(2).sum() + z.float().sum()).backward()
        results.append([str(y.dtype), str(z.dtype)] + [t.float().detach().numpy() for t in
                                                       (y, z, x.grad, w.grad, wt.grad, b.grad)])
    assert results[1][:2] == results[0][:2] == ["torch.bfloat16"] * 2
    for got, expected in zip(results[1][2:], results[0][2:]):
        np.testing.assert_allclose(got, expected, rtol=2 ** -7, atol=1e-3)
