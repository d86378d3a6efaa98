"""``ember.nn.intrinsic``: the older name of ``ember.ao.nn.intrinsic``."""
from ember.ao.nn.intrinsic import *  # noqa: F401,F403
from ember.ao.nn.intrinsic import __all__  # noqa: F401
from ember.nn.intrinsic import qat, quantized  # noqa: F401,E402
