"""torch.distributions part B (Gamma family, discrete distributions, mixtures) against real
PyTorch in float64: log_prob, entropy, moments, cdf, support, shapes, expand,
enumerate_support, gradients of log_prob / entropy / KL, and KL values."""
import numpy as np
import pytest

import ember
import ember.distributions as ED

torch = pytest.importorskip("torch")
TD = torch.distributions

# torch's Wishart.rsample warns about every sample it draws (its check is inverted).
pytestmark = pytest.mark.filterwarnings("ignore:Singular sample detected")

A = np.array


def _spd(n, seed):
    m = np.random.default_rng(seed).normal(size=(n, n))
    return m @ m.T + n * np.eye(n)


# (id, class name, parameters): arrays are float64 tensors that require grad; ``int``/float
# stay Python numbers; a ("dist", name, params) tuple builds a nested distribution.
CASES = [
    ("gamma", "Gamma", dict(concentration=A([0.5, 2.0, 7.5]), rate=A([1.0, 0.3, 4.0]))),
    ("gamma-bcast", "Gamma", dict(concentration=A([[0.7], [3.0]]), rate=A([1.0, 2.0, 0.5]))),
    ("gamma-number", "Gamma", dict(concentration=2.0, rate=A(3.0))),
    ("chi2", "Chi2", dict(df=A([0.7, 3.0, 10.0]))),
    ("chi2-2d", "Chi2", dict(df=A([[1.5, 4.0], [2.4, 9.0]]))),
    ("beta", "Beta", dict(concentration1=A([0.5, 2.0, 6.0]), concentration0=A([0.5, 3.0, 1.2]))),
    ("beta-bcast", "Beta", dict(concentration1=A([[0.8], [2.5]]),
                                concentration0=A([1.5, 0.6, 4.0]))),
    ("beta-numbers", "Beta", dict(concentration1=2.0, concentration0=3.0)),
    ("dirichlet", "Dirichlet", dict(concentration=A([0.5, 1.5, 3.0, 2.0]))),
    ("dirichlet-batch", "Dirichlet", dict(concentration=A([[0.3, 0.6, 0.8], [2.0, 4.0, 1.5]]))),
    ("inverse-gamma", "InverseGamma", dict(concentration=A([0.5, 1.5, 3.0]),
                                           rate=A([1.0, 2.0, 0.7]))),
    ("student-t", "StudentT", dict(df=A([0.8, 1.5, 5.0]), loc=A([0.0, 1.0, -2.0]),
                                   scale=A([1.0, 0.5, 3.0]))),
    ("student-t-bcast", "StudentT", dict(df=A([[2.5], [30.0]]), loc=A([0.0, 1.0]), scale=2.0)),
    ("fisher", "FisherSnedecor", dict(df1=A([1.0, 3.0, 6.0]), df2=A([2.5, 4.5, 10.0]))),
    ("lkj", "LKJCholesky", dict(dim=3, concentration=A([0.5, 2.0]))),
    ("lkj-number", "LKJCholesky", dict(dim=4, concentration=1.5)),
    ("wishart-cov", "Wishart", dict(df=A([3.0, 4.5]), covariance_matrix=_spd(2, 0))),
    ("wishart-prec", "Wishart", dict(df=A(5.0), precision_matrix=_spd(3, 1))),
    ("wishart-tril", "Wishart", dict(df=A([4.0, 6.0]),
                                     scale_tril=np.linalg.cholesky(np.stack([_spd(3, 2),
                                                                             _spd(3, 3)])))),
    ("binomial", "Binomial", dict(total_count=A([5.0, 10.0, 10.0]),
                                  probs=A([0.2, 0.5, 0.9]))),
    ("binomial-homog", "Binomial", dict(total_count=8, probs=A([[0.3, 0.6], [0.05, 0.99]]))),
    ("binomial-logits", "Binomial", dict(total_count=6, logits=A([-2.0, 0.0, 3.0]))),
    ("multinomial", "Multinomial", dict(total_count=7, probs=A([[0.1, 0.2, 0.3, 0.4],
                                                               [0.25, 0.25, 0.4, 0.1]]))),
    ("multinomial-logits", "Multinomial", dict(total_count=5, logits=A([0.5, -1.0, 2.0]))),
    ("one-hot", "OneHotCategorical", dict(probs=A([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))),
    ("one-hot-logits", "OneHotCategorical", dict(logits=A([0.1, -0.3, 1.2, 0.0]))),
    ("one-hot-st", "OneHotCategoricalStraightThrough", dict(probs=A([0.2, 0.7, 0.1]))),
    ("poisson", "Poisson", dict(rate=A([0.5, 3.0, 20.0]))),
    ("poisson-number", "Poisson", dict(rate=4.0)),
    ("geometric", "Geometric", dict(probs=A([0.1, 0.5, 0.95]))),
    ("geometric-logits", "Geometric", dict(logits=A([[-1.0, 0.5], [2.0, 0.0]]))),
    ("negative-binomial", "NegativeBinomial", dict(total_count=A([1.0, 3.5, 10.0]),
                                                   probs=A([0.1, 0.5, 0.8]))),
    ("negative-binomial-logits", "NegativeBinomial", dict(total_count=A(4.0),
                                                          logits=A([-1.0, 0.5]))),
    ("mixture", "MixtureSameFamily", dict(
        mixture_distribution=("dist", "Categorical", dict(probs=A([0.2, 0.5, 0.3]))),
        component_distribution=("dist", "Normal", dict(loc=A([-1.0, 0.0, 2.0]),
                                                       scale=A([0.5, 1.0, 2.0]))))),
    ("mixture-batch", "MixtureSameFamily", dict(
        mixture_distribution=("dist", "Categorical", dict(logits=A([[0.0, 1.0], [2.0, -1.0]]))),
        component_distribution=("dist", "Gamma", dict(concentration=A([[1.3, 3.0], [2.0, 5.0]]),
                                                      rate=A([1.0, 2.0]))))),
    ("mixture-event", "MixtureSameFamily", dict(
        mixture_distribution=("dist", "Categorical", dict(probs=A([0.2, 0.5, 0.3]))),
        component_distribution=("dist", "Independent", dict(
            base_distribution=("dist", "Normal", dict(loc=A([[-1.0, 0.0], [0.0, 1.0],
                                                             [2.0, 2.0]]),
                                                      scale=A([[0.5, 1.0], [1.0, 2.0],
                                                               [2.0, 0.3]]))),
            reinterpreted_batch_ndims=1)))),
]

IDS = [c[0] for c in CASES]


def _build(name, params, with_grad=True):
    """The ember and torch distributions of one case, and their float parameters."""
    e_kw, t_kw, e_params, t_params = {}, {}, [], []
    for key, value in params.items():
        if isinstance(value, tuple):
            e_kw[key], t_kw[key], ep, tp = _build(value[1], value[2], with_grad)
            e_params += ep
            t_params += tp
        elif isinstance(value, np.ndarray):
            e_kw[key] = ember.tensor(value, dtype=ember.float64, requires_grad=with_grad)
            t_kw[key] = torch.tensor(value, dtype=torch.float64, requires_grad=with_grad)
            e_params.append(e_kw[key])
            t_params.append(t_kw[key])
        else:
            e_kw[key] = t_kw[key] = value
    return getattr(ED, name)(**e_kw), getattr(TD, name)(**t_kw), e_params, t_params


def _e(t):
    return ember.tensor(t.detach().numpy())


def _close(e, t, rtol=1e-9, atol=1e-11):
    """Equal to float64 rounding (float32's, where a Python number made a float32 tensor)."""
    if t.dtype == torch.float32 or e.dtype == ember.float32:
        rtol, atol = max(rtol, 2e-6), max(atol, 1e-6)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)


