"""Sparse tensors: COO (``ember.sparse_coo_tensor``, ``Tensor.to_sparse``), the compressed
layouts CSR, CSC, BSR and BSC (``ember.sparse_csr_tensor``, ``Tensor.to_sparse_csr``, ...; see
NOTE [ Dense-backed compressed tensors ]), ``Tensor.sparse_mask`` and ``ember.sparse``.

A sparse tensor here keeps its values in a dense array, and shows PyTorch's COO interface over
it: ``is_sparse``, ``layout``, ``indices()``, ``values()``, ``coalesce()``, ``_nnz()``,
``to_dense()``. So every op, autograd included, computes what it computes on the dense tensor,
which is PyTorch's result for the sparse-dense products, sums and elementwise ops that code
applies to them; results come back dense (strided), except the sum of two COO (or two
compressed) tensors, which keeps the layout with the union of their stored entries (as
gradients accumulate), the product of two sparse matrices, sparse as in PyTorch (see
``_sparse_ops.sparse_mm``), and casts and moves, which keep the layout. Which entries are
stored is kept as a pattern (so explicit zeros count, as in PyTorch) where PyTorch's is known:
the constructors', ``sparse_mask``'s, ``torch.sparse``'s results, sums and products of sparse
tensors, and the gradients of ``embedding(..., sparse=True)``, whose stored rows are the rows
looked up (in-place ops keep it); elsewhere (``to_sparse``) the stored entries are the
nonzeros. What differs from PyTorch: memory and
time are the dense tensor's, and an uncoalesced tensor shows its coalesced entries.

Example::

    >>> i = ember.tensor([[0, 1, 1], [2, 0, 2]])
    >>> a = ember.sparse_coo_tensor(i, ember.tensor([3., 4., 5.]), (2, 3))
    >>> (a @ ember.ones(3, 1)).tolist()
    [[3.0], [9.0]]
"""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.device import Device, get_array_module, to_device
from ember.backend.special import scatter_add
from ember.overrides import _disabled_torch_function_impl

__all__ = ["addmm", "as_sparse_gradcheck", "check_sparse_tensor_invariants", "log_softmax", "mm",
           "sampled_addmm", "softmax", "spdiags", "spsolve", "sum"]


