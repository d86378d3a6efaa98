"""``fully_shard`` (FSDP2): shard a module's parameters as DTensors, gather them around its
forward and backward, reduce-scatter its gradients (``torch.distributed.fsdp.fully_shard``).

NOTE [ FSDP2 hooks ]
``fully_shard(module)`` groups the parameters that no earlier call on a submodule manages
(NOTE [ FSDP2 parameter group ]), swaps the module's class to ``FSDP<Class>`` (a subclass of
:class:`FSDPModule` and the original class) and registers two forward hooks:

* pre-forward: the first module to run forward becomes the root (the other FSDP modules under
  it are not); casts floating inputs to ``param_dtype`` (``cast_forward_inputs``); gathers the
  group and sets the unsharded parameters;
* post-forward: reshards if ``reshard_after_forward`` (None: True except for the root, as in
  PyTorch); casts floating outputs to ``output_dtype``; in grad mode, hooks the outputs so that
  their gradient gathers the group again before its backward.
The group's gradient is reduce-scattered when it is complete, and the group resharded after
(``set_reshard_after_backward``). ember runs collectives synchronously, so prefetching and
``async_op`` change nothing but are accepted.
"""
from __future__ import annotations

from typing import Any, Callable

import ember
from ember._tensor import Tensor
from ember.autograd.grad_mode import is_grad_enabled
from ember.distributed.device_mesh import DeviceMesh, init_device_mesh
from ember.distributed.fsdp._fully_shard._fsdp_api import MixedPrecisionPolicy, OffloadPolicy
from ember.distributed.fsdp._fully_shard._fsdp_param_group import FSDPParamGroup, managed_owners
from ember.distributed.fsdp.fully_sharded_data_parallel import _cast_floats
from ember.distributed.process_group import get_world_size
from ember.distributed.tensor._api import DTensor, distribute_tensor
from ember.nn.modules.module import Module
from ember.nn.parallel.distributed import _tensors

__all__ = ["FSDPModule", "UnshardHandle", "fully_shard", "register_fsdp_forward_method"]


def fully_shard(module: Module, *, mesh: DeviceMesh | None = None,
                reshard_after_forward: bool | None = None,
                shard_placement_fn: Callable | None = None,
                mp_policy: MixedPrecisionPolicy = MixedPrecisionPolicy(),
                offload_policy: OffloadPolicy = OffloadPolicy(),
                ignored_params: set | None = None) -> Module:
    """Shard ``module``'s parameters over ``mesh`` (NOTE [ FSDP2 hooks ]); call it bottom-up
    (each layer, then the root). The parameters become ``Shard(0)`` DTensor parameters
    (``shard_placement_fn(param)`` may return another ``Shard``), gathered before forward
    and, after resharding, again before backward; gradients are reduce-scattered, averaged,
    into the sharded parameters' ``.grad``. A 2-d mesh is HSDP: parameters
    ``(Replicate(), Shard(0))``, gathered over its second dimension, gradients
    reduce-scattered over it and all-reduced over the first. Tensor-parallel DTensor
    parameters (``parallelize_module`` over ``mesh["tp"]``, then ``fully_shard`` over
    ``mesh["dp"]``) become DTensors of the ``(dp, tp)`` mesh whose gathered value is the TP
    DTensor (NOTE [ FSDP2 parameter group ]).

    Args:
        module: the module to shard (in place; it is also returned).
        mesh: a 1-d DeviceMesh, or a 2-d one with ``mesh_dim_names`` for HSDP (default: all
            ranks on the default device type).
        reshard_after_forward: free the gathered parameters after forward (None: True for
            every module but the root).
        shard_placement_fn: parameter -> ``Shard(dim)`` or None (``Shard(0)``).
        mp_policy: :class:`MixedPrecisionPolicy`.
        offload_policy: :class:`OffloadPolicy` or :class:`CPUOffloadPolicy`.
        ignored_params: parameters left unsharded and unreduced.

    Returns:
        ``module``, now an instance of ``FSDP<Class>``.

    Example::

        >>> mesh = init_device_mesh("cpu", (world_size,))
        >>> for layer in model.layers:
        ...     fully_shard(layer, mesh=mesh)
        >>> fully_shard(model, mesh=mesh)
        >>> model(x).sum().backward()     # p.grad: DTensor Shard(0)
        >>> # HSDP: 2 replicas, each sharded over 2 ranks
        >>> mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("replicate", "shard"))
        >>> # FSDP over tensor parallelism
        >>> mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
        >>> parallelize_module(model, mesh["tp"], {"up": ColwiseParallel(),
        ...                                         "down": RowwiseParallel()})
        >>> fully_shard(model, mesh=mesh["dp"])  # up.weight: (_StridedShard(0, sf=2), Shard(0))
    """
    if isinstance(module, (list, tuple)):
        raise NotImplementedError("fully_shard of a list of modules is not supported in ember")
    if not isinstance(module, Module):
        raise ValueError(f"fully_shard does not support containers that do not implement "
                         f"forward: {module}")
    if mesh is None:
        mesh = init_device_mesh("cuda" if ember.cuda.is_available() else "cpu",
                                (get_world_size(),))
    if mesh.ndim not in (1, 2):
        raise ValueError(f"fully_shard expects a 1D or 2D DeviceMesh but got {mesh}")
    if mesh.ndim == 2 and mesh.mesh_dim_names is None:
        raise AssertionError("Please init the 2D mesh for HSDP with mesh_dim_names specified")
    ignored = {id(p) for p in (ignored_params or ())}
    group = FSDPParamGroup(managed_owners([module], ignored), mesh, mp_policy, offload_policy,
                           shard_placement_fn)
    state = FSDPState(module, group, mp_policy, reshard_after_forward)
    module.__dict__["_fsdp_state"] = state
    module.register_forward_pre_hook(state.pre_forward, prepend=True, with_kwargs=True)
    module.register_forward_hook(state.post_forward)
    module.register_load_state_dict_pre_hook(state.distribute_full_tensors)
    cls = type(module)
    if not isinstance(module, FSDPModule):
        module.__class__ = _fsdp_class(cls)
    return module


