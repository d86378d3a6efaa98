"""Model and optimizer state dicts keyed by parameter names, whatever wraps the model
(``torch.distributed.checkpoint.state_dict``).

A key is the parameter's fully qualified name in the user's model: DDP's ``module.``,
FSDP's ``_fsdp_wrapped_module.``, activation checkpointing's ``_checkpoint_wrapped_module.``
and ``torch.compile``'s ``_orig_mod.`` are left out, so a checkpoint moves between wrappers
and world sizes. Optimizer state dicts are keyed the same way (``{"state": {fqn: {...}},
"param_groups": [{..., "params": [fqn, ...]}]}``) instead of by parameter position.

With FSDP, ``full_state_dict=True`` gathers full tensors; otherwise each parameter is a
``DTensor`` sharded on dimension 0 over the FSDP ranks (what PyTorch's sharded state dict
holds), which ``dcp.save`` writes as each rank's shard; FSDP optimizer state is laid out the
same way (NOTE [ FSDP optimizer state ] in _fsdp_optim.py).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ember._tensor import Tensor
from ember.distributed.checkpoint._fsdp_optim import (
    fsdp_load_optim_state_dict,
    fsdp_optim_state_dict,
)
from ember.distributed.checkpoint.planner_helpers import is_dtensor
from ember.nn.modules.module import Module

__all__ = ["StateDictOptions", "get_model_state_dict", "get_optimizer_state_dict",
           "get_state_dict", "set_model_state_dict", "set_optimizer_state_dict",
           "set_state_dict"]

_WRAPPER_ATOMS = ("_fsdp_wrapped_module", "_checkpoint_wrapped_module", "_orig_mod")
_STATE, _PG, _PARAMS = "state", "param_groups", "params"


@dataclasses.dataclass
class StateDictOptions:
    """How the functions of this module get and set state dicts.

    - ``full_state_dict``: gather DTensors and FSDP shards into full tensors.
    - ``cpu_offload``: tensors on the CPU; with ``full_state_dict``, only rank 0 gets them
      (the others get empty dicts).
    - ``ignore_frozen_params``: leave out parameters with ``requires_grad=False``.
    - ``keep_submodule_prefixes``: with ``submodules``, keep the submodules' prefixes in keys.
    - ``strict``: ``strict`` of the model's ``load_state_dict``.
    - ``broadcast_from_rank0``: when setting, rank 0 holds the full state dict and sends it
      to the others (needs ``full_state_dict``).
    - ``flatten_optimizer_state_dict``: optimizer state dicts as one level of keys
      (``"state.fqn.exp_avg"``, ``"param_groups.fqn.lr"``).
    """
    full_state_dict: bool = False
    cpu_offload: bool = False
    ignore_frozen_params: bool = False
    keep_submodule_prefixes: bool = True
    strict: bool = True
    broadcast_from_rank0: bool = False
    flatten_optimizer_state_dict: bool = False
    dsd_fqn_modifiers: str = "_fqn_modifiers"


def _options(options: StateDictOptions | None) -> StateDictOptions:
    options = options or StateDictOptions()
    if options.broadcast_from_rank0 and not options.full_state_dict:
        raise ValueError("full_state_dict must be True when broadcast_from_rank0 is True.")
    return options


def _is_ddp(module: Module) -> bool:
    from ember.nn.parallel import DistributedDataParallel
    return isinstance(module, DistributedDataParallel)


def _fsdp_units(model: Module) -> list:
    from ember.distributed.fsdp import FullyShardedDataParallel
    return FullyShardedDataParallel.fsdp_modules(model)


def _fqn(model: Module, key: str) -> str:
    """``key`` (a state-dict key or parameter name of ``model``) without the wrappers' parts."""
    atoms, current = [], model
    for atom in key.split("."):
        wrapper = atom in _WRAPPER_ATOMS or (atom == "module" and _is_ddp(current))
        if not wrapper:
            atoms.append(atom)
        current = getattr(current, atom, None) if isinstance(current, Module) else None
    return ".".join(atoms)


def _rank() -> int:
    import ember.distributed as dist
    return dist.get_rank() if dist.is_initialized() else 0


# ------------------------------------------------------------------------------------------------
# Models

