"""``ember.utils``: ``data`` (datasets, samplers, DataLoader) and ``checkpoint`` (activation
checkpointing)."""
from ember.utils import checkpoint, data  # noqa: F401
