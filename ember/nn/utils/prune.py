"""Pruning: zero out entries of a module's tensor through a mask, as ``torch.nn.utils.prune``.

Pruning ``module.<name>`` moves the original parameter to ``<name>_orig``, stores the mask as the
buffer ``<name>_mask`` and sets ``<name>`` to their product, a plain tensor that a forward
pre-hook (the pruning method itself, kept in ``module._forward_pre_hooks``) recomputes before
every forward. Pruning the same tensor again combines the methods in a :class:`PruningContainer`
whose newest method only sees the entries still unpruned. :func:`remove` makes it permanent.

Example::

    >>> m = nn.Linear(4, 3)
    >>> prune.l1_unstructured(m, name="weight", amount=0.5)
    >>> sorted(dict(m.named_buffers()))
    ['weight_mask']
    >>> int((m.weight == 0).sum())
    6
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable

from ember._creation import ones_like, rand, rand_like, zeros_like
from ember._tensor import Tensor
from ember.nn.modules.module import Module
from ember.nn.utils.convert_parameters import parameters_to_vector

__all__ = ["BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured",
           "PruningContainer", "RandomStructured", "RandomUnstructured", "custom_from_mask",
           "global_unstructured", "identity", "is_pruned", "l1_unstructured", "ln_structured",
           "random_structured", "random_unstructured", "remove"]


class BasePruningMethod:
    """Base class of pruning methods: subclasses set ``PRUNING_TYPE`` ('unstructured',
    'structured' or 'global') and write :meth:`compute_mask`."""

    PRUNING_TYPE: str
    _tensor_name: str | None = None

    def __call__(self, module: Module, inputs) -> None:
        # The forward pre-hook: refresh the pruned tensor from the current original and mask.
        setattr(module, self._tensor_name, self.apply_mask(module))

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The new mask for ``t``, given ``default_mask`` (the mask of earlier prunings)."""
        raise NotImplementedError

    def apply_mask(self, module: Module) -> Tensor:
        """``<name>_orig * <name>_mask``: the pruned tensor."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores: Tensor | None = None,
              **kwargs) -> "BasePruningMethod":
        """Prune ``module.<name>`` with a new ``cls(*args, **kwargs)``, composing it with the
        pruning already applied to that tensor, and return the method (or container) hooked."""
        old_keys = [k for k, hook in module._forward_pre_hooks.items()
                    if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        if len(old_keys) > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} "
                                 f"of module {module}. Use a PruningContainer.")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        orig = getattr(module, name)
        if importance_scores is None:
            importance_scores = orig
        elif importance_scores.shape != orig.shape:
            raise AssertionError(f"importance_scores should have the same shape as parameter "
                                 f"{name} of {module}")
        # The mask first: a failure (a bad amount, say) leaves the module as it was.
        if not old_keys:
            mask = method.compute_mask(importance_scores, default_mask=ones_like(orig))
            hook = method
            # the parameter moves to <name>_orig; <name> becomes the recomputed product
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
        else:
            old_mask = getattr(module, name + "_mask").detach().clone()
            mask = _mask_within(method, importance_scores, old_mask)
            hook = module._forward_pre_hooks.pop(old_keys[0])
            if isinstance(hook, PruningContainer):
                hook.add_pruning_method(method)
            else:
                hook = PruningContainer(hook, method)
        module.register_buffer(name + "_mask", mask)
        setattr(module, name, hook.apply_mask(module))
        module.register_forward_pre_hook(hook)
        return hook

    def prune(self, t: Tensor, default_mask: Tensor | None = None,
              importance_scores: Tensor | None = None) -> Tensor:
        """``t`` multiplied by the mask this method computes (from ``importance_scores``,
        by default ``t`` itself); the module is not touched."""
        if importance_scores is None:
            importance_scores = t
        elif importance_scores.shape != t.shape:
            raise AssertionError("importance_scores should have the same shape as tensor t")
        if default_mask is None:
            default_mask = ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: ``<name>`` becomes a parameter holding the pruned values,
        and ``<name>_orig`` and ``<name>_mask`` go away. The hook itself is removed by
        :func:`remove`."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be "
                                 "removed")
        name = self._tensor_name
        weight = self.apply_mask(module)
        if hasattr(module, name):
            delattr(module, name)
        orig = module._parameters.pop(name + "_orig")
        orig.data = weight.data
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)


class PruningContainer(BasePruningMethod):
    """The sequence of pruning methods applied, one after the other, to one tensor; the mask
    is that of the last method applied to the entries the earlier ones kept."""

    def __init__(self, *args: BasePruningMethod) -> None:
        self._pruning_methods: tuple = ()
        if args:
            self._tensor_name = args[0]._tensor_name
        for method in args:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append ``method``, which must act on the same tensor as the container."""
        if method is None:
            return
        if not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if self._tensor_name != method._tensor_name:
            raise ValueError("Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Apply the newest method to the part of ``t`` that ``default_mask`` keeps: single
        entries (unstructured), whole channels along ``dim`` (structured) or all of ``t``
        (global); the entries pruned before stay pruned."""
        return _mask_within(self._pruning_methods[-1], t, default_mask)


def _mask_within(method: BasePruningMethod, t: Tensor, default_mask: Tensor) -> Tensor:
    """``default_mask`` with ``method`` applied to the region of ``t`` it still keeps (see
    :meth:`PruningContainer.compute_mask`)."""
    new_mask = default_mask.clone().to(dtype=t.dtype)
    kind = method.PRUNING_TYPE
    if kind == "unstructured":
        region = default_mask == 1
    elif kind == "structured":
        if not hasattr(method, "dim"):
            raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have '
                                 "the attribute `dim` defined.")
        ndim = t.dim()
        dim = method.dim + ndim if method.dim < 0 else method.dim
        if dim < 0:
            raise IndexError(f"Index is out of bounds for tensor of size {ndim}")
        others = [d for d in range(ndim) if d != dim]
        kept_channels = default_mask.sum(dim=others) != 0
        region = (slice(None),) * dim + (kept_channels,)
    elif kind == "global":
        region = (slice(None),) * t.dim()
    else:
        raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
    partial = method.compute_mask(t[region], default_mask=default_mask[region])
    new_mask[region] = partial.to(dtype=new_mask.dtype)
    return new_mask


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is all ones (useful to reparametrize a tensor as
    ``<name>_orig * <name>_mask`` without changing it)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str) -> "Identity":
        return super().apply(module, name)


class _Unstructured(BasePruningMethod):
    """Prunes ``amount`` single entries (an int count or a float fraction), those that
    ``_chosen`` picks."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: int | float) -> None:
        _check_amount(amount)
        self.amount = amount

    def _chosen(self, t: Tensor, n_prune: int) -> Tensor:
        """The flat indices of the ``n_prune`` entries of ``t`` to prune."""
        raise NotImplementedError

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        n_prune = _count_to_prune(self.amount, t.numel())
        mask = default_mask.clone()
        if n_prune:
            mask.view(-1)[self._chosen(t, n_prune)] = 0
        return mask


class RandomUnstructured(_Unstructured):
    """Prunes ``amount`` entries chosen uniformly at random (an int count or a float
    fraction)."""

    def _chosen(self, t: Tensor, n_prune: int) -> Tensor:
        return rand_like(t).view(-1).topk(n_prune).indices

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float) -> "RandomUnstructured":
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prunes the ``amount`` entries of smallest absolute value (an int count or a float
    fraction)."""

    def _chosen(self, t: Tensor, n_prune: int) -> Tensor:
        return t.detach().abs().view(-1).topk(n_prune, largest=False).indices

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,
              importance_scores: Tensor | None = None) -> "L1Unstructured":
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(BasePruningMethod):
    """Prunes ``amount`` whole channels along ``dim``, those that ``_kept`` leaves out."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, dim: int = -1) -> None:
        _check_amount(amount)
        self.amount = amount
        self.dim = dim

    def _kept(self, t: Tensor, channels: int, n_prune: int) -> Tensor:
        """The channels to keep (a bool mask or their indices)."""
        raise NotImplementedError

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        _check_structured(t, self.dim)
        channels = t.shape[self.dim]
        n_prune = _count_to_prune(self.amount, channels)
        if not n_prune:
            return default_mask
        kept = self._kept(t, channels, n_prune)
        return _channel_mask(t, self.dim, kept) * default_mask.to(dtype=t.dtype)


