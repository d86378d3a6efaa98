"""``torch.distributed.nn``: collectives that autograd differentiates (``functional``), also
reachable as ``ember.distributed.nn.all_gather`` and so on, as in PyTorch; and
``RemoteModule``."""
from ember.distributed.nn.api.remote_module import RemoteModule
from ember.distributed.nn.functional import (
    all_gather,
    all_reduce,
    all_to_all,
    all_to_all_single,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    scatter,
)

__all__ = ["RemoteModule", "all_gather", "all_reduce", "all_to_all", "all_to_all_single",
           "broadcast", "gather", "reduce", "reduce_scatter", "scatter"]
