"""``torch.distributed._composable.fsdp``: FSDP2 under its older import path, re-exporting
``ember.distributed.fsdp``'s ``fully_shard`` and its policies."""
from ember.distributed.fsdp import (
    CPUOffloadPolicy,
    FSDPModule,
    MixedPrecisionPolicy,
    OffloadPolicy,
    fully_shard,
    register_fsdp_forward_method,
)

__all__ = ["CPUOffloadPolicy", "FSDPModule", "MixedPrecisionPolicy", "OffloadPolicy",
           "fully_shard", "register_fsdp_forward_method"]
