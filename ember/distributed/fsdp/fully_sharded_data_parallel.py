"""FullyShardedDataParallel (FSDP1): each unit's parameters sharded over the ranks, gathered
for forward and backward, gradients reduce-scattered (NOTE [ FSDP flat parameter ])."""
from __future__ import annotations

import contextlib
import functools
import math
from typing import Any, Callable, Iterable, Iterator

import ember
from ember._tensor import Tensor
from ember.autograd.grad_mode import is_grad_enabled, no_grad
from ember.autograd.graph import saved_tensors_hooks
from ember.distributed import collectives
from ember.distributed.fsdp._flat_param import FlatParamHandle
from ember.distributed.fsdp.api import (  # noqa: F401  (PyTorch's module exports them too)
    BackwardPrefetch,
    CPUOffload,
    FullOptimStateDictConfig,
    FullStateDictConfig,
    LocalOptimStateDictConfig,
    LocalStateDictConfig,
    MixedPrecision,
    OptimStateDictConfig,
    ShardedOptimStateDictConfig,
    ShardedStateDictConfig,
    ShardingStrategy,
    StateDictConfig,
    StateDictSettings,
    StateDictType,
)
from ember.distributed.fsdp.wrap import auto_wrap
from ember.distributed.process_group import ProcessGroup, get_rank, resolve
from ember.distributed.work import ReduceOp
from ember.nn.modules.module import Module
from ember.nn.parallel.distributed import _tensors

__all__ = ["FullyShardedDataParallel"]

_WRAPPED = "_fsdp_wrapped_module"
_FLAT = "_flat_param"
_HYBRID = (ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2)
_DEFAULT_CONFIGS = {StateDictType.FULL_STATE_DICT: (FullStateDictConfig, FullOptimStateDictConfig),
                    StateDictType.SHARDED_STATE_DICT: (ShardedStateDictConfig,
                                                       ShardedOptimStateDictConfig),
                    StateDictType.LOCAL_STATE_DICT: (LocalStateDictConfig,
                                                     LocalOptimStateDictConfig)}


def _clean(name: str) -> str:
    """``name`` without the wrappers' ``_fsdp_wrapped_module`` parts, as the user's model
    names it."""
    return ".".join(part for part in name.split(".") if part != _WRAPPED)


def _clean_under(prefix: str, key: str) -> str:
    """``key`` cleaned after ``prefix`` (a unit's; the units above it clean the rest)."""
    rest = _clean(key[len(prefix):])
    return prefix + rest if rest else prefix[:-1]


def _cast_floats(obj: Any, dtype) -> Any:
    if isinstance(obj, Tensor):
        return obj.to(dtype) if obj.is_floating_point() else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cast_floats(item, dtype) for item in obj)
    if isinstance(obj, dict):
        return {k: _cast_floats(v, dtype) for k, v in obj.items()}
    return obj


def _pre_backward_hook(handle: FlatParamHandle) -> Callable:
    def hook(grad: Tensor) -> None:
        handle.prepare_backward()
    return hook


def _managed_modules(module: Module, ignored: set) -> list:
    """``module`` and its descendants, not entering nested units nor ignored modules."""
    found, seen, stack = [], set(), [module]
    while stack:
        m = stack.pop()
        if id(m) in seen or m in ignored or (m is not module and
                                              isinstance(m, FullyShardedDataParallel)):
            continue
        seen.add(id(m))
        found.append(m)
        stack.extend(c for c in reversed(list(m.children())) if c is not None)
    return found


def _ignored_modules(module: Module, ignored_modules: Iterable | None,
                     ignored_states: Iterable | None) -> set:
    """The ignored modules and everything inside them."""
    given = list(ignored_modules or [])
    for state in ignored_states or []:
        if not isinstance(state, Module):
            raise NotImplementedError("FSDP in ember ignores whole modules; pass the modules "
                                      "owning the parameters in ignored_states")
        given.append(state)
    if module in given:
        raise ValueError("FSDP cannot ignore the module it wraps")
    return {m for g in given for m in g.modules()}


