"""Observers' qparams against PyTorch's documented formulas (NumPy oracle)."""
import numpy as np
import pytest

import ember
from ember.ao import quantization as tq


def test_minmax_affine_formula():
    obs = tq.MinMaxObserver()
    obs(ember.tensor([-1.0, 0.5]))
    obs(ember.tensor([3.0]))
    scale, zp = obs.calculate_qparams()
    expect_scale = np.float32(4.0) / np.float32(255)
    assert scale.item() == pytest.approx(expect_scale)
    assert zp.item() == 0 - round(-1.0 / expect_scale)
    assert repr(obs) == "MinMaxObserver(min_val=-1.0, max_val=3.0)"


def test_symmetric_and_reduce_range():
    obs = tq.MinMaxObserver(dtype=ember.qint8, qscheme=ember.per_tensor_symmetric)
    obs(ember.tensor([-2.0, 1.0]))
    scale, zp = obs.calculate_qparams()
    assert scale.item() == pytest.approx(2.0 / 127.5) and zp.item() == 0
    assert tq.MinMaxObserver(reduce_range=True).quant_max == 127


def test_unobserved_returns_defaults_with_warning():
    with pytest.warns(UserWarning):
        scale, zp = tq.MinMaxObserver().calculate_qparams()
    assert scale.tolist() == [1.0] and zp.tolist() == [0]


def test_moving_average_and_per_channel():
    obs = tq.MovingAverageMinMaxObserver(averaging_constant=0.5)
    obs(ember.tensor([0.0, 2.0]))
    obs(ember.tensor([0.0, 4.0]))
    assert obs.max_val.item() == 3.0
    pc = tq.PerChannelMinMaxObserver(ch_axis=1)
    pc(ember.tensor([[1.0, -2.0], [3.0, 0.5]]))
    assert pc.min_val.tolist() == [1.0, -2.0] and pc.max_val.tolist() == [3.0, 0.5]
    scale, zp = pc.calculate_qparams()
    assert scale.shape == (2,) and zp.shape == (2,)


def test_histogram_observer_clips_outliers():
    obs = tq.HistogramObserver(bins=256)
    x = ember.cat([ember.linspace(-1, 1, 10000), ember.tensor([50.0])])
    obs(x)
    scale, _ = obs.calculate_qparams()
    assert scale.item() < 51.0 / 255  # the search dropped the lone outlier's range


def test_fake_quantize_module_and_switches():
    fq = tq.FakeQuantize()
    x = ember.randn(8)
    y = fq(x)
    assert fq.scale.item() != 1.0 and (y - x).abs().max().item() <= fq.scale.item()
    fq.apply(tq.disable_fake_quant)
    assert fq(x) is x
    fq.apply(tq.disable_observer)
    assert int(fq.observer_enabled[0]) == 0


def test_with_args_builds_fresh_instances_and_qconfigs():
    factory = tq.MinMaxObserver.with_args(dtype=ember.qint8)
    a, b = factory(), factory()
    assert a is not b and a.dtype is ember.qint8
    assert "quant_min=0, quant_max=127" in repr(tq.default_qconfig)
    qc = tq.get_default_qconfig("fbgemm")
    assert isinstance(qc.activation(), tq.HistogramObserver)
    assert qc.weight().qscheme is ember.per_channel_symmetric
    with pytest.raises(ValueError):
        tq.QConfig(activation=tq.MinMaxObserver(), weight=tq.MinMaxObserver)


def test_fixed_qparams_observer_and_fake_quant():
    """The fixed-qparams observer ignores its input; its fake quant rounds onto 1/256 steps
    of [0, 1] and keeps the observer's buffers (both in the state dict)."""
    obs = tq.default_fixed_qparams_range_neg1to1_observer()
    obs(ember.tensor([5.0, -7.0]))
    scale, zp = obs.calculate_qparams()
    assert scale.tolist() == [2 / 256] and zp.tolist() == [128] and zp.dtype is ember.int32
    fq = tq.default_fixed_qparams_range_0to1_fake_quant()
    assert type(fq.activation_post_process) is tq.FixedQParamsObserver
    assert list(fq.state_dict()) == ["fake_quant_enabled", "observer_enabled", "scale",
                                     "zero_point", "activation_post_process.scale",
                                     "activation_post_process.zero_point"]
    x = np.array([-0.5, 0.1, 0.3337, 0.99, 1.5], dtype=np.float32)
    expected = np.clip(np.rint(x * 256), 0, 255) / 256
    np.testing.assert_allclose(fq(ember.tensor(x)).numpy(), expected, rtol=0, atol=1e-7)
    assert fq.scale.tolist() == [1 / 256]
