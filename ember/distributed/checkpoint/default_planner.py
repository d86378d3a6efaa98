"""The planners ``save`` and ``load`` use unless given others
(``torch.distributed.checkpoint.default_planner``): nested state dicts are flattened to dotted
keys, each rank plans its own values, the coordinator removes the duplicates that replicated
values make, builds the checkpoint's Metadata and checks that the saved chunks tile every
tensor; loading reads, for each value, the parts of the saved chunks it overlaps."""
from __future__ import annotations

import dataclasses
import io
from typing import Any

from ember._tensor import Tensor
from ember.distributed.checkpoint._nested_dict import flatten_state_dict, set_element
from ember.distributed.checkpoint.metadata import (
    BytesStorageMetadata,
    Metadata,
    MetadataIndex,
    StorageMeta,
    TensorStorageMetadata,
)
from ember.distributed.checkpoint.planner import (
    LoadPlan,
    LoadPlanner,
    ReadItem,
    SavePlan,
    SavePlanner,
    WriteItem,
    WriteItemType,
)
from ember.distributed.checkpoint.planner_helpers import (
    create_read_items,
    create_write_items,
    local_tensor,
    narrow_tensor_by_index,
    resolve_write_data,
)

__all__ = ["DefaultLoadPlanner", "DefaultSavePlanner", "create_default_global_save_plan",
           "create_default_local_load_plan", "create_default_local_save_plan"]


class DefaultSavePlanner(SavePlanner):
    """Plans a save: flattens the state dict (``flatten_state_dict``), writes each value once
    (``dedup_save_to_lowest_rank`` gives a replicated value to the lowest rank holding it,
    otherwise to the rank with the fewest bytes planned so far)."""

    def __init__(self, flatten_state_dict: bool = True, flatten_sharded_tensors: bool = True,
                 dedup_replicated_tensors: bool | None = None,
                 dedup_save_to_lowest_rank: bool = False,
                 enable_plan_caching: bool = False) -> None:
        self.flatten_state_dict = flatten_state_dict
        self.flatten_sharded_tensors = flatten_sharded_tensors
        self.dedup_save_to_lowest_rank = dedup_save_to_lowest_rank
        self.mappings: dict = {}

    def set_up_planner(self, state_dict: dict, storage_meta: StorageMeta | None = None,
                       is_coordinator: bool = False) -> None:
        if self.flatten_state_dict:
            state_dict, self.mappings = flatten_state_dict(state_dict)
        self.state_dict = state_dict
        self.is_coordinator = is_coordinator

    def create_local_plan(self) -> SavePlan:
        plan = create_default_local_save_plan(self.state_dict, self.is_coordinator)
        if self.flatten_state_dict:
            plan = dataclasses.replace(plan, planner_data=self.mappings)
        self.plan = plan
        return plan

    def create_global_plan(self, all_plans: list) -> tuple[list, Metadata]:
        all_plans = dedup_save_plans(all_plans, self.dedup_save_to_lowest_rank)
        global_plan, metadata = create_default_global_save_plan(all_plans)
        if self.flatten_state_dict:
            mappings = {}
            for plan in global_plan:
                mappings.update(plan.planner_data or {})
            metadata = dataclasses.replace(metadata, planner_data=mappings)
        _validate_global_plan(metadata)
        self.global_plan, self.metadata = global_plan, metadata
        return global_plan, metadata

    def finish_plan(self, new_plan: SavePlan) -> SavePlan:
        self.plan = new_plan
        return new_plan

    def resolve_data(self, write_item: WriteItem) -> Any:
        return resolve_write_data(self.lookup_object(write_item.index), write_item)

    def lookup_object(self, index: MetadataIndex) -> Any:
        """The state-dict value that ``index`` names."""
        return self.state_dict[index.fqn]


