"""``ember.vision``: torchvision's API (datasets, io, ops, transforms, models, utils) on ember.

Pillow is needed for images and is imported only when an image is touched.
"""
from ember.vision import datasets, io, models, ops, transforms, utils, version  # noqa: F401
from ember.vision.version import __version__  # noqa: F401

_image_backend = "PIL"
_video_backend = "pyav"


def set_image_backend(backend: str) -> None:
    """Choose the package that loads images: 'PIL' or 'accimage'."""
    global _image_backend
    if backend not in ["PIL", "accimage"]:
        raise ValueError(f"Invalid backend '{backend}'. Options are 'PIL' and 'accimage'")
    _image_backend = backend


def get_image_backend() -> str:
    """The name of the package that loads images ('PIL' by default)."""
    return _image_backend


def set_video_backend(backend: str) -> None:
    """Accepted and ignored, as in torchvision, whose only video backend is 'pyav'."""


def get_video_backend() -> str:
    """The video backend: 'pyav'."""
    return _video_backend


def disable_beta_transforms_warning() -> None:
    """A no-op kept for code written when transforms.v2 warned that it was in beta."""


def __getattr__(name: str):
    # tv_tensors defines Tensor subclasses, which switch on __torch_function__ dispatch (a
    # cost on every op, NOTE [ Installing dispatch ]): loaded on first use, not with vision
    if name == "tv_tensors":
        import importlib
        return importlib.import_module("ember.vision.tv_tensors")
    raise AttributeError(f"module 'ember.vision' has no attribute {name!r}")
