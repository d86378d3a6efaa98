"""ember.vision.models.quantization's quantizable ResNets: stubs and FloatFunctional skip
additions leave the float model's outputs unchanged, ``fuse_model`` folds BatchNorm without
changing them, and the builders' registry entries and weights."""
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


def test_registry_and_weights():
    assert models.list_models(quantization) == [
        "quantized_mobilenet_v2", "quantized_resnet18", "quantized_resnet50",
        "quantized_resnext101_32x8d", "quantized_resnext101_64x4d", "quantized_shufflenet_v2_x0_5",
        "quantized_shufflenet_v2_x1_0", "quantized_shufflenet_v2_x1_5",
        "quantized_shufflenet_v2_x2_0"]
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
