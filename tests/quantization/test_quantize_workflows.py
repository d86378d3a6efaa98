"""Eager quantization workflows: fusion, prepare/convert, QAT, quantize_dynamic; quantized
modules' state dicts through save/load."""
import numpy as np

import ember
from ember import nn
from ember.ao import quantization as tq
from ember.ao.nn import quantized as nnq


def _model():
    return nn.Sequential(tq.QuantStub(), nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), tq.DeQuantStub())


def test_fuse_modules_keeps_eval_numerics():
    m = _model().eval()
    x = ember.randn(2, 2, 4, 4)
    ref = m(x)
    fused = tq.fuse_modules(m, [["1", "2", "3"], ["5", "6"]])
    assert type(fused[1]).__name__ == "ConvReLU2d" and isinstance(fused[2], nn.Identity)
    np.testing.assert_allclose(fused(x).detach().numpy(), ref.detach().numpy(), atol=1e-5)


def test_prepare_convert_static():
    m = tq.fuse_modules(_model().eval(), [["1", "2", "3"], ["5", "6"]])
    m.qconfig = tq.default_qconfig
    tq.prepare(m, inplace=True)
    assert isinstance(m[1].activation_post_process, tq.MinMaxObserver)
    x = ember.randn(4, 2, 4, 4)
    ref = m(x)
    q = tq.convert(m)
    assert type(q[0]) is nnq.Quantize and type(q[7]) is nnq.DeQuantize
    assert q[1]._get_name() == "QuantizedConvReLU2d"
    assert not hasattr(q[1], "qconfig")
    out = q(x)
    assert out.dtype is ember.float32
    assert (out - ref).abs().max().item() < 0.1


def test_quantized_state_dict_roundtrip(tmp_path):
    m = tq.fuse_modules(_model().eval(), [["1", "2", "3"], ["5", "6"]])
    m.qconfig = tq.default_qconfig
    tq.prepare(m, inplace=True)
    m(ember.randn(4, 2, 4, 4))
    q = tq.convert(m)
    ember.save(q.state_dict(), tmp_path / "q.pt")
    m2 = tq.fuse_modules(_model().eval(), [["1", "2", "3"], ["5", "6"]])
    m2.qconfig = tq.default_qconfig
    q2 = tq.convert(tq.prepare(m2))
    q2.load_state_dict(ember.load(tmp_path / "q.pt"))
    x = ember.randn(3, 2, 4, 4)
    np.testing.assert_array_equal(q(x).numpy(), q2(x).numpy())
    assert "5._packed_params._packed_params" in q.state_dict()


def test_qfunctional_add_requantizes():
    f = nnq.QFunctional()
    f.scale, f.zero_point = 0.1, 0
    a = ember.quantize_per_tensor(ember.tensor([0.5, 1.0]), 0.05, 0, ember.quint8)
    out = f.add(a, a)
    assert out.q_scale() == 0.1 and out.dequantize().tolist() == [1.0, 2.0]


