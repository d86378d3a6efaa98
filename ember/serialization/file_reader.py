"""``torch.PyTorchFileReader``: the records of a checkpoint archive, one by one."""
from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.serialization._zip import ZipReader


class PyTorchFileReader:
    """The records of a zip checkpoint (what ``torch.save`` writes), named as PyTorch's reader
    names them: without the archive's top folder (``"data.pkl"``, ``"data/0"``).

    Args:
        file: a path, or a seekable binary file (read from its start).
    """

    def __init__(self, file: str | os.PathLike | BinaryIO):
        if isinstance(file, (str, os.PathLike)):
            file = open(file, "rb")  # noqa: SIM115 - held for the reader's life, as PyTorch's
        self._fp = file
        self._zip = ZipReader(file, file.seek(0, os.SEEK_END))
        first = self._zip.names[0] if self._zip.names else ""
        self._folder = first.partition("/")[0] + "/"

    def __del__(self) -> None:
        self._zip.close()

    def _locate(self, name: str) -> tuple[int, int, int]:
        if not self.has_record(name):
            raise RuntimeError(f"PytorchStreamReader failed locating file {name}: file not "
                               "found")
        return self._zip.locate(self._folder + name)

    def get_all_records(self) -> list[str]:
        """Every record's name."""
        return [n[len(self._folder):] for n in self._zip.names if n.startswith(self._folder)]

    def has_record(self, name: str) -> bool:
        return self._folder + name in self._zip.names

    def get_record(self, name: str) -> bytes:
        """The record's bytes."""
        self._locate(name)
        return self._zip.read(self._folder + name)

    def get_record_offset(self, name: str) -> int:
        """Where the record's data starts in the file."""
        return self._locate(name)[0]

    def get_record_size(self, name: str) -> int:
        return self._locate(name)[1]

    def serialization_id(self) -> str:
        """The id ``torch.save`` wrote into the archive ("" where it wrote none)."""
        name = ".data/serialization_id"
        return self.get_record(name).decode() if self.has_record(name) else ""

    def get_storage_from_record(self, name: str, numel: int, dtype) -> Tensor:
        """An empty tensor whose storage holds the record's first ``numel`` elements of
        ``dtype`` (``UntypedStorage`` for bytes): PyTorch's loader takes the storage from it."""
        dtype = _dt.uint8 if isinstance(dtype, type) else _dt.to_dtype(dtype)
        data = np.frombuffer(bytearray(self.get_record(name)), np.uint8)
        nbytes = numel * dtype.itemsize
        if data.size < nbytes:
            raise RuntimeError(f"record {name} holds {data.size} bytes, not {nbytes}")
        return _make(data[:nbytes].view(dtype.np_dtype)[:0])
