"""``ember.legacy``: Lua-Torch-style ``nn`` and ``optim`` (PyTorch 0.3's ``torch.legacy``), kept
so that code ported from Lua Torch runs on ember tensors."""
from ember.legacy import nn, optim  # noqa: F401
