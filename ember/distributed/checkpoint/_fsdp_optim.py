"""Optimizer state of FSDP models keyed by the original parameters' FQNs, as full tensors.

NOTE [ FSDP optimizer state ]
The optimizer of an FSDP unit steps this rank's block of the unit's flat parameter: the block
itself, or with ``use_orig_params`` each original parameter's 1-d piece of it (NOTE [ FSDP flat
parameter ]). Its element-wise state (``exp_avg``, ...) has that layout too. Getting the state
lays the rank's state out as its block, all-gathers the blocks over the unit's group and cuts
the full flat vector into the original parameters' shapes; setting does the reverse, and keeps
the rank's block. 0-d state (``step``) is the same on every rank and is copied. Every rank must
call both (they all-gather), with the same optimizer type.
"""
from __future__ import annotations

from typing import Any, Callable

import ember
from ember._tensor import Tensor
from ember.distributed import collectives

_STATE, _PG, _PARAMS = "state", "param_groups", "params"


def _handles(model: Any) -> list:
    from ember.distributed.fsdp import FullyShardedDataParallel
    return [u._handle for u in FullyShardedDataParallel.fsdp_modules(model)
            if u._handle is not None]


def _slot_fqns(model: Any, handle: Any, fqn: Callable) -> list:
    names = {id(m): name for name, m in model.named_modules()}
    return [fqn(model, f"{names[id(s.module)]}.{s.name}".lstrip(".")) for s in handle.slots]


def _owners(model: Any, fqn: Callable) -> dict:
    """id(optimizer parameter) -> (handle, piece index or None for the flat block, its FQNs)."""
    owners = {}
    for handle in _handles(model):
        names = _slot_fqns(model, handle, fqn)
        if handle.use_orig_params:
            for i, piece in enumerate(handle.orig_params):
                owners[id(piece)] = (handle, i, [names[i]])
        else:
            owners[id(handle.flat_param)] = (handle, None, names)
    return owners


def _block_state(handle: Any, optim: Any) -> tuple[dict, dict]:
    """This rank's element-wise state of ``handle`` laid out as its block, and its 0-d state."""
    if handle.use_orig_params:
        parts = list(zip(handle.orig_params, handle._shard_ranges()))
    else:
        parts = [(handle.flat_param, (0, handle.shard_size))]
    blocks, scalars = {}, {}
    for param, (lo, hi) in parts:
        for key, value in optim.state.get(param, {}).items():
            if isinstance(value, Tensor) and value.dim() > 0:
                block = blocks.setdefault(key, ember.zeros(handle.shard_size, dtype=value.dtype,
                                                           device=value.device))
                block[lo:hi] = value.detach().reshape(-1)
            else:
                scalars[key] = value
    return blocks, scalars


def _copies(scalars: dict) -> dict:
    # each parameter needs its own 0-d tensors: optimizers update ``step`` in place
    return {k: v.clone() if isinstance(v, Tensor) else v for k, v in scalars.items()}


def _gathered(handle: Any, block: Tensor) -> Tensor:
    if not handle.sharded:
        return block
    full = ember.empty(handle.padded, dtype=block.dtype, device=block.device)
    collectives.all_gather_into_tensor(full, block.contiguous(), group=handle.process_group)
    return full


def fsdp_optim_state_dict(model: Any, optim: Any, fqn: Callable, plain_fqns: dict) -> dict:
    """``optim``'s state dict keyed by FQNs with full tensors (NOTE [ FSDP optimizer state ]);
    ``plain_fqns`` names the parameters no FSDP unit manages."""
    state: dict = {}
    for handle in _handles(model):
        blocks, scalars = _block_state(handle, optim)
        fulls = {key: _gathered(handle, block) for key, block in blocks.items()}
        for slot, name in zip(handle.slots, _slot_fqns(model, handle, fqn)):
            values = _copies(scalars)
            for key, full in fulls.items():
                values[key] = full[slot.offset:slot.offset + slot.numel].view(slot.shape).clone()
            if values:
                state[name] = values
    owners = _owners(model, fqn)
    for param, values in optim.state.items():
        if id(param) not in owners:
            state[plain_fqns[id(param)]] = values
    groups = []
    for group, saved in zip(optim.param_groups, optim.state_dict()[_PG]):
        names = []
        for p in group[_PARAMS]:
            names.extend(owners[id(p)][2] if id(p) in owners else [plain_fqns[id(p)]])
        groups.append({**saved, _PARAMS: names})
    return {_STATE: state, _PG: groups}


def fsdp_load_optim_state_dict(model: Any, optim: Any, given: dict, fqn: Callable,
                               plain_fqns: dict) -> None:
    """Load ``given`` (keyed by FQNs, full tensors) into ``optim``, each rank keeping its
    block (NOTE [ FSDP optimizer state ])."""
    owners = _owners(model, fqn)
    params = [p for group in optim.param_groups for p in group[_PARAMS]]
    position = {id(p): i for i, p in enumerate(params)}
    state = {}
    for handle in _handles(model):
        names = _slot_fqns(model, handle, fqn)
        first = next((given[_STATE][n] for n in names if n in given[_STATE]), None)
        if first is None:
            continue
        block = {}
        start = handle.process_group.rank() * handle.shard_size if handle.sharded else 0
        for key, value in first.items():
            if not (isinstance(value, Tensor) and value.dim() > 0):
                continue
            padded = ember.zeros(handle.padded, dtype=value.dtype, device=handle.device)
            for slot, name in zip(handle.slots, names):
                padded[slot.offset:slot.offset + slot.numel] = \
                    given[_STATE][name][key].reshape(-1)
            block[key] = padded[start:start + handle.shard_size]
        scalars = {k: v for k, v in first.items() if k not in block}
        if handle.use_orig_params:
            for piece, (lo, hi) in zip(handle.orig_params, handle._shard_ranges()):
                state[id(piece)] = {**_copies(scalars),
                                    **{k: b[lo:hi].clone() for k, b in block.items()}}
        else:
            state[id(handle.flat_param)] = {**_copies(scalars),
                                            **{k: b.clone() for k, b in block.items()}}
    positional = {}
    for p in params:
        if id(p) in state:
            positional[position[id(p)]] = state[id(p)]
        elif id(p) not in owners and plain_fqns[id(p)] in given[_STATE]:
            positional[position[id(p)]] = given[_STATE][plain_fqns[id(p)]]
    groups = []
    for group in optim.param_groups:
        p = group[_PARAMS][0]
        first = owners[id(p)][2][0] if id(p) in owners else plain_fqns[id(p)]
        match = next((g for g in given[_PG] if first in g[_PARAMS]), None)
        if match is None:
            raise ValueError(f"the optimizer state dict has no param group holding {first}")
        groups.append({**match, _PARAMS: [position[id(q)] for q in group[_PARAMS]]})
    optim.load_state_dict({_STATE: positional, _PG: groups})
