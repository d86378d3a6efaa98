"""The collective steps of ``save`` and ``load`` (``torch.distributed.checkpoint.utils``): every
rank runs a local step, the coordinator combines the results, and a failure on any rank raises
the same ``CheckpointException`` on every rank instead of leaving the others waiting."""
from __future__ import annotations

from typing import Any, Callable

from ember.distributed.checkpoint.api import CheckpointException

__all__ = ["_DistWrapper"]


class _Failure:
    """A rank's error, as sent to the other ranks (the exception itself when it pickles)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self):
        try:
            import pickle
            pickle.dumps(self.error)
            return (_Failure, (self.error,))
        except Exception:
            return (_Failure, (RuntimeError(f"{type(self.error).__name__}: {self.error}"),))


def _run(fn: Callable, *args: Any) -> Any:
    try:
        return fn(*args)
    except BaseException as e:  # noqa: BLE001 - every rank must learn of it
        return _Failure(e)


def _raise_failures(step: str, results: list) -> None:
    failures = {rank: r.error for rank, r in enumerate(results) if isinstance(r, _Failure)}
    if failures:
        raise CheckpointException(step, failures)


class _DistWrapper:
    """The ranks of ``group`` (the default group if None) taking part in a checkpoint, or this
    process alone when ``use_dist`` is False; ``coordinator_rank`` is a group rank."""

    def __init__(self, group: Any, use_dist: bool, coordinator_rank: int = 0) -> None:
        self.group = group
        self.use_dist = use_dist
        if use_dist:
            from ember.distributed import get_rank, get_world_size
            self.rank = get_rank(group)
            self.world_size = get_world_size(group)
        else:
            self.rank, self.world_size = 0, 1
        self.coordinator_rank = coordinator_rank
        self.is_coordinator = self.rank == coordinator_rank

    def all_gather_object(self, obj: Any) -> list:
        if not self.use_dist:
            return [obj]
        from ember.distributed import all_gather_object
        out = [None] * self.world_size
        all_gather_object(out, obj, group=self.group)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        if not self.use_dist:
            return obj
        from ember.distributed import broadcast_object_list
        box = [obj]
        broadcast_object_list(box, group=self.group, group_src=self.coordinator_rank)
        return box[0]

    def reduce_scatter(self, step: str, map_fun: Callable, reduce_fun: Callable) -> Any:
        """Every rank's ``map_fun()`` goes to the coordinator, whose ``reduce_fun(all)`` returns
        one result per rank; returns this rank's."""
        results = self.all_gather_object(_run(map_fun))
        _raise_failures(step, results)
        combined = _run(reduce_fun, results) if self.is_coordinator else None
        combined = self.broadcast_object(combined)
        if isinstance(combined, _Failure):
            raise CheckpointException(step, {self.coordinator_rank: combined.error})
        return combined[self.rank]

    def all_reduce(self, step: str, map_fun: Callable, reduce_fun: Callable) -> Any:
        """Every rank's ``map_fun()`` goes to the coordinator, whose ``reduce_fun(all)`` is
        returned on every rank."""
        results = self.all_gather_object(_run(map_fun))
        _raise_failures(step, results)
        combined = _run(reduce_fun, results) if self.is_coordinator else None
        combined = self.broadcast_object(combined)
        if isinstance(combined, _Failure):
            raise CheckpointException(step, {self.coordinator_rank: combined.error})
        return combined

    def all_gather(self, step: str, map_fun: Callable) -> list:
        """Every rank's ``map_fun()``, on every rank."""
        results = self.all_gather_object(_run(map_fun))
        _raise_failures(step, results)
        return results
