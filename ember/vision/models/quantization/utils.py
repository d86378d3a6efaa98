"""What the quantizable models share (torchvision's ``models.quantization.utils``): plain
ReLUs for the fuser, post-training quantization, and fusing in eval or QAT mode."""
from __future__ import annotations

import functools
from typing import Any, Callable

import ember
from ember import nn
from ember.ao import quantization
from ember.vision.models._api import Weights, WeightsEnum
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import _ovewrite_named_param


def _replace_relu(module: nn.Module) -> None:
    """Every ``nn.ReLU`` / ``nn.ReLU6`` (exactly those types, not subclasses) below ``module``
    becomes a fresh ``nn.ReLU(inplace=False)``, which the fuser and observers can handle."""
    for name, child in list(module.named_children()):
        _replace_relu(child)
        if type(child) is nn.ReLU or type(child) is nn.ReLU6:
            module._modules[name] = nn.ReLU(inplace=False)


def quantize_model(model: nn.Module, backend: str) -> None:
    """Post-training static quantization in place: fuse, observe one random 299x299 batch,
    convert to int8 modules (per-channel weights for fbgemm, per-tensor for qnnpack)."""
    if backend not in ember.backends.quantized.supported_engines:
        raise RuntimeError("Quantized backend not supported ")
    ember.backends.quantized.engine = backend
    model.eval()
    if backend == "fbgemm":
        model.qconfig = quantization.QConfig(
            activation=quantization.default_observer,
            weight=quantization.default_per_channel_weight_observer)
    elif backend == "qnnpack":
        model.qconfig = quantization.QConfig(activation=quantization.default_observer,
                                             weight=quantization.default_weight_observer)
    model.fuse_model()
    quantization.prepare(model, inplace=True)
    model(ember.rand(1, 3, 299, 299))
    quantization.convert(model, inplace=True)


def _fuse_modules(model: nn.Module, modules_to_fuse: list[str] | list[list[str]],
                  is_qat: bool | None, **kwargs: Any) -> nn.Module:
    """``fuse_modules_qat`` when ``is_qat`` (default: the model is training), else
    ``fuse_modules``."""
    if is_qat is None:
        is_qat = model.training
    method = quantization.fuse_modules_qat if is_qat else quantization.fuse_modules
    return method(model, modules_to_fuse, **kwargs)


def _quantizable(build: Callable[..., nn.Module], weights: WeightsEnum | None, progress: bool,
                 quantize: bool, default_backend: str, **kwargs: Any) -> nn.Module:
    """``build(**kwargs)`` with plain ReLUs, quantized (for ``kwargs``' ``backend``, fixed by
    quantized weights) when ``quantize``, then loaded with ``weights``."""
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        if "backend" in weights.meta:
            _ovewrite_named_param(kwargs, "backend", weights.meta["backend"])
    backend = kwargs.pop("backend", default_backend)
    model = build(**kwargs)
    _replace_relu(model)
    if quantize:
        quantize_model(model, backend)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def _quantized_weights(file_name: str, num_params: int, unquantized: WeightsEnum,
                       resize_size: int = 256, crop_size: int = 224, backend: str = "fbgemm",
                       recipe: str = "post-training-quantized-models", **meta: Any) -> Weights:
    """The record of int8 weights for ``backend``, quantized from ``unquantized``; ``recipe``
    is an anchor of torchvision's classification references, or a full address."""
    if not recipe.startswith("https://"):
        recipe = "https://github.com/pytorch/vision/tree/main/references/classification#" + recipe
    return Weights(
        url="https://download.pytorch.org/models/quantized/" + file_name,
        transforms=functools.partial(ImageClassification, crop_size=crop_size,
                                     resize_size=resize_size),
        meta={"min_size": (1, 1), "categories": _IMAGENET_CATEGORIES, "backend": backend,
              "recipe": recipe, "num_params": num_params, "unquantized": unquantized, **meta})


def _legacy_default(quantized: WeightsEnum, unquantized: WeightsEnum) -> Callable:
    """``pretrained=True`` means the int8 weights with ``quantize=True``, else the float
    ones."""
    return lambda kwargs: quantized if kwargs.get("quantize", False) else unquantized
