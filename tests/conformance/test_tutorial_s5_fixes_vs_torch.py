"""Conformance of the behaviours the fifth tutorial sweep fixed, checked against real PyTorch."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _grad_warnings(lib, case: str) -> tuple[bool, object]:
    """Read ``.grad`` of a tensor set up as ``case``; return (warned, grad is None)."""
    x = lib.ones(2, 3, requires_grad=True)
    y = x * 2
    if case == "leaf":
        (y.sum()).backward()
        target = x
    elif case == "non_leaf":
        target = y
    elif case == "non_leaf_after_backward":
        y.sum().backward()
        target = y
    elif case == "retained":
        y.retain_grad()
        target = y
    elif case == "retained_after_backward":
        y.retain_grad()
        y.sum().backward()
        target = y
    elif case == "backward_inputs":
        y.sum().backward(inputs=[y])
        target = y
    elif case == "no_grad_leaf":
        target = lib.ones(2)
    elif case == "detached":
        target = y.detach()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = target.grad
    warned = any("not a leaf Tensor is being accessed" in str(w.message) for w in caught)
    return warned, grad is None


@pytest.mark.parametrize("case", ["leaf", "non_leaf", "non_leaf_after_backward", "retained",
                                  "retained_after_backward", "backward_inputs", "no_grad_leaf",
                                  "detached"])
def test_non_leaf_grad_warning_matches_torch(case):
    assert _grad_warnings(ember, case) == _grad_warnings(torch, case)


def test_grad_assignment_and_deepcopy_keep_working():
    import copy
    x = ember.ones(3, requires_grad=True)
    x.grad = ember.full((3,), 2.0)
    np.testing.assert_array_equal(copy.deepcopy(x).grad.numpy(), [2, 2, 2])
    x.grad = None
    assert x.grad is None
    assert ember.Tensor.grad.__get__(x) is None


def _double_linear(a, b):
    return a @ b + a.sum()


@pytest.mark.parametrize("as_list", [True, False])
def test_gradcheck_takes_a_list_of_inputs_as_torch_does(as_list):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def inputs(lib):
        ts = [lib.tensor(a, dtype=lib.float64, requires_grad=True),
              lib.tensor(b, dtype=lib.float64, requires_grad=True)]
        return ts if as_list else tuple(ts)

    assert torch.autograd.gradcheck(_double_linear, inputs(torch))
    assert ember.autograd.gradcheck(_double_linear, inputs(ember))
    assert ember.autograd.gradgradcheck(_double_linear, inputs(ember))


@pytest.mark.parametrize("name", ["std_mean", "var_mean"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": 1, "keepdim": True}])
def test_std_mean_and_var_mean_return_a_plain_tuple_as_torch_does(name, kwargs):
    x = np.array([[0.5, -0.25], [0.75, 0.1]], np.float32)
    ours = getattr(ember, name)(ember.tensor(x), **kwargs)
    theirs = getattr(torch, name)(torch.tensor(x), **kwargs)
    assert type(ours) is type(theirs) is tuple
    assert repr(ours).startswith("(tensor(")  # printed as a tuple, as PyTorch prints it
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
