"""The Lua-Torch ``nn`` base classes: :class:`Module` and :class:`Criterion`.

A legacy module owns its buffers: ``forward`` fills ``output``, ``backward`` fills ``gradInput``
and ADDS ``scale`` times the parameter gradients into ``gradWeight`` / ``gradBias`` (Lua's
``accGradParameters``). No autograd graph is recorded; every module writes its gradient out
with ember ops under ``no_grad``.

Indices follow PyTorch 0.3's ``torch.legacy`` (a Python port): dimensions, ``Select`` /
``Narrow`` indices and class targets are 0-based.
"""
from __future__ import annotations

import ember
from ember import dtypes
from ember._tensor import Tensor

# Lua / PyTorch 0.3 tensor type names accepted by ``Module.type``
_TYPE_NAMES = {
    "torch.DoubleTensor": dtypes.float64,
    "torch.FloatTensor": dtypes.float32,
    "torch.HalfTensor": dtypes.float16,
    "torch.LongTensor": dtypes.int64,
}


def _type_name(dtype) -> str:
    for name, d in _TYPE_NAMES.items():
        if d == dtype:
            return name
    return str(dtype)


def _convert(value, dtype, cache: dict):
    """``value`` with every floating tensor inside (lists, tuples, modules) cast to ``dtype``;
    a tensor seen twice is converted once so shared tensors stay shared."""
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            return value
        key = id(value)
        if key not in cache:
            cache[key] = value.to(dtype)
        return cache[key]
    if isinstance(value, (Module, Criterion)):
        value.type(dtype, cache)
        return value
    if isinstance(value, list):
        return [_convert(v, dtype, cache) for v in value]
    if isinstance(value, tuple):
        return tuple(_convert(v, dtype, cache) for v in value)
    return value


def _flatten(tensors: list) -> Tensor:
    """One contiguous tensor holding ``tensors``, each of which becomes a view into it (Lua's
    ``Module.flatten``: in-place updates of the flat tensor update the parameters)."""
    if not tensors:
        return ember.empty(0)
    flat = ember.cat([t.detach().reshape(-1) for t in tensors])
    offset = 0
    for t in tensors:
        n = t.numel()
        # NOTE: re-point the existing Tensor object at the flat buffer (Lua's ``set_``), so
        # modules that hold it see the shared storage.
        t._data = flat._data[offset:offset + n].reshape(t.shape)
        offset += n
    return flat


