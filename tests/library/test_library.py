"""ember.library (torch.library): custom operators with kernels per device, fake kernels for
meta tensors, gradient formulas, mutation declarations, schemas and opcheck. Oracles: NumPy for
values, gradcheck for gradients, and the schema strings PyTorch infers for the same functions."""
from typing import Optional, Sequence

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.library import OpCheckError, custom_op, infer_schema, opcheck

_COUNT = iter(range(10_000))


def _name(base: str) -> str:
    """A fresh operator name (the registry is process-wide, as PyTorch's)."""
    return f"embertest::{base}_{next(_COUNT)}"


def _cube_op():
    @custom_op(_name("cube"), mutates_args=())
    def cube(x: ember.Tensor) -> ember.Tensor:
        return ember.from_numpy(x.numpy() ** 3)

    @cube.register_fake
    def _(x):
        return ember.empty_like(x)

    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x

    cube.register_autograd(backward, setup_context=setup_context)
    return cube


def test_forward_gradient_and_node_name():
    cube = _cube_op()
    x = ember.tensor([1.0, -2.0, 0.5], dtype=ember.float64, requires_grad=True)
    y = cube(x)
    np.testing.assert_allclose(y.detach().numpy(), [1.0, -8.0, 0.125])
    assert type(y.grad_fn).__name__ == \
        f"GeneratedBackwardFor_embertest_{cube.__name__}_defaultBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0, 0.75])
    assert gradcheck(cube, (ember.randn(4, dtype=ember.float64, requires_grad=True),))


def test_ops_namespace_and_meta_tensors():
    cube = _cube_op()
    packet = getattr(ember.ops.embertest, cube.__name__)
    assert packet(ember.tensor([2.0])).item() == 8.0
    assert packet.default(ember.tensor([3.0])).item() == 27.0
    meta = cube(ember.empty(2, 3, device="meta"))
    assert meta.device.type == "meta" and tuple(meta.shape) == (2, 3)
    with pytest.raises(AttributeError):
        _ = ember.ops.embertest.no_such_op


def test_backward_without_formula_raises():
    @custom_op(_name("twice"), mutates_args=())
    def twice(x: ember.Tensor) -> ember.Tensor:
        return x * 2

    y = twice(ember.ones(2, requires_grad=True))
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="no autograd formula was registered"):
        y.sum().backward()


def test_mutation_bumps_the_version_and_per_device_kernels():
    @custom_op(_name("fill_sin"), mutates_args={"out"}, device_types="cpu")
    def fill_sin(x: ember.Tensor, out: ember.Tensor) -> None:
        np.sin(x.numpy(), out=out.numpy())

    x, out = ember.randn(5), ember.empty(5)
    version = out._version
    assert fill_sin(x, out) is None
    np.testing.assert_allclose(out.numpy(), np.sin(x.numpy()), rtol=1e-6)
    assert out._version > version

    @fill_sin.register_kernel("cpu")
    def _(x, out):
        out.numpy()[...] = -1.0

    fill_sin(x, out)
    assert out.tolist() == [-1.0] * 5


def test_infer_schema_matches_pytorchs_strings():
    T = ember.Tensor

    def a(pic: T, box: Sequence[int], s: float, flag: bool, o: Optional[T] = None) -> T: ...

    def b(input: T, output: T) -> None: ...

    def c(x: T) -> tuple[T, T]: ...

    assert infer_schema(a, mutates_args=()) == \
        "(Tensor pic, SymInt[] box, float s, bool flag, Tensor? o=None) -> Tensor"
    assert infer_schema(b, mutates_args={"output"}) == "(Tensor input, Tensor(a1!) output) -> ()"
    assert infer_schema(c, mutates_args=()) == "(Tensor x) -> (Tensor, Tensor)"
    with pytest.raises(ValueError, match="must have a type annotation"):
        infer_schema(lambda x: x, mutates_args=())


def test_opcheck_passes_good_ops_and_catches_bad_ones():
    cube = _cube_op()
    assert set(opcheck(cube, (ember.randn(3, requires_grad=True),)).values()) == {"SUCCESS"}

    @custom_op(_name("sneaky"), mutates_args=())
    def sneaky(x: ember.Tensor) -> ember.Tensor:
        x.add_(1)
        return x.clone()

    sneaky.register_fake(lambda x: ember.empty_like(x))
    with pytest.raises(OpCheckError, match="test_schema failed"):
        opcheck(sneaky, (ember.randn(3),))

    @custom_op(_name("no_fake"), mutates_args=())
    def no_fake(x: ember.Tensor) -> ember.Tensor:
        return x + 1

    result = opcheck(no_fake, (ember.randn(3),), raise_exception=False)
    assert result["test_schema"] == "SUCCESS"
    assert "no fake impl registered" in str(result["test_faketensor"])

    @custom_op(_name("wrong_fake"), mutates_args=())
    def wrong_fake(x: ember.Tensor) -> ember.Tensor:
        return x + 1

    wrong_fake.register_fake(lambda x: x.new_empty(7))
    with pytest.raises(OpCheckError, match="test_faketensor failed"):
        opcheck(wrong_fake, (ember.randn(3),))
    with pytest.raises(OpCheckError, match="test_autograd_registration failed"):
        opcheck(wrong_fake, (ember.randn(3, requires_grad=True),))


def test_library_define_and_impl():
    ns = f"emberlib{next(_COUNT)}"
    lib = ember.library.Library(ns, "DEF")
    lib.define("scale(Tensor x, float factor=2.0) -> Tensor")
    lib.impl("scale", lambda x, factor=2.0: x * factor, "CPU")
    op = getattr(ember.ops, ns).scale
    assert op(ember.ones(2)).tolist() == [2.0, 2.0]
    assert op(ember.ones(1), factor=3.0).tolist() == [3.0]
    ember.library.define(f"{ns}::shift", "(Tensor x, SymInt k) -> Tensor")

    @ember.library.impl(f"{ns}::shift", "cpu")
    def shift(x, k):
        return x + k

    assert getattr(ember.ops, ns).shift(ember.zeros(1), 4).tolist() == [4.0]
    assert "shift(Tensor x, SymInt k) -> Tensor" in getattr(ember.ops, ns).shift.default._schema
