"""ember.vision.models.quantization against real torchvision: the quantizable ResNets',
MobileNetV2's, MobileNetV3's, GoogLeNet's, Inception v3's and ShuffleNet V2's float path
(quantize=False) gives the same outputs with the same state_dict, ``fuse_model`` fuses the same
modules (eval and QAT), quantize=True converts to the same int8 layout, and the int8 models
compute the same integers."""
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


# GoogLeNet's and Inception v3's truncated-normal initialisation is slow (and irrelevant here)
_KWARGS = {"googlenet": {"init_weights": False}, "inception_v3": {"init_weights": False}}
# GoogLeNet trains with auxiliary outputs: its eval path is compared (Inception v3's float path
# is too slow here: test_int8_inference_matches covers its fusion and layout)
# (MobileNetV3 at 32x32 has 1x1 maps in its last stage, where train-mode BatchNorm is
# ill-conditioned)
_EVAL_ONLY = ("resnet50", "mobilenet_v3_large", "googlenet")


@pytest.mark.parametrize("name,size", [("resnet18", 64), ("resnet50", 64), ("mobilenet_v2", 64),
                                       ("shufflenet_v2_x0_5", 64), ("mobilenet_v3_large", 32),
                                       ("googlenet", 32)])
def test_float_path_and_fuse_model(tv, name, size):
    torch.manual_seed(0)
    kwargs = _KWARGS.get(name, {})
    torch_model = getattr(tv.models.quantization, name)(num_classes=5, **kwargs)
    randomize_batchnorm_statistics(torch_model)
    ember_model = ember_twin(torch_model, getattr(quantization, name)(num_classes=5, **kwargs))
    without_dropout(torch_model, ember_model)
    assert _module_types(ember_model) == _module_types(torch_model)
    # 64x64 keeps 2x2 positions at the last stage: train-mode BatchNorm over fewer is
    # ill-conditioned; ResNet-50's train mode runs the same code as ResNet-18's
    x = np.random.default_rng(0).normal(size=(2, 3, size, size))
    for training in (False,) if name in _EVAL_ONLY else (False, True):
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


@pytest.mark.parametrize("name,size,batch", [("resnet18", 32, 2), ("mobilenet_v2", 32, 2),
                                             ("shufflenet_v2_x0_5", 64, 2),
                                             ("googlenet", 32, 1),
                                             ("inception_v3", 75, 1)])
def test_int8_inference_matches(tv, name, size, batch, tmp_path):
    """The same float weights and calibration data give the same int8 model (qparams equal up
    to the float rounding of the observed activations), and torch's int8 state dict gives
    exactly torch's outputs on ember. (Through Inception v3's 94 convolutions the qparams'
    float differences flip enough roundings that only its exact path is compared.)"""
    torch.manual_seed(0)
    kwargs = _KWARGS.get(name, {})
    torch_model = getattr(tv.models.quantization, name)(num_classes=5, **kwargs)
    randomize_batchnorm_statistics(torch_model)
    ember_model = getattr(quantization, name)(num_classes=5, **kwargs)
    ember_model.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                                 for k, v in torch_model.state_dict().items()})
    rng = np.random.default_rng(0)
    # (torch's quantized mean, which ShuffleNet pools with, fails on a 1x1 map)
    calibration = rng.normal(size=(batch, 3, size, size)).astype(np.float32)
    x = rng.normal(size=(batch, 3, size, size)).astype(np.float32)
    torch.backends.quantized.engine = "fbgemm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecations; an unused skip_add's observer
        torch_model = _post_training_quantized(torch, torch_model, calibration)
        ember_model = _post_training_quantized(ember, ember_model, calibration)
        torch_out = torch_model(torch.tensor(x)).numpy()
    assert _module_types(ember_model) == _module_types(torch_model)
    assert list(ember_model.state_dict()) == list(torch_model.state_dict())
    torch_qparams, ember_qparams = _output_qparams(torch_model), _output_qparams(ember_model)
    assert list(ember_qparams) == list(torch_qparams)
    for key, (scale, zero_point) in torch_qparams.items():
        assert ember_qparams[key][1] == zero_point, key
        assert ember_qparams[key][0] == pytest.approx(scale, rel=1e-5), key
    if name != "inception_v3":
        step = torch_qparams[list(torch_qparams)[-1]][0]
        np.testing.assert_allclose(ember_model(ember.tensor(x)).numpy(), torch_out, rtol=0,
                                   atol=4.01 * step)
    torch.save(torch_model.state_dict(), tmp_path / "int8.pt")
    ember_model.load_state_dict(ember.load(tmp_path / "int8.pt"))
    np.testing.assert_array_equal(ember_model(ember.tensor(x)).numpy(), torch_out)


def _qat_prepared(lib, model):
    """``model`` fused and QAT-prepared as torchvision's quantized MobileNetV3 builder does."""
    ao = lib.ao.quantization
    model.fuse_model(is_qat=True)
    model.qconfig = ao.get_default_qat_qconfig("qnnpack")
    return ao.prepare_qat(model, inplace=True)


def test_mobilenet_v3_qat_state_dict_converts_to_the_same_int8_model(tv):
    """Both libraries QAT-prepare MobileNetV3 alike (fixed-qparams fake quants on the
    hard-sigmoid gates); a QAT-trained torch state dict loads into ember's model, and both
    convert to int8 models computing the same integers (the path of torchvision's quantized
    weights)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of eager-mode quantization
        torch_model = _qat_prepared(torch,
                                    tv.models.quantization.mobilenet_v3_large(num_classes=5))
        ember_model = _qat_prepared(ember, quantization.mobilenet_v3_large(num_classes=5))
        assert _module_types(ember_model) == _module_types(torch_model)
        torch_model(torch.tensor(rng.normal(size=(4, 3, 64, 64)).astype(np.float32)))
    state = torch_model.state_dict()
    gate = "features.4.block.2.scale_activation.activation_post_process"
    assert float(state[gate + ".scale"]) == 1 / 256 and int(state[gate + ".zero_point"]) == 0
    ember_model.load_state_dict({k: ember.tensor(v.numpy().copy()) for k, v in state.items()})
    torch.backends.quantized.engine = "fbgemm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_model = torch.ao.quantization.convert(torch_model.eval())
        ember_model = ember.ao.quantization.convert(ember_model.eval())
        x = rng.normal(size=(2, 3, 32, 32)).astype(np.float32)
        torch_out = torch_model(torch.tensor(x)).numpy()
    assert _module_types(ember_model) == _module_types(torch_model)
    assert list(ember_model.state_dict()) == list(torch_model.state_dict())
    np.testing.assert_array_equal(ember_model(ember.tensor(x)).numpy(), torch_out)