class Module:
    """Base class of the Lua-Torch-style modules.

    Subclasses override :meth:`updateOutput`, :meth:`updateGradInput` and, when they have
    parameters, :meth:`accGradParameters`.

    Example::

        >>> m = Linear(3, 2)
        >>> y = m.forward(ember.randn(4, 3))
        >>> gx = m.backward(ember.randn(4, 3), ember.ones(4, 2))
    """

    def __init__(self) -> None:
        self.gradInput = ember.empty(0)
        self.output = ember.empty(0)
        self._type = _type_name(ember.get_default_dtype())
        self.train = True

    def __repr__(self) -> str:
        return "nn." + type(self).__name__

    # -- the protocol ---------------------------------------------------------------------------
    def updateOutput(self, input):
        """Compute and return ``self.output`` for ``input``."""
        return self.output

    def updateGradInput(self, input, gradOutput):
        """Compute and return ``self.gradInput`` for ``gradOutput``."""
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        """Add ``scale`` times the parameter gradients into the ``grad*`` tensors."""

    def forward(self, input):
        """``updateOutput(input)``."""
        with ember.no_grad():
            return self.updateOutput(input)

    def backward(self, input, gradOutput, scale: float = 1):
        """``updateGradInput`` then ``accGradParameters``; returns ``gradInput``."""
        with ember.no_grad():
            self.updateGradInput(input, gradOutput)
            self.accGradParameters(input, gradOutput, scale)
        return self.gradInput

    def backwardUpdate(self, input, gradOutput, lr: float):
        """``updateGradInput`` then add ``-lr`` times the parameter gradients to the weights."""
        with ember.no_grad():
            self.updateGradInput(input, gradOutput)
            self.accUpdateGradParameters(input, gradOutput, lr)
        return self.gradInput

    def accUpdateGradParameters(self, input, gradOutput, lr: float) -> None:
        """Accumulate straight into the parameters (the gradient tensors are swapped in)."""
        saved = self.__dict__.get("gradWeight"), self.__dict__.get("gradBias")
        self.gradWeight = getattr(self, "weight", None)
        self.gradBias = getattr(self, "bias", None)
        self.accGradParameters(input, gradOutput, -lr)
        self.gradWeight, self.gradBias = saved

    # -- parameters -------------------------------------------------------------------------
    def parameters(self):
        """``([weight, bias], [gradWeight, gradBias])`` (those that exist), or None."""
        weight = getattr(self, "weight", None)
        bias = getattr(self, "bias", None)
        params, grads = [], []
        if weight is not None:
            params.append(weight)
            grads.append(self.gradWeight)
        if bias is not None:
            params.append(bias)
            grads.append(self.gradBias)
        if not params:
            return None
        return params, grads

    def zeroGradParameters(self) -> None:
        """Zero every parameter gradient."""
        params = self.parameters()
        if params is not None:
            for grad in params[1]:
                grad.zero_()

    def updateParameters(self, learningRate: float) -> None:
        """``p -= learningRate * gradP`` for every parameter."""
        params = self.parameters()
        if params is not None:
            with ember.no_grad():
                for p, g in zip(*params):
                    p.add_(g, alpha=-learningRate)

    def flattenParameters(self):
        """Move all parameters (and their gradients) into two flat tensors whose slices they
        become; returns ``(flatParameters, flatGradParameters)``."""
        params = self.parameters()
        if params is None:
            return None
        weights, grads = params
        return _flatten(weights), _flatten(grads)

    def reset(self, stdv: float | None = None) -> None:
        """Re-initialise the parameters."""

    # -- modes and types ----------------------------------------------------------------------
    def training(self) -> None:
        """Switch to training mode (Dropout, BatchNormalization, RReLU)."""
        self.train = True

    def evaluate(self) -> None:
        """Switch to evaluation mode."""
        self.train = False

    def type(self, type=None, tensorCache: dict | None = None):
        """With no argument, the tensor type name; otherwise cast every floating tensor of the
        module (``'torch.DoubleTensor'``, ``'torch.FloatTensor'`` or an ember dtype)."""
        if type is None:
            return self._type
        dtype = _TYPE_NAMES.get(type, type) if isinstance(type, str) else type
        dtype = dtypes.to_dtype(dtype)
        cache = {} if tensorCache is None else tensorCache
        for key, value in list(self.__dict__.items()):
            setattr(self, key, _convert(value, dtype, cache))
        self._type = _type_name(dtype)
        return self

    def float(self):
        return self.type("torch.FloatTensor")

    def double(self):
        return self.type("torch.DoubleTensor")

    def clearState(self):
        """Drop the ``output`` / ``gradInput`` buffers (and any ``_``-prefixed tensors)."""
        for key, value in list(self.__dict__.items()):
            if key in ("output", "gradInput"):
                setattr(self, key, [] if isinstance(value, list) else ember.empty(0))
            elif key.startswith("_") and isinstance(value, Tensor):
                setattr(self, key, None)
        return self

    # -- traversal (containers override ``modules``) -------------------------------------------
    modules: list = []

    def apply(self, callback) -> None:
        """Call ``callback`` on this module and every descendant."""
        callback(self)
        for module in self.modules:
            module.apply(callback)

    def listModules(self) -> list:
        """This module and all its descendants, depth first."""
        result = [self]
        for module in self.modules:
            result.extend(module.listModules())
        return result

    def findModules(self, typename, container=None):
        """Modules whose class (or class name) is ``typename``, and their containers."""
        nodes, containers = [], []
        name = typename if isinstance(typename, str) else typename.__name__
        if type(self).__name__ == name:
            nodes.append(self)
            containers.append(container)
        for child in self.modules:
            n, c = child.findModules(typename, self)
            nodes.extend(n)
            containers.extend(c)
        return nodes, containers


class Criterion:
    """Base class of the legacy losses: ``forward(input, target)`` sets ``output`` (a Python
    number), ``backward(input, target)`` sets ``gradInput``."""

    def __init__(self) -> None:
        self.gradInput = ember.empty(0)
        self.output = 0.0
        self._type = _type_name(ember.get_default_dtype())

    def __repr__(self) -> str:
        return "nn." + type(self).__name__

    def updateOutput(self, input, target):
        return self.output

    def updateGradInput(self, input, target):
        return self.gradInput

    def forward(self, input, target):
        """``updateOutput(input, target)``."""
        with ember.no_grad():
            return self.updateOutput(input, target)

    def backward(self, input, target):
        """``updateGradInput(input, target)``."""
        with ember.no_grad():
            return self.updateGradInput(input, target)

    def type(self, type=None, tensorCache: dict | None = None):
        """Like :meth:`Module.type`."""
        return Module.type(self, type, tensorCache)

    def float(self):
        return self.type("torch.FloatTensor")

    def double(self):
        return self.type("torch.DoubleTensor")

    def clearState(self):
        return Module.clearState(self)