def _values(td):
    torch.manual_seed(0)
    with torch.no_grad():
        return td.sample((3,))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shapes_support_and_moments(case):
    _, name, params = case
    ed, td, _, _ = _build(name, params)
    assert tuple(ed.batch_shape) == tuple(td.batch_shape)
    assert tuple(ed.event_shape) == tuple(td.event_shape)
    assert ed.has_rsample == td.has_rsample
    assert ed.has_enumerate_support == td.has_enumerate_support
    assert ed.support.is_discrete == td.support.is_discrete
    assert ed.support.event_dim == td.support.event_dim
    assert set(ed.arg_constraints) == set(td.arg_constraints)
    values = _values(td)
    assert bool(ed.support.check(_e(values)).all())
    for prop in ("mean", "mode", "variance", "stddev"):
        try:
            expected = getattr(td, prop)
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                getattr(ed, prop)
            continue
        _close(getattr(ed, prop), expected)
    shape = (4,) + tuple(td.batch_shape)
    sample = ed.sample((5, 2))
    assert tuple(sample.shape) == tuple(td.sample((5, 2)).shape)
    assert not sample.requires_grad
    expanded_e, expanded_t = ed.expand(shape), td.expand(shape)
    assert tuple(expanded_e.batch_shape) == shape
    _close(expanded_e.log_prob(_e(values[0])), expanded_t.log_prob(values[0]))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_log_prob_entropy_and_their_gradients(case):
    case_id, name, params = case
    ed, td, e_params, t_params = _build(name, params)
    values = _values(td)
    e_total = ed.log_prob(_e(values))
    t_total = td.log_prob(values)
    _close(e_total, t_total)
    try:
        t_entropy = td.entropy()
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            ed.entropy()
    else:
        e_entropy = ed.entropy()
        _close(e_entropy, t_entropy)
        e_total = e_total.sum() + e_entropy.sum()
        t_total = t_total.sum() + t_entropy.sum()
    if not e_params:
        return
    e_grads = ember.autograd.grad(e_total.sum(), e_params, allow_unused=True)
    t_grads = torch.autograd.grad(t_total.sum(), t_params, allow_unused=True)
    for eg, tg in zip(e_grads, t_grads):
        if tg is None:
            assert eg is None or not bool(eg.abs().sum())
        elif case_id == "wishart-tril" and tg.dim() == 3:  # (torch's grad also fills the
            # unused upper triangle)
            _close(eg.tril(), tg.tril(), rtol=1e-8, atol=1e-10)
        else:
            _close(eg, tg, rtol=1e-8, atol=1e-10)


