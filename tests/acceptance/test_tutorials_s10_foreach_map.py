"""Acceptance: the "Explicit horizontal fusion with foreach_map and torch.compile" recipe
(recipes_source/foreach_map.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed: an Adam step written with
``torch._higher_order_ops.foreach_map`` (lambdas, ``torch.lerp`` and helper functions mapped
across lists of parameters, gradients and optimizer state, with scalar and 0-d tensor operands)
and ``torch._foreach_copy_``, compiled with ``torch.compile``, run against ``torch.optim.Adam``
with a tensor learning rate, and timed with ``torch.utils.benchmark.Timer.blocked_autorange``.
The recipe needs a CUDA device; here: its capability check (which exits) is dropped,
``device="cuda"`` is ``"cpu"``, and the model is 3 layers of 32x32 instead of 10 of 1024x1024.
Its closing ``assert eager_runtime > compiled_runtime`` is about Inductor's fused kernel, which
ember does not generate, so it is left out (the timings are still taken and printed).
"""
# The recipe's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
from acceptance_runner import run

import ember

SETUP = r'''
import torch

model = torch.nn.Sequential(
    *[torch.nn.Linear(32, 32, False, device="cpu") for _ in range(3)]
)
model_copy = torch.nn.Sequential(
    *[torch.nn.Linear(32, 32, False, device="cpu") for _ in range(3)]
)
input = torch.rand(32, device="cpu")

output = model(input)
output_copy = model_copy(input)

output.sum().backward()
output_copy.sum().backward()
'''

ADAM = r'''
from torch._higher_order_ops.foreach_map import foreach_map

def get_inputs(optim):
    steps = []
    params = []
    grads = []
    exp_avgs = []
    exp_avg_sqs = []
    for group in optim.param_groups:
        for p in group["params"]:
            params.append(p)
            grads.append(p.grad)
            state = optim.state[p]
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])

    return steps, params, exp_avgs, exp_avg_sqs


def update_exp_avg_sq(exp_avg_sq, grad, beta2):
    return exp_avg_sq.mul(beta2).addcmul(grad, grad, value=1 - beta2)

def update_param(param, step, exp_avg, exp_avg_sq, beta1, beta2, lr, eps):
    bias_correction1 = 1 - torch.pow(beta1, step)
    bias_correction2 = (1 - torch.pow(beta2, step)).sqrt()
    step_size = (lr / bias_correction1).neg()
    denom = (exp_avg_sq.sqrt() / (bias_correction2 * step_size)).add(eps / step_size)
    return torch.add(param, torch.div(exp_avg, denom))

def foreach_map_adam(
    steps,
    params,
    exp_avgs,
    exp_avg_sqs,
    weight_decay=0,
    beta1=0.9,
    beta2=0.999,
    lr=1e-3,
    eps=1e-8,
):
    with torch.no_grad():
        grads = [param.grad for param in params]
        updated_steps = foreach_map(lambda x: x + 1, steps)
        torch._foreach_copy_(steps, updated_steps)

        if weight_decay != 0:
            foreach_map(torch.add, (grads,), alpha=weight_decay)

        exp_avgs_updated = foreach_map(torch.lerp, exp_avgs, grads, 1 - beta1)
        exp_avgs_sq_updated = foreach_map(update_exp_avg_sq, exp_avg_sqs, grads, beta2)
        params_updated = foreach_map(
            update_param,
            params,
            steps,
            exp_avgs_updated,
            exp_avgs_sq_updated,
            beta1,
            beta2,
            lr,
            eps,
        )
        torch._foreach_copy_(exp_avgs, exp_avgs_updated)
        torch._foreach_copy_(exp_avg_sqs, exp_avgs_sq_updated)
        torch._foreach_copy_(params, params_updated)
    return

opt_eager = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))
opt_eager_copy = torch.optim.Adam(model_copy.parameters(), lr=torch.tensor(0.01))

opt_eager.step()
opt_eager_copy.step()

inputs = get_inputs(opt_eager_copy)
compiled_adam = torch.compile(foreach_map_adam)

torch._logging.set_logs(output_code=True)

for _ in range(5):
    opt_eager.step()
    compiled_adam(*inputs)

for eager_p, compile_p in zip(opt_eager.param_groups[0]["params"], opt_eager_copy.param_groups[0]["params"]):
    torch.allclose(eager_p, compile_p)
'''

BENCHMARK = r'''
import torch.utils.benchmark as benchmark

def benchmark_torch_function_in_microseconds(f, *args, **kwargs):
    t0 = benchmark.Timer(
        stmt="f(*args, **kwargs)", globals={"args": args, "kwargs": kwargs, "f": f}
    )
    return t0.blocked_autorange().mean * 1e6

eager_runtime = benchmark_torch_function_in_microseconds(opt_eager.step)
compiled_runtime = benchmark_torch_function_in_microseconds(lambda: compiled_adam(*inputs))

print(f"eager runtime: {eager_runtime}us")
print(f"compiled runtime: {compiled_runtime}us")
'''


def _adam(p, g, lrs, eps=1e-8, beta1=0.9, beta2=0.999):
    """NumPy Adam on a constant gradient, one step per entry of ``lrs``."""
    m, v = np.zeros_like(g), np.zeros_like(g)
    for t, lr in enumerate(lrs, 1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return p, m, v


def test_foreach_map_adam_is_adam():
    ns = run(SETUP)
    start, grads = ({name: [getattr(p, attr).detach().numpy().astype(np.float64)
                            for p in ns[name].parameters()] for name in ("model", "model_copy")}
                    for attr in ("data", "grad"))
    ns = run(ADAM, ns)
    # model_copy: one torch.optim.Adam step (lr 0.01), then five steps of the recipe's Adam
    # (its default lr, 1e-3), on the gradient of the one backward pass.
    for p0, g, p, (step, _, m, v) in zip(start["model_copy"], grads["model_copy"],
                                         ns["model_copy"].parameters(), zip(*ns["inputs"])):
        want_p, want_m, want_v = _adam(p0, g, [0.01] + [1e-3] * 5)
        assert step.item() == 6.0
        np.testing.assert_allclose(m.numpy(), want_m, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(v.numpy(), want_v, rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(p.detach().numpy(), want_p, rtol=1e-5, atol=1e-6)
    # model: six torch.optim.Adam steps at lr 0.01 (a tensor).
    for p0, g, p in zip(start["model"], grads["model"], ns["model"].parameters()):
        np.testing.assert_allclose(p.detach().numpy(), _adam(p0, g, [0.01] * 6)[0], rtol=1e-5,
                                   atol=1e-6)
    assert ember._logging._settings == {"output_code": True}
    ns = run(BENCHMARK, ns)
    out = ns["_stdout"]
    assert "eager runtime: " in out and "compiled runtime: " in out
