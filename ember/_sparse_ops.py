"""``torch.sparse``'s functions beyond ``mm`` and ``sum``: ``softmax``, ``log_softmax``,
``addmm``, ``sampled_addmm``, ``spdiags``, ``check_sparse_tensor_invariants``,
``as_sparse_gradcheck`` and the typed constructors (``ember.sparse.FloatTensor``, ...).
Re-exported by ``ember.sparse``, whose representation they share (see its docstring and
NOTE [ Dense-backed compressed tensors ]): each computes on the dense values and gives its
result the stored pattern PyTorch's has.
"""
from __future__ import annotations

import functools

import numpy as np

from ember import dtypes as _dt
from ember._sparse_compressed import SparseCompressedTensor, _as_compressed, to_compressed
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops._util import scalar_name, wrap_dim
from ember.sparse import (
    _COMPRESSED,
    SparseCooTensor,
    _as_sparse,
    _layout_name,
    _masked,
    layout_word,
)


def _is_sparse(t) -> bool:
    return isinstance(t, (SparseCooTensor, SparseCompressedTensor))


def _backend_key(t: Tensor) -> str:
    """The dispatch key PyTorch names when a kernel is missing for ``t``'s layout."""
    word = {"Strided": "", "Sparse": "Sparse"}.get(layout_word(t), layout_word(t))
    return f"{word}{'CUDA' if t.is_cuda else 'CPU'}"


def _missing_kernel(op: str, t: Tensor) -> NotImplementedError:
    return NotImplementedError(f"Could not run 'aten::{op}' with arguments from the "
                               f"'{_backend_key(t)}' backend.")


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax over the specified entries

class SparseSoftmax(Primitive, node_name="SparseSoftmaxBackward0"):
    """Softmax (or log-softmax) along ``dim`` over the entries where ``keep`` (a bool array
    that broadcasts to the input) holds, the others taken as -inf; zero where not kept."""

    @staticmethod
    def forward(ctx, a, keep, dim, log):
        xp = get_array_module(a)
        ctx.keep, ctx.dim, ctx.log = keep, dim, log
        if a.size == 0:
            out = xp.zeros_like(a)
            ctx.save_for_backward(out)
            return out
        with np.errstate(invalid="ignore", divide="ignore"):
            shifted = xp.where(keep, a, -xp.inf)
            top = shifted.max(axis=dim, keepdims=True)
            # a slice with no entry has nothing to shift; one whose entries are all -inf makes
            # NaN, as in PyTorch
            top = xp.where(keep.any(axis=dim, keepdims=True), top, 0)
            shifted = shifted - top
            exp = xp.exp(shifted)
            total = exp.sum(axis=dim, keepdims=True)
            if log:
                out = xp.where(keep, shifted - xp.log(total), 0)
            else:
                out = xp.where(keep, exp / xp.where(total == 0, 1, total), 0)
        out = out.astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        hidden = _make(~ctx.keep)
        grad = grad.masked_fill(hidden, 0)  # the result's gradient lives on its entries only
        if ctx.log:
            return (grad - out.exp() * grad.sum(ctx.dim, keepdim=True)).masked_fill(hidden, 0)
        gy = grad * out
        return gy - out * gy.sum(ctx.dim, keepdim=True)


