"""What pytorch_optimizer and spikingjelly needed from ember: ``addcdiv_`` rounding as PyTorch
rounds it, ``torch.utils._foreach_utils``, ``Optimizer._patch_step_function`` (for wrappers
that skip ``Optimizer.__init__``), ``torch._subclasses.fake_tensor.unset_fake_temporarily``,
and ``torch.library.triton_op`` with kernels registered for an Autograd dispatch key
(``torch.nn.common_types`` is tested in tests/nn/test_common_types_s20.py). Oracles: NumPy and
PyTorch's documented semantics (tests/conformance/test_diffusion_optim_snn_gaps_s20_vs_torch.py
runs the same calls on PyTorch)."""
from __future__ import annotations

import itertools
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember.library import Library, triton_op
from ember.utils._foreach_utils import _group_tensors_by_device_and_dtype, _has_foreach_support

_NAMES = itertools.count()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_addcdiv_in_place_rounds_like_value_times_numerator_over_denominator(dtype):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 500)).astype(dtype)
    c = rng.uniform(0.1, 2.0, size=500).astype(dtype)
    value = -0.37
    expected = a + (dtype(value) * b) / c   # PyTorch's order: (value * t1) / t2, then the sum
    x = ember.tensor(a)
    x.addcdiv_(ember.tensor(b), ember.tensor(c), value=value)
    np.testing.assert_array_equal(x.numpy(), expected)
    out_of_place = ember.addcdiv(ember.tensor(a), ember.tensor(b), ember.tensor(c), value=value)
    np.testing.assert_array_equal(out_of_place.numpy(), expected)


def test_group_tensors_by_device_and_dtype():
    a, c = ember.zeros(2), ember.ones(3)
    b = ember.zeros(2, dtype=ember.float64)
    d, e = ember.ones(3, dtype=ember.float64), ember.ones(2)
    groups = _group_tensors_by_device_and_dtype([[a, b, c], [None, d, e]], with_indices=True)
    cpu = ember.device("cpu")
    assert list(groups) == [(cpu, ember.float32), (cpu, ember.float64)]
    (first, second), indices = groups[(cpu, ember.float32)]
    assert first[0] is a and first[1] is c and second[0] is None and second[1] is e
    assert indices == [0, 2]
    (first, second), indices = groups[(cpu, ember.float64)]
    assert first == [b] and second[0] is d and indices == [1]
    # without indices each group's index list stays empty, and so does an empty list
    for lists, indices in _group_tensors_by_device_and_dtype([[a, b, c], []]).values():
        assert indices == [] and lists[1] == []


def test_has_foreach_support_takes_plain_tensors_and_none():
    cpu = ember.device("cpu")
    assert _has_foreach_support([ember.ones(2), None], cpu)
    assert not _has_foreach_support([ember.nn.Parameter(ember.ones(2))], cpu)


class _Wrapper(ember.optim.Optimizer):
    """An optimizer wrapper in pytorch_optimizer's Lookahead style: it skips
    ``Optimizer.__init__``, makes its own hook dicts and patches ``step``."""

    def __init__(self, inner):
        self.inner = inner
        self.param_groups = inner.param_groups
        self.state = inner.state
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._patch_step_function()

    def step(self, closure=None):
        return self.inner.step(closure)


def test_patch_step_function_runs_the_step_hooks_of_a_wrapper():
    param = ember.nn.Parameter(ember.ones(2))
    wrapper = _Wrapper(ember.optim.SGD([param], lr=0.5))
    calls = []
    wrapper.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    wrapper.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    param.grad = ember.ones(2)
    wrapper.step()
    assert calls == ["pre", "post"]
    np.testing.assert_array_equal(param.detach().numpy(), [0.5, 0.5])
    assert wrapper._zero_grad_profile_name == "Optimizer.zero_grad#_Wrapper.zero_grad"


def test_patch_step_function_hooks_a_step_assigned_after_the_class():
    class Late(_Wrapper):
        pass

    Late.step = lambda self, closure=None: self.inner.step(closure)  # not hooked yet
    wrapper = Late(ember.optim.SGD([ember.nn.Parameter(ember.ones(1))], lr=0.1))
    calls = []
    wrapper.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    wrapper.step()
    assert calls == ["post"]


def test_unset_fake_temporarily_yields_no_mode():
    from ember._subclasses.fake_tensor import unset_fake_temporarily
    with unset_fake_temporarily() as mode:
        assert mode is None


def _scale_op():
    """A triton_op (x * 2) whose CPU kernel gives x * 3 and whose AutogradCPU kernel gives
    x * 5, so each result tells which kernel ran."""
    name = f"s20test{next(_NAMES)}"

    def twice(x: ember.Tensor) -> ember.Tensor:
        return x * 2
    op = triton_op(f"{name}::scale", twice, mutates_args=())
    library = Library(name, "FRAGMENT")
    library.impl("scale", lambda x: x * 3, "CPU")
    library.impl("scale", lambda x: x * 5, "AutogradCPU")
    return op, getattr(ember.ops, name).scale


def test_autograd_key_kernel_runs_outside_inference_mode_and_records_the_graph():
    op, overload_packet = _scale_op()
    assert op(ember.ones(2)).tolist() == [5.0, 5.0]
    assert overload_packet(ember.ones(2)).tolist() == [5.0, 5.0]
    x = ember.ones(2, requires_grad=True)
    y = op(x)
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]   # the graph of x * 5, no registered formula needed
    with ember.no_grad():
        assert op(x).tolist() == [5.0, 5.0]
    with ember.inference_mode():   # below autograd: the CPU kernel
        assert op(ember.ones(2)).tolist() == [3.0, 3.0]


def test_triton_op_function_is_its_fake_kernel():
    op, _ = _scale_op()
    out = op(ember.ones(2, 3, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 3)
