"""Quantizable models (torchvision's ``models.quantization``): builders that return the float
model prepared for quantization (``quantize=False``) or converted to int8 (``quantize=True``).
So far: the ResNets, ResNeXts and MobileNetV2."""
from ember.vision.models.quantization.mobilenetv2 import (
    MobileNet_V2_QuantizedWeights,
    QuantizableMobileNetV2,
    mobilenet_v2,
)
from ember.vision.models.quantization.resnet import (
    QuantizableResNet,
    ResNet18_QuantizedWeights,
    ResNet50_QuantizedWeights,
    ResNeXt101_32X8D_QuantizedWeights,
    ResNeXt101_64X4D_QuantizedWeights,
    resnet18,
    resnet50,
    resnext101_32x8d,
    resnext101_64x4d,
)

__all__ = ["MobileNet_V2_QuantizedWeights", "QuantizableMobileNetV2", "mobilenet_v2",
           "QuantizableResNet", "ResNeXt101_32X8D_QuantizedWeights",
           "ResNeXt101_64X4D_QuantizedWeights", "ResNet18_QuantizedWeights",
           "ResNet50_QuantizedWeights", "resnet18", "resnet50", "resnext101_32x8d",
           "resnext101_64x4d"]
