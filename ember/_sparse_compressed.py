"""Sparse compressed tensors: CSR, CSC, BSR and BSC (``ember.sparse_csr_tensor``,
``Tensor.to_sparse_csr``, ...), on the representation ``ember.sparse`` gives COO tensors; that
module re-exports every public name here."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import _State
from ember.backend.device import Device, to_device
from ember.backend.special import scatter_add
from ember.ops._util import scalar_name
from ember.overrides import _disabled_torch_function_impl
from ember.sparse import (
    _COMPRESSED,
    SparseCooTensor,
    ToDense,
    ToSparse,
    _labelled,
    _layout_cast,
    _layout_name,
    _SparseBase,
    layout_error,
)

# NOTE [ Dense-backed compressed tensors ]
# A compressed tensor keeps its values densely, shape (*batch, rows, cols, *dense), like a COO
# one, plus ``_pattern``: a bool array (*batch, rows / bh, cols / bw) of the specified blocks
# (1x1 for CSR and CSC), always in row-major orientation. The pattern is what PyTorch stores as
# indices, so explicit zeros given to a constructor stay specified and ``crow_indices()``,
# ``col_indices()``, ``values()`` and ``_nnz()`` answer what PyTorch's do; every op computes on
# the dense values and answers dense (strided), as for COO.


_TRANSPOSED_LAYOUT = {"sparse_csr": "sparse_csc", "sparse_csc": "sparse_csr",
                      "sparse_bsr": "sparse_bsc", "sparse_bsc": "sparse_bsr"}


class SparseCompressedTensor(_SparseBase):
    """A CSR, CSC, BSR or BSC sparse tensor (see NOTE [ Dense-backed compressed tensors ]):
    ``isinstance(t, ember.Tensor)`` holds, as ``type(t) is torch.Tensor`` does for PyTorch's."""

    __torch_function__ = _disabled_torch_function_impl

    __slots__ = ()

    @property
    def layout(self):
        import ember
        return getattr(ember, self.__dict__["_layout"])

    @property
    def is_sparse_csr(self) -> bool:
        return self.__dict__["_layout"] == "sparse_csr"

    def sparse_dim(self) -> int:
        return 2

    def dense_dim(self) -> int:
        return self.__dict__["_dense_dim"]

    def _row_compressed(self) -> bool:
        return _COMPRESSED[self.__dict__["_layout"]][1]

    def _oriented_pattern(self):
        """The pattern with the compressed dimension first (columns for CSC and BSC)."""
        pattern = self.__dict__["_pattern"]
        return pattern if self._row_compressed() else pattern.swapaxes(-1, -2)

    def _nnz(self) -> int:
        pattern = self.__dict__["_pattern"]
        batches = pattern.size // max(pattern.shape[-1] * pattern.shape[-2], 1)
        return int(pattern.sum()) // max(batches, 1)

    def _compressed_indices(self) -> Tensor:
        xp = self._xp
        counts = self._oriented_pattern().sum(-1)
        zero = xp.zeros(counts.shape[:-1] + (1,), counts.dtype)
        cumulative = xp.concatenate([zero, xp.cumsum(counts, axis=-1)], axis=-1)
        return _make(cumulative.astype(self.__dict__["_index_dtype"]))

    def _plain_indices(self) -> Tensor:
        pattern = self._oriented_pattern()
        plain = self._xp.nonzero(pattern)[-1].reshape(pattern.shape[:-2] + (self._nnz(),))
        return _make(plain.astype(self.__dict__["_index_dtype"]))

    def crow_indices(self) -> Tensor:
        """The (*batch, rows + 1) offsets of each row's entries in ``col_indices()``."""
        if not self._row_compressed():
            raise layout_error("crow_indices", self, "sparse row compressed")
        return self._compressed_indices()

    def col_indices(self) -> Tensor:
        """The (*batch, nnz) column (block) of each entry, row by row."""
        if not self._row_compressed():
            raise layout_error("col_indices", self, "sparse row compressed")
        return self._plain_indices()

    def ccol_indices(self) -> Tensor:
        """The (*batch, cols + 1) offsets of each column's entries in ``row_indices()``."""
        if self._row_compressed():
            raise layout_error("ccol_indices", self, "sparse column compressed")
        return self._compressed_indices()

    def row_indices(self) -> Tensor:
        """The (*batch, nnz) row (block) of each entry, column by column."""
        if self._row_compressed():
            raise layout_error("row_indices", self, "sparse column compressed")
        return self._plain_indices()

    def values(self) -> Tensor:
        """The (*batch, nnz, [bh, bw,] *dense) specified entries (blocks) in index order;
        differentiable."""
        nbatch = self.ndim - 2 - self.dense_dim()
        blocks = _blocks(self, nbatch, self.__dict__["_blocksize"])
        if not self._row_compressed():
            blocks = blocks.transpose(nbatch, nbatch + 1)
        picked = blocks[_make(self._oriented_pattern())]
        shape = tuple(self.shape[:nbatch]) + (self._nnz(),) + tuple(picked.shape[1:])
        if not _COMPRESSED[self.__dict__["_layout"]][2]:
            shape = shape[:nbatch + 1] + shape[nbatch + 3:]  # CSR, CSC: no 1x1 block dims
        return picked.reshape(shape)

    def _recast(self, t: Tensor) -> "SparseCompressedTensor":
        """``t`` (this tensor cast, moved or copied) with this one's layout and pattern."""
        info = self.__dict__
        return _as_compressed(t, info["_layout"], info["_blocksize"], self.dense_dim(),
                              to_device(info["_pattern"], t.device), info["_index_dtype"])

    def t(self) -> Tensor:
        """A matrix transposed over the same entries: CSR becomes CSC, BSR becomes BSC (with
        the block size swapped), and back, as in PyTorch; differentiable."""
        info = self.__dict__
        if self.ndim != 2 + self.dense_dim():
            return Tensor.t(self)
        transposed = self.to_dense(masked_grad=False).transpose(0, 1)
        return _as_compressed(transposed, _TRANSPOSED_LAYOUT[info["_layout"]],
                              info["_blocksize"][::-1], self.dense_dim(),
                              info["_pattern"].swapaxes(-1, -2), info["_index_dtype"])

    clone = _layout_cast("clone")
    detach = _layout_cast("detach")
    _owned_copy = _layout_cast("_owned_copy")

    def __add__(self, other):
        """A matrix of the same layout and shape added stays compressed, storing the union of
        the entries (as gradients accumulate, and as PyTorch adds them); else strided."""
        out = Tensor.__add__(self, other)
        info = self.__dict__
        if (isinstance(other, SparseCompressedTensor) and self.ndim == 2 + self.dense_dim()
                and tuple(other.shape) == tuple(self.shape)
                and all(other.__dict__[k] == info[k] for k in ("_layout", "_blocksize",
                                                               "_dense_dim"))):
            return _as_compressed(out, info["_layout"], info["_blocksize"], self.dense_dim(),
                                  info["_pattern"] | other.__dict__["_pattern"],
                                  info["_index_dtype"])
        return out

    def _keep(self):
        return _element_keep(self._xp, self.__dict__["_pattern"], self.__dict__["_blocksize"],
                             self.dense_dim())

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        """The strided tensor; its gradient is kept to the specified entries unless
        ``masked_grad=False``, as in PyTorch."""
        dense = Tensor.clone(self) if masked_grad is False else ToDense.apply(
            self, self._keep(), self._recast)
        return dense if dtype is None else dense.to(dtype)

    def __repr__(self) -> str:
        from ember._tensor_str import _add_suffixes, autograd_suffix, dtype_implied
        compressed, plain = (("crow_indices", "col_indices") if self._row_compressed()
                             else ("ccol_indices", "row_indices"))
        text = ("tensor(" + _labelled(compressed, self._compressed_indices()) + ",\n       "
                + _labelled(plain, self._plain_indices()) + ",\n       "
                + _labelled("values", self.values()))
        suffixes = [f"size={tuple(self.shape)}", f"nnz={self._nnz()}"]
        if self.is_cuda:
            suffixes.append(f"device='{self.device}'")
        if not dtype_implied(self):
            suffixes.append(f"dtype={self.dtype!r}")
        suffixes += [f"layout=torch.{self.__dict__['_layout']}", *autograd_suffix(self)]
        return _add_suffixes(text, suffixes, 7, force_newline=False)


