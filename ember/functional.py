"""``torch.functional``: the module PyTorch defines its Python-level tensor functions in
(``einsum``, ``meshgrid``, ``stft``, ...). Code imports it directly (``import torch.functional
as F``); ember's functions live elsewhere and are named here once more."""
from ember import (  # noqa: F401
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    broadcast_shapes,
    broadcast_tensors,
    cartesian_prod,
    cdist,
    chain_matmul,
    einsum,
    istft,
    lu,
    meshgrid,
    norm,
    split,
    stft,
    tensordot,
    unique,
    unique_consecutive,
    unravel_index,
)

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
           "broadcast_tensors", "cartesian_prod", "cdist", "chain_matmul", "einsum", "istft", "lu",
           "meshgrid", "norm", "split", "stft", "tensordot", "unique", "unique_consecutive",
           "unravel_index"]
