"""``BackendConfig``: what a backend can run quantized, as
``torch.ao.quantization.backend_config``.

ember's FX quantization knows one backend (PyTorch's native fbgemm/x86 numerics, see
``ember.ao.quantization.fx``), so these configs only name the backend: ``prepare_fx`` accepts
any of them and quantizes the same patterns.
"""
from __future__ import annotations

__all__ = ["BackendConfig", "get_native_backend_config", "get_fbgemm_backend_config",
           "get_x86_backend_config", "get_qnnpack_backend_config", "get_onednn_backend_config"]


class BackendConfig:
    """A named backend for ``prepare_fx`` / ``convert_fx``.

    Example::

        >>> get_fbgemm_backend_config().name
        'fbgemm'
    """

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"BackendConfig({self.name!r})"


def get_native_backend_config() -> BackendConfig:
    """The config of PyTorch's native backends (fbgemm and qnnpack together)."""
    return BackendConfig("native")


def get_fbgemm_backend_config() -> BackendConfig:
    return BackendConfig("fbgemm")


def get_x86_backend_config() -> BackendConfig:
    return BackendConfig("x86")


def get_qnnpack_backend_config() -> BackendConfig:
    return BackendConfig("qnnpack")


def get_onednn_backend_config() -> BackendConfig:
    return BackendConfig("onednn")
