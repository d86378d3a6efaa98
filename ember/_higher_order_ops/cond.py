"""``torch._higher_order_ops.cond`` (also ``torch.cond``)."""
from ember.ops.api_gaps import cond

__all__ = ["cond"]
