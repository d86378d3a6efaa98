"""``ember.nn.quantized``: the older name of ``ember.ao.nn.quantized``."""
from ember.ao.nn.quantized import *  # noqa: F401,F403
from ember.ao.nn.quantized import __all__, functional  # noqa: F401
from ember.nn.quantized import dynamic  # noqa: F401,E402
