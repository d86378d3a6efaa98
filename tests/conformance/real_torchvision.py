"""Real torchvision under real (CPU-only) PyTorch, as the oracle for ember.vision.

torchvision's wheel on this index is built against CUDA PyTorch, so its compiled ops
(``torch.ops.torchvision.*``) do not load here. Its Python code (models, transforms, box
utilities) is what the conformance tests compare with; the compiled kernels it calls are
registered here as reference implementations written with plain PyTorch ops (greedy NMS,
bilinear RoIAlign, max RoIPool, deformable convolution), independently of ember, with gradients
through autograd.
(torchvision's own pure-PyTorch RoIAlign fallback is not the oracle: unlike its kernels, it
interpolates samples lying more than a pixel outside the feature map instead of zeroing them.)

``real_torchvision()`` returns the module (skipping the calling test without torch or
torchvision); ``python tests/conformance/real_torchvision.py script.py [args]`` runs a script
under real PyTorch with torchvision usable.
"""
from __future__ import annotations

import importlib.util
import math
import os
import runpy
import sys

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align": ("roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height,"
                  " SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"),
    "roi_pool": ("roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height,"
                 " SymInt pooled_width) -> (Tensor, Tensor)"),
    "deform_conv2d": ("deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask,"
                      " Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w,"
                      " SymInt dilation_h, SymInt dilation_w, SymInt groups, SymInt offset_groups,"
                      " bool use_mask) -> Tensor"),
}


def _nms(dets, scores, iou_threshold: float):
    """Greedy NMS: boxes by descending score (stable), each suppressing later ones whose IoU
    with it is strictly above the threshold."""
    import torch
    order = torch.sort(scores, stable=True, descending=True).indices
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = torch.zeros(len(dets), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        width = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
        height = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
        inter = width * height
        suppressed |= inter / (areas[i] + areas - inter) > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def _bilinear(feature, ys, xs):
    """``feature`` [C, H, W] sampled at every (y, x) of the grids ``ys`` [P] x ``xs`` [Q]
    ([C, P, Q]); samples more than one pixel outside the map are zero."""
    import torch
    height, width = feature.shape[-2:]

    def corners(coords, size):
        outside = (coords < -1.0) | (coords > size)
        coords = coords.clamp(min=0)
        low = coords.floor().long()
        at_edge = low >= size - 1
        low = torch.where(at_edge, size - 1, low)
        high = torch.where(at_edge, size - 1, low + 1)
        coords = torch.where(at_edge, low.to(coords.dtype), coords)
        frac = coords - low
        return low, high, 1 - frac, frac, outside

    y_low, y_high, wy_low, wy_high, y_out = corners(ys, height)
    x_low, x_high, wx_low, wx_high, x_out = corners(xs, width)
    rows_low, rows_high = feature[:, y_low], feature[:, y_high]
    value = (rows_low[:, :, x_low] * (wy_low[:, None] * wx_low[None])
             + rows_low[:, :, x_high] * (wy_low[:, None] * wx_high[None])
             + rows_high[:, :, x_low] * (wy_high[:, None] * wx_low[None])
             + rows_high[:, :, x_high] * (wy_high[:, None] * wx_high[None]))
    return value * ~(y_out[:, None] | x_out[None])


def _roi_align(input, rois, spatial_scale: float, pooled_height: int, pooled_width: int,
               sampling_ratio: int, aligned: bool):
    """Each bin the mean of a grid of bilinear samples (``sampling_ratio`` per side, or
    ceil(roi size / bins) when it is not positive); ``aligned`` shifts by half a pixel."""
    import torch
    offset = 0.5 if aligned else 0.0
    outputs = []
    for roi in rois.tolist():
        batch_index, box = int(roi[0]), [c * spatial_scale - offset for c in roi[1:]]
        roi_width, roi_height = box[2] - box[0], box[3] - box[1]
        if not aligned:
            roi_width, roi_height = max(roi_width, 1.0), max(roi_height, 1.0)
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_height / pooled_height)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_width / pooled_width)

        if grid_h <= 0 or grid_w <= 0:  # an empty (aligned) box: no samples
            outputs.append(input.new_zeros((input.shape[1], pooled_height, pooled_width)))
            continue

        def samples(start, bin_size, bins, grid):
            steps = torch.arange(bins, dtype=input.dtype)[:, None] * bin_size
            within = (torch.arange(grid, dtype=input.dtype)[None] + 0.5) * bin_size / grid
            return (start + steps + within).reshape(-1)

        ys = samples(box[1], roi_height / pooled_height, pooled_height, grid_h)
        xs = samples(box[0], roi_width / pooled_width, pooled_width, grid_w)
        value = _bilinear(input[batch_index], ys, xs)
        value = value.reshape(-1, pooled_height, grid_h, pooled_width, grid_w)
        outputs.append(value.sum((2, 4)) / max(grid_h * grid_w, 1))
    if not outputs:
        return input.new_zeros((0, input.shape[1], pooled_height, pooled_width))
    return torch.stack(outputs)


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _roi_pool(input, rois, spatial_scale: float, pooled_height: int, pooled_width: int):
    """Max over each bin of the RoI rounded to whole pixels (empty bins give 0, argmax -1)."""
    import torch
    channels, height, width = input.shape[1:]
    output = input.new_zeros((len(rois), channels, pooled_height, pooled_width))
    argmax = torch.full(output.shape, -1, dtype=torch.int64)
    for k, roi in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (_round_half_away(c * spatial_scale) for c in roi[1:])
        bin_h = max(y2 - y1 + 1, 1) / pooled_height
        bin_w = max(x2 - x1 + 1, 1) / pooled_width
        for i in range(pooled_height):
            h0 = min(max(math.floor(i * bin_h) + y1, 0), height)
            h1 = min(max(math.ceil((i + 1) * bin_h) + y1, 0), height)
            for j in range(pooled_width):
                w0 = min(max(math.floor(j * bin_w) + x1, 0), width)
                w1 = min(max(math.ceil((j + 1) * bin_w) + x1, 0), width)
                if h1 <= h0 or w1 <= w0:
                    continue
                window = input[int(roi[0]), :, h0:h1, w0:w1].reshape(channels, -1)
                best = window.argmax(1)
                output[k, :, i, j] = window.gather(1, best[:, None])[:, 0]
                argmax[k, :, i, j] = (h0 + best // (w1 - w0)) * width + w0 + best % (w1 - w0)
    return output, argmax


def _zero_padded_bilinear(planes, y, x):
    """``planes`` [N, C, H, W] sampled at ``(y, x)`` [N, P, Q] ([N, C, P, Q]); each of the four
    neighbouring pixels reads zero where it lies outside the map."""
    batch, channels, height, width = planes.shape
    flat = planes.reshape(batch, channels, height * width)
    y_low, x_low = y.floor(), x.floor()
    fy, fx = y - y_low, x - x_low
    value = 0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = y_low + dy, x_low + dx
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).long().flatten(1)
            pixels = flat.gather(2, index[:, None].expand(-1, channels, -1))
            pixels = pixels.reshape(batch, channels, *y.shape[1:])
            value = value + pixels * (wy * wx * inside)[:, None]
    return value


