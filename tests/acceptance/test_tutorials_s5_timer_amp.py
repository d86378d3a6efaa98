"""Acceptance: the Timer quick start and Automatic Mixed Precision recipes run on ember, compared
with the same code run under PyTorch where the result is deterministic.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed:

- recipes_source/recipes/timer_quick_start.py: its Python cell only. The other cells time C++
  statements (``Language.CPP``) or count instructions with Callgrind (``collect_callgrind``,
  ``CallgrindStats``, ``FunctionCounts``), which need PyTorch's C++ front end and valgrind;
  ember has neither, so they are left out.
- recipes_source/recipes/amp_recipe.py: all its code, on the CPU (``device`` is ``'cpu'`` there
  when CUDA is missing). Changed: the sizes are small (a CPU test, not a GPU benchmark),
  ``make_model`` leaves out ``.cuda()`` (the recipe's one call that needs a GPU with PyTorch
  too) and the illustration loops run one epoch instead of none, so that their assertions and
  the ``unscale_`` / clipping path run. Under PyTorch, which cannot synchronize or reset CUDA
  memory statistics without CUDA, the timing helpers' two such calls are ``pass``.
"""
# The recipes' code is kept verbatim, long lines included.
# ruff: noqa: E501

import re
import warnings

import pytest
from acceptance_runner import run
from torch_runner import run_torch

import ember

# recipes/timer_quick_start.py, the Python cell
TIMER_QUICK_START = '''
import torch
from torch.utils.benchmark import Language, Timer

def measure(b_size):
    return Timer(
        "x * y",
        f"""
        x = torch.ones((128,))
        y = torch.ones(({b_size},))
        """,
    ).blocked_autorange(min_run_time=1)

print(measure(b_size=128), "\\n")
print(measure(b_size=1), "\\n")
'''


def _header(report: str) -> list[str]:
    """What a Measurement's repr shows before its numbers: the statement and the setup."""
    lines = report.strip().splitlines()[1:]  # the first names the object at its address
    return lines[:lines.index("")]


def test_timer_quick_start():
    ns = run(TIMER_QUICK_START)
    case_a, case_b = ns["_stdout"].split(" \n\n")[:2]
    # The f-string setup is indented as written in ``measure``; Timer dedents it, as PyTorch's
    # does, so it runs and its repr shows it flush.
    assert _header(case_a) == ["x * y", "setup:", "  x = torch.ones((128,))",
                               "  y = torch.ones((128,))"]
    for case in (case_a, case_b):
        assert "  Median: " in case
        assert re.search(r"\n  \d+ measurements, \d+ runs per measurement, 1 thread", case)
    m = ns["measure"](1)
    assert 0 < m.median < 1e-3 and m.number_per_run >= 1
    assert m.task_spec.setup == "x = torch.ones((128,))\ny = torch.ones((1,))"
    expected = run_torch(TIMER_QUICK_START)["_stdout"].split(" \n\n")[:2]
    assert [_header(c) for c in (case_a, case_b)] == [_header(c) for c in expected]


