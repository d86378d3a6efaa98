"""Acceptance: PyTorch's torch.func tutorials (intermediate_source/jacobians_hessians.py,
per_sample_grads.py, neural_tangent_kernels.py, ensembling.py) run on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. Reduced: sizes, batch
sizes, ``Timer.timeit`` counts; ``device = 'cuda'`` is ``'cpu'``. API calls are unchanged.
Model ensembling needs the ``meta`` device (``base_model.to('meta')``).
"""
# The tutorials' code is kept verbatim, long lines included.
# ruff: noqa: E501

import numpy as np
import pytest
from acceptance_runner import run

JACOBIANS_HESSIANS = r'''
import torch
import torch.nn.functional as F
from functools import partial
_ = torch.manual_seed(0)

def predict(weight, bias, x):
    return F.linear(x, weight, bias).tanh()

D = 16
weight = torch.randn(D, D)
bias = torch.randn(D)
x = torch.randn(D)  # feature vector

def compute_jac(xp):
    jacobian_rows = [torch.autograd.grad(predict(weight, bias, xp), xp, vec)[0]
                     for vec in unit_vectors]
    return torch.stack(jacobian_rows)

xp = x.clone().requires_grad_()
unit_vectors = torch.eye(D)

jacobian = compute_jac(xp)

print(jacobian.shape)
print(jacobian[0])  # show first row

from torch.func import vmap, vjp

_, vjp_fn = vjp(partial(predict, weight, bias), x)

ft_jacobian, = vmap(vjp_fn)(unit_vectors)

assert torch.allclose(ft_jacobian, jacobian)

from torch.func import jacrev

ft_jacobian = jacrev(predict, argnums=2)(weight, bias, x)

assert torch.allclose(ft_jacobian, jacobian)

def get_perf(first, first_descriptor, second, second_descriptor):
    """takes torch.benchmark objects and compares delta of second vs first."""
    faster = second.times[0]
    slower = first.times[0]
    gain = (slower-faster)/slower
    if gain < 0: gain *=-1
    final_gain = gain*100
    print(f" Performance delta: {final_gain:.4f} percent improvement with {second_descriptor} ")

from torch.utils.benchmark import Timer

without_vmap = Timer(stmt="compute_jac(xp)", globals=globals())
with_vmap = Timer(stmt="jacrev(predict, argnums=2)(weight, bias, x)", globals=globals())

no_vmap_timer = without_vmap.timeit(5)
with_vmap_timer = with_vmap.timeit(5)

print(no_vmap_timer)
print(with_vmap_timer)

get_perf(no_vmap_timer, "without vmap",  with_vmap_timer, "vmap")

ft_jac_weight, ft_jac_bias = jacrev(predict, argnums=(0, 1))(weight, bias, x)

from torch.func import jacrev, jacfwd

Din = 8
Dout = 64
weight = torch.randn(Dout, Din)

bias = torch.randn(Dout)
x = torch.randn(Din)

print(weight.shape)

using_fwd = Timer(stmt="jacfwd(predict, argnums=2)(weight, bias, x)", globals=globals())
using_bwd = Timer(stmt="jacrev(predict, argnums=2)(weight, bias, x)", globals=globals())

jacfwd_timing = using_fwd.timeit(5)
jacrev_timing = using_bwd.timeit(5)

print(f'jacfwd time: {jacfwd_timing}')
print(f'jacrev time: {jacrev_timing}')

get_perf(jacfwd_timing, "jacfwd", jacrev_timing, "jacrev", );

Din = 64
Dout = 8
weight = torch.randn(Dout, Din)
bias = torch.randn(Dout)
x = torch.randn(Din)

using_fwd = Timer(stmt="jacfwd(predict, argnums=2)(weight, bias, x)", globals=globals())
using_bwd = Timer(stmt="jacrev(predict, argnums=2)(weight, bias, x)", globals=globals())

jacfwd_timing = using_fwd.timeit(5)
jacrev_timing = using_bwd.timeit(5)

print(f'jacfwd time: {jacfwd_timing}')
print(f'jacrev time: {jacrev_timing}')

get_perf(jacrev_timing, "jacrev", jacfwd_timing, "jacfwd")

from torch.func import hessian

Din = 16
Dout = 8
weight = torch.randn(Dout, Din)
bias = torch.randn(Dout)
x = torch.randn(Din)

hess_api = hessian(predict, argnums=2)(weight, bias, x)
hess_fwdfwd = jacfwd(jacfwd(predict, argnums=2), argnums=2)(weight, bias, x)
hess_revrev = jacrev(jacrev(predict, argnums=2), argnums=2)(weight, bias, x)

torch.allclose(hess_api, hess_fwdfwd)

batch_size = 4
Din = 7
Dout = 9

weight = torch.randn(Dout, Din)
print(f"weight shape = {weight.shape}")

bias = torch.randn(Dout)

x = torch.randn(batch_size, Din)

compute_batch_jacobian = vmap(jacrev(predict, argnums=2), in_dims=(None, None, 0))
batch_jacobian0 = compute_batch_jacobian(weight, bias, x)

def predict_with_output_summed(weight, bias, x):
    return predict(weight, bias, x).sum(0)

batch_jacobian1 = jacrev(predict_with_output_summed, argnums=2)(weight, bias, x).movedim(1, 0)
assert torch.allclose(batch_jacobian0, batch_jacobian1)

compute_batch_hessian = vmap(hessian(predict, argnums=2), in_dims=(None, None, 0))

batch_hess = compute_batch_hessian(weight, bias, x)
batch_hess.shape

from torch.func import jvp, grad, vjp

def hvp(f, primals, tangents):
  return jvp(grad(f), primals, tangents)[1]

def f(x):
  return x.sin().sum()

x = torch.randn(64)
tangent = torch.randn(64)

result = hvp(f, (x,), (tangent,))

def hvp_revrev(f, primals, tangents):
  _, vjp_fn = vjp(grad(f), *primals)
  return vjp_fn(*tangents)

result_hvp_revrev = hvp_revrev(f, (x,), (tangent,))
assert torch.allclose(result, result_hvp_revrev[0])
'''


