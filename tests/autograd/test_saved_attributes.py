"""``grad_fn._saved_<name>`` / ``grad_fn._raw_saved_<name>`` on built-in nodes, as in PyTorch's
"Hooks for autograd saved tensors" tutorial (NumPy is the oracle for values)."""
import numpy as np
import pytest

import ember
from ember.autograd.function import SavedTensor

rng = np.random.default_rng(0)


def test_saved_self_is_the_input_and_saved_result_the_output_values():
    x = ember.tensor(rng.standard_normal(5), requires_grad=True)
    y = x.pow(2)
    assert y.grad_fn._saved_self is x
    assert y.grad_fn._saved_exponent == 2
    e = x.exp()
    result = e.grad_fn._saved_result
    np.testing.assert_array_equal(result.detach().numpy(), np.exp(x.detach().numpy()))
    assert result.grad_fn is e.grad_fn  # the output itself: double backward flows into it


def test_names_are_listed_and_unknown_names_raise():
    x = ember.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    fn = (x @ w).grad_fn
    assert {"_saved_self", "_saved_mat2", "_raw_saved_self", "_raw_saved_mat2"} <= set(dir(fn))
    assert fn._saved_mat2 is w
    with pytest.raises(AttributeError, match="MmBackward0.*_saved_other"):
        fn._saved_other  # noqa: B018
    with pytest.raises(AttributeError):
        x.sum().grad_fn._raw_saved_self_sym_sizes  # noqa: B018  (not a tensor)
    assert x.sum().grad_fn._saved_self_sym_sizes == (2, 3)
    acc = (x * 2).grad_fn.next_functions[0][0]
    with pytest.raises(AttributeError):
        acc._saved_self  # noqa: B018


def test_scalar_operand_is_a_wrapped_number_tensor():
    x = ember.tensor(rng.standard_normal(3), requires_grad=True)
    other = (x * 2).grad_fn._saved_other
    assert other.dtype == ember.int64 and other.item() == 2
    assert (x / 2.5).grad_fn._saved_other.dtype == ember.float64
    assert (x * 2).grad_fn._saved_self is None


def test_register_hooks_packs_now_and_unpacks_for_backward():
    x = ember.tensor(rng.standard_normal(4), requires_grad=True)
    y = x.pow(2)
    calls = []

    def pack(t):
        calls.append("pack")
        return t.detach().numpy().copy()  # anything: the unpack hook turns it back

    def unpack(arr):
        calls.append("unpack")
        return ember.tensor(arr)
    raw = y.grad_fn._raw_saved_self
    assert isinstance(raw, SavedTensor)
    raw.register_hooks(pack, unpack)
    assert calls == ["pack"]
    with ember.no_grad():
        x.mul_(10)  # the hooks own the saved value: no version error, the old value is used
    y.sum().backward()
    assert calls == ["pack", "unpack"]
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() / 10)


def test_hooks_on_a_saved_output_feed_double_backward():
    x = ember.tensor(rng.standard_normal(3), requires_grad=True)
    y = x.exp()
    seen = []
    y.grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: seen.append(1) or t)
    (g,) = ember.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.exp(x.detach().numpy()))
    assert seen


def test_raw_unpack_and_freed_graph():
    x = ember.tensor(rng.standard_normal(3), requires_grad=True)
    y = x.sin()
    assert y.grad_fn._raw_saved_self.unpack() is x
    y.sum().backward(retain_graph=True)
    assert y.grad_fn._saved_self is x
    y.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.grad_fn._saved_self  # noqa: B018
    with pytest.raises(RuntimeError, match="second time"):
        y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)


def test_reductions_and_linear_expose_their_arguments():
    x = ember.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    fn = x.mean(1, keepdim=True).grad_fn
    assert (fn._saved_dim, fn._saved_keepdim, fn._saved_self_sym_numel) == ((1,), True, 6)
    lin = ember.nn.Linear(3, 4).double()
    fn = lin(x).grad_fn
    assert fn._saved_mat1 is x and (fn._saved_alpha, fn._saved_beta) == (1, 1)
    np.testing.assert_array_equal(fn._saved_mat2.detach().numpy(), lin.weight.detach().numpy().T)