def _raw_model_state_dict(model: Module, full: bool, cpu_offload: bool) -> dict:
    units = _fsdp_units(model)
    if not units:
        return model.state_dict()
    from ember.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel, StateDictType
    config = FullStateDictConfig(offload_to_cpu=cpu_offload and full)
    with FullyShardedDataParallel.state_dict_type(model, StateDictType.FULL_STATE_DICT, config):
        state = model.state_dict()
    return state if full else _map_tensors(state, _dim0_sharder(model, units))


def _dim0_sharder(model: Module, units: list):
    """A function that makes a full tensor a DTensor sharded on dimension 0 over the FSDP
    ranks (what PyTorch's sharded state dicts hold); 0-d tensors stay whole."""
    from ember.distributed import get_process_group_ranks
    from ember.distributed.tensor import DeviceMesh, Shard, distribute_tensor
    device = next(model.parameters()).device.type
    mesh = DeviceMesh(device, get_process_group_ranks(units[0].process_group))

    def shard(value: Tensor) -> Tensor:
        if value.dim() == 0:
            return value
        return distribute_tensor(value.detach(), mesh, [Shard(0)], src_data_rank=None)

    return shard


def get_model_state_dict(model: Module, *, submodules: set | None = None,
                         options: StateDictOptions | None = None) -> dict:
    """The model's state dict keyed by fully qualified names (see the module's docstring).

    Example::

        >>> state = get_model_state_dict(ddp_model)        # keys "fc.weight", not "module.fc..."
    """
    options = _options(options)
    state = _raw_model_state_dict(model, options.full_state_dict, options.cpu_offload)
    state = {_fqn(model, key): value for key, value in state.items()}
    if options.ignore_frozen_params:
        frozen = {_fqn(model, name) for name, p in model.named_parameters()
                  if not p.requires_grad}
        state = {key: value for key, value in state.items() if key not in frozen}
    if submodules is not None:
        state = _under_submodules(model, state, submodules, options.keep_submodule_prefixes)
    return _full_or_cpu(state, options)


def _under_submodules(model: Module, state: dict, submodules: Iterable,
                      keep_prefixes: bool) -> dict:
    names = {id(m): _fqn(model, name) for name, m in model.named_modules()}
    prefixes = [names[id(m)] + "." for m in submodules]
    out = {}
    for key, value in state.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                out[key if keep_prefixes else key[len(prefix):]] = value
    return out


def _map_tensors(value: Any, fn) -> Any:
    """``value`` with every tensor in its dicts, lists and tuples replaced by ``fn(tensor)``."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {key: _map_tensors(entry, fn) for key, entry in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(entry, fn) for entry in value)
    return value


def _full_or_cpu(state: dict, options: StateDictOptions) -> dict:
    """Gather DTensors if ``full_state_dict``, move to the CPU if ``cpu_offload`` (only rank 0
    keeps a full offloaded state dict)."""
    if options.full_state_dict and options.cpu_offload and _rank() != 0:
        _map_tensors(state, _full_tensor)  # every rank takes part in the gathers
        return {}

    def convert(tensor: Tensor) -> Tensor:
        if options.full_state_dict:
            tensor = _full_tensor(tensor)
        return tensor.cpu() if options.cpu_offload and not is_dtensor(tensor) else tensor

    return _map_tensors(state, convert)


def _full_tensor(tensor: Tensor) -> Tensor:
    return tensor.full_tensor() if is_dtensor(tensor) else tensor


def _like(param: Tensor):
    """A function that lays a state tensor of ``param`` out as ``param`` is: full for a plain
    parameter, sharded as a DTensor parameter (FSDP2, tensor parallel) when it is not 0-d."""
    if not is_dtensor(param):
        return _full_tensor

    def convert(value: Tensor) -> Tensor:
        if value.dim() == 0 or (is_dtensor(value) and value.placements == param.placements):
            return value
        from ember.distributed.tensor import distribute_tensor
        return distribute_tensor(_full_tensor(value).detach(), param.device_mesh,
                                 param.placements, src_data_rank=None)

    return convert


def set_model_state_dict(model: Module, model_state_dict: dict, *,
                         options: StateDictOptions | None = None) -> Any:
    """Load ``model_state_dict`` (keyed by fully qualified names; full tensors or DTensors)
    into ``model``; returns the ``missing_keys`` / ``unexpected_keys`` of its
    ``load_state_dict``."""
    options = _options(options)
    state = dict(model_state_dict)
    if options.broadcast_from_rank0:
        state = _broadcast_from_rank0(state)
    state = _map_tensors(state, _full_tensor)
    if not _fsdp_units(model):
        keys = {_fqn(model, key): key for key in model.state_dict(keep_vars=True)}
        state = {keys.get(key, key): value for key, value in state.items()}
        # a model built on the meta device takes the loaded tensors themselves, as in PyTorch
        on_meta = any(getattr(value, "is_meta", False)
                      for value in model.state_dict(keep_vars=True).values())
        return model.load_state_dict(state, strict=options.strict, assign=on_meta)
    from ember.distributed.fsdp import FullyShardedDataParallel, StateDictType
    with FullyShardedDataParallel.state_dict_type(model, StateDictType.FULL_STATE_DICT):
        return model.load_state_dict(state, strict=options.strict)


class _TensorSlot:
    """Where a tensor of rank 0's state dict goes, while the structure is broadcast."""

    def __init__(self, tensor: Tensor) -> None:
        self.shape, self.dtype = tuple(tensor.shape), tensor.dtype


