"""``ember.ao``: architecture optimization, here quantization (``ember.ao.quantization``,
``ember.ao.nn``), as ``torch.ao``."""
from ember.ao import nn, quantization  # noqa: F401
