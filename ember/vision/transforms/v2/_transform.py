"""``Transform``: the v2 base class. A transform takes any pytree of inputs, draws its random
parameters once from the whole sample (``make_params``) and applies them to every input it
knows how to transform (``transform``), so an image, its boxes and its masks stay aligned."""
from __future__ import annotations

from typing import Any, Callable

from ember._tensor import Tensor
from ember.nn.modules.module import Module
from ember.utils._pytree import tree_flatten, tree_unflatten
from ember.vision import tv_tensors
from ember.vision.transforms.transforms import _uniform
from ember.vision.transforms.v2._utils import _get_kernel, _is_pil, check_type, is_pure_tensor


def _is_image_like(inpt) -> bool:
    return _is_pil(inpt) or isinstance(inpt, (tv_tensors.Image, tv_tensors.Video))


class Transform(Module):
    """Base of the v2 transforms: ``forward(*inputs)`` flattens the inputs, asks
    ``make_params`` for the parameters and maps ``transform(inpt, params)`` over the inputs
    that need it.

    Plain tensors are images only when the sample holds no ``Image``, ``Video`` or PIL image,
    and then only the first one (depth first); the rest, and objects of other types, pass
    through unchanged.
    """

    # what ``transform`` is given (types or checks such as ``is_pure_tensor``); PIL images are
    # recognised separately (Pillow is optional)
    _transformed_types: tuple = (Tensor,)

    def _needs_transform(self, inpt) -> bool:
        if _is_pil(inpt):
            return True
        return check_type(inpt, self._transformed_types)

    def _needs_transform_list(self, flat_inputs: list) -> list:
        take_pure_tensor = not any(_is_image_like(inpt) for inpt in flat_inputs)
        needs = []
        for inpt in flat_inputs:
            need = self._needs_transform(inpt)
            if need and is_pure_tensor(inpt):
                need, take_pure_tensor = take_pure_tensor, False
            needs.append(need)
        return needs

    def check_inputs(self, flat_inputs: list) -> None:
        """Raise if the sample holds inputs the transform refuses (all of them, flattened)."""

    def make_params(self, flat_inputs: list) -> dict:
        """The random (or derived) parameters for one sample; ``flat_inputs`` are the inputs
        that will be transformed."""
        return {}

    def transform(self, inpt: Any, params: dict) -> Any:
        """``inpt`` transformed with ``params``."""
        raise NotImplementedError

    def _call_kernel(self, functional: Callable, inpt, *args, **kwargs):
        # TVTensor types the functional has no kernel for pass through (NOTE [ v2 kernel
        # dispatch ])
        return _get_kernel(functional, inpt, allow_passthrough=True)(inpt, *args, **kwargs)

    def forward(self, *inputs: Any) -> Any:
        flat_inputs, spec = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        self.check_inputs(flat_inputs)
        needs = self._needs_transform_list(flat_inputs)
        params = self.make_params([inpt for inpt, need in zip(flat_inputs, needs) if need])
        flat_outputs = [self.transform(inpt, params) if need else inpt
                        for inpt, need in zip(flat_inputs, needs)]
        return tree_unflatten(flat_outputs, spec)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in vars(self).items()
                         if not k.startswith("_") and k != "training")


class _RandomApplyTransform(Transform):
    """A transform applied to the whole sample with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        super().__init__()
        self.p = p

    def forward(self, *inputs: Any) -> Any:
        # the same draw as v1's random flips, so one seed gives v1's and v2's choices alike
        if _uniform(0, 1) >= self.p:
            return inputs if len(inputs) > 1 else inputs[0]
        return super().forward(*inputs)