def _broadcast_from_rank0(state: dict) -> dict:
    """Rank 0's ``state`` on every rank: the structure by an object broadcast, then the
    tensors one by one in the structure's order."""
    import ember
    import ember.distributed as dist
    if not dist.is_initialized():
        return state
    box = [_map_tensors(state, _TensorSlot) if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    tensors = None
    if dist.get_rank() == 0:
        sent = []
        _map_tensors(state, sent.append)
        tensors = iter(sent)

    def receive(value: Any) -> Any:
        if isinstance(value, _TensorSlot):
            tensor = (next(tensors).detach().contiguous() if tensors is not None
                      else ember.empty(value.shape, dtype=value.dtype))
            dist.broadcast(tensor, src=0)
            return tensor
        if isinstance(value, dict):
            return {key: receive(entry) for key, entry in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(receive(entry) for entry in value)
        return value

    return receive(box[0])


# ------------------------------------------------------------------------------------------------
# Optimizers

def _optimizers(optimizers: Any) -> tuple:
    from ember.optim import Optimizer
    return (optimizers,) if isinstance(optimizers, Optimizer) else tuple(optimizers)


def _param_fqns(model: Module) -> dict:
    """id(parameter) -> its fully qualified name."""
    return {id(p): _fqn(model, name)
            for name, p in model.named_parameters(remove_duplicate=False)}


def _init_optim_state(optim: Any) -> None:
    """Give an optimizer without state its state, by a step with zero gradients and zero
    learning rates, so that loading has tensors to fill (as PyTorch does)."""
    if optim.state or any(p.grad is not None for g in optim.param_groups for p in g[_PARAMS]):
        return
    import ember
    for group in optim.param_groups:
        for p in group[_PARAMS]:
            if p.requires_grad:
                p.grad = ember.zeros_like(p)
    lrs = [group.get("lr") for group in optim.param_groups]
    for group in optim.param_groups:
        if "lr" in group:
            group["lr"] = ember.tensor(0.0) if isinstance(group["lr"], Tensor) else 0.0
    optim.step()
    for group, lr in zip(optim.param_groups, lrs):
        if lr is not None:
            group["lr"] = lr
    optim.zero_grad(set_to_none=True)


def get_optimizer_state_dict(model: Module, optimizers: Any, *, submodules: set | None = None,
                             options: StateDictOptions | None = None) -> dict:
    """The state dict of ``optimizers`` (one or several over ``model``'s parameters), keyed
    by parameter FQNs: ``{"state": {fqn: {...}}, "param_groups": [{..., "params": [fqn]}]}``
    (flattened with ``flatten_optimizer_state_dict``). An optimizer without state is given
    its state first by a step with zero gradients and learning rates.

    Example::

        >>> osd = get_optimizer_state_dict(model, optim)
        >>> osd["state"]["fc.weight"]["exp_avg"]
    """
    options = _options(options)
    fqns = _param_fqns(model)
    units = _fsdp_units(model)
    out: dict = {_STATE: {}, _PG: []}
    for optim in _optimizers(optimizers):
        _init_optim_state(optim)
        if units:
            state = fsdp_optim_state_dict(model, optim, _fqn, fqns)
            if not options.full_state_dict:
                state[_STATE] = _map_tensors(state[_STATE], _dim0_sharder(model, units))
            out[_STATE].update(state[_STATE])
            out[_PG].extend(state[_PG])
            continue
        state = optim.state_dict()
        params = [p for group in optim.param_groups for p in group[_PARAMS]]
        names = [fqns[id(p)] for p in params]
        for pid, value in state[_STATE].items():
            out[_STATE][names[pid]] = value
        for group in state[_PG]:
            out[_PG].append({**group, _PARAMS: [names[pid] for pid in group[_PARAMS]]})
    if options.flatten_optimizer_state_dict:
        out = _flatten_optim_state_dict(out)
    return _full_or_cpu(out, options)


def _flatten_optim_state_dict(state: dict) -> dict:
    flat = {}
    for fqn, values in state[_STATE].items():
        for key, value in values.items():
            flat[f"{_STATE}.{fqn}.{key}"] = value
    for group in state[_PG]:
        for fqn in group[_PARAMS]:
            for key, value in group.items():
                if key != _PARAMS:
                    flat[f"{_PG}.{fqn}.{key}"] = value
    return flat


def _unflatten_optim_state_dict(optim: Any, flat: dict, fqns: dict) -> dict:
    """The nested optimizer state dict of ``optim``'s parameters from a flattened one."""
    state, groups = {}, []
    for group in optim.param_groups:
        names = [fqns[id(p)] for p in group[_PARAMS]]
        for fqn in names:
            prefix = f"{_STATE}.{fqn}."
            values = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
            if values:
                state[fqn] = values
        first = f"{_PG}.{names[0]}." if names else None
        values = {k[len(first):]: v for k, v in flat.items() if first and k.startswith(first)}
        groups.append({**values, _PARAMS: names})
    return {_STATE: state, _PG: groups}


def set_optimizer_state_dict(model: Module, optimizers: Any, optim_state_dict: dict, *,
                             options: StateDictOptions | None = None) -> None:
    """Load ``optim_state_dict`` (keyed by parameter FQNs, nested or flattened; full tensors
    or DTensors) into ``optimizers``; each takes the state and groups of its parameters."""
    options = _options(options)
    if options.broadcast_from_rank0:
        optim_state_dict = _broadcast_from_rank0(optim_state_dict)
    fqns = _param_fqns(model)
    flat_form = _STATE not in optim_state_dict
    for optim in _optimizers(optimizers):
        _init_optim_state(optim)
        given = (_unflatten_optim_state_dict(optim, optim_state_dict, fqns) if flat_form
                 else optim_state_dict)
        if _fsdp_units(model):
            given = {**given, _STATE: _map_tensors(given[_STATE], _full_tensor)}
            fsdp_load_optim_state_dict(model, optim, given, _fqn, fqns)
            continue
        params = [p for group in optim.param_groups for p in group[_PARAMS]]
        position = {fqns[id(p)]: i for i, p in enumerate(params)}
        state = {position[fqn]: _map_tensors(values, _like(params[position[fqn]]))
                 for fqn, values in given[_STATE].items() if fqn in position}
        groups = []
        for group in optim.param_groups:
            first = fqns[id(group[_PARAMS][0])] if group[_PARAMS] else None
            match = next((g for g in given[_PG] if first in g[_PARAMS]), None)
            if match is None:
                raise ValueError(f"the optimizer state dict has no param group holding {first}")
            groups.append({**match, _PARAMS: [position[fqns[id(p)]] for p in group[_PARAMS]]})
        optim.load_state_dict({_STATE: state, _PG: groups})


# ------------------------------------------------------------------------------------------------
# Both

def get_state_dict(model: Module, optimizers: Any, *, submodules: set | None = None,
                   options: StateDictOptions | None = None) -> tuple[dict, dict]:
    """``(get_model_state_dict(model), get_optimizer_state_dict(model, optimizers))``.

    Example::

        >>> model_sd, optim_sd = get_state_dict(ddp_model, optim)
        >>> dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id="ckpt")
    """
    return (get_model_state_dict(model, submodules=submodules, options=options),
            get_optimizer_state_dict(model, optimizers, submodules=submodules, options=options))


def set_state_dict(model: Module, optimizers: Any, *, model_state_dict: dict,
                   optim_state_dict: dict, options: StateDictOptions | None = None) -> Any:
    """Load both; returns the model's missing and unexpected keys."""
    keys = set_model_state_dict(model, model_state_dict, options=options)
    if optim_state_dict:
        set_optimizer_state_dict(model, optimizers, optim_state_dict, options=options)
    return keys
