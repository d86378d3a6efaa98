"""``ember.vision``: torchvision's API (datasets, io, ops, transforms, models, utils) on ember.

Pillow is needed for images and is imported only when an image is touched.
"""
from ember.torch_version import TorchVersion  # noqa: E402
from ember.vision import datasets, io, models, ops, transforms, utils  # noqa: F401

__version__ = TorchVersion("0.28.0")  # the torchvision release (beside PyTorch 2.13) it follows


def __getattr__(name: str):
    # tv_tensors defines Tensor subclasses, which switch on __torch_function__ dispatch (a
    # cost on every op, NOTE [ Installing dispatch ]): loaded on first use, not with vision
    if name == "tv_tensors":
        import importlib
        return importlib.import_module("ember.vision.tv_tensors")
    raise AttributeError(f"module 'ember.vision' has no attribute {name!r}")
