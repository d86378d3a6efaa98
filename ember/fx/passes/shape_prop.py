"""``torch.fx.passes.shape_prop``: run a GraphModule once and record each node's result
metadata (``node.meta['tensor_meta']``, ``node.meta['type']``)."""
from __future__ import annotations

from typing import Any, NamedTuple

from ember.fx.interpreter import Interpreter
from ember.fx.node import Node, map_aggregate

__all__ = ["TensorMetadata", "ShapeProp"]


class TensorMetadata(NamedTuple):
    """What ShapeProp records of a tensor result."""
    shape: Any
    dtype: Any
    requires_grad: bool
    stride: tuple
    memory_format: Any
    is_quantized: bool
    qparams: dict


def _extract_tensor_metadata(result) -> TensorMetadata:
    import ember
    memory_format = None
    for fmt in (ember.contiguous_format, ember.channels_last, ember.channels_last_3d):
        if result.is_contiguous(memory_format=fmt):
            memory_format = fmt
            break
    return TensorMetadata(result.shape, result.dtype, result.requires_grad, result.stride(),
                          memory_format, False, {})


class ShapeProp(Interpreter):
    """Runs the module on example inputs, storing ``TensorMetadata`` (shape, dtype,
    requires_grad, stride, memory_format, ...) of every tensor result in
    ``node.meta['tensor_meta']`` (a structure of them for tuple results) and the result's
    type in ``node.meta['type']``.

    Example::

        >>> ShapeProp(gm).propagate(ember.randn(2, 3))
        >>> gm.graph.output_node().meta['tensor_meta'].shape
    """

    def __init__(self, gm, fake_mode=None) -> None:
        super().__init__(gm)

    def run_node(self, n: Node) -> Any:
        from ember._tensor import Tensor
        result = super().run_node(n)
        found_tensor = False

        def extract(obj):
            nonlocal found_tensor
            if isinstance(obj, Tensor):
                found_tensor = True
                return _extract_tensor_metadata(obj)
            return obj
        meta = map_aggregate(result, extract)
        if found_tensor:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args) -> Any:
        """Run the module on ``args``, filling in the metadata; returns its result."""
        return super().run(*args)
