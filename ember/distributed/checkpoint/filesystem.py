"""A checkpoint as a directory of files (``torch.distributed.checkpoint.filesystem``).

NOTE [ ember's DCP files ]
Each rank writes its items to ``__{rank}_{n}.distcp`` files: a tensor chunk as its raw
little-endian C-order bytes, any other value serialized by ``ember.save``. The coordinator
then writes ``.metadata``, JSON (NOTE [ DCP metadata as JSON ]): the tensors' sizes, dtypes and
chunks, and for each item its file, byte range and CRC-32. Every file is written to a
temporary name, flushed to disk and renamed, and ``.metadata`` comes last, so an interrupted
save never leaves a checkpoint that looks complete. Reading checks the metadata, file names
(plain names inside the directory), byte ranges against the files' sizes and every item's
CRC-32, and reads values back with the restricted unpickler of ``ember.load(weights_only=True)``,
so a corrupt, truncated or hostile checkpoint raises an error and runs no code. Checkpoints
that PyTorch writes (pickled metadata, ``torch.save`` items) are read too, see NOTE [ Reading
PyTorch's DCP metadata ] in _torch_metadata.py.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import uuid
import zlib
from typing import Any

import numpy as np

from ember._tensor import Tensor, _make
from ember.backend.device import CPU, to_device
from ember.distributed.checkpoint._torch_metadata import torch_metadata_to_json
from ember.distributed.checkpoint.metadata import (
    Metadata,
    MetadataIndex,
    StorageMeta,
    TensorStorageMetadata,
    metadata_from_json,
    metadata_to_json,
)
from ember.distributed.checkpoint.planner import (
    LoadItemType,
    LoadPlan,
    LoadPlanner,
    SavePlan,
    SavePlanner,
    WriteItemType,
)
from ember.distributed.checkpoint.planner_helpers import narrow_tensor_by_index
from ember.distributed.checkpoint.storage import StorageReader, StorageWriter, WriteResult
from ember.futures import Future
from ember.serialization import atomic_write, load

__all__ = ["FileSystemReader", "FileSystemWriter"]

_METADATA_FN = ".metadata"
DEFAULT_SUFFIX = ".distcp"
_MAX_METADATA_BYTES = 1 << 30


@dataclasses.dataclass
class _StorageInfo:
    """Where an item lies: ``length`` bytes at ``offset`` of ``relative_path``, and their
    CRC-32 (None in PyTorch's checkpoints)."""
    relative_path: str
    offset: int
    length: int
    crc32: int | None = None


@dataclasses.dataclass
class _StoragePrefix:
    prefix: str


def _done(value: Any) -> Future:
    future = Future()
    future.set_result(value)
    return future


def tensor_bytes(tensor: Tensor) -> memoryview:
    """The tensor's elements as raw C-order bytes on the host."""
    array = np.ascontiguousarray(to_device(tensor._data, CPU))
    return memoryview(array.reshape(-1).view(np.uint8))


class FileSystemWriter(StorageWriter):
    """Writes a checkpoint into the directory ``path`` (NOTE [ ember's DCP files ]).

    Args:
        path: the checkpoint directory (created if missing).
        single_file_per_rank: one file per rank (True) or one per item.
        sync_files: flush every file to disk before renaming it into place.
        overwrite: allow replacing a checkpoint already in ``path``.
        thread_count, per_thread_copy_ahead, cache_staged_state_dict: accepted for
            PyTorch's signature; ember writes from the calling thread.
    """

    def __init__(self, path: str | os.PathLike, single_file_per_rank: bool = True,
                 sync_files: bool = True, thread_count: int = 1,
                 per_thread_copy_ahead: int = 10_000_000, cache_staged_state_dict: bool = False,
                 overwrite: bool = True, _extensions: Any = None,
                 serialization_format: Any = None) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.single_file_per_rank = single_file_per_rank
        self.sync_files = sync_files
        self.thread_count = thread_count
        self.overwrite = overwrite
        self.save_id = str(uuid.uuid4())
        self.rank: int | None = None

    def reset(self, checkpoint_id: str | os.PathLike | None = None) -> None:
        if checkpoint_id:
            self.path = os.fspath(checkpoint_id)
        self.save_id = str(uuid.uuid4())

    def set_up_storage_writer(self, is_coordinator: bool, *args: Any, **kwargs: Any) -> None:
        self.rank = kwargs.get("rank")
        self.is_coordinator = is_coordinator
        if is_coordinator and not self.overwrite and os.path.exists(self.metadata_file):
            raise RuntimeError(f"Checkpoint already exists at {self.path} and overwrite=False")

    @property
    def metadata_file(self) -> str:
        return os.path.join(self.path, _METADATA_FN)

    def prepare_local_plan(self, plan: SavePlan) -> SavePlan:
        os.makedirs(self.path, exist_ok=True)
        return plan

    def prepare_global_plan(self, plans: list) -> list:
        return [dataclasses.replace(plan, storage_data=_StoragePrefix(f"__{i}_"))
                for i, plan in enumerate(plans)]

    def write_data(self, plan: SavePlan, planner: SavePlanner) -> Future:
        prefix = plan.storage_data.prefix
        if self.single_file_per_rank:
            files = [plan.items] if plan.items else []
        else:
            files = [[item] for item in plan.items]
        results = []
        for n, items in enumerate(files):
            name = f"{prefix}{n}{DEFAULT_SUFFIX}"
            results.extend(self._write_file(name, items, planner))
        return _done(results)

    def _write_file(self, name: str, items: list, planner: SavePlanner) -> list:
        results, offset = [], 0
        with atomic_write(os.path.join(self.path, name)) as fp:
            for item in items:
                data = planner.resolve_data(item)
                if item.type == WriteItemType.BYTE_IO:
                    payload = memoryview(data.getbuffer())
                else:
                    payload = tensor_bytes(data)
                fp.write(payload)
                info = _StorageInfo(name, offset, payload.nbytes, zlib.crc32(payload))
                results.append(WriteResult(item.index, payload.nbytes, info))
                offset += payload.nbytes
        return results

    def finish(self, metadata: Metadata, results: list) -> None:
        entries = []
        for result in (r for rank_results in results for r in rank_results):
            info = result.storage_data
            offsets = None if result.index.offset is None else list(result.index.offset)
            entries.append({"fqn": result.index.fqn, "chunk": offsets,
                            "file": info.relative_path, "start": info.offset,
                            "length": info.length, "crc32": info.crc32})
        metadata = dataclasses.replace(metadata, storage_data=entries,
                                       storage_meta=self.storage_meta())
        text = json.dumps(metadata_to_json(metadata), separators=(",", ":")).encode()
        with atomic_write(self.metadata_file) as fp:
            fp.write(text)

    def storage_meta(self) -> StorageMeta | None:
        return StorageMeta(checkpoint_id=self.path, save_id=self.save_id)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool:
        return "://" not in os.fspath(checkpoint_id)


class FileSystemReader(StorageReader):
    """Reads a checkpoint that ``FileSystemWriter`` wrote into the directory ``path``, checking
    everything it reads (NOTE [ ember's DCP files ])."""

    def __init__(self, path: str | os.PathLike, _extension_registry: Any = None) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.storage_data: dict = {}
        self.load_id = str(uuid.uuid4())
        self.torch_save_items = False

    def reset(self, checkpoint_id: str | os.PathLike | None = None) -> None:
        self.storage_data = {}
        if checkpoint_id:
            self.path = os.fspath(checkpoint_id)
        self.load_id = str(uuid.uuid4())

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        where = os.path.join(self.path, _METADATA_FN)
        with open(where, "rb") as fp:
            text = fp.read(_MAX_METADATA_BYTES + 1)
        if len(text) > _MAX_METADATA_BYTES:
            raise ValueError(f"{where}: metadata larger than {_MAX_METADATA_BYTES} bytes")
        if text[:1] == b"\x80":  # PyTorch's pickle: NOTE [ Reading PyTorch's DCP metadata ]
            value = torch_metadata_to_json(text, where)
        else:
            try:
                value = json.loads(text)
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"corrupt distributed checkpoint metadata in {where}: "
                                 f"{e}") from None
        self.torch_save_items = isinstance(value, dict) and value.get("item_format") == \
            "torch_save"
        metadata = metadata_from_json(value, where)
        metadata.storage_data = _storage_index(metadata.storage_data, where)
        if metadata.storage_meta is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata

    def set_up_storage_reader(self, metadata: Metadata, is_coordinator: bool,
                              *args: Any, **kwargs: Any) -> None:
        self.metadata = metadata
        self.storage_data = metadata.storage_data

    def prepare_local_plan(self, plan: LoadPlan) -> LoadPlan:
        return plan

    def prepare_global_plan(self, plans: list) -> list:
        return plans

    def read_data(self, plan: LoadPlan, planner: LoadPlanner) -> Future:
        by_file: dict = {}
        for item in plan.items:
            info = self.storage_data.get(item.storage_index)
            if info is None:
                raise ValueError(f"checkpoint {self.path} has no data for {item.storage_index}")
            by_file.setdefault(info.relative_path, []).append((item, info))
        for name, reads in by_file.items():
            where = os.path.join(self.path, name)
            with open(where, "rb") as fp:
                file_size = os.fstat(fp.fileno()).st_size
                for item, info in reads:
                    if info.offset + info.length > file_size:
                        raise ValueError(f"{where} is truncated: {item.storage_index.fqn} needs "
                                         f"bytes {info.offset}-{info.offset + info.length}, "
                                         f"the file has {file_size}")
                    fp.seek(info.offset)
                    payload = fp.read(info.length)
                    if info.crc32 is not None and zlib.crc32(payload) != info.crc32:
                        raise ValueError(f"{where} is corrupt: the bytes of "
                                         f"{item.storage_index.fqn} fail their CRC-32 check")
                    self._deliver(item, payload, planner, where)
        return _done(None)

    def _deliver(self, item, payload: bytes, planner: LoadPlanner, where: str) -> None:
        if item.type == LoadItemType.BYTE_IO:
            planner.load_bytes(item, io.BytesIO(payload))
            return
        source = self._chunk_tensor(item.storage_index, payload, where)
        source = narrow_tensor_by_index(source, item.storage_offsets, item.lengths)
        target = planner.resolve_tensor(item).detach()
        if tuple(target.shape) != tuple(item.lengths):
            raise ValueError(f"read item {item.storage_index} has sizes {list(item.lengths)}, "
                             f"its destination {list(target.shape)}")
        target.copy_(source)
        planner.commit_tensor(item, target)

    def _chunk_tensor(self, index: MetadataIndex, payload: bytes, where: str) -> Tensor:
        md = self.metadata.state_dict_metadata.get(index.fqn)
        if not isinstance(md, TensorStorageMetadata):
            raise ValueError(f"{where}: {index.fqn} is not a tensor in the metadata")
        sizes = next((c.sizes for c in md.chunks if tuple(c.offsets) == index.offset), None)
        if sizes is None:
            raise ValueError(f"{where}: {index.fqn} has no chunk at {list(index.offset)}")
        dtype = md.properties.dtype
        if self.torch_save_items:  # a torch.save archive, read by the restricted unpickler
            tensor = load(io.BytesIO(payload), weights_only=True)
            if not isinstance(tensor, Tensor) or tuple(tensor.shape) != tuple(sizes):
                raise ValueError(f"{where}: {index.fqn} does not hold a tensor of sizes "
                                 f"{list(sizes)}")
            return tensor
        numel = 1
        for size in sizes:
            numel *= size
        if len(payload) != numel * dtype.itemsize:
            raise ValueError(f"{where}: {index.fqn} holds {len(payload)} bytes, its chunk of "
                             f"{list(sizes)} {dtype} needs {numel * dtype.itemsize}")
        array = np.frombuffer(payload, dtype=dtype.np_dtype).reshape(tuple(sizes))
        return _make(array)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool:
        return "://" not in os.fspath(checkpoint_id)


def _storage_index(entries: Any, where: str) -> dict:
    """The metadata's item locations, each checked: a plain file name in the checkpoint
    directory and a sane byte range."""
    if not isinstance(entries, list):
        raise ValueError(f"corrupt distributed checkpoint metadata in {where}: no item table")
    out = {}
    for entry in entries:
        ok = (isinstance(entry, dict) and isinstance(entry.get("fqn"), str)
              and isinstance(entry.get("file"), str)
              and os.path.basename(entry["file"]) == entry["file"]
              and entry["file"] not in ("", ".", "..")
              and all(type(entry.get(k)) is int and entry[k] >= 0 for k in ("start", "length"))
              and (entry.get("crc32") is None or type(entry["crc32"]) is int)
              and (entry.get("chunk") is None or isinstance(entry["chunk"], list) and all(
                  type(v) is int for v in entry["chunk"])))
        if not ok:
            raise ValueError(f"corrupt distributed checkpoint metadata in {where}: bad item "
                             f"entry {str(entry)[:200]}")
        index = MetadataIndex(entry["fqn"], entry["chunk"])
        out[index] = _StorageInfo(entry["file"], entry["start"], entry["length"], entry["crc32"])
    return out
