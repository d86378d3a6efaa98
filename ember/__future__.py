"""``torch.__future__``: switches for behaviour PyTorch means to change in a later release.

Both concern what ``nn.Module`` conversions (``to``, ``cuda``, ``float``, ``_apply``) do to
existing parameters: *overwrite* assigns new Parameter objects instead of changing
``param.data`` in place, and *swap* exchanges the old and new tensors' contents with
``ember.utils.swap_tensors`` (and makes ``load_state_dict`` go through
``Tensor.module_load``), so that references held elsewhere see the converted tensors."""

_overwrite_module_params_on_conversion: bool = False
_swap_module_params_on_conversion: bool = False


def set_overwrite_module_params_on_conversion(value: bool) -> None:
    """Whether module conversions assign new parameters rather than setting ``.data``."""
    global _overwrite_module_params_on_conversion
    _overwrite_module_params_on_conversion = value


def get_overwrite_module_params_on_conversion() -> bool:
    return _overwrite_module_params_on_conversion


def set_swap_module_params_on_conversion(value: bool) -> None:
    """Whether module conversions (and ``load_state_dict``) swap parameters' contents with
    ``ember.utils.swap_tensors``; takes precedence over the overwrite switch."""
    global _swap_module_params_on_conversion
    _swap_module_params_on_conversion = value


def get_swap_module_params_on_conversion() -> bool:
    return _swap_module_params_on_conversion
