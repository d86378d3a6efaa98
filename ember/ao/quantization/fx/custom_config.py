"""Custom configs of ``prepare_fx`` / ``convert_fx`` / ``fuse_fx`` (the parts ember honours:
modules left untraced, attributes kept on the result), as
``torch.ao.quantization.fx.custom_config``."""
from __future__ import annotations

from typing import Any

__all__ = ["PrepareCustomConfig", "ConvertCustomConfig", "FuseCustomConfig"]


class _CustomConfig:
    def __init__(self) -> None:
        self.preserved_attributes: list[str] = []

    def set_preserved_attributes(self, attributes: list[str]):
        """Attributes of the float model to copy onto the result (traced code drops them)."""
        self.preserved_attributes = list(attributes)
        return self

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any]):
        config = cls()
        config.set_preserved_attributes(config_dict.get("preserved_attributes", []))
        return config

    def to_dict(self) -> dict[str, Any]:
        return {"preserved_attributes": self.preserved_attributes}


class PrepareCustomConfig(_CustomConfig):
    """``prepare_fx``'s options: submodules to keep as calls rather than trace through
    (``set_non_traceable_module_names`` / ``_classes``), attributes to keep."""

    def __init__(self) -> None:
        super().__init__()
        self.non_traceable_module_names: list[str] = []
        self.non_traceable_module_classes: list[type] = []

    def set_non_traceable_module_names(self, module_names: list[str]) -> "PrepareCustomConfig":
        self.non_traceable_module_names = list(module_names)
        return self

    def set_non_traceable_module_classes(self, module_classes: list[type]
                                         ) -> "PrepareCustomConfig":
        self.non_traceable_module_classes = list(module_classes)
        return self

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any]) -> "PrepareCustomConfig":
        config = super().from_dict(config_dict)
        config.set_non_traceable_module_names(config_dict.get("non_traceable_module_name", []))
        config.set_non_traceable_module_classes(
            config_dict.get("non_traceable_module_class", []))
        return config

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(),
                "non_traceable_module_name": self.non_traceable_module_names,
                "non_traceable_module_class": self.non_traceable_module_classes}


class ConvertCustomConfig(_CustomConfig):
    """``convert_fx``'s options: attributes to keep."""


class FuseCustomConfig(_CustomConfig):
    """``fuse_fx``'s options: attributes to keep."""
