"""__torch_function__ against PyTorch: the same subclass, mode and tensor-like code run on both
libraries must give the same result types, values and handler call sequences."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def plain_functions_after_each_test():
    installed_before = ember.overrides._installed  # e.g. by ember.vision.tv_tensors
    yield
    if not installed_before:
        ember.overrides._uninstall()


def _subclass_program(lib):
    class Logged(lib.Tensor):
        calls = []

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            cls.calls.append(lib.overrides.resolve_name(func))
            return super().__torch_function__(func, types, args, kwargs)

    F = lib.nn.functional
    x = lib.Tensor._make_subclass(Logged, lib.arange(6.0).reshape(2, 3))
    w = lib.ones(4, 3)
    results = [x + 1, 2 * x, x @ w.T, lib.add(x, x), F.relu(x - 3), x.sum(1), x[0], x.T,
               lib.cat([x, w[:2, :3]]), lib.max(x, 1).values, F.linear(x, w), x.mean(),
               x.unsqueeze(0), x.reshape(3, 2), x.exp(), lib.where(x > 2, x, w[:2])]
    Logged.calls.clear()
    _ = x * 2, x.neg(), F.softmax(x, 1), lib.stack([x, x]), x.shape, x.view(6), -x
    return ([type(r).__name__ for r in results], [r.detach().numpy() for r in results],
            list(Logged.calls))


def test_subclass_types_values_and_calls_match_torch():
    got_types, got_values, got_calls = _subclass_program(ember)
    want_types, want_values, want_calls = _subclass_program(torch)
    assert got_types == want_types
    for got, want in zip(got_values, want_values):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got_calls == want_calls


def _mode_program(lib):
    from_overrides = lib.overrides

    class Recorder(from_overrides.TorchFunctionMode):
        def __init__(self):
            self.seen = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.seen.append(from_overrides.resolve_name(func))
            return func(*args, **(kwargs or {}))

    x = lib.ones(2, 2)
    with Recorder() as rec:
        y = lib.zeros(2, 2) + x
        _ = y * 2, 1 - y, y / 2, y > 1, y <= 1, y[0], y.T, y.dtype, len(y), y @ y
        _ = lib.nn.functional.relu(y).sum(), lib.cat([x, y]), lib.linalg.norm(y)
    return rec.seen


def test_mode_sees_the_calls_torch_sees():
    assert _mode_program(ember) == _mode_program(torch)


def test_tensor_like_dispatch_error_matches_torch():
    def run(lib):
        class ScalarTensor:
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return 2.0 if func is lib.mean else NotImplemented

        with pytest.raises(TypeError) as err:
            lib.sum(ScalarTensor())
        return lib.mean(ScalarTensor()), str(err.value).splitlines()[0]

    assert run(ember) == run(torch)


def test_as_subclass_aliases_like_torch():
    def run(lib):
        class Tagged(lib.Tensor):
            pass

        leaf = lib.tensor([1.0, 2.0], requires_grad=True)
        t = leaf.as_subclass(Tagged)
        (t * t).sum().backward()
        return (type(t).__name__, t.is_leaf, type(t.grad_fn).__name__, leaf.grad.tolist(),
                repr(t).split("(")[0])

    assert run(ember) == run(torch)


def test_subclass_with_its_own_new_and_init_like_torch():
    def run(lib):
        class MyTensor(lib.Tensor):
            @staticmethod
            def __new__(cls, x, extra_data, *args, **kwargs):
                return super().__new__(cls, x, *args, **kwargs)

            def __init__(self, x, extra_data):
                self.extra_data = extra_data

        class Plain(lib.Tensor):
            pass

        x = lib.ones(3)
        t = MyTensor(x, "meta")
        y = lib.ones(2, requires_grad=True)
        z = MyTensor(y, "m")
        return (type(t).__name__, t.extra_data, t.data_ptr() == x.data_ptr(),
                type(t + 1).__name__, hasattr(t + 1, "extra_data"), z.requires_grad, z.is_leaf,
                repr(Plain([1, 2])), tuple(Plain(2, 3).shape))

    assert run(ember) == run(torch)
