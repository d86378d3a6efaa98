"""``ember.amp``: mixed precision (autocast op lists and dynamic loss scaling)."""
from ember.amp.autocast_mode import (  # noqa: F401
    autocast,
    custom_bwd,
    custom_fwd,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
)
from ember.amp.grad_scaler import GradScaler  # noqa: F401
