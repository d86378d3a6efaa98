"""The __torch_function__ protocol (ember.overrides): Tensor subclasses keep their type through
ops, handlers see every public call, modes intercept, switches disable. Oracles: the behaviour
PyTorch documents (checked against torch itself in tests/conformance/test_overrides_vs_torch.py)
and plain-tensor results computed without any subclass."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.overrides import (
    BaseTorchFunctionMode,
    TorchFunctionMode,
    handle_torch_function,
    has_torch_function,
    resolve_name,
    wrap_torch_function,
)


@pytest.fixture(autouse=True)
def plain_functions_after_each_test():
    """Each test defines its tensor-likes (installing dispatch); afterwards the functions are
    the plain ones again, unless something else had installed dispatch before the test (e.g.
    ember.vision.tv_tensors, whose subclasses live on)."""
    installed_before = ember.overrides._installed
    yield
    if not installed_before:
        ember.overrides._uninstall()


def tagged_type():
    class Tagged(ember.Tensor):
        """A subclass with the default protocol: results come back as Tagged."""
    return Tagged


def tagged(*shape, requires_grad=False, cls=None):
    base = ember.arange(float(np.prod(shape))).reshape(shape)
    return ember.Tensor._make_subclass(cls or tagged_type(), base, requires_grad)


def test_results_keep_the_subclass():
    x = tagged(2, 3)
    Tagged = type(x)
    plain = ember.arange(6.0).reshape(2, 3)
    cases = {
        "x + 1": (x + 1, plain + 1), "1 - x": (1 - x, 1 - plain),
        "add": (ember.add(x, plain), plain + plain), "relu": (F.relu(x - 2), F.relu(plain - 2)),
        "sum": (x.sum(), plain.sum()), "index": (x[1], plain[1]), "T": (x.T, plain.T),
        "cat": (ember.cat([plain, x]), ember.cat([plain, plain])),
        "linear": (F.linear(x, ember.ones(4, 3)), F.linear(plain, ember.ones(4, 3))),
    }
    for name, (got, want) in cases.items():
        assert type(got) is Tagged, name
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=name)
    values, indices = ember.max(x, 1)
    assert type(values) is Tagged and type(indices) is Tagged
    assert type(x.split(1)) is tuple and all(type(p) is Tagged for p in x.split(1))
    assert x.shape == (2, 3) and type(x.shape) is ember.Size
    assert x.dim() == 2 and x.tolist() == plain.tolist()


def test_gradients_flow_through_the_subclass():
    Tagged = tagged_type()
    leaf = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    x = leaf.as_subclass(Tagged)
    assert type(x) is Tagged and not x.is_leaf and type(x.grad_fn).__name__ == "AliasBackward0"
    (x * x).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [2.0, -4.0, 6.0])


def test_make_subclass_is_a_leaf_sharing_storage():
    Tagged = tagged_type()
    base = ember.zeros(3)
    x = ember.Tensor._make_subclass(Tagged, base, True)
    assert type(x) is Tagged and x.is_leaf and x.requires_grad
    with ember.no_grad():
        base.add_(1)
    np.testing.assert_array_equal(x.detach().numpy(), [1, 1, 1])
    (x * 2).sum().backward()
    assert type(x.grad) is ember.Tensor
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_handler_sees_public_names():
    class Logged(ember.Tensor):
        calls: list = []

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            cls.calls.append(resolve_name(func))
            return super().__torch_function__(func, types, args, kwargs)

    x = ember.Tensor._make_subclass(Logged, ember.ones(2))
    _ = x + 1
    _ = ember.add(x, 1)
    _ = F.relu(x)
    _ = x.shape
    _ = ember.stack([x, x])
    assert Logged.calls == ["torch.Tensor.add", "torch.add", "torch.nn.functional.relu",
                            "torch.Tensor.shape.__get__", "torch.stack"]


def test_repr_names_the_subclass_but_not_parameter():
    assert repr(tagged(2)).startswith("Tagged([0., 1.]")
    assert repr(ember.nn.Parameter(ember.ones(1))).startswith("Parameter containing:\ntensor(")


def test_parameter_and_buffer_opt_out():
    p = ember.nn.Parameter(ember.ones(2))
    x = tagged(2)
    assert type(p * 2) is ember.Tensor
    assert type(p + x) is type(x)


def test_disable_subclass_dispatch():
    x = tagged(3)
    with ember._C.DisableTorchFunctionSubclass():
        assert type(x + 1) is ember.Tensor
    assert type(x + 1) is type(x)


def test_tensor_like_type():
    class ScalarTensor:
        """PyTorch's documented tensor-like example: implements torch.mean only."""

        def __init__(self, n, value):
            self.n, self.value = n, value

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func is ember.mean:
                return float(args[0].value)
            return NotImplemented

    assert ember.mean(ScalarTensor(5, 2)) == 2.0
    with pytest.raises(TypeError, match="Multiple dispatch failed for 'torch.sum'"):
        ember.sum(ScalarTensor(5, 2))