def test_jacobians_hessians():
    ns = run(JACOBIANS_HESSIANS)
    assert tuple(ns["jacobian"].shape) == (16, 16)
    assert tuple(ns["batch_jacobian0"].shape) == (4, 9, 7)
    assert tuple(ns["batch_hess"].shape) == (4, 9, 7, 7)
    assert tuple(ns["hess_api"].shape) == (8, 16, 16)
    np.testing.assert_allclose(ns["hess_api"].numpy(), ns["hess_revrev"].numpy(), rtol=1e-4,
                               atol=1e-6)
    # hvp of sum(sin(x)): the Hessian is diag(-sin x)
    x, t = ns["x"].numpy(), ns["tangent"].numpy()
    np.testing.assert_allclose(ns["result"].numpy(), -np.sin(x) * t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ns["result_hvp_revrev"][0].numpy(), -np.sin(x) * t, rtol=1e-5,
                               atol=1e-6)
    assert "Performance delta" in ns["_stdout"]


def test_jacobians_hessians_closed_form():
    ns = run(JACOBIANS_HESSIANS)
    # the batch Jacobian of tanh(x W^T + b) is (1 - y^2)[:, :, None] * W, its Hessian
    # -2 y (1 - y^2) W_i W_i^T per output i
    ns = run("xb = torch.randn(4, 7)\n"
             "bj = compute_batch_jacobian(weight, bias, xb)\n"
             "bh = compute_batch_hessian(weight, bias, xb)", ns)
    w, b, xb = ns["weight"].numpy(), ns["bias"].numpy(), ns["xb"].numpy()
    y = np.tanh(xb @ w.T + b)
    np.testing.assert_allclose(ns["bj"].numpy(), (1 - y ** 2)[:, :, None] * w[None],
                               rtol=1e-5, atol=1e-6)
    hess = (-2 * y * (1 - y ** 2))[:, :, None, None] * w[None, :, :, None] * w[None, :, None]
    np.testing.assert_allclose(ns["bh"].numpy(), hess, rtol=1e-4, atol=1e-5)


