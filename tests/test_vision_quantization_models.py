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


def test_registry_and_weights():
    assert models.list_models(quantization) == [
        "quantized_mobilenet_v2", "quantized_resnet18", "quantized_resnet50",
        "quantized_resnext101_32x8d", "quantized_resnext101_64x4d"]
    assert quantization.MobileNet_V2_QuantizedWeights.DEFAULT.meta["backend"] == "qnnpack"
    weights = quantization.ResNet50_QuantizedWeights.DEFAULT
    assert weights.meta["backend"] == "fbgemm"
    assert weights.meta["unquantized"] is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.get_model_weights("quantized_resnet18") is quantization.ResNet18_QuantizedWeights
    with pytest.warns(UserWarning):
        with pytest.raises(ValueError):  # float weights fix 1000 classes
            quantization.resnet18(pretrained=True, num_classes=3)
