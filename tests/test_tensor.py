"""The Tensor API: shape queries, conversions, views and storage, indexing, __setitem__, out=,
dtype promotion and the device-mismatch error (NumPy is the oracle)."""
import numpy as np
import pytest

import ember
from ember._tensor import _make


def arange(*shape, dtype=ember.float32):
    n = int(np.prod(shape))
    return ember.arange(n, dtype=dtype).reshape(*shape)


def ref(*shape, dtype=np.float32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def test_shape_queries():
    x = arange(2, 3, 4)
    assert x.size() == (2, 3, 4) and isinstance(x.size(), ember.Size)
    assert x.size(-1) == 4 and x.shape[1] == 3 and x.dim() == 3 and x.ndim == 3
    assert x.numel() == 24 and ember.numel(x) == 24
    assert x.stride() == (12, 4, 1) and x.stride(1) == 4
    assert x.transpose(0, 2).stride() == (1, 4, 12)
    assert x.is_contiguous() and not x.transpose(1, 2).is_contiguous()
    assert x.size()[1:] == ember.Size([3, 4]) and repr(x.size()[1:]) == "torch.Size([3, 4])"
    assert x.size().numel() == 24
    with pytest.raises(IndexError):
        x.size(3)


def test_item_tolist_numpy():
    x = arange(2, 3)
    assert x[1, 2].item() == 5.0 and isinstance(x[1, 2].item(), float)
    assert ember.tensor([7]).item() == 7 and isinstance(ember.tensor([7]).item(), int)
    with pytest.raises(RuntimeError, match="a Tensor with 6 elements cannot be converted to "
                                           "Scalar"):
        x.item()
    assert x.tolist() == ref(2, 3).tolist() and ember.tensor(2.5).tolist() == 2.5
    a = x.numpy()
    a[0, 0] = 100  # shares memory
    assert x[0, 0].item() == 100
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires "
                                           "grad. Use tensor.detach\\(\\).numpy\\(\\) instead."):
        ember.ones(2, requires_grad=True).numpy()


def test_python_number_protocols():
    assert int(ember.tensor(3.7)) == 3 and float(ember.tensor([2])) == 2.0
    assert bool(ember.tensor([1])) and not bool(ember.tensor(0.0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is "
                                           "ambiguous"):
        bool(ember.ones(2))
    assert [10, 20, 30][ember.tensor(1)] == 20
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][ember.tensor(1.0)]
    assert len(ember.zeros(4, 2)) == 4
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ember.tensor(1.0))
    rows = list(arange(2, 3))
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0, 5.0]
    assert f"{ember.tensor(2.5):.2f}" == "2.50"


def test_view_shares_storage_and_infers_minus_one():
    x = arange(4, 4)
    y = x.view(16)
    z = x.view(-1, 8)
    assert z.shape == (2, 8)
    y[3] = -1
    assert x[0, 3].item() == -1 and z[0, 3].item() == -1
    assert x.view(ember.Size([2, 8])).shape == (2, 8)
    assert x.view(2, -1, 2).shape == (2, 4, 2)
    with pytest.raises(RuntimeError, match=r"shape '\[5, -1\]' is invalid for input of size 16"):
        x.view(5, -1)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)


def test_view_on_incompatible_strides_errors_reshape_copies():
    x = arange(2, 3)
    t = x.t()
    with pytest.raises(RuntimeError, match=r"view size is not compatible with input tensor's "
                                           r"size and stride \(at least one dimension spans "
                                           r"across two contiguous subspaces\). Use "
                                           r"\.reshape\(\.\.\.\) instead\."):
        t.view(6)
    r = t.reshape(6)
    r[0] = 99  # a copy: x unchanged
    assert x[0, 0].item() == 0
    np.testing.assert_array_equal(r.numpy()[1:], ref(2, 3).T.reshape(6)[1:])
    v = x.reshape(3, 2)  # contiguous: reshape is a view
    v[0, 0] = 42
    assert x[0, 0].item() == 42
    # a non-contiguous tensor can still be viewed when the split dims stay compatible
    w = arange(4, 6).t()  # (6, 4) with strides (1, 6)
    assert w.view(3, 2, 4).shape == (3, 2, 4)


def test_basic_indexing_returns_views_advanced_copies():
    x = arange(3, 4)
    for view in (x[1], x[:, 2], x[1:, ::2], x[..., 0], x[None, 1], x[1, 2]):
        assert view._data.base is not None or np.shares_memory(view._data, x._data)
    x[1][2] = -5
    assert x[1, 2].item() == -5
    s = x[0, 1]
    s.fill_(7)  # a 0-d view writes through
    assert x[0, 1].item() == 7
    adv = x[[0, 1]]
    adv[0, 0] = 1000
    assert x[0, 0].item() == 0
    m = x[x > 5]
    m[0] = 1000
    assert not (x == 1000).any()