class DefaultLoadPlanner(LoadPlanner):
    """Plans a load into ``state_dict`` in place: tensors (and DTensors' local shards) are
    filled by copying, other values are replaced. A key of the state dict that the checkpoint
    lacks is an error unless ``allow_partial_load``; keys only the checkpoint has are
    ignored."""

    def __init__(self, flatten_state_dict: bool = True, flatten_sharded_tensors: bool = True,
                 allow_partial_load: bool = False) -> None:
        self.flatten_state_dict = flatten_state_dict
        self.flatten_sharded_tensors = flatten_sharded_tensors
        self.allow_partial_load = allow_partial_load
        self.mappings: dict = {}

    def set_up_planner(self, state_dict: dict, metadata: Metadata | None = None,
                       is_coordinator: bool = False) -> None:
        self.original_state_dict = state_dict
        if self.flatten_state_dict:
            state_dict, self.mappings = flatten_state_dict(state_dict)
        self.state_dict = state_dict
        self.metadata = metadata
        self.is_coordinator = is_coordinator

    def create_local_plan(self) -> LoadPlan:
        return create_default_local_load_plan(self.state_dict, self.metadata,
                                              not self.allow_partial_load)

    def create_global_plan(self, global_plan: list) -> list:
        return global_plan

    def finish_plan(self, new_plan: LoadPlan) -> LoadPlan:
        return new_plan

    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None:
        from ember.serialization import load
        loaded = load(value, weights_only=True)
        fqn = read_item.dest_index.fqn
        if self.flatten_state_dict:
            set_element(self.original_state_dict, self.mappings[fqn], loaded)
        else:
            self.state_dict[fqn] = loaded

    def resolve_tensor(self, read_item: ReadItem) -> Tensor:
        tensor = self.lookup_tensor(read_item.dest_index)
        return self.transform_tensor(read_item, tensor)

    def commit_tensor(self, read_item: ReadItem, tensor: Tensor) -> None:
        pass  # resolve_tensor returned a view of the state dict's tensor: already in place

    def lookup_tensor(self, index: MetadataIndex) -> Tensor:
        """The tensor (a DTensor's local shard) that ``index`` names."""
        return local_tensor(self.state_dict[index.fqn])

    def transform_tensor(self, read_item: ReadItem, tensor: Tensor) -> Tensor:
        return narrow_tensor_by_index(tensor, read_item.dest_offsets, read_item.lengths)


class _EmptyStateDictLoadPlanner(DefaultLoadPlanner):
    """Loads into an empty state dict, rebuilding it from the checkpoint's metadata (tensors
    of the saved sizes and dtypes, nested as saved), for reading a checkpoint without a
    model."""

    def __init__(self, keys: set | None = None, *args: Any, **kwargs: Any) -> None:
        self.keys = keys
        super().__init__(*args, **kwargs)

    def set_up_planner(self, state_dict: dict, metadata: Metadata | None = None,
                       is_coordinator: bool = False) -> None:
        if state_dict:
            raise ValueError("_EmptyStateDictLoadPlanner loads into an empty state dict")
        from ember import empty
        mappings = (metadata.planner_data or {}) if self.flatten_state_dict else {}
        for key, md in metadata.state_dict_metadata.items():
            if self.keys is not None and key not in self.keys:
                continue
            value = (empty(md.size, dtype=md.properties.dtype)
                     if isinstance(md, TensorStorageMetadata) else None)
            path = tuple(mappings.get(key, (key,)))
            set_element(state_dict, path, value)
        super().set_up_planner(state_dict, metadata, is_coordinator)


def create_default_local_save_plan(state_dict: dict, is_coordinator: bool) -> SavePlan:
    """The write items of every value in the (flattened) ``state_dict``."""
    items = []
    for fqn, value in state_dict.items():
        items.extend(create_write_items(fqn, value))
    return SavePlan(items)


