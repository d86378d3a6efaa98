"""nn.utils parametrize / parametrizations / weight and spectral norm / fusion /
functional_call / skip_init and ember.func, without torch."""
import copy
import pickle

import numpy as np
import pytest

import ember
import ember.func as efunc
import ember.nn as nn
from ember.nn.utils import parametrizations, parametrize
from ember.nn.utils.stateless import _functional_call


class Double(nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, x):
        return x / 2


def test_register_parametrization_mechanics():
    m = nn.Linear(3, 2).double()
    w = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Double())
    assert type(m).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    # right_inverse stored w / 2, so the parametrized weight is w again
    np.testing.assert_allclose(m.weight.detach().numpy(), w)
    m.weight = ember.ones(2, 3, dtype=ember.float64)
    np.testing.assert_allclose(m.parametrizations.weight.original.detach().numpy(), 0.5)
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    c = copy.deepcopy(m)
    np.testing.assert_allclose(c.weight.detach().numpy(), 1.0)
    with pytest.raises(RuntimeError, match="state_dict"):
        pickle.dumps(m)
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), 1.0)
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(m, "nope", Double())


def test_weight_norm_rows_have_norm_g():
    m = parametrizations.weight_norm(nn.Linear(4, 3).double())
    g = m.parametrizations.weight.original0
    with ember.no_grad():
        g.copy_(ember.tensor([[1.0], [2.0], [3.0]], dtype=ember.float64))
    np.testing.assert_allclose(np.linalg.norm(m.weight.detach().numpy(), axis=1), [1, 2, 3])
    old = nn.utils.weight_norm  # hook-based one warns
    with pytest.warns(FutureWarning):
        h = old(nn.Linear(4, 3))
    assert [n for n, _ in h.named_parameters()] == ["bias", "weight_g", "weight_v"]


@pytest.mark.parametrize("make", [
    lambda: parametrizations.spectral_norm(nn.Linear(5, 4).double(), n_power_iterations=50),
    lambda: nn.utils.spectral_norm(nn.Linear(5, 4).double(), n_power_iterations=50),
])
def test_spectral_norm_divides_by_largest_singular_value(make):
    m = make()
    m(ember.zeros(1, 5, dtype=ember.float64))
    assert np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("shape,kind", [((4, 4), None), ((5, 3), None), ((3, 5), "cayley")])
def test_orthogonal_gives_orthonormal_columns(shape, kind):
    m = parametrizations.orthogonal(nn.Linear(shape[1], shape[0]).double(), orthogonal_map=kind)
    q = m.weight.detach().numpy()
    small = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(small, np.eye(min(shape)), atol=1e-12)
    (m(ember.ones(2, shape[1], dtype=ember.float64)) ** 2).sum().backward()
    assert m.parametrizations.weight.original.grad is not None


def test_fuse_linear_bn_matches_sequence():
    lin, bn = nn.Linear(3, 4).double().eval(), nn.BatchNorm1d(4).double().eval()
    with ember.no_grad():
        bn.running_mean.copy_(ember.tensor([0.1, -0.2, 0.3, 0.0], dtype=ember.float64))
        bn.running_var.copy_(ember.tensor([1.5, 0.5, 2.0, 1.0], dtype=ember.float64))
    x = ember.randn(6, 3, dtype=ember.float64)
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(lin(x)).detach().numpy(),
                               atol=1e-12)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        nn.utils.fuse_conv_bn_eval(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1))


def test_functional_call_restores_ties_and_strict():
    emb = nn.Embedding(4, 3)
    head = nn.Linear(3, 4, bias=False)
    head.weight = emb.weight  # tied
    model = nn.Sequential(emb, head)
    own = model[0].weight
    zeros = ember.zeros(4, 3)
    out = _functional_call(model, {"0.weight": zeros}, (ember.tensor([1, 2]),))
    np.testing.assert_array_equal(out.detach().numpy(), 0.0)  # the tie followed
    assert model[0].weight is own and model[1].weight is own
    with pytest.raises(ValueError, match="tied"):
        _functional_call(model, {"0.weight": zeros, "1.weight": ember.ones(4, 3)},
                         (ember.tensor([1]),))
    with pytest.raises(RuntimeError, match="Missing key"):
        _functional_call(nn.Linear(2, 2), {"weight": ember.zeros(2, 2)}, ember.zeros(1, 2),
                         strict=True)
    with pytest.warns(FutureWarning):
        nn.utils.stateless.functional_call(nn.Linear(2, 2), {}, ember.zeros(1, 2))


def test_skip_init_and_clip_grads_with_norm():
    m = nn.utils.skip_init(nn.Linear, 3, 4)
    assert tuple(m.weight.shape) == (4, 3)
    p = nn.Parameter(ember.ones(4))
    p.grad = ember.full((4,), 3.0)
    nn.utils.clip_grads_with_norm_([p], 1.0, nn.utils.get_total_norm([p.grad]))
    assert float(p.grad.norm()) == pytest.approx(1.0, rel=1e-5)


def test_func_transforms_against_numpy():
    x = np.array([0.3, -1.2, 2.0])
    g = efunc.grad(lambda t: (t ** 3).sum())(ember.tensor(x))
    np.testing.assert_allclose(g.numpy(), 3 * x ** 2)
    h = efunc.hessian(lambda t: (t ** 3).sum())(ember.tensor(x))
    np.testing.assert_allclose(h.numpy(), np.diag(6 * x))
    second = efunc.grad(efunc.grad(lambda t: t.sin()))(ember.tensor(0.5))
    assert float(second) == pytest.approx(-np.sin(0.5))
    g, (value, aux) = efunc.grad_and_value(lambda t: ((t ** 2).sum(), t.max()),
                                           has_aux=True)(ember.tensor(x))
    assert float(value) == pytest.approx((x ** 2).sum()) and float(aux) == 2.0
    out, fn = efunc.vjp(lambda a, b: a * b, ember.tensor(x), ember.tensor(2 * x))
    ga, gb = fn(ember.ones(3, dtype=ember.float64))
    np.testing.assert_allclose(ga.numpy(), 2 * x)
    np.testing.assert_allclose(gb.numpy(), x)
    jac = efunc.jacrev(lambda a, b: a * b, argnums=(0, 1))(ember.tensor(x), ember.tensor(x))
    np.testing.assert_allclose(jac[0].numpy(), np.diag(x))
    batched = efunc.vmap(lambda a, b: (a * b).sum(), in_dims=(0, None))(
        ember.tensor(np.eye(3)), ember.tensor(x))
    np.testing.assert_allclose(batched.numpy(), x)
    with pytest.raises(RuntimeError, match="scalar Tensor"):
        efunc.grad(lambda t: t * 2)(ember.tensor(x))
