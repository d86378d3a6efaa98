"""Acceptance: PyTorch's FX tutorials (intermediate_source/fx_conv_bn_fuser.py and
fx_profiling_tutorial.py) run on ember.

Code from pytorch/tutorials (BSD-3-Clause, the current text, whose ``fuse`` starts with
``copy.deepcopy(model)``), prose and comments removed. Reduced: ResNet-18's
input sizes (224x224 -> 32x32, batch 10/5 -> 1) and the benchmark's warm-up and iteration
counts. API calls are unchanged. The profiler tutorial imports ``tabulate`` (not a dependency of
PyTorch); when it is not installed a small stand-in with its ``tabulate(rows, headers)`` runs.
"""
# The tutorials' code is kept verbatim, long lines included.
# ruff: noqa: E501

import importlib.util

import numpy as np
import pytest
from acceptance_runner import run

import ember
import ember.testing

CONV_BN_FUSER = r'''
from typing import Type, Dict, Any, Tuple, Iterable
import copy
import torch.fx as fx
import torch
import torch.nn as nn

class WrappedBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.mod = nn.BatchNorm2d(1)
    def forward(self, x):
        return self.mod(x)

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1)
        self.bn1 = nn.BatchNorm2d(1)
        self.conv2 = nn.Conv2d(1, 1, 1)
        self.nested = nn.Sequential(
            nn.BatchNorm2d(1),
            nn.Conv2d(1, 1, 1),
        )
        self.wrapped = WrappedBatchNorm()

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.conv2(x)
        x = self.nested(x)
        x = self.wrapped(x)
        return x

model = M()

model.eval()

traced_model = torch.fx.symbolic_trace(model)
print(traced_model.graph)

def fuse_conv_bn_eval(conv, bn):
    """
    Given a conv Module `A` and an batch_norm module `B`, returns a conv
    module `C` such that C(x) == B(A(x)) in inference mode.
    """
    assert(not (conv.training or bn.training)), "Fusion only for eval!"
    fused_conv = copy.deepcopy(conv)

    fused_conv.weight, fused_conv.bias = \
        fuse_conv_bn_weights(fused_conv.weight, fused_conv.bias,
                             bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)

    return fused_conv

def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    if conv_b is None:
        conv_b = torch.zeros_like(bn_rm)
    if bn_w is None:
        bn_w = torch.ones_like(bn_rm)
    if bn_b is None:
        bn_b = torch.zeros_like(bn_rm)
    bn_var_rsqrt = torch.rsqrt(bn_rv + bn_eps)

    conv_w = conv_w * (bn_w * bn_var_rsqrt).reshape([-1] + [1] * (len(conv_w.shape) - 1))
    conv_b = (conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b

    return torch.nn.Parameter(conv_w), torch.nn.Parameter(conv_b)

def _parent_name(target : str) -> Tuple[str, str]:
    """
    Splits a ``qualname`` into parent path and last atom.
    For example, `foo.bar.baz` -> (`foo.bar`, `baz`)
    """
    *parent, name = target.rsplit('.', 1)
    return parent[0] if parent else '', name

def replace_node_module(node: fx.Node, modules: Dict[str, Any], new_module: torch.nn.Module):
    assert(isinstance(node.target, str))
    parent_name, name = _parent_name(node.target)
    setattr(modules[parent_name], name, new_module)


def fuse(model: torch.nn.Module) -> torch.nn.Module:
    model = copy.deepcopy(model)
    fx_model: fx.GraphModule = fx.symbolic_trace(model)
    modules = dict(fx_model.named_modules())

    for node in fx_model.graph.nodes:
        if node.op != 'call_module': # If our current node isn't calling a Module then we can ignore it.
            continue
        if type(modules[node.target]) is nn.BatchNorm2d and type(modules[node.args[0].target]) is nn.Conv2d:
            if len(node.args[0].users) > 1:  # Output of conv is used by other nodes
                continue
            conv = modules[node.args[0].target]
            bn = modules[node.target]
            fused_conv = fuse_conv_bn_eval(conv, bn)
            replace_node_module(node.args[0], modules, fused_conv)
            node.replace_all_uses_with(node.args[0])
            fx_model.graph.erase_node(node)
    fx_model.graph.lint()
    fx_model.recompile()
    return fx_model

fused_model = fuse(model)
print(fused_model.code)
inp = torch.randn(5, 1, 1, 1)
torch.testing.assert_allclose(fused_model(inp), model(inp))
'''

