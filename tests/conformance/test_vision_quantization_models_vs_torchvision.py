"""ember.vision.models.quantization against real torchvision: the quantizable ResNets',
MobileNetV2's and ShuffleNet V2's float path (quantize=False) gives the same outputs with the
same state_dict, ``fuse_model`` fuses the same modules (eval and QAT), quantize=True converts to
the same int8 layout, and the int8 models compute the same integers."""
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


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2", "shufflenet_v2_x0_5"])
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


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "shufflenet_v2_x0_5"])
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


def _post_training_quantized(lib, model, calibration):
    """torchvision's ``quantize_model`` for fbgemm, calibrated on ``calibration``."""
    ao = lib.ao.quantization
    model.eval().fuse_model()
    model.qconfig = ao.QConfig(activation=ao.default_observer,
                               weight=ao.default_per_channel_weight_observer)
    ao.prepare(model, inplace=True)
    model(lib.tensor(calibration))
    return ao.convert(model, inplace=True)


def _output_qparams(model):
    return {name: (m.scale, m.zero_point) for name, m in model.named_modules()
            if isinstance(getattr(m, "scale", None), float)}


@pytest.mark.parametrize("name,size", [("resnet18", 32), ("mobilenet_v2", 32),
                                       ("shufflenet_v2_x0_5", 64)])
def test_int8_inference_matches(tv, name, size, tmp_path):
    """The same float weights and calibration data give the same int8 model (qparams equal up
    to the float rounding of the observed activations), and torch's int8 state dict gives
    exactly torch's outputs on ember."""
    torch.manual_seed(0)
    torch_model = getattr(tv.models.quantization, name)(num_classes=5)
    randomize_batchnorm_statistics(torch_model)
    ember_model = getattr(quantization, name)(num_classes=5)
    ember_model.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                                 for k, v in torch_model.state_dict().items()})
    rng = np.random.default_rng(0)
    # (torch's quantized mean, which ShuffleNet pools with, fails on a 1x1 map)
    calibration = rng.normal(size=(2, 3, size, size)).astype(np.float32)
    x = rng.normal(size=(2, 3, size, size)).astype(np.float32)
    torch.backends.quantized.engine = "fbgemm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecations; an unused skip_add's observer
        torch_model = _post_training_quantized(torch, torch_model, calibration)
        ember_model = _post_training_quantized(ember, ember_model, calibration)
        torch_out = torch_model(torch.tensor(x)).numpy()
    assert _module_types(ember_model) == _module_types(torch_model)
    torch_qparams, ember_qparams = _output_qparams(torch_model), _output_qparams(ember_model)
    assert list(ember_qparams) == list(torch_qparams)
    for key, (scale, zero_point) in torch_qparams.items():
        assert ember_qparams[key][1] == zero_point, key
        assert ember_qparams[key][0] == pytest.approx(scale, rel=1e-5), key
    step = torch_qparams[list(torch_qparams)[-1]][0]
    np.testing.assert_allclose(ember_model(ember.tensor(x)).numpy(), torch_out, rtol=0,
                               atol=4.01 * step)
    torch.save(torch_model.state_dict(), tmp_path / "int8.pt")
    ember_model.load_state_dict(ember.load(tmp_path / "int8.pt"))
    np.testing.assert_array_equal(ember_model(ember.tensor(x)).numpy(), torch_out)
