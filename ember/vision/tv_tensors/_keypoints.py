"""``KeyPoints``: a ``(..., 2)`` tensor of (x, y) points with the size of their image."""
from __future__ import annotations

from typing import Sequence

from ember._tensor import Tensor
from ember.utils._pytree import tree_flatten
from ember.vision.tv_tensors._image import _as_tensor
from ember.vision.tv_tensors._tv_tensor import TVTensor, _view_as


class KeyPoints(TVTensor):
    """Points, ``(..., 2)`` of (x, y) (one point may be given as ``(2,)``), on an image of
    ``canvas_size = (height, width)``: polygons as ``(N, P, 2)``, skeletons as ``(N, J, 2)``.

    Example::

        >>> KeyPoints([[1, 2], [3, 4]], canvas_size=(8, 8)).canvas_size
        (8, 8)
    """

    canvas_size: tuple

    @classmethod
    def _wrap(cls, tensor: Tensor, *, canvas_size: Sequence[int],
              check_dims: bool = True) -> KeyPoints:
        if check_dims:
            if tensor.ndim == 1:
                tensor = tensor.unsqueeze(0)
            elif tensor.shape[-1] != 2:
                raise ValueError(f"Expected a tensor of shape (..., 2), not {tuple(tensor.shape)}")
        points = _view_as(tensor, cls)
        points.canvas_size = tuple(int(s) for s in canvas_size)
        return points

    def __new__(cls, data, *, canvas_size: Sequence[int], dtype=None, device=None,
                requires_grad: bool | None = None):
        tensor = _as_tensor(data, dtype, device, requires_grad)
        return cls._wrap(tensor, canvas_size=canvas_size)

    def __init__(self, *args, **kwargs) -> None:
        pass

    @classmethod
    def _wrap_output(cls, output, args: tuple = (), kwargs: dict | None = None):
        # the op dropped the metadata: take it from the first points among the arguments
        leaves, _ = tree_flatten((args, kwargs or {}))
        first = next(x for x in leaves if isinstance(x, KeyPoints))
        if isinstance(output, Tensor) and not isinstance(output, KeyPoints):
            return cls._wrap(output, canvas_size=first.canvas_size, check_dims=False)
        if isinstance(output, (tuple, list)):
            return type(output)(cls._wrap_output(o, args, kwargs) for o in output)
        return output

    def __repr__(self, **kwargs) -> str:
        return self._make_repr(canvas_size=self.canvas_size)
