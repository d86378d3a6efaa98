"""``torch.distributed.checkpoint.load``: every rank fills its state dict in place from a
distributed checkpoint, reading the parts of the saved chunks its tensors cover, whatever
layout saved them."""
from __future__ import annotations

import os
import warnings
from typing import Any

from ember.distributed.checkpoint._storage_utils import _storage_setup
from ember.distributed.checkpoint.default_planner import DefaultLoadPlanner
from ember.distributed.checkpoint.planner import LoadPlanner
from ember.distributed.checkpoint.state_dict_saver import _use_dist
from ember.distributed.checkpoint.stateful import Stateful
from ember.distributed.checkpoint.storage import StorageReader
from ember.distributed.checkpoint.utils import _DistWrapper

__all__ = ["load", "load_state_dict"]


def load(state_dict: dict, *, checkpoint_id: str | os.PathLike | None = None,
         storage_reader: StorageReader | None = None, planner: LoadPlanner | None = None,
         process_group: Any = None, no_dist: bool = False) -> None:
    """Load a distributed checkpoint into ``state_dict`` in place: its tensors (a DTensor's
    local shard) are filled by copying, its other values replaced, and a ``Stateful`` value
    gets ``load_state_dict`` of its filled state dict. Every key of ``state_dict`` must be in
    the checkpoint (see ``DefaultLoadPlanner(allow_partial_load=True)``); its tensors must
    have the saved global sizes, in any layout. Every rank of ``process_group`` calls it.

    Example::

        >>> state = {"model": model.state_dict()}
        >>> dcp.load(state, checkpoint_id="ckpt")
        >>> model.load_state_dict(state["model"])
    """
    use_dist = _use_dist(no_dist)
    storage_reader = _storage_setup(storage_reader, checkpoint_id, reader=True)
    keys = sorted(state_dict)  # every rank handles the keys in one order
    loaded = {key: state_dict[key].state_dict() if isinstance(state_dict[key], Stateful)
              else state_dict[key] for key in keys}
    _load_state_dict(loaded, storage_reader, process_group, no_dist=not use_dist,
                     planner=planner)
    for key in keys:
        if isinstance(state_dict[key], Stateful):
            state_dict[key].load_state_dict(loaded[key])
        else:
            state_dict[key] = loaded[key]


def _load_state_dict(state_dict: dict, storage_reader: StorageReader, process_group: Any = None,
                     coordinator_rank: int = 0, no_dist: bool = False,
                     planner: LoadPlanner | None = None) -> None:
    dist = _DistWrapper(process_group, not no_dist, coordinator_rank)
    planner = planner or DefaultLoadPlanner()

    def local_step():
        metadata = storage_reader.read_metadata()
        planner.set_up_planner(state_dict, metadata, dist.is_coordinator)
        storage_reader.set_up_storage_reader(metadata, dist.is_coordinator)
        return storage_reader.prepare_local_plan(planner.create_local_plan())

    def global_step(all_local_plans: list) -> list:
        return storage_reader.prepare_global_plan(planner.create_global_plan(all_local_plans))

    central_plan = dist.reduce_scatter("plan", local_step, global_step)

    def read_data() -> None:
        storage_reader.read_data(planner.finish_plan(central_plan), planner).wait()

    dist.all_gather("read", read_data)


def load_state_dict(state_dict: dict, storage_reader: StorageReader, process_group: Any = None,
                    coordinator_rank: int = 0, no_dist: bool = False,
                    planner: LoadPlanner | None = None) -> None:
    """Deprecated form of :func:`load`."""
    warnings.warn("'load_state_dict' is deprecated and will be removed in future versions. "
                  "Please use 'load' instead.", FutureWarning, stacklevel=2)
    storage_reader.reset()
    _load_state_dict(state_dict, storage_reader, process_group, coordinator_rank,
                     not _use_dist(no_dist), planner)


def _load_state_dict_from_keys(keys: set | str | None = None, *,
                               checkpoint_id: str | os.PathLike | None = None,
                               storage_reader: StorageReader | None = None,
                               process_group: Any = None) -> dict:
    """The checkpoint's values for ``keys`` (all if None), nested as saved, without a state
    dict to load into."""
    from ember.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    use_dist = _use_dist(False)
    storage_reader = _storage_setup(storage_reader, checkpoint_id, reader=True)
    keys = {keys} if isinstance(keys, str) else keys
    state_dict: dict = {}
    _load_state_dict(state_dict, storage_reader, process_group, no_dist=not use_dist,
                     planner=_EmptyStateDictLoadPlanner(keys=keys))
    return state_dict
