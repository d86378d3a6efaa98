"""Acceptance: the "Profiling your PyTorch Module" tutorial and the compiled-optimizer-with-LR-
scheduler recipe run on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose, comments and sample outputs removed:
- beginner_source/profiler.py: ``torch.autograd.profiler.profile(with_stack=True,
  profile_memory=True)`` around a module whose forward has two ``record_function`` ranges,
  ``key_averages(group_by_stack_n=5).table(sort_by='self_cpu_time_total', row_limit=5)``, then
  the float mask and the ``nonzero(as_tuple=True)`` rewrite. Changes: ``.cuda()`` calls are left
  out (no GPU here) and the mask is 50x50x50 instead of 500x500x500.
- recipes_source/compiling_optimizer_lr_scheduler.py: Adam with a tensor learning rate and a
  ``LinearLR`` scheduler stepped inside a ``torch.compile``-d function, then with a float
  learning rate under ``torch._logging.set_logs(recompiles=True)``. Changes: ``device="cuda"``
  is ``"cpu"``, the layers are 64 wide instead of 1024, and the CUDA capability check (which
  exits) is dropped.
"""
# The tutorials' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
from acceptance_runner import run
from torch_runner import run_torch

# beginner_source/profiler.py
PROFILER_TUTORIAL = r'''
import torch
import numpy as np
from torch import nn
import torch.autograd.profiler as profiler

class MyModule(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super(MyModule, self).__init__()
        self.linear = nn.Linear(in_features, out_features, bias)

    def forward(self, input, mask):
        with profiler.record_function("LINEAR PASS"):
            out = self.linear(input)

        with profiler.record_function("MASK INDICES"):
            threshold = out.sum(axis=1).mean().item()
            hi_idx = np.argwhere(mask.cpu().numpy() > threshold)
            hi_idx = torch.from_numpy(hi_idx)

        return out, hi_idx

model = MyModule(500, 10)
input = torch.rand(128, 500)
mask = torch.rand((50, 50, 50), dtype=torch.double)

model(input, mask)

with profiler.profile(with_stack=True, profile_memory=True) as prof:
    out, idx = model(input, mask)

print(prof.key_averages(group_by_stack_n=5).table(sort_by='self_cpu_time_total', row_limit=5))

model = MyModule(500, 10)
input = torch.rand(128, 500)
mask = torch.rand((50, 50, 50), dtype=torch.float)

model(input, mask)

with profiler.profile(with_stack=True, profile_memory=True) as prof:
    out, idx = model(input, mask)

print(prof.key_averages(group_by_stack_n=5).table(sort_by='self_cpu_time_total', row_limit=5))

class MyModule(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super(MyModule, self).__init__()
        self.linear = nn.Linear(in_features, out_features, bias)

    def forward(self, input, mask):
        with profiler.record_function("LINEAR PASS"):
            out = self.linear(input)

        with profiler.record_function("MASK INDICES"):
            threshold = out.sum(axis=1).mean()
            hi_idx = (mask > threshold).nonzero(as_tuple=True)

        return out, hi_idx


model = MyModule(500, 10)
input = torch.rand(128, 500)
mask = torch.rand((50, 50, 50), dtype=torch.float)

model(input, mask)

with profiler.profile(with_stack=True, profile_memory=True) as prof:
    out, idx = model(input, mask)

print(prof.key_averages(group_by_stack_n=5).table(sort_by='self_cpu_time_total', row_limit=5))
'''

# recipes_source/compiling_optimizer_lr_scheduler.py, the model cell
COMPILED_OPTIMIZER_MODEL = r'''
import torch

model = torch.nn.Sequential(
    *[torch.nn.Linear(64, 64, False, device="cpu") for _ in range(10)]
)
input = torch.rand(64, device="cpu")

output = model(input)

output.sum().backward()

'''

