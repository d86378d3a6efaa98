"""Tape-based automatic differentiation: ``backward``, ``grad``, ``Function`` and grad modes."""
from __future__ import annotations

from ember.autograd import forward_ad, functional, graph  # noqa: F401
from ember.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly
from ember.autograd.engine import run_backward
from ember.autograd.function import Function, GradientEdge, once_differentiable
from ember.autograd.function import FunctionCtx as _FunctionCtx
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.autograd.variable import Variable

# NOTE [ vmap runs its function once per sample ]
# ember.func.vmap calls the function for each sample in turn, so a grad() or backward() inside
# it walks one graph once per sample, where PyTorch's batched call walks it once: while a vmap
# runs (this count > 0), graphs are retained.
_vmap_depth = 0


def _tensors(x):
    from ember._tensor import Tensor
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _edges_or_tensors(x):
    """``_tensors``, with a lone GradientEdge (a tuple itself) as one item."""
    return [x] if isinstance(x, GradientEdge) else _tensors(x)


def _check_counts(tensors: list, grads: list) -> None:
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (or only ``inputs``')."""
    tensors = _tensors(tensors)
    grads = _tensors(grad_tensors if grad_tensors is not None else grad_variables)
    if grads is None:
        grads = [None] * len(tensors)
    _check_counts(tensors, grads)
    if retain_graph is None:
        retain_graph = create_graph
    retain_graph = retain_graph or _vmap_depth > 0
    inputs = _tensors(inputs)
    if inputs is not None and not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of stored."""
    from ember._tensor import Tensor
    outputs = _edges_or_tensors(outputs)
    inputs = _edges_or_tensors(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    for x in inputs:
        if not isinstance(x, (Tensor, GradientEdge)):
            raise RuntimeError("all inputs have to be Tensors or GradientEdges, but got "
                               f"{type(x).__name__}")
    grads = _tensors(grad_outputs)
    if grads is None:
        grads = [None] * len(outputs)
    _check_counts(outputs, grads)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grads, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    retain_graph = retain_graph or _vmap_depth > 0
    result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                          allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from ember._creation import zeros_like
        result = tuple(zeros_like(x) if g is None else g for g, x in zip(result, inputs))
    return result


def _batched_grad(outputs, inputs, grads, retain_graph, create_graph, allow_unused,
                  materialize_grads) -> tuple:
    """``grad`` with each of ``grads`` holding a batch of grad_outputs along dim 0: one
    backward per batch row (the graph is kept until the last), results stacked along dim 0."""
    from ember.ops.movement import stack
    if any(g is not None and g.dim() == 0 for g in grads):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python to "
                         "convert a 0-dim tensor to a number")
    sizes = {g.shape[0] for g in grads if g is not None}
    if len(sizes) != 1:
        raise RuntimeError("If `is_grads_batched=True`, all grad_outputs must be batched "
                           "tensors with the same size in dim 0")
    (size,) = sizes
    rows = [grad(outputs, inputs, [None if g is None else g[b] for g in grads],
                 retain_graph=retain_graph or b < size - 1, create_graph=create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize_grads)
            for b in range(size)]
    return tuple(None if rows[0][i] is None else stack([r[i] for r in rows])
                 for i in range(len(inputs)))


def __getattr__(name: str):
    # ``ember.autograd.profiler`` loads on first use: it pulls in ember.profiler's tracer
    if name == "profiler":
        import importlib
        return importlib.import_module("ember.autograd.profiler")
    raise AttributeError(f"module 'ember.autograd' has no attribute {name!r}")


__all__ = ["Function", "Variable", "backward", "grad", "gradcheck", "gradgradcheck", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "detect_anomaly", "set_detect_anomaly", "once_differentiable", "_FunctionCtx"]
