"""Meta arrays kept through scratch buffers, copies, strided windows and the root gradient; the
CPU paths that now build from a reference array behave as before."""
import io
import zipfile

import numpy as np
import pytest

import ember
from ember.backend import kernels as K
from ember.backend.device import MetaArray, empty_as, meta_array, zeros_as
from ember.ops._util import check_same_device


def _is_meta(t) -> bool:
    return str(t.device) == "meta" and t._data.__class__ is MetaArray


def test_scratch_helpers_follow_the_reference():
    ref = meta_array((2, 3), np.float32)
    assert zeros_as(np, ref, (4, 5), np.int64).__class__ is MetaArray
    assert empty_as(np, ref, (4,), np.float64).shape == (4,)
    z = zeros_as(np, np.ones(2), (3, 2), np.float32)
    assert z.__class__ is np.ndarray and z.dtype == np.float32 and not z.any()
    assert empty_as(np, np.ones(2), (3,), np.int8).__class__ is np.ndarray


def test_windows_keep_the_array_class():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    win = K.windows(x, (2, 2), (2, 2), (1, 1))
    assert win.__class__ is np.ndarray
    np.testing.assert_array_equal(win[0, 0, 1, 1], [[10, 11], [14, 15]])
    assert K.windows(meta_array((1, 1, 4, 4), np.float32), (2, 2), (2, 2),
                     (1, 1)).__class__ is MetaArray


def test_huge_ops_on_meta_allocate_nothing():
    x = ember.empty(1 << 12, 1 << 18, device="meta")  # 4 GiB if it held values
    t = ember.empty(1 << 12, dtype=ember.long, device="meta")
    assert _is_meta(ember.nn.functional.cross_entropy(x, t))
    assert _is_meta(x.clone()) and _is_meta(x.t().contiguous())
    assert _is_meta(ember.nn.functional.avg_pool2d(x.reshape(1 << 12, 1, 1 << 9, 1 << 9), 2))


def test_recurrent_and_attention_buffers_stay_meta():
    with ember.device("meta"):
        lstm, gru = ember.nn.LSTM(5, 6), ember.nn.GRU(5, 6)
        mha = ember.nn.MultiheadAttention(8, 2)
    x = ember.empty(3, 4, 5, device="meta")
    assert all(_is_meta(t) for t in (lstm(x)[0], *lstm(x)[1], *gru(x)))
    q = ember.empty(3, 4, 8, device="meta")
    assert _is_meta(mha(q, q, q, need_weights=False)[0])


def test_contiguity_pointer_and_offset_on_meta():
    x = ember.empty(3, 4, device="meta")
    assert x.is_contiguous() and x.t().is_contiguous() and x.contiguous() is x
    assert x.data_ptr() == 0 and x[1:].storage_offset() == 0


def test_cpu_clone_contiguous_and_offsets_unchanged():
    base = ember.arange(24.0).reshape(2, 3, 4)
    t = base.transpose(0, 2)
    kept = t.clone()  # preserve_format: the strides' order
    assert kept.stride() == t.stride() and ember.equal(kept, t)
    c = t.contiguous()
    assert c.is_contiguous() and not t.is_contiguous() and ember.equal(c, t)
    x = ember.randn(2, 3, 4, 5)
    cl = x.contiguous(memory_format=ember.channels_last)
    assert cl.is_contiguous(memory_format=ember.channels_last) and ember.equal(cl, x)
    assert base[1].storage_offset() == 12
    assert base[1].data_ptr() == base.data_ptr() + 12 * 4


def test_backward_root_gradient_on_meta():
    x = ember.empty(4, 5, device="meta", requires_grad=True)
    loss = (x * 2).sum()
    seen = []
    loss.register_hook(seen.append)
    loss.backward()
    assert len(seen) == 1 and _is_meta(seen[0]) and seen[0].shape == ()


def test_backward_root_gradient_on_cpu_unchanged():
    x = ember.ones(3, requires_grad=True)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_scalar_cpu_tensor_meets_meta():
    m, s = ember.empty(3, device="meta"), ember.tensor(2.0)
    assert _is_meta(m + s) and _is_meta(s - m)
    check_same_device("op", m, s)
    with pytest.raises(RuntimeError, match="same device"):
        check_same_device("op", m, ember.ones(3))
    with pytest.raises(RuntimeError, match="same device"):
        m * ember.ones(3)


def test_orthogonal_on_meta_does_no_work():
    w = ember.empty(1 << 14, 1 << 12, device="meta")  # a QR of this would take seconds
    assert ember.nn.init.orthogonal_(w) is w and _is_meta(w)


def test_saved_meta_tensor_has_no_storage_record():
    buf = io.BytesIO()
    ember.save({"w": ember.empty(1000, 1000, device="meta"), "c": ember.ones(2)}, buf)
    names = zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
    assert sum("/data/" in n for n in names) == 1  # only the CPU tensor's bytes
    buf.seek(0)
    got = ember.load(buf)
    assert _is_meta(got["w"]) and got["w"].shape == (1000, 1000)
    assert got["c"].device.type == "cpu"


@pytest.mark.parametrize("op", [
    lambda F, x: F.avg_pool2d(x, 3, padding=1), lambda F, x: F.max_pool2d(x, 2),
    lambda F, x: F.max_pool2d(x, 3, stride=1),
    lambda F, x: F.conv2d(x, ember.empty(4, 3, 3, 3, device="meta"), padding=1),
    lambda F, x: F.cross_entropy(x.flatten(1), ember.empty(2, dtype=ember.long, device="meta"),
                                 reduction="none")])
def test_input_gradients_stay_meta(op):
    x = ember.empty(2, 3, 8, 8, device="meta", requires_grad=True)
    seen = []
    x.register_hook(seen.append)
    y = op(ember.nn.functional, x)
    y.backward(ember.empty(y.shape, device="meta"))
    assert len(seen) == 1 and _is_meta(seen[0]) and seen[0].shape == x.shape
