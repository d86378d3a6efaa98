"""What a distributed checkpoint holds (``torch.distributed.checkpoint.metadata``): for every
flattened key, a tensor's global size, dtype and saved chunks, or a bytes item; plus where the
storage layer put each item.

NOTE [ DCP metadata as JSON ]
PyTorch pickles ``Metadata`` into the ``.metadata`` file, and unpickling runs whatever code the
file names. ember writes it as JSON (``metadata_to_json`` / ``metadata_from_json``) and checks
every field while reading, so a corrupt or hostile file raises a ``ValueError`` naming the
file and runs nothing. PyTorch's pickles are read by an unpickler that builds nothing but
records and is then checked the same way (NOTE [ Reading PyTorch's DCP metadata ]).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Union

from ember import dtypes as _dtypes
from ember._tensor import Size
from ember.dtypes import dtype as _dtype

__all__ = ["BytesStorageMetadata", "ChunkStorageMetadata", "Metadata", "MetadataIndex",
           "StorageMeta", "TensorProperties", "TensorStorageMetadata"]

_DTYPES = dict(_dtypes._BY_NAME)


@dataclasses.dataclass
class ChunkStorageMetadata:
    """One saved block of a tensor: where it starts in the global tensor and its sizes."""
    offsets: tuple
    sizes: tuple


@dataclasses.dataclass
class TensorProperties:
    """The properties a loaded tensor is created with (PyTorch's fields; ember keeps dtype and
    requires_grad, the rest are recorded as given)."""
    dtype: _dtype = None
    layout: Any = None
    requires_grad: bool = False
    memory_format: Any = None
    pin_memory: bool = False

    def __post_init__(self) -> None:
        if self.dtype is None:
            from ember import get_default_dtype
            self.dtype = get_default_dtype()

    @staticmethod
    def create_from_tensor(tensor) -> TensorProperties:
        return TensorProperties(dtype=tensor.dtype, requires_grad=tensor.requires_grad)


@dataclasses.dataclass
class TensorStorageMetadata:
    """A tensor of global ``size`` saved as ``chunks`` (together they cover it)."""
    properties: TensorProperties
    size: tuple
    chunks: list


@dataclasses.dataclass
class BytesStorageMetadata:
    """A non-tensor value, saved serialized."""


STORAGE_TYPES = Union[TensorStorageMetadata, BytesStorageMetadata]
STATE_DICT_TYPE = dict


@dataclasses.dataclass
class StorageMeta:
    checkpoint_id: Any = None
    save_id: str | None = None
    load_id: str | None = None
    modules: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Metadata:
    """The global metadata of a checkpoint: ``state_dict_metadata`` maps each flattened key to
    its storage metadata; ``planner_data`` and ``storage_data`` belong to the planner and the
    storage layer that wrote it."""
    state_dict_metadata: dict
    planner_data: Any = None
    storage_data: Any = None
    storage_meta: StorageMeta | None = None
    version: str | None = None


@dataclasses.dataclass(frozen=True)
class MetadataIndex:
    """Names an item: the key ``fqn``, and for a tensor chunk its ``offset`` in the global
    tensor. ``index`` is a hint (the chunk's position) and takes no part in equality."""
    fqn: str
    offset: tuple | None = None
    index: int | None = dataclasses.field(hash=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.offset is not None:
            object.__setattr__(self, "offset", tuple(self.offset))


# ------------------------------------------------------------------------------------------------
# JSON form (NOTE [ DCP metadata as JSON ])

def metadata_to_json(metadata: Metadata) -> dict:
    """``metadata`` as JSON-ready values; ``storage_data`` must already be JSON-ready."""
    entries = {}
    for fqn, md in metadata.state_dict_metadata.items():
        if isinstance(md, BytesStorageMetadata):
            entries[fqn] = {"type": "bytes"}
        else:
            entries[fqn] = {"type": "tensor", "dtype": md.properties.dtype.name,
                            "requires_grad": bool(md.properties.requires_grad),
                            "size": list(md.size),
                            "chunks": [[list(c.offsets), list(c.sizes)] for c in md.chunks]}
    meta = metadata.storage_meta
    return {"format": "ember-dcp", "version": 1, "state_dict_metadata": entries,
            "planner_data": metadata.planner_data, "storage_data": metadata.storage_data,
            "storage_meta": None if meta is None else {
                "checkpoint_id": None if meta.checkpoint_id is None else str(meta.checkpoint_id),
                "save_id": meta.save_id}}


def metadata_from_json(value: Any, where: str) -> Metadata:
    """The Metadata that ``value`` (parsed JSON) describes, every field checked; ``where``
    names the file in errors."""
    _expect(isinstance(value, dict) and value.get("format") == "ember-dcp"
            and value.get("version") == 1, where, "not an ember DCP metadata file")
    entries = value.get("state_dict_metadata")
    _expect(isinstance(entries, dict), where, "state_dict_metadata is not an object")
    out = {}
    for fqn, entry in entries.items():
        _expect(isinstance(entry, dict), where, f"entry {fqn!r} is not an object")
        if entry.get("type") == "bytes":
            out[fqn] = BytesStorageMetadata()
            continue
        _expect(entry.get("type") == "tensor", where, f"entry {fqn!r} has an unknown type")
        _expect(entry.get("dtype") in _DTYPES, where, f"entry {fqn!r} has an unknown dtype")
        size = _shape(entry.get("size"), where, fqn)
        chunks = entry.get("chunks")
        _expect(isinstance(chunks, list), where, f"entry {fqn!r} has no chunk list")
        parsed = []
        for chunk in chunks:
            _expect(isinstance(chunk, list) and len(chunk) == 2, where, f"bad chunk of {fqn!r}")
            offsets, sizes = _shape(chunk[0], where, fqn), _shape(chunk[1], where, fqn)
            _expect(len(offsets) == len(sizes) == len(size) and all(
                o + s <= n for o, s, n in zip(offsets, sizes, size)), where,
                f"a chunk of {fqn!r} lies outside its size {list(size)}")
            parsed.append(ChunkStorageMetadata(offsets, sizes))
        properties = TensorProperties(dtype=_DTYPES[entry["dtype"]],
                                      requires_grad=bool(entry.get("requires_grad")))
        out[fqn] = TensorStorageMetadata(properties, size, parsed)
    meta = value.get("storage_meta")
    storage_meta = None
    if isinstance(meta, dict):
        storage_meta = StorageMeta(checkpoint_id=meta.get("checkpoint_id"),
                                   save_id=meta.get("save_id"))
    return Metadata(out, planner_data=value.get("planner_data"),
                    storage_data=value.get("storage_data"), storage_meta=storage_meta)


def _shape(value: Any, where: str, fqn: str) -> Size:
    _expect(isinstance(value, list) and all(type(v) is int and v >= 0 for v in value), where,
            f"entry {fqn!r} has a bad shape {value!r}")
    return Size(value)


def _expect(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise ValueError(f"corrupt distributed checkpoint metadata in {where}: {what}")