def _sparse_softmax(input: Tensor, dim: int, dtype, log: bool) -> SparseCooTensor:
    name = "log_softmax" if log else "softmax"
    if not isinstance(input, SparseCooTensor):
        raise _missing_kernel(f"_sparse_{name}", input)
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))  # stays COO
    if input.dtype not in (_dt.float32, _dt.float64):
        raise NotImplementedError(f'"{name}" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    dim = wrap_dim(dim, input.ndim)
    occupied = input._occupied()
    keep = occupied.reshape(occupied.shape + (1,) * input.dense_dim())
    out = SparseSoftmax.apply(input.to_dense(), keep, dim, log)  # a gradient of its layout
    return _as_sparse(out, input.sparse_dim(), True, occupied)


def softmax(input: Tensor, dim: int, *, dtype=None) -> SparseCooTensor:
    """Softmax of a COO tensor along ``dim`` over its specified entries only (the unspecified
    ones count as -inf); the result has ``input``'s pattern.

    Args:
        input: a COO tensor of float32 or float64 (or any dtype with ``dtype`` given).
        dim: the dimension to normalize along (sparse or dense).
        dtype: cast ``input`` to this dtype first.

    Example::

        >>> a = ember.sparse_coo_tensor([[0, 0, 1], [0, 2, 1]], [1., 2., 3.], (2, 3))
        >>> ember.sparse.softmax(a, 1).to_dense().tolist()[1]
        [0.0, 1.0, 0.0]
    """
    return _sparse_softmax(input, dim, dtype, log=False)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> SparseCooTensor:
    """The log of ``softmax(input, dim)`` over the specified entries, computed stably; the
    result has ``input``'s pattern (see ``softmax``)."""
    return _sparse_softmax(input, dim, dtype, log=True)


# ---------------------------------------------------------------------------------------------
# Products

def _masked_dense(t: Tensor) -> Tensor:
    """A sparse tensor's dense form, whose gradient is kept to its specified entries."""
    return t.to_dense() if _is_sparse(t) else t


def _stored(xp, a, keep):
    return a if keep is None else xp.where(keep, a, 0)


def _operand(t: Tensor, keep) -> Tensor:
    """An operand of a product, for its partner's gradient: a sparse one strided and zero off
    its stored entries (differentiably); conjugated, for complex adjoints."""
    t = t if keep is None else _masked(t, keep)
    return t.conj() if t.is_complex() else t


def _kept_grad(grad: Tensor, keep, relayout) -> Tensor:
    """An operand's gradient: a sparse operand's kept to its stored entries, in its layout."""
    return grad if keep is None else relayout(_masked(grad, keep))


def _transposed(t: Tensor) -> Tensor:
    """A sparse matrix transposed, still sparse (a compressed one's rows become columns: CSR
    gives CSC); a strided one's ``mT``. Differentiable."""
    if isinstance(t, SparseCompressedTensor):
        info = t.__dict__
        layout = {"sparse_csr": "sparse_csc", "sparse_csc": "sparse_csr"}[info["_layout"]]
        return _as_compressed(Tensor.t(t), layout, (1, 1), 0, info["_pattern"].T,
                              info["_index_dtype"])
    if isinstance(t, SparseCooTensor):
        return _as_sparse(Tensor.t(t), 2, True, t._occupied().T)
    return t.mT


def _layout_of(t: Tensor, grad: Tensor) -> Tensor:
    """A compressed gradient in its operand's layout (a CSC product for a CSR operand)."""
    layout = t.__dict__.get("_layout")
    if isinstance(grad, SparseCompressedTensor) and grad.__dict__["_layout"] != layout:
        return to_compressed(grad, layout)
    return grad


class SparseMm(Primitive, node_name="MmBackward0"):
    """``a @ b`` of two sparse matrices, on their stored values (``keep_a``, ``keep_b``: bool
    arrays that broadcast to them). Its gradients are PyTorch's for ``@``: the products of the
    incoming gradient with the other operand, sparse when that gradient is, not kept to the
    operand's entries. ``torch.sparse.mm``'s nodes, below, keep them (``relayout_a``,
    ``relayout_b``: each sparse operand's ``_recast``; None for a strided one)."""

    @staticmethod
    def forward(ctx, a, b, keep_a, keep_b, relayout_a, relayout_b):
        xp = get_array_module(a)
        ctx.save_for_backward(a, b)
        ctx.sparse = (keep_a, keep_b, relayout_a, relayout_b)
        ctx.offset = 0  # the arguments before ``a``
        ctx.masked = False
        return xp.matmul(_stored(xp, a, keep_a), _stored(xp, b, keep_b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        keep_a, keep_b, relayout_a, relayout_b = ctx.sparse
        need_a, need_b = ctx.needs_input_grad[ctx.offset:ctx.offset + 2]
        ga = gb = None
        if not ctx.masked:  # a sparse gradient times a sparse operand: a sparse product
            if need_a:
                ga = _layout_of(a, grad.matmul(_transposed(b.conj() if b.is_complex() else b)))
            if need_b:
                gb = _layout_of(b, _transposed(a.conj() if a.is_complex() else a).matmul(grad))
            return ga, gb
        if need_a:
            ga = _kept_grad(grad.matmul(_operand(b, keep_b).mT), keep_a, relayout_a)
        if need_b:
            gb = _kept_grad(_operand(a, keep_a).mT.matmul(grad), keep_b, relayout_b)
        return (None,) * ctx.offset + (ga, gb)


class SparseSparseMatmul(SparseMm, node_name="SparseSparseMatmulBackward0"):
    """``torch.sparse.mm`` of two COO matrices: gradients kept to the operands' entries."""

    @staticmethod
    def forward(ctx, a, b, keep_a, keep_b, relayout_a, relayout_b):
        out = SparseMm.forward(ctx, a, b, keep_a, keep_b, relayout_a, relayout_b)
        ctx.masked = True
        return out


class SparseAddmm(SparseMm, node_name="SparseAddmmBackward0"):
    """``torch.sparse.mm`` of a sparse matrix by a strided one, or of two compressed ones:
    PyTorch's ``addmm`` of a zero matrix, whose input edge leads nowhere (the leading number
    argument, taken by ``forward`` and given an edge); gradients kept to the operands' entries.
    """

    _scalar_edges = True

    @staticmethod
    def forward(ctx, zero, a, b, keep_a, keep_b, relayout_a, relayout_b):
        out = SparseMm.forward(ctx, a, b, keep_a, keep_b, relayout_a, relayout_b)
        ctx.offset = 1
        ctx.masked = True
        return out


def _keep_and_relayout(t: Tensor):
    """The bool array of a sparse operand's stored entries (broadcasting to it) and its
    ``_recast``; (None, None) for a strided one."""
    if isinstance(t, SparseCompressedTensor):
        return t._keep(), t._recast
    if isinstance(t, SparseCooTensor):
        occupied = t._occupied()
        return occupied.reshape(occupied.shape + (1,) * t.dense_dim()), t._recast
    return None, None


def _matrix_pattern(t: Tensor, what: str):
    """The (rows, cols) bool pattern of a sparse matrix's stored entries; PyTorch's
    sparse-sparse kernels take scalar entries of COO, CSR and CSC matrices only."""
    if isinstance(t, SparseCompressedTensor):
        if _COMPRESSED[t.__dict__["_layout"]][2]:
            raise RuntimeError(f"zeros_sparse_compressed expected sparse compressed (non-block) "
                               f"tensor layout but got {layout_word(t)}")
        pattern = t.__dict__["_pattern"]
    else:
        pattern = t._occupied()
    if t.dense_dim():
        raise RuntimeError(f"{what}: scalar values expected, got {t.dense_dim()}D values")
    return pattern


def sparse_mm(mat1: Tensor, mat2: Tensor, operator: bool = False) -> Tensor:
    """The product of two sparse matrices, sparse as in PyTorch (COO for COO operands; CSR for
    compressed ones, except ``torch.sparse.mm``'s CSC @ CSC, CSC). Its stored entries are the
    structural product of the operands' (``(i, j)`` where some ``k`` has both ``mat1[i, k]``
    and ``mat2[k, j]`` stored, a cancelling sum included), coalesced. The gradients, in the
    operands' layouts, and the graph node are ``@``'s (``operator``) or ``torch.sparse.mm``'s
    (kept to the operands' entries), as PyTorch's (see ``SparseMm``).

    Example::

        >>> a = ember.tensor([[1., 0.], [0., 2.]]).to_sparse()
        >>> ember.sparse.mm(a, a).to_dense().tolist()
        [[1.0, 0.0], [0.0, 4.0]]
    """
    compressed = isinstance(mat1, SparseCompressedTensor)
    # the result's layout: ``@`` gives CSR for compressed operands; torch.sparse.mm is PyTorch's
    # addmm into a zero matrix of mat2's layout, which has no CSR @ CSC -> CSC kernel
    layout = "sparse_csr" if operator and compressed else mat2.layout.name
    if compressed != isinstance(mat2, SparseCompressedTensor) or (
            layout == "sparse_csc" and mat1.layout.name == "sparse_csr"):
        device = "CUDA" if mat1.is_cuda else "CPU"
        result = layout_word(mat1 if operator else mat2)
        raise RuntimeError(f"addmm: computation on {device} is not implemented for "
                           f"{result} + {layout_word(mat1)} @ {layout_word(mat2)}")
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"{'self' if mat1.ndim != 2 else 'mat2'} must be a matrix")
    what = "sparse_sparse_matmul_" + ("cuda" if mat1.is_cuda else "cpu")
    p1, p2 = _matrix_pattern(mat1, what), _matrix_pattern(mat2, what)
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x"
                           f"{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    if mat1.dtype != mat2.dtype:
        raise RuntimeError(f"mat1 dtype {scalar_name(mat1.dtype)} does not match mat2 dtype "
                           f"{scalar_name(mat2.dtype)}")
    keep1, relayout1 = _keep_and_relayout(mat1)
    keep2, relayout2 = _keep_and_relayout(mat2)
    args = (mat1, mat2, keep1, keep2, relayout1, relayout2)
    if operator:
        out = SparseMm.apply(*args)
    elif compressed:
        out = SparseAddmm.apply(0, *args)
    else:
        out = SparseSparseMatmul.apply(*args)
    # counts of the k that pair up, in float32 (BLAS; nonnegative, so no count rounds to 0)
    xp = out._xp
    pattern = xp.matmul(p1.astype(np.float32), p2.astype(np.float32)) > 0
    if compressed:
        return _as_compressed(out, layout, (1, 1), 0, pattern, mat1.__dict__["_index_dtype"])
    return _as_sparse(out, 2, True, pattern)


def sparse_dense_mm(mat1: Tensor, mat2: Tensor) -> Tensor:
    """``torch.sparse.mm`` of a sparse matrix by a strided one: strided; ``mat1``'s gradient
    is kept to its stored entries, in its layout (``@`` gives it dense and whole)."""
    if mat2.ndim != 2 or mat2.shape[0] != mat1.shape[1]:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {mat1.shape[1]}, "
                           f"got {mat2.shape[0] if mat2.ndim else 0}")
    if mat2.dtype != mat1.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(mat1.dtype)} but found "
                           f"{scalar_name(mat2.dtype)}")
    keep, relayout = _keep_and_relayout(mat1)
    return SparseAddmm.apply(0, mat1, mat2, keep, None, relayout, None)


