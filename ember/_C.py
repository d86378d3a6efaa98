"""``torch._C``'s Python-visible switches that user code reaches for: the ``__torch_function__``
ones (see ember/overrides.py). ember has no C extension; this module only names them."""
from ember import overrides as _overrides
from ember.overrides import (  # noqa: F401
                             DisableTorchFunction,
                             DisableTorchFunctionSubclass,
                             _disabled_torch_function_impl,
                             _get_current_function_mode,
                             _get_current_function_mode_stack,
                             _is_torch_function_enabled,
                             _is_torch_function_mode_enabled,
                             _len_torch_function_stack,
)

_pop_torch_function_stack = _overrides._pop_mode
_push_on_torch_function_stack = _overrides._push_mode