class RandomStructured(_Structured):
    """Prunes ``amount`` whole channels along ``dim``, chosen at random."""

    def _kept(self, t: Tensor, channels: int, n_prune: int) -> Tensor:
        scores = rand(channels, device=t.device)
        return scores > scores.kthvalue(n_prune).values

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,
              dim: int = -1) -> "RandomStructured":
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prunes the ``amount`` channels along ``dim`` of smallest ``n``-norm (``n`` as the ``p``
    of :func:`ember.norm`: an int, ``inf``, ``-inf``, 'fro' or 'nuc')."""

    def __init__(self, amount: int | float, n, dim: int = -1) -> None:
        super().__init__(amount, dim)
        self.n = n

    def _kept(self, t: Tensor, channels: int, n_prune: int) -> Tensor:
        dim = self.dim % t.dim()
        norms = t.detach().norm(p=self.n, dim=[d for d in range(t.dim()) if d != dim])
        return norms.topk(channels - n_prune).indices

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float, n, dim: int,
              importance_scores: Tensor | None = None) -> "LnStructured":
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` is zero."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        if default_mask.shape != self.mask.shape:
            raise AssertionError(f"mask of shape {tuple(self.mask.shape)} does not match the "
                                 f"tensor's {tuple(default_mask.shape)}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module: Module, name: str, mask: Tensor) -> "CustomFromMask":
        return super().apply(module, name, mask=mask)


# ---------------------------------------------------------------------------------------------
# The functional interface: each prunes module.<name> in place and returns the module

def identity(module: Module, name: str) -> Module:
    """Reparametrize ``module.<name>`` as ``<name>_orig * <name>_mask`` with an all-ones
    mask."""
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount: int | float) -> Module:
    """Prune ``amount`` random entries of ``module.<name>``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount: int | float,
                    importance_scores: Tensor | None = None) -> Module:
    """Prune the ``amount`` entries of ``module.<name>`` with the smallest absolute value (of
    ``importance_scores`` when given).

    Example::

        >>> m = prune.l1_unstructured(nn.Linear(2, 3), "weight", amount=0.2)
        >>> m.state_dict().keys()
        odict_keys(['bias', 'weight_orig', 'weight_mask'])
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount: int | float, dim: int) -> Module:
    """Prune ``amount`` random channels of ``module.<name>`` along ``dim``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Module, name: str, amount: int | float, n, dim: int,
                  importance_scores: Tensor | None = None) -> Module:
    """Prune the ``amount`` channels of ``module.<name>`` along ``dim`` with the smallest
    ``n``-norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method: type, importance_scores: dict | None = None,
                        **kwargs) -> None:
    """Prune the ``(module, name)`` pairs of ``parameters`` as one flattened tensor, so that,
    e.g., the smallest 20% over all of them go, whatever layer they are in.

    Example::

        >>> pairs = ((net.fc1, "weight"), (net.fc2, "weight"))
        >>> prune.global_unstructured(pairs, pruning_method=prune.L1Unstructured, amount=0.2)
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    if importance_scores is None:
        importance_scores = {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    parameters = list(parameters)
    scores = parameters_to_vector([importance_scores.get((m, name), getattr(m, name))
                                   for m, name in parameters])
    masks = parameters_to_vector([getattr(m, name + "_mask") if hasattr(m, name + "_mask")
                                  else ones_like(getattr(m, name)) for m, name in parameters])
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {method.PRUNING_TYPE}")
    container = PruningContainer(method)
    final_mask = container.compute_mask(scores, masks)
    start = 0
    for m, name in parameters:
        param = getattr(m, name)
        custom_from_mask(m, name, mask=final_mask[start:start + param.numel()].view_as(param))
        start += param.numel()


def custom_from_mask(module: Module, name: str, mask: Tensor) -> Module:
    """Prune ``module.<name>`` where ``mask`` is zero."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.<name>`` permanent and drop its reparametrization: the
    parameter ``<name>`` holds the pruned values again, with no mask and no hook."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module: Module) -> bool:
    """Whether ``module`` or any of its descendants has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for _, m in module.named_modules() for hook in m._forward_pre_hooks.values())


# ---------------------------------------------------------------------------------------------
# amount and dimension checks, with PyTorch's messages

def _check_amount(amount) -> None:
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    integral = isinstance(amount, numbers.Integral)
    if (integral and amount < 0) or (not integral and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _count_to_prune(amount, size: int) -> int:
    """How many of ``size`` units ``amount`` (a count or a fraction, rounded) prunes."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters "
                             f"to prune={size}")
        return int(amount)
    return round(amount * size)


def _check_structured(t: Tensor, dim: int) -> None:
    if t.dim() <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {t.shape} with {t.dim()} dims")
    if dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _channel_mask(t: Tensor, dim: int, kept: Tensor) -> Tensor:
    """Ones on the channels ``kept`` (indices or a boolean mask) along ``dim``, else zeros."""
    mask = zeros_like(t)
    mask[(slice(None),) * (dim % t.dim()) + (kept,)] = 1
    return mask

