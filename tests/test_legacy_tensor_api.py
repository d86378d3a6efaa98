"""Deprecated and legacy Tensor API that old code still calls: non-inplace ``resize`` /
``resize_as``, the removed ``volatile`` flag, ``const_data_ptr``, ``is_distributed`` and
``ember.cuda``'s typed storages and ``default_generators``."""
import numpy as np
import pytest

import ember
from ember.backend import cuda as cuda_backend


def test_resize_is_a_view_of_the_contiguous_tensor():
    base = ember.arange(6.0)
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        r = base.resize(2, 3)
    np.testing.assert_array_equal(r.numpy(), np.arange(6.0).reshape(2, 3))
    r[0, 0] = 100.0  # a contiguous tensor is viewed, not copied
    assert base[0].item() == 100.0
    with pytest.warns(UserWarning):
        flat = ember.arange(6.0).reshape(2, 3).t().resize(6)
    np.testing.assert_array_equal(flat.numpy(), np.arange(6.0).reshape(2, 3).T.reshape(6))


def test_resize_as_takes_the_other_shape_and_keeps_gradients():
    x = ember.randn(2, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
        y = x.resize_as(ember.zeros(3, 2))
    assert y.shape == (3, 2)
    (y * ember.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3))


def test_resize_must_keep_the_number_of_elements():
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=(
            r"requested resize to 4 \(4 elements in total\), but the given tensor has a size "
            r"of 2x3 \(6 elements\)")):
        ember.zeros(2, 3).resize(4)


def test_volatile_is_always_false_and_setting_it_warns():
    x = ember.zeros(2)
    with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
        x.volatile = True
    with pytest.warns(UserWarning, match=r"Variable.volatile is always False"):
        assert x.volatile is False


def test_const_data_ptr_and_is_distributed():
    x = ember.arange(4.0)[1:]
    assert x.const_data_ptr() == x.data_ptr() == x.numpy().__array_interface__["data"][0]
    assert x.is_distributed() is False


@pytest.mark.skipif(cuda_backend.is_available(), reason="checks the machine without a GPU")
def test_cuda_storages_and_generators_without_a_gpu():
    assert ember.cuda.default_generators == ()
    assert ember.cuda.FloatStorage.__module__ == "ember.cuda"
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        ember.cuda.FloatStorage(3)
    assert ember.FloatStorage(3).device.type == "cpu"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ember.cuda.nothing  # noqa: B018


def test_from_dlpack_copy_and_device():
    source = np.arange(3.0)
    copied = ember.from_dlpack(source, copy=True)
    shared = ember.from_dlpack(source, copy=False)
    source[0] = 9.0
    assert copied.tolist() == [0.0, 1.0, 2.0] and shared.tolist() == [9.0, 1.0, 2.0]
    assert ember.from_dlpack(source, device="cpu").tolist() == [9.0, 1.0, 2.0]
    assert ember.from_dlpack(source, device="meta").device.type == "meta"
    with pytest.raises(BufferError, match="copy=False forbids moving it to meta"):
        ember.from_dlpack(source, device="meta", copy=False)


def test_chain_matmul_is_deprecated_and_writes_out():
    a, b, c = (ember.tensor(np.random.default_rng(i).standard_normal((3, 3))) for i in range(3))
    out = ember.empty(3, 3, dtype=ember.float64)
    with pytest.warns(UserWarning, match="torch.chain_matmul is deprecated"):
        result = ember.chain_matmul(a, b, c, out=out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), a.numpy() @ b.numpy() @ c.numpy())
