"""``ember.signal``: signal processing (``ember.signal.windows``), as ``torch.signal``."""
from ember.signal import windows  # noqa: F401