CDF_CASES = [c for c in CASES if c[1] in ("Gamma", "Chi2", "InverseGamma")] + [CASES[IDS.index(
    "mixture")]]


@pytest.mark.parametrize("case", CDF_CASES, ids=[c[0] for c in CDF_CASES])
def test_cdf(case):
    _, name, params = case
    ed, td, _, _ = _build(name, params, with_grad=False)
    values = _values(td)
    _close(ed.cdf(_e(values)), td.cdf(values))


@pytest.mark.parametrize("case_id", ["binomial-homog", "binomial-logits", "one-hot",
                                     "one-hot-logits"])
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support(case_id, expand):
    _, name, params = CASES[IDS.index(case_id)]
    ed, td, _, _ = _build(name, params)
    _close(ed.enumerate_support(expand), td.enumerate_support(expand))


def test_binomial_inhomogeneous_count_refuses_entropy():
    ed, _, _, _ = _build("Binomial", CASES[IDS.index("binomial")][2])
    with pytest.raises(NotImplementedError):
        ed.enumerate_support()


@pytest.mark.parametrize("name, params, bad", [
    ("Gamma", dict(concentration=A([1.0]), rate=A([-1.0])), None),
    ("Dirichlet", dict(concentration=A([1.0, 0.0])), None),
    ("Geometric", dict(probs=A([0.0, 0.5])), None),
    ("Poisson", dict(rate=A([1.0])), A([1.5])),
    ("Binomial", dict(total_count=3, probs=A([0.5])), A([4.0])),
    ("Beta", dict(concentration1=A([1.0]), concentration0=A([2.0])), A([1.5])),
])
def test_validation_errors(name, params, bad):
    if bad is None:
        with pytest.raises(ValueError):
            _build(name, params)
        return
    ed, _, _, _ = _build(name, params)
    with pytest.raises(ValueError):
        ed.log_prob(ember.tensor(bad, dtype=ember.float64))


