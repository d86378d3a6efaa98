"""GIF frames composed as torchvision's ``decode_gif`` composes them (its giflib decoder).

Pillow composes animated GIFs by the specification (the previous frame's disposal applies),
torchvision differently: a frame whose own disposal is "do not dispose" is drawn over the
previous canvas, any other frame over the background colour. So the file's blocks are read
here, and Pillow only decompresses each frame's LZW data into palette indices (from a one-frame
GIF holding just that image)."""
from __future__ import annotations

import io as _io
import struct

import numpy as np

_DO_NOT_DISPOSE = 1


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise RuntimeError("DGifSlurp() failed - truncated GIF data")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def colour_table(self, packed: int) -> bytes | None:
        """The colour table a packed field announces (flag 0x80, 2^(size+1) RGB entries)."""
        return self.take(3 << ((packed & 7) + 1)) if packed & 0x80 else None

    def sub_blocks(self) -> bytes:
        """Data sub-blocks up to their zero-length terminator, with their length bytes."""
        start = self.at
        while (length := self.byte()) != 0:
            self.take(length)
        return self.data[start:self.at]


def _indices(width: int, height: int, interlaced: bool, table: bytes, lzw: bytes) -> np.ndarray:
    """One frame's palette indices (height, width), decompressed by Pillow."""
    from PIL import Image
    size_bits = (len(table) // 3).bit_length() - 2
    screen = struct.pack("<HHBBB", width, height, 0x80 | size_bits, 0, 0)
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0x40 if interlaced else 0)
    gif = b"GIF89a" + screen + table + descriptor + lzw + b"\x3b"
    img = Image.open(_io.BytesIO(gif), formats=("GIF",))
    img.load()
    return np.asarray(img).astype(np.uint8)


def _palette(table: bytes) -> np.ndarray:
    # padded to 256 entries: an index past the table reads black
    colours = np.zeros((256, 3), np.uint8)
    entries = np.frombuffer(table, np.uint8).reshape(-1, 3)
    colours[:len(entries)] = entries
    return colours


def decode_gif_frames(data: bytes) -> np.ndarray:
    """The frames of a GIF as a uint8 array (N, 3, H, W), composed as torchvision does."""
    reader = _Reader(data)
    if reader.take(6) not in (b"GIF87a", b"GIF89a"):
        raise RuntimeError("DGifOpenFileName() failed - not a GIF file")
    screen_w, screen_h, packed, background, _ = struct.unpack("<HHBBB", reader.take(7))
    global_table = reader.colour_table(packed)
    frames = []  # (left, top, indices, palette, disposal, transparent index)
    disposal, transparent = 0, -1
    while (kind := reader.byte()) != 0x3B:
        if kind == 0x21:
            label = reader.byte()
            blocks = reader.sub_blocks()
            if label == 0xF9 and len(blocks) >= 5:  # graphic control extension
                flags, _, index = struct.unpack("<BHB", blocks[1:5])
                disposal = (flags >> 2) & 7
                transparent = index if flags & 1 else -1
        elif kind == 0x2C:
            left, top, width, height, packed = struct.unpack("<HHHHB", reader.take(9))
            table = reader.colour_table(packed) or global_table
            if table is None:
                raise RuntimeError("Global and local color maps are missing. This should never "
                                   "happen!")
            lzw = reader.take(1) + reader.sub_blocks()
            indices = _indices(width, height, bool(packed & 0x40), table, lzw)
            frames.append((left, top, indices, _palette(table), disposal, transparent))
            disposal, transparent = 0, -1
        else:
            raise RuntimeError(f"DGifSlurp() failed - unknown block 0x{kind:02x}")
    if not frames:
        raise RuntimeError("GIF file should contain at least one image!")
    bg = _palette(global_table)[background] if global_table is not None else np.zeros(3, np.uint8)
    out_h = max(screen_h, frames[0][2].shape[0])
    out_w = max(screen_w, frames[0][2].shape[1])
    out = np.zeros((len(frames), out_h, out_w, 3), np.uint8)
    for i, (left, top, indices, palette, disposal, transparent) in enumerate(frames):
        if i > 0 and disposal == _DO_NOT_DISPOSE:
            out[i] = out[i - 1]
        else:
            out[i, :screen_h, :screen_w] = bg
        height, width = indices.shape
        region = out[i, top:top + height, left:left + width]  # a view, clipped to the canvas
        indices = indices[:region.shape[0], :region.shape[1]]
        opaque = indices != transparent
        region[opaque] = palette[indices[opaque]]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
