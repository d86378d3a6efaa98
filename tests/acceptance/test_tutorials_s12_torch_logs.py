"""Acceptance: the "Using TORCH_LOGS python API with torch.compile" recipe
(recipes_source/torch_logs.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed; otherwise unchanged.
The recipe turns on compiler logs (dynamo tracing, the traced graph, fusion decisions, output
code) around calls of a compiled function; PyTorch writes those through ``logging`` to stderr,
and ember, which compiles nothing, has none to write. What the recipe itself prints (its
separators) and the compiled function's results are what is compared.
"""

import sys

from acceptance_runner import run
from torch_runner import run_torch

TORCH_LOGS = r"""
import logging

import torch

@torch.compile()
def fn(x, y):
    z = x + y
    return z + 2


inputs = (torch.ones(2, 2), torch.zeros(2, 2))


def separator(name):
    print(f"==================={name}=========================")
    torch._dynamo.reset()


separator("Dynamo Tracing")
torch._logging.set_logs(dynamo=logging.DEBUG)
fn(*inputs)

separator("Traced Graph")
torch._logging.set_logs(graph=True)
fn(*inputs)

separator("Fusion Decisions")
torch._logging.set_logs(fusion=True)
fn(*inputs)

separator("Output Code")
torch._logging.set_logs(output_code=True)
fn(*inputs)

separator("")
"""

SEPARATORS = ["=" * 19 + name + "=" * 25
              for name in ("Dynamo Tracing", "Traced Graph", "Fusion Decisions", "Output Code", "")]


def test_torch_logs_recipe_runs():
    ns = run(TORCH_LOGS)
    assert ns["_stdout"].splitlines() == SEPARATORS
    assert ns["fn"](*ns["inputs"]).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    # the last set_logs call is what is in force, as in PyTorch
    assert ns["torch"]._logging._settings == {"output_code": True}
    ns["torch"]._logging.set_logs()


def test_torch_logs_recipe_prints_what_torch_prints():
    ours = run(TORCH_LOGS)["_stdout"]
    try:
        theirs = run_torch(TORCH_LOGS)  # skips without PyTorch
    finally:
        if "torch._logging" in sys.modules:  # PyTorch's log settings are process-wide
            sys.modules["torch._logging"].set_logs()
    assert ours == theirs["_stdout"]
