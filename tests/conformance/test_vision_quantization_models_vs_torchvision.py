"""ember.vision.models.quantization against real torchvision: the quantizable ResNets' and
MobileNetV2's float path (quantize=False) gives the same outputs with the same state_dict,
``fuse_model`` fuses the same modules (eval and QAT), and quantize=True converts to the same
int8 layout."""
import warnings

import numpy as np
import pytest

import ember
from ember.vision.models import quantization
from tests.conformance.real_torchvision import real_torchvision
from tests.conformance.torchvision_model_pairs import (
    assert_outputs_close,
    ember_twin,
    randomize_batchnorm_statistics,
    without_dropout,
)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


def _module_types(model):
    return [(name, type(m).__name__) for name, m in model.named_modules()]


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2"])
def test_float_path_and_fuse_model(tv, name):
    torch.manual_seed(0)
    torch_model = getattr(tv.models.quantization, name)(num_classes=5)
    randomize_batchnorm_statistics(torch_model)
    ember_model = ember_twin(torch_model, getattr(quantization, name)(num_classes=5))
    without_dropout(torch_model, ember_model)
    assert _module_types(ember_model) == _module_types(torch_model)
    # 64x64 keeps 2x2 positions at the last stage: train-mode BatchNorm over fewer is
    # ill-conditioned; ResNet-50's train mode runs the same code as ResNet-18's
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64))
    for training in (False,) if name == "resnet50" else (False, True):
        torch_model.train(training)
        ember_model.train(training)
        assert_outputs_close(torch_model(torch.tensor(x)), ember_model(ember.tensor(x)),
                             rtol=1e-9, atol=1e-10)
    torch_model.eval().fuse_model()
    ember_model.eval().fuse_model()
    assert _module_types(ember_model) == _module_types(torch_model)
    assert list(ember_model.state_dict()) == list(torch_model.state_dict())
    assert_outputs_close(torch_model(torch.tensor(x)), ember_model(ember.tensor(x)), rtol=1e-9,
                         atol=1e-10)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_qat_fuse_and_quantized_layout(tv, name):
    torch_model = getattr(tv.models.quantization, name)(num_classes=5).train()
    ember_model = getattr(quantization, name)(num_classes=5).train()
    torch_model.fuse_model()
    ember_model.fuse_model()
    assert _module_types(ember_model) == _module_types(torch_model)
    assert list(ember_model.state_dict()) == list(torch_model.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of quantized tensors
        torch_model = getattr(tv.models.quantization, name)(quantize=True, num_classes=5)
        ember_model = getattr(quantization, name)(quantize=True, num_classes=5)
    assert _module_types(ember_model) == _module_types(torch_model)
    assert list(ember_model.state_dict()) == list(torch_model.state_dict())
