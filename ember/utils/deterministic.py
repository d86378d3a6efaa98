"""``torch.utils.deterministic``: ``fill_uninitialized_memory``, whether ``empty`` and its
kin fill new memory (NaN, or an integer type's largest value) while deterministic algorithms
are on (``torch.use_deterministic_algorithms(True)``); True by default."""
from __future__ import annotations

import sys
import types

from ember.runtime import _Flags


class _Deterministic(types.ModuleType):
    """This module, with the flag as a checked property (PyTorch accepts only a bool)."""

    @property
    def fill_uninitialized_memory(self) -> bool:
        return _Flags.fill_uninitialized_memory

    @fill_uninitialized_memory.setter
    def fill_uninitialized_memory(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise RuntimeError(f"expected a bool, but got {type(mode).__name__}")
        _Flags.fill_uninitialized_memory = mode


sys.modules[__name__].__class__ = _Deterministic
