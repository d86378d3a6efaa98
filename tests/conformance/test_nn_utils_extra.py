"""nn.utils against torch: parametrizations (weight_norm, spectral_norm, orthogonal), the
hook-based weight_norm / spectral_norm, BatchNorm fusion, functional_call and torch.func."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.func as efunc  # noqa: E402
from ember.nn.utils import parametrizations as EPs  # noqa: E402
from ember.nn.utils import parametrize as EP  # noqa: E402

TPs = torch.nn.utils.parametrizations


def _copy(em, tm):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _check_grads(em, tm, eo, to):
    """Backward of sum(out ** 2) in both; every parameter's gradient agrees."""
    (to ** 2).sum().backward()
    (eo ** 2).sum().backward()
    for (n, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=1e-9, err_msg=n)


def _check_pair(em, tm, x):
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    _copy(em, tm)
    with torch.no_grad():  # move the originals away from their fixed points
        for p in tm.parameters():
            p.add_(0.1 * torch.randn_like(p))
    _copy(em, tm)
    to, eo = tm(torch.tensor(x)), em(ember.tensor(x))
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-10)
    _check_grads(em, tm, eo, to)
    for (n, eb), (_, tb) in zip(em.named_buffers(), tm.named_buffers()):
        np.testing.assert_allclose(eb.numpy(), tb.numpy(), atol=1e-10, err_msg=n)


_PARAMETRIZED = [
    ("weight_norm", {}, (4, 3)), ("weight_norm", {"dim": None}, (4, 3)),
    ("weight_norm", {"dim": 1}, (3, 5)),
    ("spectral_norm", {}, (4, 3)), ("spectral_norm", {"n_power_iterations": 3}, (3, 5)),
    ("orthogonal", {}, (4, 4)), ("orthogonal", {}, (3, 5)), ("orthogonal", {}, (5, 3)),
    ("orthogonal", {"orthogonal_map": "cayley"}, (3, 5)),
    ("orthogonal", {"orthogonal_map": "matrix_exp"}, (5, 3)),
]


@pytest.mark.parametrize("fn,kwargs,features", _PARAMETRIZED)
def test_parametrizations_linear(fn, kwargs, features):
    torch.manual_seed(0)
    tm = getattr(TPs, fn)(torch.nn.Linear(*features).double(), **kwargs)
    em = getattr(EPs, fn)(ember.nn.Linear(*features).double(), **kwargs)
    _check_pair(em, tm, np.random.default_rng(0).standard_normal((2, features[0])))


@pytest.mark.parametrize("fn", ["weight_norm", "spectral_norm"])
def test_parametrizations_conv(fn):
    for tcls, ecls in ((torch.nn.Conv2d, ember.nn.Conv2d),
                       (torch.nn.ConvTranspose2d, ember.nn.ConvTranspose2d)):
        tm = getattr(TPs, fn)(tcls(2, 3, 2).double())
        em = getattr(EPs, fn)(ecls(2, 3, 2).double())
        _check_pair(em, tm, np.random.default_rng(1).standard_normal((1, 2, 4, 4)))


def test_orthogonal_is_orthogonal_and_assignable():
    em = EPs.orthogonal(ember.nn.Linear(3, 5).double())
    q = em.weight.detach().numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)
    target = np.linalg.qr(np.random.default_rng(2).standard_normal((5, 3)))[0]
    em.weight = ember.tensor(target)
    np.testing.assert_allclose(em.weight.detach().numpy(), target, atol=1e-12)


@pytest.mark.parametrize("name", ["weight_norm", "spectral_norm"])
def test_hook_based_norms(name):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = getattr(torch.nn.utils, name)(torch.nn.Linear(4, 3).double())
        em = getattr(ember.nn.utils, name)(ember.nn.Linear(4, 3).double())
    assert list(em.state_dict()) == list(tm.state_dict())
    _copy(em, tm)
    x = np.random.default_rng(3).standard_normal((2, 4))
    for _ in range(2):
        to, eo = tm(torch.tensor(x)), em(ember.tensor(x))
        np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-10)
    _check_grads(em, tm, eo, to)
    remove = getattr(torch.nn.utils, "remove_" + name)
    remove(tm)
    getattr(ember.nn.utils, "remove_" + name)(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(),
                               atol=1e-10)


