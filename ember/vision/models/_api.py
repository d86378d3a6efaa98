"""Pretrained weights and the model registry (torchvision's ``models._api``).

Each builder (``resnet18``, ``vgg16``, ...) takes ``weights=``: a member of its ``*_Weights``
enum, that member's name as a string, or None. A member's value is a ``Weights`` record: the
checkpoint's URL, the evaluation transforms it was validated with, and metadata (parameter
count, class names, minimum input size). ``DEFAULT`` is an alias of the best member.
"""
from __future__ import annotations

import fnmatch
import inspect
import typing
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping

from ember import nn

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models", "register_model"]


@dataclass(eq=False)  # identity equality: every enum member stays distinct, never an alias
class Weights:
    """What one set of pretrained weights is.

    Args:
        url: where the checkpoint (a state_dict) is downloaded from.
        transforms: builds the preprocessing the weights were evaluated with.
        meta: ``num_params``, ``categories`` (class names, or None), ``min_size`` and more.
    """

    url: str
    transforms: Callable[..., nn.Module]
    meta: dict[str, Any]


class WeightsEnum(Enum):
    """Base of the ``*_Weights`` enums; each member's value is a :class:`Weights`.

    Example::

        >>> ResNet18_Weights.DEFAULT.url
        'https://download.pytorch.org/models/resnet18-f37072fd.pth'
        >>> preprocess = ResNet18_Weights.IMAGENET1K_V1.transforms()
    """

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """``obj`` as a member of this enum: a member, its name (``"IMAGENET1K_V1"``, also as
        ``"ResNet18_Weights.IMAGENET1K_V1"``, or ``"DEFAULT"``), or None (kept)."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            return cls[obj.replace(cls.__name__ + ".", "")]
        raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but received "
                        f"{obj.__class__.__name__}.")

    def get_state_dict(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        """The checkpoint, downloaded once into the hub cache (``ember.hub``'s arguments)."""
        from ember.hub import load_state_dict_from_url
        return load_state_dict_from_url(self.url, *args, **kwargs)

    def __reduce_ex__(self, protocol: int):
        # by name: the value holds a transforms constructor and compares by identity
        return getattr, (self.__class__, self._name_)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Callable[..., nn.Module]:
        return self.value.transforms

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta


BUILTIN_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str | None = None) -> Callable:
    """Decorator: make a builder known to ``get_model`` / ``list_models`` under ``name``
    (default: the function's name)."""
    def wrapper(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn
    return wrapper


def list_models(module: ModuleType | None = None, include: str | Iterable[str] | None = None,
                exclude: str | Iterable[str] | None = None) -> list[str]:
    """Sorted names of the registered models, optionally only those of ``module`` (e.g.
    ``ember.vision.models``) and filtered by Unix-style patterns.

    Example::

        >>> list_models(include="resnet*", exclude=["*101*", "*152*"])
        ['resnet18', 'resnet34', 'resnet50']
    """
    names = {k for k, fn in BUILTIN_MODELS.items()
             if module is None or fn.__module__.rsplit(".", 1)[0] == module.__spec__.name}
    if include:
        patterns = [include] if isinstance(include, str) else list(include)
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
    if exclude:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)}
    return sorted(names)


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name`` (case-insensitive)."""
    try:
        return BUILTIN_MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name: str, **config: Any) -> nn.Module:
    """Build the model registered as ``name``; ``config`` goes to its builder.

    Example::

        >>> net = get_model("mobilenet_v3_small", weights=None, num_classes=10)
    """
    return get_model_builder(name)(**config)


def get_model_weights(name: Callable | str) -> type[WeightsEnum]:
    """The ``*_Weights`` enum of a builder, given as the function or its registered name."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    params = inspect.signature(fn, eval_str=True).parameters
    if "weights" not in params:
        raise ValueError("The method is missing the 'weights' argument.")
    annotation = params["weights"].annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, WeightsEnum):
            return candidate
    raise ValueError("The WeightsEnum class for the specific method couldn't be retrieved. "
                     "Make sure the typing info is correct.")


def get_weight(name: str) -> WeightsEnum:
    """A weights member by its full name, e.g. ``"ResNet50_Weights.IMAGENET1K_V2"``."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    # the enums live in the model modules, which import this one: look them up at call time,
    # in the package and in its subpackages (video, optical_flow, segmentation, ...)
    from ember.vision import models
    packages = [models] + [m for m in vars(models).values() if isinstance(m, ModuleType)
                           and m.__name__.startswith(models.__name__ + ".")
                           and hasattr(m, "__path__")]
    for package in packages:
        weights_enum = getattr(package, enum_name, None)
        if isinstance(weights_enum, type) and issubclass(weights_enum, WeightsEnum):
            return weights_enum[value_name]
    raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                     "retrieved.")
