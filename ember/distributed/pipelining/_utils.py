"""What the stages and schedules of ``ember.distributed.pipelining`` share: tensor metadata,
its error, and the placement of stages on ranks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ember
from ember._tensor import Tensor


class PipeliningMetadataError(RuntimeError):
    """The shapes or dtypes a stage was given or received disagree with what it computes."""


@dataclass(frozen=True)
class TensorMeta:
    """What a peer stage needs to allocate a receive buffer: shape, dtype, requires_grad."""

    shape: tuple
    dtype: Any
    requires_grad: bool

    @staticmethod
    def of(tensor: Tensor) -> "TensorMeta":
        return TensorMeta(tuple(tensor.shape), tensor.dtype, tensor.requires_grad)

    def empty(self, device: Any) -> Tensor:
        return ember.empty(self.shape, dtype=self.dtype, device=device)


def as_tensor_tuple(value: Any, what: str) -> tuple:
    """A stage's inputs or outputs as a tuple of tensors (a single tensor becomes a 1-tuple)."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    for v in values:
        if not isinstance(v, Tensor):
            raise PipeliningMetadataError(f"{what} must be tensors, got {type(v).__name__}")
    return tuple(values)


def generate_stage_to_rank_mapping(pp_size: int, num_stages: int) -> dict:
    """Stage ``i`` runs on group rank ``i % pp_size`` (the looped placement)."""
    return {stage: stage % pp_size for stage in range(num_stages)}
