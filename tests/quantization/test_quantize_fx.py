"""FX graph mode quantization (``ember.ao.quantization.quantize_fx``) against eager-mode
quantization of the same network (bit for bit), NumPy closed forms, and the rules of
``QConfigMapping``."""
import operator

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.ao import quantization as ao
from ember.ao.quantization.backend_config import get_fbgemm_backend_config
from ember.ao.quantization.fx.custom_config import PrepareCustomConfig
from ember.ao.quantization.quantize_fx import convert_fx, fuse_fx, prepare_fx, prepare_qat_fx

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

RNG = np.random.RandomState(0)
CALIBRATION = [ember.tensor(RNG.randn(4, 3, 8, 8).astype(np.float32)) for _ in range(3)]
X = ember.tensor(RNG.randn(5, 3, 8, 8).astype(np.float32))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(36, 5)

    def forward(self, x):
        return self.fc(ember.flatten(self.pool(self.relu(self.bn(self.conv(x)))), 1))


def _conv_net():
    ember.manual_seed(0)
    model = ConvNet()
    model.bn.running_mean.copy_(ember.randn(4) * 0.1)
    model.bn.running_var.copy_(ember.rand(4) + 0.5)
    return model.eval()


def _names(gm) -> list:
    """The computing nodes' targets: module class names, function and method names."""
    return [type(gm.get_submodule(n.target)).__name__ if n.op == "call_module" else
            (n.target if isinstance(n.target, str) else n.target.__name__)
            for n in gm.graph.nodes if n.op in ("call_module", "call_function", "call_method")]


def _fx_quantize(model, qconfig_mapping):
    prepared = prepare_fx(model, qconfig_mapping, (CALIBRATION[0],))
    with ember.no_grad():
        for batch in CALIBRATION:
            prepared(batch)
    return prepared, convert_fx(prepared)


@pytest.mark.parametrize("qconfig", [ao.default_qconfig, ao.get_default_qconfig("x86")])
def test_static_equals_eager_mode_bit_for_bit(qconfig):
    prepared, quantized = _fx_quantize(_conv_net(), ao.QConfigMapping().set_global(qconfig))
    assert _names(prepared) == ["MinMaxObserver", "ConvReLU2d", "MinMaxObserver", "MaxPool2d",
                                "MinMaxObserver", "flatten", "MinMaxObserver", "Linear",
                                "MinMaxObserver"] or qconfig is not ao.default_qconfig
    assert _names(quantized) == ["quantize_per_tensor", "ConvReLU2d", "MaxPool2d", "flatten",
                                 "Linear", "dequantize"]
    # the same network quantized in eager mode: stubs at the ends, conv-bn-relu fused
    eager = nn.Sequential(ao.QuantStub(), _conv_net())
    eager.add_module("dequant", ao.DeQuantStub())
    eager = ao.fuse_modules(eager, [["1.conv", "1.bn", "1.relu"]])
    eager.qconfig = qconfig
    eager = ao.prepare(eager)
    with ember.no_grad():
        for batch in CALIBRATION:
            eager(batch)
    eager = ao.convert(eager)
    np.testing.assert_array_equal(quantized(X).numpy(), eager(X).numpy())
    assert quantized.fc.scale == eager[1].fc.scale


def test_prepare_leaves_the_float_model_and_convert_the_prepared_one():
    model = _conv_net()
    prepared, quantized = _fx_quantize(model, ao.get_default_qconfig_mapping("x86"))
    assert type(model.bn) is nn.BatchNorm2d and not hasattr(model.conv, "qconfig")
    assert "MinMaxObserver" in _names(prepared) or "HistogramObserver" in _names(prepared)
    assert type(quantized.conv).__name__ == "ConvReLU2d"
    assert type(quantized.conv)._get_name(quantized.conv) == "QuantizedConvReLU2d"
    assert not any(n.startswith("activation_post_process") for n, _ in
                   quantized.named_modules(remove_duplicate=False))


class AddNet(nn.Module):
    def forward(self, x, y):
        return F.relu(x + y), x * y


