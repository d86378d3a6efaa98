"""Converting convolution weights to a memory format (channels_last) throughout a model."""
from __future__ import annotations

from ember.autograd.grad_mode import no_grad
from ember.nn.modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ember.nn.modules.module import Module

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module: Module, memory_format, classes: tuple) -> Module:
    if isinstance(module, classes):
        with no_grad():
            module.weight.data = module.weight.detach().contiguous(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, classes)
    return module


def convert_conv2d_weight_memory_format(module: Module, memory_format) -> Module:
    """Lay out the weight of every Conv2d / ConvTranspose2d in ``module`` in
    ``memory_format``; returns ``module``."""
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: Module, memory_format) -> Module:
    """Lay out the weight of every Conv3d / ConvTranspose3d in ``module`` in
    ``memory_format``; returns ``module``."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
