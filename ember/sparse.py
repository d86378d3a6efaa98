"""Sparse COO tensors: ``ember.sparse_coo_tensor``, ``Tensor.to_sparse`` and ``ember.sparse``.

A sparse tensor here keeps its values in a dense array, and shows PyTorch's COO interface over
it: ``is_sparse``, ``layout``, ``indices()``, ``values()``, ``coalesce()``, ``_nnz()``,
``to_dense()``. So every op, autograd included, computes what it computes on the dense tensor,
which is PyTorch's result for the sparse-dense products, sums and elementwise ops that code
applies to them; results come back dense (strided). What differs from PyTorch: memory and time
are the dense tensor's, and an entry stored as an explicit zero is not counted in ``_nnz()``.

Example::

    >>> i = ember.tensor([[0, 1, 1], [2, 0, 2]])
    >>> a = ember.sparse_coo_tensor(i, ember.tensor([3., 4., 5.]), (2, 3))
    >>> (a @ ember.ones(3, 1)).tolist()
    [[3.0], [9.0]]
"""
from __future__ import annotations

import re

import numpy as np

from ember._tensor import Tensor, _make
from ember.backend.device import Device, to_device
from ember.backend.special import scatter_add

__all__ = ["mm", "sum"]


class SparseCooTensor(Tensor):
    """A COO sparse tensor (see the module's docstring): ``isinstance(t, ember.Tensor)`` holds,
    as ``type(t) is torch.Tensor`` does for PyTorch's."""

    __slots__ = ()

    @property
    def is_sparse(self) -> bool:
        return True

    @property
    def layout(self):
        from ember import sparse_coo
        return sparse_coo

    def sparse_dim(self) -> int:
        return self.__dict__["_sparse_dim"]

    def dense_dim(self) -> int:
        return self.ndim - self.sparse_dim()

    def is_coalesced(self) -> bool:
        return self.__dict__["_coalesced"]

    def coalesce(self) -> "SparseCooTensor":
        """The same tensor with unique, sorted indices (duplicates were summed on creation);
        differentiable, as in PyTorch."""
        return _as_sparse(self.clone(), self.sparse_dim(), True)

    def _indices(self) -> Tensor:
        """The (sparse_dim, nnz) int64 coordinates of the stored entries, in row-major order."""
        xp = self._xp
        sparse_shape = self._data.shape[:self.sparse_dim()]
        occupied = self._data != 0
        if self.dense_dim():
            occupied = occupied.reshape(sparse_shape + (-1,)).any(axis=-1)
        return _make(xp.stack(xp.nonzero(occupied)).astype(np.int64).reshape(
            self.sparse_dim(), -1))

    def _check_coalesced(self, what: str) -> None:
        if not self.is_coalesced():
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call "
                               ".coalesce() first")

    def indices(self) -> Tensor:
        self._check_coalesced("indices")
        return self._indices()

    def _values(self) -> Tensor:
        """The stored entries, (nnz, *dense_shape), in the order of ``indices()``."""
        return self[tuple(self._indices())]

    def values(self) -> Tensor:
        self._check_coalesced("values")
        return self._values()

    def _nnz(self) -> int:
        return int(self._indices().shape[1])

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        dense = _make(self._data.copy())
        return dense if dtype is None else dense.to(dtype)

    def to_sparse(self, sparse_dim: int | None = None) -> "SparseCooTensor":
        return self if sparse_dim in (None, self.sparse_dim()) else self.to_dense().to_sparse(
            sparse_dim)

    def __repr__(self) -> str:
        from ember._tensor_str import autograd_suffix, dtype_implied
        last = [f"size={tuple(self.shape)}", f"nnz={self._nnz()}"]
        if self.is_cuda:
            last.append(f"device='{self.device}'")
        if not dtype_implied(self):
            last.append(f"dtype={self.dtype!r}")
        last += ["layout=torch.sparse_coo", *autograd_suffix(self)]
        return ("tensor(indices=" + _indented(repr(self._indices()), 8) + ",\n       values="
                + _indented(_without_dtype(repr(self._values().detach())), 7) + ",\n       "
                + ", ".join(last) + ")")


