"""The passes behind ``ember.ao.quantization.quantize_fx``: fusion, observer insertion
(``prepare``) and conversion (``convert``), as ``torch.ao.quantization.fx``."""
from ember.ao.quantization.fx.convert import convert  # noqa: F401
from ember.ao.quantization.fx.fuse import fuse_graph_module  # noqa: F401
from ember.ao.quantization.fx.prepare import prepare  # noqa: F401
