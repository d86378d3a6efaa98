"""What the Hugging Face storage and the consolidation share: safetensors file names, the
``DCP_SHARDING_INFO`` header entry that records where a shard lies in its tensor, and a
checked reader of safetensors headers."""
from __future__ import annotations

import json

from ember.serialization._formats import read_safetensors_header

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
            self.tensors, self.metadata, self.data_start = read_safetensors_header(fp, path)
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
