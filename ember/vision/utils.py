"""``make_grid`` and ``save_image``: tile a batch of images, write it as a picture; and
``draw_bounding_boxes``, ``draw_segmentation_masks``, ``draw_keypoints``: annotate an image."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make


def make_grid(tensor: Tensor | list, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a (B, C, H, W) batch (or a list of CHW images) into one (3 or C, H', W') image,
    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` between them.

    ``normalize`` shifts each image (``scale_each``) or the batch to [0, 1] using
    ``value_range`` (default: min and max).
    """
    if isinstance(tensor, (list, tuple)):
        data = np.stack([t._data for t in tensor])
    elif isinstance(tensor, Tensor):
        data = tensor.detach().cpu()._data
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if data.ndim == 2:
        data = data[None]
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4:
        raise ValueError(f"make_grid: expected a 2-, 3- or 4-D tensor, got {data.ndim}-D")
    if data.shape[1] == 1:
        data = np.concatenate([data] * 3, axis=1)
    if normalize:
        data = data.astype(np.float32, copy=True)
        groups = data if scale_each else data[None]
        for img in groups:
            low, high = value_range if value_range is not None else (img.min(), img.max())
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)
    n, c, h, w = data.shape
    if n == 1:
        return _make(data[0].copy())
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    height, width = h + padding, w + padding
    grid = np.full((c, height * ymaps + padding, width * xmaps + padding), pad_value,
                   data.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:y * height + padding + h,
             x * width + padding:x * width + padding + w] = data[k]
    return _make(grid)


def save_image(tensor: Tensor | list, fp, format: str | None = None, **kwargs) -> None:  # noqa: A002
    """Save a tensor (or a batch, tiled by ``make_grid(**kwargs)``) with values in [0, 1] as
    an image file (PNG, JPEG, ... by extension or ``format``)."""
    from PIL import Image
    grid = make_grid(tensor, **kwargs)._data
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(arr)).save(fp, format=format)


# ---------------------------------------------------------------------------------------------
# Drawing on images: uint8 or float (in [0, 1]) CHW tensors; drawn with Pillow on uint8


def _generate_color_palette(num_objects: int) -> list:
    palette = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1], dtype=np.int64)
    return [tuple(int(v) for v in (i * palette) % 255) for i in range(num_objects)]


def _parse_colors(colors, *, num_objects: int, dtype=_dt.uint8) -> list:
    """One RGB triple per object from None (a fixed palette), one colour (a name or a triple)
    for all, or a list; in [0, 1] for float images."""
    from PIL import ImageColor
    if colors is None:
        colors = _generate_color_palette(num_objects)
    elif isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(f"Number of colors must be equal or larger than the number of "
                             f"objects, but got {len(colors)} < {num_objects}.")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got "
                         f"{colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got "
                         f"{colors}.")
    else:
        colors = [colors] * num_objects
    colors = [ImageColor.getrgb(c) if isinstance(c, str) else tuple(c) for c in colors]
    if dtype.is_floating_point:
        colors = [tuple(v / 255 for v in c) for c in colors]
    return colors


def _check_image(image, channels: tuple) -> None:
    if not isinstance(image, Tensor):
        raise TypeError(f"The image must be a tensor, got {type(image)}")
    if not (image.dtype == _dt.uint8 or image.dtype.is_floating_point):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.shape[0] not in channels:
        raise ValueError("Only grayscale and RGB images are supported" if len(channels) > 1
                         else "Pass an RGB image. Other Image formats are not supported")


def _to_pil_rgb(image: Tensor):
    from PIL import Image

    from ember.vision.transforms.v2.functional import to_dtype
    if image.dtype.is_floating_point:
        image = to_dtype(image, _dt.uint8, scale=True)
    array = np.asarray(image.cpu().numpy())
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    return Image.fromarray(np.ascontiguousarray(array.transpose(1, 2, 0)))


def _from_pil(picture, dtype) -> Tensor:
    from ember.vision.transforms.v2.functional import to_dtype
    out = _make(np.ascontiguousarray(np.asarray(picture).transpose(2, 0, 1)))
    return to_dtype(out, dtype, scale=True) if dtype.is_floating_point else out


