"""Samplers: iterables of dataset indices (or of index lists, for ``BatchSampler``)."""
from __future__ import annotations

from typing import Generic, Iterable, Iterator, Sequence, Sized, TypeVar

import numpy as np

from ember._tensor import Tensor

T_co = TypeVar("T_co", covariant=True)

# How many indices a sampler drawing with replacement draws at a time (the same stream as
# drawing them all at once).
_CHUNK = 4096

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _stream(generator):
    """The stream of ``generator``, or of the default generator."""
    from ember.random import CPU, generator_for
    return generator_for(CPU, generator)


def _pass_stream(generator):
    """``generator``'s stream, or, as PyTorch's RandomSampler does each pass, that of a fresh
    generator seeded with a 63-bit draw from the default one."""
    if generator is not None:
        return generator.draws()
    from ember.random import Generator
    seed = int(_stream(None).integers(0, 2 ** 63, (), np.int64))
    return Generator().manual_seed(seed).draws()


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` (and ``__len__`` when known)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Random indices: a permutation (repeated to reach ``num_samples``) or, with
    ``replacement=True``, independent uniform draws.

    Args:
        data_source: the dataset to sample from.
        replacement: draw with replacement.
        num_samples: how many indices per pass (default ``len(data_source)``).
        generator: an ``ember.Generator`` (default: seeded from the global RNG each pass).
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got replacement="
                            f"{self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _pass_stream(self.generator)
        if self.replacement:
            # Drawn a chunk at a time: num_samples may be effectively endless (1e10 for an
            # "infinite" loader), so the draws are never materialised all at once.
            for start in range(0, self.num_samples, _CHUNK):
                count = min(_CHUNK, self.num_samples - start)
                yield from rng.integers(0, n, (count,), np.int64).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[:self.num_samples % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in random order, without replacement."""

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in _stream(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or \
                num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got replacement="
                             f"{replacement}")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        from ember._creation import as_tensor
        self.weights = as_tensor(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        from ember._creation import multinomial
        if not self.replacement or self.num_samples == 1:
            yield from multinomial(self.weights, self.num_samples, self.replacement,
                                   generator=self.generator).tolist()
            return
        # PyTorch draws all num_samples at once; drawn a chunk at a time (never a chunk of one,
        # which multinomial would draw another way) the stream is the same, and an "endless"
        # num_samples costs nothing up front
        left = self.num_samples
        while left:
            count = min(_CHUNK, left)
            count -= left - count == 1
            left -= count
            yield from multinomial(self.weights, count, True, generator=self.generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``).

    Example::

        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
