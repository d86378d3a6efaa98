"""tests/test_scientific_gaps_s20.py's behaviours against real PyTorch: whether the func
transforms' results require grad in and out of ``no_grad`` (for inputs that do and do not),
with their values; Parameter subclasses taking their own constructor arguments."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def _transforms(lib, x):
    """(name, result) of each transform of x -> x^3 at ``x``, in the current grad mode."""
    func = lib.func
    cube = lambda v: v ** 3  # noqa: E731
    ones = lib.ones(2, dtype=x.dtype)
    output, vjp_fn = func.vjp(cube, x)
    primal, tangent = func.jvp(cube, (x,), (ones,))
    linearized, jvp_fn = func.linearize(cube, x)
    return [("vjp_output", output), ("vjp", vjp_fn(ones)[0]), ("jvp_output", primal),
            ("jvp", tangent), ("grad", func.grad(lambda v: cube(v).sum())(x)),
            ("jacrev", func.jacrev(cube)(x)), ("linearize_output", linearized),
            ("linearize", jvp_fn(ones))]


def _results(lib, no_grad: bool, requires_grad: bool) -> dict:
    x = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=requires_grad)
    if no_grad:
        with lib.no_grad():
            transformed = _transforms(lib, x)
    else:
        transformed = _transforms(lib, x)
    return {name: (r.requires_grad, r.detach().numpy()) for name, r in transformed}


@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("no_grad", [True, False])
def test_transform_results_require_grad_as_in_torch(no_grad, requires_grad):
    got = _results(ember, no_grad, requires_grad)
    expected = _results(torch, no_grad, requires_grad)
    assert sorted(got) == sorted(expected)
    for name, (expected_flag, expected_value) in expected.items():
        flag, value = got[name]
        assert flag == expected_flag, name
        np.testing.assert_allclose(value, expected_value, rtol=1e-15, err_msg=name)


def _vjp_fn_across_modes(lib) -> list[bool]:
    """requires_grad of the result of a vjp_fn made with grad, called in each grad mode (one
    made under no_grad and called with grad is left out: PyTorch's answer there depends on
    which tensors the function's backward formulas save)."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    _, vjp_fn = lib.func.vjp(lambda v: v.exp() * v, x)
    flags = []
    for enabled in (True, False):
        with lib.set_grad_enabled(enabled):
            flags.append(vjp_fn(lib.ones(2))[0].requires_grad)
    return flags


def test_vjp_fn_follows_the_grad_mode_it_is_called_in():
    assert _vjp_fn_across_modes(ember) == _vjp_fn_across_modes(torch)


def _tagged_parameter(lib):
    class TaggedParameter(lib.nn.Parameter):
        def __new__(cls, data=None, tag=None, requires_grad=True):
            instance = lib.Tensor._make_subclass(cls, data, requires_grad)
            instance.tag = tag
            return instance

    module = lib.nn.Module()
    module.weight = TaggedParameter(lib.ones(2), tag="ball")
    weight = module.weight
    return (weight.tag, weight.requires_grad, isinstance(weight, lib.nn.Parameter),
            [name for name, _ in module.named_parameters()])


def test_parameter_subclass_arguments_as_in_torch():
    assert _tagged_parameter(ember) == _tagged_parameter(torch)
