"""``ember.quantization``: the older name of ``ember.ao.quantization`` (as
``torch.quantization``)."""
from ember.ao.quantization import *  # noqa: F401,F403
from ember.ao.quantization import (  # noqa: F401
    __all__,  # noqa: F401
    fake_quantize,
    observer,
    qconfig,
    quantization_mappings,
    stubs,
)
