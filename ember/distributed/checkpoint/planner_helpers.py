"""The write and read items of one state-dict value (``torch.distributed.checkpoint
.planner_helpers``): a plain tensor is one chunk at offset zero, a DTensor is the chunk its
local shard covers, anything else one bytes item; reading intersects the chunks a rank needs
with the chunks the checkpoint holds, which is what lets a checkpoint load on another layout."""
from __future__ import annotations

import io
from typing import Any

from ember._tensor import Size, Tensor
from ember.distributed.checkpoint.metadata import (
    BytesStorageMetadata,
    ChunkStorageMetadata,
    MetadataIndex,
    TensorProperties,
    TensorStorageMetadata,
)
from ember.distributed.checkpoint.planner import (
    LoadItemType,
    ReadItem,
    TensorWriteData,
    WriteItem,
    WriteItemType,
)

__all__ = ["create_read_items_for_chunk_list", "local_chunk", "narrow_tensor_by_index"]


def is_dtensor(value: Any) -> bool:
    # imported here: ember.distributed loads its subpackages on first use
    from ember.distributed.tensor import DTensor
    return isinstance(value, DTensor)


def local_chunk(tensor: Tensor) -> ChunkStorageMetadata | None:
    """The block of the global tensor this rank holds: all of a plain tensor; for a DTensor
    its shard's global offsets and local sizes, None on a rank outside the DTensor's mesh."""
    if not is_dtensor(tensor):
        return ChunkStorageMetadata(Size((0,) * tensor.dim()), tensor.size())
    from ember.distributed.tensor import Shard
    from ember.distributed.tensor._utils import compute_local_shape_and_global_offset
    if tensor.device_mesh.get_coordinate() is None:
        return None
    for placement in tensor.placements:  # a block per rank: whole copies or torch.chunk pieces
        if not (placement.is_replicate() or type(placement) is Shard):
            raise NotImplementedError(f"checkpointing a DTensor placed as {placement}: "
                                      "redistribute it to Shard or Replicate placements first")
    sizes, offsets = compute_local_shape_and_global_offset(tensor.shape, tensor.device_mesh,
                                                           tensor.placements)
    return ChunkStorageMetadata(Size(offsets), Size(sizes))


def local_tensor(tensor: Tensor) -> Tensor:
    """The data this rank holds of ``tensor`` (a DTensor's local shard)."""
    return tensor.to_local() if is_dtensor(tensor) else tensor


def create_write_items(fqn: str, value: Any) -> list:
    """The write items of one flattened state-dict value."""
    if not isinstance(value, Tensor):
        return [WriteItem(index=MetadataIndex(fqn), type=WriteItemType.BYTE_IO)]
    chunk = local_chunk(value)
    if chunk is None:
        return []
    kind = WriteItemType.SHARD if is_dtensor(value) else WriteItemType.TENSOR
    properties = TensorProperties(dtype=value.dtype, requires_grad=value.requires_grad)
    return [WriteItem(index=MetadataIndex(fqn, chunk.offsets), type=kind,
                      tensor_data=TensorWriteData(chunk, properties, value.size()))]


def resolve_write_data(value: Any, item: WriteItem) -> Any:
    """What ``item`` writes: the local tensor, detached, or the value serialized by
    ``ember.save`` (read back by the restricted unpickler, see NOTE [ Checkpoint pickles ])."""
    if item.type == WriteItemType.BYTE_IO:
        from ember.serialization import save
        buffer = io.BytesIO()
        save(value, buffer)
        buffer.seek(0)
        return buffer
    return local_tensor(value).detach()


def create_read_items_for_chunk_list(fqn: str, checkpoint_md: TensorStorageMetadata,
                                     local_chunks: list) -> list:
    """One read item per overlap of a chunk this rank needs with a saved chunk."""
    items = []
    for dest_index, dest in enumerate(local_chunks):
        for storage_index, saved in enumerate(checkpoint_md.chunks):
            box = _overlap(dest, saved)
            if box is None:
                continue
            starts, lengths = box
            items.append(ReadItem(
                type=LoadItemType.TENSOR,
                dest_index=MetadataIndex(fqn, dest.offsets, dest_index),
                dest_offsets=tuple(s - o for s, o in zip(starts, dest.offsets)),
                storage_index=MetadataIndex(fqn, saved.offsets, storage_index),
                storage_offsets=tuple(s - o for s, o in zip(starts, saved.offsets)),
                lengths=lengths))
    return items


def _overlap(a: ChunkStorageMetadata, b: ChunkStorageMetadata):
    starts, lengths = [], []
    for a_off, a_size, b_off, b_size in zip(a.offsets, a.sizes, b.offsets, b.sizes):
        start, stop = max(a_off, b_off), min(a_off + a_size, b_off + b_size)
        if stop <= start:
            return None
        starts.append(start)
        lengths.append(stop - start)
    return tuple(starts), tuple(lengths)


def create_read_items(fqn: str, md: Any, value: Any) -> list:
    """The read items that fill the state-dict value ``value`` from the saved ``md``."""
    if isinstance(md, BytesStorageMetadata):
        return [ReadItem(type=LoadItemType.BYTE_IO, dest_index=MetadataIndex(fqn),
                         dest_offsets=(0,), storage_index=MetadataIndex(fqn),
                         storage_offsets=(0,), lengths=(0,))]
    if not isinstance(value, Tensor):
        raise ValueError(f"Invalid checkpoint metadata for {fqn}, expected "
                         "BytesStorageMetadata but found TensorStorageMetadata")
    chunk = local_chunk(value)
    return [] if chunk is None else create_read_items_for_chunk_list(fqn, md, [chunk])


def narrow_tensor_by_index(tensor: Tensor, offsets: tuple, sizes: tuple) -> Tensor:
    """The view of ``tensor`` of sizes ``sizes`` starting at ``offsets``."""
    for dim, (offset, size) in enumerate(zip(offsets, sizes)):
        if offset != 0 or size != tensor.shape[dim]:
            tensor = tensor.narrow(dim, offset, size)
    return tensor
