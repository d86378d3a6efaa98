"""``ember.distributed.optim``: ``ZeroRedundancyOptimizer`` and ``DistributedOptimizer``
(loaded on first use: it needs ``ember.distributed.rpc``)."""
from ember.distributed.optim.zero_redundancy_optimizer import ZeroRedundancyOptimizer

__all__ = ["DistributedOptimizer", "ZeroRedundancyOptimizer"]


def __getattr__(name: str):
    if name == "DistributedOptimizer":
        from ember.distributed.optim.optimizer import DistributedOptimizer
        return DistributedOptimizer
    raise AttributeError(f"module 'ember.distributed.optim' has no attribute '{name}'")
