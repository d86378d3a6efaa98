"""Auto-wrap policies and manual wrapping, as ``torch.distributed.fsdp.wrap``'s.

A policy is called as ``policy(module=, recurse=, nonwrapped_numel=)``: with ``recurse=True``
it says whether to look inside ``module`` for units; with ``recurse=False`` whether to make
``module`` a unit, ``nonwrapped_numel`` being the number of its parameters no unit below it
took. Children are wrapped before their parents, so a unit never holds a nested unit's
parameters.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

from ember import nn
from ember.nn.modules.module import Module

__all__ = ["ModuleWrapPolicy", "always_wrap_policy", "enable_wrap", "lambda_auto_wrap_policy",
           "size_based_auto_wrap_policy", "transformer_auto_wrap_policy", "wrap"]


def always_wrap_policy(*args: Any, **kwargs: Any) -> bool:
    """Make every module a unit."""
    return True


def lambda_auto_wrap_policy(module: Module, recurse: bool, nonwrapped_numel: int,
                            lambda_fn: Callable[[Module], bool]) -> bool:
    """Make a unit of each module for which ``lambda_fn(module)`` is true."""
    return True if recurse else bool(lambda_fn(module))


def transformer_auto_wrap_policy(module: Module, recurse: bool, nonwrapped_numel: int,
                                 transformer_layer_cls: set) -> bool:
    """Make a unit of each instance of ``transformer_layer_cls`` (e.g. the decoder layer)."""
    return True if recurse else isinstance(module, tuple(transformer_layer_cls))


def size_based_auto_wrap_policy(module: Module, recurse: bool, nonwrapped_numel: int,
                                min_num_params: int = int(1e8),
                                force_leaf_modules: set | None = None,
                                exclude_wrap_modules: set | None = None) -> bool:
    """Make a unit of each module whose not-yet-wrapped parameters number at least
    ``min_num_params``; look for units only inside modules that large, never inside
    ``force_leaf_modules`` (default MultiheadAttention), and never wrap
    ``exclude_wrap_modules`` (default ModuleList, ModuleDict).

    Example::

        >>> policy = functools.partial(size_based_auto_wrap_policy, min_num_params=10_000)
        >>> model = FSDP(model, auto_wrap_policy=policy)
    """
    if force_leaf_modules is None:
        force_leaf_modules = {nn.MultiheadAttention}
    if exclude_wrap_modules is None:
        exclude_wrap_modules = {nn.ModuleList, nn.ModuleDict}
    large = nonwrapped_numel >= min_num_params
    if recurse:
        return large and not isinstance(module, tuple(force_leaf_modules))
    return large and not isinstance(module, tuple(exclude_wrap_modules))


class ModuleWrapPolicy:
    """Make a unit of each instance of ``module_classes``.

    Example::

        >>> FSDP(model, auto_wrap_policy=ModuleWrapPolicy({nn.TransformerEncoderLayer}))
    """

    def __init__(self, module_classes: Iterable[type]) -> None:
        self._module_classes = tuple(set(module_classes))

    def __call__(self, module: Module, recurse: bool, *args: Any, **kwargs: Any) -> bool:
        return True if recurse else isinstance(module, self._module_classes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({set(self._module_classes)})"


def _numel(module: Module, ignored: set, unit_cls: type) -> int:
    """Parameters of ``module`` that no unit below it holds and no ignored module owns."""
    if module in ignored or isinstance(module, unit_cls):
        return 0
    own = sum(p.numel() for p in module._parameters.values() if p is not None)
    return own + sum(_numel(c, ignored, unit_cls) for c in module.children())


def auto_wrap(module: Module, policy: Callable, wrap: Callable[[Module], Module],
              unit_cls: type, ignored: set) -> bool:
    """Replace ``module``'s descendants in place by ``wrap(descendant)`` where ``policy`` says
    (``unit_cls``: the class of what ``wrap`` makes; such modules are units already); whether
    the policy let it look inside ``module`` (only then may ``module`` itself become a unit,
    which the caller decides: FSDP wraps the root anyway)."""
    if not policy(module=module, recurse=True,
                  nonwrapped_numel=_numel(module, ignored, unit_cls)):
        return False
    for name, child in list(module.named_children()):
        if child in ignored or isinstance(child, unit_cls):
            continue
        if auto_wrap(child, policy, wrap, unit_cls, ignored) and policy(
                module=child, recurse=False, nonwrapped_numel=_numel(child, ignored, unit_cls)):
            setattr(module, name, wrap(child))
    return True


class _WrapContext:
    """The wrapper class and arguments ``wrap`` uses inside ``enable_wrap``."""

    wrapper_cls: type | None = None
    kwargs: dict = {}


@contextlib.contextmanager
def enable_wrap(*, wrapper_cls: Any, **wrapper_kwargs: Any):
    """Inside, ``wrap(module)`` returns ``wrapper_cls(module, **wrapper_kwargs)``.

    Example::

        >>> with enable_wrap(wrapper_cls=FSDP, sharding_strategy=ShardingStrategy.NO_SHARD):
        ...     layer = wrap(nn.Linear(8, 8))
    """
    if _WrapContext.wrapper_cls is not None:
        raise NotImplementedError("You are already within an enable_wrap context and we "
                                  "currently do not support nested wrapping")
    _WrapContext.wrapper_cls, _WrapContext.kwargs = wrapper_cls, dict(wrapper_kwargs)
    try:
        yield
    finally:
        _WrapContext.wrapper_cls, _WrapContext.kwargs = None, {}


def wrap(module: Module, **wrap_overrides: Any) -> Module:
    """``module`` wrapped with ``enable_wrap``'s class and arguments (``wrap_overrides`` take
    precedence); outside ``enable_wrap``, ``module`` unchanged."""
    if _WrapContext.wrapper_cls is None:
        return module
    return _WrapContext.wrapper_cls(module, **{**_WrapContext.kwargs, **wrap_overrides})
