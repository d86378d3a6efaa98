"""``ember.backends``: the backend switches PyTorch code reads (cudnn, cuda, mps, ...)."""
from __future__ import annotations

import contextlib

# Real submodules, so that ``import torch.backends.cudnn as cudnn`` works as in PyTorch.
from ember.backends import cuda, cudnn, mkldnn, mps, openmp, opt_einsum, quantized  # noqa: F401

# Whether code may assign the flags outside their ``flags()`` blocks. PyTorch's test utilities
# freeze them; ember's flags are plain module attributes, so freezing is recorded, not enforced.
_allow_nonbracketed_mutation_flag = True


def disable_global_flags() -> None:
    """Mark the backend flags as settable only through their ``flags()`` context managers."""
    global _allow_nonbracketed_mutation_flag
    _allow_nonbracketed_mutation_flag = False


def flags_frozen() -> bool:
    """Whether :func:`disable_global_flags` froze the backend flags."""
    return not _allow_nonbracketed_mutation_flag


@contextlib.contextmanager
def __allow_nonbracketed_mutation():  # noqa: N807 - PyTorch's (private) name, used by libraries
    """Within the block the flags may be assigned directly, even when frozen."""
    global _allow_nonbracketed_mutation_flag
    previous = _allow_nonbracketed_mutation_flag
    _allow_nonbracketed_mutation_flag = True
    try:
        yield
    finally:
        _allow_nonbracketed_mutation_flag = previous
