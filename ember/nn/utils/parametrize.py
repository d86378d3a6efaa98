"""Parametrizations: a parameter or buffer recomputed as ``f(original)`` on every access.

``register_parametrization(module, "weight", f)`` moves ``module.weight`` to
``module.parametrizations.weight.original`` (so the state_dict key is
``parametrizations.weight.original``), swaps the module's class for a subclass
``Parametrized<Class>`` with a ``weight`` property, and from then on ``module.weight`` is
``f(original)``; assigning to it stores ``f.right_inverse(value)`` in ``original``.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.nn.modules.container import ModuleDict, ModuleList
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations",
           "transfer_parametrizations_and_params"]

_cache_depth = [0]
_cache: dict = {}


@contextmanager
def cached():
    """Within this context each parametrized tensor is computed once, on its first access (for
    example once per forward of a recurrent net instead of once per step)."""
    _cache_depth[0] += 1
    try:
        yield
    finally:
        _cache_depth[0] -= 1
        if not _cache_depth[0]:
            _cache.clear()


def _register_tensor(module: Module, name: str, tensor: Tensor) -> None:
    if isinstance(tensor, Parameter):
        module.register_parameter(name, tensor)
    else:
        module.register_buffer(name, tensor)


def _set_data(original: Tensor, value: Tensor) -> None:
    """Write ``value`` into ``original`` in place, keeping its identity (optimizers hold it)."""
    original.data = value.detach()


def _check_like(value, original: Tensor, what: str) -> None:
    if not isinstance(value, Tensor):
        raise ValueError(f"{what} must return a tensor. Got {type(value).__name__}.")
    if value.dtype != original.dtype:
        raise ValueError(f"{what} may not change the dtype of the tensor, unless the "
                         f"`unsafe` flag is enabled.\noriginal.dtype: {original.dtype}\n"
                         f"returned dtype: {value.dtype}")
    if value.shape != original.shape:
        raise ValueError(f"{what} may not change the shape of the tensor, unless the "
                         f"`unsafe` flag is enabled.\noriginal.shape: {original.shape}\n"
                         f"returned shape: {value.shape}")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the tensor(s) they start from:
    ``original``, or ``original0``, ``original1``, ... when the first parametrization's
    ``right_inverse`` returns several tensors."""

    def __init__(self, modules, original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        new = original
        with no_grad():
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:  # taken as the identity, as in PyTorch
                        pass
        if not isinstance(new, (Tensor, tuple, list)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype.\noriginal.dtype: {original.dtype}\n"
                                 f"right_inverse(original).dtype: {new.dtype}")
            with no_grad():
                _set_data(original, new)
            _register_tensor(self, "original", original)
        else:
            for i, part in enumerate(new):
                if not isinstance(part, Tensor):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of "
                                     f"tensors (list, tuple...). Got element {i} of type "
                                     f"{type(part).__name__}")
                if isinstance(original, Parameter):
                    part = Parameter(part.detach(), original.requires_grad)
                _register_tensor(self, f"original{i}", part)
        if not unsafe:
            _check_like(self(), original, "Registering a parametrization")

    def right_inverse(self, value: Tensor) -> None:
        """Store ``value`` as the parametrized tensor: invert the parametrizations (last first)
        and write the result into the originals in place."""
        with no_grad():
            for module in reversed(self):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not self.unsafe:
                    _check_like(value, self.original, "right_inverse")
                _set_data(self.original, value)
            else:
                if not isinstance(value, (tuple, list)) or len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of tensors of "
                                     f"length {self.ntensors}.")
                for i, part in enumerate(value):
                    _set_data(getattr(self, f"original{i}"), part)

    def forward(self) -> Tensor:
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _deepcopy(self, memo):
    out = object.__new__(type(self))
    memo[id(self)] = out
    out.__dict__ = copy.deepcopy(self.__dict__, memo)
    return out


def _getstate(self):
    raise RuntimeError("Serialization of parametrized modules is only supported through "
                       "state_dict(). See: https://pytorch.org/tutorials/beginner/"
                       "saving_loading_models.html#saving-loading-a-general-checkpoint-for-"
                       "inference-and-or-resuming-training")


def _inject_class(module: Module) -> None:
    cls = module.__class__
    namespace = {"__getstate__": _getstate}
    if not hasattr(cls, "__deepcopy__"):
        namespace["__deepcopy__"] = _deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), namespace)


def _inject_property(module: Module, name: str) -> None:
    def get(self):
        plist = self.parametrizations[name]
        if not _cache_depth[0]:
            return plist()
        key = (id(self), name)
        if key not in _cache:
            _cache[key] = plist()
        return _cache[key]

    def set_(self, value) -> None:
        self.parametrizations[name].right_inverse(value)

    setattr(module.__class__, name, property(get, set_))


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has any parametrization (or one on ``tensor_name``)."""
    plists = getattr(module, "parametrizations", None)
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` (a Module) applied to the
    stored original; registering on an already parametrized name appends to its list.

    ``parametrization.right_inverse(X)``, if defined, maps a value back to an original: it
    initialises the original from the current tensor and serves assignments. ``unsafe=True``
    lets the parametrization change the tensor's shape or dtype.

    Example::

        >>> class Symmetric(nn.Module):
        ...     def forward(self, X):
        ...         return X.triu() + X.triu(1).mT
        >>> m = nn.Linear(3, 3)
        >>> register_parametrization(m, "weight", Symmetric())
        >>> bool((m.weight == m.weight.T).all())
        True
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            value = parametrization(current)
            _check_like(value, current, "Registering a parametrization")
            if hasattr(parametrization, "right_inverse"):
                back = parametrization.right_inverse(value)
                _check_like(back, current, "parametrization.right_inverse")
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    return module


def remove_parametrizations(module: Module, tensor_name: str,
                            leave_parametrized: bool = True) -> Module:
    """Undo the parametrizations of ``tensor_name``: it becomes a plain parameter or buffer
    again, holding the current parametrized value (``leave_parametrized=True``) or the
    original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                if value.dtype != original.dtype or value.shape != original.shape:
                    original = type(original)(value.detach()) if isinstance(
                        original, Parameter) else value.detach()
                else:
                    _set_data(original, value)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name).detach()
        first = plist.original0
        original = Parameter(value, first.requires_grad) if isinstance(first, Parameter) \
            else value
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_tensor(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before parametrizations replaced it with ``Parametrized<Class>``."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(from_module: Module, to_module: Module,
                                         tensor_name: str | None = None) -> Module:
    """Copy the parametrizations of ``from_module`` (all, or those of ``tensor_name``) and
    their original values onto ``to_module``, registering the parameters there if absent."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        plist = from_module.parametrizations[name]
        if not hasattr(to_module, name):
            value = getattr(from_module, name)
            to_module.register_parameter(name, Parameter(value.detach().clone()))
        for parametrization in plist:
            register_parametrization(to_module, name, parametrization)
        originals = ["original"] if plist.is_tensor else [f"original{i}"
                                                          for i in range(plist.ntensors)]
        with no_grad():
            for attr in originals:
                target = getattr(to_module.parametrizations[name], attr)
                _set_data(target, getattr(plist, attr).clone())
    return to_module
