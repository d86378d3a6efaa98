"""AdaptiveMaxPool3d, LPPool3d, FractionalMaxPool2d/3d and LinearCrossEntropyLoss against torch:
values, indices (given the same ``_random_samples``), gradients, module reprs and errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

TF = torch.nn.functional


def _pair(x, requires_grad=True):
    return (ember.tensor(x, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def _check(e_out, t_out, e_in, t_in, exact=True):
    e_val, t_val = e_out.detach().numpy(), t_out.detach().numpy()
    if exact:
        np.testing.assert_array_equal(e_val, t_val)
    else:
        np.testing.assert_allclose(e_val, t_val, rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(t_val.shape).astype(t_val.dtype)
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(e_in.grad.numpy(), t_in.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["normal", "ties", "nan"])
@pytest.mark.parametrize("size", [(3, 4, 2), 2, (5, None, 3), (1, 1, 1)])
def test_adaptive_max_pool3d(kind, size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6, 5)).astype(np.float32)
    if kind == "ties":
        x = rng.integers(0, 3, x.shape).astype(np.float32)
    elif kind == "nan":
        x.flat[rng.choice(x.size, x.size // 9, replace=False)] = np.nan
    e_in, t_in = _pair(x)
    e_out, e_idx = EF.adaptive_max_pool3d(e_in, size, return_indices=True)
    t_out, t_idx = TF.adaptive_max_pool3d(t_in, size, return_indices=True)
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
    _check(e_out, t_out, e_in, t_in)


@pytest.mark.parametrize("p, kernel, stride, ceil", [(2, 2, None, False), (3, (2, 3, 2), 1, False),
                                                     (1.5, 3, 2, True), (4, 2, (1, 2, 1), True)])
def test_lp_pool3d(p, kernel, stride, ceil):
    x = np.random.default_rng(2).uniform(-1, 2, (2, 2, 6, 7, 5)).astype(np.float32)
    e_in, t_in = _pair(x)
    _check(EF.lp_pool3d(e_in, p, kernel, stride, ceil), TF.lp_pool3d(t_in, p, kernel, stride, ceil),
           e_in, t_in, exact=False)
    e_mod, t_mod = enn.LPPool3d(p, kernel, stride, ceil), torch.nn.LPPool3d(p, kernel, stride, ceil)
    assert repr(e_mod) == repr(t_mod)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd, kernel, kw", [
    (2, 3, {"output_size": (5, 4)}), (2, (2, 3), {"output_size": 6}),
    (2, 2, {"output_ratio": (0.5, 0.5)}), (2, (3, 1), {"output_ratio": (0.6, 0.3)}),
    (2, 2, {"output_size": (1, 10)}), (3, 2, {"output_size": (3, 4, 5)}),
    (3, (1, 2, 3), {"output_ratio": 0.5}), (3, 3, {"output_size": 1})])
def test_fractional_max_pool_same_samples(dtype, nd, kernel, kw):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2) + (13, 11, 9)[:nd]).astype(dtype)
    x[0, 0] = np.round(x[0, 0])  # ties
    u = rng.uniform(0, 1, (3, 2, nd)).astype(dtype)
    e_in, t_in = _pair(x)
    name = f"fractional_max_pool{nd}d"
    e_out, e_idx = getattr(EF, name)(e_in, kernel, return_indices=True,
                                     _random_samples=ember.tensor(u), **kw)
    t_out, t_idx = getattr(TF, name)(t_in, kernel, return_indices=True,
                                     _random_samples=torch.tensor(u), **kw)
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
    _check(e_out, t_out, e_in, t_in)


@pytest.mark.parametrize("nd", [2, 3])
def test_fractional_max_pool_many_sizes(nd):
    rng = np.random.default_rng(4)
    name = f"fractional_max_pool{nd}d_with_indices"
    for _ in range(25):
        sp = tuple(int(v) for v in rng.integers(4, 14, nd))
        kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
        outs = tuple(int(rng.integers(1, n - k + 4 - nd)) for n, k in zip(sp, kernel))
        x = rng.standard_normal((2, 2) + sp).astype(np.float32)
        u = rng.uniform(0, 1, (2, 2, nd)).astype(np.float32)
        e_out, e_idx = getattr(EF, name)(ember.tensor(x), kernel, outs,
                                         _random_samples=ember.tensor(u))
        t_out, t_idx = getattr(TF, name)(torch.tensor(x), kernel, outs,
                                         _random_samples=torch.tensor(u))
        np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
        np.testing.assert_array_equal(e_out.numpy(), t_out.numpy())


def test_fractional_max_pool_modules_match():
    u = np.random.default_rng(5).uniform(0, 1, (2, 3, 2)).astype(np.float32)
    x = np.random.default_rng(6).standard_normal((2, 3, 12, 10)).astype(np.float32)
    e_mod = enn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5), return_indices=True,
                                    _random_samples=ember.tensor(u))
    t_mod = torch.nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5), return_indices=True,
                                         _random_samples=torch.tensor(u))
    assert repr(e_mod) == repr(t_mod)
    assert (e_mod.kernel_size, e_mod.output_size, e_mod.output_ratio) == \
        (t_mod.kernel_size, t_mod.output_size, t_mod.output_ratio)
    for e, t in zip(e_mod(ember.tensor(x)), t_mod(torch.tensor(x))):
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    e3 = enn.FractionalMaxPool3d(2, output_size=3)
    t3 = torch.nn.FractionalMaxPool3d(2, output_size=3)
    assert repr(e3) == repr(t3) and e3.output_size == t3.output_size


def test_module_reprs():
    for args in [((2, None, 3),), (4,)]:
        assert repr(enn.AdaptiveMaxPool3d(*args)) == repr(torch.nn.AdaptiveMaxPool3d(*args))
    assert repr(enn.LPPool3d(2, 3, stride=2)) == repr(torch.nn.LPPool3d(2, 3, stride=2))
    kw = {"out_features": (4, 3), "bias": True, "ignore_index": 2, "label_smoothing": 0.1}
    assert repr(enn.LinearCrossEntropyLoss(5, 10, **kw)) == \
        repr(torch.nn.LinearCrossEntropyLoss(5, 10, **kw))
    assert repr(enn.LinearCrossEntropyLoss(5, 10)) == repr(torch.nn.LinearCrossEntropyLoss(5, 10))


def _error(fn_e, fn_t):
    with pytest.raises(Exception) as t_err:
        fn_t()
    with pytest.raises(type(t_err.value)) as e_err:
        fn_e()
    return str(e_err.value), str(t_err.value)


@pytest.mark.parametrize("call", [
    lambda F, m: F.fractional_max_pool2d(m.randn(1, 1, 5, 5), 3, output_size=4),
    lambda F, m: F.fractional_max_pool2d(m.randn(1, 1, 5, 5), (2, 3), output_size=(2, 4)),
    lambda F, m: F.fractional_max_pool3d(m.randn(1, 1, 5, 5, 5), 2, output_size=4),
    lambda F, m: F.fractional_max_pool3d(m.randn(1, 1, 6, 5, 6), 2, output_size=(3, 4, 3)),
    lambda F, m: F.fractional_max_pool2d(m.randn(1, 1, 5, 5), 2),
    lambda F, m: F.adaptive_max_pool3d(m.randn(5, 5), 2),
])
def test_errors_for_bad_sizes(call):
    e_msg, t_msg = _error(lambda: call(EF, ember), lambda: call(TF, torch))
    if "too large" in t_msg or "requires specifying" in t_msg:
        assert e_msg == t_msg


@pytest.mark.parametrize("kwargs", [{"output_ratio": 1.5}, {}, {"output_size": 2,
                                                                "output_ratio": 0.5}])
def test_module_errors(kwargs):
    e_msg, t_msg = _error(lambda: enn.FractionalMaxPool2d(2, **kwargs),
                          lambda: torch.nn.FractionalMaxPool2d(2, **kwargs))
    assert e_msg == t_msg


@pytest.mark.parametrize("dims, bias, target_kind, kw", [
    ((), False, "index", {}), ((4, 3), True, "index", {"reduction": "sum"}),
    ((4, 3), False, "prob", {"label_smoothing": 0.2}), ((), True, "index", {"ignore_index": 1}),
    ((2,), True, "index", {"weighted": True, "reduction": "none"})])
def test_linear_cross_entropy(dims, bias, target_kind, kw):
    torch.manual_seed(283)
    kw = dict(kw)
    weight = torch.rand(10) if kw.pop("weighted", False) else None
    t_mod = torch.nn.LinearCrossEntropyLoss(5, 10, out_features=dims, bias=bias, weight=weight,
                                            **kw)
    e_mod = enn.LinearCrossEntropyLoss(5, 10, out_features=dims, bias=bias,
                                       weight=None if weight is None else
                                       ember.tensor(weight.numpy()), **kw)
    e_mod.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_mod.state_dict().items()})
    x = torch.randn(6, 5).numpy()
    if target_kind == "index":
        target = torch.randint(0, 10, (6,) + dims).numpy()
    else:
        target = torch.randn((6, 10) + dims).softmax(1).numpy()
    e_in, t_in = _pair(x)
    e_out, t_out = e_mod(e_in, ember.tensor(target)), t_mod(t_in, torch.tensor(target))
    _check(e_out, t_out, e_in, t_in, exact=False)
    for name, t_param in t_mod.named_parameters():
        np.testing.assert_allclose(e_mod.get_parameter(name).grad.numpy(), t_param.grad.numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_linear_cross_entropy_functional_unbatched():
    x = np.random.default_rng(7).standard_normal(5).astype(np.float32)
    w = np.random.default_rng(8).standard_normal((7, 5)).astype(np.float32)
    e = EF.linear_cross_entropy(ember.tensor(x), ember.tensor(w), ember.tensor(3))
    t = TF.linear_cross_entropy(torch.tensor(x), torch.tensor(w), torch.tensor(3))
    np.testing.assert_allclose(e.item(), t.item(), rtol=1e-6)
    e_msg, t_msg = _error(
        lambda: EF.linear_cross_entropy(ember.tensor(x), ember.randn(7, 2, 5), ember.tensor([0])),
        lambda: TF.linear_cross_entropy(torch.tensor(x), torch.randn(7, 2, 5), torch.tensor([0])))
    assert e_msg == t_msg