_FSDP_CLASSES: dict = {}


def _fsdp_class(cls: type) -> type:
    """``FSDP<cls>``: FSDPModule first in the MRO, then ``cls`` (one class per ``cls``)."""
    if cls not in _FSDP_CLASSES:
        _FSDP_CLASSES[cls] = type(f"FSDP{cls.__name__}", (FSDPModule, cls),
                                  {"__deepcopy__": _unimplemented_deepcopy})
    return _FSDP_CLASSES[cls]


def _unimplemented_deepcopy(*args: Any, **kwargs: Any):
    raise AssertionError("FSDP does not support deepcopy. Please use state dict for "
                         "serialization.")


class FSDPState:
    """The hooks and settings of one ``fully_shard`` call (NOTE [ FSDP2 hooks ])."""

    def __init__(self, module: Module, group: FSDPParamGroup, mp_policy: MixedPrecisionPolicy,
                 reshard_after_forward: bool | None) -> None:
        self.module = module
        self.group = group
        self.mp_policy = mp_policy
        self.reshard_after_forward = reshard_after_forward
        self.is_root: bool | None = None
        self.is_last_backward = True
        self.forward_prefetch: list = []
        self.backward_prefetch: list = []
        prefixes = {id(m): name + "." if name else "" for name, m in module.named_modules()}
        self.keys = [(prefixes[id(m)] + n, param) for slot, param in zip(group.slots, group.params)
                     for m, n in slot.owners if id(m) in prefixes]

    def _lazy_init(self) -> None:
        self.is_root = True
        for m in self.module.modules():
            if m is not self.module and isinstance(m, FSDPModule):
                m._get_fsdp_state().is_root = False
            if isinstance(m, FSDPModule):  # parameters assigned since (load_state_dict)
                m._get_fsdp_state().group.refresh_params()

    def pre_forward(self, module: Module, args: tuple, kwargs: dict) -> tuple:
        if self.is_root is None:
            self._lazy_init()
        if self.mp_policy.param_dtype is not None and self.mp_policy.cast_forward_inputs:
            args, kwargs = _cast_floats((args, kwargs), self.mp_policy.param_dtype)
        self.group.unshard()
        self.group.set_unsharded_params()  # in this forward's grad mode
        for other in self.forward_prefetch:
            other.unshard()
        return args, kwargs

    def post_forward(self, module: Module, args: tuple, output: Any) -> Any:
        reshard = self.reshard_after_forward
        if reshard is None:
            reshard = not self.is_root
        if reshard:
            self.group.reshard()
        if self.mp_policy.output_dtype is not None:
            output = _cast_floats(output, self.mp_policy.output_dtype)
        if is_grad_enabled() and self.group.requires_grad:
            for t in _tensors(output):
                if t.requires_grad:
                    t.register_hook(self._pre_backward)
        return output

    def _pre_backward(self, grad: Tensor) -> None:
        if not self.group.unsharded:
            self.group.unshard()
        for other in self.backward_prefetch:
            other.unshard()

    def distribute_full_tensors(self, module: Module, state_dict: dict, prefix: str,
                                *args: Any) -> None:
        """Before loading: make plain tensors for this group's parameters DTensors (each rank
        keeping its shard of its own copy, no communication)."""
        for key, param in self.keys:
            value = state_dict.get(prefix + key)
            if isinstance(value, Tensor) and not isinstance(value, DTensor):
                state_dict[prefix + key] = distribute_tensor(value.detach(), param.device_mesh,
                                                             param.placements, src_data_rank=None)


class UnshardHandle:
    """What ``FSDPModule.unshard(async_op=True)`` returns; ``wait()`` waits for the all-gather
    (ember's collectives are synchronous, so it has finished already)."""

    def wait(self) -> None:
        """Wait for the unshard (a no-op in ember)."""


