"""Dicts of tensors as safetensors files (the documented format, no package needed) and .npz."""
from __future__ import annotations

import json
import os
import struct
import zipfile

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.backend.device import CPU, Device, to_device
from ember.serialization._zip import read_exactly

# https://github.com/huggingface/safetensors#format
_ST_CODES = {
    _dt.bool: "BOOL", _dt.uint8: "U8", _dt.int8: "I8", _dt.int16: "I16", _dt.uint16: "U16",
    _dt.float16: "F16", _dt.bfloat16: "BF16", _dt.int32: "I32", _dt.uint32: "U32",
    _dt.float32: "F32", _dt.complex64: "C64", _dt.float64: "F64", _dt.int64: "I64",
    _dt.uint64: "U64"}
_ST_CODES.update({_dt.float8_e4m3fn: "F8_E4M3", _dt.float8_e5m2: "F8_E5M2",
                  _dt.float8_e4m3fnuz: "F8_E4M3FNUZ", _dt.float8_e5m2fnuz: "F8_E5M2FNUZ",
                  _dt.float8_e8m0fnu: "F8_E8M0"})
_ST_DTYPES = {code: d for d, code in _ST_CODES.items()}
_ST_MAX_HEADER = 100_000_000  # the safetensors library's own limit


def _path_or_file(f):
    return isinstance(f, (str, os.PathLike))


def _check_dict(tensors, fn: str) -> None:
    if not isinstance(tensors, dict):
        raise TypeError(f"{fn}: expected a dict of tensors, got {type(tensors).__name__}")
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, Tensor):
            raise TypeError(f"{fn}: entries must be str -> Tensor, got {type(name).__name__} -> "
                            f"{type(t).__name__}")


def save_safetensors(tensors: dict[str, Tensor], filename, metadata: dict | None = None) -> None:
    """Write a dict of tensors as a safetensors file (like ``safetensors.torch.save_file``).

    Args:
        tensors: name -> tensor; each is stored contiguously (shared memory is written twice).
        filename: a path (written atomically) or a writable binary file object.
        metadata: optional str -> str pairs kept in the header.

    Example::

        >>> save_safetensors({"w": ember.ones(2)}, "/tmp/w.safetensors")
    """
    from ember.serialization import _writable
    _check_dict(tensors, "save_safetensors")
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in metadata.items()):
        raise TypeError("save_safetensors: metadata must map str to str")
    # larger elements first keeps every tensor aligned to its element size
    order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header, arrays, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in order:
        t = tensors[name]
        if t.dtype not in _ST_CODES:
            raise TypeError(f"save_safetensors: no safetensors code for {t.dtype}")
        array = np.ascontiguousarray(to_device(t._data, CPU))
        header[name] = {"dtype": _ST_CODES[t.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        arrays.append(array)
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with _writable(filename) as fp:
        fp.write(struct.pack("<Q", len(text)) + text)
        for array in arrays:
            fp.write(memoryview(array.reshape(-1).view(np.uint8)))


def load_safetensors(filename, device="cpu") -> dict[str, Tensor]:
    """Read a safetensors file into a dict of tensors (like ``safetensors.torch.load_file``).

    Every entry is checked against the file (known dtype, sizes matching shapes, offsets inside
    the data) before anything is allocated.
    """
    from ember.serialization import _readable
    with _readable(filename) as fp:
        entries, _, data_start = read_safetensors_header(fp, "load_safetensors")
        out = {}
        for name, (dtype, shape, begin, _) in entries.items():
            array = np.empty(shape, dtype.np_dtype)
            fp.seek(data_start + begin)
            read_exactly(fp, array.reshape(-1).view(np.uint8), f"tensor '{name}'")
            out[name] = _make(to_device(array, Device(device)))
        return out


def read_safetensors_header(fp, who: str) -> tuple[dict, dict, int]:
    """A safetensors file's entries, each checked against the file: ``(entries, metadata,
    data_start)`` where ``entries`` maps names to ``(dtype, shape, begin, end)``, byte ranges
    inside the data that starts at ``data_start``. Errors are ``RuntimeError``s naming ``who``."""
    file_size = fp.seek(0, os.SEEK_END)
    fp.seek(0)
    head = fp.read(8)
    if len(head) != 8:
        raise RuntimeError(f"{who}: file too short for a safetensors header")
    (n,) = struct.unpack("<Q", head)
    if n > min(_ST_MAX_HEADER, file_size - 8):
        raise RuntimeError(f"{who}: safetensors header of {n} bytes does not fit the file")
    try:
        header = json.loads(fp.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RuntimeError(f"{who}: corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise RuntimeError(f"{who}: safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    entries = {name: _check_entry(who, name, info, file_size - 8 - n)
               for name, info in header.items()}
    return entries, metadata if isinstance(metadata, dict) else {}, 8 + n


def _check_entry(who: str, name: str, info, data_size: int) -> tuple:
    try:
        dtype = _ST_DTYPES[info["dtype"]]
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise RuntimeError(f"{who}: bad entry for '{name}'") from None
    numel = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{who}: negative dimension in '{name}'")
        numel *= s
    if not 0 <= begin <= end <= data_size or end - begin != numel * dtype.itemsize:
        raise RuntimeError(f"{who}: offsets [{begin}, {end}] of '{name}' do not "
                           f"match its shape {list(shape)} or the {data_size} bytes of data")
    return dtype, shape, begin, end


def save_npz(tensors: dict[str, Tensor], file) -> None:
    """Write a dict of tensors as NumPy's ``.npz`` (``numpy.load`` reads it back)."""
    from ember.serialization import _writable
    _check_dict(tensors, "save_npz")
    for name, t in tensors.items():
        if t.dtype is _dt.bfloat16:
            raise TypeError(f"save_npz: '{name}' is bfloat16, which .npz cannot record; use "
                            "save_safetensors")
    arrays = {name: to_device(t._data, CPU) for name, t in tensors.items()}
    with _writable(file) as fp:
        np.savez(fp, **arrays)


def load_npz(file, device="cpu") -> dict[str, Tensor]:
    """Read an ``.npz`` file into a dict of tensors; object arrays (pickles) are refused."""
    from ember.serialization import _readable
    with _readable(file) as fp:
        try:
            with zipfile.ZipFile(fp) as zf:
                for info in zf.infolist():
                    # deflate cannot expand more than 1032:1; a larger claim is a zip bomb
                    if info.file_size > 1032 * info.compress_size + 1024:
                        raise RuntimeError(f"load_npz: member '{info.filename}' declares "
                                           f"{info.file_size} bytes from {info.compress_size}")
            fp.seek(0)
            with np.load(fp, allow_pickle=False) as npz:
                return {name: _make(to_device(_known(name, npz[name]), Device(device)))
                        for name in npz.files}
        except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
            raise RuntimeError(f"load_npz: not a valid .npz file ({e})") from e


def _known(name: str, array):
    if not isinstance(array, np.ndarray):
        raise RuntimeError(f"load_npz: member '{name}' is not an array")
    _dt.from_numpy_dtype(array.dtype)  # raises TypeError for dtypes ember lacks
    return array