def addmm(mat: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1., alpha=1.) -> Tensor:
    """``beta * mat + alpha * (mat1 @ mat2)`` for a sparse (COO or CSR) ``mat1``; dense.

    Args:
        mat: the dense matrix added (broadcast to the product's shape).
        mat1: the sparse (n, m) matrix; its gradient is kept to its specified entries.
        mat2: the dense (m, p) matrix.
        beta, alpha: the multipliers of ``mat`` and of the product.
    """
    from ember.ops.linalg import addmm as dense_addmm
    if _is_sparse(mat):
        raise RuntimeError(f"addmm_sparse_dense: expected strided result tensor, got tensor "
                           f"with layout {layout_word(mat)}")
    if _is_sparse(mat2):
        raise RuntimeError(f"addmm_sparse_dense: expected either 'mat1' to have sparse layout "
                           f"and 'mat2' to have strided layout, got 'mat1' with layout "
                           f"{layout_word(mat1)} and 'mat2' with layout {layout_word(mat2)}")
    if not _is_sparse(mat1):
        return dense_addmm(mat, mat1, mat2, beta=beta, alpha=alpha)
    for t in (mat2, mat):
        if t.dtype != mat1.dtype:
            raise RuntimeError(f"expected scalar type {scalar_name(mat1.dtype)} but found "
                               f"{scalar_name(t.dtype)}")
    if mat2.ndim != 2 or mat2.shape[0] != mat1.shape[1]:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {mat1.shape[1]}, "
                           f"got {mat2.shape[0] if mat2.ndim else 0}")
    mat = mat.expand(mat1.shape[0], mat2.shape[1])
    return dense_addmm(mat, _masked_dense(mat1), mat2, beta=beta, alpha=alpha)


