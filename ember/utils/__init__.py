"""``ember.utils``: ``data`` (datasets, samplers, DataLoader)."""
from ember.utils import data  # noqa: F401
