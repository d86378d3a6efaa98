"""The storage layer of distributed checkpointing (``torch.distributed.checkpoint.storage``):
a ``StorageWriter`` puts a rank's write items somewhere and, on the coordinator, the metadata;
a ``StorageReader`` reads the metadata and serves read items back to the planner."""
from __future__ import annotations

import abc
import dataclasses
import os
from typing import Any

from ember.distributed.checkpoint.metadata import Metadata, MetadataIndex, StorageMeta
from ember.distributed.checkpoint.planner import LoadPlan, LoadPlanner, SavePlan, SavePlanner
from ember.futures import Future

__all__ = ["StorageReader", "StorageWriter", "WriteResult"]


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """Where the writer put the item ``index`` (``storage_data``) and its size in bytes."""
    index: MetadataIndex
    size_in_bytes: int
    storage_data: Any


class StorageWriter(abc.ABC):
    """Writes a checkpoint. ``save`` calls ``reset``, ``set_up_storage_writer``,
    ``prepare_local_plan``, ``prepare_global_plan`` (coordinator), ``write_data`` on every
    rank and ``finish`` with the gathered write results on the coordinator."""

    @abc.abstractmethod
    def reset(self, checkpoint_id: str | os.PathLike | None = None) -> None: ...

    @abc.abstractmethod
    def set_up_storage_writer(self, is_coordinator: bool, *args: Any, **kwargs: Any) -> None: ...

    @abc.abstractmethod
    def prepare_local_plan(self, plan: SavePlan) -> SavePlan: ...

    @abc.abstractmethod
    def prepare_global_plan(self, plans: list) -> list: ...

    @abc.abstractmethod
    def write_data(self, plan: SavePlan, planner: SavePlanner) -> Future: ...

    @abc.abstractmethod
    def finish(self, metadata: Metadata, results: list) -> None: ...

    @classmethod
    @abc.abstractmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool: ...

    def storage_meta(self) -> StorageMeta | None:
        return None


class StorageReader(abc.ABC):
    """Reads a checkpoint. ``load`` calls ``reset``, ``read_metadata``,
    ``set_up_storage_reader``, ``prepare_local_plan``, ``prepare_global_plan`` (coordinator)
    and ``read_data`` on every rank."""

    @abc.abstractmethod
    def reset(self, checkpoint_id: str | os.PathLike | None = None) -> None: ...

    @abc.abstractmethod
    def read_metadata(self) -> Metadata: ...

    @abc.abstractmethod
    def set_up_storage_reader(self, metadata: Metadata, is_coordinator: bool,
                              *args: Any, **kwargs: Any) -> None: ...

    @abc.abstractmethod
    def prepare_local_plan(self, plan: LoadPlan) -> LoadPlan: ...

    @abc.abstractmethod
    def prepare_global_plan(self, plans: list) -> list: ...

    @abc.abstractmethod
    def read_data(self, plan: LoadPlan, planner: LoadPlanner) -> Future: ...

    @classmethod
    @abc.abstractmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool: ...
