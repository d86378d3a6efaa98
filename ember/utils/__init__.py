"""``ember.utils``: ``data`` (datasets, samplers, DataLoader), ``checkpoint`` (activation
checkpointing), ``hooks`` (RemovableHandle, an attribute after ``import torch`` as in PyTorch),
``deterministic`` (``fill_uninitialized_memory``) and ``swap_tensors``."""
from ember.utils import _pytree, checkpoint, data, deterministic, hooks  # noqa: F401
from ember.utils._swap import swap_tensors  # noqa: F401
