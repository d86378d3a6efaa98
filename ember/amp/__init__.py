"""``ember.amp``: mixed precision (autocast op lists and dynamic loss scaling)."""
from ember.amp.autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled  # noqa: F401
from ember.amp.grad_scaler import GradScaler  # noqa: F401
