"""The one seam between CPU and GPU: everything that names numpy or cupy lives here."""
from ember.backend.device import Device, array_device, get_array_module, to_device

__all__ = ["Device", "array_device", "get_array_module", "to_device"]
