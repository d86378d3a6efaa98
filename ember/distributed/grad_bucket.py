"""``GradBucket``: what a DDP communication hook receives (``torch.distributed.GradBucket``)."""
from __future__ import annotations

from ember._tensor import Tensor, _make

__all__ = ["GradBucket"]


class GradBucket:
    """One bucket of DistributedDataParallel's gradients: a flat buffer holding several
    parameters' gradients (NOTE [ DDP gradient buckets ]), handed to a communication hook
    registered with ``DistributedDataParallel.register_comm_hook``.

    The hook returns a Future whose value is the reduced flat tensor; DDP copies it into the
    parameters' ``.grad``. The buffer is not divided by the world size: the hook does that.
    """

    def __init__(self, index: int, buffer: Tensor, parameters: list, offsets: list,
                 is_last: bool) -> None:
        self._index = index
        self._buffer = buffer
        self._parameters = list(parameters)
        self._offsets = list(offsets)
        self._is_last = is_last

    def index(self) -> int:
        """The bucket's position; bucket 0 holds the gradients ready first."""
        return self._index

    def buffer(self) -> Tensor:
        """The flat 1-D tensor of the bucket's gradients."""
        return self._buffer

    def gradients(self) -> list:
        """The parameters' gradients, as views of ``buffer()`` shaped like each parameter."""
        data = self._buffer._data
        return [_make(data[start:start + p.numel()].reshape(p.shape))
                for start, p in zip(self._offsets, self._parameters)]

    def parameters(self) -> list:
        """The parameters whose gradients the bucket holds, in buffer order."""
        return list(self._parameters)

    def is_last(self) -> bool:
        """Whether this is the last bucket of the iteration to be reduced."""
        return self._is_last

    def set_buffer(self, buffer: Tensor) -> None:
        """Write ``buffer`` (same number of elements) into the bucket's flat buffer."""
        self._buffer._data[...] = buffer._data.reshape(self._buffer._data.shape)
        self._buffer._bump_version()