@pytest.mark.parametrize("index", [
    0, -1, (1, 2), slice(1, 3), (slice(None), 1), (Ellipsis, 2), (None, 1), (1, None, 2),
    (slice(None, None, 2), slice(1, None)), [0, 2], ([0, 2], [1, 3]), (slice(None), [3, 0]),
    ([[0], [2]], [1, 2]), (0, Ellipsis, None),
])
def test_getitem_matches_numpy(index):
    x = arange(3, 4)
    np_index = tuple(np.array(i) if isinstance(i, list) else i for i in index) \
        if isinstance(index, tuple) else (np.array(index) if isinstance(index, list) else index)
    np.testing.assert_array_equal(x[index].numpy(), ref(3, 4)[np_index])


def test_getitem_with_tensors():
    x = arange(3, 4)
    np.testing.assert_array_equal(x[ember.tensor([2, 0])].numpy(), ref(3, 4)[[2, 0]])
    np.testing.assert_array_equal(x[x > 6].numpy(), ref(3, 4)[ref(3, 4) > 6])
    np.testing.assert_array_equal(x[ember.tensor(1)].numpy(), ref(3, 4)[1])
    np.testing.assert_array_equal(x[:, ember.tensor([True, False, True, False])].numpy(),
                                  ref(3, 4)[:, [True, False, True, False]])
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or "
                                         "bool tensors"):
        x[ember.tensor([1.0])]
    with pytest.raises(IndexError):
        x[3]


@pytest.mark.parametrize("index, value", [
    (0, 5.0), ((1, 2), -1), (slice(1, None), 9.0), ((slice(None), 1), [1.0, 2.0, 3.0]),
    (Ellipsis, 3), ((Ellipsis, 0), 3), ((None, 0), 3), ("mask", 0), ("mask", "scalar_tensor"),
    ([0, 2], "row"), (([0, 1], [1, 2]), [10.0, 20.0]), ((slice(None), [0, 3]), 0),
    ((slice(None), slice(None, None, 2)), [[1.0, 2.0]]), ("int_tensor", "col"),
])
def test_setitem_matches_numpy(index, value):
    x = arange(3, 4)
    expected = ref(3, 4)
    if isinstance(index, str) and index == "mask":
        index, np_index = x > 5, expected > 5
    elif isinstance(index, str):
        index, np_index = ember.tensor([2, 0]), np.array([2, 0])
    elif isinstance(index, list):
        np_index = np.array(index)
    elif isinstance(index, tuple):
        np_index = tuple(np.array(i) if isinstance(i, list) else i for i in index)
    else:
        np_index = index
    if value == "scalar_tensor":
        value, np_value = ember.tensor(-1.0), -1.0
    elif value == "row":
        value, np_value = ember.ones(4) * 7, np.full(4, 7.0)
    elif value == "col":
        value, np_value = ember.tensor([[1.0], [2.0]]), np.array([[1.0], [2.0]])
    elif isinstance(value, list):
        np_value = np.array(value)
        value = ember.tensor(value)
    else:
        np_value = value
    x[index] = value
    expected[np_index] = np_value
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version == 1


def test_setitem_casts_and_broadcasts():
    x = ember.zeros(2, 3, dtype=ember.int64)
    x[0] = ember.tensor([1.7, 2.2, -3.9])  # basic indexing copies with a cast, like copy_
    assert x.tolist() == [[1, 2, -3], [0, 0, 0]]
    x[:, 1] = True
    assert x[:, 1].tolist() == [1, 1]
    y = ember.zeros(2, 3)
    y[...] = ember.tensor([1.0, 2.0, 3.0])
    assert y.tolist() == [[1.0, 2.0, 3.0]] * 2


@pytest.mark.parametrize("method, dtype", [
    ("float", ember.float32), ("double", ember.float64), ("half", ember.float16),
    ("long", ember.int64), ("int", ember.int32), ("short", ember.int16), ("char", ember.int8),
    ("byte", ember.uint8), ("bool", ember.bool), ("bfloat16", ember.bfloat16),
])
def test_conversion_methods(method, dtype):
    x = ember.tensor([-1.7, 0.0, 2.5])
    y = getattr(x, method)()
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.float().numpy(), np.array([-1.7, 0.0, 2.5], np.float32)
                                  .astype(dtype.np_dtype).astype(np.float32))


