"""Readers of the optical-flow and disparity file formats: Middlebury ``.flo``, ``.pfm`` and
KITTI's 16-bit PNGs holding flow and a validity mask (torchvision's ``_read_flo``,
``_read_pfm`` and ``_read_16bits_png_with_flow_and_valid_mask``). Every reader names the file
when its content is malformed."""
from __future__ import annotations

import os
import re

import numpy as np


def _whole_values(data: bytes, size: int) -> bytes:
    """``data`` cut to whole ``size``-byte values (a truncated file then fails its count check)."""
    return data[:len(data) - len(data) % size]


def _read_flo(file_name: str) -> np.ndarray:
    """The flow of a Middlebury ``.flo`` file (``PIEH``, width and height as little-endian
    int32, then H x W x 2 little-endian float32) as a float32 (2, H, W) array.

    Raises:
        ValueError: the magic number is wrong, or the file is shorter than its header says.
    """
    with open(file_name, "rb") as f:
        if f.read(4) != b"PIEH":
            raise ValueError(f"Magic number incorrect. Invalid .flo file: {file_name}")
        size = np.frombuffer(_whole_values(f.read(8), 4), "<i4")
        if size.size != 2 or (size < 0).any():
            raise ValueError(f"{file_name}: truncated or negative .flo width/height")
        width, height = (int(v) for v in size)
        data = np.frombuffer(_whole_values(f.read(8 * width * height), 4), "<f4")
    if data.size != 2 * width * height:
        raise ValueError(f"{file_name}: truncated .flo file ({data.size} of "
                         f"{2 * width * height} values for {width}x{height})")
    return data.reshape(height, width, 2).transpose(2, 0, 1).astype(np.float32)


def _read_pfm(file_name: str, slice_channels: int = 2) -> np.ndarray:
    """The first ``slice_channels`` channels of a ``.pfm`` file (``PF``: 3 channels, ``Pf``:
    one) as a float32 (C, H, W) array, rows top first (PFM stores them bottom first; a
    negative scale means little-endian data).

    Raises:
        ValueError: the header is malformed, or the data does not hold H x W x C floats.
    """
    with open(file_name, "rb") as f:
        header = f.readline().rstrip()
        if header not in (b"PF", b"Pf"):
            raise ValueError(f"Invalid PFM file: {file_name}")
        dims = re.match(rb"^(\d+)\s(\d+)\s$", f.readline())
        if not dims:
            raise ValueError(f"Malformed PFM header: {file_name}")
        width, height = (int(d) for d in dims.groups())
        try:
            scale = float(f.readline().rstrip())
        except ValueError as e:
            raise ValueError(f"Malformed PFM scale in {file_name}: {e}") from e
        data = np.frombuffer(_whole_values(f.read(), 4), ("<" if scale < 0 else ">") + "f4")
    channels = 3 if header == b"PF" else 1
    if data.size != height * width * channels:
        raise ValueError(f"{file_name}: {data.size} floats for a {width}x{height}x{channels} "
                         "PFM image (truncated or corrupt)")
    data = np.flip(data.reshape(height, width, channels).transpose(2, 0, 1), axis=1)
    return data[:slice_channels].astype(np.float32)


def _png_channels(file_name: str) -> np.ndarray:
    """A 3- or 4-channel PNG's samples as stored (uint8, or uint16 for 16-bit files),
    (C, H, W)."""
    from PIL import Image, UnidentifiedImageError

    def decode(rawmode: str | None = None) -> tuple:
        with open(file_name, "rb") as f:
            img = Image.open(f, formats=("PNG",))
            tile = img.tile[0]
            stored = tile[3]
            if rawmode is not None:
                img.tile = [(tile[0], tile[1], tile[2], rawmode)]
            img.load()
            return img.mode, stored, np.asarray(img)

    try:
        mode, stored, high = decode()
        if mode not in ("RGB", "RGBA"):
            raise ValueError(f"{file_name}: a flow PNG needs 3 or 4 channels, not mode {mode}")
        if isinstance(stored, str) and stored.endswith(";16B"):
            # Pillow keeps only the high byte of 16-bit colour samples; unpacking the same
            # big-endian rows as little-endian makes it keep the low byte instead
            _, _, low = decode(stored[:-1] + "L")
            high = high.astype(np.uint16) << 8 | low
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{file_name}: cannot read the PNG (corrupt or truncated): {e}") from e
    return high.transpose(2, 0, 1)


def _read_16bits_png_with_flow_and_valid_mask(file_name: str) -> tuple:
    """KITTI's flow PNG: ``(flow, valid)``, the float32 (2, H, W) flow (the first two 16-bit
    channels, ``(v - 2**15) / 64``) and the bool (H, W) mask (the third channel non-zero)."""
    samples = _png_channels(os.fspath(file_name)).astype(np.float32)
    flow = (samples[:2] - 2 ** 15) / 64
    return flow, samples[2].astype(bool)
