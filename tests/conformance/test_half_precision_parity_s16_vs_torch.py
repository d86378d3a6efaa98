"""bfloat16 and float16 forward results and gradients against PyTorch's CPU kernels: the same
random values in both libraries (from NumPy), a random upstream gradient, and the raw bits
compared.

Bit-exact (both types, shapes (4, 37) and (3, 1000)), where PyTorch computes in float32 and
rounds once or rounds where ember now rounds too: relu, relu6, leaky_relu, elu, selu,
softplus (with beta/threshold), hardtanh, hardswish, hardsigmoid, logsigmoid (its exp(-|x|)
buffer rounded to the type), softsign, tanhshrink, softshrink and hardshrink (lambd rounded
to the type for the band; softshrink's zeros up to sign, which PyTorch's scalar tail makes
-0.0 for negative x), sigmoid, tanh, exp, log, sqrt, reciprocal, softmax and
log_softmax along the last dim (log_softmax keeping the row's sum and its log in the type),
log_softmax along dim 0, softmax along dim 0 where PyTorch's columns are all vectorised,
scaled_dot_product_attention over fewer than 16 keys (the weights rounded before meeting V),
F.linear, F.cross_entropy (log_softmax then nll_loss, whose sum cascades in the type) and
F.mse_loss (norm * (x - t) * grad rounded step by step); celu, silu and mish in bfloat16.

Within 1 ulp, and why:
- gelu (both approximations): PyTorch's vectorised erf and tanh are its own polynomials; where
  1 + erf(x) or 1 + tanh cancels (x < -3) they differ by more in ulps, not in value.
- celu, silu, mish in float16: PyTorch's SLEEF exp and NumPy's float32 exp differ in the last
  float32 bit on rare elements, which float16's longer mantissa sometimes keeps.
- rsqrt: PyTorch's vectorised tail computes an approximate reciprocal square root.
- softmax along a non-last dim for other shapes: PyTorch's scalar tail columns (placed by its
  thread count) round exp to the type before dividing.
- layer_norm, rms_norm, group_norm, batch_norm (training) outputs and input gradients: float32
  sums in another order (a float32 ulp, rarely a half one). layer_norm's weight and bias
  gradients accumulate per thread in the half type (thread-count dependent): compared against
  the gradients' scale.
"""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

DTYPES = ["bfloat16", "float16"]
SHAPES = [(4, 37), (3, 1000)]


def _bits(t) -> np.ndarray:
    t = t.detach()
    return t.view(torch.int16).numpy() if isinstance(t, torch.Tensor) else \
        t.view(ember.int16).numpy()


def _ordered(bits: np.ndarray) -> np.ndarray:
    """Raw half bits as integers whose difference counts ulps (negatives mirrored)."""
    bits = bits.astype(np.int32)
    return np.where(bits < 0, -(bits & 0x7FFF), bits)


def _assert_exact(ours, theirs, what: str, signed_zeros: bool = True) -> None:
    ours, theirs = _bits(ours), _bits(theirs)
    if not signed_zeros:  # -0.0 as 0.0
        ours, theirs = (np.where(b == -32768, 0, b) for b in (ours, theirs))
    np.testing.assert_array_equal(ours, theirs, err_msg=what)


def _assert_one_ulp(ours, theirs, what: str, scale_tolerance: float = 0.0) -> None:
    """At most 1 ulp apart; with ``scale_tolerance`` also values apart by less than that
    fraction of the largest magnitude (cancellation in PyTorch's own approximations)."""
    ulps = np.abs(_ordered(_bits(ours)) - _ordered(_bits(theirs)))
    a, b = ours.detach().float().numpy(), theirs.detach().float().numpy()
    loose = np.abs(a - b) <= scale_tolerance * np.abs(b).max()
    bad = (ulps > 1) & ~loose
    assert not bad.any(), f"{what}: {bad.sum()} over 1 ulp: {a[bad][:4]} vs {b[bad][:4]}"


def _act(name, **kwargs):
    return lambda lib, x: getattr(lib.nn.functional, name)(x, **kwargs)


def _fn(name):
    return lambda lib, x: getattr(lib, name)(x)