def _element_keep(xp, pattern, blocksize, dense_dim: int):
    """A block pattern spread over the elements: a bool array that broadcasts to the shape."""
    bh, bw = blocksize
    rows, cols = pattern.shape[-2:]
    keep = pattern.reshape(pattern.shape[:-2] + (rows, 1, cols, 1))
    keep = xp.broadcast_to(keep, keep.shape[:-3] + (bh, cols, bw))
    return keep.reshape(pattern.shape[:-2] + (rows * bh, cols * bw) + (1,) * dense_dim)


def _block_view(shape, nbatch: int, blocksize):
    """The reshape and permutation that take (*batch, R*bh, C*bw, *dense) to
    (*batch, R, C, bh, bw, *dense)."""
    bh, bw = blocksize
    rows, cols = shape[nbatch], shape[nbatch + 1]
    split = (tuple(shape[:nbatch]) + (rows // bh, bh, cols // bw, bw)
             + tuple(shape[nbatch + 2:]))
    perm = (tuple(range(nbatch)) + (nbatch, nbatch + 2, nbatch + 1, nbatch + 3)
            + tuple(range(nbatch + 4, len(split))))
    return split, perm


def _blocks(t: Tensor, nbatch: int, blocksize) -> Tensor:
    split, perm = _block_view(tuple(t.shape), nbatch, blocksize)
    return t.reshape(split).permute(perm)


def _as_compressed(t: Tensor, layout: str, blocksize, dense_dim: int, pattern,
                   index_dtype=np.int64) -> SparseCompressedTensor:
    """``t`` itself, graph and all, as a compressed tensor with the given specified blocks."""
    t.__class__ = SparseCompressedTensor
    t.__dict__.update(_layout=layout, _blocksize=tuple(blocksize), _dense_dim=dense_dim,
                      _pattern=pattern, _index_dtype=index_dtype)
    return t


def to_compressed(input: Tensor, layout: str, blocksize=None,
                  dense_dim: int | None = None) -> SparseCompressedTensor:
    """``input`` in a compressed layout (``Tensor.to_sparse_csr`` and its kin): the blocks
    holding a nonzero are specified; differentiable, as in PyTorch."""
    blocked = _COMPRESSED[layout][2]
    if blocked and blocksize is None:
        raise RuntimeError(f"to_sparse: {layout} conversion requires blocksize")
    blocksize = tuple(int(b) for b in blocksize) if blocked else (1, 1)
    if isinstance(input, SparseCompressedTensor):
        same = input.__dict__["_blocksize"] == blocksize and dense_dim in (
            None, input.dense_dim())
        if same and input.__dict__["_layout"] == layout:
            return input
        if same:  # a layout change keeps the specified entries, explicit zeros included
            info = input.__dict__
            return _as_compressed(input.to_dense(masked_grad=False), layout, blocksize,
                                  input.dense_dim(), info["_pattern"], info["_index_dtype"])
    sparse_input = input.is_sparse or isinstance(input, SparseCompressedTensor)
    if dense_dim is None:
        dense_dim = input.dense_dim() if sparse_input else 0
    dense = input.to_dense(masked_grad=False) if sparse_input else input
    nbatch = dense.ndim - 2 - dense_dim
    if nbatch < 0:
        raise RuntimeError(f"to_sparse: expected a tensor with at least {2 + dense_dim} dims "
                           f"for dense_dim={dense_dim}, got {dense.ndim}")
    rows, cols = dense.shape[nbatch], dense.shape[nbatch + 1]
    if rows % blocksize[0] or cols % blocksize[1]:
        raise RuntimeError(f"to_sparse: tensor sparse size ({rows},{cols}) must be divisible "
                           f"by given blocksize ({blocksize[0]},{blocksize[1]})")
    split, perm = _block_view(tuple(dense.shape), nbatch, blocksize)
    blocks = dense._data.reshape(split).transpose(perm)
    if isinstance(input, SparseCooTensor) and input.sparse_dim() == nbatch + 2:
        # the COO tensor's stored entries, explicit zeros included, as PyTorch converts them
        occupied = input._occupied().reshape(split[:nbatch + 4])
        pattern = occupied.any(axis=(nbatch + 1, nbatch + 3))
    else:
        pattern = (blocks != 0).any(axis=tuple(range(nbatch + 2, blocks.ndim)))
    per_batch = pattern.reshape((-1, pattern.shape[-2] * pattern.shape[-1])).sum(-1)
    if per_batch.size and bool((per_batch != per_batch[0]).any()):
        raise RuntimeError("Expect the same number of specified elements per batch.")
    return _as_compressed(ToSparse.apply(dense), layout, blocksize, dense_dim, pattern)


def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *,
                             dtype=None, layout=None, device=None, pin_memory: bool = False,
                             requires_grad: bool = False,
                             check_invariants: bool | None = None) -> SparseCompressedTensor:
    """A CSR, CSC, BSR or BSC tensor (``layout``) from its indices and values.

    Args:
        compressed_indices: (*batch, n + 1) offsets: the entries of row (CSR, BSR) or column
            (CSC, BSC) ``i`` are ``plain_indices[..., ci[i]:ci[i + 1]]``.
        plain_indices: (*batch, nnz) the column (CSR, BSR) or row (CSC, BSC) of each entry;
            for the block layouts, counted in blocks.
        values: (*batch, nnz, *dense) entries, or (*batch, nnz, bh, bw, *dense) blocks.
        size: the full shape (default: the smallest that holds every index).
        dtype, device: of the result (default: the values').

    Example::

        >>> a = ember.sparse_csr_tensor([0, 2, 3], [0, 2, 1], [1., 2., 3.], (2, 3))
        >>> a.to_dense().tolist()
        [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]
    """
    from ember._creation import as_tensor
    from ember._sparse_ops import check_compressed_invariants, checks_invariants
    name = _layout_name(layout)
    if name not in _COMPRESSED:
        raise RuntimeError("sparse_compressed_tensor expected sparse compressed tensor layout "
                           f"but got {'none' if layout is None else layout}")
    _, row_compressed, blocked = _COMPRESSED[name]
    ci, pi = as_tensor(compressed_indices), as_tensor(plain_indices)
    vals = as_tensor(values, dtype=dtype)
    for what, idx in (("compressed_indices", ci), ("plain_indices", pi)):
        if idx.ndim < 1 or idx.dtype.is_floating_point or idx.dtype.is_complex:
            raise RuntimeError(f"{what} must be an integer tensor of at least one dimension, "
                               f"got {idx.dtype} {list(idx.shape)}")
    nbatch = ci.ndim - 1
    batch = tuple(ci.shape[:-1])
    nnz = pi.shape[-1]
    blocksize = tuple(vals.shape[nbatch + 1:nbatch + 3]) if blocked else (1, 1)
    if (tuple(pi.shape[:-1]) != batch or tuple(vals.shape[:nbatch + 1]) != batch + (nnz,)
            or len(blocksize) != 2):
        raise RuntimeError(f"sparse_compressed_tensor: compressed_indices {list(ci.shape)}, "
                           f"plain_indices {list(pi.shape)} and values {list(vals.shape)} "
                           f"disagree on the batch shape or the number of entries")
    xp = vals._xp
    cix, pix = xp.asarray(ci._data, np.int64), xp.asarray(pi._data, np.int64)
    ncompressed = ci.shape[-1] - 1
    nplain = int(pix.max()) + 1 if nnz else 0
    grid = (ncompressed, nplain) if row_compressed else (nplain, ncompressed)
    dense_shape = tuple(vals.shape[nbatch + (3 if blocked else 1):])
    if size is None:
        size = batch + (grid[0] * blocksize[0], grid[1] * blocksize[1]) + dense_shape
    size = tuple(int(s) for s in size)
    if size[:nbatch] != batch or size[nbatch + 2:] != dense_shape or len(size) < nbatch + 2:
        raise RuntimeError(f"sparse_compressed_tensor: size {size} does not match the indices' "
                           f"batch shape {batch} and the values' dense shape {dense_shape}")
    grid = (size[nbatch] // blocksize[0], size[nbatch + 1] // blocksize[1])
    compressed_len, plain_len = grid if row_compressed else grid[::-1]
    if checks_invariants(check_invariants):
        if ci.dtype != pi.dtype:
            names = ("crow_indices", "col_indices") if row_compressed else ("ccol_indices",
                                                                            "row_indices")
            raise RuntimeError(f"{names[0]} and {names[1]} must have the same dtype, bot got "
                               f"{scalar_name(ci.dtype)} and {scalar_name(pi.dtype)}, "
                               "respectively")
        check_compressed_invariants(xp, name, cix, pix, nnz, plain_len)
    # checked whatever check_invariants says: a dense-backed tensor cannot hold such indices
    if nnz and (bool((cix[..., :1] != 0).any()) or bool((cix[..., -1:] != nnz).any())
                or bool((xp.diff(cix, axis=-1) < 0).any())):
        raise RuntimeError("sparse_compressed_tensor: compressed_indices must start at 0, "
                           f"never decrease and end at nnz ({nnz})")
    if compressed_len != ncompressed or plain_len < nplain or (nnz and int(pix.min()) < 0):
        raise RuntimeError(f"sparse_compressed_tensor: size {size} is inconsistent with the "
                           f"indices (blocksize {blocksize})")
    # Each entry's compressed coordinate: the segment of compressed_indices it falls in.
    flat_ci = cix.reshape(-1, ncompressed + 1)
    comp = xp.stack([xp.searchsorted(row, xp.arange(nnz), side="right") - 1
                     for row in flat_ci]) if flat_ci.shape[0] else xp.zeros((0, nnz), np.int64)
    coords_b = xp.repeat(xp.arange(comp.shape[0]), nnz)
    comp, plain = comp.reshape(-1), pix.reshape(-1)
    row, col = (comp, plain) if row_compressed else (plain, comp)
    split, perm = _block_view(size, nbatch, blocksize)
    blocks_shape = tuple(split[i] for i in perm)
    pattern = xp.zeros(blocks_shape[:nbatch + 2], bool)
    pattern.reshape((-1,) + pattern.shape[nbatch:])[coords_b, row, col] = True
    if requires_grad and not (vals.dtype.is_floating_point or vals.dtype.is_complex):
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    index_dtype = np.int32 if ci._data.dtype == np.int32 else np.int64
    unpermute = tuple(int(i) for i in np.argsort(perm))
    entries_shape = (-1,) + blocks_shape[nbatch + 2:]
    flat_shape = (-1,) + blocks_shape[nbatch:]
    if vals.requires_grad and _State.enabled:  # differentiable in values, as in PyTorch
        from ember._creation import zeros
        blocks = zeros(blocks_shape, dtype=vals.dtype, device=vals.device).reshape(flat_shape)
        blocks = blocks.index_put((_make(coords_b), _make(row), _make(col)),
                                  vals.reshape(entries_shape), accumulate=True)
        out = blocks.reshape(blocks_shape).permute(unpermute).reshape(size).contiguous()
        if device is not None:
            out, pattern = out.to(device), to_device(pattern, Device(device))
        return _as_compressed(out, name, blocksize, len(dense_shape), pattern, index_dtype)
    blocks = xp.zeros(blocks_shape, vals._data.dtype)
    # a flat batch view of the fresh (contiguous) array, written through
    scatter_add(xp, blocks.reshape(flat_shape), (coords_b, row, col),
                vals._data.reshape(entries_shape))
    dense = blocks.transpose(unpermute).reshape(size)
    if device is not None:
        dense = to_device(dense, Device(device))
        pattern = to_device(pattern, Device(device))
    return _as_compressed(_make(xp.ascontiguousarray(dense), requires_grad), name, blocksize,
                          len(dense_shape), pattern, index_dtype)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants: bool | None = None) -> SparseCompressedTensor:
    """A CSR tensor: row ``i`` holds ``values[crow_indices[i]:crow_indices[i + 1]]`` at those
    ``col_indices`` (see ``sparse_compressed_tensor``)."""
    import ember
    return sparse_compressed_tensor(crow_indices, col_indices, values, size, dtype=dtype,
                                    layout=ember.sparse_csr, device=device,
                                    requires_grad=requires_grad,
                                    check_invariants=check_invariants)


