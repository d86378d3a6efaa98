"""``torch.fx.experimental.proxy_tensor``: the dispatch mode ``make_fx`` traces under."""
from __future__ import annotations


def get_proxy_mode() -> None:
    """The active ``make_fx`` tracing mode, ``None`` outside one. ember's FX traces with
    ``symbolic_trace`` (Proxy objects, no dispatch mode), so none is ever active."""
    return None
