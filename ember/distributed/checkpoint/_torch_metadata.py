"""Reading the ``.metadata`` pickle that PyTorch's DCP writes, without running it.

NOTE [ Reading PyTorch's DCP metadata ]
PyTorch pickles its ``Metadata`` dataclasses. ember unpickles that file with an unpickler whose
``find_class`` hands out only inert stand-ins: an attribute record per DCP metadata class (built
by NEWOBJ, filled by BUILD as a plain ``__dict__``), ember's dtypes and ``Size``, and data-only
functions for the layout, memory-format and path values. Any other global, and any persistent
id, is refused, so nothing the file names is imported or called. The records are then turned
into the JSON form of ember's own metadata and read back by ``metadata_from_json``, so they are
checked exactly like an ember checkpoint's. The items themselves are ``torch.save`` archives,
which ``ember.load(weights_only=True)`` reads with its restricted unpickler.
"""
from __future__ import annotations

import io
import os
import pickle
from typing import Any

from ember import dtypes as _dtypes
from ember._tensor import Size


class _Record:
    """An unpickled DCP object: only its attributes, no behaviour."""


_DCP_CLASSES = ("Metadata", "TensorStorageMetadata", "BytesStorageMetadata", "TensorProperties",
                "ChunkStorageMetadata", "MetadataIndex", "StorageMeta", "_StorageInfo")
_RECORDS = {name: type(name, (_Record,), {}) for name in _DCP_CLASSES}
_PROPERTIES = ("dtype", "layout", "requires_grad", "memory_format", "pin_memory")
_DCP_MODULES = ("torch.distributed.checkpoint.metadata", "torch.distributed.checkpoint.filesystem")


def _joined_path(*parts: Any) -> str:
    return os.path.join(*[str(p) for p in parts]) if parts else ""


def _value(value: Any) -> Any:
    return value


class _MetadataUnpickler(pickle._Unpickler):
    """See NOTE [ Reading PyTorch's DCP metadata ]."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _DCP_MODULES and name in _RECORDS:
            return _RECORDS[name]
        if module in _DCP_MODULES and name == "_MEM_FORMAT_ENCODING":
            return _value
        if (module, name) == ("torch.serialization", "_get_layout"):
            return _value
        if module == "torch" and name == "Size":
            return Size
        if module == "torch" and name in _dtypes._BY_NAME:
            return _dtypes._BY_NAME[name]
        if module == "pathlib" and name in ("PosixPath", "WindowsPath", "Path"):
            return _joined_path
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        raise pickle.UnpicklingError(f"refused the global '{module}.{name}'")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused a persistent id")

    dispatch = dict(pickle._Unpickler.dispatch)

    def _load_build(self) -> None:
        # only records are filled, so no state reaches the attributes of a dtype or a function
        state, record = self.stack.pop(), self.stack[-1]
        if type(record) is _RECORDS["TensorProperties"] and isinstance(state, tuple) \
                and len(state) == len(_PROPERTIES):  # its state is a tuple of fields
            state = dict(zip(_PROPERTIES, state))
        if not isinstance(record, _Record) or not isinstance(state, dict):
            raise pickle.UnpicklingError("BUILD of something other than a DCP record")
        record.__dict__.update(state)

    dispatch[pickle.BUILD[0]] = _load_build


def torch_metadata_to_json(data: bytes, where: str) -> dict:
    """The JSON form (``metadata_from_json``'s input) of PyTorch's pickled metadata ``data``,
    with ``"item_format": "torch_save"``; raises ValueError naming ``where`` if it is not one."""
    try:
        root = _MetadataUnpickler(io.BytesIO(data)).load()
        return _json_form(root)
    except Exception as e:  # noqa: BLE001 - whatever the bytes make it raise, say where
        raise ValueError(f"{where} is not a valid PyTorch DCP metadata pickle ({e})") from None


def _kind(value: Any, name: str) -> Any:
    if type(value) is not _RECORDS[name]:
        raise TypeError(f"expected {name}, found {type(value).__name__}")
    return value


def _json_form(root: Any) -> dict:
    metadata = _kind(root, "Metadata")
    entries = {}
    for fqn, md in dict(metadata.state_dict_metadata).items():
        if type(md) is _RECORDS["BytesStorageMetadata"]:
            entries[fqn] = {"type": "bytes"}
            continue
        md = _kind(md, "TensorStorageMetadata")
        properties = _kind(md.properties, "TensorProperties")
        if not isinstance(properties.dtype, _dtypes.dtype):
            raise TypeError(f"{fqn}: dtype {properties.dtype!r}")
        chunks = [_kind(c, "ChunkStorageMetadata") for c in md.chunks]
        entries[fqn] = {"type": "tensor", "dtype": properties.dtype.name,
                        "requires_grad": bool(getattr(properties, "requires_grad", False)),
                        "size": list(md.size),
                        "chunks": [[list(c.offsets), list(c.sizes)] for c in chunks]}
    items = []
    for index, info in dict(metadata.storage_data or {}).items():
        index, info = _kind(index, "MetadataIndex"), _kind(info, "_StorageInfo")
        if getattr(info, "transform_descriptors", None):
            raise ValueError(f"{index.fqn}: stream transforms {info.transform_descriptors} "
                             "are not supported")
        offset = getattr(index, "offset", None)
        items.append({"fqn": index.fqn, "chunk": None if offset is None else list(offset),
                      "file": info.relative_path, "start": info.offset, "length": info.length,
                      "crc32": None})
    planner_data = metadata.planner_data
    if isinstance(planner_data, dict):
        planner_data = {key: list(path) for key, path in planner_data.items()}
    return {"format": "ember-dcp", "version": 1, "state_dict_metadata": entries,
            "planner_data": planner_data, "storage_data": items, "storage_meta": None,
            "item_format": "torch_save"}
