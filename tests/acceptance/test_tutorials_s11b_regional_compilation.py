"""Acceptance: "Reducing torch.compile cold start compilation time with regional compilation"
(recipes_source/regional_compilation.py) on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. ``.cuda()`` and
``device="cuda"`` are ``'cpu'`` (no GPU here); otherwise unchanged (64 layers kept).
``measure_latency`` enters ``torch._inductor.utils.fresh_inductor_cache()`` (a no-op in
ember, which has no compile cache). The models themselves are checked: the regionally
compiled model computes what the same layers do eagerly.
"""
# The recipe's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
import pytest
from acceptance_runner import run

import ember

MODELS = r'''
import torch
import torch.nn as nn
from time import perf_counter

class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = torch.nn.Linear(10, 10)
        self.relu1 = torch.nn.ReLU()
        self.linear2 = torch.nn.Linear(10, 10)
        self.relu2 = torch.nn.ReLU()

    def forward(self, x):
        a = self.linear1(x)
        a = self.relu1(a)
        a = torch.sigmoid(a)
        b = self.linear2(a)
        b = self.relu2(b)
        return b

class Model(torch.nn.Module):
    def __init__(self, apply_regional_compilation):
        super().__init__()
        self.linear = torch.nn.Linear(10, 10)
        if apply_regional_compilation:
            self.layers = torch.nn.ModuleList([torch.compile(Layer()) for _ in range(64)])
        else:
            self.layers = torch.nn.ModuleList([Layer() for _ in range(64)])

    def forward(self, x):
        x = self.linear(x)
        for layer in self.layers:
            x = layer(x)
        return x


model = Model(apply_regional_compilation=False).to('cpu')
full_compiled_model = torch.compile(model)


regional_compiled_model = Model(apply_regional_compilation=True).to('cpu')
'''

MEASURE = r'''
def measure_latency(fn, input):
    torch.compiler.reset()
    with torch._inductor.utils.fresh_inductor_cache():
        start = perf_counter()
        fn(input)
        torch.cuda.synchronize()
        end = perf_counter()
        return end - start

input = torch.randn(10, 10, device="cpu")
full_model_compilation_latency = measure_latency(full_compiled_model, input)
print(f"Full model compilation time = {full_model_compilation_latency:.2f} seconds")

regional_compilation_latency = measure_latency(regional_compiled_model, input)
print(f"Regional compilation time = {regional_compilation_latency:.2f} seconds")
'''


@pytest.fixture(scope="module")
def models():
    ember.manual_seed(0)
    return run(MODELS)


def test_regional_and_full_compilation_compute_the_eager_model(models):
    x = ember.randn(10, 10)
    eager = models["model"](x)
    np.testing.assert_allclose(models["full_compiled_model"](x).detach().numpy(),
                               eager.detach().numpy(), rtol=1e-6)
    regional = models["regional_compiled_model"]
    assert len(regional.layers) == 64
    # The same weights in the regional model give the same result; its compiled layers hold
    # them under ``_orig_mod`` as PyTorch's OptimizedModule does.
    eager_state = models["model"].state_dict()
    keys = list(regional.state_dict())
    assert "layers.0._orig_mod.linear1.weight" in keys
    regional.load_state_dict({k: eager_state[k.replace("._orig_mod", "")] for k in keys})
    np.testing.assert_allclose(regional(x).detach().numpy(), eager.detach().numpy(),
                               rtol=1e-6)


def test_measure_latency(models):
    ns = run(MEASURE, dict(models))
    assert "Regional compilation time = " in ns["_stdout"]
