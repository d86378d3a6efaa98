"""``ember.nn.intrinsic.qat``: the older name of ``ember.ao.nn.intrinsic.qat``."""
from ember.ao.nn.intrinsic.qat import *  # noqa: F401,F403
from ember.ao.nn.intrinsic.qat import __all__  # noqa: F401
