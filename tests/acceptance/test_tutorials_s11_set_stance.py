"""Acceptance: the ``torch.compiler.set_stance`` recipe (recipes_source/
torch_compiler_set_stance_tutorial.py) on ember, compared with PyTorch running the same code.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed (the recipe's "prints 1"
comments kept). Not run: the "Measuring performance gains" cell, which times with
``torch.cuda.Event`` (no GPU here).
"""
# The recipe's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

from acceptance_runner import run
from torch_runner import run_torch

SET_STANCE = r'''
import torch


@torch.compile
def foo(x):
    if torch.compiler.is_compiling():
        return x + 1
    else:
        return x - 1


inp = torch.zeros(3)

print(foo(inp))  # compiled, prints 1


@torch.compiler.set_stance("force_eager")
def bar(x):
    return foo(x)


print(bar(inp))  # not compiled, prints -1

with torch.compiler.set_stance("force_eager"):
    print(foo(inp))  # not compiled, prints -1

torch.compiler.set_stance("force_eager")
print(foo(inp))  # not compiled, prints -1
torch.compiler.set_stance("default")

print(foo(inp))  # compiled, prints 1


@torch.compile
def baz(x):
    with torch.compiler.set_stance("force_eager"):
        return x + 1


try:
    baz(inp)
except Exception as e:
    print(e)


@torch.compiler.set_stance("force_eager")
def inner(x):
    return x + 1


@torch.compile
def outer(x):
    return inner(x)


try:
    outer(inp)
except Exception as e:
    print(e)


@torch.compile
def my_big_model(x):
    return torch.relu(x)


my_big_model(torch.randn(3))

with torch.compiler.set_stance("fail_on_recompile"):
    my_big_model(torch.randn(3))  # no recompilation - OK
    try:
        my_big_model(torch.randn(4))  # recompilation - error
    except Exception as e:
        print(e)


@torch.compile
def my_huge_model(x):
    if torch.compiler.is_compiling():
        return x + 1
    else:
        return x - 1


print(my_huge_model(torch.zeros(3)))  # 1

with torch.compiler.set_stance("eager_on_recompile"):
    print(my_huge_model(torch.zeros(3)))  # 1
    print(my_huge_model(torch.zeros(4)))  # -1
    print(my_huge_model(torch.zeros(3)))  # 1


@torch.compile
def my_humongous_model(x):
    return torch.sin(x, x)


try:
    with torch.compiler.set_stance("force_eager"):
        print(my_humongous_model(torch.randn(3)))
    print(my_humongous_model(torch.randn(3)))
except Exception as e:
    print(e)
'''


def test_set_stance_recipe_runs():
    out = run(SET_STANCE)["_stdout"].splitlines()
    assert out[0] == "tensor([1., 1., 1.])"  # compiled: is_compiling() is true inside
    assert out[-1] == "sin() takes 1 positional argument but 2 were given"


def test_set_stance_recipe_matches_pytorch():
    ours, theirs = run(SET_STANCE)["_stdout"], run_torch(SET_STANCE)["_stdout"]
    # PyTorch's messages name Dynamo internals: compare the printed tensors and error count
    assert [ln for ln in ours.splitlines() if ln.startswith("tensor(")] == \
        [ln for ln in theirs.splitlines() if ln.startswith("tensor(")]
    assert ours.count("forbidden callable") == theirs.count("forbidden callable") == 2
    assert "fail_on_recompile" in ours
