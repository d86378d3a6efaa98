"""The ``meta`` device without torch: factories and ``with ember.device("meta")`` give
data-free tensors of the right shape and dtype, in-place writes and initialisers keep them
meta, values cannot be read, and a huge model costs no memory until ``to_empty``."""
import numpy as np
import pytest

import ember
from ember import nn


def _root(t):
    """The array a tensor's storage is a view of (for a meta tensor, its one zero)."""
    root = t._data
    while root.base is not None:
        root = root.base
    return root


def _assert_meta(t, shape, dtype=ember.float32):
    assert t.is_meta and t.device == ember.device("meta")
    assert tuple(t.shape) == shape and t.dtype is dtype
    assert _root(t).size == 1  # no storage beyond the single zero


@pytest.mark.parametrize("make, shape, dtype", [
    (lambda: ember.empty(2, 3, device="meta"), (2, 3), ember.float32),
    (lambda: ember.zeros(2, 3, dtype=ember.int32, device="meta"), (2, 3), ember.int32),
    (lambda: ember.ones((4,), device="meta"), (4,), ember.float32),
    (lambda: ember.full((2, 2), 7, device="meta"), (2, 2), ember.int64),
    (lambda: ember.rand(3, device="meta"), (3,), ember.float32),
    (lambda: ember.randn(2, 5, dtype=ember.float64, device="meta"), (2, 5), ember.float64),
    (lambda: ember.randint(0, 9, (3, 2), device="meta"), (3, 2), ember.int64),
    (lambda: ember.randperm(6, device="meta"), (6,), ember.int64),
    (lambda: ember.arange(0, 1, 0.25, device="meta"), (4,), ember.float32),
    (lambda: ember.eye(3, 5, device="meta"), (3, 5), ember.float32),
    (lambda: ember.empty_strided((2, 3), (1, 2), device="meta"), (2, 3), ember.float32),
    (lambda: ember.zeros_like(ember.ones(2, 3), device="meta"), (2, 3), ember.float32),
    (lambda: ember.randn_like(ember.empty(4, device="meta")), (4,), ember.float32),
])
def test_factories_on_meta(make, shape, dtype):
    _assert_meta(make(), shape, dtype)


def test_meta_factories_allocate_nothing():
    # 4 * 10^12 elements: any real allocation would fail.
    for t in (ember.empty(10 ** 6, 10 ** 6, device="meta"),
              ember.randn(10 ** 6, 10 ** 6, device="meta"),
              ember.ones(10 ** 6, 10 ** 6, device="meta")):
        _assert_meta(t, (10 ** 6, 10 ** 6))


def test_meta_strides_are_contiguous():
    t = ember.empty(2, 3, 4, device="meta")
    assert t.stride() == (12, 4, 1) and t.stride(-2) == 4
    assert t._data.strides == (0, 0, 0)  # the storage stays a zero-stride view


def test_device_context_manager_sets_and_restores_the_default():
    assert ember.get_default_device() == ember.device("cpu")
    with ember.device("meta") as dev:
        assert dev.type == "meta" and ember.get_default_device() == dev
        assert ember.zeros(2).is_meta and ember.tensor([1, 2]).is_meta
        with ember.device("cpu"):
            assert not ember.zeros(2).is_meta
        layer = nn.Linear(4, 3)
        assert ember.randn(2).is_meta
    assert ember.get_default_device() == ember.device("cpu")
    assert layer.weight.is_meta and isinstance(layer.weight, nn.Parameter)
    assert not ember.zeros(2).is_meta


def test_set_default_device_meta():
    ember.set_default_device("meta")
    try:
        assert ember.get_default_device().type == "meta" and ember.rand(2).is_meta
    finally:
        ember.set_default_device(None)
    assert ember.get_default_device().type == "cpu"


def test_reading_values_raises():
    t = ember.ones(1, device="meta")
    with pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
        t.item()
    with pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
        bool(t)
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        t.tolist()
    with pytest.raises(TypeError, match="can't convert meta device type tensor to numpy"):
        t.numpy()
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        t.to("cpu")
    assert repr(t) == "tensor(..., device='meta', size=(1,))"


@pytest.mark.parametrize("op", [
    lambda t: t.nonzero(), lambda t: t[t > 0], lambda t: t.masked_select(t > 0),
    lambda t: t.unique(),
])
def test_data_dependent_shapes_raise(op):
    with pytest.raises(NotImplementedError):
        op(ember.randn(5, device="meta"))


