"""Summary protos for TensorBoard (the ``tensorboard`` package's own protobuf classes): scalars,
histograms, images, text and precision-recall curves, from ember tensors, NumPy arrays or
numbers."""
from __future__ import annotations

import io

import numpy as np
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData


def to_numpy(value) -> np.ndarray:
    """A tensor (any device, detached), array or number as a NumPy array."""
    from ember._tensor import Tensor
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def scalar(tag: str, value) -> Summary:
    value = to_numpy(value)
    if value.size != 1:
        raise ValueError(f"add_scalar: {tag!r} needs one value, got shape {value.shape}")
    return Summary(value=[Summary.Value(tag=tag, simple_value=float(value.reshape(())))])


def _tensorflow_bins() -> np.ndarray:
    """TensorFlow's default histogram bucket edges: +-1e-12 growing by 10% to 1e20, and 0."""
    positive = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e20 / 1e-12) / np.log(1.1))))
    return np.concatenate([-positive[::-1], [0.0], positive])


def histogram(tag: str, values, bins="tensorflow", max_bins: int | None = None) -> Summary:
    """The distribution of ``values`` in ``bins`` (NumPy's bin argument, or ``"tensorflow"``),
    the empty buckets at the ends trimmed but one on the left, as PyTorch writes it."""
    values = to_numpy(values).astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("add_histogram: the values are empty")
    edges = _tensorflow_bins() if bins == "tensorflow" else bins
    counts, limits = np.histogram(values, bins=edges)
    if max_bins is not None and len(counts) > max_bins:  # merge neighbours
        group = -(-len(counts) // max_bins)
        counts = np.add.reduceat(counts, np.arange(0, len(counts), group))
        limits = np.concatenate([limits[:-1:group], limits[-1:]])
    nonzero = np.flatnonzero(counts)
    first, last = (max(nonzero[0] - 1, 0), nonzero[-1] + 1) if nonzero.size else (0, 1)
    proto = HistogramProto(min=values.min(), max=values.max(), num=values.size,
                           sum=values.sum(), sum_squares=np.dot(values, values),
                           bucket_limit=limits[first + 1:last + 1].tolist(),
                           bucket=counts[first:last].tolist())
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def to_hwc(image, dataformats: str) -> np.ndarray:
    """An image in ``dataformats`` (CHW, HWC, HW; NCHW/NHWC as a grid) as uint8 HWC."""
    image = to_numpy(image)
    dataformats = dataformats.upper()
    if len(dataformats) != image.ndim:
        raise ValueError(f"image of shape {image.shape} does not match dataformats "
                         f"{dataformats!r}")
    if dataformats.startswith("N"):
        from ember import tensor
        from ember.vision.utils import make_grid
        nchw = image if dataformats == "NCHW" else image.transpose(0, 3, 1, 2)
        nrow = int(np.ceil(np.sqrt(len(nchw))))
        image, dataformats = make_grid(tensor(nchw), nrow=nrow, padding=0).numpy(), "CHW"
    order = [dataformats.index(c) for c in "HWC" if c in dataformats]
    image = image.transpose(order)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float64), 0, 1) * 255 + 0.5).astype(np.uint8)
    return image


def image(tag: str, image_hwc: np.ndarray) -> Summary:
    from PIL import Image
    height, width, channels = image_hwc.shape
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise ValueError(f"add_image: images have 1, 3 or 4 channels, not {channels}")
    buffer = io.BytesIO()
    Image.fromarray(image_hwc[:, :, 0] if channels == 1 else image_hwc, mode).save(buffer,
                                                                                   "PNG")
    proto = Summary.Image(height=height, width=width, colorspace=channels,
                          encoded_image_string=buffer.getvalue())
    return Summary(value=[Summary.Value(tag=tag, image=proto)])


def _plugin(name: str, content: bytes) -> SummaryMetadata:
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=name,
                                                                  content=content))


def text(tag: str, text_string: str) -> Summary:
    tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf-8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    metadata = _plugin("text", TextPluginData(version=0).SerializeToString())
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=metadata,
                                        tensor=tensor)])


def pr_curve(tag: str, labels, predictions, num_thresholds: int = 127,
             weights=None) -> Summary:
    """Counts of true/false positives/negatives, precision and recall at ``num_thresholds``
    evenly spaced thresholds on ``predictions`` (probabilities in [0, 1])."""
    labels = to_numpy(labels).astype(bool).reshape(-1)
    predictions = to_numpy(predictions).astype(np.float64).reshape(-1)
    weights = np.ones_like(predictions) if weights is None else to_numpy(weights).reshape(-1)
    num_thresholds = min(num_thresholds, 127)
    bucket = np.floor(predictions * (num_thresholds - 1)).astype(np.int64)
    true_hist = np.bincount(bucket, weights=labels * weights, minlength=num_thresholds)
    false_hist = np.bincount(bucket, weights=~labels * weights, minlength=num_thresholds)
    tp = np.cumsum(true_hist[::-1])[::-1]  # predictions at or above each threshold
    fp = np.cumsum(false_hist[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    data = np.stack([tp, fp, tn, fn, precision, recall]).astype(np.float32)
    tensor = TensorProto(dtype="DT_FLOAT", float_val=data.reshape(-1).tolist(),
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=s)
                                                            for s in data.shape]))
    metadata = _plugin("pr_curves", PrCurvePluginData(
        version=0, num_thresholds=num_thresholds).SerializeToString())
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])