def test_ignored_functions_never_dispatch():
    """``torch.is_tensor`` answers for a tensor-like (False) and a Tensor subclass (True)
    without asking their handlers, as PyTorch's ignored functions do (linear_operator's
    handler raises for every function it does not implement)."""
    class Refusing:
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise NotImplementedError(f"{func} is not implemented")

    class RefusingTensor(ember.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise NotImplementedError(f"{func} is not implemented")

    assert ember.is_tensor in ember.overrides.get_ignored_functions()
    assert ember.is_tensor(Refusing()) is False
    assert ember.is_tensor(ember.ones(2).as_subclass(RefusingTensor)) is True
    with pytest.raises(NotImplementedError):
        ember.sum(Refusing())


def test_as_subclass_never_dispatches():
    """``as_subclass`` is one of PyTorch's ignored functions: a subclass instance viewed as a
    plain Tensor stays plain (MONAI's ``MetaTensor.as_tensor``), even under a refusing
    handler."""
    class RefusingTensor(ember.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise NotImplementedError(f"{func} is not implemented")

    assert ember.Tensor.as_subclass in ember.overrides.get_ignored_functions()
    refusing = ember.arange(3.0).as_subclass(RefusingTensor)
    assert type(refusing.as_subclass(ember.Tensor)) is ember.Tensor
    x = tagged(2, 3)
    plain = x.as_subclass(ember.Tensor)
    assert type(plain) is ember.Tensor and type(plain.clone()) is ember.Tensor
    np.testing.assert_array_equal(plain.numpy(), x.numpy())


def test_as_subclass_kept_under_another_name_never_dispatches(monkeypatch):
    """fastai keeps the original as ``torch.as_subclass`` and patches ``Tensor.as_subclass`` to
    call it; its subclasses' ``clone`` views themselves as plain Tensors through it, which
    would recurse forever if the original dispatched and converted the view back."""
    original = ember.Tensor.as_subclass
    monkeypatch.setattr(ember, "as_subclass", original, raising=False)
    monkeypatch.setattr(ember.Tensor, "as_subclass", lambda self, cls: original(self, cls))

    class Meta(ember.Tensor):
        def clone(self):
            return self.as_subclass(ember.Tensor).clone().as_subclass(type(self))

    assert ember.as_subclass not in ember.overrides._wrapped
    x = ember.arange(3.0).as_subclass(Meta)
    assert type(x.as_subclass(ember.Tensor)) is ember.Tensor
    assert type(x.clone()) is Meta
    np.testing.assert_array_equal(x.clone().numpy(), [0.0, 1.0, 2.0])


def test_dispatching_wrappers_keep_keyword_defaults():
    """Once dispatch is installed the public functions are wrappers; their keyword-only
    defaults stay readable (code probes ``torch.meshgrid.__kwdefaults__`` for ``indexing``)."""
    tagged_type()
    assert ember.overrides._installed and ember.meshgrid in ember.overrides._wrapped
    assert ember.meshgrid.__kwdefaults__ == {"indexing": None}
    assert ember.meshgrid(ember.arange(2), ember.arange(3), indexing="ij")[0].shape == (2, 3)


def test_more_derived_type_handles_first():
    class Base(ember.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return "base"

    class Derived(Base):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return "derived"

    b = ember.Tensor._make_subclass(Base, ember.ones(1))
    d = ember.Tensor._make_subclass(Derived, ember.ones(1))
    assert ember.add(b, d) == "derived"


def recorder():
    """A mode that records the names of the functions it sees (made inside each test: defining
    it installs dispatch, which each test's end takes away)."""
    class Recorder(TorchFunctionMode):
        def __init__(self):
            self.seen = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.seen.append(resolve_name(func))
            return func(*args, **(kwargs or {}))

    return Recorder()


def test_mode_sees_every_call_once():
    x = ember.ones(2)
    with recorder() as rec:
        y = ember.zeros(2) + x
        z = F.relu(y).sum()
    assert rec.seen == ["torch.zeros", "torch.Tensor.add", "torch.nn.functional.relu",
                        "torch.Tensor.sum"]
    assert z.item() == 2.0
    with BaseTorchFunctionMode():
        assert (x * 3).tolist() == [3.0, 3.0]


def test_mode_sees_the_functions_pooling_modules_call():
    x = ember.ones(1, 1, 4, 4)
    with recorder() as rec:
        ember.nn.MaxPool2d(2)(x)
        ember.nn.MaxUnpool1d(2)(*ember.nn.functional.max_pool1d(x[0], 2, return_indices=True))
    # (ember's F.max_pool2d is torch.max_pool2d's function, so it resolves to that name)
    assert {"torch.max_pool2d", "torch.nn.functional.max_unpool1d"} <= set(rec.seen)


def test_user_functions_join_the_protocol():
    def first_row(t):
        if has_torch_function((t,)):
            return handle_torch_function(first_row, (t,), t)
        return t[0]

    class Intercepts(ember.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return "intercepted" if func is first_row else NotImplemented

    assert first_row(ember.ones(2, 2)).tolist() == [1.0, 1.0]
    assert first_row(ember.Tensor._make_subclass(Intercepts, ember.ones(2))) == "intercepted"

    @wrap_torch_function(lambda t, scale: (t,))
    def scaled(t, scale):
        return t * scale

    assert scaled(ember.ones(1), 2).tolist() == [2.0]
    x = tagged(1)
    assert type(scaled(x, 2)) is type(x)


def test_wrapper_type_with_an_instance_method_handler():
    class MetadataTensor:
        """PyTorch's documented wrapper type: forwards every function, keeps its metadata."""

        def __init__(self, data, metadata=None, **kwargs):
            self._t = ember.as_tensor(data, **kwargs)
            self._metadata = metadata

        def __torch_function__(self, func, types, args=(), kwargs=None):
            args = [a._t if hasattr(a, "_t") else a for a in args]
            return MetadataTensor(func(*args, **(kwargs or {})), metadata=self._metadata)

    m = MetadataTensor([[1, 2], [3, 4]], metadata={"owner": "me"})
    t = ember.tensor([[1, 2], [1, 2]])
    added, multiplied = ember.add(t, m), ember.mul(t, m)
    assert added._metadata == {"owner": "me"}
    assert added._t.tolist() == [[2, 4], [4, 6]] and multiplied._t.tolist() == [[1, 4], [3, 8]]


def test_overridable_functions_and_testing_overrides():
    import inspect

    from ember.overrides import get_overridable_functions, get_testing_overrides
    table = get_overridable_functions()
    names = [f.__name__ for f in table[F]]
    assert names == sorted(names) and "relu" in names and "linear" in names
    assert ember.add in table[ember] and ember.Tensor.add in table[ember.Tensor]
    dummy = get_testing_overrides()[ember.add]
    assert dummy(ember.ones(1), 1) == -1
    assert list(inspect.signature(dummy).parameters)[:2] == ["input", "other"]


def test_dispatch_is_installed_only_once_a_tensor_like_exists():
    import subprocess
    import sys
    code = (
        "import builtins, ember, ember.overrides as o\n"
        "watch = builtins.__build_class__\n"
        "assert not o._installed and ember.add not in o._wrapped\n"
        "class Plain: pass\n"
        "class Mode(o.TorchFunctionMode):\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None): return 'mode'\n"
        "relu = ember.nn.functional.relu\n"
        "import ember.export\n"  # (its tracer is a mode class)
        "assert not o._installed and ember.nn.functional.relu is relu\n"
        "class Duck:\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None): return 'duck'\n"
        "assert o._installed and builtins.__build_class__ is not watch\n"
        "assert ember.add(ember.ones(1), Duck()) == 'duck'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
