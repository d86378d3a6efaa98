"""``RemoteModule``: a module that lives on another worker, called through RPC.

Its forward runs on the owner (``rpc_async`` of the module's ``forward`` there), so inside a
distributed-autograd context the backward pass reaches the remote parameters, which
``remote_parameters()`` hands to a ``DistributedOptimizer`` as RRefs. The module's state stays
remote: the local methods that would read or change it (``parameters()``, ``to()``,
``state_dict()``, hooks, ...) raise, as PyTorch's do. A RemoteModule travels in RPC arguments
and results (as its worker, device and module RRef); the Python pickler refuses it.
"""
from __future__ import annotations

from typing import Any

import ember
from ember.distributed import rpc
from ember.distributed.work import Future
from ember.nn.modules.module import Module

__all__ = ["RemoteModule"]

_PICKLED_ATTRIBUTES = ("on", "device", "is_device_map_set", "is_scriptable", "generated_methods",
                       "module_rref")


def _parse_remote_device(remote_device: str) -> tuple:
    """``"<worker name>/<device>"``, ``"rank:<rank>/<device>"``, or without ``/<device>``
    (cpu): (worker name or rank, device)."""
    error = (f"Could not parse remote_device: {remote_device}. The valid format is "
             "'<workername>/<device>' or 'rank:<rank>/<device>' or '<device>'")
    fields = remote_device.split("/")
    if len(fields) > 2 or not fields[0]:
        raise ValueError(error)
    worker, device = (fields[0], fields[1]) if len(fields) == 2 else (fields[0], "cpu")
    device = ember.device(device)
    if ":" in worker:
        kind, _, rank = worker.partition(":")
        if kind != "rank" or not rank.isdigit():
            raise ValueError(error)
        return int(rank), device
    return worker, device


def _create_module(module_cls, args: tuple, kwargs: dict, device: str) -> Module:
    """On the remote worker: the module, on ``device``."""
    module = module_cls(*args, **kwargs)
    if not isinstance(module, Module):
        raise ValueError("Expect `module_cls(*args, **kwargs)` returns an instance of <class "
                         f"nn.Module>, but it returns an instance of {type(module)}.")
    return module.to(device)


def _remote_forward(module_rref: rpc.RRef, args: tuple, kwargs: dict) -> Any:
    return module_rref.local_value().forward(*args, **kwargs)


def _param_rrefs(module_rref: rpc.RRef, recurse: bool) -> list:
    return [rpc.RRef(p) for p in module_rref.local_value().parameters(recurse)]


def _raise_not_supported(name: str) -> None:
    raise ValueError(f"Method ``{name}`` not supported for RemoteModule")


class _RemoteModule(Module):
    def __init__(self, remote_device: str, module_cls, args: tuple | None = None,
                 kwargs: dict | None = None, _module_interface_cls: Any = None) -> None:
        super().__init__()
        if _module_interface_cls is not None:
            raise NotImplementedError("ember has no TorchScript: RemoteModule's "
                                      "_module_interface_cls is not supported")
        self._set_place(remote_device)
        # as PyTorch's, the module is made asynchronously; its errors surface at first use
        self.module_rref = rpc.remote(self.on, _create_module,
                                      args=(module_cls, tuple(args or ()), dict(kwargs or {}),
                                            self.device))

    def _set_place(self, remote_device: str) -> None:
        from ember.distributed.rpc import api
        api._agent_or_raise()  # PyTorch asserts "RemoteModule only works in RPC."
        on, device = _parse_remote_device(remote_device)
        self.on, self.device = on, str(device)
        self.is_device_map_set = False  # ember's RPC moves CPU tensors (no device maps)
        self.is_scriptable = False
        self.generated_methods = ()

    @staticmethod
    def init_from_module_rref(remote_device: str, module_rref: rpc.RRef,
                              _module_interface_cls: Any = None) -> "RemoteModule":
        """A RemoteModule of the module ``module_rref`` holds (on its owner), sharing it."""
        remote_module = RemoteModule.__new__(RemoteModule)
        Module.__init__(remote_module)
        remote_module._set_place(remote_device)
        remote_module.module_rref = module_rref
        return remote_module

    def forward_async(self, *args: Any, **kwargs: Any) -> Future:
        """The module's forward, run on its worker; a Future of its output."""
        return rpc.rpc_async(self.on, _remote_forward, args=(self.module_rref, args, kwargs))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The module's forward, run on its worker (inside a distributed-autograd context, its
        backward pass reaches the remote parameters)."""
        return self.forward_async(*args, **kwargs).wait()

    def remote_parameters(self, recurse: bool = True) -> list:
        """RRefs of the remote module's parameters (its submodules' too when ``recurse``), as
        ``DistributedOptimizer`` takes them."""
        return rpc.rpc_sync(self.on, _param_rrefs, args=(self.module_rref, recurse))

    def get_module_rref(self) -> rpc.RRef:
        """The RRef of the remote module."""
        return self.module_rref

    def train(self, mode: bool = True):
        return self.module_rref.rpc_sync().train(mode)

    def eval(self):
        return self.module_rref.rpc_sync().eval()

    def parameters(self, recurse: bool = True):
        raise ValueError("Method ``parameters`` not supported for RemoteModule. Please use "
                         "``remote_parameters`` instead.")

    def __getstate__(self):
        raise RuntimeError("Cannot pickle RemoteModule in python pickler. RemoteModule can only "
                           "be pickled when using RPC")

    def __setstate__(self, state):
        raise RuntimeError("Cannot unpickle RemoteModule in python pickler. RemoteModule can "
                           "only be unpickled when using RPC")

    def _rpc_reduce(self) -> tuple:
        """How RPC's pickler sends it: the pickled attributes (the RRef travels as RRefs do)."""
        return _rebuild, (type(self), {k: getattr(self, k) for k in _PICKLED_ATTRIBUTES})


def _rebuild(cls, attributes: dict) -> "_RemoteModule":
    remote_module = cls.__new__(cls)
    Module.__init__(remote_module)
    for name, value in attributes.items():
        setattr(remote_module, name, value)
    return remote_module


def _refuse(name: str):
    def method(self, *args, **kwargs):
        _raise_not_supported(name)
    method.__name__ = name
    method.__doc__ = "Not supported: the module lives on another worker (PyTorch raises too)."
    return method


# PyTorch's list of the Module methods a RemoteModule refuses
for _name in ("register_buffer", "register_parameter", "add_module", "apply", "cuda", "ipu",
              "xpu", "cpu", "type", "float", "double", "half", "bfloat16", "to",
              "register_backward_hook", "register_forward_pre_hook", "register_forward_hook",
              "state_dict", "load_state_dict", "named_parameters", "buffers", "named_buffers",
              "children", "named_children", "modules", "named_modules", "requires_grad_",
              "zero_grad", "share_memory", "extra_repr"):
    setattr(_RemoteModule, _name, _refuse(_name))


class RemoteModule(_RemoteModule):
    """``module_cls(*args, **kwargs)`` made on the worker ``remote_device`` names
    (``"<worker name>/<device>"`` or ``"rank:<rank>/<device>"``) and run there through RPC:
    ``forward`` and ``forward_async`` (a Future), ``remote_parameters()`` (RRefs, for a
    ``DistributedOptimizer``) and ``get_module_rref()``. Methods that would use the module's
    state locally (``parameters()``, ``to()``, ``state_dict()``, hooks, ...) raise ValueError.

    Example::

        >>> remote_linear = RemoteModule("worker1/cpu", nn.Linear, args=(20, 30))
        >>> remote_linear(torch.randn(128, 20)).shape
        torch.Size([128, 30])
    """
