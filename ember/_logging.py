"""``torch._logging``: the switches for what PyTorch's compiler stack logs (graphs, guards,
recompiles, generated code). ember compiles nothing, so there are no such artifacts; the
settings are kept so that code that configures logging runs and can read them back."""
from __future__ import annotations

from typing import Any

__all__ = ["set_logs"]

_settings: dict[str, Any] = {}


def set_logs(**kwargs: Any) -> None:
    """Record which compiler artifacts and components to log (``output_code=True``,
    ``dynamo=logging.DEBUG``, ...); each call replaces the previous settings, as in PyTorch."""
    _settings.clear()
    _settings.update(kwargs)