def sampled_addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1., alpha=1.,
                  out: Tensor | None = None) -> SparseCompressedTensor:
    """``beta * input + alpha * (mat1 @ mat2)`` at ``input``'s specified entries only: a CSR
    tensor with ``input``'s pattern (broadcast over the batch dims of ``mat1`` and ``mat2``).

    Args:
        input: a CSR (*batch, n, p) floating tensor: the pattern and the addend.
        mat1, mat2: dense (*batch, n, m) and (*batch, m, p) matrices.
        beta, alpha: the multipliers of ``input`` and of the product.
        out: a CSR tensor to hold the result.
    """
    if not isinstance(input, SparseCompressedTensor):
        raise _missing_kernel("sparse_sampled_addmm", input)
    if input.layout.name != "sparse_csr":
        raise RuntimeError(f"sampled_addmm: Expected result to have sparse csr layout, but got "
                           f"{layout_word(input)}")
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if _is_sparse(t):
            raise RuntimeError(f"sampled_addmm: Expected {name} to have strided layout, but got "
                               f"{layout_word(t)}")
    if mat1.dtype != mat2.dtype:
        raise RuntimeError(f"sampled_addmm: Expected mat1 and mat2 to have the same dtype, but "
                           f"got {scalar_name(mat1.dtype)} and {scalar_name(mat2.dtype)}")
    if mat1.dtype != input.dtype:
        raise RuntimeError(f"sampled_addmm: Expected mat1 and self to have the same dtype, but "
                           f"got {scalar_name(mat1.dtype)} and {scalar_name(input.dtype)}")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"sparse_sampled_addmm: Expected self to be a floating-point or "
                           f"complex tensor, but got {scalar_name(input.dtype)}")
    if mat1.ndim < 2 or mat2.ndim < 2:
        raise RuntimeError(f"sampled_addmm: Expected mat1 and mat2 to be matrices, got "
                           f"{mat1.ndim}-D and {mat2.ndim}-D tensors")
    if mat1.shape[-1] != mat2.shape[-2]:
        raise RuntimeError(f"sampled_addmm: mat1 and mat2 shapes cannot be multiplied "
                           f"({mat1.shape[-2]}x{mat1.shape[-1]} and "
                           f"{mat2.shape[-2]}x{mat2.shape[-1]})")
    if input.shape[-2] != mat1.shape[-2]:
        raise RuntimeError("sampled_addmm: self.shape[-2] must match mat1.shape[-2]")
    if input.shape[-1] != mat2.shape[-1]:
        raise RuntimeError("sampled_addmm: self.shape[-1] must match mat2.shape[-1]")
    batch, mat_batch = tuple(input.shape[:-2]), tuple(mat1.shape[:-2])
    if batch and batch != mat_batch:
        raise RuntimeError(f"sampled_addmm: Expected self and mat1 to have the same batch "
                           f"size, but got {list(batch)} and {list(mat_batch)}")
    product = mat1.matmul(mat2)
    if alpha != 1:
        product = product * alpha
    if beta != 0:  # beta == 0 ignores input's values, NaN included, as addmm does
        product = product + (_masked_dense(input) if beta == 1 else beta * _masked_dense(input))
    xp = input._xp
    pattern = input.__dict__["_pattern"]
    pattern = xp.ascontiguousarray(xp.broadcast_to(pattern, tuple(product.shape)))
    result = _as_compressed(product.masked_fill(_make(~pattern), 0), "sparse_csr", (1, 1), 0,
                            pattern, input.__dict__["_index_dtype"])
    if out is None:
        return result
    with _no_grad():
        Tensor.copy_(out, result)
    out.__dict__["_pattern"] = pattern
    return out