KL_PAIRS = [
    ("Gamma", dict(concentration=A([0.5, 2.0]), rate=A([1.0, 3.0])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "Beta", dict(concentration1=A([1.5, 0.7]), concentration0=A([2.0, 0.5]))),
    ("Dirichlet", dict(concentration=A([[0.5, 2.0, 1.0], [3.0, 1.0, 0.2]])),
     "Dirichlet", dict(concentration=A([1.5, 0.7, 2.0]))),
    ("Poisson", dict(rate=A([0.5, 4.0])), "Poisson", dict(rate=A([2.0, 3.0]))),
    ("Binomial", dict(total_count=10, probs=A([0.2, 0.7])),
     "Binomial", dict(total_count=10, probs=A([0.5, 0.4]))),
    ("Geometric", dict(probs=A([0.2, 0.7])), "Geometric", dict(probs=A([0.5, 0.4]))),
    ("OneHotCategorical", dict(probs=A([0.2, 0.3, 0.5])),
     "OneHotCategorical", dict(logits=A([0.5, -1.0, 0.0]))),
    ("Chi2", dict(df=A([3.0, 5.0])), "Gamma", dict(concentration=A([1.5, 0.7]), rate=A(2.0))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "Normal", dict(loc=A([0.5, 1.0]), scale=A([2.0, 0.5]))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "Uniform", dict(low=A([-0.5, 0.1]), high=A([1.0, 2.0]))),
    ("Gamma", dict(concentration=A([0.5, 2.0]), rate=A([1.0, 3.0])),
     "Normal", dict(loc=A([0.5, 1.0]), scale=A([2.0, 0.5]))),
    ("Uniform", dict(low=A([0.0, 0.2]), high=A([1.0, 0.5])),
     "Beta", dict(concentration1=A([1.5, 0.7]), concentration0=A([2.0, 0.5]))),
    ("Uniform", dict(low=A([0.1, -0.2]), high=A([1.0, 0.5])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Gamma", dict(concentration=A([0.5, 2.0]), rate=A([1.0, 3.0])),
     "Uniform", dict(low=A([0.0, 0.2]), high=A([1.0, 0.5]))),
    ("Normal", dict(loc=A([0.5, 1.0]), scale=A([2.0, 0.5])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Poisson", dict(rate=A([0.5, 4.0])), "Binomial", dict(total_count=5, probs=A([0.5, 0.4]))),
    ("Bernoulli", dict(probs=A([0.3, 0.9])), "Poisson", dict(rate=A([2.0, 3.0]))),
    ("Exponential", dict(rate=A([0.5, 3.0])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Gamma", dict(concentration=A([0.5, 2.0]), rate=A([1.0, 3.0])),
     "Exponential", dict(rate=A([0.5, 3.0]))),
    ("Gamma", dict(concentration=A([0.5, 2.0]), rate=A([1.0, 3.0])),
     "Gumbel", dict(loc=A([0.5, -1.0]), scale=A([2.0, 0.5]))),
    ("Pareto", dict(scale=A([0.5, 2.0]), alpha=A([3.0, 0.8])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "Exponential", dict(rate=A([0.5, 3.0]))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "ContinuousBernoulli", dict(probs=A([0.2, 0.7]))),
    ("Beta", dict(concentration1=A([0.5, 2.0]), concentration0=A([1.0, 3.0])),
     "Pareto", dict(scale=A([0.5, 2.0]), alpha=A([3.0, 0.8]))),
    ("Gamma", dict(concentration=A([0.5, 2.0]), rate=A([1.0, 3.0])),
     "Beta", dict(concentration1=A([1.5, 0.7]), concentration0=A([2.0, 0.5]))),
    ("Laplace", dict(loc=A([0.5, 1.0]), scale=A([2.0, 0.5])),
     "Gamma", dict(concentration=A([1.5, 0.7]), rate=A([2.0, 0.5]))),
    ("Gumbel", dict(loc=A([0.5, 1.0]), scale=A([2.0, 0.5])),
     "Beta", dict(concentration1=A([1.5, 0.7]), concentration0=A([2.0, 0.5]))),
    ("Poisson", dict(rate=A([0.5, 4.0])), "Bernoulli", dict(probs=A([0.3, 0.9]))),
]


@pytest.mark.parametrize("p_name, p_params, q_name, q_params", KL_PAIRS,
                         ids=[f"{p[0]}-{p[2]}" for p in KL_PAIRS])
def test_kl_divergence_and_gradients(p_name, p_params, q_name, q_params):
    ep, tp, ep_params, tp_params = _build(p_name, p_params)
    eq, tq, eq_params, tq_params = _build(q_name, q_params)
    e_kl = ED.kl_divergence(ep, eq)
    t_kl = TD.kl_divergence(tp, tq)
    _close(e_kl, t_kl)
    finite = np.isfinite(t_kl.detach().numpy())
    if not finite.any() or not t_kl.requires_grad:
        return
    mask_t = torch.tensor(finite)
    mask_e = ember.tensor(finite)
    e_grads = ember.autograd.grad(e_kl[mask_e].sum(), ep_params + eq_params, allow_unused=True)
    t_grads = torch.autograd.grad(t_kl[mask_t].sum(), tp_params + tq_params, allow_unused=True)
    for eg, tg in zip(e_grads, t_grads):
        if tg is not None:
            # torch's trigamma is good to ~4e-10 (ember's to float64); where torch's gradient
            # is nan the divergence was infinite (masked out).
            defined = ~torch.isnan(tg)
            _close(eg[ember.tensor(defined.numpy())], tg[defined], rtol=1e-8, atol=2e-9)


def test_binomial_kl_with_different_counts():
    p = ED.Binomial(10, probs=ember.tensor([0.3], dtype=ember.float64))
    q = ED.Binomial(5, probs=ember.tensor([0.3], dtype=ember.float64))
    assert float(ED.kl_divergence(p, q)) == float("inf")
    with pytest.raises(NotImplementedError):
        ED.kl_divergence(q, p)


# ---------------------------------------------------------------------------------------------
# The reparameterized gradients of the gamma and Dirichlet samplers


def test_standard_gamma_grad_matches_torch_on_the_same_samples():
    alpha = np.repeat([1e-3, 0.05, 0.4, 1.0, 2.5, 7.9, 8.1, 40.0, 900.0, 1e6, 1e9], 6)
    ember.manual_seed(0)
    a = ember.tensor(alpha, dtype=ember.float64, requires_grad=True)
    x = ember._standard_gamma(a)
    x.sum().backward()
    expected = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x.detach().numpy()))
    # torch's gradient is an approximation (~3e-4 relative at worst); ember's is exact.
    np.testing.assert_allclose(a.grad.numpy(), expected.numpy(), rtol=1e-3, atol=1e-300)
    direct = ember._standard_gamma_grad(a.detach(), x.detach())
    np.testing.assert_array_equal(direct.numpy(), a.grad.numpy())


def test_dirichlet_grad_matches_torch_on_the_same_samples():
    alpha = np.array([[0.3, 1.0, 2.5], [5.0, 0.8, 12.0], [30.0, 0.05, 1.0]])
    ember.manual_seed(1)
    a = ember.tensor(alpha, dtype=ember.float64, requires_grad=True)
    x = ember._sample_dirichlet(a)
    np.testing.assert_allclose(x.detach().numpy().sum(-1), 1.0)
    weights = np.array([1.0, -2.0, 0.5])
    (x * ember.tensor(weights, dtype=ember.float64)).sum().backward()
    tx, ta = torch.tensor(x.detach().numpy()), torch.tensor(alpha)
    total = ta.sum(-1, keepdim=True).expand_as(ta)
    grad_x = torch.tensor(weights).expand_as(ta)
    expected = torch._dirichlet_grad(tx, ta, total) * (grad_x - (tx * grad_x).sum(-1, True))
    np.testing.assert_allclose(a.grad.numpy(), expected.numpy(), rtol=2e-3)
    direct = ember._dirichlet_grad(_e(tx), _e(ta), _e(total))
    np.testing.assert_allclose(direct.numpy(), torch._dirichlet_grad(tx, ta, total).numpy(),
                               rtol=2e-3)


@pytest.mark.parametrize("name, params", [
    ("Gamma", dict(concentration=A([0.7, 4.0]), rate=A([2.0, 0.5]))),
    ("Beta", dict(concentration1=A([0.7, 4.0]), concentration0=A([2.0, 0.5]))),
    ("Dirichlet", dict(concentration=A([0.7, 4.0, 1.5]))),
    ("StudentT", dict(df=A([3.0, 8.0]), loc=A([0.0, 1.0]), scale=A([1.0, 2.0]))),
    ("FisherSnedecor", dict(df1=A([3.0, 8.0]), df2=A([5.0, 9.0]))),
    ("InverseGamma", dict(concentration=A([3.0, 4.0]), rate=A([1.0, 2.0]))),
])
def test_rsample_gradient_of_the_mean_is_unbiased(name, params):
    """d/dtheta E[x] estimated pathwise (the mean of rsample's gradients) matches the
    gradient of the analytic mean."""
    ed, td, e_params, t_params = _build(name, params)
    ember.manual_seed(3)
    sample = ed.rsample((40000,))
    e_grads = ember.autograd.grad(sample.mean(0).sum(), e_params, allow_unused=True)
    t_grads = torch.autograd.grad(td.mean.sum(), t_params, allow_unused=True)
    for eg, tg in zip(e_grads, t_grads):
        expected = np.zeros(eg.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(eg.numpy(), expected, rtol=0.05, atol=0.02)


@pytest.mark.parametrize("case_id", ["binomial", "binomial-logits", "multinomial",
                                     "multinomial-logits", "one-hot", "one-hot-logits",
                                     "negative-binomial", "mixture"])
def test_new_and_param_shape_follow_the_given_parameter(case_id):
    # ``_new`` makes tensors like the stored parameter (dtype, device), as torch-style code
    # building supports or samples relies on; it and param_shape survive expand.
    _, name, params = next(c for c in CASES if c[0] == case_id)
    ed, td, _, _ = _build(name, params, with_grad=False)
    if name == "MixtureSameFamily":  # its Categorical
        ed, td = ed.mixture_distribution, td.mixture_distribution
    for e, t in ((ed, td), (ed.expand((2,) + tuple(ed.batch_shape)),
                            td.expand((2,) + tuple(td.batch_shape)))):
        assert tuple(e.param_shape) == tuple(t.param_shape)
        for args in (((2, 3),), (2, 3)):  # data, then sizes
            e_new, t_new = e._new(*args), t._new(*args)
            assert tuple(e_new.shape) == tuple(t_new.shape)
            assert str(e_new.dtype).split(".")[-1] == str(t_new.dtype).split(".")[-1]