def _deform_conv2d(input, weight, offset, mask, bias, stride_h: int, stride_w: int, pad_h: int,
                   pad_w: int, dilation_h: int, dilation_w: int, groups: int,
                   offset_groups: int, use_mask: bool):
    """Kernel tap (i, j) of offset group g reads the group's channels at its regular position
    plus the offset pair ``offset[:, 2*t : 2*t+2]`` (dy, dx), t = (g*kh + i)*kw + j, times
    ``mask[:, t]`` when ``use_mask``; the samples are convolved as im2col columns per group."""
    import torch
    batch, channels, height, width = input.shape
    out_channels, _, kh, kw = weight.shape
    out_h, out_w = offset.shape[-2:]
    rows = torch.arange(out_h, dtype=input.dtype)[:, None] * stride_h - pad_h
    cols = torch.arange(out_w, dtype=input.dtype)[None, :] * stride_w - pad_w
    planes = input.reshape(batch, offset_groups, channels // offset_groups, height, width)
    columns = []
    for g in range(offset_groups):
        taps = []
        for i in range(kh):
            for j in range(kw):
                t = (g * kh + i) * kw + j
                y = rows + i * dilation_h + offset[:, 2 * t]
                x = cols + j * dilation_w + offset[:, 2 * t + 1]
                sample = _zero_padded_bilinear(planes[:, g], y, x)
                taps.append(sample * mask[:, t, None] if use_mask else sample)
        columns.append(torch.stack(taps, 2))  # [N, C / offset_groups, kh * kw, Ho, Wo]
    columns = torch.cat(columns, 1).reshape(batch, groups, -1, out_h * out_w)
    weight = weight.reshape(groups, out_channels // groups, -1)
    out = torch.einsum("gok,ngkl->ngol", weight, columns)
    return out.reshape(batch, out_channels, out_h, out_w) + bias[None, :, None, None]


# NMS is not differentiable and torchvision registers a fake kernel for it, so it takes the
# explicit key; the RoI ops decompose for autograd.
_KERNELS = {"nms": (_nms, "CompositeExplicitAutograd"), "qnms": (_nms, "CompositeExplicitAutograd"),
            "roi_align": (_roi_align, "CompositeImplicitAutograd"),
            "roi_pool": (_roi_pool, "CompositeImplicitAutograd"),
            "deform_conv2d": (_deform_conv2d, "CompositeImplicitAutograd")}
_library = None


def _register_kernels() -> None:
    """Define ``torchvision::`` ops with the reference kernels (once per process)."""
    global _library
    import torch
    if _library is not None:
        return
    _library = torch.library.Library("torchvision", "DEF")
    for name, schema in _SCHEMAS.items():
        _library.define(schema)
        _library.impl(name, *_KERNELS[name])


def real_torchvision():
    """The real torchvision module under real PyTorch; skips the calling test without them."""
    import pytest
    pytest.importorskip("torch")
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    return load()


def load():
    """Real torchvision with the reference kernels registered (raises ImportError without it)."""
    _register_kernels()
    import torchvision.extension
    torchvision.extension._has_ops = lambda: True  # the kernels above stand in for _C
    import torchvision
    # roi_align bound its own name for the check; the name is also the function's
    sys.modules["torchvision.ops.roi_align"]._has_ops = torchvision.extension._has_ops
    return torchvision


if __name__ == "__main__":
    load()
    sys.argv = sys.argv[1:]
    # as ``python script.py`` would: the script's folder first on the path (its siblings import
    # by name, ``import utils``), in place of this file's folder when run by path
    script_folder = os.path.dirname(os.path.abspath(sys.argv[0]))
    own_folder = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == own_folder:
        sys.path[0] = script_folder
    else:
        sys.path.insert(0, script_folder)
    runpy.run_path(sys.argv[0], run_name="__main__")
