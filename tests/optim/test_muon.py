"""ember.optim.Muon against NumPy oracles: the Newton-Schulz iteration, one step by hand, the
learning-rate adjustments, errors, param groups and checkpoints."""
import math

import ml_dtypes
import numpy as np
import pytest

import ember
from ember.optim.muon import newton_schulz

COEFFICIENTS = (3.4445, -4.775, 2.0315)


def _bf16(a):
    return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)


def _ns_float64(u, steps, coefficients=COEFFICIENTS, eps=1e-7):
    """The iteration in float64 (PyTorch runs it in bfloat16)."""
    a, b, c = coefficients
    tall = u.shape[0] > u.shape[1]
    x = u.T if tall else u
    x = x / max(np.linalg.norm(x), eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def _well_conditioned(rng, shape, condition=3.0):
    k = min(shape)
    left, _ = np.linalg.qr(rng.standard_normal((max(shape), k)))
    right, _ = np.linalg.qr(rng.standard_normal((k, k)))
    u = (left * np.linspace(1.0, condition, k)) @ right
    return u if shape[0] >= shape[1] else u.T


@pytest.mark.parametrize("shape", [(16, 16), (32, 12), (12, 32)])
def test_newton_schulz_matches_float64_oracle(shape):
    rng = np.random.default_rng(0)
    u = _well_conditioned(rng, shape)
    out = newton_schulz(u, 5, COEFFICIENTS, 1e-7)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, _bf16(out))  # bfloat16 values
    np.testing.assert_allclose(out, _ns_float64(u, 5), atol=0.02)
    # the quintic pushes every singular value into Muon's band around 1
    singular = np.linalg.svd(out.astype(np.float64), compute_uv=False)
    assert 0.6 < singular.min() and singular.max() < 1.2
    # and the result is near the polar factor U V^T of u
    left, _, right = np.linalg.svd(u, full_matrices=False)
    assert np.abs(out - left @ right).max() < 0.3


def test_newton_schulz_orientation_scale_and_zero():
    rng = np.random.default_rng(1)
    u = rng.standard_normal((9, 5))
    out = newton_schulz(u, 5, COEFFICIENTS, 1e-7)
    np.testing.assert_array_equal(newton_schulz(u.T, 5, COEFFICIENTS, 1e-7), out.T)
    np.testing.assert_array_equal(newton_schulz(u * 4.0, 5, COEFFICIENTS, 1e-7), out)
    np.testing.assert_array_equal(newton_schulz(np.zeros((3, 4)), 5, COEFFICIENTS, 1e-7), 0)
    # no iterations: the bfloat16 U / ||U||
    x = _bf16(u)
    expected = _bf16(x / _bf16(np.sqrt(np.sum(x * x, dtype=np.float32))))
    np.testing.assert_array_equal(newton_schulz(u, 0, COEFFICIENTS, 1e-7), expected)
    # a norm under eps divides by eps
    tiny = u * 1e-12
    np.testing.assert_allclose(newton_schulz(tiny, 0, COEFFICIENTS, 1e-7), tiny / 1e-7,
                               rtol=1e-2)


def _param(array):
    return ember.nn.Parameter(ember.from_numpy(np.array(array, dtype=np.float64)))


@pytest.mark.parametrize("nesterov", [True, False])
def test_one_step_by_hand(nesterov):
    rng = np.random.default_rng(2)
    p0, buf0 = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    g = rng.standard_normal((6, 4))
    lr, wd, momentum = 0.05, 0.1, 0.9
    p = _param(p0)
    opt = ember.optim.Muon([p], lr=lr, weight_decay=wd, momentum=momentum, nesterov=nesterov)
    opt.state[p]["momentum_buffer"] = _param(buf0).detach()
    p.grad = ember.from_numpy(g.copy())
    opt.step()
    buf = momentum * buf0 + (1 - momentum) * g
    u = momentum * buf + (1 - momentum) * g if nesterov else buf
    expected = p0 * (1 - lr * wd) - lr * math.sqrt(6 / 4) * _ns_float64(u, 5)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), buf, rtol=1e-14)
    np.testing.assert_allclose(p.detach().numpy(), expected, atol=0.02 * lr)
    # the same step with the bfloat16 normalisation as the only iteration, exactly
    p = _param(p0)
    opt = ember.optim.Muon([p], lr=lr, weight_decay=wd, momentum=momentum, nesterov=nesterov,
                           ns_steps=0)
    opt.state[p]["momentum_buffer"] = _param(buf0).detach()
    p.grad = ember.from_numpy(g.copy())
    opt.step()
    x = _bf16(u)
    ortho = _bf16(x / _bf16(np.sqrt(np.sum(x * x, dtype=np.float32))))
    expected = p0 * (1 - lr * wd) - lr * math.sqrt(6 / 4) * ortho
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("adjust_lr_fn, shape, factor", [
    (None, (8, 2), 2.0), ("original", (8, 2), 2.0), ("original", (2, 8), 1.0),
    ("match_rms_adamw", (8, 2), 0.2 * math.sqrt(8)),
    ("match_rms_adamw", (2, 8), 0.2 * math.sqrt(8)),
])
def test_adjust_lr(adjust_lr_fn, shape, factor):
    rng = np.random.default_rng(3)
    g = rng.standard_normal(shape)
    p = _param(np.zeros(shape))
    opt = ember.optim.Muon([p], lr=0.5, weight_decay=0, momentum=0, nesterov=False, ns_steps=0,
                           adjust_lr_fn=adjust_lr_fn)
    p.grad = ember.from_numpy(g)
    opt.step()
    ortho = newton_schulz(g, 0, COEFFICIENTS, 1e-7).astype(np.float64)
    np.testing.assert_allclose(p.detach().numpy(), -0.5 * factor * ortho, rtol=1e-15)