def spsolve(input: Tensor, other: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``x`` of ``input @ x = other`` (``x @ input = other`` if not ``left``)
    for a square CSR ``input``; differentiable in both. (PyTorch has it on CUDA only.)"""
    from ember.linalg import solve
    if not isinstance(input, SparseCompressedTensor) or input.layout.name != "sparse_csr":
        raise _missing_kernel("_spsolve", input)
    dense = input.to_dense()
    if not left and other.ndim == 1:  # x @ A = b is A^T x = b for a vector
        return solve(dense.mT, other)
    return solve(dense, other, left=left)


def _no_grad():
    from ember.autograd.grad_mode import no_grad
    return no_grad()


# ---------------------------------------------------------------------------------------------
# spdiags

_SPDIAGS_LAYOUTS = ("sparse_coo", "sparse_csr", "sparse_csc")


def spdiags(diagonals: Tensor, offsets: Tensor, shape, layout=None) -> Tensor:
    """A 2-D sparse tensor with row ``i`` of ``diagonals`` along the diagonal ``offsets[i]``
    (0 main, > 0 above, < 0 below): entry ``(j - offsets[i], j)`` is ``diagonals[i, j]``,
    as in ``scipy.sparse.spdiags``; every entry that falls inside ``shape`` is specified.

    Args:
        diagonals: (D, N) (or (N,) for one diagonal) values.
        offsets: (D,) (or 0-d) int64 tensor of distinct diagonal offsets.
        shape: the (rows, cols) of the result.
        layout: ``ember.sparse_coo`` (default), ``sparse_csr`` or ``sparse_csc``.

    Example::

        >>> d = ember.tensor([[1., 2., 3.], [4., 5., 6.]])
        >>> ember.sparse.spdiags(d, ember.tensor([0, -1]), (3, 3)).to_dense().tolist()
        [[1.0, 0.0, 0.0], [4.0, 2.0, 0.0], [0.0, 5.0, 3.0]]
    """
    from ember._creation import zeros
    if not isinstance(offsets, Tensor):
        raise TypeError(f"_spdiags(): argument 'offsets' (position 2) must be Tensor, not "
                        f"{type(offsets).__name__}")
    name = _layout_name(layout) or "sparse_coo"
    if name not in _SPDIAGS_LAYOUTS:
        word = _COMPRESSED[name][0] if name in _COMPRESSED else "Strided"
        raise RuntimeError(f"Only output layouts (Sparse, SparseCsc, SparseCsr) are supported, "
                           f"got {word}")
    if offsets.dtype != _dt.int64:
        raise RuntimeError(f"Offset Tensor must have dtype Long but got "
                           f"{scalar_name(offsets.dtype)}")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2:
        raise RuntimeError("Output shape must be 2d")
    if diagonals.ndim == 1:
        diagonals = diagonals.unsqueeze(0)
    if diagonals.ndim != 2:
        raise RuntimeError("Diagonals must be vector or matrix")
    offs = offsets.reshape(-1)._data
    if diagonals.shape[0] != offs.size:
        raise RuntimeError(f"Number of diagonals ({diagonals.shape[0]}) does not match the "
                           f"number of offsets ({offs.size})")
    xp = diagonals._xp
    if xp.unique(offs).size != offs.size:
        raise RuntimeError("Offset tensor contains duplicate values")
    rows, cols = shape
    col = xp.broadcast_to(xp.arange(diagonals.shape[1]), tuple(diagonals.shape))
    row = col - xp.asarray(offs)[:, None]
    inside = (col < cols) & (row >= 0) & (row < rows)
    pattern = xp.zeros(shape, bool)
    pattern[row[inside], col[inside]] = True
    # through ember ops, so the result is differentiable in ``diagonals``
    dense = zeros(shape, dtype=diagonals.dtype, device=diagonals.device).index_put(
        (_make(row[inside]), _make(col[inside])), diagonals[_make(inside)])
    if name == "sparse_coo":
        return _as_sparse(dense, 2, False, pattern)
    return _as_compressed(dense, name, (1, 1), 0, pattern)


# ---------------------------------------------------------------------------------------------
# Invariant checks

class check_sparse_tensor_invariants:  # noqa: N801 - PyTorch's name
    """Turn on (or off) the checks of the indices given to sparse constructors, as a context
    manager, a decorator, or through ``enable()`` / ``disable()``; the constructors'
    ``check_invariants`` argument overrides it per call.

    Example::

        >>> with ember.sparse.check_sparse_tensor_invariants():
        ...     ember.sparse.check_sparse_tensor_invariants.is_enabled()
        True
    """

    _enabled = False

    @staticmethod
    def is_enabled() -> bool:
        return check_sparse_tensor_invariants._enabled

    @staticmethod
    def enable() -> None:
        check_sparse_tensor_invariants._enabled = True

    @staticmethod
    def disable() -> None:
        check_sparse_tensor_invariants._enabled = False

    def __init__(self, enable: bool = True):
        self.state = enable
        self.saved_state = None

    def __enter__(self):
        if self.saved_state is not None:
            raise RuntimeError("This context manager instance is already activated. Use a "
                               "different context manager instance for context nesting.")
        self.saved_state = self.is_enabled()
        check_sparse_tensor_invariants._enabled = self.state
        return self

    def __exit__(self, *exc) -> None:
        check_sparse_tensor_invariants._enabled = self.saved_state
        self.saved_state = None

    def __call__(self, fn):
        @functools.wraps(fn)
        def checked(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return checked


def checks_invariants(check_invariants: bool | None) -> bool:
    """Whether a constructor given ``check_invariants`` checks its indices."""
    return check_sparse_tensor_invariants._enabled if check_invariants is None else bool(
        check_invariants)


def check_compressed_invariants(xp, layout: str, compressed, plain, nnz: int,
                                plain_len: int) -> None:
    """PyTorch's checks of compressed indices (int64 arrays (*batch, n + 1) and (*batch,
    nnz)), in its order and words; ``plain_len`` counts the columns (rows for CSC, BSC)."""
    row_compressed = layout in ("sparse_csr", "sparse_bsr")
    ci, pi = ("crow_indices", "col_indices") if row_compressed else ("ccol_indices",
                                                                     "row_indices")
    n_plain, n_comp = ("ncols", "nrows") if row_compressed else ("nrows", "ncols")
    failed = None
    if plain.size and (int(plain.min()) < 0 or int(plain.max()) >= plain_len):
        failed = f"0 <= {pi} < {n_plain}"
    elif compressed.size and bool((compressed[..., 0] != 0).any()):
        failed = f"{ci}[..., 0] == 0"
    elif compressed.size and bool((compressed[..., -1] != nnz).any()):
        failed = f"{ci}[..., -1] == nnz"
    else:
        steps = xp.diff(compressed, axis=-1)
        if bool(((steps < 0) | (steps > plain_len)).any()):
            failed = f"0 <= {ci}[..., 1:] - {ci}[..., :-1] <= {n_plain}"
        elif not _sorted_segments(xp, compressed, plain):
            failed = (f"{pi}[..., {ci}[..., i - 1]:{ci}[..., i]] for all i = 1, ..., {n_comp} "
                      f"are sorted and distinct along the last dimension values")
    if failed:
        raise RuntimeError(f"`{failed}` is not satisfied.")


def _sorted_segments(xp, compressed, plain) -> bool:
    """Whether the plain indices strictly increase within each compressed segment."""
    if plain.shape[-1] < 2:
        return True
    ascending = xp.diff(plain, axis=-1) > 0
    # a step between entries k and k + 1 may descend only where a new segment starts at k + 1
    starts = xp.zeros(plain.shape, bool)
    flat_starts = starts.reshape(-1, plain.shape[-1])
    flat_ci = compressed.reshape(-1, compressed.shape[-1])
    for b in range(flat_ci.shape[0]):
        bounds = flat_ci[b, 1:-1]
        flat_starts[b, bounds[bounds < plain.shape[-1]]] = True
    return bool((ascending | starts[..., 1:]).all())


# ---------------------------------------------------------------------------------------------
# gradcheck over the specified entries

def _values_and_rebuild(t: Tensor):
    """The specified values of a sparse ``t`` (a strided leaf that requires grad) and a
    function that rebuilds ``t``, differentiably, from such values."""
    xp = t._xp
    if isinstance(t, SparseCooTensor):
        occupied = t._occupied()
        keep = occupied.reshape(occupied.shape + (1,) * t.dense_dim())
    else:
        keep = t._keep()
    where = xp.nonzero(xp.broadcast_to(keep, tuple(t.shape)))
    values = _make(t._data[where].copy(), True)
    info = dict(t.__dict__)
    coords = tuple(_make(w) for w in where)

    def rebuild(vals: Tensor) -> Tensor:
        from ember._creation import zeros
        dense = zeros(tuple(t.shape), dtype=vals.dtype, device=vals.device).index_put(
            coords, vals)
        dense.__class__ = type(t)
        dense.__dict__.update(info)
        return dense
    return values, rebuild


def as_sparse_gradcheck(gradcheck):
    """``gradcheck`` (or a ``functools.partial`` of it) extended to functions of sparse
    tensors: each sparse input that requires grad is checked through its specified values
    only, and sparse outputs are compared densely, so ``gradcheck`` itself sees strided
    tensors only.

    Example::

        >>> check = ember.sparse.as_sparse_gradcheck(ember.autograd.gradcheck)
        >>> x = ember.tensor([[0., 1.], [2., 3.]], dtype=ember.float64).to_sparse()
        >>> check(lambda x: x.to_sparse_csr(), x.requires_grad_())
        True
    """
    @functools.wraps(gradcheck)
    def gradcheck_with_sparse_support(func, inputs, **kwargs):
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        checked, rebuilders = [], []
        for x in inputs:
            if _is_sparse(x) and x.requires_grad:
                values, rebuild = _values_and_rebuild(x.detach())
                checked.append(values)
                rebuilders.append(rebuild)
            else:
                checked.append(x)
                rebuilders.append(None)

        def func_on_values(*args):
            args = [x if r is None else r(x) for x, r in zip(args, rebuilders)]
            outputs = func(*args)
            if isinstance(outputs, (tuple, list)):
                return tuple(o.to_dense(masked_grad=False) if _is_sparse(o) else o
                             for o in outputs)
            return outputs.to_dense(masked_grad=False) if _is_sparse(outputs) else outputs

        kwargs.pop("masked", None)
        return gradcheck(func_on_values, tuple(checked), **kwargs)
    return gradcheck_with_sparse_support


# ---------------------------------------------------------------------------------------------
# Typed constructors: ember.sparse.FloatTensor(indices, values, size), ...

class _SparseTensorType(type):
    """``isinstance(t, ember.sparse.FloatTensor)`` holds for a CPU COO tensor of float32;
    calling the class makes a COO tensor: from ``(indices, values[, size])`` (of the values'
    dtype), or empty, of this dtype and the sizes given."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, SparseCooTensor) and obj.dtype is cls.dtype and not obj.is_cuda

    def __call__(cls, *args, device=None) -> SparseCooTensor:
        from ember._creation import zeros
        from ember.sparse import sparse_coo_tensor
        if len(args) in (2, 3) and all(isinstance(a, Tensor) for a in args[:2]):
            return sparse_coo_tensor(*args, device=device)  # the values' dtype, as in PyTorch
        if any(isinstance(a, (Tensor, list, tuple)) for a in args):
            raise TypeError("torch.sparse.SparseTensor(sequence) only accepts sizes.  Please use "
                            "torch.sparse_coo_tensor() or construct a strided tensor and "
                            "convert it to sparse via to_sparse.")
        sizes = tuple(int(s) for s in args) or (0,)
        return _as_sparse(zeros(sizes, dtype=cls.dtype, device=device), len(sizes), True)

    def __repr__(cls) -> str:
        return f"<class 'torch.sparse.{cls.__name__}'>"


def _sparse_type(name: str, dtype) -> type:
    return _SparseTensorType(name, (), {"dtype": dtype, "is_cuda": False, "is_sparse": True})


FloatTensor = _sparse_type("FloatTensor", _dt.float32)
DoubleTensor = _sparse_type("DoubleTensor", _dt.float64)
HalfTensor = _sparse_type("HalfTensor", _dt.float16)
BFloat16Tensor = _sparse_type("BFloat16Tensor", _dt.bfloat16)
ByteTensor = _sparse_type("ByteTensor", _dt.uint8)
CharTensor = _sparse_type("CharTensor", _dt.int8)
ShortTensor = _sparse_type("ShortTensor", _dt.int16)
IntTensor = _sparse_type("IntTensor", _dt.int32)
LongTensor = _sparse_type("LongTensor", _dt.int64)