PER_SAMPLE_GRADS = r'''
import torch
import torch.nn as nn
import torch.nn.functional as F
torch.manual_seed(0)

class SimpleCNN(nn.Module):
    def __init__(self):
        super(SimpleCNN, self).__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.fc1 = nn.Linear(72, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output

def loss_fn(predictions, targets):
    return F.nll_loss(predictions, targets)

device = 'cpu'

num_models = 10
batch_size = 8
data = torch.randn(batch_size, 1, 10, 10, device=device)

targets = torch.randint(10, (8,), device=device)

model = SimpleCNN().to(device=device)
predictions = model(data)  # move the entire mini-batch through the model

loss = loss_fn(predictions, targets)
loss.backward()  # back propagate the 'average' gradient of this mini-batch

def compute_grad(sample, target):
    sample = sample.unsqueeze(0)  # prepend batch dimension for processing
    target = target.unsqueeze(0)

    prediction = model(sample)
    loss = loss_fn(prediction, target)

    return torch.autograd.grad(loss, list(model.parameters()))


def compute_sample_grads(data, targets):
    """ manually process each sample with per sample gradient """
    sample_grads = [compute_grad(data[i], targets[i]) for i in range(batch_size)]
    sample_grads = zip(*sample_grads)
    sample_grads = [torch.stack(shards) for shards in sample_grads]
    return sample_grads

per_sample_grads = compute_sample_grads(data, targets)

print(per_sample_grads[0].shape)

from torch.func import functional_call, vmap, grad

params = {k: v.detach() for k, v in model.named_parameters()}
buffers = {k: v.detach() for k, v in model.named_buffers()}

def compute_loss(params, buffers, sample, target):
    batch = sample.unsqueeze(0)
    targets = target.unsqueeze(0)

    predictions = functional_call(model, (params, buffers), (batch,))
    loss = loss_fn(predictions, targets)
    return loss

ft_compute_grad = grad(compute_loss)

ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, None, 0, 0))

ft_per_sample_grads = ft_compute_sample_grad(params, buffers, data, targets)

def compute_grad_fp64(sample, target):
    sample_fp64 = sample.to(torch.float64)
    target_fp64 = target
    model_fp64 = SimpleCNN().to(device=device)
    with torch.no_grad():
        for param_fp32, param_fp64 in zip(model.parameters(), model_fp64.parameters()):
            param_fp64.copy_(param_fp32.to(torch.float64))
    sample_fp64 = sample_fp64.unsqueeze(0)  # prepend batch dimension
    target_fp64 = target_fp64.unsqueeze(0)
    prediction = model_fp64(sample_fp64)
    loss = loss_fn(prediction, target_fp64)
    return torch.autograd.grad(loss, list(model_fp64.parameters()))

for i, (per_sample_grad, ft_per_sample_grad) in enumerate(
    zip(per_sample_grads, ft_per_sample_grads.values())
):
    is_close = torch.allclose(per_sample_grad, ft_per_sample_grad, atol=3e-3, rtol=1e-5)
    assert torch.allclose(per_sample_grad, ft_per_sample_grad, atol=3e-3, rtol=1e-5)

def get_perf(first, first_descriptor, second, second_descriptor):
    second_res = second.times[0]
    first_res = first.times[0]
    gain = (first_res-second_res)/first_res
    if gain < 0: gain *=-1
    final_gain = gain*100
    print(f"Performance delta: {final_gain:.4f} percent improvement with {first_descriptor} ")

from torch.utils.benchmark import Timer

without_vmap = Timer(stmt="compute_sample_grads(data, targets)", globals=globals())
with_vmap = Timer(stmt="ft_compute_sample_grad(params, buffers, data, targets)",globals=globals())
no_vmap_timing = without_vmap.timeit(2)
with_vmap_timing = with_vmap.timeit(2)

print(f'Per-sample-grads without vmap {no_vmap_timing}')
print(f'Per-sample-grads with vmap {with_vmap_timing}')

get_perf(with_vmap_timing, "vmap", no_vmap_timing, "no vmap")
'''