def _layout_cast(name: str):
    """``Tensor.<name>`` (``to``, ``double``, ``cpu``, ...) keeping the sparse layout and the
    stored entries (a value cast to zero stays stored), as PyTorch's casts and moves do."""
    method = getattr(Tensor, name)

    def cast(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        return out if out is self else self._recast(out)
    cast.__name__ = cast.__qualname__ = name
    return cast


class _SparseBase(Tensor):
    """What the sparse layouts share: casts and moves that keep the layout (each subclass
    says how, in ``_recast``)."""

    __torch_function__ = _disabled_torch_function_impl

    __slots__ = ()

    to = _layout_cast("to")
    float = _layout_cast("float")
    double = _layout_cast("double")
    half = _layout_cast("half")
    bfloat16 = _layout_cast("bfloat16")
    int = _layout_cast("int")
    long = _layout_cast("long")
    short = _layout_cast("short")
    char = _layout_cast("char")
    byte = _layout_cast("byte")
    bool = _layout_cast("bool")
    cfloat = _layout_cast("cfloat")
    cdouble = _layout_cast("cdouble")
    cpu = _layout_cast("cpu")
    cuda = _layout_cast("cuda")

    # A product of two sparse matrices is sparse (``sparse_mm``); the others are strided's.
    def matmul(self, other):
        if isinstance(other, _SparseBase) and self.ndim == 2 == other.ndim:
            return sparse_mm(self, other, operator=True)
        return Tensor.matmul(self, other)

    def __matmul__(self, other):
        if isinstance(other, _SparseBase) and self.ndim == 2 == other.ndim:
            return sparse_mm(self, other, operator=True)
        return Tensor.__matmul__(self, other)

    def mm(self, mat2):
        if isinstance(mat2, _SparseBase):
            return sparse_mm(self, mat2, operator=True)
        return Tensor.mm(self, mat2)


class SparseCooTensor(_SparseBase):
    """A COO sparse tensor (see the module's docstring): ``isinstance(t, ember.Tensor)`` holds,
    as ``type(t) is torch.Tensor`` does for PyTorch's."""

    __torch_function__ = _disabled_torch_function_impl

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

    def _coalesced_(self, coalesced: bool) -> "SparseCooTensor":
        """Mark the tensor coalesced or not, unchecked (the caller vouches, as in PyTorch);
        returns the tensor itself."""
        self.__dict__["_coalesced"] = bool(coalesced)
        return self

    def coalesce(self) -> "SparseCooTensor":
        """The same tensor with unique, sorted indices (duplicates were summed on creation);
        differentiable, as in PyTorch."""
        return _as_sparse(self.clone(), self.sparse_dim(), True, self.__dict__.get("_pattern"))

    def _occupied(self):
        """The bool array over the sparse dims of the stored entries: the pattern given by
        ``sparse_mask``, else where a value is nonzero."""
        pattern = self.__dict__.get("_pattern")
        if pattern is not None:
            return pattern
        occupied = self._data != 0
        if self.dense_dim():
            occupied = occupied.reshape(self._data.shape[:self.sparse_dim()] + (-1,)).any(-1)
        return occupied

    def _indices(self) -> Tensor:
        """The (sparse_dim, nnz) int64 coordinates of the stored entries, in row-major order."""
        xp = self._xp
        return _make(xp.stack(xp.nonzero(self._occupied())).astype(np.int64).reshape(
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

    def _like(self, t: Tensor) -> "SparseCooTensor":
        """``t`` (a tensor of this shape) as a COO tensor with this one's stored entries."""
        return _as_sparse(t, self.sparse_dim(), self.is_coalesced(),
                          self.__dict__.get("_pattern"))

    def _recast(self, t: Tensor) -> "SparseCooTensor":
        """``t``, this tensor cast or moved, as a COO tensor with this one's stored entries."""
        return _as_sparse(t, self.sparse_dim(), self.is_coalesced(),
                          to_device(self._occupied(), t.device))

    def detach(self) -> "SparseCooTensor":
        return self._like(Tensor.detach(self))

    def t(self) -> Tensor:
        """A sparse matrix transposed stays COO (uncoalesced, as PyTorch marks it: its entries
        are no longer in row order); differentiable."""
        if self.sparse_dim() != 2 or self.ndim != 2:
            return Tensor.t(self)
        return _as_sparse(SparseTranspose.apply(self), 2, False, self._occupied().T)

    def clone(self, *, memory_format=None) -> "SparseCooTensor":
        return self._like(Tensor.clone(self))

    def _owned_copy(self) -> "SparseCooTensor":
        return self._like(Tensor._owned_copy(self))

    def zero_(self) -> "SparseCooTensor":
        """Zero the tensor, which then stores no entry (and is coalesced), as in PyTorch."""
        Tensor.zero_(self)
        self.__dict__["_pattern"] = self._xp.zeros_like(self._occupied())
        self.__dict__["_coalesced"] = True
        return self

    def __add__(self, other):
        out = Tensor.__add__(self, other)
        if _same_layout(self, other):
            return _as_sparse(out, self.sparse_dim(), self.is_coalesced() and other.is_coalesced(),
                              self._occupied() | other._occupied())
        return out

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        """The strided tensor; its gradient is kept to the stored entries unless
        ``masked_grad=False``, as in PyTorch."""
        occupied = self._occupied()
        keep = occupied.reshape(occupied.shape + (1,) * self.dense_dim())
        dense = Tensor.clone(self) if masked_grad is False else ToDense.apply(
            self, keep, self._recast)
        return dense if dtype is None else dense.to(dtype)

    def to_sparse(self, sparse_dim: int | None = None, *, layout=None, blocksize=None,
                  dense_dim=None):
        if _layout_name(layout) in (None, "sparse_coo") and sparse_dim in (
                None, self.sparse_dim()):
            return self
        return to_sparse(self.to_dense(masked_grad=False), sparse_dim, layout=layout,
                         blocksize=blocksize, dense_dim=dense_dim)

    def __repr__(self) -> str:
        from ember._tensor_str import _add_suffixes, autograd_suffix, dtype_implied
        last = [f"size={tuple(self.shape)}", f"nnz={self._nnz()}"]
        if self.is_cuda:
            last.append(f"device='{self.device}'")
        if not dtype_implied(self):
            last.append(f"dtype={self.dtype!r}")
        last += ["layout=torch.sparse_coo", *autograd_suffix(self)]
        text = ("tensor(" + _labelled("indices", self._indices()) + ",\n       "
                + _labelled("values", self._values()))
        return _add_suffixes(text, last, 7, force_newline=True)


def _same_layout(a: SparseCooTensor, other) -> bool:
    """Whether ``other`` is a COO tensor of ``a``'s shape and sparse dims (their sum is COO)."""
    return (isinstance(other, SparseCooTensor) and other.sparse_dim() == a.sparse_dim()
            and tuple(other.shape) == tuple(a.shape))


def accumulate(current: _SparseBase, grad: Tensor) -> Tensor:
    """``current + grad`` for ``.grad`` accumulation, in place when both are COO (``current``
    then stores the union of the entries, coalesced only if both were); a dense ``grad`` makes
    a new dense gradient, as in PyTorch. A compressed ``current`` takes a compressed ``grad``
    (the sum stores the union of their entries) and refuses a strided one, as PyTorch's does."""
    if isinstance(current, SparseCompressedTensor):
        if not isinstance(grad, _SparseBase):
            raise RuntimeError("Sparse CSR tensors do not have is_contiguous")
        return current + grad
    if not _same_layout(current, grad):
        return _make(current._data + grad._data)
    pattern = current._occupied() | grad._occupied()
    current._data += grad._data
    current.__dict__["_pattern"] = pattern
    current.__dict__["_coalesced"] = current.is_coalesced() and grad.is_coalesced()
    return current


def row_sparse(t: Tensor, rows) -> SparseCooTensor:
    """``t`` (graph and all) as a COO tensor over its first dim, storing the ``rows`` (an index
    array, repeats allowed): an embedding's sparse gradient. Coalesced when at most one row is
    given, as PyTorch marks its gradient."""
    pattern = t._xp.zeros(t.shape[0], bool)
    pattern[rows] = True
    return _as_sparse(t, 1, rows.size <= 1, pattern)


class ToDense(Primitive, node_name="ToDenseBackward0"):
    """A sparse tensor's strided copy, zero off its stored entries (``keep``, a bool array that
    broadcasts); the gradient, kept to those entries, comes back in the sparse tensor's layout
    (``relayout`` is its ``_recast``), as PyTorch's does."""

    @staticmethod
    def forward(ctx, a, keep, relayout):
        ctx.keep, ctx.relayout = keep, relayout
        return get_array_module(a).where(keep, a, 0).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return ctx.relayout(Tensor.masked_fill(grad, _make(~ctx.keep), 0))


class SparseTranspose(Primitive, node_name="TBackward0"):
    """A COO matrix's transpose (its own values, as the caller makes it COO); the gradient is
    transposed back, sparse when it is, as PyTorch's is."""

    @staticmethod
    def forward(ctx, a):
        return a.T.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad.t()


class ToSparse(Primitive, node_name="ToSparseBackward0"):
    """A strided copy that becomes a sparse tensor (the caller sets the layout); its gradient
    is strided, as PyTorch's is."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad if grad.__class__ is Tensor else Tensor.clone(grad)


def _masked(t: Tensor, keep) -> Tensor:
    """A strided copy of ``t``, zero where the bool array ``keep`` (broadcast) is False: its
    gradient is the incoming one kept to the stored entries, as PyTorch's sparse grads are."""
    return Tensor.masked_fill(t, _make(~keep), 0)


def _labelled(label: str, t: Tensor) -> str:
    """``label=tensor([...])`` inside a sparse repr, laid out for its indent as PyTorch does
    (the sparse repr states the dtype and autograd state, so this part does not)."""
    from ember import dtypes as _dt
    from ember._tensor_str import _body
    t = t.detach().cpu()
    if t.dtype in (_dt.bfloat16, _dt.float16):
        t = t.float()
    if not t.numel():
        return f"{label}=tensor([], size={tuple(t.shape)})"
    return f"{label}=tensor({_body(t._data, 2 * len('tensor(') + len(label) + 1)})"


def _as_sparse(t: Tensor, sparse_dim: int, coalesced: bool, pattern=None) -> SparseCooTensor:
    """``t`` itself, graph and all, as a sparse tensor (the classes share their layout); a
    ``pattern`` (bool, over the sparse dims) fixes which entries are stored."""
    t.__class__ = SparseCooTensor
    t.__dict__["_sparse_dim"] = sparse_dim
    t.__dict__["_coalesced"] = coalesced
    if pattern is not None:
        t.__dict__["_pattern"] = pattern
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
        for d in range(sparse_dim):
            if nnz and int(coords[d].min()) < 0:
                raise RuntimeError(f"found negative index {int(coords[d].min())} for dim {d}")
        size = tuple(int(c.max()) + 1 if nnz else 0 for c in coords) + tuple(vals.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != sparse_dim + vals.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sparse_dim}) + dense_dim "
                           f"({vals.ndim - 1}), but got {len(size)}")
    # checked whatever check_invariants says: a dense-backed tensor cannot hold such an index
    for d in range(sparse_dim):
        if nnz and int(coords[d].min()) < 0:
            raise RuntimeError(f"found negative index {int(coords[d].min())} for dim {d}")
        if nnz and int(coords[d].max()) >= size[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is "
                               f"{size[d]} but found index {int(coords[d].max())}")
    xp = vals._xp
    where = tuple(xp.asarray(c) for c in coords)
    pattern = xp.zeros(size[:sparse_dim], bool)  # explicit zeros stay specified, as in PyTorch
    if nnz:
        pattern[where] = True
    if requires_grad and not (vals.dtype.is_floating_point or vals.dtype.is_complex):
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    if vals.requires_grad and _State.enabled:  # differentiable in values, as in PyTorch
        from ember._creation import zeros
        out = zeros(size, dtype=vals.dtype, device=vals.device).index_put(
            tuple(_make(w) for w in where), vals, accumulate=True)
        if device is not None:
            out, pattern = out.to(device), to_device(pattern, Device(device))
    else:
        dense = xp.zeros(size, vals._data.dtype)
        scatter_add(xp, dense, where, vals._data)
        if device is not None:
            dense, pattern = to_device(dense, Device(device)), to_device(pattern, Device(device))
        out = _make(dense, requires_grad)
    return _as_sparse(out, sparse_dim, bool(is_coalesced), pattern)


def to_sparse(input: Tensor, sparse_dim: int | None = None, *, layout=None,
              blocksize=None, dense_dim=None) -> Tensor:
    """``input`` as a COO sparse tensor (coalesced) over its first ``sparse_dim`` dims (all),
    or in the compressed ``layout`` given (``Tensor.to_sparse_csr`` and its kin)."""
    name = _layout_name(layout)
    if name in _COMPRESSED:
        if sparse_dim is not None:
            raise RuntimeError("to_sparse: sparse_dim is only for layout=torch.sparse_coo")
        return to_compressed(input, name, blocksize, dense_dim)
    if name not in (None, "sparse_coo"):
        raise RuntimeError(f"to_sparse: unsupported layout {layout}")
    pattern = None
    if isinstance(input, SparseCompressedTensor):
        if sparse_dim is None:
            sparse_dim = input.ndim - input.dense_dim()
            if input.__dict__["_blocksize"] == (1, 1):
                pattern = input.__dict__["_pattern"]
        input = input.to_dense(masked_grad=False)
    sparse_dim = input.ndim if sparse_dim is None else sparse_dim
    if not 0 <= sparse_dim <= input.ndim:
        raise RuntimeError(f"sparse_dim must be in [0, {input.ndim}], got {sparse_dim}")
    return _as_sparse(ToSparse.apply(input), sparse_dim, True, pattern)


def sparse_mask(input: Tensor, mask: Tensor) -> Tensor:
    """``input``'s entries at ``mask``'s stored positions, as a sparse tensor of ``mask``'s
    layout and pattern (``mask``'s values are ignored); differentiable in ``input``."""
    if tuple(input.shape) != tuple(mask.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size "
                           f"{list(input.shape)} but mask has size {list(mask.shape)}")
    dense = input.to_dense(masked_grad=False) if input.is_sparse or isinstance(
        input, SparseCompressedTensor) else input
    if isinstance(mask, SparseCompressedTensor):
        info = mask.__dict__
        return _as_compressed(_masked(dense, mask._keep()), info["_layout"], info["_blocksize"],
                              mask.dense_dim(), info["_pattern"], info["_index_dtype"])
    if not mask.is_sparse:
        raise layout_error("sparse_mask", mask, "sparse")
    occupied = mask._occupied()
    keep = occupied.reshape(occupied.shape + (1,) * mask.dense_dim())
    return _as_sparse(_masked(dense, keep), mask.sparse_dim(), True, occupied)


# ---------------------------------------------------------------------------------------------
# Compressed layouts: CSR, CSC, BSR, BSC
#
# (NOTE [ Dense-backed compressed tensors ] is in _sparse_compressed.py)

_COMPRESSED = {  # layout name -> (PyTorch's layout word in errors, compresses rows, is blocked)
    "sparse_csr": ("SparseCsr", True, False),
    "sparse_csc": ("SparseCsc", False, False),
    "sparse_bsr": ("SparseBsr", True, True),
    "sparse_bsc": ("SparseBsc", False, True),
}


def layout_word(t: Tensor) -> str:
    """The layout as PyTorch's errors spell it (``Strided``, ``Sparse``, ``SparseCsr``, ...)."""
    name = t.layout.name
    return {"strided": "Strided", "sparse_coo": "Sparse"}.get(name) or _COMPRESSED[name][0]


def layout_error(op: str, t: Tensor, expected: str) -> RuntimeError:
    return RuntimeError(f"{op} expected {expected} tensor layout but got {layout_word(t)}")


def _layout_name(layout) -> str | None:
    return getattr(layout, "name", None)


def mm(mat1: Tensor, mat2: Tensor, reduce: str = "sum") -> Tensor:
    """``mat1 @ mat2`` where either may be sparse (``torch.sparse.mm``): sparse when both are
    (see ``sparse_mm``), else dense; the gradient of a sparse operand is kept to its specified
    entries, as in PyTorch. ``reduce`` ('sum', 'mean', 'amax', 'amin') combines the products
    of each row of a CSR ``mat1`` with a dense ``mat2`` (a row without entries gives 0)."""
    if reduce != "sum":
        return _reduced_mm(mat1, mat2, reduce)
    if isinstance(mat1, _SparseBase):
        if isinstance(mat2, _SparseBase):
            return sparse_mm(mat1, mat2)
        if mat1.ndim == 2:
            return sparse_dense_mm(mat1, mat2)
        mat1 = mat1.to_dense()  # a batch of compressed matrices
    if isinstance(mat2, _SparseBase):
        mat2 = mat2.to_dense()
    return mat1.matmul(mat2)


def _reduced_mm(mat1: Tensor, mat2: Tensor, reduce: str) -> Tensor:
    """``torch.sparse.mm(mat1, mat2, reduce)``: per row ``i`` of the CSR ``mat1``, ``reduce``
    over its entries ``j`` of ``mat1[i, j] * mat2[j]``; composed, so differentiable in both."""
    import ember
    if getattr(mat1, "layout", None) is not ember.sparse_csr or isinstance(mat2, _SparseBase):
        raise NotImplementedError(f"Could not run 'aten::_sparse_mm_reduce_impl' with "
                                  f"arguments from the '{layout_word(mat1)}' backend")
    rows, cols = ember._convert_indices_from_csr_to_coo(mat1.crow_indices(), mat1.col_indices())
    products = mat1.values().unsqueeze(-1) * mat2[cols]
    out = products.new_zeros((mat1.shape[0], mat2.shape[1]))
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # PyTorch takes both spellings
    return out.scatter_reduce(0, rows.unsqueeze(-1).expand_as(products), products, reduce,
                              include_self=False)


def sum(input: Tensor, dim=None, dtype=None) -> Tensor:  # noqa: A001 - PyTorch's name
    """The sum of a sparse tensor's entries, over ``dim`` (all by default)."""
    return input.sum(dtype=dtype) if dim is None else input.sum(dim, dtype=dtype)


# the compressed layouts and torch.sparse's other functions, on the same representation (at
# the end: they import it)
from ember._sparse_compressed import (  # noqa: E402, F401
    SparseCompressedTensor,
    _as_compressed,
    sparse_bsc_tensor,
    sparse_bsr_tensor,
    sparse_compressed_tensor,
    sparse_csc_tensor,
    sparse_csr_tensor,
    to_compressed,
)
from ember._sparse_ops import (  # noqa: E402, F401
    BFloat16Tensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    addmm,
    as_sparse_gradcheck,
    check_compressed_invariants,
    check_sparse_tensor_invariants,
    checks_invariants,
    log_softmax,
    sampled_addmm,
    softmax,
    sparse_dense_mm,
    sparse_mm,
    spdiags,
    spsolve,
)
