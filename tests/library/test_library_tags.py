"""torch.library: tagged in-place and out= custom operators, alias numbering in schemas, and
opcheck's comparison of the fake kernel's strides with the real kernel's."""

import numpy as np
import pytest

import ember
from ember import Tensor
from ember.library import OpCheckError, Tag, custom_op, infer_schema, opcheck


def test_tag_names_and_values_are_pytorchs():
    assert ember.Tag is Tag
    assert (Tag.core.value, Tag.inplace.value, Tag.out.value, Tag.pt2_compliant_tag.value) == \
        (0, 6, 14, 17)
    assert repr(Tag.inplace) == "<Tag.inplace: 6>"


def test_alias_sets_are_numbered_by_position():
    def two(x: Tensor, y: Tensor) -> None:
        pass

    def third(a: Tensor, x: Tensor, y: Tensor) -> None:
        pass

    assert infer_schema(two, mutates_args={"x", "y"}) == "(Tensor(a0!) x, Tensor(a1!) y) -> ()"
    assert infer_schema(third, mutates_args={"y"}) == "(Tensor a, Tensor x, Tensor(a2!) y) -> ()"


def test_inplace_operator_returns_its_first_argument():
    @custom_op("tagtest::sin_", mutates_args={"x"}, tags=Tag.inplace)
    def sin_(x: Tensor) -> Tensor:
        x.sin_()
        return x

    assert sin_._schema == "(Tensor(a0!) x) -> Tensor(a0!)"
    x = ember.tensor([0.0, 1.0, 2.0])
    version = x._version
    assert sin_(x) is x
    np.testing.assert_allclose(x.numpy(), np.sin([0.0, 1.0, 2.0]), rtol=1e-6)
    assert x._version > version
    assert opcheck(sin_, (ember.randn(3),))["test_faketensor"] == "SUCCESS"

    @custom_op("tagtest::bad_", mutates_args={"x"}, tags=Tag.inplace)
    def bad_(x: Tensor) -> Tensor:
        return x.clone()

    with pytest.raises(RuntimeError, match="must return its first argument"):
        bad_(ember.randn(3))


def test_out_operator_returns_its_keyword_only_outputs():
    @custom_op("tagtest::sin_out", mutates_args={"out"}, tags=Tag.out)
    def sin_out(x: Tensor, *, out: Tensor) -> Tensor:
        ember.sin(x, out=out)
        return out

    assert sin_out._schema == "(Tensor x, *, Tensor(a1!) out) -> Tensor(a1!)"
    x, out = ember.randn(4), ember.empty(4)
    assert sin_out(x, out=out) is out
    np.testing.assert_allclose(out.numpy(), np.sin(x.numpy()), rtol=1e-6)
    opcheck(sin_out, (ember.randn(3),), {"out": ember.empty(3)})


def test_tag_rules_are_checked_at_registration():
    with pytest.raises(ValueError, match="exactly the first positional argument"):
        @custom_op("tagtest::second_", mutates_args={"y"}, tags=Tag.inplace)
        def second_(x: Tensor, y: Tensor) -> Tensor:
            return y
    with pytest.raises(ValueError, match="keyword-only"):
        @custom_op("tagtest::positional_out", mutates_args={"out"}, tags=Tag.out)
        def positional_out(x: Tensor, out: Tensor) -> Tensor:
            return out


def test_opcheck_compares_the_fake_kernels_strides():
    def transposed_sin(x: Tensor) -> Tensor:
        result = ember.empty_strided(x.shape, tuple(reversed(x.stride())), dtype=x.dtype)
        np.sin(x.numpy(), out=result.numpy())
        return result

    @custom_op("tagtest::strided_bad", mutates_args=(), device_types="cpu")
    def strided_bad(x: Tensor) -> Tensor:
        return transposed_sin(x)

    @strided_bad.register_fake
    def _(x):
        return ember.empty_like(x)

    with pytest.raises(OpCheckError, match="strides"):
        opcheck(strided_bad, (ember.randn(2, 3),))

    @custom_op("tagtest::strided", mutates_args=(), device_types="cpu")
    def strided(x: Tensor) -> Tensor:
        return transposed_sin(x)

    @strided.register_fake
    def _(x):
        return ember.empty_strided(x.shape, tuple(reversed(x.stride())), dtype=x.dtype)

    opcheck(strided, (ember.randn(2, 3),))