def test_weight_decay_is_decoupled_and_an_unknown_adjustment_set_later_is_none():
    p = _param(np.ones((3, 5)))
    opt = ember.optim.Muon([p], lr=0.1, weight_decay=0.5)
    p.grad = ember.zeros(3, 5, dtype=ember.float64)
    opt.step()  # a zero gradient orthogonalises to zero: only the decay acts
    np.testing.assert_array_equal(p.detach().numpy(), np.full((3, 5), 1 - 0.1 * 0.5))
    q = _param(np.zeros((6, 2)))
    opt = ember.optim.Muon([q], lr=1.0, weight_decay=0, momentum=0, nesterov=False,
                           ns_steps=0)
    opt.param_groups[0]["adjust_lr_fn"] = "unknown"
    g = np.arange(12.0).reshape(6, 2)
    q.grad = ember.from_numpy(g)
    opt.step()
    np.testing.assert_array_equal(q.detach().numpy(), -newton_schulz(g, 0, COEFFICIENTS, 1e-7))


def test_constructor_errors():
    p = ember.nn.Parameter(ember.zeros(3, 4))
    cases = [
        (dict(lr=-1), "Learning rate should be >= 0 but is: -1"),
        (dict(weight_decay=-0.5), "weight decay should be >= 0 but is: -0.5"),
        (dict(momentum=-1), "momentum should be >= 0 but is: -1"),
        (dict(adjust_lr_fn="foo"), "Adjust learning rate function foo is not supported"),
        (dict(lr=ember.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as info:
            ember.optim.Muon([p], **kwargs)
        assert str(info.value) == message
    for shape, size in [((3,), "[3]"), ((2, 3, 4), "[2, 3, 4]"), ((), "[]")]:
        with pytest.raises(ValueError) as info:
            ember.optim.Muon([p, ember.nn.Parameter(ember.zeros(*shape))])
        assert str(info.value) == ("Muon only supports 2D parameters whereas we found a "
                                   f"parameter with size: torch.Size({size})")
    with pytest.raises(TypeError):
        ember.optim.Muon([p], maximize=True)


def test_step_errors():
    def step(**kwargs):
        p = ember.nn.Parameter(ember.zeros(3, 4))
        opt = ember.optim.Muon([p], **kwargs)
        p.grad = ember.ones(3, 4)
        opt.step()
    with pytest.raises(ValueError, match="^Number of steps must be less than 100 for "
                                         "computational efficiency$"):
        step(ns_steps=100)
    with pytest.raises(ValueError, match="^Coefficients must be a tuple of exactly 3 values$"):
        step(ns_coefficients=(1.0, 2.0))
    step(ns_steps=99, ns_coefficients=[3.4445, -4.775, 2.0315])  # lists pass, as in PyTorch
    c = ember.nn.Parameter(ember.zeros(3, 4, dtype=ember.complex64))
    opt = ember.optim.Muon([c])
    c.grad = ember.ones(3, 4, dtype=ember.complex64)
    with pytest.raises(RuntimeError, match="^Muon does not support complex parameters$"):
        opt.step()


def _trajectory(opt, params, grads):
    out = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = ember.from_numpy(g.copy())
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out


def test_state_dict_round_trip_and_resume_bit_for_bit():
    rng = np.random.default_rng(4)
    shapes = [(5, 3), (3, 5), (4, 4)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]
    params = [_param(a) for a in init]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.03, "nesterov": False}]
    opt = ember.optim.Muon(groups, lr=0.02)
    whole = _trajectory(opt, params, grads)
    params = [_param(a) for a in init]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.03, "nesterov": False}]
    opt = ember.optim.Muon(groups, lr=0.02)
    _trajectory(opt, params, grads[:3])
    saved = opt.state_dict()
    assert list(saved["state"]) == [0, 1, 2]
    assert all(list(s) == ["momentum_buffer"] for s in saved["state"].values())
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2]]
    assert saved["param_groups"][1]["lr"] == 0.03 and not saved["param_groups"][1]["nesterov"]
    assert set(saved["param_groups"][0]) == {"params", "lr", "weight_decay", "momentum",
                                             "nesterov", "ns_coefficients", "eps", "ns_steps",
                                             "adjust_lr_fn"}
    fresh = [_param(p.detach().numpy()) for p in params]
    resumed = ember.optim.Muon([{"params": fresh[:2]}, {"params": fresh[2:]}], lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[1]["lr"] == 0.03
    rest = _trajectory(resumed, fresh, grads[3:])
    for a, b in zip(whole[3:], rest):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_groups_without_grads_zero_grad_and_hooks():
    a, b = _param(np.ones((2, 3))), _param(np.ones((3, 2)))
    opt = ember.optim.Muon([a, b], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    b.grad = ember.ones(3, 2, dtype=ember.float64)
    assert opt.step(lambda: 7.0) == 7.0
    assert calls == ["pre", "post"]
    assert a not in opt.state and b in opt.state
    np.testing.assert_array_equal(a.detach().numpy(), 1.0)
    opt.zero_grad()
    assert b.grad is None


@pytest.mark.parametrize("dtype", [ember.float32, ember.bfloat16, ember.float16])
def test_dtypes_and_tensor_lr(dtype):
    rng = np.random.default_rng(5)
    p = ember.nn.Parameter(ember.from_numpy(rng.standard_normal((6, 4))).to(dtype))
    opt = ember.optim.Muon([p], lr=ember.tensor(0.02))
    for _ in range(3):
        p.grad = ember.from_numpy(rng.standard_normal((6, 4))).to(dtype)
        opt.step()
    assert p.dtype is dtype and opt.state[p]["momentum_buffer"].dtype is dtype
    assert np.isfinite(p.detach().float().numpy()).all()
