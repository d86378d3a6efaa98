"""How a DTensor's global value lies over one dimension of its device mesh
(``torch.distributed.tensor.placement_types``): split into chunks (:class:`Shard`), copied whole
(:class:`Replicate`), or held as addends of a pending reduction (:class:`Partial`)."""
from __future__ import annotations

import dataclasses

# _StridedShard is private, as in PyTorch
__all__ = ["Partial", "Placement", "Replicate", "Shard"]


class Placement:
    """The base of the placement types: what a mesh dimension does to the global tensor."""

    def is_shard(self, dim: int | None = None) -> bool:
        """Whether this is a :class:`Shard` (of tensor dimension ``dim``, if given)."""
        return False

    def is_replicate(self) -> bool:
        return False

    def is_partial(self, reduce_op: str | None = None) -> bool:
        """Whether this is a :class:`Partial` (reducing with ``reduce_op``, if given)."""
        return False


@dataclasses.dataclass(frozen=True)
class Shard(Placement):
    """Tensor dimension ``dim`` is cut as ``torch.chunk`` cuts it, one chunk per rank of the
    mesh dimension in order (chunks of ``ceil(size / ranks)``, so the last ranks may hold a
    shorter or empty one).

    Example::

        >>> # 2 ranks: rank 0 holds rows 0-1 of a 4-row tensor, rank 1 rows 2-3
        >>> dt = distribute_tensor(ember.arange(8.).view(4, 2), mesh, [Shard(0)])
    """
    dim: int

    def is_shard(self, dim: int | None = None) -> bool:
        return dim is None or dim == self.dim

    @staticmethod
    def local_shard_size_and_offset(curr_local_size: int, num_chunks: int,
                                    rank: int) -> tuple[int, int]:
        """(size, offset) of rank ``rank``'s chunk when ``curr_local_size`` is cut into
        ``num_chunks`` as ``torch.chunk`` cuts it (an empty chunk starts at the end)."""
        step = -(-curr_local_size // num_chunks)
        start = min(rank * step, curr_local_size)
        return min(step, curr_local_size - start), start

    def __repr__(self) -> str:
        return f"Shard(dim={self.dim})"

    def __str__(self) -> str:
        return f"S({self.dim})"


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class _StridedShard(Placement):
    """Tensor dimension ``dim`` cut as if a later mesh dimension had cut it first into
    ``split_factor`` chunks (right-to-left sharding, as FSDP2 over tensor parallelism does):
    the dimension is split into ``split_factor`` chunks, each chunk into one piece per rank
    (``torch.chunk`` at both levels), and a rank holds its piece of every chunk, in order. As
    in PyTorch it is not a :class:`Shard` (``is_shard()`` is False).

    Example::

        >>> # 8 rows over mesh dims (dp=2, tp=2), placements [_StridedShard(0, split_factor=2),
        >>> # Shard(0)]: rank (0, 1) holds rows 4-5, rank (1, 0) rows 2-3
    """
    dim: int
    split_factor: int

    def __init__(self, dim: int, *, split_factor: int = 1, sf: int | None = None) -> None:
        if sf is not None:
            if split_factor != 1:
                raise TypeError("_StridedShard received both split_factor and sf")
            split_factor = sf
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "split_factor", int(split_factor))

    def __repr__(self) -> str:
        return f"_StridedShard(dim={self.dim}, sf={self.split_factor})"

    def __str__(self) -> str:
        return f"_S({self.dim}, {self.split_factor})"


@dataclasses.dataclass(frozen=True)
class Replicate(Placement):
    """Every rank of the mesh dimension holds the whole tensor."""

    def is_replicate(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "Replicate()"

    def __str__(self) -> str:
        return "R"


@dataclasses.dataclass(frozen=True)
class Partial(Placement):
    """Every rank of the mesh dimension holds a tensor of the global shape, and the global
    value is their reduction with ``reduce_op`` (``"sum"``, ``"avg"``, ``"product"``,
    ``"min"`` or ``"max"``), done when the DTensor is redistributed."""
    reduce_op: str = "sum"

    def is_partial(self, reduce_op: str | None = None) -> bool:
        return reduce_op is None or reduce_op == self.reduce_op

    def __repr__(self) -> str:
        return f"Partial({self.reduce_op})"

    def __str__(self) -> str:
        return f"P({self.reduce_op})"