def _without_dtype(text: str) -> str:
    """A values repr without its dtype, which the sparse tensor's own repr states."""
    return re.sub(r",\s*dtype=torch\.\w+", "", text)


def _indented(text: str, width: int) -> str:
    """A nested tensor repr continued under ``tensor(`` + a ``width``-wide label."""
    return text.replace("\n", "\n" + " " * (width + 7))


def _as_sparse(t: Tensor, sparse_dim: int, coalesced: bool) -> SparseCooTensor:
    """``t`` itself, graph and all, as a sparse tensor (the classes share their layout)."""
    t.__class__ = SparseCooTensor
    t.__dict__["_sparse_dim"] = sparse_dim
    t.__dict__["_coalesced"] = coalesced
    return t


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants: bool | None = None,
                      is_coalesced: bool | None = None) -> SparseCooTensor:
    """A sparse tensor with ``values[k]`` at coordinates ``indices[:, k]``; repeated coordinates
    add up (as on coalescing).

    Args:
        indices: (sparse_dim, nnz) integer coordinates.
        values: (nnz, *dense_shape) entries.
        size: the full shape (default: the smallest that holds every index, then the values'
            dense shape).
        dtype, device: of the result (default: the values').
        is_coalesced: declare the indices unique (``is_coalesced()`` then says so).
    """
    from ember._creation import as_tensor
    idx = as_tensor(indices)
    vals = as_tensor(values, dtype=dtype)
    if idx.ndim != 2 or idx.dtype.is_floating_point or idx.dtype.is_complex:
        raise RuntimeError(f"indices must be an int64 tensor of shape (sparse_dim, nnz), got "
                           f"{idx.dtype} {list(idx.shape)}")
    sparse_dim, nnz = idx.shape
    if vals.ndim == 0 or vals.shape[0] != nnz:
        raise RuntimeError(f"indices and values must have the same number of entries, got "
                           f"indices {list(idx.shape)} and values {list(vals.shape)}")
    coords = idx.long()._data
    if size is None:
        size = tuple(int(c.max()) + 1 if nnz else 0 for c in coords) + tuple(vals.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != sparse_dim + vals.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sparse_dim}) + dense_dim "
                           f"({vals.ndim - 1}), but got {len(size)}")
    for d in range(sparse_dim):
        if nnz and (int(coords[d].min()) < 0 or int(coords[d].max()) >= size[d]):
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is "
                               f"{size[d]} but found index {int(coords[d].max())}")
    xp = vals._xp
    dense = xp.zeros(size, vals._data.dtype)
    scatter_add(xp, dense, tuple(xp.asarray(c) for c in coords), vals._data)
    if device is not None:
        dense = to_device(dense, Device(device))
    if requires_grad and not (vals.dtype.is_floating_point or vals.dtype.is_complex):
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    return _as_sparse(_make(dense, requires_grad), sparse_dim, bool(is_coalesced))


def to_sparse(input: Tensor, sparse_dim: int | None = None, *, layout=None,
              blocksize=None, dense_dim=None) -> SparseCooTensor:
    """``input`` as a COO sparse tensor (coalesced) over its first ``sparse_dim`` dims (all)."""
    if layout is not None and repr(layout) != "torch.sparse_coo":
        raise NotImplementedError(f"to_sparse: only layout=torch.sparse_coo, not {layout}")
    sparse_dim = input.ndim if sparse_dim is None else sparse_dim
    if not 0 <= sparse_dim <= input.ndim:
        raise RuntimeError(f"sparse_dim must be in [0, {input.ndim}], got {sparse_dim}")
    return _as_sparse(input.clone(), sparse_dim, True)  # differentiable, as in PyTorch


def mm(mat1: Tensor, mat2: Tensor) -> Tensor:
    """``mat1 @ mat2`` where either may be sparse (``torch.sparse.mm``): a dense result."""
    return mat1.matmul(mat2)


def sum(input: Tensor, dim=None, dtype=None) -> Tensor:  # noqa: A001 - PyTorch's name
    """The sum of a sparse tensor's entries, over ``dim`` (all by default)."""
    return input.sum(dtype=dtype) if dim is None else input.sum(dim, dtype=dtype)
