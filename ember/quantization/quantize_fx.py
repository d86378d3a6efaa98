"""``ember.quantization.quantize_fx``: the older name of ``ember.ao.quantization.quantize_fx``
(as ``torch.quantization.quantize_fx``)."""
from ember.ao.quantization.quantize_fx import *  # noqa: F401,F403
from ember.ao.quantization.quantize_fx import __all__  # noqa: F401
