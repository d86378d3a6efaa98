"""MaskedTensor takes the element types PyTorch's does: bfloat16, complex and unsigned data are
refused with a TypeError, at creation and in any operation whose result would hold them."""
import warnings

import pytest

import ember

warnings.filterwarnings("ignore", "The PyTorch API of MaskedTensors")

X = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
MASK = ember.tensor([[True, False, True], [False, False, True]])


@pytest.mark.parametrize("dtype", [ember.bfloat16, ember.uint8, ember.complex64])
def test_refused_at_creation(dtype):
    from ember.masked import as_masked_tensor, masked_tensor
    for make in (masked_tensor, as_masked_tensor, ember.masked.MaskedTensor):
        with pytest.raises(TypeError, match=f"{dtype} is not supported in MaskedTensor"):
            make(X.to(dtype), MASK)


def test_mask_dtype_is_checked_first():
    from ember.masked import masked_tensor
    with pytest.raises(TypeError, match="mask must have dtype bool"):
        masked_tensor(X.bfloat16(), MASK.int())
    with pytest.raises(TypeError, match="bfloat16 is not supported"):
        masked_tensor(X.bfloat16(), MASK[0])  # before the shape check


@pytest.mark.parametrize("convert", [lambda m: m.to(ember.bfloat16), lambda m: m.bfloat16(),
                                     lambda m: m.byte()])
def test_refused_by_conversions(convert):
    from ember.masked import masked_tensor
    with pytest.raises(TypeError, match="is not supported in MaskedTensor"):
        convert(masked_tensor(X, MASK))


@pytest.mark.parametrize("dtype", [ember.float16, ember.float64, ember.int8, ember.int16,
                                   ember.int32, ember.int64, ember.bool])
def test_supported_dtypes(dtype):
    from ember.masked import masked_tensor
    mt = masked_tensor(X.to(dtype), MASK)
    assert mt.dtype is dtype
    assert mt.clone().dtype is dtype
