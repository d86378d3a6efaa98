"""The storage ``save`` and ``load`` use when given only a ``checkpoint_id``."""
from __future__ import annotations

import os
from typing import Any


def _storage_setup(storage: Any, checkpoint_id: str | os.PathLike | None, reader: bool) -> Any:
    """``storage`` reset to ``checkpoint_id``, or a FileSystemReader/Writer for that path."""
    if storage is not None:
        if checkpoint_id is not None:
            storage.reset(checkpoint_id)
        return storage
    if not checkpoint_id:
        raise RuntimeError("`checkpoint_id` must be specified if storage_reader/storage_writer "
                           "is None.")
    from ember.distributed.checkpoint.filesystem import FileSystemReader, FileSystemWriter
    target = FileSystemReader if reader else FileSystemWriter
    if not target.validate_checkpoint_id(checkpoint_id):
        raise RuntimeError("Cannot detect which StorageReader or StorageWriter to use. Please "
                           "specify the storage_reader/storage_writer.")
    storage = target(checkpoint_id)
    storage.reset(checkpoint_id)
    return storage
