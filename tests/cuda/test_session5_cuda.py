"""Session 5's additions on a GPU, against the same code on the CPU: gamma/Dirichlet sampling
and its gradients, distributions' log-densities, custom operators with a CUDA kernel, FX tracing
of a CUDA module, and a Tensor subclass on CUDA."""
import numpy as np
import pytest

import ember

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]


def test_gamma_rsample_moments_and_gradient():
    ember.manual_seed(0)
    alpha = ember.full((200_000,), 2.5, device="cuda", requires_grad=True)
    x = ember.distributions.Gamma(alpha, ember.ones(1, device="cuda")).rsample()
    assert x.device.type == "cuda"
    assert abs(x.mean().item() - 2.5) < 0.05 and abs(x.var().item() - 2.5) < 0.1
    x.sum().backward()
    cpu_grad = ember._standard_gamma_grad(alpha.detach().cpu(), x.detach().cpu())
    np.testing.assert_allclose(alpha.grad.cpu().numpy(), cpu_grad.numpy(), rtol=1e-4)


def test_dirichlet_and_mvn_log_prob_match_cpu():
    rng = np.random.default_rng(0)
    conc = rng.uniform(0.5, 3, (4, 5))
    value = rng.dirichlet(np.ones(5), 4)
    cov = np.eye(3) + 0.3
    point = rng.standard_normal((6, 3))
    out = {}
    for device in ("cpu", "cuda"):
        d = ember.distributions.Dirichlet(ember.tensor(conc, device=device))
        m = ember.distributions.MultivariateNormal(ember.zeros(3, dtype=ember.float64,
                                                               device=device),
                                                   ember.tensor(cov, device=device))
        out[device] = (d.log_prob(ember.tensor(value, device=device)).cpu().numpy(),
                       m.log_prob(ember.tensor(point, device=device)).cpu().numpy())
    for a, b in zip(out["cuda"], out["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_custom_op_runs_its_cuda_kernel():
    calls = []

    @ember.library.custom_op("gpucheck::double_it", mutates_args=())
    def double_it(x: ember.Tensor) -> ember.Tensor:
        calls.append("default")
        return x * 2

    @double_it.register_kernel("cuda")
    def _(x):
        calls.append("cuda")
        return x + x

    assert double_it(ember.ones(3, device="cuda")).cpu().tolist() == [2.0, 2.0, 2.0]
    assert double_it(ember.ones(1)).tolist() == [2.0]
    assert calls == ["cuda", "default"]


def test_fx_traced_module_on_cuda_matches_eager():
    model = ember.nn.Sequential(ember.nn.Linear(8, 16), ember.nn.ReLU(),
                                ember.nn.Linear(16, 4)).cuda()
    traced = ember.fx.symbolic_trace(model)
    x = ember.randn(5, 8, device="cuda")
    np.testing.assert_allclose(traced(x).detach().cpu().numpy(),
                               model(x).detach().cpu().numpy(), rtol=1e-6)


def test_tensor_subclass_keeps_its_type_on_cuda():
    class Tagged(ember.Tensor):
        pass

    try:
        x = ember.randn(4, device="cuda").as_subclass(Tagged)
        y = (x * 2).relu()
        assert type(y) is Tagged and y.device.type == "cuda"
    finally:
        ember.overrides._uninstall()