class FSDPModule:
    """The base that ``fully_shard`` adds to a module's class (``FSDP<Class>``): methods to
    control sharding, gathering and gradient reduction."""

    def __new__(cls, *args: Any, **kwargs: Any):
        # building a new instance (e.g. slicing a container) builds the original class
        orig = cls.__mro__[2]
        self = orig.__new__(orig)
        self.__init__(*args, **kwargs)
        return self

    def _get_fsdp_state(self) -> FSDPState:
        return self.__dict__["_fsdp_state"]

    def _fsdp_modules(self, recurse: bool) -> list:
        return [m for m in (self.modules() if recurse else [self]) if isinstance(m, FSDPModule)]

    def reshard(self) -> None:
        """Free the gathered parameters; the sharded ones are registered again (not
        recursive)."""
        self._get_fsdp_state().group.reshard()

    def _apply(self, fn: Callable, recurse: bool = True) -> Module:
        """``Module._apply`` (``to``, ``to_empty``, ...) on the sharded parameters, resharded
        first; the group then holds the converted ones."""
        self.reshard()
        module = super()._apply(fn, recurse)
        self._get_fsdp_state().group.refresh_params()
        return module

    def unshard(self, async_op: bool = False) -> UnshardHandle | None:
        """Gather the parameters (in ``param_dtype``) and register the unsharded ones (not
        recursive). Returns an :class:`UnshardHandle` if ``async_op``, else None."""
        state = self._get_fsdp_state()
        if not state.group.unsharded:
            state.group.refresh_params()
        state.group.unshard()
        return UnshardHandle() if async_op else None

    def set_is_last_backward(self, is_last_backward: bool) -> None:
        """Whether the next backward is the last of the iteration (kept for API parity)."""
        self._get_fsdp_state().is_last_backward = is_last_backward

    def set_requires_gradient_sync(self, requires_gradient_sync: bool, *,
                                   recurse: bool = True) -> None:
        """Whether backward reduce-scatters gradients; without, the unsharded gradients are
        summed locally and reduced by the next synced backward (gradient accumulation)."""
        for m in self._fsdp_modules(recurse):
            m._get_fsdp_state().group.reduce_grads = requires_gradient_sync

    def set_requires_all_reduce(self, requires_all_reduce: bool, *, recurse: bool = True) -> None:
        """HSDP: whether backward all-reduces gradients over the replicate dimension; without,
        the reduce-scattered gradients are summed and all-reduced by the next backward that
        does (a no-op on a 1-d mesh)."""
        for m in self._fsdp_modules(recurse):
            m._get_fsdp_state().group.all_reduce_grads = requires_all_reduce

    def set_reshard_after_forward(self, reshard_after_forward: bool,
                                  recurse: bool = True) -> None:
        """Whether to reshard after forward (overrides the root's default of False)."""
        if not isinstance(reshard_after_forward, bool):
            raise ValueError(f"reshard_after_forward should be a bool, got "
                             f"{type(reshard_after_forward)}")
        for m in self._fsdp_modules(recurse):
            m._get_fsdp_state().reshard_after_forward = reshard_after_forward

    def set_reshard_after_backward(self, reshard_after_backward: bool, *,
                                   recurse: bool = True) -> None:
        """Whether to reshard after backward (False keeps parameters gathered between
        micro-batches)."""
        for m in self._fsdp_modules(recurse):
            m._get_fsdp_state().group.reshard_after_backward = reshard_after_backward

    def set_modules_to_forward_prefetch(self, modules: list) -> None:
        """Modules to gather when this one's forward starts."""
        self._get_fsdp_state().forward_prefetch = list(modules)

    def set_modules_to_backward_prefetch(self, modules: list) -> None:
        """Modules to gather when this one's backward starts."""
        self._get_fsdp_state().backward_prefetch = list(modules)

    def set_gradient_divide_factor(self, factor: float) -> None:
        """Divide the summed gradients by ``factor`` instead of averaging over the ranks."""
        self._get_fsdp_state().group.divide_factor = factor

    def set_reduce_scatter_divide_factor(self, factor: float) -> None:
        """Deprecated spelling of :meth:`set_gradient_divide_factor`."""
        self.set_gradient_divide_factor(factor)

    def reset_iter_state(self) -> None:
        """After a failed forward or backward: reshard every group and drop gradients held
        for reduction."""
        for m in self._fsdp_modules(True):
            group = m._get_fsdp_state().group
            group._pending_grad = group._pending_block = None
            group.full.grad = None
            group.reshard()


def register_fsdp_forward_method(module: Module, method_name: str) -> None:
    """Make ``module.<method_name>`` gather and reshard as forward does (for methods such as
    ``generate`` that run computation outside ``forward``); a no-op on a module that
    ``fully_shard`` did not shard."""
    if not isinstance(module, FSDPModule):
        return
    state = module._get_fsdp_state()
    method = getattr(module, method_name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = state.pre_forward(module, args, kwargs)
        return state.post_forward(module, args, method(*args, **kwargs))
    module.__dict__[method_name] = wrapped