def draw_bounding_boxes(image: Tensor, boxes: Tensor, labels: list | None = None, colors=None,
                        fill: bool | None = False, width: int = 1, font: str | None = None,
                        font_size: int | None = None, label_colors=None,
                        label_background_colors=None, fill_labels: bool = False) -> Tensor:
    """``image`` (C = 1 or 3; a grey image comes back RGB) with ``boxes`` (N, 4, XYXY,
    truncated to whole pixels) outlined ``width`` pixels wide, filled at alpha 100/255 if
    ``fill``, and each ``labels`` text written inside its box's top-left corner."""
    from PIL import ImageDraw, ImageFont
    _check_image(image, (1, 3))
    box_array = np.asarray(boxes.cpu().numpy())
    if box_array.shape[-1] == 4 and ((box_array[:, 0] > box_array[:, 2]).any()
                                     or (box_array[:, 1] > box_array[:, 3]).any()):
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "torchvision.ops.box_convert to convert them")
    num_boxes = box_array.shape[0]
    if num_boxes == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * num_boxes
    elif len(labels) != num_boxes:
        raise ValueError(f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. "
                         "Please specify labels for each box.")
    colors = _parse_colors(colors, num_objects=num_boxes)
    text_colors = (_parse_colors(label_colors or "black", num_objects=num_boxes)
                   if label_colors or fill_labels else list(colors))
    backgrounds = (_parse_colors(label_background_colors, num_objects=num_boxes)
                   if fill_labels and label_background_colors else list(colors))
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.",
                          stacklevel=2)
        text_font = ImageFont.load_default()
    else:
        text_font = ImageFont.truetype(font=font, size=font_size or 10)
    picture = _to_pil_rgb(image)
    draw = ImageDraw.Draw(picture, "RGBA" if fill else None)
    margin = width + 1
    for box, color, label, text_color, background in zip(
            box_array.astype(np.int64).tolist(), colors, labels, text_colors, backgrounds):
        draw.rectangle(box, width=width, outline=color, fill=color + (100,) if fill else None)
        if label is not None:
            corner = (box[0] + margin, box[1] + margin)
            if fill_labels:
                left, top, right, bottom = draw.textbbox(corner, label, font=text_font)
                draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=background)
            draw.text(corner, label, fill=text_color, font=text_font)
    return _from_pil(picture, image.dtype)


def draw_segmentation_masks(image: Tensor, masks: Tensor, alpha: float = 0.8,
                            colors=None) -> Tensor:
    """``image`` (RGB) blended with ``masks`` (bool, (N, H, W) or (H, W)) painted in
    ``colors``: ``image * (1 - alpha) + painted * alpha``, pixels under several masks painted
    black."""
    import ember
    _check_image(image, (3,))
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if masks.dtype != _dt.bool:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if tuple(masks.shape[-2:]) != tuple(image.shape[-2:]):
        raise ValueError("The image and the masks must have the same height and width")
    if masks.shape[0] == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    with ember.no_grad():
        painted = image.detach().clone()
        colors = _parse_colors(colors, num_objects=masks.shape[0], dtype=image.dtype)
        for mask, color in zip(masks, colors):
            painted[:, mask] = ember.tensor(color, dtype=image.dtype)[:, None]
        painted[:, masks.sum(dim=0) > 1] = 0
        return (image * (1 - alpha) + painted * alpha).to(image.dtype)


