"""``torch.distributed.tensor.parallel``: tensor parallelism by module. ``parallelize_module``
applies a plan of ``ParallelStyle``s to submodules: each turns the parameters into DTensors
(``ColwiseParallel``: linear weights ``Shard(0)``, ``RowwiseParallel``: ``Shard(1)``, ...) and
registers forward hooks that lay the module's inputs and outputs out as the style asks."""
from ember.distributed.tensor.parallel.api import parallelize_module
from ember.distributed.tensor.parallel.loss import loss_parallel
from ember.distributed.tensor.parallel.style import (
    ColwiseParallel,
    ParallelStyle,
    PrepareModuleInput,
    PrepareModuleInputOutput,
    PrepareModuleOutput,
    RowwiseParallel,
    SequenceParallel,
)

__all__ = ["ColwiseParallel", "ParallelStyle", "PrepareModuleInput", "PrepareModuleInputOutput",
           "PrepareModuleOutput", "RowwiseParallel", "SequenceParallel", "parallelize_module",
           "loss_parallel"]