def sparse_csc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants: bool | None = None) -> SparseCompressedTensor:
    """A CSC tensor: column ``j`` holds ``values[ccol_indices[j]:ccol_indices[j + 1]]`` at
    those ``row_indices`` (see ``sparse_compressed_tensor``)."""
    import ember
    return sparse_compressed_tensor(ccol_indices, row_indices, values, size, dtype=dtype,
                                    layout=ember.sparse_csc, device=device,
                                    requires_grad=requires_grad,
                                    check_invariants=check_invariants)


def sparse_bsr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants: bool | None = None) -> SparseCompressedTensor:
    """A BSR tensor: CSR over blocks, ``values`` of shape (nnz, bh, bw, *dense) (see
    ``sparse_compressed_tensor``)."""
    import ember
    return sparse_compressed_tensor(crow_indices, col_indices, values, size, dtype=dtype,
                                    layout=ember.sparse_bsr, device=device,
                                    requires_grad=requires_grad,
                                    check_invariants=check_invariants)


def sparse_bsc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants: bool | None = None) -> SparseCompressedTensor:
    """A BSC tensor: CSC over blocks, ``values`` of shape (nnz, bh, bw, *dense) (see
    ``sparse_compressed_tensor``)."""
    import ember
    return sparse_compressed_tensor(ccol_indices, row_indices, values, size, dtype=dtype,
                                    layout=ember.sparse_bsc, device=device,
                                    requires_grad=requires_grad,
                                    check_invariants=check_invariants)