def draw_keypoints(image: Tensor, keypoints: Tensor, connectivity: list | None = None,
                   colors=None, radius: int = 2, width: int = 3,
                   visibility: Tensor | None = None) -> Tensor:
    """``image`` (RGB) with each visible keypoint ((N, K, 2), truncated to whole pixels) drawn
    as a disc of ``radius`` in ``colors`` and each ``connectivity`` pair of visible points
    joined by a line ``width`` wide."""
    from PIL import ImageDraw
    _check_image(image, (3,))
    if keypoints.ndim != 3:
        raise ValueError("keypoints must be of shape (num_instances, K, 2)")
    visible = (np.ones(tuple(keypoints.shape[:-1]), dtype=bool) if visibility is None
               else np.asarray(visibility.cpu().numpy()).astype(bool))
    if visible.ndim == 3:
        visible = visible.squeeze(-1)
    if visible.ndim != 2:
        raise ValueError(f"visibility must be of shape (num_instances, K). Got "
                         f"ndim={visible.ndim}")
    if visible.shape != tuple(keypoints.shape[:-1]):
        raise ValueError("keypoints and visibility must have the same dimensionality for "
                         f"num_instances and K. Got visibility.shape={visible.shape} and "
                         f"keypoints.shape={tuple(keypoints.shape)}")
    picture = _to_pil_rgb(image)
    draw = ImageDraw.Draw(picture)
    points = np.asarray(keypoints.cpu().numpy()).astype(np.int64).tolist()
    for instance, shown in zip(points, visible.tolist()):
        for (x, y), on in zip(instance, shown):
            if on:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colors,
                             outline=None, width=0)
        for start, end in connectivity or ():
            if shown[start] and shown[end]:
                draw.line((tuple(instance[start]), tuple(instance[end])), width=width)
    return _from_pil(picture, image.dtype)


# ---------------------------------------------------------------------------------------------
# Optical flow as colours

# The Middlebury colour wheel (Baker et al., "A Database and Evaluation Methodology for Optical
# Flow", ICCV 2007): six arcs, each holding one RGB channel at 255 while another ramps up or
# down, from red through yellow, green, cyan, blue and magenta back to red. Each entry is
# (hues in the arc, full channel, ramping channel, whether it rises).
_WHEEL_ARCS = ((15, 0, 1, True), (6, 1, 0, False), (4, 1, 2, True), (11, 2, 1, False),
               (13, 2, 0, True), (6, 0, 2, False))


def _make_colorwheel() -> np.ndarray:
    """The colour wheel's 55 hues, (55, 3) float32 in [0, 255]."""
    arcs = []
    for hues, full, ramp, rising in _WHEEL_ARCS:
        arc = np.zeros((hues, 3), np.float32)
        steps = np.floor(255 * np.arange(hues) / hues)
        arc[:, full] = 255
        arc[:, ramp] = steps if rising else 255 - steps
        arcs.append(arc)
    return np.concatenate(arcs)


def flow_to_image(flow: Tensor) -> Tensor:
    """Colour an optical flow by the Middlebury colour wheel: the hue is the flow's direction,
    the saturation its magnitude relative to the largest one in the batch (which is white's
    opposite: zero flow is white).

    Args:
        flow (Tensor[N, 2, H, W] or Tensor[2, H, W]): float32 flow, (dx, dy) per pixel.

    Returns:
        Tensor[N, 3, H, W] or Tensor[3, H, W]: the RGB image, uint8.

    Example::

        >>> flow_to_image(ember.zeros(2, 4, 4)).shape
        torch.Size([3, 4, 4])
    """
    if flow.dtype != _dt.float32:
        raise ValueError(f"Flow should be of dtype torch.float, got {flow.dtype}.")
    batched = flow.ndim == 4
    if flow.ndim not in (3, 4) or flow.shape[-3] != 2:
        raise ValueError("Input flow should have shape (2, H, W) or (N, 2, H, W), got "
                         f"{flow.shape}.")
    data = flow.detach()._data
    data = data if batched else data[None]
    xp = flow._xp
    # float32 throughout, in torchvision's order of operations, so that the floors agree
    max_norm = xp.sqrt((data ** 2).sum(1)).max()
    data = data / (max_norm + np.finfo(np.float32).eps)
    norm = xp.sqrt((data ** 2).sum(1))
    wheel = xp.asarray(_make_colorwheel())
    angle = xp.arctan2(-data[:, 1], -data[:, 0]) / np.float32(math.pi)
    position = (angle + 1) / 2 * (len(wheel) - 1)
    low = xp.floor(position)
    frac = (position - low)[:, None]
    low = low.astype(np.int64)
    high = xp.where(low + 1 == len(wheel), 0, low + 1)
    hue = (1 - frac) * (wheel[low] / 255.0).transpose(0, 3, 1, 2)
    hue = hue + frac * (wheel[high] / 255.0).transpose(0, 3, 1, 2)
    colour = 1 - norm[:, None] * (1 - hue)
    image = xp.floor(255 * colour).astype(np.uint8)
    return _make(image if batched else image[0])
