"""Checkpoints as Hugging Face safetensors files (``torch.distributed.checkpoint.hf_storage``):
``model-0000i-of-0000n.safetensors`` files plus ``model.safetensors.index.json``, which
``transformers`` and ``safetensors.numpy.load_file`` read. Each tensor's header carries DCP's
sharding info (where the saved block lies in the full tensor), so shards written by many
ranks (``save_distributed``) load back into any layout, or consolidate into full tensors."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from ember._tensor import Size, _make
from ember.distributed.checkpoint._consolidate_hf_safetensors import (
    consolidate_safetensors_files,
)
from ember.distributed.checkpoint._hf_utils import (
    CUSTOM_METADATA_KEY,
    DCP_VERSION_KEY,
    FORMAT_KEY,
    FORMAT_VALUE,
    HF_DCP_VERSION,
    SAVED_OFFSETS_KEY,
    SHARDED_DIR_NAME,
    SUFFIX,
    SafetensorsHeader,
    _gen_file_name,
    _metadata_fn,
)
from ember.distributed.checkpoint.filesystem import (
    FileSystemReader,
    FileSystemWriter,
    _done,
    _StorageInfo,
)
from ember.distributed.checkpoint.metadata import (
    ChunkStorageMetadata,
    Metadata,
    MetadataIndex,
    StorageMeta,
    TensorProperties,
    TensorStorageMetadata,
)
from ember.distributed.checkpoint.planner import (
    LoadPlan,
    LoadPlanner,
    SavePlan,
    SavePlanner,
    WriteItemType,
)
from ember.distributed.checkpoint.planner_helpers import narrow_tensor_by_index
from ember.distributed.checkpoint.storage import WriteResult
from ember.futures import Future
from ember.serialization import atomic_write
from ember.serialization._formats import save_safetensors

__all__ = ["HuggingFaceStorageReader", "HuggingFaceStorageWriter"]


class HuggingFaceStorageWriter(FileSystemWriter):
    """Writes the tensors of a state dict as safetensors files into ``path``.

    Args:
        path: the output directory.
        fqn_to_index_mapping: which file (1 to N) each key goes to; all in one file if None.
        thread_count: accepted for PyTorch's signature (ember writes on the calling thread).
        save_distributed: every rank writes its own shards (``shard-0000r-model-...``);
            otherwise one rank is expected to save the full state dict.
        enable_consolidation: with ``save_distributed``, the shards go to ``path/sharded``
            and the coordinator consolidates them into full tensors in ``path``.
        thread_count_consolidation: accepted for PyTorch's signature.
    """

    def __init__(self, path: str, fqn_to_index_mapping: dict | None = None,
                 thread_count: int = 1, save_distributed: bool = False,
                 enable_consolidation: bool = False, thread_count_consolidation: int = 1) -> None:
        super().__init__(path=path, thread_count=thread_count)
        self.fqn_to_index_mapping = fqn_to_index_mapping
        self.save_distributed = save_distributed
        self.enable_consolidation = enable_consolidation
        self.consolidated_output_path = None
        if enable_consolidation:
            self.consolidated_output_path = self.path
            self.path = os.path.join(self.path, SHARDED_DIR_NAME)
        self.thread_count_consolidation = thread_count_consolidation

    def prepare_global_plan(self, plans: list) -> list:
        new_plans = []
        for i, plan in enumerate(plans, start=1):
            storage_data: dict = {}
            if self.fqn_to_index_mapping is not None:
                storage_data["fqn_to_index_mapping"] = self.fqn_to_index_mapping
            if self.save_distributed:
                storage_data["shard_index"] = i
            new_plans.append(dataclasses.replace(plan, storage_data=storage_data))
        return new_plans

    def write_data(self, plan: SavePlan, planner: SavePlanner) -> Future:
        mapping = plan.storage_data.get("fqn_to_index_mapping")
        shard_index = plan.storage_data.get("shard_index")
        buckets: dict = {}
        for item in plan.items:
            if item.type == WriteItemType.BYTE_IO:
                raise ValueError(f"HuggingFaceStorageWriter stores tensors only; "
                                 f"{item.index.fqn!r} is not a tensor")
            file_index = 1 if mapping is None else mapping[item.index.fqn]
            buckets.setdefault(file_index, []).append(item)
        highest = max(mapping.values()) if mapping is not None else 1
        results = []
        for file_index, items in buckets.items():
            name = _gen_file_name(file_index, highest, shard_index)
            tensors, sharding = {}, {}
            for item in items:
                tensors[item.index.fqn] = planner.resolve_data(item).contiguous()
                sharding[item.index.fqn] = {
                    SAVED_OFFSETS_KEY: list(item.tensor_data.chunk.offsets)}
            metadata = {CUSTOM_METADATA_KEY: json.dumps(sharding),
                        DCP_VERSION_KEY: str(HF_DCP_VERSION), FORMAT_KEY: FORMAT_VALUE}
            save_safetensors(tensors, os.path.join(self.path, name), metadata=metadata)
            for item in items:
                size = tensors[item.index.fqn].nbytes
                results.append(WriteResult(item.index, size, _StorageInfo(name, 0, size)))
        return _done(results)

    def finish(self, metadata: Metadata, results: list) -> None:
        if self.save_distributed:
            if self.enable_consolidation:
                mapping = self.fqn_to_index_mapping or dict.fromkeys(
                    metadata.state_dict_metadata, 1)
                consolidate_safetensors_files(self.path, self.consolidated_output_path,
                                              fqn_to_index_mapping=mapping)
            return
        weight_map, total = {}, 0
        for result in (r for rank_results in results for r in rank_results):
            weight_map[result.index.fqn] = result.storage_data.relative_path
            total += result.storage_data.length
        text = json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map},
                          indent=2)
        with atomic_write(os.path.join(self.path, _metadata_fn)) as fp:
            fp.write(text.encode())

    @property
    def metadata_path(self) -> str:
        return _metadata_fn


class HuggingFaceStorageReader(FileSystemReader):
    """Reads every ``*.safetensors`` file in ``path`` as one checkpoint: each tensor's blocks
    placed by DCP's sharding info (a plain Hugging Face file holds whole tensors)."""

    def __init__(self, path: str, thread_count: int = 1) -> None:
        super().__init__(path=path)
        self.thread_count = thread_count

    def read_metadata(self) -> Metadata:
        entries: dict = {}
        storage: dict = {}
        names = sorted(n for n in os.listdir(self.path) if n.endswith(SUFFIX))
        for name in names:
            header = SafetensorsHeader(os.path.join(self.path, name))
            for fqn, (dtype, shape, _, _) in header.tensors.items():
                offsets = header.offsets[fqn]
                chunk = ChunkStorageMetadata(offsets, shape)
                md = entries.get(fqn)
                end = tuple(o + s for o, s in zip(offsets, shape))
                if md is None:
                    entries[fqn] = TensorStorageMetadata(TensorProperties(dtype=dtype), end,
                                                         [chunk])
                else:
                    if len(end) != len(md.size) or dtype != md.properties.dtype:
                        raise ValueError(f"{header.path}: {fqn!r} disagrees with its other "
                                         "shards in rank or dtype")
                    md.chunks.append(chunk)
                    md.size = tuple(max(a, b) for a, b in zip(md.size, end))
                storage[MetadataIndex(fqn, offsets)] = header
        for md in entries.values():
            md.size = Size(md.size)
        return Metadata(entries, storage_data=storage,
                        storage_meta=StorageMeta(load_id=self.load_id))

    def set_up_storage_reader(self, metadata: Metadata, is_coordinator: bool,
                              *args: Any, **kwargs: Any) -> None:
        self.metadata = metadata
        self.storage_data = metadata.storage_data

    def read_data(self, plan: LoadPlan, planner: LoadPlanner) -> Future:
        for item in plan.items:
            header = self.storage_data.get(item.storage_index)
            if header is None:
                raise ValueError(f"{self.path} has no data for {item.storage_index}")
            dtype, shape, _, _ = header.tensors[item.storage_index.fqn]
            payload = header.read(item.storage_index.fqn)
            source = _make(np.frombuffer(payload, dtype=dtype.np_dtype).reshape(shape))
            source = narrow_tensor_by_index(source, item.storage_offsets, item.lengths)
            target = planner.resolve_tensor(item).detach()
            if tuple(target.shape) != tuple(item.lengths):
                raise ValueError(f"req {item.storage_index} mismatch sizes "
                                 f"{list(target.shape)} vs {list(item.lengths)}")
            target.copy_(source)
            planner.commit_tensor(item, target)
        return _done(None)