CONV_BN_RESNET = r'''
import torchvision.models as models
import time

rn18 = models.resnet18()
rn18.eval()

inp = torch.randn(1, 3, 32, 32)
output = rn18(inp)

def benchmark(model, iters=1):
    for _ in range(1):
        model(inp)
    begin = time.time()
    for _ in range(iters):
        model(inp)
    return str(time.time()-begin)

fused_rn18 = fuse(rn18)
print("Unfused time: ", benchmark(rn18))
print("Fused time: ", benchmark(fused_rn18))
jit_rn18 = torch.jit.script(fused_rn18)
print("jit time: ", benchmark(jit_rn18))
'''

PROFILER = r'''
import torch
import torch.fx
import torchvision.models as models

rn18 = models.resnet18()
rn18.eval()

input = torch.randn(1, 3, 32, 32)
output = rn18(input)

import statistics, tabulate, time
from typing import Any, Dict, List
from torch.fx import Interpreter

traced_rn18 = torch.fx.symbolic_trace(rn18)
print(traced_rn18.graph)

class ProfilingInterpreter(Interpreter):
    def __init__(self, mod : torch.nn.Module):
        gm = torch.fx.symbolic_trace(mod)
        super().__init__(gm)

        self.total_runtime_sec : List[float] = []
        self.runtimes_sec : Dict[torch.fx.Node, List[float]] = {}

    def run(self, *args) -> Any:
        t_start = time.time()
        return_val = super().run(*args)
        t_end = time.time()
        self.total_runtime_sec.append(t_end - t_start)
        return return_val

    def run_node(self, n : torch.fx.Node) -> Any:
        t_start = time.time()
        return_val = super().run_node(n)
        t_end = time.time()
        self.runtimes_sec.setdefault(n, [])
        self.runtimes_sec[n].append(t_end - t_start)
        return return_val

    def summary(self, should_sort : bool = False) -> str:
        node_summaries : List[List[Any]] = []
        mean_total_runtime = statistics.mean(self.total_runtime_sec)

        for node, runtimes in self.runtimes_sec.items():
            mean_runtime = statistics.mean(runtimes)
            pct_total = mean_runtime / mean_total_runtime * 100
            node_summaries.append(
                [node.op, str(node), mean_runtime, pct_total])

        if should_sort:
            node_summaries.sort(key=lambda s: s[2], reverse=True)

        headers : List[str] = [
            'Op type', 'Op', 'Average runtime (s)', 'Pct total runtime'
        ]
        return tabulate.tabulate(node_summaries, headers=headers)

interp = ProfilingInterpreter(rn18)
interp.run(input)
print(interp.summary(True))
'''

# Used only when the real ``tabulate`` package is not installed.
TABULATE_STAND_IN = r'''
def tabulate(rows, headers=()):
    table = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
'''


@pytest.fixture
def assert_allclose(monkeypatch):
    # torch.testing.assert_allclose (deprecated, still in PyTorch 2.x) until ember.testing has it.
    if not hasattr(ember.testing, "assert_allclose"):
        def shim(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
            ember.testing.assert_close(actual, expected, rtol=rtol, atol=atol,
                                       equal_nan=equal_nan, check_dtype=False)
        monkeypatch.setattr(ember.testing, "assert_allclose", shim, raising=False)


def test_conv_bn_fuser(assert_allclose):
    ns = run(CONV_BN_FUSER)
    out = ns["_stdout"]
    assert "call_module[target=nested.0]" in out and "call_module[target=wrapped.mod]" in out
    code = ns["fused_model"].code
    # Every BatchNorm that follows a Conv2d is folded away; nested.0 follows conv2 but conv2
    # then feeds nested.0 only, so it folds too; wrapped.mod follows nested.1 (a conv).
    assert "bn1" not in code and "nested_0" not in code and "wrapped_mod" not in code
    assert code.count("self.conv") == 2


def test_conv_bn_fuser_resnet18(assert_allclose):
    ns = run(CONV_BN_FUSER)
    ns = run(CONV_BN_RESNET, ns)
    assert "bn" not in ns["fused_rn18"].code
    with ember.no_grad():
        np.testing.assert_allclose(ns["fused_rn18"](ns["inp"]).numpy(), ns["output"].numpy(),
                                   rtol=1e-3, atol=1e-4)
    assert "jit time:" in ns["_stdout"]


def test_profiling_interpreter():
    modules = {} if importlib.util.find_spec("tabulate") else {"tabulate": TABULATE_STAND_IN}
    ns = run(PROFILER, modules=modules)
    interp = ns["interp"]
    assert len(interp.total_runtime_sec) == 1
    # One timing per executed node: the placeholder, every layer, the flatten and the output.
    assert len(interp.runtimes_sec) == len(ns["traced_rn18"].graph.nodes)
    summary = ns["_stdout"].split("Pct total runtime")[1]
    assert "call_module" in summary and "placeholder" in summary