def test_in_place_writes_and_initialisers_keep_meta():
    t = ember.empty(3, 4, device="meta")
    for fn in (lambda: t.fill_(2.0), t.zero_, t.normal_, t.uniform_, lambda: t.add_(1),
               lambda: t.copy_(ember.ones(3, 4)), lambda: nn.init.kaiming_uniform_(t),
               lambda: nn.init.xavier_normal_(t), lambda: nn.init.trunc_normal_(t),
               lambda: nn.init.constant_(t, 0.5)):
        assert fn() is t
        _assert_meta(t, (3, 4))
    with pytest.raises(RuntimeError):
        t.copy_(ember.ones(5))  # shapes are still checked


def test_shape_inference_without_values():
    x = ember.randn(8, 3, 32, 32, device="meta")
    conv = nn.Conv2d(3, 16, 3, stride=2, padding=1, device="meta")
    y = nn.functional.max_pool2d(conv(x).relu(), 2)
    _assert_meta(y, (8, 16, 8, 8))
    flat = y.flatten(1)
    out = nn.Linear(16 * 64, 10, device="meta")(flat)
    _assert_meta(out.log_softmax(-1), (8, 10))
    _assert_meta(ember.cat([out, out], 1).sum(0), (20,))
    _assert_meta(out.argmax(1), (8,), ember.int64)
    _assert_meta(out[2:5, ::2], (3, 5))
    big = ember.empty(4096, 4096, device="meta")
    _assert_meta(big @ big @ big, (4096, 4096))


def test_huge_model_on_meta_then_to_empty_and_assign():
    with ember.device("meta"):
        huge = nn.Sequential(nn.Linear(50_000, 50_000), nn.ReLU(), nn.Linear(50_000, 10))
    assert all(_root(p).size == 1 for p in huge.parameters())  # 2.5e9 parameters, no memory
    with ember.device("meta"):
        model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    state = {k: ember.arange(v.numel(), dtype=v.dtype).reshape(v.shape)
             for k, v in model.state_dict().items()}
    model.to_empty(device="cpu")
    assert not model[0].weight.is_meta and model[0].weight.requires_grad
    model.load_state_dict(state, assign=True)
    assert isinstance(model[0].weight, nn.Parameter) and model[0].weight.requires_grad
    np.testing.assert_array_equal(model[0].bias.detach().numpy(), [0.0, 1.0, 2.0])
    assert model[1].running_mean is state["1.running_mean"]


def test_load_into_meta_without_assign_warns():
    model = nn.Linear(2, 2, device="meta")
    with pytest.warns(UserWarning, match="copying from a non-meta parameter"):
        model.load_state_dict(nn.Linear(2, 2).state_dict())
    assert model.weight.is_meta


def test_complex_init_and_dtype_views_on_meta():
    t = ember.empty(2, 3, dtype=ember.complex64, device="meta")
    assert t.uniform_() is t and t.normal_() is t
    _assert_meta(t, (2, 3), ember.complex64)
    _assert_meta(t.view(ember.float32), (2, 6))
    _assert_meta(ember.randn(3, dtype=ember.complex128, device="meta"), (3,), ember.complex128)


def test_pickle_and_deepcopy_write_no_values():
    import copy
    import pickle
    t = ember.empty(1000, 1000, device="meta")
    blob = pickle.dumps(t)
    assert len(blob) < 1000  # shape and dtype only, not 4 MB of zeros
    _assert_meta(pickle.loads(blob), (1000, 1000))
    _assert_meta(copy.deepcopy(t), (1000, 1000))
    layer = copy.deepcopy(nn.Linear(3, 2, device="meta"))
    _assert_meta(layer.weight, (2, 3))


def test_tensor_of_a_meta_tensor_is_meta():
    _assert_meta(ember.tensor(ember.empty(2, 2, device="meta"), dtype=ember.int8), (2, 2),
                 ember.int8)
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        ember.tensor(ember.empty(2, device="meta"), device="cpu")


def test_advanced_indexing_of_meta_tensors_stays_on_meta():
    x = ember.empty(2, 5, 3, device="meta")
    for key in (ember.tensor([0, 1, 1]), [1, 0], (slice(None), ember.tensor([4, 0]))):
        out = x[key]
        assert out.device.type == "meta"
        assert out.shape == ember.empty(2, 5, 3)[key].shape