def test_add_relu_and_mul_are_quantized_functions():
    x = ember.tensor(RNG.randn(6, 5).astype(np.float32))
    y = ember.tensor(RNG.randn(6, 5).astype(np.float32) * 2)
    prepared = prepare_fx(AddNet().eval(), ao.QConfigMapping().set_global(ao.default_qconfig),
                          (x, y))
    prepared(x, y)
    qparams = {name: [float(v) for v in m.calculate_qparams()]
               for name, m in prepared.named_children()}
    (sx, zx), (sy, zy) = qparams["activation_post_process_0"], qparams[
        "activation_post_process_1"]
    (s_add, z_add), (s_mul, z_mul) = qparams["activation_post_process_2"], qparams[
        "activation_post_process_3"]
    quantized = convert_fx(prepared)
    assert _names(quantized) == ["quantize_per_tensor", "quantize_per_tensor", "add_relu",
                                 "dequantize", "mul", "dequantize"]
    got_add, got_mul = quantized(x, y)

    def q(v, s, z):
        return np.clip(np.round(v / np.float32(s)) + z, 0, 255)

    xd = (q(x.numpy(), sx, zx) - zx) * np.float32(sx)
    yd = (q(y.numpy(), sy, zy) - zy) * np.float32(sy)
    want_add = (np.maximum(q(xd + yd, s_add, z_add), z_add) - z_add) * s_add
    want_mul = (q(xd * yd, s_mul, z_mul) - z_mul) * s_mul
    np.testing.assert_allclose(got_add.numpy(), want_add, rtol=1e-6, atol=s_add * 1.01)
    np.testing.assert_allclose(got_mul.numpy(), want_mul, rtol=1e-6, atol=s_mul * 1.01)
    assert np.mean(np.isclose(got_add.numpy(), want_add, rtol=1e-6, atol=1e-7)) > 0.95


class MixedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc2(ember.sigmoid(self.fc1(x)) * 2.0)


def test_float_ops_between_quantized_ones_get_dequantize_and_quantize():
    x = ember.randn(3, 4)
    prepared = prepare_fx(MixedNet().eval(),
                          ao.QConfigMapping().set_global(ao.default_qconfig), (x,))
    prepared(x)
    quantized = convert_fx(prepared)
    assert _names(quantized) == ["quantize_per_tensor", "Linear", "dequantize", "sigmoid", "mul",
                                 "quantize_per_tensor", "Linear", "dequantize"]
    out = quantized(x)
    assert out.dtype == ember.float32 and not out.is_quantized


def test_qconfig_mapping_priorities():
    a, b, c, d = (ao.QConfig(activation=ao.MinMaxObserver.with_args(quant_min=i),
                             weight=ao.default_weight_observer) for i in range(4))
    qm = (ao.QConfigMapping().set_global(a).set_object_type(nn.Linear, b)
          .set_module_name_regex(r"block\.fc\d", c).set_module_name("block.sub", d)
          .set_module_name("head", None))
    assert qm.qconfig_for("fc", nn.Conv2d) is a
    assert qm.qconfig_for("fc", nn.Linear) is b
    assert qm.qconfig_for("block.fc1", nn.Linear) is c
    assert qm.qconfig_for("block.sub.deep.conv", nn.Conv2d) is d  # the nearest named parent
    assert qm.qconfig_for("head", nn.Linear) is None
    assert qm.qconfig_for("", operator.add) is a
    again = ao.QConfigMapping.from_dict(qm.to_dict())
    assert again.to_dict() == qm.to_dict()
    default = ao.get_default_qconfig_mapping("fbgemm")
    assert ao.qconfig_equals(default.global_qconfig, ao.get_default_qconfig("fbgemm"))
    assert default.object_type_qconfigs[nn.ConvTranspose2d].weight is ao.default_weight_observer


def test_module_name_none_keeps_a_submodule_float():
    qm = ao.QConfigMapping().set_global(ao.default_qconfig).set_module_name("fc", None)
    _, quantized = _fx_quantize(_conv_net(), qm)
    assert type(quantized.fc) is nn.Linear
    assert _names(quantized)[-3:] == ["flatten", "dequantize", "Linear"]


