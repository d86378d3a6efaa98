"""repr(tensor) against fixed strings printed by PyTorch 2.x, and set_printoptions."""
import pytest

import ember
from ember import arange, ones, tensor, zeros  # noqa: F401  (used by the eval'd cases)

CASES = [
    ("int", "tensor([1, 2, 3])",
     'tensor([1, 2, 3])'),
    ("int_neg", "tensor([[-100, 2], [3, 4000]])",
     'tensor([[-100,    2],\n        [   3, 4000]])'),
    ("float", "tensor([1.5, -2.25, 3.0])",
     'tensor([ 1.5000, -2.2500,  3.0000])'),
    ("int_valued_float", "tensor([1.0, -2.0, 30.0])",
     'tensor([ 1., -2., 30.])'),
    ("sci_small", "tensor([1e-5, 1.0])",
     'tensor([1.0000e-05, 1.0000e+00])'),
    ("sci_large", "tensor([1e9, 1.0])",
     'tensor([1.0000e+09, 1.0000e+00])'),
    ("sci_ratio_int", "tensor([1.0, 2000.0])",
     'tensor([1.0000e+00, 2.0000e+03])'),
    ("bool", "tensor([True, False])",
     'tensor([ True, False])'),
    ("empty", "tensor([])",
     'tensor([])'),
    ("empty_2d", "zeros(2, 0)",
     'tensor([], size=(2, 0))'),
    ("empty_int", "zeros(0, dtype=ember.int64)",
     'tensor([], dtype=torch.int64)'),
    ("zero_d_float", "tensor(3.5)",
     'tensor(3.5000)'),
    ("zero_d_int", "tensor(7)",
     'tensor(7)'),
    ("zero_d_intfloat", "tensor(2.0)",
     'tensor(2.)'),
    ("nan_inf", "tensor([float('nan'), float('inf'), -1.5])",
     'tensor([    nan,     inf, -1.5000])'),
    ("nan_only_widths_from_finite", "tensor([float('nan'), 2.0])",
     'tensor([nan, 2.])'),
    ("zeros", "zeros(2, 2)",
     'tensor([[0., 0.],\n        [0., 0.]])'),
    ("float64", "tensor([1.5, 2.0], dtype=ember.float64)",
     'tensor([1.5000, 2.0000], dtype=torch.float64)'),
    ("int32", "tensor([1, 2], dtype=ember.int32)",
     'tensor([1, 2], dtype=torch.int32)'),
    ("uint8", "tensor([1, 255], dtype=ember.uint8)",
     'tensor([  1, 255], dtype=torch.uint8)'),
    ("float16", "tensor([0.5, 1.0], dtype=ember.float16)",
     'tensor([0.5000, 1.0000], dtype=torch.float16)'),
    ("requires_grad", "ones(2, requires_grad=True)",
     'tensor([1., 1.], requires_grad=True)'),
    ("grad_fn", "ones(2, requires_grad=True) * 2",
     'tensor([2., 2.], grad_fn=<MulBackward0>)'),
    ("grad_fn_double", "ones(2, dtype=ember.float64, requires_grad=True).sum()",
     'tensor(2., dtype=torch.float64, grad_fn=<SumBackward0>)'),
    ("summarized_1d", "arange(2000)",
     'tensor([   0,    1,    2,  ..., 1997, 1998, 1999])'),
    ("summarized_2d", "arange(1100.0).reshape(100, 11) / 3",
     'tensor([[0.0000e+00, 3.3333e-01, 6.6667e-01,  ..., 2.6667e+00, 3.0000e+00,\n'
     '         3.3333e+00],\n'
     '        [3.6667e+00, 4.0000e+00, 4.3333e+00,  ..., 6.3333e+00, 6.6667e+00,\n'
     '         7.0000e+00],\n'
     '        [7.3333e+00, 7.6667e+00, 8.0000e+00,  ..., 1.0000e+01, 1.0333e+01,\n'
     '         1.0667e+01],\n'
     '        ...,\n'
     '        [3.5567e+02, 3.5600e+02, 3.5633e+02,  ..., 3.5833e+02, 3.5867e+02,\n'
     '         3.5900e+02],\n'
     '        [3.5933e+02, 3.5967e+02, 3.6000e+02,  ..., 3.6200e+02, 3.6233e+02,\n'
     '         3.6267e+02],\n'
     '        [3.6300e+02, 3.6333e+02, 3.6367e+02,  ..., 3.6567e+02, 3.6600e+02,\n'
     '         3.6633e+02]])'),
    ("wrap", "arange(30) * 1000",
     'tensor([    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,  9000,\n'
     '        10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000,\n'
     '        20000, 21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000])'),
    ("wrap_float", "arange(20.0) / 3",
     'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n'
     '        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n'
     '        6.0000, 6.3333])'),
    ("3d", "arange(12.0).reshape(2, 3, 2)",
     'tensor([[[ 0.,  1.],\n         [ 2.,  3.],\n         [ 4.,  5.]],\n\n'
     '        [[ 6.,  7.],\n         [ 8.,  9.],\n         [10., 11.]]])'),
    ("complex", "tensor([1 + 2j, -0.5 - 1j])",
     'tensor([ 1.0000+2.j, -0.5000-1.j])'),
    ("neg_zero", "tensor([-0.0, 1.5])",
     'tensor([-0.0000, 1.5000])'),
    ("precision", "tensor([0.123456789])",
     'tensor([0.1235])'),
    ("suffix_wraps", "ones(12, dtype=ember.float16, requires_grad=True) * 1.5",
     'tensor([1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000,\n'
     '        1.5000, 1.5000, 1.5000], dtype=torch.float16, grad_fn=<MulBackward0>)'),
]