# the optimizer and scheduler cells
COMPILED_OPTIMIZER_STEPS = r'''
opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))
sched = torch.optim.lr_scheduler.LinearLR(opt, total_iters=5)

@torch.compile(fullgraph=False)
def fn():
    opt.step()
    sched.step()


for _ in range(5):
    fn()
    print(opt.param_groups[0]["lr"])

opt = torch.optim.Adam(model.parameters(), lr=0.01)
sched = torch.optim.lr_scheduler.LinearLR(opt, total_iters=5)

@torch.compile(fullgraph=False)
def fn():
    opt.step()
    sched.step()

torch._logging.set_logs(recompiles=True)

for _ in range(5):
    fn()
'''


def test_profiler_tutorial():
    ns = run(PROFILER_TUTORIAL)
    tables = ns["_stdout"].split("Self CPU time total:")
    assert len(tables) == 4  # three tables
    for table in tables[:3]:
        assert "Name" in table and "Self CPU Mem" in table and "Source Location" in table
    # the first two tables time the NumPy round trip inside MASK INDICES; every table has both
    # labelled ranges among its most expensive rows or (LINEAR PASS) below the row limit
    assert "MASK INDICES" in tables[0] and "MASK INDICES" in tables[1]
    assert "aten::gt" in tables[2] or "aten::nonzero" in tables[2]
    assert "<tutorial>" in tables[2]  # group_by_stack_n names the tutorial's lines
    names = {e.key for e in ns["prof"].key_averages()}
    assert {"LINEAR PASS", "MASK INDICES", "aten::gt", "aten::nonzero"} <= names
    out, idx = ns["out"], ns["idx"]
    mask = ns["mask"].numpy()
    threshold = out.detach().numpy().sum(1).mean()
    want = np.nonzero(mask > threshold)
    assert len(idx) == 3
    for got, expected in zip(idx, want):
        np.testing.assert_array_equal(got.numpy(), expected)


def _adam_oracle(w0: np.ndarray, grad: np.ndarray, lrs) -> np.ndarray:
    """Adam (PyTorch's defaults) stepping ``w0`` with the same gradient at each learning rate."""
    w, m, v = w0.astype(np.float64), np.zeros_like(w0, np.float64), np.zeros_like(w0, np.float64)
    for step, lr in enumerate(lrs, 1):
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w = w - lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w


def test_compiled_optimizer_with_lr_scheduler():
    ns = run(COMPILED_OPTIMIZER_MODEL)
    before = [(p.detach().numpy().copy(), p.grad.numpy().copy()) for p in ns["model"].parameters()]
    ns = run(COMPILED_OPTIMIZER_STEPS, ns)
    printed = ns["_stdout"].split()
    assert printed == ["tensor(0.0047)", "tensor(0.0060)", "tensor(0.0073)", "tensor(0.0087)",
                       "tensor(0.0100)"]
    lr = ns["opt"].param_groups[0]["lr"]
    assert isinstance(lr, float) and abs(lr - 0.01) < 1e-12
    # LinearLR from a third of the rate up to the full rate over 5 steps, twice (two fresh Adams)
    lrs = [0.01 * (1 / 3 + k * (2 / 3) / 5) for k in range(5)]
    for p, (w0, grad) in zip(ns["model"].parameters(), before):
        w = _adam_oracle(w0, grad, lrs)
        w = _adam_oracle(w, grad, lrs)
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-5, atol=1e-6)


def test_compiled_optimizer_with_lr_scheduler_matches_pytorch():
    ours = run(COMPILED_OPTIMIZER_STEPS, run(COMPILED_OPTIMIZER_MODEL))
    theirs = run_torch(COMPILED_OPTIMIZER_STEPS, run_torch(COMPILED_OPTIMIZER_MODEL))
    assert ours["_stdout"] == theirs["_stdout"]
    assert ours["sched"].get_last_lr() == theirs["sched"].get_last_lr()
    assert ours["opt"].state_dict()["param_groups"][0]["lr"] == \
        theirs["opt"].state_dict()["param_groups"][0]["lr"]
