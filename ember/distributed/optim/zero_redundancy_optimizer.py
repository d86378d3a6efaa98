"""``ZeroRedundancyOptimizer``: each rank keeps the optimizer state of a shard of the
parameters only (ZeRO stage 1), as ``torch.distributed.optim``'s.

NOTE [ ZeRO partition ]
Within each parameter group, parameters are taken largest first (by element count, ties in
group order) and each goes to the rank with the fewest elements so far, the sizes counting
across groups. Rank ``r``'s local optimizer holds, for each group, a copy of the group's
options with ``r``'s parameters only (possibly none). A step runs the local optimizer, then
every rank broadcasts its shard's parameters, ranks in order, so that all replicas agree.
The partition only depends on the parameters' order and sizes, so every rank computes the
same one without communicating.
"""
from __future__ import annotations

import copy
from itertools import chain
from typing import Any, Callable

from ember._tensor import _make
from ember.autograd.grad_mode import no_grad
from ember.distributed import collectives
from ember.distributed.algorithms.join import Join, Joinable, JoinHook
from ember.distributed.messages import gather_object
from ember.distributed.process_group import ProcessGroup, resolve
from ember.optim.optimizer import Optimizer

__all__ = ["ZeroRedundancyOptimizer"]


class _ZeROJoinHook(JoinHook):
    """A joined rank keeps stepping its shard (with the gradients its parameters hold) and
    broadcasting it, as PyTorch's does."""

    def __init__(self, zero: "ZeroRedundancyOptimizer") -> None:
        self.zero = zero

    def main_hook(self) -> None:
        self.zero.step()