def dedup_save_plans(all_plans: list, save_to_lowest_rank: bool = False) -> list:
    """The plans with every item that several ranks plan (same key and offsets) kept in one
    plan only."""
    holders: dict = {}
    for rank, plan in enumerate(all_plans):
        for item in plan.items:
            holders.setdefault(item.index, []).append(rank)
    planned = [0] * len(all_plans)
    owner = {}
    for rank, plan in enumerate(all_plans):  # items only one rank holds stay with it
        for item in plan.items:
            if len(holders[item.index]) == 1:
                owner[item.index] = rank
                planned[rank] += item.tensor_storage_size() or 0
    for plan in all_plans:
        for item in plan.items:
            ranks = holders[item.index]
            if item.index in owner:
                continue
            chosen = ranks[0] if save_to_lowest_rank else min(ranks, key=lambda r: planned[r])
            owner[item.index] = chosen
            planned[chosen] += item.tensor_storage_size() or 0
    return [dataclasses.replace(plan, items=[item for item in plan.items
                                             if owner[item.index] == rank])
            for rank, plan in enumerate(all_plans)]


def create_default_global_save_plan(all_plans: list) -> tuple[list, Metadata]:
    """The plans with each tensor item's chunk position filled in, and the Metadata they
    describe."""
    entries: dict = {}
    new_plans = []
    for plan in all_plans:
        new_items = []
        for item in plan.items:
            fqn = item.index.fqn
            if item.type == WriteItemType.BYTE_IO:
                entries[fqn] = BytesStorageMetadata()
                new_items.append(item)
                continue
            data = item.tensor_data
            md = entries.setdefault(fqn, TensorStorageMetadata(data.properties, data.size, []))
            if not isinstance(md, TensorStorageMetadata) or tuple(md.size) != tuple(data.size):
                raise ValueError(f"ranks disagree on what {fqn!r} is: {md} and {data}")
            index = dataclasses.replace(item.index, index=len(md.chunks))
            new_items.append(dataclasses.replace(item, index=index))
            md.chunks.append(data.chunk)
        new_plans.append(dataclasses.replace(plan, items=new_items))
    return new_plans, Metadata(entries)


def _validate_global_plan(metadata: Metadata) -> None:
    """The saved chunks of every tensor lie inside it, do not overlap and cover it."""
    errors = []
    for fqn, md in metadata.state_dict_metadata.items():
        if isinstance(md, BytesStorageMetadata):
            continue
        total = _volume(md.size)
        covered = sum(_volume(c.sizes) for c in md.chunks)
        for i, chunk in enumerate(md.chunks):
            if any(o < 0 or o + s > n for o, s, n in zip(chunk.offsets, chunk.sizes, md.size)):
                errors.append(f"{fqn}: chunk {chunk} lies outside size {list(md.size)}")
            for other in md.chunks[i + 1:]:
                if _volume(chunk.sizes) and _volume(other.sizes) and all(
                        max(a, b) < min(a + x, b + y) for a, x, b, y in
                        zip(chunk.offsets, chunk.sizes, other.offsets, other.sizes)):
                    errors.append(f"{fqn}: chunks {chunk} and {other} overlap")
        if covered != total:
            errors.append(f"{fqn}: chunks cover {covered} of {total} elements")
    if errors:
        raise ValueError(f"Failed to validate global plan: {'; '.join(errors)[:500]}")


def _volume(sizes: tuple) -> int:
    numel = 1
    for size in sizes:
        numel *= size
    return numel


def create_default_local_load_plan(state_dict: dict, metadata: Metadata,
                                   strict: bool = True) -> LoadPlan:
    """The read items that fill every value of the (flattened) ``state_dict``."""
    requests = []
    for fqn, value in state_dict.items():
        if fqn not in metadata.state_dict_metadata:
            if strict:
                raise RuntimeError(f"Missing key in checkpoint state_dict: {fqn}.")
            continue
        md = metadata.state_dict_metadata[fqn]
        if (isinstance(md, TensorStorageMetadata) and isinstance(value, Tensor)
                and tuple(md.size) != tuple(value.shape)):
            raise ValueError(f"Size mismatch between saved {md.size} and current: "
                             f"{value.size()} for {fqn}")
        requests.extend(create_read_items(fqn, md, value))
    return LoadPlan(requests)