def test_fuse_conv_and_linear_bn():
    rng = np.random.default_rng(4)
    for transpose in (False, True):
        conv = (torch.nn.ConvTranspose2d if transpose else torch.nn.Conv2d)(2, 3, 2).double()
        bn = torch.nn.BatchNorm2d(3).double()
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        conv.eval()
        bn.eval()
        econv = (ember.nn.ConvTranspose2d if transpose else ember.nn.Conv2d)(2, 3, 2).double()
        ebn = ember.nn.BatchNorm2d(3).double()
        _copy(econv, conv)
        _copy(ebn, bn)
        econv.eval()
        ebn.eval()
        want = torch.nn.utils.fuse_conv_bn_eval(conv, bn, transpose)
        got = ember.nn.utils.fuse_conv_bn_eval(econv, ebn, transpose)
        np.testing.assert_allclose(got.weight.detach().numpy(), want.weight.detach().numpy(),
                                   atol=1e-12)
        x = rng.standard_normal((1, 2, 4, 4))
        np.testing.assert_allclose(got(ember.tensor(x)).detach().numpy(),
                                   ebn(econv(ember.tensor(x))).detach().numpy(), atol=1e-12)
    lin, bn = torch.nn.Linear(3, 4).double().eval(), torch.nn.BatchNorm1d(4).double().eval()
    bn.running_var.uniform_(0.5, 2)
    elin, ebn = ember.nn.Linear(3, 4).double().eval(), ember.nn.BatchNorm1d(4).double().eval()
    _copy(elin, lin)
    _copy(ebn, bn)
    want = torch.nn.utils.fuse_linear_bn_eval(lin, bn)
    got = ember.nn.utils.fuse_linear_bn_eval(elin, ebn)
    np.testing.assert_allclose(got.bias.detach().numpy(), want.bias.detach().numpy(),
                               atol=1e-12)


def test_functional_call_and_func_transforms():
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    em = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 1))
    tm, em = tm.double(), em.double()
    _copy(em, tm)
    x = np.random.default_rng(5).standard_normal((5, 3))
    tparams = {k: v.detach() * 2 for k, v in tm.named_parameters()}
    eparams = {k: ember.tensor(v.numpy()) for k, v in tparams.items()}
    want = torch.func.functional_call(tm, tparams, (torch.tensor(x),))
    got = efunc.functional_call(em, eparams, (ember.tensor(x),))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)

    def tloss(p):
        return torch.func.functional_call(tm, p, (torch.tensor(x),)).pow(2).sum()

    def eloss(p):
        return efunc.functional_call(em, p, (ember.tensor(x),)).pow(2).sum()
    tg, eg = torch.func.grad(tloss)(tparams), efunc.grad(eloss)(eparams)
    for k in tg:
        np.testing.assert_allclose(eg[k].numpy(), tg[k].numpy(), atol=1e-10, err_msg=k)
    v = np.random.default_rng(6).standard_normal(3)

    def f(t):
        return (t.sin() * t.roll(1)).sum()
    np.testing.assert_allclose(efunc.hessian(f)(ember.tensor(v)).numpy(),
                               torch.func.hessian(f)(torch.tensor(v)).numpy(), atol=1e-12)
    np.testing.assert_allclose(efunc.jacrev(lambda t: t.exp() * t[0])(ember.tensor(v)).numpy(),
                               torch.func.jacrev(lambda t: t.exp() * t[0])(
                                   torch.tensor(v)).numpy(), atol=1e-12)
    a = np.random.default_rng(7).standard_normal((4, 3))
    np.testing.assert_allclose(efunc.vmap(lambda r: r.outer(r).trace())(ember.tensor(a)).numpy(),
                               torch.func.vmap(lambda r: r.outer(r).trace())(
                                   torch.tensor(a)).numpy(), atol=1e-12)


def test_parametrize_register_and_remove_match_torch():
    class Symmetric(torch.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).mT

    class ESymmetric(ember.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).mT
    tm, em = torch.nn.Linear(3, 3).double(), ember.nn.Linear(3, 3).double()
    _copy(em, tm)
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", Symmetric())
    EP.register_parametrization(em, "weight", ESymmetric())
    assert type(em).__name__ == type(tm).__name__ == "ParametrizedLinear"
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy())
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    EP.remove_parametrizations(em, "weight")
    assert type(em) is ember.nn.Linear
    assert list(em.state_dict()) == list(tm.state_dict())
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy())
