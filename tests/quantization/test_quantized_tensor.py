"""Quantized tensors against a NumPy oracle: the affine mapping, qparams, layout ops, printing
and save/load."""
import numpy as np
import pytest

import ember


def _oracle(x, scale, zero_point, lo, hi):
    q = np.rint(x.astype(np.float32) * (np.float32(1) / np.float32(scale))) + zero_point
    return np.clip(q, lo, hi)


@pytest.mark.parametrize("dtype,lo,hi,np_dtype", [
    (ember.qint8, -128, 127, np.int8), (ember.quint8, 0, 255, np.uint8),
    (ember.qint32, -(2 ** 31), 2 ** 31 - 1, np.int32)])
def test_quantize_per_tensor_matches_formula(dtype, lo, hi, np_dtype):
    x = np.random.RandomState(0).randn(5, 7).astype(np.float32) * 4
    q = ember.quantize_per_tensor(ember.tensor(x), 0.05, 7, dtype)
    assert q.is_quantized and q.dtype is dtype and q.qscheme() is ember.per_tensor_affine
    assert q.q_scale() == 0.05 and q.q_zero_point() == 7
    ints = q.int_repr()
    assert ints.numpy().dtype == np_dtype
    np.testing.assert_array_equal(ints.numpy(), _oracle(x, 0.05, 7, lo, hi))
    np.testing.assert_array_equal(q.dequantize().numpy(),
                                  (ints.numpy().astype(np.float32) - 7) * np.float32(0.05))
    assert ember.dequantize(q).dtype is ember.float32


def test_tensor_qparams_and_list_form():
    x = ember.tensor([0.0, 1.0, -1.0])
    q = ember.quantize_per_tensor(x, ember.tensor(0.1), ember.tensor(3), ember.quint8)
    assert q.q_scale() == float(np.float32(0.1)) and q.q_zero_point() == 3
    a, b = ember.quantize_per_tensor([x, x], ember.tensor([0.1, 0.2]), ember.tensor([0, 1]),
                                     ember.quint8)
    assert a.q_scale() == pytest.approx(0.1) and b.q_zero_point() == 1


def test_quantize_per_channel():
    x = np.random.RandomState(1).randn(3, 4).astype(np.float32)
    scales, zps = np.array([0.1, 0.02, 0.3]), np.array([0, 5, -3])
    q = ember.quantize_per_channel(ember.tensor(x), ember.tensor(scales), ember.tensor(zps), 0,
                                   ember.qint8)
    assert q.qscheme() is ember.per_channel_affine and q.q_per_channel_axis() == 0
    assert q.q_per_channel_scales().dtype is ember.float64
    assert q.q_per_channel_zero_points().tolist() == [0, 5, -3]
    expect = _oracle(x, scales[:, None], zps[:, None], -128, 127)
    np.testing.assert_array_equal(q.int_repr().numpy(), expect)
    with pytest.raises(RuntimeError):
        q.q_scale()


def test_quantize_per_tensor_dynamic_covers_the_range():
    x = ember.tensor([-1.0, 0.5, 2.0])
    q = ember.quantize_per_tensor_dynamic(x, ember.quint8, False)
    assert q.q_scale() == pytest.approx(3.0 / 255)
    assert q.int_repr().tolist()[0] == 0 and q.int_repr().tolist()[-1] == 255


def test_layout_ops_keep_quantizer_and_arithmetic_is_refused():
    q = ember.quantize_per_tensor(ember.arange(6.0).reshape(2, 3), 0.5, 2, ember.quint8)
    for view in (q.view(6), q.reshape(3, 2), q.flatten(), q.transpose(0, 1),
                 q[1], q.permute(1, 0), q.unsqueeze(0), q.contiguous(), q.clone()):
        assert view.is_quantized and view.q_scale() == 0.5 and view.q_zero_point() == 2
    assert q[1].dequantize().tolist() == [3.0, 4.0, 5.0]
    assert q.mean().dequantize().item() == 2.5
    assert ember.quantize_per_tensor(ember.tensor([-1.0, 1.0]), 0.5, 2,
                                     ember.quint8).relu().dequantize().tolist() == [0.0, 1.0]
    with pytest.raises(NotImplementedError):
        q + 1


def test_float_dequantize_is_identity_and_plain_tensors_are_not_quantized():
    x = ember.randn(3)
    assert x.dequantize() is x and not x.is_quantized


def test_repr_matches_pytorch_layout():
    q = ember.quantize_per_tensor(ember.tensor([-1.0, 0.0, 1.0]), 0.1, 10, ember.quint8)
    assert repr(q) == ("tensor([-1.,  0.,  1.], size=(3,), dtype=torch.quint8,\n"
                       "       quantization_scheme=torch.per_tensor_affine, scale=0.1, "
                       "zero_point=10)")
    pc = ember.quantize_per_channel(ember.tensor([[1.0], [2.0]]), ember.tensor([0.5, 1.0]),
                                    ember.tensor([0, 0]), 0, ember.qint8)
    assert "axis=0" in repr(pc) and "quantization_scheme=torch.per_channel_affine" in repr(pc)


def test_save_load_roundtrip(tmp_path):
    q = ember.quantize_per_tensor(ember.randn(4, 3), 0.02, 1, ember.qint8)
    pc = ember.quantize_per_channel(ember.randn(2, 3), ember.tensor([0.1, 0.2]),
                                    ember.tensor([1, 2]), 0, ember.quint8)
    ember.save({"q": q, "pc": pc, "scheme": ember.per_tensor_symmetric}, tmp_path / "q.pt")
    back = ember.load(tmp_path / "q.pt")
    assert back["scheme"] is ember.per_tensor_symmetric
    for name, saved in (("q", q), ("pc", pc)):
        assert back[name].dtype is saved.dtype
        np.testing.assert_array_equal(back[name].int_repr().numpy(), saved.int_repr().numpy())
    assert back["q"].q_scale() == 0.02 and back["pc"].q_per_channel_axis() == 0


def test_conversions_follow_pytorch():
    q = ember.quantize_per_tensor(ember.tensor([1.0, 2.5]), 0.5, 1, ember.quint8)
    assert q[1].item() == 2.5 and q.cpu() is q and q.to("cpu") is q
    with pytest.raises(TypeError, match="QUInt8"):
        q.numpy()
    with pytest.raises(RuntimeError):
        q.float()
    with pytest.raises(RuntimeError):
        q.to(ember.float32)
    assert q.element_size() == 1 and not q.is_floating_point()
