"""``torch._higher_order_ops.while_loop`` (also ``torch.while_loop``)."""
from ember.ops.api_gaps import while_loop

__all__ = ["while_loop"]