class FullyShardedDataParallel(Module):
    """Shard a module's parameters, gradients and optimizer state over the ranks, as
    ``torch.distributed.fsdp.FullyShardedDataParallel`` (FSDP1).

    Each unit (this wrapper and the nested ones ``auto_wrap_policy`` makes) flattens its
    parameters into one ``_flat_param`` of which each rank keeps a 1/world shard; that is what
    ``parameters()`` yields and the optimizer steps (with ``use_orig_params=True``, each
    original parameter's part of the shard). Forward gathers a unit's parameters and
    backward reduce-scatters, averaged, the gradients into the shards' ``.grad``. Each rank
    feeds its own part of the batch, so that the step equals one on the whole batch.

    Args:
        module: the model (or part) to shard.
        process_group: the group to shard over (default: the world).
        sharding_strategy: FULL_SHARD (default), SHARD_GRAD_OP or NO_SHARD.
        cpu_offload, backward_prefetch, forward_prefetch, limit_all_gathers: accepted, no
            effect: shards stay on the module's device, and each unit is gathered when needed.
        auto_wrap_policy: makes nested units (``ember.distributed.fsdp.wrap``).
        mixed_precision: the dtypes of computation, reduction and buffers.
        ignored_modules, ignored_states: modules whose parameters are left alone.
        param_init_fn: called on the module when it has parameters on the meta device.
        device_id: the device to move the module to.
        sync_module_states: broadcast group rank 0's parameters and buffers first.
        use_orig_params: keep the original parameters (each rank's part of them, 1-d) instead
            of one flat parameter per unit.
        device_mesh: a 1-d mesh whose group to shard over, instead of ``process_group``.

    Example::

        >>> dist.init_process_group("mpi")      # mpiexec -n 2 python train.py
        >>> model = FSDP(net, auto_wrap_policy=ModuleWrapPolicy({Block}))
        >>> opt = ember.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, module: Module, process_group: ProcessGroup | None = None,
                 sharding_strategy: ShardingStrategy | None = None,
                 cpu_offload: CPUOffload | None = None,
                 auto_wrap_policy: Callable | None = None,
                 backward_prefetch: BackwardPrefetch | None = BackwardPrefetch.BACKWARD_PRE,
                 mixed_precision: MixedPrecision | None = None,
                 ignored_modules: Iterable[Module] | None = None,
                 param_init_fn: Callable[[Module], None] | None = None,
                 device_id: int | ember.device | None = None, sync_module_states: bool = False,
                 forward_prefetch: bool = False, limit_all_gathers: bool = True,
                 use_orig_params: bool = False, ignored_states: Iterable | None = None,
                 device_mesh: Any = None) -> None:
        super().__init__()
        strategy = sharding_strategy or ShardingStrategy.FULL_SHARD
        if strategy in _HYBRID or isinstance(process_group, tuple):
            raise NotImplementedError(
                f"FSDP in ember implements FULL_SHARD, SHARD_GRAD_OP and NO_SHARD, not {strategy}"
                " (HYBRID_SHARD and _HYBRID_SHARD_ZERO2 need intra- and inter-node groups)")
        self.process_group = self._group(process_group, device_mesh)
        self.sharding_strategy = strategy
        self.cpu_offload = cpu_offload or CPUOffload()
        self.backward_prefetch = backward_prefetch
        self.forward_prefetch = forward_prefetch
        self.limit_all_gathers = limit_all_gathers
        self.mixed_precision = mixed_precision
        self.use_orig_params = use_orig_params
        self._fsdp_wrapped_module = module
        ignored = _ignored_modules(module, ignored_modules, ignored_states)
        self._prepare_device(module, device_id, param_init_fn)
        if auto_wrap_policy is not None:
            unit = functools.partial(
                FullyShardedDataParallel, process_group=self.process_group,
                sharding_strategy=strategy, cpu_offload=cpu_offload,
                backward_prefetch=backward_prefetch, mixed_precision=mixed_precision,
                ignored_modules=list(ignored), param_init_fn=param_init_fn, device_id=device_id,
                sync_module_states=sync_module_states, forward_prefetch=forward_prefetch,
                limit_all_gathers=limit_all_gathers, use_orig_params=use_orig_params)
            auto_wrap(module, auto_wrap_policy, unit, FullyShardedDataParallel, ignored)
        managed = _managed_modules(module, ignored)
        owners = [(m, n) for m in managed for n, p in m._parameters.items() if p is not None]
        buffers = [(m, n) for m in managed for n, b in m._buffers.items() if b is not None]
        if sync_module_states:
            self._broadcast([m._parameters[n] for m, n in owners] +
                            [m._buffers[n] for m, n in buffers])
        if mixed_precision is not None and mixed_precision.buffer_dtype is not None:
            for m, n in buffers:
                if m._buffers[n].is_floating_point():
                    m._buffers[n] = m._buffers[n].to(mixed_precision.buffer_dtype)
        self._handle = None
        if owners:
            precision = mixed_precision or MixedPrecision()
            self._handle = FlatParamHandle(owners, self.process_group,
                                           strategy != ShardingStrategy.NO_SHARD,
                                           precision.param_dtype, precision.reduce_dtype,
                                           use_orig_params)
            if not use_orig_params:
                module.register_parameter(_FLAT, self._handle.flat_param)
        # the module that holds the flat parameter, even after apply_activation_checkpointing
        # replaces ``_fsdp_wrapped_module`` by a wrapper (set past Module.__setattr__ so that it
        # is not registered as a second child)
        object.__setattr__(self, "_flat_param_owner", module)
        self._is_root = None  # decided by the first forward (the outermost unit)
        self._state_dict_settings = StateDictSettings(StateDictType.FULL_STATE_DICT,
                                                      FullStateDictConfig(),
                                                      FullOptimStateDictConfig())
        self._swapped = None  # inside state_dict / load_state_dict: (gathered copy, to restore)
        self.register_state_dict_pre_hook(_pre_state_dict_hook)
        self.register_state_dict_post_hook(_post_state_dict_hook)
        self.register_load_state_dict_pre_hook(_pre_load_hook)
        self.register_load_state_dict_post_hook(_post_load_hook)

    @staticmethod
    def _group(process_group: ProcessGroup | None, device_mesh: Any) -> ProcessGroup:
        if device_mesh is not None:
            if process_group is not None:
                raise ValueError("FSDP takes a process_group or a device_mesh, not both")
            if device_mesh.ndim != 1:
                raise NotImplementedError("FSDP in ember shards over a 1-d device_mesh (a 2-d "
                                          "mesh means HYBRID_SHARD, which is not implemented)")
            return device_mesh.get_group()
        pg = resolve(process_group, "FullyShardedDataParallel")
        if pg is None:
            raise ValueError("FullyShardedDataParallel: this process is not in process_group")
        return pg

    @staticmethod
    def _prepare_device(module: Module, device_id: Any, param_init_fn: Callable | None) -> None:
        if param_init_fn is not None and any(p.is_meta for p in module.parameters()):
            param_init_fn(module)
        if device_id is None:
            return
        device = ember.device("cuda", device_id) if isinstance(device_id, int) \
            else ember.device(device_id)
        if any(p.device != device for p in module.parameters()):
            module.to(device)

    def _broadcast(self, tensors: list) -> None:
        """Copy group rank 0's values of ``tensors`` to every rank."""
        with no_grad():
            for t in tensors:
                tmp = t.contiguous()
                collectives.broadcast(tmp, group=self.process_group, group_src=0)
                if tmp is not t:
                    t.copy_(tmp)

    # ------------------------------------------------------------------------------------------
    # The wrapped module

    @property
    def module(self) -> Module:
        """The wrapped module."""
        return self._fsdp_wrapped_module

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:  # as PyTorch's wrapper: the wrapped module's attributes show
            wrapped = self.__dict__.get("_modules", {}).get(_WRAPPED)
            if wrapped is None:
                raise
            return getattr(wrapped, name)

    def __getitem__(self, key: int) -> Any:
        return self.module.__getitem__(key)

    @staticmethod
    def fsdp_modules(module: Module, root_only: bool = False) -> list:
        """The FSDP units in ``module`` (itself included), or only the outermost ones."""
        units = [m for m in module.modules() if isinstance(m, FullyShardedDataParallel)]
        if not root_only:
            return units
        inner = {id(m) for u in units for m in u.module.modules()}
        return [u for u in units if id(u) not in inner]

    def _handles(self) -> list:
        return [u._handle for u in self.fsdp_modules(self) if u._handle is not None]

    # ------------------------------------------------------------------------------------------
    # Forward

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._is_root is None:
            self._is_root = True
            for unit in self.fsdp_modules(self):
                if unit is not self:
                    unit._is_root = False
        precision = self.mixed_precision
        if self._is_root:
            for handle in self._handles():  # a new iteration: shards may have been stepped
                handle.reshard()
            if precision is not None and precision.param_dtype is not None and \
                    precision.cast_root_forward_inputs:
                args, kwargs = _cast_floats((args, kwargs), precision.param_dtype)
        elif precision is not None and precision.param_dtype is not None and \
                precision.cast_forward_inputs:
            args, kwargs = _cast_floats((args, kwargs), precision.param_dtype)
        handle = self._handle
        if handle is None:
            return self.module(*args, **kwargs)
        handle.unshard()
        handle.use_views()
        training = is_grad_enabled() and handle.requires_grad
        if training and self.sharding_strategy == ShardingStrategy.FULL_SHARD:
            with saved_tensors_hooks(handle.pack, handle.unpack):
                output = self.module(*args, **kwargs)
            hook = _pre_backward_hook(handle)
            for t in _tensors(output):
                if t.requires_grad:
                    t.register_hook(hook)
        else:
            output = self.module(*args, **kwargs)
        if not training or self.sharding_strategy == ShardingStrategy.FULL_SHARD:
            handle.reshard()
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward sums each unit's full gradient locally; the first synced backward
        after it reduces the sums (as DDP's, at the memory of one unsharded gradient per unit).
        Call it on the root unit."""
        handles = self._handles()
        previous = [h.sync_gradients for h in handles]
        for h in handles:
            h.sync_gradients = False
        try:
            yield
        finally:
            for h, sync in zip(handles, previous):
                h.sync_gradients = sync

    # ------------------------------------------------------------------------------------------
    # Gradient clipping

    def clip_grad_norm_(self, max_norm: float, norm_type: float = 2.0) -> Tensor:
        """Scale all gradients in place so that their global norm (over every rank's shards)
        is at most ``max_norm``; returns that norm before clipping. Call it on the root unit,
        on every rank (it all-reduces).

        Example::

            >>> loss.backward(); model.clip_grad_norm_(1.0); opt.step()
        """
        norm_type = float(norm_type)
        sharded, local = [], []
        for handle in self._handles():
            (sharded if handle.sharded else local).extend(handle.shard_grads())
        managed = {id(p) for h in self._handles() for p in h.parameters()}
        local += [p.grad for p in self.parameters() if id(p) not in managed and
                  p.grad is not None]
        grads = sharded + local
        dtype = grads[0].dtype if grads else ember.get_default_dtype()
        device = grads[0].device if grads else self._device()
        with no_grad():
            parts = [self._norm_part(gs, norm_type, dtype, device) for gs in (sharded, local)]
            collectives.all_reduce(parts[0], ReduceOp.MAX if math.isinf(norm_type) else
                                   ReduceOp.SUM, group=self.process_group)
            if math.isinf(norm_type):
                total = ember.maximum(parts[0], parts[1])
            else:
                total = (parts[0] + parts[1]) ** (1.0 / norm_type)
            coef = float(max_norm) / (float(total) + 1e-6)
            if coef < 1:
                for g in grads:
                    g.mul_(coef)
        return total

    @staticmethod
    def _norm_part(grads: list, norm_type: float, dtype, device) -> Tensor:
        """The max (inf-norm) or the sum of ``|g|^p`` of ``grads``, as a 0-d tensor."""
        part = ember.zeros((), dtype=dtype, device=device)
        for g in grads:
            norm = ember.linalg.vector_norm(g, norm_type).to(dtype)
            part = ember.maximum(part, norm) if math.isinf(norm_type) else part + norm ** norm_type
        return part

    def _device(self):
        first = next(iter(self.parameters()), None)
        return first.device if first is not None else ember.device("cpu")

    # ------------------------------------------------------------------------------------------
    # Full parameters and state dicts

    @staticmethod
    @contextlib.contextmanager
    def summon_full_params(module: Module, recurse: bool = True, writeback: bool = True,
                           rank0_only: bool = False, offload_to_cpu: bool = False,
                           with_grads: bool = False) -> Iterator[None]:
        """Inside, the original parameters of the units in ``module`` hold their full values
        (in full precision); changes to them are kept on exit if ``writeback``. Not for use
        inside forward or backward; every rank must enter it (it all-gathers).

        Args:
            recurse: all units in ``module`` (True) or only the outermost ones.
            writeback: keep changes made inside (each rank keeps its block).
            rank0_only: full parameters on global rank 0 only (not with ``writeback``).
            offload_to_cpu: the full parameters on the CPU.
            with_grads: not implemented.

        Example::

            >>> with FSDP.summon_full_params(model):
            ...     print(model.module.fc.weight.shape)    # the unsharded shape
        """
        if writeback and rank0_only:
            raise NotImplementedError("writeback=True and rank0_only=True is not supported yet")
        if with_grads:
            raise NotImplementedError("summon_full_params(with_grads=True) is not implemented "
                                      "in ember")
        units = FullyShardedDataParallel.fsdp_modules(module, root_only=not recurse)
        handles = [u._handle for u in units if u._handle is not None]
        for handle in handles:
            handle.reshard()
        fulls = [handle.gather(handle.dtype) for handle in handles]
        if offload_to_cpu:
            fulls = [full.cpu() for full in fulls]
        if not rank0_only or get_rank() == 0:
            with no_grad():
                for handle, full in zip(handles, fulls):
                    handle.use_views(full)
        try:
            yield
        finally:
            for handle, full in zip(handles, fulls):
                if writeback:
                    handle.write_back(full)
                handle.reshard()

    @staticmethod
    @contextlib.contextmanager
    def state_dict_type(module: Module, state_dict_type: StateDictType,
                        state_dict_config: StateDictConfig | None = None,
                        optim_state_dict_config: Any = None) -> Iterator[None]:
        """Within, ``state_dict()`` / ``load_state_dict()`` of the units in ``module`` use
        ``state_dict_type`` with ``state_dict_config``; only FULL_STATE_DICT is implemented.

        Example::

            >>> cfg = FullStateDictConfig(offload_to_cpu=True, rank0_only=True)
            >>> with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, cfg):
            ...     state = model.state_dict()          # the unwrapped model's keys
        """
        previous = FullyShardedDataParallel.set_state_dict_type(
            module, state_dict_type, state_dict_config, optim_state_dict_config)
        try:
            yield
        finally:
            FullyShardedDataParallel.set_state_dict_type(
                module, previous.state_dict_type, previous.state_dict_config,
                previous.optim_state_dict_config)

    @staticmethod
    def set_state_dict_type(module: Module, state_dict_type: StateDictType,
                            state_dict_config: StateDictConfig | None = None,
                            optim_state_dict_config: OptimStateDictConfig | None = None
                            ) -> StateDictSettings:
        """Make ``state_dict_type`` (with its configs) the layout of every unit in ``module``;
        returns the settings they had. Only FULL_STATE_DICT is implemented."""
        units = FullyShardedDataParallel.fsdp_modules(module)
        if not units:
            raise ValueError("set_state_dict_type: the module holds no FSDP unit")
        previous = FullyShardedDataParallel.get_state_dict_type(module)
        config, optim_config = _DEFAULT_CONFIGS[state_dict_type]
        settings = StateDictSettings(state_dict_type, state_dict_config or config(),
                                     optim_state_dict_config or optim_config())
        for unit in units:
            unit._state_dict_settings = settings
        return previous

    @staticmethod
    def get_state_dict_type(module: Module) -> StateDictSettings:
        """The state-dict settings of the units in ``module`` (which must all agree)."""
        settings = [u._state_dict_settings for u in FullyShardedDataParallel.fsdp_modules(module)]
        if not settings or any(s != settings[0] for s in settings):
            raise AssertionError("All FSDP modules should have the same state_dict settings")
        return settings[0]

    @staticmethod
    def optim_state_dict(model: Module, optim: Any, optim_state_dict: dict | None = None,
                         group: ProcessGroup | None = None) -> dict:
        """``optim``'s state keyed by the original parameters' names, each tensor whole (the
        FULL_STATE_DICT layout, the one ember implements), to save beside the model's full
        state dict; with ``FullOptimStateDictConfig(rank0_only=True)`` only rank 0 gets it
        (others an empty dict). Every rank must call it (it all-gathers).

        Example::

            >>> osd = FSDP.optim_state_dict(model, optim)
            >>> optim.load_state_dict(FSDP.optim_state_dict_to_load(model, optim, osd))
        """
        from ember.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )
        if optim_state_dict is not None:
            raise NotImplementedError("optim_state_dict: ember converts the optimizer's own "
                                      "state; pass optim_state_dict=None")
        config = FullyShardedDataParallel._full_settings(model).optim_state_dict_config
        state = get_optimizer_state_dict(model, optim,
                                         options=StateDictOptions(full_state_dict=True))
        rank0_only = getattr(config, "rank0_only", False)
        return {} if rank0_only and FullyShardedDataParallel._rank(model) != 0 else state

    @staticmethod
    def optim_state_dict_to_load(model: Module, optim: Any, optim_state_dict: dict,
                                 is_named_optimizer: bool = False, load_directly: bool = False,
                                 group: ProcessGroup | None = None) -> dict:
        """The state dict for ``optim.load_state_dict`` from one that ``optim_state_dict``
        made (this rank's pieces of each tensor, keyed as ``optim`` keys them). With the
        rank0_only config only rank 0 needs to hold it: the others receive it. Every rank must
        call it."""
        from ember.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )
        config = FullyShardedDataParallel._full_settings(model).optim_state_dict_config
        options = StateDictOptions(full_state_dict=True,
                                   broadcast_from_rank0=getattr(config, "rank0_only", False))
        # loading through the checkpoint helpers puts each rank's pieces in place; the
        # optimizer's own state dict is then what to load (again, harmlessly) or to return
        set_optimizer_state_dict(model, optim, optim_state_dict, options=options)
        return optim.state_dict()

    @staticmethod
    def _full_settings(model: Module) -> StateDictSettings:
        settings = FullyShardedDataParallel.get_state_dict_type(model)  # (all units agree)
        FullyShardedDataParallel.fsdp_modules(model)[0]._check_full_state_dict()
        return settings

    @staticmethod
    def _rank(model: Module) -> int:
        from ember.distributed.process_group import get_rank
        return get_rank(FullyShardedDataParallel.fsdp_modules(model)[0].process_group)

    def _check_full_state_dict(self) -> None:
        kind = self._state_dict_settings.state_dict_type
        if kind != StateDictType.FULL_STATE_DICT:
            raise NotImplementedError(f"FSDP in ember implements StateDictType.FULL_STATE_DICT, "
                                      f"not {kind}")

    def _swap_in(self, copies: bool) -> None:
        """Gather this unit's parameters (in full precision) and stand them in the modules'
        ``_parameters`` in place of the flat (or sharded) ones, for Module's state-dict code:
        as copies (moved to the CPU if the config says so) or as views to load into."""
        handle = self._handle
        full = handle.gather(handle.dtype)
        with no_grad():
            handle.use_views(full)
        saved = []  # (a module's _parameters, name, what stood there) to restore
        if not self.use_orig_params:
            owner = self._flat_param_owner._parameters
            saved.append((owner, _FLAT, owner.pop(_FLAT)))
        offload = self._state_dict_settings.state_dict_config.offload_to_cpu
        for module, name in handle._owners():
            saved.append((module._parameters, name, module._parameters.get(name)))
            value = module.__dict__[name]
            if copies:
                value = value.detach().cpu().clone() if offload else value.detach().clone()
            module._parameters[name] = value
        self._swapped = (full, saved)

    def _swap_out(self, writeback: bool) -> None:
        full, saved = self._swapped
        self._swapped = None
        for params, name, value in reversed(saved):
            if value is None:
                del params[name]
            else:
                params[name] = value
        if writeback:
            self._handle.write_back(full)
        self._handle.reshard()


# NOTE [ FSDP full state dict ]
# Every unit carries state-dict hooks, so that FULL_STATE_DICT works wherever the unit sits
# (the root, nested, or inside a plain module). Before Module's code visits a unit, the unit
# gathers its parameters and stands them in the modules' ``_parameters``; after, it puts the
# shards back and renames the entries under its prefix to the user's names (without
# ``_fsdp_wrapped_module``). Loading renames the other way first, copies into the gathered
# views, and writes each rank's block back into its shard.

def _pre_state_dict_hook(unit: FullyShardedDataParallel, prefix: str, keep_vars: bool) -> None:
    unit._check_full_state_dict()
    if unit._handle is not None:
        unit._swap_in(copies=True)


def _post_state_dict_hook(unit: FullyShardedDataParallel, destination: dict, prefix: str,
                          local_metadata: dict) -> None:
    if unit._handle is not None:
        unit._swap_out(writeback=False)
    config = unit._state_dict_settings.state_dict_config
    dropped = getattr(config, "rank0_only", False) and get_rank() != 0
    # this unit's entries are the last ones: popping and re-adding them keeps the order
    mine = [(key, destination.pop(key)) for key in list(destination) if key.startswith(prefix)]
    if not dropped:
        for key, value in mine:
            destination[_clean_under(prefix, key)] = value
    metadata = getattr(destination, "_metadata", None)
    if metadata is not None:
        for key in [k for k in metadata if k.startswith(prefix)]:
            metadata[_clean_under(prefix, key)] = metadata.pop(key)  # the wrapped module wins


def _pre_load_hook(unit: FullyShardedDataParallel, state_dict: dict, prefix: str,
                   local_metadata: dict, *args: Any) -> None:
    unit._check_full_state_dict()
    if local_metadata.get("assign_to_params_buffers"):
        raise NotImplementedError("FSDP copies a loaded state dict into its shards; "
                                  "load_state_dict(assign=True) is not implemented")
    inner = prefix + _WRAPPED + "."
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(inner)]:
        state_dict[inner + key[len(prefix):]] = state_dict.pop(key)
    if unit._handle is not None:
        unit._swap_in(copies=False)


def _post_load_hook(unit: FullyShardedDataParallel, incompatible_keys: Any) -> None:
    if unit._swapped is not None:
        unit._swap_out(writeback=True)
    for keys in (incompatible_keys.missing_keys, incompatible_keys.unexpected_keys):
        keys[:] = [_clean(k) for k in keys]
