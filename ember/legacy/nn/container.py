"""Containers (Sequential, Concat, ConcatTable, Parallel, ParallelTable) and the table modules
(JoinTable, SplitTable, CAddTable, CMulTable, SelectTable, Identity)."""
from __future__ import annotations

import ember
from ember.legacy.nn.module import Module


def _add_into(acc, value):
    """``acc + value`` over tensors or (nested) lists of tensors; ``acc`` None starts a sum."""
    if acc is None:
        return [_add_into(None, v) for v in value] if isinstance(value, list) else value.clone()
    if isinstance(value, list):
        return [_add_into(a, v) for a, v in zip(acc, value)]
    return acc.add_(value)


class Container(Module):
    """A module made of child modules (``self.modules``); parameters and modes recurse."""

    def __init__(self) -> None:
        super().__init__()
        self.modules = []

    def add(self, module: Module) -> Container:
        """Append ``module``; returns self, so calls chain."""
        self.modules.append(module)
        return self

    def get(self, index: int) -> Module:
        """Child ``index`` (0-based)."""
        return self.modules[index]

    def size(self) -> int:
        """Number of children."""
        return len(self.modules)

    def parameters(self):
        weights, grads = [], []
        for module in self.modules:
            params = module.parameters()
            if params is not None:
                weights.extend(params[0])
                grads.extend(params[1])
        return weights, grads

    def zeroGradParameters(self) -> None:
        for module in self.modules:
            module.zeroGradParameters()

    def updateParameters(self, learningRate: float) -> None:
        for module in self.modules:
            module.updateParameters(learningRate)

    def training(self) -> None:
        super().training()
        for module in self.modules:
            module.training()

    def evaluate(self) -> None:
        super().evaluate()
        for module in self.modules:
            module.evaluate()

    def reset(self, stdv: float | None = None) -> None:
        for module in self.modules:
            module.reset(stdv)

    def clearState(self):
        super().clearState()
        for module in self.modules:
            module.clearState()
        return self

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {m!r}".replace("\n", "\n  ")
                          for i, m in enumerate(self.modules))
        return f"nn.{type(self).__name__} {{\n{inner}\n}}"


class Sequential(Container):
    """Feeds each module's output to the next. ``insert(module, index)`` and ``remove(index)``
    (default: the last) edit the chain."""

    def insert(self, module: Module, index: int | None = None) -> Sequential:
        """Insert ``module`` before position ``index`` (default: at the end)."""
        self.modules.insert(len(self.modules) if index is None else index, module)
        return self

    def remove(self, index: int | None = None) -> Module:
        """Remove and return child ``index`` (default: the last)."""
        return self.modules.pop(-1 if index is None else index)

    def updateOutput(self, input):
        current = input
        for module in self.modules:
            current = module.updateOutput(current)
        self.output = current
        return self.output

    def _inputs(self, input):
        """The input each module saw in the last forward pass."""
        return [input] + [m.output for m in self.modules[:-1]]

    def updateGradInput(self, input, gradOutput):
        grad = gradOutput
        for module, inp in zip(reversed(self.modules), reversed(self._inputs(input))):
            grad = module.updateGradInput(inp, grad)
        self.gradInput = grad
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        grad = gradOutput
        for module, inp in zip(reversed(self.modules), reversed(self._inputs(input))):
            module.accGradParameters(inp, grad, scale)
            grad = module.gradInput

    def backward(self, input, gradOutput, scale: float = 1):
        grad = gradOutput
        for module, inp in zip(reversed(self.modules), reversed(self._inputs(input))):
            grad = module.backward(inp, grad, scale)
        self.gradInput = grad
        return self.gradInput


class Concat(Container):
    """Applies every module to the same input and concatenates the outputs along
    ``dimension``."""

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension

    def updateOutput(self, input):
        outputs = [m.updateOutput(input) for m in self.modules]
        self.output = ember.cat(outputs, self.dimension)
        return self.output

    def _grad_slices(self, gradOutput):
        offset = 0
        for module in self.modules:
            n = module.output.shape[self.dimension]
            yield module, gradOutput.narrow(self.dimension, offset, n)
            offset += n

    def updateGradInput(self, input, gradOutput):
        total = None
        for module, grad in self._grad_slices(gradOutput):
            total = _add_into(total, module.updateGradInput(input, grad))
        self.gradInput = total
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        for module, grad in self._grad_slices(gradOutput):
            module.accGradParameters(input, grad, scale)


class ConcatTable(Container):
    """Applies every module to the same input; the output is the list of their outputs."""

    def updateOutput(self, input):
        self.output = [m.updateOutput(input) for m in self.modules]
        return self.output

    def updateGradInput(self, input, gradOutput):
        total = None
        for module, grad in zip(self.modules, gradOutput):
            total = _add_into(total, module.updateGradInput(input, grad))
        self.gradInput = total
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        for module, grad in zip(self.modules, gradOutput):
            module.accGradParameters(input, grad, scale)