def test_to_and_type():
    x = ember.ones(2)
    assert x.to(ember.float32) is x and x.float() is x
    assert x.to(ember.float64).dtype == ember.float64
    assert x.to("cpu") is x and x.to(x) is x
    assert x.to("cpu", ember.int16).dtype == ember.int16
    assert x.to(dtype=ember.int8).dtype == ember.int8
    assert x.to(ember.ones(1, dtype=ember.int64)).dtype == ember.int64
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.double().type() == "torch.DoubleTensor" and x.bool().type() == "torch.BoolTensor"
    assert x.type(ember.int32).dtype == ember.int32
    assert x.type("torch.DoubleTensor").dtype == ember.float64
    assert x.type_as(ember.ones(1, dtype=ember.int64)).dtype == ember.int64
    y = x.to(ember.float64, copy=True) if False else x.clone()
    y[0] = 5
    assert x[0].item() == 1.0


def test_clone_and_contiguous():
    x = arange(2, 3)
    c = x.clone()
    assert c is not x
    c[0, 0] = 7
    assert x[0, 0].item() == 0
    assert x.contiguous() is x
    t = x.t()
    tc = t.contiguous()
    assert tc.is_contiguous() and tc.tolist() == t.tolist()


def test_legacy_typed_constructors():
    assert ember.FloatTensor([1, 2]).dtype == ember.float32
    assert ember.LongTensor([1.7, 2.0]).tolist() == [1, 2]
    assert ember.DoubleTensor(2, 3).shape == (2, 3)
    assert ember.ByteTensor([1]).dtype == ember.uint8
    assert ember.BoolTensor([1, 0]).tolist() == [True, False]
    assert isinstance(ember.ones(2), ember.FloatTensor)
    assert not isinstance(ember.ones(2), ember.LongTensor)
    assert isinstance(ember.ones(2, dtype=ember.int64), ember.LongTensor)
    assert ember.FloatTensor.dtype == ember.float32


def test_tensor_constructor_2017_style():
    x = ember.Tensor(4, 3)
    assert x.shape == (4, 3) and x.dtype == ember.float32
    assert ember.Tensor([[1, 2]]).dtype == ember.float32
    assert ember.Tensor().shape == (0,)
    assert ember.Tensor(ember.Size([2, 2])).shape == (2, 2)


def test_out_argument_resizes_and_returns_out():
    x, y = ember.rand(4, 3), ember.rand(4, 3)
    result = ember.Tensor(5, 3)
    with pytest.warns(UserWarning, match="was resized since it had shape"):
        returned = ember.add(x, y, out=result)
    assert returned is result and result.shape == (4, 3)
    np.testing.assert_allclose(result.numpy(), x.numpy() + y.numpy())
    empty = ember.empty(0)
    ember.add(x, y, out=empty)  # zero elements: resized silently
    assert empty.shape == (4, 3)
    same = ember.empty(4, 3)
    ptr = same.data_ptr()
    ember.mul(x, 2, out=same)  # right shape: written in place
    assert same.data_ptr() == ptr
    np.testing.assert_allclose(same.numpy(), x.numpy() * 2)
    d = ember.zeros(4, 3, dtype=ember.float64)
    ember.add(x, y, out=d)
    assert d.dtype == ember.float64
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        ember.add(x, 1.5, out=ember.zeros(4, 3, dtype=ember.int64))
    with pytest.raises(RuntimeError, match=r"^mul\(\): functions with out=... arguments don't "
                                           r"support automatic differentiation"):
        ember.mul(ember.ones(2, requires_grad=True), 2, out=ember.zeros(2))


@pytest.mark.parametrize("a, b, expected", [
    (ember.int64, ember.float32, ember.float32), (ember.int32, ember.int64, ember.int64),
    (ember.uint8, ember.int8, ember.int16), (ember.bool, ember.int32, ember.int32),
    (ember.float16, ember.bfloat16, ember.float32), (ember.float32, ember.float64, ember.float64),
    (ember.int64, ember.complex64, ember.complex64),
    (ember.float64, ember.complex64, ember.complex128),
])
def test_tensor_tensor_promotion(a, b, expected):
    assert ember.promote_types(a, b) == expected
    assert (ember.ones(2, dtype=a) + ember.ones(2, dtype=b)).dtype == expected