# name: (op, positive inputs only)
EXACT_UNARY = {
    "relu": (_act("relu"), False),
    "relu6": (_act("relu6"), False),
    "leaky_relu": (_act("leaky_relu", negative_slope=0.1), False),
    "elu": (_act("elu", alpha=1.3), False),
    "selu": (_act("selu"), False),
    "softplus": (_act("softplus"), False),
    "softplus_beta_threshold": (_act("softplus", beta=2.0, threshold=3.0), False),
    "hardtanh": (_act("hardtanh", min_val=-1.5, max_val=0.75), False),
    "hardswish": (_act("hardswish"), False),
    "hardsigmoid": (_act("hardsigmoid"), False),
    "logsigmoid": (_act("logsigmoid"), False),
    "softsign": (_act("softsign"), False),
    "tanhshrink": (_act("tanhshrink"), False),
    "softshrink": (_act("softshrink", lambd=0.6), False),
    "hardshrink": (_act("hardshrink", lambd=0.6), False),
    "sigmoid": (_fn("sigmoid"), False),
    "tanh": (_fn("tanh"), False),
    "exp": (_fn("exp"), False),
    "log": (_fn("log"), True),
    "sqrt": (_fn("sqrt"), True),
    "reciprocal": (_fn("reciprocal"), True),
    "softmax_last": (lambda lib, x: lib.softmax(x, -1), False),
    "log_softmax_last": (lambda lib, x: lib.log_softmax(x, -1), False),
    "log_softmax_0": (lambda lib, x: lib.log_softmax(x, 0), False),
}

# name: (op, positive inputs only, dtypes held to 1 ulp, scale tolerance)
NEAR_UNARY = {
    "gelu": (_act("gelu"), False, DTYPES, 2 ** -8),
    "gelu_tanh": (_act("gelu", approximate="tanh"), False, DTYPES, 2 ** -8),
    "celu": (_act("celu", alpha=0.7), False, ["float16"], 0.0),
    "silu": (_act("silu"), False, ["float16"], 0.0),
    "mish": (_act("mish"), False, ["float16"], 0.0),
    "rsqrt": (_fn("rsqrt"), True, DTYPES, 2 ** -7),
    "softmax_0": (lambda lib, x: lib.softmax(x, 0), False, DTYPES, 2 ** -7),
}


def _unary_results(op, positive: bool, dtype: str, shape) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32) * 3
    if positive:
        x = np.abs(x) + 0.05
    g = rng.standard_normal(shape).astype(np.float32)
    results = {}
    for lib in (ember, torch):
        t = lib.tensor(x).to(getattr(lib, dtype)).requires_grad_()
        y = op(lib, t)
        y.backward(lib.tensor(g).to(getattr(lib, dtype)))
        results[lib] = (y, t.grad)
    return results


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", EXACT_UNARY)
def test_unary_bit_exact(name, dtype, shape):
    op, positive = EXACT_UNARY[name]
    results = _unary_results(op, positive, dtype, shape)
    for i, what in enumerate(("forward", "input gradient")):
        # PyTorch's scalar tail computes softshrink's band as x * 0: -0.0 for negative x
        _assert_exact(results[ember][i], results[torch][i], f"{name} {what}",
                      signed_zeros=name != "softshrink")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NEAR_UNARY)
def test_unary_within_one_ulp(name, dtype, shape):
    op, positive, near_dtypes, scale_tolerance = NEAR_UNARY[name]
    results = _unary_results(op, positive, dtype, shape)
    for i, what in enumerate(("forward", "input gradient")):
        if dtype in near_dtypes:
            # softmax's gradient inherits the forward's differing ulps, scaled by g
            tolerance = scale_tolerance * (4 if i else 1)
            _assert_one_ulp(results[ember][i], results[torch][i], f"{name} {what}", tolerance)
        else:
            _assert_exact(results[ember][i], results[torch][i], f"{name} {what}")