class Parallel(Container):
    """Module ``i`` gets slice ``i`` of the input along ``inputDimension``; the outputs are
    concatenated along ``outputDimension``."""

    def __init__(self, inputDimension: int, outputDimension: int) -> None:
        super().__init__()
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension

    def updateOutput(self, input):
        outputs = [m.updateOutput(input.select(self.inputDimension, i))
                   for i, m in enumerate(self.modules)]
        self.output = ember.cat(outputs, self.outputDimension)
        return self.output

    def _pieces(self, input, gradOutput):
        offset = 0
        for i, module in enumerate(self.modules):
            n = module.output.shape[self.outputDimension]
            yield (module, input.select(self.inputDimension, i),
                   gradOutput.narrow(self.outputDimension, offset, n))
            offset += n

    def updateGradInput(self, input, gradOutput):
        grads = [m.updateGradInput(x, g) for m, x, g in self._pieces(input, gradOutput)]
        self.gradInput = ember.stack(grads, self.inputDimension)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        for module, x, g in self._pieces(input, gradOutput):
            module.accGradParameters(x, g, scale)


class ParallelTable(Container):
    """Module ``i`` is applied to ``input[i]``; the output is the list of results."""

    def updateOutput(self, input):
        self.output = [m.updateOutput(x) for m, x in zip(self.modules, input)]
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = [m.updateGradInput(x, g)
                          for m, x, g in zip(self.modules, input, gradOutput)]
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        for m, x, g in zip(self.modules, input, gradOutput):
            m.accGradParameters(x, g, scale)


# ----------------------------------------------------------------------------------------------
# Table modules

def _batch_dim(dimension: int, nInputDims: int | None, ndim: int) -> int:
    """Lua's batch rule: with ``nInputDims`` set and one extra leading dimension present, a
    non-negative ``dimension`` shifts by one."""
    if dimension < 0:
        return dimension + ndim
    if nInputDims is not None and ndim == nInputDims + 1:
        return dimension + 1
    return dimension


class JoinTable(Module):
    """Concatenates a list of tensors along ``dimension`` (0-based)."""

    def __init__(self, dimension: int, nInputDims: int | None = None) -> None:
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims

    def updateOutput(self, input):
        dim = _batch_dim(self.dimension, self.nInputDims, input[0].dim())
        self.output = ember.cat(list(input), dim)
        return self.output

    def updateGradInput(self, input, gradOutput):
        dim = _batch_dim(self.dimension, self.nInputDims, input[0].dim())
        sizes = [x.shape[dim] for x in input]
        self.gradInput = [g.clone() for g in gradOutput.split(sizes, dim)]
        return self.gradInput


class SplitTable(Module):
    """Splits a tensor into the list of its slices along ``dimension`` (0-based)."""

    def __init__(self, dimension: int, nInputDims: int | None = None) -> None:
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims

    def updateOutput(self, input):
        dim = _batch_dim(self.dimension, self.nInputDims, input.dim())
        self.output = list(input.unbind(dim))
        return self.output

    def updateGradInput(self, input, gradOutput):
        dim = _batch_dim(self.dimension, self.nInputDims, input.dim())
        self.gradInput = ember.stack(list(gradOutput), dim)
        return self.gradInput


class CAddTable(Module):
    """The elementwise sum of a list of tensors."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def updateOutput(self, input):
        out = input[0] if self.inplace else input[0].clone()
        for x in input[1:]:
            out.add_(x)
        self.output = out
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = [gradOutput if self.inplace else gradOutput.clone() for _ in input]
        return self.gradInput


class CMulTable(Module):
    """The elementwise product of a list of tensors."""

    def updateOutput(self, input):
        out = input[0].clone()
        for x in input[1:]:
            out.mul_(x)
        self.output = out
        return self.output

    def updateGradInput(self, input, gradOutput):
        # the product of all the other inputs, without dividing (inputs may be zero)
        grads = []
        for i in range(len(input)):
            g = gradOutput.clone()
            for j, x in enumerate(input):
                if j != i:
                    g.mul_(x)
            grads.append(g)
        self.gradInput = grads
        return self.gradInput


def _zeros_like_table(value):
    if isinstance(value, list):
        return [_zeros_like_table(v) for v in value]
    return ember.zeros_like(value)


class SelectTable(Module):
    """Element ``index`` (0-based, negative from the end) of a list input."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def updateOutput(self, input):
        self.output = input[self.index]
        return self.output

    def updateGradInput(self, input, gradOutput):
        grads = [_zeros_like_table(x) for x in input]
        grads[self.index] = gradOutput
        self.gradInput = grads
        return self.gradInput


class Identity(Module):
    """Passes the input (tensor or list) through unchanged."""

    def updateOutput(self, input):
        self.output = input
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput
        return self.gradInput