def test_per_sample_grads():
    ns = run(PER_SAMPLE_GRADS)
    grads = ns["ft_per_sample_grads"]
    assert list(grads) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                           "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert tuple(grads["conv1.weight"].shape) == (8, 4, 1, 3, 3)
    # the mean of the per-sample gradients is the gradient of the batch's mean loss
    for (name, p), g in zip(ns["model"].named_parameters(), grads.values()):
        np.testing.assert_allclose(g.numpy().mean(0), p.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    assert "Performance delta" in ns["_stdout"]


NEURAL_TANGENT_KERNELS = r'''
import torch
import torch.nn as nn
from torch.func import functional_call, vmap, vjp, jvp, jacrev
device = 'cpu'

class CNN(nn.Module):
    def __init__(self):
        super(CNN, self).__init__()
        self.conv1 = nn.Conv2d(3, 4, (3, 3))
        self.conv2 = nn.Conv2d(4, 4, (3, 3))
        self.conv3 = nn.Conv2d(4, 4, (3, 3))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = x.relu()
        x = self.conv2(x)
        x = x.relu()
        x = self.conv3(x)
        x = x.flatten(1)
        x = self.fc(x)
        return x

x_train = torch.randn(4, 3, 10, 10, device=device)
x_test = torch.randn(2, 3, 10, 10, device=device)

net = CNN().to(device)

params = {k: v.detach() for k, v in net.named_parameters()}

def fnet_single(params, x):
    return functional_call(net, params, (x.unsqueeze(0),)).squeeze(0)

def empirical_ntk_jacobian_contraction(fnet_single, params, x1, x2):
    jac1 = vmap(jacrev(fnet_single), (None, 0))(params, x1)
    jac1 = jac1.values()
    jac1 = [j.flatten(2) for j in jac1]
    jac2 = vmap(jacrev(fnet_single), (None, 0))(params, x2)
    jac2 = jac2.values()
    jac2 = [j.flatten(2) for j in jac2]
    result = torch.stack([torch.einsum('Naf,Mbf->NMab', j1, j2) for j1, j2 in zip(jac1, jac2)])
    result = result.sum(0)
    return result

result = empirical_ntk_jacobian_contraction(fnet_single, params, x_train, x_test)
print(result.shape)

def empirical_ntk_jacobian_contraction(fnet_single, params, x1, x2, compute='full'):
    jac1 = vmap(jacrev(fnet_single), (None, 0))(params, x1)
    jac1 = jac1.values()
    jac1 = [j.flatten(2) for j in jac1]
    jac2 = vmap(jacrev(fnet_single), (None, 0))(params, x2)
    jac2 = jac2.values()
    jac2 = [j.flatten(2) for j in jac2]
    einsum_expr = None
    if compute == 'full':
        einsum_expr = 'Naf,Mbf->NMab'
    elif compute == 'trace':
        einsum_expr = 'Naf,Maf->NM'
    elif compute == 'diagonal':
        einsum_expr = 'Naf,Maf->NMa'
    else:
        assert False
    result = torch.stack([torch.einsum(einsum_expr, j1, j2) for j1, j2 in zip(jac1, jac2)])
    result = result.sum(0)
    return result

result = empirical_ntk_jacobian_contraction(fnet_single, params, x_train, x_test, 'trace')
print(result.shape)

def empirical_ntk_ntk_vps(func, params, x1, x2, compute='full'):
    def get_ntk(x1, x2):
        def func_x1(params):
            return func(params, x1)

        def func_x2(params):
            return func(params, x2)

        output, vjp_fn = vjp(func_x1, params)

        def get_ntk_slice(vec):
            vjps = vjp_fn(vec)
            _, jvps = jvp(func_x2, (params,), vjps)
            return jvps

        basis = torch.eye(output.numel(), dtype=output.dtype, device=output.device).view(output.numel(), -1)
        return vmap(get_ntk_slice)(basis)

    result = vmap(vmap(get_ntk, (None, 0)), (0, None))(x1, x2)

    if compute == 'full':
        return result
    if compute == 'trace':
        return torch.einsum('NMKK->NM', result)
    if compute == 'diagonal':
        return torch.einsum('NMKK->NMK', result)

result_from_jacobian_contraction = empirical_ntk_jacobian_contraction(fnet_single, params, x_test, x_train)
result_from_ntk_vps = empirical_ntk_ntk_vps(fnet_single, params, x_test, x_train)
assert torch.allclose(result_from_jacobian_contraction, result_from_ntk_vps, atol=1e-5)
'''


def test_neural_tangent_kernels():
    ns = run(NEURAL_TANGENT_KERNELS)
    full = ns["result_from_ntk_vps"].numpy()
    assert full.shape == (2, 4, 10, 10)
    np.testing.assert_allclose(full, ns["result_from_jacobian_contraction"].numpy(), rtol=1e-4,
                               atol=1e-5)
    assert tuple(ns["result"].shape) == (4, 2)  # the 'trace' variant


def test_neural_tangent_kernels_match_torch():
    torch = pytest.importorskip("torch")
    from torch.func import functional_call, jacrev, vmap
    ns = run(NEURAL_TANGENT_KERNELS)

    class CNN(torch.nn.Module):  # the tutorial's reduced CNN, in PyTorch
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 4, 3)
            self.conv2 = torch.nn.Conv2d(4, 4, 3)
            self.conv3 = torch.nn.Conv2d(4, 4, 3)
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x):
            x = self.conv2(self.conv1(x).relu()).relu()
            return self.fc(self.conv3(x).flatten(1))
    net = CNN()
    params = {k: torch.from_numpy(v.numpy().copy()) for k, v in ns["params"].items()}

    def single(p, x):
        return functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)
    jac = [vmap(jacrev(single), (None, 0))(params, torch.from_numpy(ns[k].numpy().copy()))
           for k in ("x_test", "x_train")]
    expected = sum(torch.einsum("Naf,Mbf->NMab", a.flatten(2), b.flatten(2))
                   for a, b in zip(jac[0].values(), jac[1].values()))
    np.testing.assert_allclose(ns["result_from_ntk_vps"].numpy(), expected.numpy(), rtol=1e-4,
                               atol=1e-4)


