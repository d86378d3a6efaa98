"""``ember.distributed.optim``: ``ZeroRedundancyOptimizer``."""
from ember.distributed.optim.zero_redundancy_optimizer import ZeroRedundancyOptimizer

__all__ = ["ZeroRedundancyOptimizer"]
