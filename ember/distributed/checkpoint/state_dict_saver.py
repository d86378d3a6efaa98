"""``torch.distributed.checkpoint.save``: every rank writes its part of a state dict, the
coordinator writes the metadata that ties the parts together."""
from __future__ import annotations

import os
import warnings
from typing import Any

from ember.distributed.checkpoint._storage_utils import _storage_setup
from ember.distributed.checkpoint.default_planner import DefaultSavePlanner
from ember.distributed.checkpoint.metadata import Metadata
from ember.distributed.checkpoint.planner import SavePlanner
from ember.distributed.checkpoint.stateful import Stateful
from ember.distributed.checkpoint.storage import StorageWriter
from ember.distributed.checkpoint.utils import _DistWrapper
from ember.futures import Future

__all__ = ["async_save", "save", "save_state_dict"]


def _use_dist(no_dist: bool) -> bool:
    import ember.distributed as dist
    if no_dist or not dist.is_available() or not dist.is_initialized():
        if not no_dist:
            warnings.warn("torch.distributed is disabled, unavailable or uninitialized, "
                          "assuming the intent is to save in a single process.", stacklevel=3)
        return False
    return True


def save(state_dict: dict, *, checkpoint_id: str | os.PathLike | None = None,
         storage_writer: StorageWriter | None = None, planner: SavePlanner | None = None,
         process_group: Any = None, no_dist: bool = False) -> Metadata:
    """Save ``state_dict`` as a distributed checkpoint; every rank of ``process_group`` calls
    it with the same keys. Tensors are written as this rank's chunks (a DTensor's local
    shard; a value several ranks hold is written once), other values serialized, and
    ``Stateful`` values through their ``state_dict()``.

    Args:
        state_dict: the (nested) state dict to save.
        checkpoint_id: the checkpoint's directory (or the id ``storage_writer`` takes).
        storage_writer: where to write; a ``FileSystemWriter(checkpoint_id)`` by default.
        planner: a ``SavePlanner``; ``DefaultSavePlanner()`` by default.
        process_group: the ranks that save together (the default group if None).
        no_dist: save from this process alone, with no collectives (also when no process
            group is initialized).

    Returns:
        The checkpoint's Metadata.

    Example::

        >>> dcp.save({"model": model.state_dict(), "step": 10}, checkpoint_id="ckpt")
    """
    use_dist = _use_dist(no_dist)
    storage_writer = _storage_setup(storage_writer, checkpoint_id, reader=False)
    state_dict = {key: value.state_dict() if isinstance(value, Stateful) else value
                  for key, value in state_dict.items()}
    return _save_state_dict(state_dict, storage_writer, process_group, no_dist=not use_dist,
                            planner=planner)


def _save_state_dict(state_dict: dict, storage_writer: StorageWriter, process_group: Any = None,
                     coordinator_rank: int = 0, no_dist: bool = False,
                     planner: SavePlanner | None = None) -> Metadata:
    dist = _DistWrapper(process_group, not no_dist, coordinator_rank)
    planner = planner or DefaultSavePlanner()
    global_metadata = None

    def local_step():
        planner.set_up_planner(state_dict, storage_writer.storage_meta(), dist.is_coordinator)
        storage_writer.set_up_storage_writer(dist.is_coordinator, rank=dist.rank,
                                             use_collectives=not no_dist)
        return storage_writer.prepare_local_plan(planner.create_local_plan())

    def global_step(all_local_plans: list) -> list:
        nonlocal global_metadata
        all_local_plans, global_metadata = planner.create_global_plan(all_local_plans)
        return storage_writer.prepare_global_plan(all_local_plans)

    central_plan = dist.reduce_scatter("plan", local_step, global_step)

    def write_data() -> list:
        final_plan = planner.finish_plan(central_plan)
        return storage_writer.write_data(final_plan, planner).wait()

    def finish_checkpoint(all_results: list) -> Metadata:
        storage_writer.finish(global_metadata, all_results)
        return global_metadata

    return dist.all_reduce("write", write_data, finish_checkpoint)


def save_state_dict(state_dict: dict, storage_writer: StorageWriter, process_group: Any = None,
                    coordinator_rank: int = 0, no_dist: bool = False,
                    planner: SavePlanner | None = None) -> Metadata:
    """Deprecated form of :func:`save`."""
    warnings.warn("'save_state_dict' is deprecated and will be removed in future versions. "
                  "Please use 'save' instead.", FutureWarning, stacklevel=2)
    storage_writer.reset()
    return _save_state_dict(state_dict, storage_writer, process_group, coordinator_rank,
                            not _use_dist(no_dist), planner)


def async_save(state_dict: dict, *, checkpoint_id: str | os.PathLike | None = None,
               storage_writer: StorageWriter | None = None, planner: SavePlanner | None = None,
               process_group: Any = None, **kwargs: Any) -> Future:
    """:func:`save`, returning a completed Future of its Metadata: ember saves synchronously
    (its collectives run on the calling thread)."""
    future = Future()
    future.set_result(save(state_dict, checkpoint_id=checkpoint_id,
                           storage_writer=storage_writer, planner=planner,
                           process_group=process_group))
    return future
