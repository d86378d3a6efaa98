"""Full tensors from the shards that ranks wrote with ``HuggingFaceStorageWriter(
save_distributed=True)`` (``torch.distributed.checkpoint._consolidate_hf_safetensors``)."""
from __future__ import annotations

import glob
import json
import os

import numpy as np

from ember._tensor import _make
from ember.distributed.checkpoint._hf_utils import (
    FORMAT_KEY,
    FORMAT_VALUE,
    SUFFIX,
    SafetensorsHeader,
    _gen_file_name,
    _metadata_fn,
)
from ember.serialization import atomic_write
from ember.serialization._formats import save_safetensors

__all__ = ["consolidate_safetensors_files"]


def consolidate_safetensors_files(input_dir: str, output_dir: str,
                                  fqn_to_index_mapping: dict | None = None,
                                  num_threads: int = 1) -> None:
    """Assemble the shards in ``input_dir``'s ``*.safetensors`` files (placed by their
    ``DCP_SHARDING_INFO``) into full tensors, written to ``output_dir`` as
    ``model-0000i-of-0000n.safetensors`` by ``fqn_to_index_mapping`` (key -> file index from
    1; all in one file if None), with ``model.safetensors.index.json``. ``num_threads`` is
    accepted for PyTorch's signature."""
    headers = [SafetensorsHeader(path)
               for path in sorted(glob.glob(os.path.join(input_dir, f"*{SUFFIX}")))]
    pieces: dict = {}  # fqn -> [(header, offsets, shape)]
    for header in headers:
        for fqn, (_, shape, _, _) in header.tensors.items():
            pieces.setdefault(fqn, []).append((header, header.offsets[fqn], shape))
    if fqn_to_index_mapping is None:
        fqn_to_index_mapping = dict.fromkeys(pieces, 1)
    missing = [fqn for fqn in fqn_to_index_mapping if fqn not in pieces]
    if missing:
        raise ValueError(f"consolidate_safetensors_files: no shard of {missing} in {input_dir}")
    largest = max(fqn_to_index_mapping.values())
    files: dict = {}
    for fqn, index in fqn_to_index_mapping.items():
        files.setdefault(_gen_file_name(index, largest), []).append(fqn)
    os.makedirs(output_dir, exist_ok=True)
    weight_map, total = {}, 0
    for name, fqns in files.items():
        tensors = {fqn: _make(_assemble(fqn, pieces[fqn])) for fqn in fqns}
        save_safetensors(tensors, os.path.join(output_dir, name),
                         metadata={FORMAT_KEY: FORMAT_VALUE})
        for fqn, tensor in tensors.items():
            weight_map[fqn] = name
            total += tensor.nbytes
    text = json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    with atomic_write(os.path.join(output_dir, _metadata_fn)) as fp:
        fp.write(text.encode())


def _assemble(fqn: str, pieces: list) -> np.ndarray:
    """The full array of ``fqn`` from its shards (each copied to its saved offsets)."""
    dtype = pieces[0][0].tensors[fqn][0]
    ndim = len(pieces[0][2])
    if any(len(shape) != ndim for _, _, shape in pieces):
        raise ValueError(f"shards of {fqn!r} disagree on the number of dimensions")
    size = [max(offsets[d] + shape[d] for _, offsets, shape in pieces) for d in range(ndim)]
    full = np.zeros(size, dtype=dtype.np_dtype)
    for header, offsets, shape in pieces:
        if header.tensors[fqn][0] != dtype:
            raise ValueError(f"{header.path}: shards of {fqn!r} disagree on dtype")
        block = np.frombuffer(header.read(fqn), dtype=dtype.np_dtype).reshape(shape)
        full[tuple(slice(o, o + s) for o, s in zip(offsets, shape))] = block
    return full