def test_qconfig_dict_is_deprecated_but_accepted():
    with pytest.warns(FutureWarning, match="QConfigMapping"):
        prepared = prepare_fx(_conv_net(), {"": ao.default_qconfig}, (X,))
    assert "ConvReLU2d" in _names(prepared)


def test_fuse_fx_folds_batch_norm():
    model = _conv_net()
    fused = fuse_fx(model)
    assert _names(fused) == ["ConvReLU2d", "MaxPool2d", "flatten", "Linear"]
    with ember.no_grad():
        np.testing.assert_allclose(fused(X).numpy(), model(X).numpy(), rtol=1e-5, atol=1e-5)


def test_dynamic_equals_quantize_dynamic():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
    x = ember.randn(7, 6)
    prepared = prepare_fx(model, ao.QConfigMapping().set_global(ao.default_dynamic_qconfig),
                          (x,), backend_config=get_fbgemm_backend_config())
    assert _names(prepared) == ["PlaceholderObserver", "Linear", "Tanh", "PlaceholderObserver",
                                "Linear"]
    quantized = convert_fx(prepared)
    assert _names(quantized) == ["Linear", "Tanh", "Linear"]
    eager = ao.quantize_dynamic(model, {nn.Linear}, dtype=ember.qint8)
    np.testing.assert_array_equal(quantized(x).numpy(), eager(x).numpy())


def test_qat_swaps_in_qat_modules_then_quantized_ones():
    ember.manual_seed(0)
    model = ConvNet().train()
    prepared = prepare_qat_fx(model, ao.get_default_qat_qconfig_mapping("x86"), (X,))
    assert type(prepared.conv).__name__ == "ConvBnReLU2d"
    assert type(prepared.conv).__module__ == "ember.ao.nn.intrinsic.qat"
    assert type(prepared.fc).__module__ == "ember.ao.nn.qat"
    loss = prepared(X).sum()
    loss.backward()
    assert prepared.conv.weight.grad is not None
    prepared.eval()
    quantized = convert_fx(prepared)
    assert _names(quantized) == ["quantize_per_tensor", "ConvReLU2d", "MaxPool2d", "flatten",
                                 "Linear", "dequantize"]
    assert type(quantized.conv).__module__ == "ember.ao.nn.intrinsic.quantized"


class Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: not symbolically traceable
            return x
        return -x


class WithUntraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.odd = Untraceable()

    def forward(self, x):
        return self.odd(self.fc(x))


def test_prepare_custom_config_non_traceable_and_preserved_attributes():
    model = WithUntraceable().eval()
    model.version = 3
    config = (PrepareCustomConfig().set_non_traceable_module_classes([Untraceable])
              .set_preserved_attributes(["version"]))
    x = ember.randn(2, 4)
    prepared = prepare_fx(model, ao.QConfigMapping().set_global(ao.default_qconfig), (x,),
                          prepare_custom_config=config)
    prepared(x)
    quantized = convert_fx(prepared)
    assert quantized.version == 3
    assert _names(quantized) == ["quantize_per_tensor", "Linear", "dequantize", "Untraceable"]
    assert quantized(x).shape == (2, 4)


def test_graphs_do_not_depend_on_dispatch_being_installed(plain_dispatch_after):
    # installed __torch_function__ dispatch makes ember's functions wrappers: the pattern
    # tables must still recognise flatten, add, relu, cat (tests share one process)
    from ember import overrides

    class Passing(ember.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return super().__torch_function__(func, types, args, kwargs or {})
    ember.flatten(ember.ones(2, 2).as_subclass(Passing))
    assert overrides._installed
    qm = ao.QConfigMapping().set_global(ao.default_qconfig).set_module_name("fc", None)
    _, quantized = _fx_quantize(_conv_net(), qm)
    assert _names(quantized)[-3:] == ["flatten", "dequantize", "Linear"]