ENSEMBLING = r'''
import torch
import torch.nn as nn
import torch.nn.functional as F
torch.manual_seed(0)

class SimpleMLP(nn.Module):
    def __init__(self):
        super(SimpleMLP, self).__init__()
        self.fc1 = nn.Linear(784, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = x.flatten(1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        x = F.relu(x)
        x = self.fc3(x)
        return x

device = 'cpu'
num_models = 4

data = torch.randn(10, 8, 1, 28, 28, device=device)
targets = torch.randint(10, (80,), device=device)

models = [SimpleMLP().to(device) for _ in range(num_models)]

minibatches = data[:num_models]
predictions_diff_minibatch_loop = [model(minibatch) for model, minibatch in zip(models, minibatches)]

minibatch = data[0]
predictions2 = [model(minibatch) for model in models]

from torch.func import stack_module_state

params, buffers = stack_module_state(models)

from torch.func import functional_call
import copy

base_model = copy.deepcopy(models[0])
base_model = base_model.to('meta')

def fmodel(params, buffers, x):
    return functional_call(base_model, (params, buffers), (x,))

print([p.size(0) for p in params.values()]) # show the leading 'num_models' dimension

assert minibatches.shape == (num_models, 8, 1, 28, 28) # verify minibatch has leading dimension of size 'num_models'

from torch import vmap

predictions1_vmap = vmap(fmodel)(params, buffers, minibatches)

assert torch.allclose(predictions1_vmap, torch.stack(predictions_diff_minibatch_loop), atol=1e-3, rtol=1e-5)

predictions2_vmap = vmap(fmodel, in_dims=(0, 0, None))(params, buffers, minibatch)

assert torch.allclose(predictions2_vmap, torch.stack(predictions2), atol=1e-3, rtol=1e-5)

from torch.utils.benchmark import Timer
without_vmap = Timer(
    stmt="[model(minibatch) for model, minibatch in zip(models, minibatches)]",
    globals=globals())
with_vmap = Timer(
    stmt="vmap(fmodel)(params, buffers, minibatches)",
    globals=globals())
print(f'Predictions without vmap {without_vmap.timeit(3)}')
print(f'Predictions with vmap {with_vmap.timeit(3)}')
'''


def test_ensembling():
    ns = run(ENSEMBLING)
    assert all(p.device.type == "meta" for p in ns["base_model"].parameters())
    assert tuple(ns["predictions1_vmap"].shape) == (4, 8, 10)
    assert tuple(ns["predictions2_vmap"].shape) == (4, 8, 10)
    # model i of the vmapped ensemble is models[i], on its own minibatch
    for i, model in enumerate(ns["models"]):
        x = ns["minibatches"][i].flatten(1).numpy()
        for layer in (model.fc1, model.fc2):
            x = np.maximum(x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy(), 0)
        x = x @ model.fc3.weight.detach().numpy().T + model.fc3.bias.detach().numpy()
        np.testing.assert_allclose(ns["predictions1_vmap"][i].detach().numpy(), x, rtol=1e-4, atol=1e-5)
