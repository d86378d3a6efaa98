"""ember.func's jvp, linearize, pytree vmap, stack_module_state and friends, against NumPy
and finite differences."""
import numpy as np
import pytest

import ember
from ember.func import (
    functional_call,
    functionalize,
    grad,
    jvp,
    linearize,
    replace_all_batch_norm_modules_,
    stack_module_state,
    vmap,
)


def _numeric_jvp(f, x, v, eps=1e-6):
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


def test_jvp_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def f(a):
        return (a.sin() * a).sum(1) if isinstance(a, ember.Tensor) else (np.sin(a) * a).sum(1)
    out, tangent = jvp(f, (ember.from_numpy(x),), (ember.from_numpy(v),))
    np.testing.assert_allclose(out.numpy(), f(x), rtol=1e-12)
    np.testing.assert_allclose(tangent.numpy(), _numeric_jvp(f, x, v), rtol=1e-6, atol=1e-8)
    assert not out.requires_grad and not tangent.requires_grad


def test_jvp_several_inputs_pytree_output_and_aux():
    a, b = ember.tensor([1.0, 2.0], dtype=ember.float64), ember.tensor([3.0, -1.0],
                                                                        dtype=ember.float64)
    ta, tb = ember.tensor([0.5, 1.0], dtype=ember.float64), ember.tensor([1.0, 2.0],
                                                                          dtype=ember.float64)

    def f(x, y):
        return {"prod": x * y, "sum": (x + y).sum()}, "aux"
    out, tangent, aux = jvp(f, (a, b), (ta, tb), has_aux=True)
    assert aux == "aux"
    np.testing.assert_allclose(tangent["prod"].numpy(), (ta * b + a * tb).numpy())
    assert tangent["sum"].item() == pytest.approx((ta + tb).sum().item())
    with pytest.raises(RuntimeError, match="tuples"):
        jvp(f, a, ta)


def test_linearize_reuses_the_graph():
    x = ember.tensor([0.3, -0.7], dtype=ember.float64)
    out, jvp_fn = linearize(ember.exp, x)
    for t in (ember.tensor([1.0, 0.0], dtype=ember.float64),
              ember.tensor([2.0, 3.0], dtype=ember.float64)):
        np.testing.assert_allclose(jvp_fn(t).numpy(), (x.exp() * t).numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="shapes"):
        jvp_fn(ember.ones(3, dtype=ember.float64))


def test_vmap_pytree_inputs_and_outputs():
    xs = ember.randn(5, 3)
    params = {"w": ember.randn(5, 3), "b": ember.randn(5)}

    def f(p, x, scale):
        return {"y": (p["w"] * x).sum() + p["b"], "pair": (x * scale, p["b"])}
    out = vmap(f, in_dims=({"w": 0, "b": 0}, 0, None))(params, xs, 2.0)
    expected = (params["w"] * xs).sum(1) + params["b"]
    np.testing.assert_allclose(out["y"].numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["pair"][0].numpy(), (xs * 2).numpy())
    assert out["pair"][1].shape == (5,)
    with pytest.raises(ValueError, match="same size"):
        vmap(f, in_dims=(0, 0, None))(params, ember.randn(4, 3), 1.0)


def test_ensemble_and_per_sample_grads():
    ember.manual_seed(0)
    models = [ember.nn.Linear(3, 2) for _ in range(4)]
    params, buffers = stack_module_state(models)
    assert params["weight"].shape == (4, 2, 3) and params["weight"].is_leaf
    assert params["weight"].requires_grad and buffers == {}
    x = ember.randn(6, 3)
    out = vmap(lambda p, b, inp: functional_call(models[0], (p, b), (inp,)),
               in_dims=(0, 0, None))(params, buffers, x)
    for i, m in enumerate(models):
        np.testing.assert_allclose(out[i].detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
    base = models[0]

    def loss(p, inp, target):
        pred = functional_call(base, p, (inp.unsqueeze(0),))
        return ((pred - target.unsqueeze(0)) ** 2).mean()
    p = {k: v.detach() for k, v in base.named_parameters()}
    targets = ember.randn(6, 2)
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(p, x, targets)
    for i in range(6):
        base.zero_grad()
        loss(dict(base.named_parameters()), x[i], targets[i]).backward()
        np.testing.assert_allclose(per_sample["weight"][i].numpy(), base.weight.grad.numpy(),
                                   rtol=1e-5, atol=1e-7)


def test_functionalize_and_batch_norm_replacement():
    def f(x):
        y = x.clone()
        y.add_(1)
        return y
    assert ember.equal(functionalize(f)(ember.ones(2)), ember.full((2,), 2.0))
    with pytest.raises(RuntimeError, match="remove"):
        functionalize(f, remove="views")
    net = ember.nn.Sequential(ember.nn.Linear(3, 3), ember.nn.BatchNorm1d(3))
    assert replace_all_batch_norm_modules_(net) is net
    bn = net[1]
    assert bn.running_mean is None and not bn.track_running_stats
    x = ember.randn(8, 3)
    np.testing.assert_allclose(net(x).mean(0).detach().numpy(), 0, atol=1e-5)
