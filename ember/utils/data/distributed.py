"""DistributedSampler: each process of a distributed job reads its own shard of the dataset."""
from __future__ import annotations

import math
from typing import Iterator

from ember.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


def _world():
    try:
        import ember.distributed as dist
    except ImportError:
        dist = None
    if dist is None or not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("Requires distributed package to be available")
    return dist.get_world_size(), dist.get_rank()


class DistributedSampler(Sampler[int]):
    """Indices ``rank, rank + num_replicas, ...`` of a (shuffled) padded index list.

    Every replica gets ``ceil(len / num_replicas)`` indices (the list is padded by repeating
    its start), or ``floor`` with ``drop_last``. Call ``set_epoch`` each epoch so the shuffle
    changes while staying the same on all replicas.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            world, my_rank = _world()
            num_replicas = world if num_replicas is None else num_replicas
            rank = my_rank if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            from ember.random import Generator
            stream = Generator().manual_seed(self.seed + self.epoch).draws()
            indices = stream.permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that seeds this pass's shuffle (same on every replica)."""
        self.epoch = epoch