def test_scalar_and_zero_dim_promotion():
    f32 = ember.ones(2)
    i64 = ember.ones(2, dtype=ember.int64)
    assert (f32 * 2.5).dtype == ember.float32  # Python floats never upcast
    assert (f32 * np.float64(2.0)).dtype == ember.float32
    assert (i64 * 2.5).dtype == ember.float32  # the default dtype
    assert (i64 * 2).dtype == ember.int64
    assert (ember.ones(2, dtype=ember.uint8) + 100).dtype == ember.uint8
    assert (f32 + ember.tensor(1.0, dtype=ember.float64)).dtype == ember.float32  # 0-d loses
    assert (i64 + ember.tensor(1.0, dtype=ember.float64)).dtype == ember.float64  # category wins
    assert (ember.ones(2, dtype=ember.bool) + True).dtype == ember.bool
    assert (i64 / 2).dtype == ember.float32
    assert (f32 * (1 + 1j)).dtype == ember.complex64
    assert ember.result_type(i64, 1.0) == ember.float32


def test_bool_subtraction_errors():
    m = ember.tensor([True, False])
    with pytest.raises(RuntimeError, match="with two bool tensors is not supported"):
        m - m
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        1 - m
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        ember.ones(2) - m


class _FakeCudaArray(np.ndarray):
    """A NumPy array posing as another device's array: only its class differs."""


def test_device_mismatch_error_is_type_and_runtime_error():
    assert issubclass(ember.DeviceMismatchError, TypeError)
    assert issubclass(ember.DeviceMismatchError, RuntimeError)
    x = ember.ones(2)
    other = _make(np.ones(2, np.float32).view(_FakeCudaArray))
    for op in (lambda: x + other, lambda: other * x, lambda: ember.cat([x, other]),
               lambda: x @ other, lambda: x.add_(other)):
        with pytest.raises(TypeError, match="expected all tensors to be on the same device"):
            op()
        with pytest.raises(RuntimeError):
            op()


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU")
def test_cpu_cuda_mix_raises_device_mismatch():
    x = ember.rand(4, 3)
    y = ember.rand(4, 3).cuda()
    assert repr(ember.ones(2).cuda()) == "tensor([1., 1.], device='cuda:0')"
    with pytest.raises(ember.DeviceMismatchError):
        x + y
    with pytest.raises(TypeError):  # the seed's 2017 expectation
        x + y
    with pytest.raises(RuntimeError):  # PyTorch 2's
        y * x


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv"])
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float16", "float16"),
                                    ("int64", "int64"), ("float32", "float64"),
                                    ("int32", "float32"), ("bool", "bool")])
def test_operators_on_two_tensors_match_numpy_and_promotion(op, dtypes):
    """The operators' eager path (two tensors, no autograd) keeps PyTorch's dtype rules."""
    import operator
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 5, (2, 3)), rng.integers(1, 5, (3,))
    a = ember.tensor(x.astype(dtypes[0]))
    b = ember.tensor(y.astype(dtypes[1]))
    if op == "sub" and dtypes == ("bool", "bool"):
        with pytest.raises(RuntimeError):
            a - b
        return
    got = getattr(operator, op)(a, b)
    want_dtype = getattr(ember, op if op != "truediv" else "div")(a, b).dtype
    assert got.dtype == want_dtype
    np.testing.assert_allclose(got.double().numpy(),
                               getattr(operator, op)(x.astype(float), y.astype(float))
                               if dtypes != ("bool", "bool") else
                               getattr(operator, op)(x.astype(bool), y.astype(bool)), rtol=1e-3)


def test_operators_still_record_and_check_shapes():
    a = ember.ones(2, 3, requires_grad=True)
    out = a * ember.ones(2, 3)
    assert out.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="must match the size"):
        ember.ones(2, 3) + ember.ones(4, 5)


def test_new_factories_take_size_as_a_keyword():
    x = ember.ones(2, dtype=ember.float64)
    for make in (x.new_zeros, x.new_ones, x.new_empty):
        assert make(size=(2, 3)).shape == (2, 3) and make(3, 1).shape == (3, 1)
        assert make((4,)).dtype == ember.float64
    assert x.new_zeros(size=[2]).tolist() == [0.0, 0.0]


def test_gradients_of_meta_leaves_stay_meta():
    m = ember.randn(3, 4, device="meta", requires_grad=True)
    (m * 2).sum().backward()
    assert m.grad.device.type == "meta" and m.grad.shape == (3, 4)


def test_empty_tensors_report_contiguous_strides():
    # NumPy gives empty arrays zero strides; PyTorch reports a fresh tensor's strides
    assert ember.empty(0, 3).stride() == (3, 1)
    assert ember.zeros(2, 0, 4).stride() == (4, 4, 1)
    assert ember.empty(0, 3).is_contiguous()
