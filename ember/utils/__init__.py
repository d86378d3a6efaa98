"""``ember.utils``: ``data`` (datasets, samplers, DataLoader), ``checkpoint`` (activation
checkpointing) and ``swap_tensors``."""
from ember.utils import _pytree, checkpoint, data  # noqa: F401
from ember.utils._swap import swap_tensors  # noqa: F401