# recipes/amp_recipe.py
AMP_RECIPE = '''
import torch, time, gc

start_time = None

def start_timer():
    global start_time
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_max_memory_allocated()
    torch.cuda.synchronize()
    start_time = time.time()

def end_timer_and_print(local_msg):
    torch.cuda.synchronize()
    end_time = time.time()
    print("\\n" + local_msg)
    print("Total execution time = {:.3f} sec".format(end_time - start_time))
    print("Max memory used by tensors = {} bytes".format(torch.cuda.max_memory_allocated()))

def make_model(in_size, out_size, num_layers):
    layers = []
    for _ in range(num_layers - 1):
        layers.append(torch.nn.Linear(in_size, in_size))
        layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Linear(in_size, out_size))
    return torch.nn.Sequential(*tuple(layers))

batch_size = 16
in_size = 32
out_size = 32
num_layers = 3
num_batches = 4
epochs = 2

device = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.set_default_device(device)

data = [torch.randn(batch_size, in_size) for _ in range(num_batches)]
targets = [torch.randn(batch_size, out_size) for _ in range(num_batches)]

loss_fn = torch.nn.MSELoss().cuda()

net = make_model(in_size, out_size, num_layers)
opt = torch.optim.SGD(net.parameters(), lr=0.001)

start_timer()
for epoch in range(epochs):
    for input, target in zip(data, targets):
        output = net(input)
        loss = loss_fn(output, target)
        loss.backward()
        opt.step()
        opt.zero_grad() # set_to_none=True here can modestly improve performance
end_timer_and_print("Default precision:")

for epoch in range(1):
    for input, target in zip(data, targets):
        with torch.autocast(device_type=device, dtype=torch.float16):
            output = net(input)
            assert output.dtype is torch.float16

            loss = loss_fn(output, target)
            assert loss.dtype is torch.float32

        loss.backward()
        opt.step()
        opt.zero_grad() # set_to_none=True here can modestly improve performance

scaler = torch.cuda.amp.GradScaler()

for epoch in range(1):
    for input, target in zip(data, targets):
        with torch.autocast(device_type=device, dtype=torch.float16):
            output = net(input)
            loss = loss_fn(output, target)

        scaler.scale(loss).backward()

        scaler.step(opt)

        scaler.update()

        opt.zero_grad() # set_to_none=True here can modestly improve performance

use_amp = True

net = make_model(in_size, out_size, num_layers)
opt = torch.optim.SGD(net.parameters(), lr=0.001)
scaler = torch.cuda.amp.GradScaler(enabled=use_amp)

start_timer()
for epoch in range(epochs):
    for input, target in zip(data, targets):
        with torch.autocast(device_type=device, dtype=torch.float16, enabled=use_amp):
            output = net(input)
            loss = loss_fn(output, target)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad() # set_to_none=True here can modestly improve performance
end_timer_and_print("Mixed precision:")

for epoch in range(1):
    for input, target in zip(data, targets):
        with torch.autocast(device_type=device, dtype=torch.float16):
            output = net(input)
            loss = loss_fn(output, target)
        scaler.scale(loss).backward()

        scaler.unscale_(opt)

        torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=0.1)

        scaler.step(opt)
        scaler.update()
        opt.zero_grad() # set_to_none=True here can modestly improve performance

checkpoint = {"model": net.state_dict(),
              "optimizer": opt.state_dict(),
              "scaler": scaler.state_dict()}

net.load_state_dict(checkpoint["model"])
opt.load_state_dict(checkpoint["optimizer"])
scaler.load_state_dict(checkpoint["scaler"])
'''


def _run_amp(runner, lib, code: str) -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ns = runner(code)
        finally:
            lib.set_default_device(None)  # the recipe sets it process-wide
    return ns, sorted({f"{w.category.__name__}: {w.message}" for w in caught
                       if "GradScaler" in str(w.message)})


def test_amp_recipe():
    ns, warned = _run_amp(run, ember, AMP_RECIPE)
    torch = pytest.importorskip("torch")
    cpu_code = AMP_RECIPE.replace("    torch.cuda.reset_max_memory_allocated()\n", "")
    cpu_code = cpu_code.replace("    torch.cuda.synchronize()\n", "")
    expected, expected_warned = _run_amp(run_torch, torch, cpu_code)
    # GradScaler("cuda") without CUDA warns and disables itself: its calls pass through and its
    # state dict is empty, as PyTorch's.
    assert warned == expected_warned
    assert any(w.startswith("UserWarning: torch.cuda.amp.GradScaler is enabled, but CUDA is "
                            "not available.  Disabling.") for w in warned)
    for got in (ns, expected):
        assert not got["scaler"].is_enabled() and got["scaler"].get_scale() == 1.0
        assert got["checkpoint"]["scaler"] == {}
    assert ns["output"].dtype == ember.float16 and expected["output"].dtype == torch.float16
    assert ns["loss"].dtype == ember.float32 and expected["loss"].dtype == torch.float32
    assert sorted(ns["checkpoint"]["model"]) == sorted(expected["checkpoint"]["model"])
    assert all(p.dtype == ember.float32 for p in ns["net"].parameters())
    lines = [line.split("=")[0] for line in ns["_stdout"].splitlines()]
    assert lines == [line.split("=")[0] for line in expected["_stdout"].splitlines()]
    assert "Max memory used by tensors = 0 bytes" in ns["_stdout"]
