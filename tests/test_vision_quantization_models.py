"""ember.vision.models.quantization's quantizable models (ResNets, MobileNets, GoogLeNet,
Inception v3, ShuffleNets): stubs and FloatFunctional skip additions leave the float model's
outputs unchanged, ``fuse_model`` folds BatchNorm without changing them, QAT-prepared
MobileNetV3 state dicts load across versions, and the builders' registry entries and
weights."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.vision import models
from ember.vision.models import quantization


def test_float_path_matches_resnet_and_fuse_keeps_outputs():
    ember.manual_seed(0)
    float_model = models.resnet18(num_classes=5).double().eval()
    model = quantization.resnet18(num_classes=5).double().eval()
    model.load_state_dict(float_model.state_dict())
    assert not any(type(m) is nn.ReLU and m.inplace for m in model.modules())
    x = ember.randn(1, 3, 32, 32, dtype=ember.float64)
    expected = float_model(x).detach().numpy()
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    model.fuse_model()
    assert type(model.conv1).__name__ == "ConvReLU2d" and isinstance(model.bn1, nn.Identity)
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-9, atol=1e-10)


def test_quantize_true_converts_modules():
    model = quantization.resnet18(quantize=True, num_classes=3)
    assert type(model.quant).__name__ == "Quantize"
    assert type(model.layer1[0].conv1).__module__.startswith("ember.ao.nn.intrinsic.quantized")
    assert type(model.fc).__module__.startswith("ember.ao.nn.quantized")


@pytest.mark.filterwarnings("ignore:must run observer")  # a block without its skip add
@pytest.mark.parametrize("name,head", [("resnet18", "fc"), ("mobilenet_v2", "classifier.1"),
                                       ("shufflenet_v2_x0_5", "fc")])
def test_quantized_models_run_int8_inference(name, head):
    """quantize=True (calibrated on one random batch) runs end to end on int8 tensors: the
    output is the dequantized result of the quantized classifier, on its grid."""
    ember.manual_seed(0)
    model = getattr(quantization, name)(quantize=True, num_classes=3)
    seen = {}
    model.get_submodule(head).register_forward_hook(lambda m, i, o: seen.update(out=o))
    out = model(ember.rand(2, 3, 32, 32))
    assert out.shape == (2, 3) and out.dtype is ember.float32
    q = seen["out"]
    assert q.dtype is ember.quint8 and q.shape == (2, 3)
    np.testing.assert_array_equal(out.numpy(), q.dequantize().numpy())
    steps = out.numpy() / q.q_scale() + q.q_zero_point()
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)


def test_shufflenet_fuse_keeps_outputs():
    ember.manual_seed(0)
    float_model = models.shufflenet_v2_x0_5(num_classes=4).double().eval()
    model = quantization.shufflenet_v2_x0_5(num_classes=4).double().eval()
    model.load_state_dict(float_model.state_dict())
    x = ember.randn(1, 3, 64, 64, dtype=ember.float64)
    expected = float_model(x).detach().numpy()
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    model.fuse_model()
    assert type(model.stage2[0].branch1[2]).__name__ == "ConvReLU2d"
    assert type(model.stage2[1].branch2[3]).__name__ == "Conv2d"
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name,size,fused", [
    ("mobilenet_v3_large", 32, ("features.4.block.2.fc1", "ConvReLU2d")),
    ("googlenet", 32, ("inception3a.branch2.1.conv", "ConvReLU2d")),
])
def test_float_path_matches_float_model_and_fuse_keeps_outputs(name, size, fused):
    """The quantizable MobileNetV3 Large and GoogLeNet compute their float models' outputs with
    their state dicts, and ``fuse_model`` keeps them."""
    ember.manual_seed(0)
    kwargs = {"init_weights": False} if name == "googlenet" else {}
    float_model = getattr(models, name)(num_classes=4, **kwargs).double().eval()
    model = getattr(quantization, name)(num_classes=4, **kwargs).double().eval()
    model.load_state_dict(float_model.state_dict())
    x = ember.randn(1, 3, size, size, dtype=ember.float64)
    expected = float_model(x).detach().numpy()
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    model.fuse_model()
    assert type(model.get_submodule(fused[0])).__name__ == fused[1]
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-9, atol=1e-10)


def test_inception_v3_blocks_concatenate_through_float_functionals():
    model = quantization.inception_v3(num_classes=3, init_weights=False)
    assert type(model.Mixed_5b.myop).__name__ == "FloatFunctional"
    assert [n for n in ("myop1", "myop2", "myop3") if hasattr(model.Mixed_7c, n)] == [
        "myop1", "myop2", "myop3"]
    assert type(model.Conv2d_1a_3x3.relu) is nn.ReLU
    assert list(model.state_dict())[:3] == ["Conv2d_1a_3x3.conv.weight",
                                            "Conv2d_1a_3x3.bn.weight", "Conv2d_1a_3x3.bn.bias"]


def _qat_mobilenet_v3():
    model = quantization.mobilenet_v3_large(num_classes=3).train()
    model.fuse_model(is_qat=True)
    model.qconfig = ember.ao.quantization.get_default_qat_qconfig("qnnpack")
    return ember.ao.quantization.prepare_qat(model, inplace=True)


def test_mobilenet_v3_qat_gate_and_version_1_state_dicts():
    """QAT gives the squeeze-excitation's hard-sigmoid a fixed-qparams fake quant; a version-1
    state dict (saved before it existed) loads strictly, the fake quant taking the defaults
    torchvision gives it (scale 1, zero point 0)."""
    model = _qat_mobilenet_v3()
    se = model.features[4].block[2]
    assert type(se).__name__ == "QuantizableSqueezeExcitation"
    assert type(se.scale_activation.activation_post_process).__name__ == \
        "FixedQParamsFakeQuantize"
    state = model.state_dict()
    assert state._metadata["features.4.block.2"]["version"] == 2
    gate = "features.4.block.2.scale_activation.activation_post_process."
    old = type(state)((k, v) for k, v in state.items() if not k.startswith(gate))
    old._metadata = state._metadata
    old._metadata["features.4.block.2"] = {"version": 1}
    fresh = _qat_mobilenet_v3()
    fresh.load_state_dict(old)
    assert fresh.features[4].block[2].scale_activation.activation_post_process.scale.tolist() \
        == [1.0]
    with pytest.raises(RuntimeError, match="Missing key"):
        quantization.mobilenet_v3_large(num_classes=3).load_state_dict(
            {k: v for k, v in model.state_dict().items() if not k.startswith(gate)})


def test_registry_and_weights():
    assert models.list_models(quantization) == [
        "quantized_googlenet", "quantized_inception_v3", "quantized_mobilenet_v2",
        "quantized_mobilenet_v3_large", "quantized_resnet18", "quantized_resnet50",
        "quantized_resnext101_32x8d", "quantized_resnext101_64x4d", "quantized_shufflenet_v2_x0_5",
        "quantized_shufflenet_v2_x1_0", "quantized_shufflenet_v2_x1_5",
        "quantized_shufflenet_v2_x2_0"]
    weights = quantization.MobileNet_V3_Large_QuantizedWeights.DEFAULT
    assert weights.meta["backend"] == "qnnpack"
    assert weights.meta["unquantized"] is models.MobileNet_V3_Large_Weights.IMAGENET1K_V1
    weights = quantization.Inception_V3_QuantizedWeights.DEFAULT
    assert weights.meta["min_size"] == (75, 75) and weights.transforms().crop_size == [299]
    assert quantization.GoogLeNet_QuantizedWeights.DEFAULT.url.endswith(
        "googlenet_fbgemm-c81f6644.pth")
    assert quantization.MobileNet_V2_QuantizedWeights.DEFAULT.meta["backend"] == "qnnpack"
    weights = quantization.ResNet50_QuantizedWeights.DEFAULT
    assert weights.meta["backend"] == "fbgemm"
    assert weights.meta["unquantized"] is models.ResNet50_Weights.IMAGENET1K_V2
    weights = quantization.ShuffleNet_V2_X1_5_QuantizedWeights.DEFAULT
    assert weights.meta["unquantized"] is models.ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1
    assert weights.url.endswith("shufflenetv2_x1_5_fbgemm-d7401f05.pth")
    assert models.get_model_weights("quantized_resnet18") is quantization.ResNet18_QuantizedWeights
    with pytest.warns(UserWarning):
        with pytest.raises(ValueError):  # float weights fix 1000 classes
            quantization.resnet18(pretrained=True, num_classes=3)