class ZeroRedundancyOptimizer(Optimizer, Joinable):
    """Wrap ``optimizer_class`` so that each rank of ``process_group`` keeps the state of, and
    steps, only its shard of the parameters (NOTE [ ZeRO partition ]); after each ``step``
    every parameter holds the same value on every rank. Use it with DistributedDataParallel,
    which averages the gradients.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups).
        optimizer_class: the local optimizer, e.g. ``ember.optim.Adam``.
        process_group: the group to shard over (default: the world).
        parameters_as_bucket_view: broadcast each rank's shard as one flat buffer (one
            message per rank) instead of one message per parameter.
        overlap_with_ddp: not supported (PyTorch's DDP-hook variant of the step).
        **defaults: the local optimizer's options (``lr=...``).

    Example::

        >>> model = DistributedDataParallel(net)
        >>> opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=ember.optim.Adam,
        ...                               lr=1e-3)
        >>> loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, optimizer_class: type, process_group: ProcessGroup | None = None,
                 parameters_as_bucket_view: bool = False, overlap_with_ddp: bool = False,
                 **defaults: Any) -> None:
        if overlap_with_ddp:
            raise NotImplementedError("ZeroRedundancyOptimizer(overlap_with_ddp=True) is not "
                                      "supported by ember; call step() after backward instead")
        self.initialized = False
        Optimizer.__init__(self, params, defaults)
        Joinable.__init__(self)
        all_params = self._index_to_param
        if len({type(p._data) for p in all_params}) != 1:
            raise ValueError("ZeroRedundancyOptimizer only supports using the same dense type "
                             "for all parameters")
        pg = resolve(process_group, "ZeroRedundancyOptimizer")
        if pg is None:
            raise ValueError("ZeroRedundancyOptimizer: this process is not in process_group")
        self.process_group = pg
        self.world_size = pg.size()
        self.rank = pg.rank()
        self.global_rank = pg.ranks[self.rank]
        self.parameters_as_bucket_view = parameters_as_bucket_view
        self._default_device = all_params[0].device
        self._optim_constructor = optimizer_class
        self._optim_defaults = defaults
        self._partition_cache: list | None = None
        self._all_state_dicts: list = []
        self.optim = optimizer_class(self._partition_parameters()[self.rank], **defaults)
        self._sync_param_groups(self.optim.param_groups, self.param_groups)
        self.initialized = True

    # ------------------------------------------------------------------------------------------
    # The partition

    @property
    def _index_to_param(self) -> list:
        return list(chain.from_iterable(g["params"] for g in self.param_groups))

    def _partition_parameters(self) -> list:
        """Per rank, its parameter groups (NOTE [ ZeRO partition ])."""
        if self._partition_cache is None:
            sizes = [0] * self.world_size
            per_rank: list = [[] for _ in range(self.world_size)]
            for group in self.param_groups:
                mine: list = [[] for _ in range(self.world_size)]
                for p in sorted(group["params"], key=lambda t: t.numel(), reverse=True):
                    rank = sizes.index(min(sizes))
                    mine[rank].append(p)
                    sizes[rank] += p.numel()
                for rank, params in enumerate(mine):
                    local = copy.copy(group)
                    local["params"] = params
                    per_rank[rank].append(local)
            self._partition_cache = per_rank
        return self._partition_cache

    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group, sharded like the others (the earlier groups keep their
        partition)."""
        super().add_param_group(param_group)
        if self.initialized:
            self._partition_cache = None
            groups = self._partition_parameters()[self.rank]
            if len(groups) == len(self.optim.param_groups) + 1:
                self.optim.add_param_group(groups[-1])

    # ------------------------------------------------------------------------------------------
    # The step

    @staticmethod
    def _sync_param_groups(src: list, dst: list) -> None:
        """Copy the options (not the parameters) of the groups ``src`` into ``dst``."""
        for s, d in zip(src, dst):
            d.update({k: v for k, v in s.items() if k != "params"})

    def step(self, closure: Callable | None = None, **kwargs: Any):
        """Step this rank's shard with the local optimizer, then broadcast every shard.

        Returns:
            The closure's loss, or None.
        """
        Join.notify_join_context(self)
        self._sync_param_groups(self.param_groups, self.optim.param_groups)  # lr schedules
        if closure is None:
            loss = self.optim.step(**kwargs)
        else:
            loss = self.optim.step(closure=closure, **kwargs)
        self._sync_param_groups(self.optim.param_groups, self.param_groups)
        self._sync_params()
        return loss

    def _sync_params(self) -> None:
        """Every rank broadcasts its shard's parameters, ranks in order (all started, then
        all waited on)."""
        with no_grad():
            if self.parameters_as_bucket_view:
                self._sync_params_flat()
                return
            works = []
            for rank, groups in enumerate(self._partition_parameters()):
                for g in groups:
                    works.extend(collectives.broadcast(p, group=self.process_group,
                                                       async_op=True, group_src=rank)
                                 for p in g["params"])
            for work in works:
                work.wait()

    def _sync_params_flat(self) -> None:
        for rank, groups in enumerate(self._partition_parameters()):
            params = [p for g in groups for p in g["params"]]
            if not params:
                continue
            xp = params[0]._xp
            flat = xp.concatenate([p._data.reshape(-1) for p in params])
            collectives.broadcast(_make(flat), group=self.process_group, group_src=rank)
            start = 0
            for p in params:
                p._data[...] = flat[start:start + p.numel()].reshape(p._data.shape)
                p._bump_version()
                start += p.numel()

    # ------------------------------------------------------------------------------------------
    # Join

    def join_hook(self, **kwargs: Any) -> JoinHook:
        """The JoinHook: a joined rank keeps stepping and broadcasting its shard."""
        return _ZeROJoinHook(self)

    @property
    def join_device(self):
        return self._default_device

    @property
    def join_process_group(self) -> ProcessGroup:
        return self.process_group

    # ------------------------------------------------------------------------------------------
    # Checkpoints

    def consolidate_state_dict(self, to: int = 0) -> None:
        """Gather every rank's shard of the optimizer state on group rank ``to`` (all ranks
        must call it); ``state_dict()`` on that rank then returns the whole state."""
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
        gathered: list | None = [None] * self.world_size if self.rank == to else None
        gather_object(self.optim.state_dict(), gathered, group=self.process_group, group_dst=to)
        self._all_state_dicts = gathered if self.rank == to else []

    def state_dict(self) -> dict[str, Any]:
        """The whole optimizer state, as a plain optimizer over all parameters would save it
        (after ``consolidate_state_dict`` on this rank)."""
        if not self._all_state_dicts:
            raise RuntimeError("Optimizer state has not been consolidated on this rank. Please "
                               f"call `consolidate_state_dict(to={self.rank})` on all ranks "
                               "beforehand if you meant to save the global state.")
        state_dict = super().state_dict()
        index_of = {id(p): i for i, p in enumerate(self._index_to_param)}
        state = {}
        for local, groups in zip(self._all_state_dicts, self._partition_parameters()):
            for local_group, group in zip(local["param_groups"], groups):
                for local_index, p in zip(local_group["params"], group["params"]):
                    if local_index in local["state"]:
                        state[index_of[id(p)]] = local["state"][local_index]
        state_dict["state"] = dict(sorted(state.items()))
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a whole state (from ``state_dict``): each rank keeps its shard's part."""
        Optimizer.load_state_dict(self, {"state": {},
                                         "param_groups": state_dict["param_groups"]})
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
        params = self._index_to_param
        local_params = chain.from_iterable(g["params"] for g in self.optim.param_groups)
        local_index = {id(p): i for i, p in enumerate(local_params)}
        local = self.optim.state_dict()
        local["state"] = {local_index[id(params[i])]: value
                          for i, value in state_dict["state"].items()
                          if id(params[i]) in local_index}
        self.optim.load_state_dict(local)
