"""ShardedGradScaler (``torch.distributed.fsdp.sharded_grad_scaler``): GradScaler for FSDP,
where each rank holds only a shard of each gradient, so an overflow one rank sees must make
every rank skip the step: the per-optimizer inf/NaN flag is all-reduced over the process
group before ``step`` reads it."""
from __future__ import annotations

import ember
import ember.distributed as dist
from ember.amp.grad_scaler import GradScaler

__all__ = ["ShardedGradScaler"]


class ShardedGradScaler(GradScaler):
    """GradScaler whose ``unscale_`` agrees on overflow across ``process_group`` (the default
    group when None).

    Example::

        scaler = ShardedGradScaler()
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # skipped on every rank if any rank's shard overflowed
        scaler.update()
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 backoff_factor: float = 0.5, growth_factor: float = 2.0,
                 growth_interval: int = 2000, enabled: bool = True,
                 process_group=None) -> None:
        super().__init__(device, init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
        self.process_group = process_group

    def unscale_(self, optimizer) -> None:
        super().unscale_(optimizer)
        if not self._enabled or not dist.is_initialized():
            return
        key = id(optimizer)
        found = ember.tensor([float(self._found_inf_per_opt[key])])
        dist.all_reduce(found, group=self.process_group)
        self._found_inf_per_opt[key] = bool(found.item() > 0)
