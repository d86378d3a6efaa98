"""``BoundingBoxes``: an ``(N, 4)`` tensor of boxes with their format and the size of the image
they are drawn on."""
from __future__ import annotations

import enum
from typing import Any, Sequence

from ember._tensor import Tensor
from ember.utils._pytree import tree_flatten
from ember.vision.tv_tensors._image import _as_tensor
from ember.vision.tv_tensors._tv_tensor import TVTensor, _view_as


class BoundingBoxFormat(enum.Enum):
    """How the four numbers of a box are laid out: corners ``XYXY`` (x1, y1, x2, y2), ``XYWH``
    (x1, y1, width, height) or ``CXCYWH`` (centre x, centre y, width, height)."""

    XYXY = "XYXY"
    XYWH = "XYWH"
    CXCYWH = "CXCYWH"


# torchvision's rotated formats, which ember's BoundingBoxFormat does not hold
_ROTATED_FORMATS = ("XYWHR", "CXCYWHR", "XYXYXYXY")


def is_rotated_bounding_format(format: BoundingBoxFormat | str) -> bool:  # noqa: A002
    """Whether ``format`` (a BoundingBoxFormat or its name) describes rotated boxes: XYWHR,
    CXCYWHR or XYXYXYXY; none of ember's formats does."""
    if isinstance(format, BoundingBoxFormat):
        return format.value in _ROTATED_FORMATS
    if isinstance(format, str):
        return format in _ROTATED_FORMATS
    raise ValueError(f"format should be str or BoundingBoxFormat, got {type(format)}")


class BoundingBoxes(TVTensor):
    """Boxes, ``(N, 4)`` (one box may be given as ``(4,)``), in ``format`` on an image of
    ``canvas_size = (height, width)``; ``clamping_mode`` ("soft", "hard" or None) says whether
    transforms clip them to the canvas (None: never; the two modes differ only for rotated
    boxes).

    Example::

        >>> b = BoundingBoxes([[0, 0, 4, 2]], format="XYXY", canvas_size=(8, 8))
        >>> b.format, b.canvas_size
        (<BoundingBoxFormat.XYXY: 'XYXY'>, (8, 8))
    """

    format: BoundingBoxFormat
    canvas_size: tuple
    clamping_mode: str | None

    @classmethod
    def _wrap(cls, tensor: Tensor, *, format, canvas_size: Sequence[int],
              clamping_mode: str | None = "soft", check_dims: bool = True) -> BoundingBoxes:
        if check_dims:
            if tensor.ndim == 1:
                tensor = tensor.unsqueeze(0)
            elif tensor.ndim != 2:
                raise ValueError(f"Expected a 1D or 2D tensor, got {tensor.ndim}D")
        if clamping_mode is not None and clamping_mode not in ("hard", "soft"):
            raise ValueError(f"clamping_mode must be None, hard or soft, got {clamping_mode}.")
        if isinstance(format, str):
            format = BoundingBoxFormat[format.upper()]
        boxes = _view_as(tensor, cls)
        boxes.format = format
        boxes.canvas_size = tuple(int(s) for s in canvas_size)
        boxes.clamping_mode = clamping_mode
        return boxes

    def __new__(cls, data, *, format, canvas_size: Sequence[int],
                clamping_mode: str | None = "soft", dtype=None, device=None,
                requires_grad: bool | None = None):
        tensor = _as_tensor(data, dtype, device, requires_grad)
        return cls._wrap(tensor, format=format, canvas_size=canvas_size,
                         clamping_mode=clamping_mode)

    def __init__(self, *args, **kwargs) -> None:
        pass

    @classmethod
    def _wrap_output(cls, output, args: tuple = (), kwargs: dict | None = None):
        # the op dropped the metadata: take it from the first boxes among the arguments
        leaves, _ = tree_flatten((args, kwargs or {}))
        first = next(x for x in leaves if isinstance(x, BoundingBoxes))
        if isinstance(output, Tensor) and not isinstance(output, BoundingBoxes):
            return cls._wrap(output, format=first.format, canvas_size=first.canvas_size,
                             clamping_mode=first.clamping_mode, check_dims=False)
        if isinstance(output, (tuple, list)):
            return type(output)(cls._wrap_output(o, args, kwargs) for o in output)
        return output

    def __repr__(self, **kwargs: Any) -> str:
        return self._make_repr(format=self.format, canvas_size=self.canvas_size,
                               clamping_mode=self.clamping_mode)
