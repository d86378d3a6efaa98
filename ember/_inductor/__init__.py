"""``torch._inductor``: ember compiles nothing (``ember.compile`` returns the eager function);
the package exists so that code configuring the compiler before calling it imports."""
from ember._inductor import config, utils

__all__ = ["config", "utils"]
