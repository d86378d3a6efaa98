"""``ember.onnx``: the names of ``torch.onnx`` that scripts touch; ONNX export is not built.

Examples import ``torch.onnx`` unconditionally and call ``export`` only behind a flag, so the
module exists and ``export`` fails clearly when it is actually asked for.
"""
from __future__ import annotations

from typing import Any


def is_in_onnx_export() -> bool:
    """Whether an ONNX export is running (never, in ember)."""
    return False


def export(model: Any, args: Any = (), f: Any = None, *unused: Any, **kwargs: Any) -> None:
    """Unsupported: ember has no ONNX exporter.

    Raises:
        NotImplementedError: always.
    """
    raise NotImplementedError("ember.onnx.export: exporting to ONNX is not supported by ember")
