"""Layout arithmetic of ``torch.distributed.tensor._utils``: which part of a global tensor a
rank of a mesh holds, without communication."""
from __future__ import annotations

from collections.abc import Sequence

from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.tensor.placement_types import Placement, Shard, _StridedShard

__all__ = ["compute_local_shape_and_global_offset"]


def is_sharding(placement: Placement) -> bool:
    """Whether ``placement`` cuts a tensor dimension: a :class:`Shard` or a
    :class:`_StridedShard` (which PyTorch does not count as a Shard)."""
    return isinstance(placement, (Shard, _StridedShard))


def _chunk(size: int, parts: int, index: int) -> tuple[int, int]:
    """(start, stop) of chunk ``index`` when ``torch.chunk`` cuts ``size`` into ``parts``
    (chunks of ``ceil(size / parts)``; the last ones may be short or empty)."""
    step = -(-size // parts) if parts else 0
    start = min(index * step, size)
    return start, min(start + step, size)


def shard_indices(placement: Shard | _StridedShard, size: int, ranks: int, index: int) -> list[int]:
    """The positions, among ``size`` along ``placement.dim``, that rank ``index`` of a mesh
    dimension of ``ranks`` keeps: one ``torch.chunk`` piece for :class:`Shard`, its piece of
    each of ``split_factor`` chunks for :class:`_StridedShard`."""
    if not isinstance(placement, _StridedShard):
        return list(range(*_chunk(size, ranks, index)))
    kept = []
    for part in range(placement.split_factor):
        lo, hi = _chunk(size, placement.split_factor, part)
        start, stop = _chunk(hi - lo, ranks, index)
        kept.extend(range(lo + start, lo + stop))
    return kept


def compute_local_shape_and_global_offset(global_shape: Sequence[int], mesh: DeviceMesh,
                                          placements: Sequence[Placement],
                                          skip_offset: bool = False) -> tuple[tuple, tuple]:
    """The shape of this rank's local tensor of a DTensor of ``global_shape`` laid out by
    ``placements`` over ``mesh`` (uneven shards as ``torch.chunk`` cuts them, no padding),
    and the global index where it starts in each dimension (the global size of a dimension
    where the shard is empty). A rank outside the mesh gets ``((0,), ())``; ``skip_offset``
    gives ``()`` for the offset.

    Example::

        >>> # 2 ranks, a (5, 4) tensor as [Shard(0)]: rank 0 -> ((3, 4), (0, 0)),
        >>> # rank 1 -> ((2, 4), (3, 0))
        >>> compute_local_shape_and_global_offset((5, 4), mesh, [Shard(0)])
    """
    coordinate = mesh.get_coordinate()
    if coordinate is None:
        return (0,), ()
    local_shape = list(global_shape)
    kept: dict = {}  # tensor dim -> the global positions this rank keeps, in order
    for mesh_dim, placement in enumerate(placements):
        if not is_sharding(placement):
            continue
        dim = placement.dim
        current = kept.get(dim, range(global_shape[dim]))
        picked = shard_indices(placement, len(current), mesh.size(mesh_dim), coordinate[mesh_dim])
        kept[dim] = [current[i] for i in picked]
        local_shape[dim] = len(picked)
    if skip_offset:
        return tuple(local_shape), ()
    offset = [0] * len(global_shape)
    for dim, positions in kept.items():
        offset[dim] = positions[0] if positions else global_shape[dim]
    return tuple(local_shape), tuple(offset)
