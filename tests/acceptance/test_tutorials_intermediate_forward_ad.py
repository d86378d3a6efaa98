"""Acceptance: PyTorch's forward-mode AD tutorial (intermediate_source/forward_ad_usage.py)
runs on ember, up to its custom ``Function`` with a ``jvp`` method (ember's forward mode is
double backward, so a Function without ``backward`` has no tangent) and the ``functorch``
sections. Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed.
"""

import numpy as np
from acceptance_runner import run

FORWARD_AD_USAGE = r'''
import torch
import torch.autograd.forward_ad as fwAD

primal = torch.randn(10, 10)
tangent = torch.randn(10, 10)

def fn(x, y):
    return x ** 2 + y ** 2

with fwAD.dual_level():
    dual_input = fwAD.make_dual(primal, tangent)
    assert fwAD.unpack_dual(dual_input).tangent is tangent
    dual_input_alt = fwAD.make_dual(primal, tangent.T)
    assert fwAD.unpack_dual(dual_input_alt).tangent is not tangent
    plain_tensor = torch.randn(10, 10)
    dual_output = fn(dual_input, plain_tensor)
    jvp = fwAD.unpack_dual(dual_output).tangent

assert fwAD.unpack_dual(dual_output).tangent is None
jvp_basic = jvp

import torch.nn as nn

model = nn.Linear(5, 5)
input = torch.randn(16, 5)

params = {name: p for name, p in model.named_parameters()}
tangents = {name: torch.rand_like(p) for name, p in params.items()}

with fwAD.dual_level():
    for name, p in params.items():
        delattr(model, name)
        setattr(model, name, fwAD.make_dual(p, tangents[name]))

    out = model(input)
    jvp = fwAD.unpack_dual(out).tangent

from torch.func import functional_call

model = nn.Linear(5, 5)

dual_params = {}
with fwAD.dual_level():
    for name, p in params.items():
        dual_params[name] = fwAD.make_dual(p, tangents[name])
    out = functional_call(model, dual_params, input)
    jvp2 = fwAD.unpack_dual(out).tangent

assert torch.allclose(jvp, jvp2)

class Fn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, foo):
        result = torch.exp(foo)
        ctx.result = result
        return result

    @staticmethod
    def jvp(ctx, gI):
        gO = gI * ctx.result
        del ctx.result
        return gO
'''


def test_forward_ad_usage():
    ns = run(FORWARD_AD_USAGE)
    # fn(x, y) = x**2 + y**2: its jvp along the tangent of x is 2 x t
    np.testing.assert_allclose(ns["jvp_basic"].numpy(),
                               2 * ns["primal"].numpy() * ns["tangent"].numpy(), rtol=1e-5)
    # Linear(5, 5) with dual weight and bias: the jvp is input @ dW^T + db
    t = ns["tangents"]
    expected = ns["input"].numpy() @ t["weight"].numpy().T + t["bias"].numpy()
    np.testing.assert_allclose(ns["jvp"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ns["jvp2"].numpy(), expected, rtol=1e-5, atol=1e-6)
