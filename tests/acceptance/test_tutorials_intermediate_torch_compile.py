"""Acceptance: the CPU parts of PyTorch's torch.compile tutorial
(intermediate_source/torch_compile_tutorial.py) run on ember, whose ``compile`` runs the
function eagerly.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. Not run: the
DenseNet speed-up cells (CUDA events, ``.cuda()``), the ``torch.fx.symbolic_trace`` cells (ember
has no ``torch.fx``) and the custom-backend cells (they print TorchDynamo's FX graphs). ember's
``jit.trace`` / ``jit.script`` run the function as it is, so the tutorial's "traced 1, 2" and
"traced 3" print True where PyTorch's trace is silently wrong, and ``script_f2(inp1, 3)`` works.
"""

import numpy as np
import pytest
from acceptance_runner import run

TORCH_COMPILE = r'''
import torch
import warnings

gpu_ok = False
if torch.cuda.is_available():
    device = torch.cuda.get_device_name()
    if "V100" in device or "A100" in device:
        gpu_ok = True

if not gpu_ok:
    warnings.warn(
        "GPU is not NVIDIA V100 or A100. Speedup numbers may be lower than "
        "expected."
    )

def foo(x, y):
    a = torch.sin(x)
    b = torch.cos(x)
    return a + b
opt_foo1 = torch.compile(foo)
print(opt_foo1(torch.randn(10, 10), torch.randn(10, 10)))

@torch.compile
def opt_foo2(x, y):
    a = torch.sin(x)
    b = torch.cos(x)
    return a + b
print(opt_foo2(torch.randn(10, 10), torch.randn(10, 10)))

class MyModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(100, 10)

    def forward(self, x):
        return torch.nn.functional.relu(self.lin(x))

mod = MyModule()
opt_mod = torch.compile(mod)
print(opt_mod(torch.randn(10, 100)))

import torch._dynamo
torch._dynamo.reset()

def f1(x, y):
    if x.sum() < 0:
        return -y
    return y

def test_fns(fn1, fn2, args):
    out1 = fn1(*args)
    out2 = fn2(*args)
    return torch.allclose(out1, out2)

inp1 = torch.randn(5, 5)
inp2 = torch.randn(5, 5)

traced_f1 = torch.jit.trace(f1, (inp1, inp2))
print("traced 1, 1:", test_fns(f1, traced_f1, (inp1, inp2)))
print("traced 1, 2:", test_fns(f1, traced_f1, (-inp1, inp2)))

import traceback as tb
torch._dynamo.reset()

compile_f1 = torch.compile(f1)
print("compile 1, 1:", test_fns(f1, compile_f1, (inp1, inp2)))
print("compile 1, 2:", test_fns(f1, compile_f1, (-inp1, inp2)))
print("~" * 10)

def f2(x, y):
    return x + y

inp1 = torch.randn(5, 5)
inp2 = 3

script_f2 = torch.jit.script(f2)
try:
    script_f2(inp1, inp2)
except:
    tb.print_exc()

compile_f2 = torch.compile(f2)
print("compile 2:", test_fns(f2, compile_f2, (inp1, inp2)))
print("~" * 10)

import scipy
def f3(x):
    x = x * 2
    x = scipy.fft.dct(x.numpy())
    x = torch.from_numpy(x)
    x = x * 2
    return x

inp1 = torch.randn(5, 5)
inp2 = torch.randn(5, 5)
traced_f3 = torch.jit.trace(f3, (inp1,))
print("traced 3:", test_fns(f3, traced_f3, (inp2,)))

try:
    torch.jit.script(f3)
except:
    tb.print_exc()

compile_f3 = torch.compile(f3)
print("compile 3:", test_fns(f3, compile_f3, (inp2,)))
'''


def test_torch_compile_cpu_parts():
    scipy = pytest.importorskip("scipy")
    with pytest.warns(UserWarning, match="GPU is not NVIDIA V100 or A100"):
        ns = run(TORCH_COMPILE)
    out = ns["_stdout"]
    for line in ("compile 1, 1: True", "compile 1, 2: True", "compile 2: True",
                 "compile 3: True"):
        assert line in out
    ns = run("""
x = torch.randn(4, 10)
foo_out, foo_ref = opt_foo1(x, x), torch.sin(x) + torch.cos(x)
y = torch.randn(3, 100)
mod_out, mod_ref = opt_mod(y), mod(y)
f3_out = compile_f3(inp2)
""", ns)
    np.testing.assert_allclose(ns["foo_out"].numpy(), ns["foo_ref"].numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ns["mod_out"].detach().numpy(), ns["mod_ref"].detach().numpy())
    assert (ns["mod_out"].detach().numpy() >= 0).all()
    expected = scipy.fft.dct(ns["inp2"].numpy() * 2) * 2
    np.testing.assert_allclose(ns["f3_out"].numpy(), expected, rtol=1e-5, atol=1e-5)
