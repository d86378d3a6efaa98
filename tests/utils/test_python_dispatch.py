"""``TorchDispatchMode``: handlers see each primitive below autograd, as aten overloads, and
what they return is what autograd records (oracles: the same computation without a mode, and
closed forms)."""
import threading

import numpy as np
import pytest

import ember
from ember.utils._python_dispatch import (
    TorchDispatchMode,
    _get_current_dispatch_mode,
    _get_current_dispatch_mode_stack,
    _pop_mode_temporarily,
    is_in_torch_dispatch_mode,
)

aten = ember.ops.aten


class Log(TorchDispatchMode):
    """Records each op's name and what the handler saw of its output."""

    def __init__(self):
        super().__init__()
        self.ops, self.seen = [], []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops.append(str(func))
        self.seen.append((out.requires_grad, out.grad_fn) if isinstance(out, ember.Tensor)
                         else None)
        return out


def _mlp_loss(lin, x):
    return (lin(x).relu() * 2 + 1).sum()


def test_forward_ops_are_pytorch_overloads():
    ember.manual_seed(0)
    lin, x = ember.nn.Linear(3, 2), ember.randn(4, 3, requires_grad=True)
    with Log() as log:
        _mlp_loss(lin, x)
    assert log.ops == ["aten.t.default", "aten.addmm.default", "aten.relu.default",
                       "aten.mul.Tensor", "aten.add.Tensor", "aten.sum.default"]


def test_handlers_run_below_autograd_and_gradients_are_unchanged():
    ember.manual_seed(0)
    lin, x = ember.nn.Linear(3, 2), ember.randn(4, 3, requires_grad=True)
    with Log() as log:
        loss = _mlp_loss(lin, x)
    assert all(s == (False, None) for s in log.seen)  # the handler sees outputs off the graph
    assert loss.grad_fn is not None and loss.requires_grad
    loss.backward()
    got = [x.grad.clone()] + [p.grad.clone() for p in lin.parameters()]
    x.grad = None
    lin.zero_grad()
    _mlp_loss(lin, x).backward()
    want = [x.grad] + [p.grad for p in lin.parameters()]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_mode_active_in_backward_sees_gradient_matmuls():
    ember.manual_seed(0)
    lin, x = ember.nn.Linear(3, 2), ember.randn(4, 3, requires_grad=True)
    loss = _mlp_loss(lin, x)
    with Log() as log:
        loss.backward()
    assert log.ops.count("aten.mm.default") == 2  # grad of the input and of the weight


def test_returned_tensor_is_the_recorded_output():
    """As in PyTorch: the handler's result is the op's output, and an op that saves its output
    (exp) differentiates with the returned values; one that saves its inputs (mul) does not."""
    class Double(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            return out * 2 if func in (aten.exp.default, aten.mul.Tensor) else out

    x = ember.tensor([0.5, 1.0, -2.0], dtype=ember.float64, requires_grad=True)
    with Double():
        y = x.exp()
    np.testing.assert_allclose(y.detach().numpy(), 2 * np.exp(x.detach().numpy()))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.detach().numpy()))
    x.grad = None
    with Double():
        z = x * 3.0
    np.testing.assert_allclose(z.detach().numpy(), 6 * x.detach().numpy())
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_handler_may_skip_the_op_and_return_its_own_values():
    class Cached(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func == aten.sin.default:
                return ember.full_like(args[0].detach(), 7.0)
            return func(*args, **(kwargs or {}))

    x = ember.tensor([0.1, 0.2], dtype=ember.float64, requires_grad=True)
    with Cached():
        y = x.sin()
    np.testing.assert_array_equal(y.detach().numpy(), [7.0, 7.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.1, 0.2]))


def test_returned_shape_must_match_the_op():
    class Wrong(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            return out.sum() if func == aten.exp.default else out

    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"aten\.exp\.default.*shape \(\)"):
        with Wrong():
            x.exp()


def test_not_implemented_raises():
    class Refuse(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return NotImplemented

    with pytest.raises(RuntimeError, match="NotImplemented"):
        with Refuse():
            ember.ones(2) + 1


def test_modes_stack_innermost_first_and_are_off_in_their_handler():
    order = []

    class Named(TorchDispatchMode):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            order.append((self.name, _get_current_dispatch_mode()))
            return func(*args, **(kwargs or {}))

    outer, inner = Named("outer"), Named("inner")
    with outer, inner:
        assert _get_current_dispatch_mode_stack() == [outer, inner]
        ember.ones(2).neg()
    assert order == [("inner", outer), ("outer", None)]
    assert _get_current_dispatch_mode() is None and not is_in_torch_dispatch_mode()


def test_pop_mode_temporarily():
    log = Log()
    with log:
        with _pop_mode_temporarily() as popped:
            ember.ones(2).neg()
        assert popped is log
        ember.ones(2).abs()
    assert log.ops == ["aten.abs.default"]


def test_modes_are_per_thread():
    log = Log()
    with log:
        worker = threading.Thread(target=lambda: ember.ones(2).neg())
        worker.start()
        worker.join()
    assert log.ops == []


def test_func_equals_the_aten_overload():
    funcs = []

    class Keep(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            funcs.append(func)
            return func(*args, **(kwargs or {}))

    a = ember.randn(2, 2)
    with Keep():
        a @ a
        ember.nn.functional.dropout(a, 0.5)
    mm, dropout = funcs
    assert mm == aten.mm.default and mm in {aten.mm.default} and mm != aten.bmm.default
    assert mm.overloadpacket is aten.mm and mm.name() == "aten::mm.default"
    assert ember.Tag.nondeterministic_seeded in dropout.tags


def test_in_place_ops_are_their_in_place_overloads():
    """An in-place op whose backward needs the overwritten values copies them first, as
    PyTorch's autograd does (``aten.clone``); here mul_'s, for the gradient of ``w``."""
    x = ember.ones(3, requires_grad=True)
    w = ember.full((3,), 2.0, requires_grad=True)
    with Log() as log:
        y = x.clone()
        y.add_(1.0)
        y.mul_(w)
    assert log.ops == ["aten.clone.default", "aten.add_.Tensor", "aten.clone.default",
                       "aten.mul_.Tensor"]
    np.testing.assert_array_equal(y.detach().numpy(), [4.0, 4.0, 4.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])


def test_custom_ops_are_seen_whole():
    """A ``torch.library`` custom op reaches a mode as itself; its kernel's own ops run below
    the mode, unseen, and its registered gradient still applies."""
    @ember.library.custom_op("dispatch_test::twice", mutates_args=())
    def twice(x: ember.Tensor) -> ember.Tensor:
        return x * 2

    twice.register_autograd(lambda ctx, grad: grad * 2)
    x = ember.ones(3, requires_grad=True)
    with Log() as log:
        y = twice(x).sum()
    assert log.ops == ["dispatch_test.twice.default", "aten.sum.default"]
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    with Log() as log:
        twice(ember.ones(2))
    assert log.ops == ["dispatch_test.twice.default"]


def test_c_level_stack_functions():
    log = Log()
    assert ember._C._len_torch_dispatch_stack() == 0
    ember._C._push_on_torch_dispatch_stack(log)
    try:
        assert ember._C._len_torch_dispatch_stack() == 1
        assert ember._C._get_dispatch_stack_at(0) is log
        ember.ones(2).neg()
    finally:
        assert ember._C._pop_torch_dispatch_stack() is log
    assert log.ops == ["aten.neg.default"] and ember._C._len_torch_dispatch_stack() == 0
