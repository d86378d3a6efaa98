"""``torch._functorch.make_functional``: functorch's older API for running a module as a
function of its parameters (``torch.func.functional_call`` is the current one, and these
modules run through it)."""
from __future__ import annotations

import copy
from typing import Any, Iterable

from ember._tensor import Tensor
from ember.nn.modules.module import Module
from ember.nn.utils.stateless import _functional_call


def _detached_copies(tensors: Iterable[Tensor], track: bool) -> tuple:
    return tuple(t.detach().requires_grad_(track and t.requires_grad) for t in tensors)


class FunctionalModule(Module):
    """What :func:`make_functional` returns: ``fmodel(params, *args)`` runs the module with
    ``params`` (in ``named_parameters`` order) in place of its own."""

    def __init__(self, stateless_model: Module, param_names: tuple):
        super().__init__()
        self.stateless_model = stateless_model
        self.param_names = param_names

    @staticmethod
    def _create_from(model: Module, disable_autograd_tracking: bool = False) -> tuple:
        model_copy = copy.deepcopy(model)
        named_params = list(model_copy.named_parameters())
        params = _detached_copies((p for _, p in named_params), not disable_autograd_tracking)
        return FunctionalModule(model_copy, tuple(n for n, _ in named_params)), params

    def forward(self, params: Iterable[Tensor], *args: Any, **kwargs: Any) -> Any:
        return _functional_call(self.stateless_model, dict(zip(self.param_names, params)),
                                args, kwargs, tie_weights=True, strict=False)


class FunctionalModuleWithBuffers(Module):
    """What :func:`make_functional_with_buffers` returns: ``fmodel(params, buffers, *args)``
    runs the module with ``params`` and ``buffers`` in place of its own."""

    def __init__(self, stateless_model: Module, param_names: tuple, buffer_names: tuple):
        super().__init__()
        self.stateless_model = stateless_model
        self.param_names = param_names
        self.buffer_names = buffer_names

    @staticmethod
    def _create_from(model: Module, disable_autograd_tracking: bool = False) -> tuple:
        model_copy = copy.deepcopy(model)
        named_params = list(model_copy.named_parameters())
        named_buffers = list(model_copy.named_buffers())
        module = FunctionalModuleWithBuffers(model_copy, tuple(n for n, _ in named_params),
                                             tuple(n for n, _ in named_buffers))
        params = _detached_copies((p for _, p in named_params), not disable_autograd_tracking)
        return module, params, tuple(b for _, b in named_buffers)

    def forward(self, params: Iterable[Tensor], buffers: Iterable[Tensor], *args: Any,
                **kwargs: Any) -> Any:
        mapping = dict(zip(self.param_names, params))
        mapping.update(zip(self.buffer_names, buffers))
        return _functional_call(self.stateless_model, mapping, args, kwargs, tie_weights=True,
                                strict=False)


def make_functional(model: Module, disable_autograd_tracking: bool = False) -> tuple:
    """``(fmodel, params)``: a copy of ``model`` callable as ``fmodel(params, *args)`` and
    copies of its parameters (tracked by autograd unless ``disable_autograd_tracking``).

    Example::

        >>> fmodel, params = make_functional(torch.nn.Linear(3, 1))
        >>> fmodel(params, torch.ones(2, 3)).shape
        torch.Size([2, 1])
    """
    if list(model.buffers()):
        raise RuntimeError("make_functional(model): `model` has buffers. Please use "
                           "make_functional_with_buffers(model) instead.")
    return FunctionalModule._create_from(model, disable_autograd_tracking)


def make_functional_with_buffers(model: Module, disable_autograd_tracking: bool = False) -> tuple:
    """``(fmodel, params, buffers)``: as :func:`make_functional`, the buffers passed too."""
    return FunctionalModuleWithBuffers._create_from(model, disable_autograd_tracking)
