"""Module hook machinery: removable handles, global hooks, and the identity Function that
runs full backward hooks (PyTorch keeps these in ``torch.utils.hooks``)."""
from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from typing import Callable

from ember._tensor import Tensor
from ember.autograd.function import Function


class RemovableHandle:
    """Removes a hook from the dicts it was added to (``handle.remove()`` or ``with handle``)."""

    _next_id = 0

    def __init__(self, hooks_dict: dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1
        if extra_dict is None:
            extra_dict = []
        elif isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    # A pickled module (``torch.save(model)``, ``copy.deepcopy``) carries its handles: store
    # the dicts themselves, which the pickle shares with the module, and re-weaken on load.
    def __getstate__(self) -> tuple:
        return (self.hooks_dict_ref(), self.id,
                tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state: tuple) -> None:
        hooks_dict, self.id, extra = state
        self.hooks_dict_ref = weakref.ref(OrderedDict() if hooks_dict is None else hooks_dict)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra if d is not None)


# Hooks that apply to every module (``register_module_forward_hook`` and friends).
_global_forward_pre_hooks: dict = OrderedDict()
_global_forward_hooks: dict = OrderedDict()
_global_forward_hooks_with_kwargs: dict = OrderedDict()
_global_forward_hooks_always_called: dict = OrderedDict()
_global_backward_hooks: dict = OrderedDict()


# Hooks run when any module registers a parameter, buffer or submodule: ``hook(module, name,
# value)`` may return a replacement for ``value``.
_global_parameter_registration_hooks: dict = OrderedDict()
_global_buffer_registration_hooks: dict = OrderedDict()
_global_module_registration_hooks: dict = OrderedDict()


def _run_registration_hooks(hooks: dict, module, name: str, value):
    """``value`` as the registration hooks leave it (each may return a replacement)."""
    for hook in hooks.values():
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value


def register_module_parameter_registration_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, name, param)`` whenever a module registers a parameter; a returned
    tensor is registered instead."""
    handle = RemovableHandle(_global_parameter_registration_hooks)
    _global_parameter_registration_hooks[handle.id] = hook
    return handle


def register_module_buffer_registration_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, name, buffer)`` whenever a module registers a buffer; a returned
    tensor is registered instead."""
    handle = RemovableHandle(_global_buffer_registration_hooks)
    _global_buffer_registration_hooks[handle.id] = hook
    return handle


def register_module_module_registration_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, name, submodule)`` whenever a module registers a submodule; a
    returned module is registered instead."""
    handle = RemovableHandle(_global_module_registration_hooks)
    _global_module_registration_hooks[handle.id] = hook
    return handle


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, args)`` before every module's forward."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """Run ``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
    ``with_kwargs``) after every module's forward; with ``always_call`` also when it raises."""
    handle = RemovableHandle(_global_forward_hooks,
                             extra_dict=[_global_forward_hooks_with_kwargs,
                                         _global_forward_hooks_always_called])
    _global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, grad_input, grad_output)`` in every module's backward."""
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


class _BackwardHookFunction(Function):
    """Identity on a tuple of tensors whose backward calls the module's backward hooks.

    One is applied to the module's inputs and one to its outputs, so the engine hands the
    gradients w.r.t. all outputs (then all inputs) to one backward call, as PyTorch's
    BackwardHook does.
    """

    @staticmethod
    def forward(ctx, state, is_output, *tensors):
        ctx.state = state
        ctx.is_output = is_output
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(*[t for t in tensors if not t.requires_grad])
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        grads = ctx.state.on_grads(ctx.is_output, grads)
        return (None, None, *grads)


class _BackwardHookState:
    def __init__(self, module, hooks: list, pre_hooks: list):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_wired = False

    def on_grads(self, is_output: bool, grads: tuple) -> tuple:
        if is_output:
            for hook in self.pre_hooks:
                res = hook(self.module, grads)
                if res is not None:
                    grads = _check_hook_result(res, len(grads), "backward pre hook")
            self.grad_outputs = grads
            if not self.input_wired and self.hooks:
                # No input requires grad: the hooks still run, with grad_input all None.
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients. See "
                              "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                              "#torch.nn.Module.register_full_backward_hook for more details.",
                              stacklevel=2)
                self._call_hooks((None,) * self.n_inputs)
            return grads
        return self._call_hooks(grads)

    def _call_hooks(self, grad_inputs: tuple) -> tuple:
        for hook in self.hooks:
            res = hook(self.module, grad_inputs, self.grad_outputs)
            if res is not None:
                grad_inputs = _check_hook_result(res, len(grad_inputs), "backward hook")
        return grad_inputs

    def wrap(self, values, is_output: bool):
        """Pass the tensors of ``values`` (a tensor or a tuple) through the hook Function."""
        single = isinstance(values, Tensor)
        items = (values,) if single else values
        if not isinstance(items, tuple):
            return values
        positions = [i for i, v in enumerate(items) if isinstance(v, Tensor)]
        tensors = [items[i] for i in positions]
        if not is_output:
            self.n_inputs = len(tensors)
            self.input_wired = any(t.requires_grad for t in tensors)
        if not any(t.requires_grad for t in tensors):
            return values
        out = _BackwardHookFunction.apply(self, is_output, *tensors)
        new = list(items)
        for i, t in zip(positions, out):
            new[i] = t
        return new[0] if single else tuple(new)


def _check_hook_result(res, n: int, kind: str) -> tuple:
    if not isinstance(res, tuple):
        res = (res,)
    if len(res) != n:
        raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                           f"{len(res)}, but expected {n}")
    return res
