"""``ember.nn.intrinsic.quantized``: the older name of ``ember.ao.nn.intrinsic.quantized``."""
from ember.ao.nn.intrinsic.quantized import *  # noqa: F401,F403
from ember.ao.nn.intrinsic.quantized import __all__  # noqa: F401
