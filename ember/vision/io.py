"""Reading and writing images as tensors (torchvision.io's image functions), backed by Pillow.

Encoded images travel as 1-D uint8 tensors of the file's bytes; decoded images are (C, H, W)
uint8 tensors (uint16 for 16-bit greyscale PNGs read unchanged or as grey).

Example::

    >>> img = read_image("cat.jpg")                  # uint8 (3, H, W)
    >>> gray = read_image("cat.jpg", ImageReadMode.GRAY)
    >>> write_png(img, "cat.png")
"""
from __future__ import annotations

import enum
import io as _io
import os
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make


class ImageReadMode(enum.Enum):
    """The channels to decode into: as stored, grey, grey + alpha, RGB or RGB + alpha."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4


_PIL_MODES = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
              ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")


def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of the file at ``path`` as a 1-D uint8 tensor."""
    with open(os.fspath(path), "rb") as f:
        return _make(np.frombuffer(f.read(), np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    """Write a 1-D uint8 tensor of bytes to ``filename``."""
    _check_bytes(data, "data")
    with open(os.fspath(filename), "wb") as f:
        f.write(data.cpu()._data.tobytes())


def _check_bytes(data, name: str) -> None:
    if not isinstance(data, Tensor):
        raise TypeError(f"{name} should be a Tensor of bytes. Got {type(data).__name__}")
    if data.dtype != _dt.uint8 or data.ndim != 1:
        raise ValueError(f"{name} should be a 1-D uint8 tensor of bytes. Got a tensor of "
                         f"dtype {data.dtype} and shape {tuple(data.shape)}")


def _read_mode(mode) -> ImageReadMode:
    if isinstance(mode, str):
        return ImageReadMode[mode.upper()]
    return ImageReadMode(mode)


def _decode(data: bytes, mode, apply_exif_orientation: bool, source: str,
            formats: tuple | None = None) -> Tensor:
    """Decode ``data`` with Pillow (restricted to ``formats`` if given) into a CHW tensor."""
    from PIL import Image, ImageOps
    mode = _read_mode(mode)
    kind = " or ".join(formats) if formats else "an image"
    try:
        img = Image.open(_io.BytesIO(data), formats=formats)
        img.load()
        if apply_exif_orientation:
            img = ImageOps.exif_transpose(img)
        img = _convert(img, mode)
    # Pillow's decoders answer malformed input with many exception types (OSError, SyntaxError,
    # ValueError, struct.error, DecompressionBombError, ...): all mean "not a decodable image".
    except Exception as exc:
        raise RuntimeError(f"could not decode {source} as {kind}: {exc}") from exc
    arr = np.asarray(img)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return _make(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _convert(img, mode: ImageReadMode):
    """Pillow's image in the requested channels; 16-bit grey stays 16-bit when kept grey."""
    from PIL import Image
    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img).astype(np.uint16)
        if mode in (ImageReadMode.UNCHANGED, ImageReadMode.GRAY):
            return wide
        img = Image.fromarray((wide >> 8).astype(np.uint8), "L")
    if mode != ImageReadMode.UNCHANGED:
        return img.convert(_PIL_MODES[mode])
    if img.mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if img.mode == "1":
        return img.convert("L")
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def _source(input) -> tuple:
    """(the encoded bytes, a name for error messages) of a tensor of bytes or a path."""
    if isinstance(input, (str, os.PathLike)):
        return read_file(input).numpy().tobytes(), f"file {os.fspath(input)!r}"
    _check_bytes(input, "input")
    return input.cpu()._data.tobytes(), "the given bytes"


def decode_image(input, mode=ImageReadMode.UNCHANGED,
                 apply_exif_orientation: bool = False) -> Tensor:
    """Decode an image (any format Pillow reads: PNG, JPEG, GIF, WebP, BMP, ...) given as a
    1-D uint8 tensor of its bytes or a path, into a (C, H, W) uint8 tensor.

    Args:
        input: the encoded bytes, or a file path.
        mode: an ``ImageReadMode`` (or its name) choosing the output channels.
        apply_exif_orientation: turn the image as its EXIF orientation tag says.

    Raises:
        RuntimeError: the data is not a decodable image.
    """
    data, source = _source(input)
    return _decode(data, mode, apply_exif_orientation, source)


def decode_png(input, mode=ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Decode a PNG image (a 1-D uint8 tensor of its bytes) into a (C, H, W) tensor."""
    data, source = _source(input)
    return _decode(data, mode, apply_exif_orientation, source, ("PNG",))


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, device="cpu",
                apply_exif_orientation: bool = False):
    """Decode a JPEG image (a 1-D uint8 tensor of its bytes), or a list of them, into
    (C, H, W) uint8 tensors on ``device``."""
    if isinstance(input, (list, tuple)):
        return [decode_jpeg(x, mode, device, apply_exif_orientation) for x in input]
    data, source = _source(input)
    return _decode(data, mode, apply_exif_orientation, source, ("JPEG",)).to(device)


def read_image(path: str | os.PathLike, mode=ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Read and decode the image file at ``path`` into a (C, H, W) uint8 tensor.

    Example::

        >>> image = read_image("img.png")   # as the Datasets & DataLoaders tutorial reads
    """
    return decode_image(os.fspath(path), mode, apply_exif_orientation)


def _to_pil(input: Tensor, channels: tuple, what: str):
    from PIL import Image
    if not isinstance(input, Tensor):
        raise TypeError(f"input should be a Tensor. Got {type(input).__name__}")
    if input.dtype != _dt.uint8:
        raise ValueError(f"Input tensor dtype should be uint8 to encode {what}. Got "
                         f"{input.dtype}")
    if input.ndim != 3 or input.shape[0] not in channels:
        raise ValueError(f"Input tensor should be (C, H, W) with C in {channels} to encode "
                         f"{what}. Got shape {tuple(input.shape)}")
    arr = input.cpu()._data.transpose(1, 2, 0)
    arr = np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    return Image.fromarray(arr, {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[input.shape[0]])


def _encoded(img, **options) -> Tensor:
    buffer = _io.BytesIO()
    img.save(buffer, **options)
    return _make(np.frombuffer(buffer.getvalue(), np.uint8).copy())


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """Encode a (C, H, W) uint8 tensor (C = 1, 2, 3 or 4) as PNG bytes (a 1-D uint8 tensor);
    ``compression_level`` runs from 0 (none) to 9."""
    if not 0 <= compression_level <= 9:
        raise ValueError("Compression level should be between 0 and 9")
    return _encoded(_to_pil(input, (1, 2, 3, 4), "PNG"), format="PNG",
                    compress_level=compression_level)


def encode_jpeg(input, quality: int = 75):
    """Encode a (C, H, W) uint8 tensor (C = 1 or 3), or a list of them, as JPEG bytes with
    ``quality`` from 1 to 100."""
    if not 1 <= quality <= 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    if isinstance(input, (list, tuple)):
        return [encode_jpeg(x, quality) for x in input]
    return _encoded(_to_pil(input, (1, 3), "JPEG"), format="JPEG", quality=quality)


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Encode ``input`` as PNG and write it to ``filename``."""
    write_file(filename, encode_png(input, compression_level))


def write_jpeg(input: Tensor, filename: str | os.PathLike, quality: int = 75) -> None:
    """Encode ``input`` as JPEG and write it to ``filename``."""
    write_file(filename, encode_jpeg(input, quality))


def decode_gif(input: Tensor) -> Tensor:
    """Decode a GIF, a 1-D uint8 tensor of its bytes, into RGB uint8 frames: (3, H, W) for one
    image, (N, 3, H, W) for N. As torchvision's decoder does, a frame whose disposal method is
    "do not dispose" is drawn over the previous frame, any other over the background colour;
    transparent pixels show what is beneath.

    Raises:
        RuntimeError: the data is not a GIF.
    """
    from ember.vision._gif import decode_gif_frames
    _check_bytes(input, "input")
    frames = decode_gif_frames(input.cpu()._data.tobytes())
    return _make(frames[0] if len(frames) == 1 else frames)


def decode_webp(input: Tensor, mode=ImageReadMode.UNCHANGED) -> Tensor:
    """Decode a (still) WebP image, a 1-D uint8 tensor of its bytes, into a (3 or 4, H, W) uint8
    tensor: RGB, or RGBA when the image has alpha and ``mode`` is UNCHANGED; ``mode`` RGB or
    RGB_ALPHA forces one. WebP has no grey output: the grey modes act as UNCHANGED (warning).

    Raises:
        RuntimeError: the data is not a WebP image, or it is animated.
    """
    return _decode_colour(input, _read_mode(mode), "WEBP", "Webp")


def _decode_colour(input: Tensor, mode: ImageReadMode, pillow_format: str, name: str) -> Tensor:
    """torchvision's RGB[A]-only decoders (WebP, AVIF, HEIC) on Pillow."""
    from PIL import Image
    data, source = _source(input)
    if mode in (ImageReadMode.GRAY, ImageReadMode.GRAY_ALPHA):
        warnings.warn(f"{name} does not support grayscale conversions. The returned tensor will "
                      "be in the colorspace of the original image.", stacklevel=3)
        mode = ImageReadMode.UNCHANGED
    try:
        img = Image.open(_io.BytesIO(data), formats=(pillow_format,))
    except Exception as exc:
        raise RuntimeError(f"could not decode {source} as {pillow_format}: {exc}") from exc
    if getattr(img, "is_animated", False):
        raise RuntimeError(f"Animated {name.lower()} files are not supported.")
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    rgb = mode == ImageReadMode.RGB or (mode == ImageReadMode.UNCHANGED and not has_alpha)
    return _decode(data, ImageReadMode.RGB if rgb else ImageReadMode.RGB_ALPHA, False, source,
                   (pillow_format,))


_EXTRA_DECODERS_MISSING = (
    "In order to enable the AVIF and HEIC decoding capabilities of torchvision, you need to "
    "`pip install torchvision-extra-decoders`. Just install the package, you don't need to "
    "update your code. This is only supported on Linux, and this feature is still in BETA "
    "stage. Please let us know of any issue: https://github.com/pytorch/vision/issues/new/choose."
    " Note that `torchvision-extra-decoders` is released under the LGPL license. ")


def _decode_extra(input: Tensor, mode, pillow_format: str, name: str) -> Tensor:
    """AVIF and HEIC through Pillow's plugin for them, torchvision's error without one."""
    from PIL import Image
    Image.init()
    if pillow_format not in Image.OPEN:
        raise RuntimeError(_EXTRA_DECODERS_MISSING)
    if input.dtype != _dt.uint8:
        raise RuntimeError(f"Input tensor must have uint8 data type, got {input.dtype}")
    return _decode_colour(input, _read_mode(mode), pillow_format, name)


def decode_avif(input: Tensor, mode=ImageReadMode.UNCHANGED) -> Tensor:
    """Decode an AVIF image (a 1-D uint8 tensor of its bytes) into a (3 or 4, H, W) uint8
    tensor, as :func:`decode_webp` does; needs Pillow's AVIF support."""
    return _decode_extra(input, mode, "AVIF", "Avif")


def decode_heic(input: Tensor, mode=ImageReadMode.UNCHANGED) -> Tensor:
    """Decode an HEIC image (a 1-D uint8 tensor of its bytes) into a (3 or 4, H, W) uint8
    tensor, as :func:`decode_webp` does; needs a Pillow plugin registering "HEIF"."""
    return _decode_extra(input, mode, "HEIF", "Heic")


__all__ = ["ImageReadMode", "decode_avif", "decode_gif", "decode_heic", "decode_image",
           "decode_jpeg", "decode_png", "decode_webp", "encode_jpeg", "encode_png", "read_file",
           "read_image", "write_file", "write_jpeg", "write_png"]