def _convert_indices_from_coo_to_csr(input: Tensor, size: int, *,
                                     out_int32: bool = False) -> Tensor:
    """``torch._convert_indices_from_coo_to_csr``: the ``size + 1`` compressed row pointers of
    the sorted row indices ``input`` (pointer ``r`` counts the indices below ``r``).

    Example::

        >>> ember._convert_indices_from_coo_to_csr(ember.tensor([0, 0, 2]), 3)
        tensor([0, 2, 2, 3])
    """
    import ember
    bounds = ember.arange(size + 1, dtype=input.dtype, device=input.device)
    return ember.searchsorted(input, bounds, out_int32=out_int32)


def _convert_indices_from_csr_to_coo(crow_indices: Tensor, col_indices: Tensor, *,
                                     out_int32: bool = False, transpose: bool = False) -> Tensor:
    """``torch._convert_indices_from_csr_to_coo``: the (2, nnz) row and column indices of a
    CSR pattern (column and row with ``transpose``)."""
    import ember
    rows = ember.arange(crow_indices.numel() - 1, device=crow_indices.device)
    rows = ember.repeat_interleave(rows, crow_indices.diff())
    indices = ember.stack([rows, col_indices.to(rows.dtype)])
    indices = indices.flip(0) if transpose else indices
    return indices.to(ember.int32 if out_int32 else ember.int64)