def test_prepare_qat_then_convert():
    m = tq.fuse_modules_qat(_model().train(), [["1", "2", "3"], ["5", "6"]])
    m.qconfig = tq.get_default_qat_qconfig("fbgemm")
    tq.prepare_qat(m, inplace=True)
    assert hasattr(m[1], "weight_fake_quant") and hasattr(m[1], "bn")
    opt = ember.optim.SGD(m.parameters(), lr=0.01)
    for _ in range(2):
        loss = m(ember.randn(4, 2, 4, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.apply(ember.nn.intrinsic.qat.freeze_bn_stats)
    q = tq.convert(m.eval())
    assert q[1]._get_name() == "QuantizedConvReLU2d" and q[5]._get_name() == "QuantizedLinearReLU"
    assert q(ember.randn(2, 2, 4, 4)).shape == (2, 4)


def test_quantize_dynamic_linear_and_lstm(tmp_path):
    model = nn.ModuleDict({"rnn": nn.LSTM(4, 6, 2), "fc": nn.Linear(6, 3)})
    q = tq.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=ember.qint8)
    assert repr(q["rnn"]) == "DynamicQuantizedLSTM(4, 6, num_layers=2)"
    assert repr(q["fc"]) == ("DynamicQuantizedLinear(in_features=6, out_features=3, "
                             "dtype=torch.qint8, qscheme=torch.per_tensor_affine)")
    x = ember.randn(5, 2, 4)
    out, (h, c) = q["rnn"](x)
    ref, _ = model["rnn"](x)
    assert out.shape == (5, 2, 6) and h.shape == (2, 2, 6)
    assert (out - ref).abs().max().item() < 0.05
    ember.save(q.state_dict(), tmp_path / "d.pt")
    q2 = tq.quantize_dynamic(nn.ModuleDict({"rnn": nn.LSTM(4, 6, 2), "fc": nn.Linear(6, 3)}),
                             {nn.LSTM, nn.Linear}, dtype=ember.qint8)
    q2.load_state_dict(ember.load(tmp_path / "d.pt"))
    np.testing.assert_array_equal(q2["rnn"](x)[0].numpy(), out.numpy())


def test_quantize_dynamic_defaults_cover_cells(tmp_path):
    m = nn.Sequential(nn.LSTMCell(3, 4), nn.GRUCell(3, 4), nn.Linear(4, 2))
    q = tq.quantize_dynamic(m)
    assert [type(c).__name__ for c in q] == ["LSTMCell", "GRUCell", "Linear"]
    assert repr(q[0]) == "DynamicQuantizedLSTMCell(3, 4)"
    x = ember.randn(2, 3)
    h, c = q[0](x)
    assert (h - m[0](x)[0]).abs().max().item() < 0.05
    ember.save(q.state_dict(), tmp_path / "cells.pt")
    q2 = tq.quantize_dynamic(nn.Sequential(nn.LSTMCell(3, 4), nn.GRUCell(3, 4), nn.Linear(4, 2)))
    q2.load_state_dict(ember.load(tmp_path / "cells.pt"))
    np.testing.assert_array_equal(q2[1](x).numpy(), q[1](x).numpy())


def test_float_computed_layers_are_swapped():
    m = nn.Sequential(tq.QuantStub(), nn.BatchNorm2d(2), nn.Hardswish(), nn.LayerNorm([2, 3, 3]),
                      tq.DeQuantStub()).eval()
    m.qconfig = tq.default_qconfig
    tq.prepare(m, inplace=True)
    x = ember.randn(4, 2, 3, 3)
    ref = m(x)
    q = tq.convert(m)
    assert [c._get_name() for c in q][1:4] == ["QuantizedBatchNorm2d", "QuantizedHardswish",
                                                "QuantizedLayerNorm"]
    assert (q(x) - ref).abs().max().item() < 0.1
    assert "1.scale" in q.state_dict()


def test_prepare_qat_gives_sigmoid_like_layers_fixed_qparams():
    """In training, Hardsigmoid, Sigmoid, Softmax and Tanh get fixed-qparams fake quants
    ([0, 1] or [-1, 1] on 256 steps) in place of the qconfig's; dropout gets no observer; a QAT
    conv-bn holds its bn before its weight fake quant (PyTorch's state_dict order)."""
    m = nn.Sequential(tq.QuantStub(), nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Hardsigmoid(),
                      nn.Tanh(), nn.Dropout(), tq.DeQuantStub()).train()
    tq.fuse_modules_qat(m, [["1", "2"]], inplace=True)
    m.qconfig = tq.get_default_qat_qconfig("qnnpack")
    tq.prepare_qat(m, inplace=True)
    assert type(m[3].activation_post_process) is tq.FixedQParamsFakeQuantize
    assert m[4].activation_post_process.scale.tolist() == [2 / 256]
    assert not hasattr(m[5], "activation_post_process")
    assert [name for name, _ in m[1].named_children()] == ["bn", "weight_fake_quant",
                                                          "activation_post_process"]
    eval_model = nn.Sequential(tq.QuantStub(), nn.Hardsigmoid(), tq.DeQuantStub()).eval()
    eval_model.qconfig = tq.default_qconfig
    tq.prepare(eval_model, inplace=True)
    assert not hasattr(eval_model[1], "activation_post_process")
