"""``ember.nn.parallel``: ``DataParallel``, ``data_parallel`` and ``DistributedDataParallel``,
as in ``torch.nn.parallel``.

ember runs one device per process, so both run the module on its one device: that is what
PyTorch does too when fewer than two GPUs are visible (the common case in scripts that guard
``data_parallel`` behind ``ngpu > 1``). Spreading one batch over several GPUs is not built;
asking for it raises instead of silently using one: ``DistributedDataParallel`` (one process
per device, launched with ``mpiexec``) is the way to use several.
"""
from __future__ import annotations

from typing import Any, Sequence

from ember.nn.modules.module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


def _check_devices(device_ids: Sequence | None) -> None:
    if device_ids is not None and len(list(device_ids)) > 1:
        raise NotImplementedError(
            f"data parallelism over several devices ({list(device_ids)}) is not supported by "
            "ember; run one process per device instead")


class DataParallel(Module):
    """Wraps ``module``; calling it calls ``module`` (one device: see the module docstring).

    Args:
        module: the module to run.
        device_ids: at most one device (default: the current one).
        output_device: accepted for PyTorch compatibility.
        dim: the batch dimension (unused with one device).

    Example::

        >>> net = ember.nn.DataParallel(ember.nn.Linear(3, 2))
        >>> net(ember.ones(4, 3)).shape
        ember.Size([4, 2])
    """

    def __init__(self, module: Module, device_ids: Sequence | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        _check_devices(device_ids)
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs: Any, device_ids: Sequence | None = None,
                  output_device: Any = None, dim: int = 0,
                  module_kwargs: dict | None = None) -> Any:
    """The functional form of ``DataParallel``: ``module(*inputs, **module_kwargs)``."""
    _check_devices(device_ids)
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))


def __getattr__(name: str):
    # Loaded on first use: ``import ember.nn`` stays free of ember.distributed.
    if name == "DistributedDataParallel":
        from ember.nn.parallel.distributed import DistributedDataParallel
        return DistributedDataParallel
    raise AttributeError(f"module 'ember.nn.parallel' has no attribute '{name}'")
