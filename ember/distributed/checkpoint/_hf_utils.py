"""What the Hugging Face storage and the consolidation share: safetensors file names, the
``DCP_SHARDING_INFO`` header entry that records where a shard lies in its tensor, and a
checked reader of safetensors headers."""
from __future__ import annotations

import json
import os
import struct

from ember.serialization._formats import _ST_MAX_HEADER, _check_entry

_metadata_fn = "model.safetensors.index.json"
SUFFIX = ".safetensors"
CUSTOM_METADATA_KEY = "DCP_SHARDING_INFO"
SAVED_OFFSETS_KEY = "saved_offsets"
DCP_VERSION_KEY = "DCP_VERSION"
HF_DCP_VERSION = 1.0
FORMAT_KEY = "format"
FORMAT_VALUE = "pt"
SHARDED_DIR_NAME = "sharded"


def _gen_file_name(index: int, largest_index: int, shard_index: int | None = None) -> str:
    """``model-0000i-of-0000n.safetensors``, prefixed ``shard-0000s-`` for rank shards."""
    name = f"model-{index:05d}-of-{largest_index:05d}{SUFFIX}"
    return name if shard_index is None else f"shard-{shard_index:05d}-{name}"


class SafetensorsHeader:
    """A safetensors file's entries, checked against the file: ``tensors`` maps each name to
    ``(dtype, shape, begin, end)`` (byte range inside the data, which starts at
    ``data_start``); ``offsets`` maps names to where DCP's sharding info places them (zeros
    without it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(path, "rb") as fp:
            file_size = os.fstat(fp.fileno()).st_size
            head = fp.read(8)
            if len(head) != 8:
                raise ValueError(f"{path}: too short for a safetensors header")
            (n,) = struct.unpack("<Q", head)
            if n > min(_ST_MAX_HEADER, file_size - 8):
                raise ValueError(f"{path}: safetensors header of {n} bytes does not fit the file")
            try:
                header = json.loads(fp.read(n))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"{path}: corrupt safetensors header ({e})") from None
        if not isinstance(header, dict):
            raise ValueError(f"{path}: safetensors header is not a JSON object")
        self.data_start = 8 + n
        extra = header.pop("__metadata__", None) or {}
        self.metadata = extra if isinstance(extra, dict) else {}
        self.tensors = {}
        for name, info in header.items():
            try:
                dtype, shape, (begin, end) = _check_entry(name, info, file_size - 8 - n)
            except RuntimeError as e:
                raise ValueError(f"{path}: {e}") from None
            self.tensors[name] = (dtype, tuple(shape), begin, end)
        self.offsets = self._saved_offsets()

    def _saved_offsets(self) -> dict:
        sharding = self.metadata.get(CUSTOM_METADATA_KEY)
        info = None
        if sharding is not None:
            try:
                info = json.loads(sharding)
            except (TypeError, json.JSONDecodeError):
                info = None
            if not isinstance(info, dict):
                raise ValueError(f"{self.path}: corrupt {CUSTOM_METADATA_KEY} metadata")
        offsets = {}
        for name, (_, shape, _, _) in self.tensors.items():
            if info is None:
                saved = [0] * len(shape)
            else:
                entry = info.get(name)
                saved = entry.get(SAVED_OFFSETS_KEY) if isinstance(entry, dict) else None
            if not (isinstance(saved, list) and len(saved) == len(shape)
                    and all(type(o) is int and o >= 0 for o in saved)):
                raise ValueError(f"{self.path}: bad {CUSTOM_METADATA_KEY} entry for {name!r}")
            offsets[name] = tuple(saved)
        return offsets

    def read(self, name: str) -> bytes:
        """The raw bytes of tensor ``name``."""
        _, _, begin, end = self.tensors[name]
        with open(self.path, "rb") as fp:
            fp.seek(self.data_start + begin)
            payload = fp.read(end - begin)
        if len(payload) != end - begin:
            raise ValueError(f"{self.path} is truncated at tensor {name!r}")
        return payload
