"""The planner interface of distributed checkpointing (``torch.distributed.checkpoint.planner``):
what each rank writes (``SavePlan`` of ``WriteItem`` s) or reads (``LoadPlan`` of ``ReadItem`` s),
and the ``SavePlanner`` / ``LoadPlanner`` that make those plans and move data in and out of the
state dict."""
from __future__ import annotations

import abc
import dataclasses
import enum
import io
from typing import Any

from ember.distributed.checkpoint.metadata import (
    ChunkStorageMetadata,
    Metadata,
    MetadataIndex,
    StorageMeta,
    TensorProperties,
)

__all__ = ["LoadItemType", "LoadPlan", "LoadPlanner", "ReadItem", "SavePlan", "SavePlanner",
           "TensorWriteData", "WriteItem", "WriteItemType"]


class WriteItemType(enum.Enum):
    TENSOR = enum.auto()
    SHARD = enum.auto()
    BYTE_IO = enum.auto()


class LoadItemType(enum.Enum):
    TENSOR = enum.auto()
    BYTE_IO = enum.auto()


@dataclasses.dataclass(frozen=True)
class TensorWriteData:
    """The chunk a tensor write item covers, in a tensor of global ``size``."""
    chunk: ChunkStorageMetadata
    properties: TensorProperties
    size: tuple


@dataclasses.dataclass(frozen=True)
class WriteItem:
    """One item a rank writes: a tensor chunk (``tensor_data``) or a serialized value."""
    index: MetadataIndex
    type: WriteItemType
    bytes_io_data: Any = None
    tensor_data: TensorWriteData | None = None

    def tensor_storage_size(self) -> int | None:
        """Bytes of the tensor chunk, or None for a bytes item."""
        if self.tensor_data is None:
            return None
        numel = 1
        for size in self.tensor_data.chunk.sizes:
            numel *= size
        return numel * self.tensor_data.properties.dtype.itemsize


@dataclasses.dataclass(frozen=True)
class ReadItem:
    """Copy the box of sizes ``lengths`` at ``storage_offsets`` of the saved item
    ``storage_index`` to ``dest_offsets`` of the state dict's item ``dest_index``."""
    type: LoadItemType
    dest_index: MetadataIndex
    dest_offsets: tuple
    storage_index: MetadataIndex
    storage_offsets: tuple
    lengths: tuple


@dataclasses.dataclass(frozen=True)
class SavePlan:
    items: list
    storage_data: Any = None
    planner_data: Any = None
    usable: bool = True


@dataclasses.dataclass
class LoadPlan:
    items: list
    storage_data: Any = None
    planner_data: Any = None


class SavePlanner(abc.ABC):
    """Decides what each rank writes. ``save`` calls, in order: ``set_up_planner`` and
    ``create_local_plan`` on every rank, ``create_global_plan`` on the coordinator (which also
    returns the checkpoint's Metadata), ``finish_plan`` on every rank with its part of the
    global plan, then ``resolve_data`` for each item the storage writes."""

    @abc.abstractmethod
    def set_up_planner(self, state_dict: dict, storage_meta: StorageMeta | None = None,
                       is_coordinator: bool = False) -> None: ...

    @abc.abstractmethod
    def create_local_plan(self) -> SavePlan: ...

    @abc.abstractmethod
    def create_global_plan(self, all_plans: list) -> tuple[list, Metadata]: ...

    @abc.abstractmethod
    def finish_plan(self, new_plan: SavePlan) -> SavePlan: ...

    @abc.abstractmethod
    def resolve_data(self, write_item: WriteItem) -> Any:
        """The tensor (chunk) or ``io.BytesIO`` that ``write_item`` writes."""


class LoadPlanner(abc.ABC):
    """Decides what each rank reads. ``load`` calls ``set_up_planner``, ``create_local_plan``,
    ``create_global_plan`` (coordinator), ``finish_plan``, then for each item the storage reads:
    ``load_bytes`` with a serialized value, or ``resolve_tensor`` for the tensor to copy into
    and ``commit_tensor`` once it is filled."""

    @abc.abstractmethod
    def set_up_planner(self, state_dict: dict, metadata: Metadata | None = None,
                       is_coordinator: bool = False) -> None: ...

    @abc.abstractmethod
    def create_local_plan(self) -> LoadPlan: ...

    @abc.abstractmethod
    def create_global_plan(self, global_plan: list) -> list: ...

    @abc.abstractmethod
    def finish_plan(self, central_plan: LoadPlan) -> LoadPlan: ...

    @abc.abstractmethod
    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None: ...

    @abc.abstractmethod
    def resolve_tensor(self, read_item: ReadItem) -> Any: ...

    @abc.abstractmethod
    def commit_tensor(self, read_item: ReadItem, tensor: Any) -> None: ...