@pytest.mark.parametrize("code, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_repr_matches_pytorch(code, expected):
    t = eval(code)
    assert repr(t) == expected
    assert str(t) == expected


OPTION_CASES = [
    ("precision2", "tensor([1.23456, 2.5])", {'precision': 2},
     'tensor([1.23, 2.50])'),
    ("sci_off", "tensor([1e-5, 1.0])", {'sci_mode': False},
     'tensor([0.0000, 1.0000])'),
    ("sci_on", "tensor([1.5, 2.0])", {'sci_mode': True},
     'tensor([1.5000e+00, 2.0000e+00])'),
    ("threshold", "arange(10)", {'threshold': 5},
     'tensor([0, 1, 2,  ..., 7, 8, 9])'),
    ("edgeitems", "arange(10)", {'threshold': 5, 'edgeitems': 1},
     'tensor([0,  ..., 9])'),
    ("linewidth", "arange(10.0)", {'linewidth': 30},
     'tensor([0., 1., 2., 3., 4.,\n        5., 6., 7., 8., 9.])'),
    ("short", "tensor([1.23456, 2.5])", {'profile': 'short'},
     'tensor([1.23, 2.50])'),
    ("full", "arange(1200)[:5]", {'profile': 'full'},
     'tensor([0, 1, 2, 3, 4])'),
]


@pytest.mark.parametrize("code, options, expected", [c[1:] for c in OPTION_CASES],
                         ids=[c[0] for c in OPTION_CASES])
def test_printoptions(code, options, expected):
    ember.set_printoptions(**options)
    try:
        assert repr(eval(code)) == expected
    finally:
        ember.set_printoptions(profile="default")
    assert ember.get_printoptions()["precision"] == 4


def test_printoptions_context_manager_restores():
    from ember._tensor_str import printoptions
    with printoptions(precision=1):
        assert repr(tensor([1.25])) == "tensor([1.2])"
    assert repr(tensor([1.25])) == "tensor([1.2500])"


def test_size_dtype_device_reprs():
    assert repr(ones(2, 3).size()) == "torch.Size([2, 3])"
    assert str(ones(2, 3).shape) == "torch.Size([2, 3])"
    assert repr(ember.float32) == "torch.float32" and str(ember.int64) == "torch.int64"
    assert repr(ones(2).device) == "device(type='cpu')" and str(ones(2).device) == "cpu"
    assert repr(ember.device("cuda", 1)) == "device(type='cuda', index=1)"


def test_return_types_repr():
    r = ones(2, 2).max(0)
    assert repr(r) == ("torch.return_types.max(\nvalues=tensor([1., 1.]),\n"
                       "indices=tensor([0, 0]))")
    values, indices = r
    assert r.values is values and r.indices is indices
