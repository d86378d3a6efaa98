"""``ember.types``: the type aliases PyTorch's annotations use (``torch.types.Number``, ...)."""
from __future__ import annotations

import os
from typing import IO, Union

from ember._tensor import Tensor
from ember.backend.device import Device as _device
from ember.storage import TypedStorage, UntypedStorage

__all__ = ["BoolLikeType", "Device", "FileLike", "FloatLikeType", "IntLikeType", "Number",
           "Storage", "Tensor"]

Number = Union[int, float, bool]
IntLikeType = int
FloatLikeType = float
BoolLikeType = bool
Device = Union[_device, str, int, None]
Storage = Union[TypedStorage, UntypedStorage]
FileLike = Union[str, os.PathLike, IO[bytes]]
