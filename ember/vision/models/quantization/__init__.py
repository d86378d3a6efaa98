"""Quantizable models (torchvision's ``models.quantization``): builders that return the float
model prepared for quantization (``quantize=False``) or converted to int8 (``quantize=True``).
So far: the ResNets, ResNeXts, MobileNetV2, MobileNetV3 Large, GoogLeNet, Inception v3 and the
ShuffleNet V2s."""
from ember.vision.models.quantization.googlenet import (
    GoogLeNet_QuantizedWeights,
    QuantizableGoogLeNet,
    googlenet,
)
from ember.vision.models.quantization.inception import (
    Inception_V3_QuantizedWeights,
    QuantizableInception3,
    inception_v3,
)
from ember.vision.models.quantization.mobilenetv2 import (
    MobileNet_V2_QuantizedWeights,
    QuantizableMobileNetV2,
    mobilenet_v2,
)
from ember.vision.models.quantization.mobilenetv3 import (
    MobileNet_V3_Large_QuantizedWeights,
    QuantizableMobileNetV3,
    mobilenet_v3_large,
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
from ember.vision.models.quantization.shufflenetv2 import (
    QuantizableShuffleNetV2,
    ShuffleNet_V2_X0_5_QuantizedWeights,
    ShuffleNet_V2_X1_0_QuantizedWeights,
    ShuffleNet_V2_X1_5_QuantizedWeights,
    ShuffleNet_V2_X2_0_QuantizedWeights,
    shufflenet_v2_x0_5,
    shufflenet_v2_x1_0,
    shufflenet_v2_x1_5,
    shufflenet_v2_x2_0,
)

__all__ = ["GoogLeNet_QuantizedWeights", "QuantizableGoogLeNet", "googlenet",
           "Inception_V3_QuantizedWeights", "QuantizableInception3", "inception_v3",
           "MobileNet_V2_QuantizedWeights", "QuantizableMobileNetV2", "mobilenet_v2",
           "MobileNet_V3_Large_QuantizedWeights", "QuantizableMobileNetV3", "mobilenet_v3_large",
           "QuantizableResNet", "ResNeXt101_32X8D_QuantizedWeights",
           "ResNeXt101_64X4D_QuantizedWeights", "ResNet18_QuantizedWeights",
           "ResNet50_QuantizedWeights", "resnet18", "resnet50", "resnext101_32x8d",
           "resnext101_64x4d", "QuantizableShuffleNetV2", "ShuffleNet_V2_X0_5_QuantizedWeights",
           "ShuffleNet_V2_X1_0_QuantizedWeights", "ShuffleNet_V2_X1_5_QuantizedWeights",
           "ShuffleNet_V2_X2_0_QuantizedWeights", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
           "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]
