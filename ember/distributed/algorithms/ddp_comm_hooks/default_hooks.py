"""The built-in DDP communication hooks: each takes ``(process_group, bucket)`` and returns a
Future of the bucket's reduced gradients, averaged over ``process_group`` (the world when
None).

Example::

    >>> from ember.distributed.algorithms.ddp_comm_hooks import default_hooks
    >>> ddp_model.register_comm_hook(None, default_hooks.bf16_compress_hook)
"""
from __future__ import annotations

from typing import Callable

import ember
from ember._tensor import Tensor
from ember.distributed import collectives
from ember.distributed.grad_bucket import GradBucket
from ember.distributed.process_group import ProcessGroup, default_group
from ember.distributed.work import Future

__all__ = ["allreduce_hook", "bf16_compress_hook", "bf16_compress_wrapper",
           "fp16_compress_hook", "fp16_compress_wrapper"]


def _group(process_group: ProcessGroup | None) -> ProcessGroup:
    return default_group("DDP communication hook") if process_group is None else process_group


def _average(process_group: ProcessGroup | None, tensor: Tensor) -> Future:
    """Divide ``tensor`` by the group size, then all-reduce it; a Future of ``tensor``."""
    group = _group(process_group)
    tensor.div_(group.size())
    work = collectives.all_reduce(tensor, group=group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    """Average the bucket over the group with one all-reduce (what DDP does without a hook)."""
    return _average(process_group, bucket.buffer())


def _cast_back(buffer: Tensor) -> Callable[[Future], Tensor]:
    """The ``then`` callback that copies a compressed result back into ``buffer``."""
    def decompress(fut: Future) -> Tensor:
        buffer.copy_(fut.value())
        return buffer
    return decompress


def fp16_compress_hook(process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    """Average the bucket in float16: cast it, divide by the group size, all-reduce, and cast
    the result back into the bucket (half the bytes of float32 on the wire)."""
    buffer = bucket.buffer()
    return _average(process_group, buffer.to(ember.float16)).then(_cast_back(buffer))


def bf16_compress_hook(process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    """Average the bucket in bfloat16: cast it, divide by the group size, all-reduce, and cast
    the result back into the bucket."""
    buffer = bucket.buffer()
    return _average(process_group, buffer.to(ember.bfloat16)).then(_cast_back(buffer))


def _compress_wrapper(hook: Callable, dtype) -> Callable:
    def wrapped(state, bucket: GradBucket) -> Future:
        buffer = bucket.buffer()
        inner = GradBucket(bucket.index(), buffer.to(dtype), bucket.parameters(),
                           bucket._offsets, bucket.is_last())
        return hook(state, inner).then(_cast_back(buffer))
    return wrapped


def fp16_compress_wrapper(hook: Callable) -> Callable:
    """Wrap ``hook`` so that it runs on the bucket cast to float16, and its result is cast
    back into the bucket."""
    return _compress_wrapper(hook, ember.float16)


def bf16_compress_wrapper(hook: Callable) -> Callable:
    """Wrap ``hook`` so that it runs on the bucket cast to bfloat16, and its result is cast
    back into the bucket."""
    return _compress_wrapper(hook, ember.bfloat16)
