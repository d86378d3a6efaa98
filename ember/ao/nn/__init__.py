"""``ember.ao.nn``: quantized, fused (intrinsic) and quantization-aware-training modules."""
from ember.ao.nn import intrinsic, qat, quantized  # noqa: F401