@pytest.mark.parametrize("shape", [(4, 64), (3, 1024)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_dim0_bit_exact_where_pytorch_vectorises_every_column(dtype, shape):
    """With one thread and a multiple of 64 columns no column takes PyTorch's scalar tail."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = _unary_results(lambda lib, x: lib.softmax(x, 0), False, dtype, shape)
    finally:
        torch.set_num_threads(threads)
    for i, what in enumerate(("forward", "input gradient")):
        _assert_exact(results[ember][i], results[torch][i], f"softmax dim 0 {what}")


def _random(lib, rng, dtype, *shape, scale=1.0, grad=True):
    t = lib.tensor((rng.standard_normal(shape) * scale).astype(np.float32)).to(dtype)
    return t.requires_grad_() if grad else t


def _layer_norm(lib, r, dt, n, m):
    x, w, b = _random(lib, r, dt, n, m), _random(lib, r, dt, m), _random(lib, r, dt, m)
    return lib.nn.functional.layer_norm(x, (m,), w, b), [x, w, b]


def _rms_norm(lib, r, dt, n, m):
    x, w = _random(lib, r, dt, n, m), _random(lib, r, dt, m)
    return lib.nn.functional.rms_norm(x, (m,), w), [x, w]


def _group_norm(lib, r, dt):
    x, w, b = _random(lib, r, dt, 2, 6, 50), _random(lib, r, dt, 6), _random(lib, r, dt, 6)
    return lib.nn.functional.group_norm(x, 3, w, b), [x, w, b]


def _batch_norm(lib, r, dt):
    x, w, b = _random(lib, r, dt, 16, 3, 100), _random(lib, r, dt, 3), _random(lib, r, dt, 3)
    return lib.nn.functional.batch_norm(x, None, None, w, b, training=True), [x, w, b]


def _attention(lib, r, dt):
    q, k, v = (_random(lib, r, dt, *s) for s in ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)))
    return lib.nn.functional.scaled_dot_product_attention(q, k, v), [q, k, v]


def _linear(lib, r, dt, n, m, out):
    x, w, b = _random(lib, r, dt, n, m), _random(lib, r, dt, out, m), _random(lib, r, dt, out)
    return lib.nn.functional.linear(x, w, b), [x, w, b]


def _cross_entropy(lib, r, dt, n, classes):
    x = _random(lib, r, dt, n, classes, scale=3.0)
    target = lib.tensor(r.integers(0, classes, n))
    return lib.nn.functional.cross_entropy(x, target), [x]


def _mse_loss(lib, r, dt, n, m):
    x, t = _random(lib, r, dt, n, m), _random(lib, r, dt, n, m)
    return lib.nn.functional.mse_loss(x, t), [x, t]


# name: (builder, exact outputs (forward first, then each input's gradient), ulp outputs)
MULTI = {
    "layer_norm_small": (lambda lib, r, dt: _layer_norm(lib, r, dt, 4, 37), "", "fxwb"),
    "layer_norm": (lambda lib, r, dt: _layer_norm(lib, r, dt, 3, 1000), "", "fxwb"),
    "rms_norm_small": (lambda lib, r, dt: _rms_norm(lib, r, dt, 4, 37), "fxw", ""),
    "rms_norm": (lambda lib, r, dt: _rms_norm(lib, r, dt, 3, 1000), "xw", "f"),
    "group_norm": (_group_norm, "xwb", "f"),
    "batch_norm": (_batch_norm, "xwb", "f"),
    "scaled_dot_product_attention": (_attention, "fqkv", ""),
    "linear_small": (lambda lib, r, dt: _linear(lib, r, dt, 4, 37, 11), "fxwb", ""),
    "linear": (lambda lib, r, dt: _linear(lib, r, dt, 3, 1000, 20), "fwb", "x"),
    "cross_entropy_small": (lambda lib, r, dt: _cross_entropy(lib, r, dt, 4, 37), "fx", ""),
    "cross_entropy": (lambda lib, r, dt: _cross_entropy(lib, r, dt, 3, 1000), "fx", ""),
    "mse_loss_small": (lambda lib, r, dt: _mse_loss(lib, r, dt, 4, 37), "fxt", ""),
    "mse_loss": (lambda lib, r, dt: _mse_loss(lib, r, dt, 3, 1000), "fxt", ""),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", MULTI)
def test_layers_and_losses(name, dtype):
    build, exact, near = MULTI[name]
    results = {}
    for lib in (ember, torch):
        rng = np.random.default_rng(0)
        out, inputs = build(lib, rng, getattr(lib, dtype))
        out.backward(_random(lib, rng, getattr(lib, dtype), *out.shape, grad=False))
        results[lib] = [out] + [t.grad for t in inputs]
    labels = ["f"] + [c for c in "xwbqkvt" if c in exact + near]
    for label, ours, theirs in zip(labels, results[ember], results[torch]):
        what = f"{name} {'forward' if label == 'f' else label + ' gradient'}"
        if label in exact:
            _assert_exact(ours, theirs, what)
        elif name.startswith("layer_norm") and label in "wb":
            _assert_one_ulp(ours, theirs, what, 2 ** -5)  # summed per thread in the half type
        else:
            _assert_one_ulp(ours, theirs, what)
