"""``ember.amp``: mixed precision (autocast op lists and dynamic loss scaling)."""
from ember.amp.autocast_mode import (autocast, get_autocast_dtype,  # noqa: F401
                                     is_autocast_enabled)
from ember.amp.grad_scaler import GradScaler  # noqa: F401
