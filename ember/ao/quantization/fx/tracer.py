"""The tracer of FX graph mode quantization."""
from __future__ import annotations

from ember.ao.nn.intrinsic import _FusedModule
from ember.fx import Tracer

__all__ = ["QuantizationTracer"]


class QuantizationTracer(Tracer):
    """``Tracer`` that also keeps fused modules and the modules a ``PrepareCustomConfig``
    names as non-traceable (by qualified name or class) as single call_module nodes."""

    def __init__(self, skipped_module_names: list[str], skipped_module_classes: list[type]
                 ) -> None:
        super().__init__()
        self.skipped_module_names = skipped_module_names
        self.skipped_module_classes = tuple(skipped_module_classes)

    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        return (isinstance(m, _FusedModule) or module_qualified_name in self.skipped_module_names
                or isinstance(m, self.skipped_module_classes)
                or super().is_leaf_module(m, module_qualified_name))
