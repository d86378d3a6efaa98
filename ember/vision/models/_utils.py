"""What the builders share: ImageNet weight records, the arguments that pretrained weights fix,
loading the checkpoint, and the deprecated ``pretrained=`` argument."""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict
from typing import Any, Callable, TypeVar

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._presets import ImageClassification

_URL = "https://download.pytorch.org/models/"  # where torchvision's checkpoints are


def _imagenet_weights(url: str, num_params: int, min_size: tuple = (1, 1),
                      resize_size: int = 256, crop_size: int = 224) -> Weights:
    """The record of an ImageNet-1K classifier's weights, evaluated at ``crop_size`` after
    resizing to ``resize_size``."""
    transforms = functools.partial(ImageClassification, crop_size=crop_size,
                                   resize_size=resize_size)
    return Weights(url=url, transforms=transforms,
                   meta={"num_params": num_params, "min_size": min_size,
                         "categories": _IMAGENET_CATEGORIES})


def _ovewrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """Set ``kwargs[param]``; a caller's different value is an error (torchvision's name)."""
    if param in kwargs and kwargs[param] != new_value:
        raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                         f"{kwargs[param]} instead.")
    kwargs[param] = new_value


V = TypeVar("V")


def _ovewrite_value_param(param: str, actual: V | None, expected: V) -> V:
    """``expected``, checking that a caller's ``actual`` (None: not given) agrees with it
    (torchvision's name)."""
    if actual is not None and actual != expected:
        raise ValueError(f"The parameter '{param}' expected value {expected} but got {actual} "
                         "instead.")
    return expected


def _fit_to_weights(weights: WeightsEnum | None, kwargs: dict[str, Any]) -> None:
    """Pretrained weights fix the classifier's size: ``num_classes`` must match them."""
    if weights is not None and weights.meta["categories"] is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))


def _load_weights(model: nn.Module, weights: WeightsEnum | None, progress: bool) -> nn.Module:
    """Download (once) and load ``weights`` into ``model`` with strict key matching."""
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor``, losing at most 10% (the channel
    rounding of the MobileNets)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def handle_legacy_interface(default: WeightsEnum | Callable[[dict[str, Any]], WeightsEnum],
                            backbone_default: WeightsEnum | None = None) -> Callable:
    """Decorator: a builder also accepts the deprecated ``pretrained=True`` (meaning
    ``weights=default``, or ``default(kwargs)`` when it is a function of the builder's
    keyword arguments) or ``pretrained=False`` (``weights=None``), warning as torchvision
    does; with ``backbone_default``, ``pretrained_backbone=`` maps to ``weights_backbone=``
    likewise."""
    legacy = {"weights": ("pretrained", default)}
    if backbone_default is not None:
        legacy["weights_backbone"] = ("pretrained_backbone", backbone_default)

    def outer(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        @functools.wraps(builder)
        def inner(*args: Any, **kwargs: Any) -> nn.Module:
            for weights_param, (pretrained_param, weights_default) in legacy.items():
                if pretrained_param in kwargs:
                    _translate_pretrained(kwargs, weights_param, pretrained_param,
                                          weights_default)
            return builder(*args, **kwargs)
        return inner
    return outer


def _translate_pretrained(kwargs: dict[str, Any], weights_param: str, pretrained_param: str,
                          default: WeightsEnum | Callable[[dict[str, Any]], WeightsEnum]) -> None:
    if not isinstance(default, WeightsEnum):
        default = default(kwargs)  # chosen by the other arguments (``quantize=``)
    pretrained = kwargs.pop(pretrained_param)
    if kwargs.get(weights_param) is not None:
        raise ValueError(f"Pass either '{weights_param}' or the deprecated '{pretrained_param}', "
                         "not both.")
    weights = default if pretrained else None
    warnings.warn(f"The parameter '{pretrained_param}' is deprecated since 0.13 and may be "
                  f"removed in the future, please use '{weights_param}' instead.", UserWarning,
                  stacklevel=3)
    msg = (f"Arguments other than a weight enum or `None` for '{weights_param}' are deprecated "
           "since 0.13 and may be removed in the future. The current behavior is equivalent to "
           f"passing `{weights_param}={weights}`.")
    if pretrained:
        msg += (f" You can also use `{weights_param}={type(default).__name__}.DEFAULT` to get "
                "the most up-to-date weights.")
    warnings.warn(msg, UserWarning, stacklevel=3)
    kwargs[weights_param] = weights


def _init_mobilenet(model: nn.Module, linear_init: Callable | None = None) -> None:
    """The MobileNets' initialisation (EfficientNet's too): Kaiming (fan-out) convolutions, unit
    norms, zero biases, and classifier weights by ``linear_init(weight)`` (default: normal with
    std 0.01)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_init is None:
                nn.init.normal_(m.weight, 0, 0.01)
            else:
                linear_init(m.weight)
            nn.init.zeros_(m.bias)


class IntermediateLayerGetter(nn.ModuleDict):
    """Runs ``model``'s direct children in registration order, up to the last one named in
    ``return_layers``, and returns the outputs of those named there under their new names.

    It relies on ``model`` calling its children once each, in the order they were registered.

    Args:
        model: the network whose children are kept (as this ModuleDict's entries, so the
            state_dict keys stay ``<child>.<...>``).
        return_layers: child name -> output name.

    Example::

        >>> getter = IntermediateLayerGetter(resnet18(), {"layer1": "feat1", "layer3": "feat2"})
        >>> [(k, v.shape) for k, v in getter(ember.rand(1, 3, 64, 64)).items()]
        [('feat1', torch.Size([1, 64, 16, 16])), ('feat2', torch.Size([1, 256, 4, 4]))]
    """

    _version = 2

    def __init__(self, model: nn.Module, return_layers: dict[str, str]) -> None:
        if not set(return_layers).issubset(name for name, _ in model.named_children()):
            raise ValueError("return_layers are not present in model")
        remaining = {str(k) for k in return_layers}
        layers = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            remaining.discard(name)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = return_layers

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out
