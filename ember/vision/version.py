"""``torchvision.version``: the torchvision release (beside PyTorch 2.13) ember.vision follows,
and what it runs on: ``cuda`` is ember's CUDA runtime (``None`` without CuPy), as
``torch.version.cuda``, read on first use."""
from __future__ import annotations

from ember.torch_version import TorchVersion

__version__ = TorchVersion("0.28.0")
git_version = "Unknown"


def __getattr__(name: str):
    if name == "cuda":
        import ember.version
        return ember.version.cuda
    raise AttributeError(f"module 'ember.vision.version' has no attribute {name!r}")
