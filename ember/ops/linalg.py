"""Matrix products (one BLAS call each): matmul and its named forms, the fused add-products
(addmm, baddbmm, ...), chains, tensordot and kron; diagonals and triangles (trace, diag, tril,
triu); cross products. Re-exported here from beside it: ``contraction`` (einsum), ``linear_systems``
(inverse, det, solve) and ``norms`` (vector_norm, cdist)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import is_autocast_enabled
from ember.autograd.engine import broadcasts_to
from ember.autograd.function import Primitive, _AutocastFlag, broadcast_mismatch
from ember.backend import cuda
from ember.backend.device import as_dtype, get_array_module
from ember.backend.special import matmul as backend_matmul
from ember.dtypes import _FROM_NP
from ember.ops._util import (
    accepts_out,
    c_type_name,
    check_same_device,
    scalar_name,
    wrap_dim,
    write_result,
)
from ember.ops.contraction import Einsum, einsum  # noqa: F401  (Einsum re-exported)
from ember.ops.elementwise import where
from ember.ops.linear_systems import (  # noqa: F401  (re-exported)
    Det,
    Inverse,
    Solve,
    det,
    inverse,
    logdet,
    slogdet,
    solve,
)
from ember.ops.movement import broadcast_shapes
from ember.ops.movement import t as _t
from ember.ops.movement import transpose as _transpose
from ember.ops.norms import cdist, check_norm_dtypes, vector_norm  # noqa: F401  (re-exported)


def _check_matmul(a: Tensor, b: Tensor, op: str) -> None:
    try:
        da, db = a._data, b._data
    except AttributeError:  # (``tensor @ x`` then gives x's ``__rmatmul__`` its turn)
        for name, position, x in (("input", 1, a), ("other", 2, b)):
            if not isinstance(x, Tensor):
                raise TypeError(f"{op}(): argument '{name}' (position {position}) must be "
                                f"Tensor, not {type(x).__name__}") from None
        raise
    if da.__class__ is db.__class__ and da.ndim and db.ndim and da.dtype == db.dtype and \
            da.shape[-1] == db.shape[-2 if db.ndim > 1 else 0]:
        return  # the common case: nothing to report
    if a._data.dtype != b._data.dtype and not (
            _AutocastFlag.on and is_autocast_enabled(a.device.type)):  # autocast casts later
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                               f"{scalar_name(a.dtype)} and {scalar_name(b.dtype)}")
        if a.ndim >= 3 and b.ndim >= 3:  # bmm's check
            raise RuntimeError(f"expected scalar type {scalar_name(a.dtype)} but found "
                               f"{scalar_name(b.dtype)}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{c_type_name(a.dtype)} != {c_type_name(b.dtype)}")
    check_same_device(op, a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to {op} need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    k_a = a._data.shape[-1]
    k_b = b._data.shape[-2] if b.ndim > 1 else b._data.shape[0]
    if k_a != k_b:
        raise _shape_error(tuple(a.shape), tuple(b.shape))


def _shape_error(sa: tuple, sb: tuple) -> RuntimeError:
    """PyTorch's error for a product of shapes whose inner sizes differ, worded as the kernel
    it would dispatch to (dot, mv, mm on folded rows, or bmm on the broadcast batch) words it."""
    rows = int(np.prod(sa[:-1]))
    if len(sa) == 1 and len(sb) == 1:
        return RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src "
                            f"[{sb[0]}] to have the same number of elements, but got {sa[0]} "
                            f"and {sb[0]} elements respectively")
    if len(sb) == 1:
        return RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), "
                            f"vec ({sb[0]})")
    if len(sb) == 2:
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sa[-1]} and "
                            f"{sb[0]}x{sb[1]})")
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    n = int(np.prod(batch))
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{n}, {sa[-1]}] but got: [{n}, {sb[-2]}].")


class Matmul(Primitive, node_name="MatmulBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:
            _save_operands(ctx, a, b)
        # ml_dtypes computes bfloat16 products in float32: keep the inputs' dtype.
        return as_dtype(backend_matmul(a, b), a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        # complex adjoints use the conjugate transposes: conjugate once, transpose below
        if a is not None and a.is_complex():
            a = a.conj()
        if b is not None and b.is_complex():
            b = b.conj()
        need_a, need_b = ctx.needs_input_grad
        na, nb = ctx.ndims
        if na == 1 and nb == 1:
            return (grad * b if need_a else None), (grad * a if need_b else None)
        # Vectors are lifted to matrices, as the forward did; the added dims are dropped after.
        g = grad.unsqueeze(-2) if na == 1 else grad
        g = g.unsqueeze(-1) if nb == 1 else g
        ga = gb = None
        if need_a:
            ga = matmul(g, _mT(b.unsqueeze(-1) if nb == 1 else b))
            ga = ga.squeeze(-2) if na == 1 else ga
        if need_b:
            if nb == 2 and na > 2:
                # A shared matrix: sum over the batch as one GEMM on folded rows, rather than a
                # batch of products reduced afterwards.
                rows = math.prod(a.shape[:-1])  # not -1: the rows may hold no elements
                gb = _right_grad(a.reshape(rows, a.shape[-1]), g.reshape(rows, g.shape[-1]),
                                 ctx.b_transposed)
            elif nb == 2:
                gb = _right_grad(a.unsqueeze(-2) if na == 1 else a, g, ctx.b_transposed)
            else:
                gb = matmul(_mT(a.unsqueeze(-2) if na == 1 else a), g)
                gb = gb.squeeze(-1) if nb == 1 else gb
        return ga, gb


def _save_operands(ctx, a, b) -> None:
    """What Matmul's backward needs: each operand the other's gradient uses, and the layout."""
    need_a, need_b = ctx.needs_input_grad
    ctx.save_for_backward(a if need_b else None, b if need_a else None)
    ctx.ndims = (a.ndim, b.ndim)
    ctx.b_transposed = b.ndim == 2 and _is_transposed(b)


def _right_grad(a: Tensor, g: Tensor, transposed: bool) -> Tensor:
    """a^T @ g, the gradient of matrix b in a @ b, laid out as b is: for a ``transposed`` b
    (as nn.Linear's weight.t()) the product is formed transposed, so that the gradient reaching
    the weight is contiguous, as the optimizers' elementwise updates want it."""
    # a and g are matrices of matching sizes: Mm needs no checks
    return _t(Mm.apply(_t(g), a)) if transposed else Mm.apply(_t(a), g)


def _mT(x: Tensor) -> Tensor:
    """``x.mT`` for backward formulas: a matrix's as ``t`` (one operand, the cheapest path)."""
    return _t(x) if x._data.ndim == 2 else _transpose(x, -2, -1)


def _is_transposed(array) -> bool:
    flags = array.flags
    return flags.f_contiguous and not flags.c_contiguous


class Mm(Matmul, node_name="MmBackward0"):
    _node_saved = {"self": 0, "mat2": 1}


class Bmm(Matmul, node_name="BmmBackward0"):
    _node_saved = {"self": 0, "mat2": 1}


class Mv(Matmul, node_name="MvBackward0"):
    _node_saved = {"self": 0, "vec": 1}


class Dot(Matmul, node_name="DotBackward0"):
    _node_saved = {"self": 0, "tensor": 1}


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with NumPy's (and PyTorch's) 1-d and batch broadcasting rules; sparse
    when both operands are sparse matrices, as ``@`` (``ember.sparse``)."""
    if input.__class__ is not Tensor and out is None and _both_sparse(input, other):
        from ember._sparse_ops import sparse_mm
        return sparse_mm(input, other, operator=True)
    _check_matmul(input, other, "matmul")
    na, nb = input.ndim, other.ndim
    if na == 2 and nb == 2:
        result = Mm.apply(input, other)
    elif na == 1 and nb == 1:
        result = Dot.apply(input, other)
    elif na == 2 and nb == 1:
        result = Mv.apply(input, other)
    else:
        try:
            result = Bmm.apply(input, other) if na == 3 and nb == 3 else \
                Matmul.apply(input, other)
        except RuntimeError as exc:  # batch dims that do not broadcast
            raise broadcast_mismatch((input.shape[:-2], other.shape[:-2])) or exc from None
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, result)
    return result


def _both_sparse(a: Tensor, b: Tensor) -> bool:
    """Whether ``a`` and ``b`` are both sparse (asked only of a Tensor subclass, so dense
    operands pay one class check)."""
    from ember.sparse import _SparseBase  # ember.sparse imports the ops: import it late
    return isinstance(a, _SparseBase) and isinstance(b, _SparseBase)


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"{'self' if input.ndim != 2 else 'mat2'} must be a matrix")
    return matmul(input, mat2, out=out)


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    return matmul(input, mat2, out=out)


def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, "
                           f"{vec.ndim}")
    result = matmul(input, vec)
    return result if out is None else write_result(out, result)


def dot(input: Tensor, tensor: Tensor, *, out=None) -> Tensor:
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D "
                           "tensors")
    if input.shape[0] != tensor.shape[0]:
        raise _shape_error(tuple(input.shape), tuple(tensor.shape))
    result = matmul(input, tensor)
    return result if out is None else write_result(out, result)


def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The dot product with ``input`` conjugated first (``sum(conj(input) * other)``)."""
    result = dot(input.conj(), other)
    return result if out is None else write_result(out, result)


def inner(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    if input.ndim == 0 or other.ndim == 0:
        result = input * other
        return result if out is None else write_result(out, result)
    result = matmul(input, other.mT if other.ndim > 1 else other) if other.ndim <= 2 else \
          einsum("...i,...ji->...j", input, other)
    return result if out is None else write_result(out, result)


def outer(input: Tensor, vec2: Tensor, *, out=None) -> Tensor:
    """The outer product of two vectors."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    result = input.unsqueeze(1) * vec2.unsqueeze(0)
    return result if out is None else write_result(out, result)


ger = outer


class Addmm(Primitive, node_name="AddmmBackward0"):
    """beta * input + alpha * (mat1 @ mat2) in one node (nn.Linear's forward)."""

    _node_saved = {"mat1": 0,
                   "mat2": 1,
                   "beta": lambda ctx: ctx.scales[0],
                   "alpha": lambda ctx: ctx.scales[1]}

    @staticmethod
    def forward(ctx, bias, mat1, mat2, beta, alpha):
        if ctx.needs_input_grad:
            ctx.save_for_backward(mat1 if ctx.needs_input_grad[2] else None,
                                  mat2 if ctx.needs_input_grad[1] else None)
            ctx.scales = (beta, alpha)
            ctx.b_transposed = _is_transposed(mat2)
        if _dt.is_half(mat1.dtype):
            return _addmm_half(bias, mat1, mat2, beta, alpha)
        out = as_dtype(backend_matmul(mat1, mat2), mat1.dtype)
        if alpha != 1:
            out *= alpha
        if beta != 0:
            out += bias * beta if beta != 1 else bias
        return out

    @staticmethod
    def backward(ctx, grad):
        mat1, mat2 = ctx.saved_tensors
        if mat1 is not None and mat1.is_complex():  # complex adjoints: conjugate transposes
            mat1 = mat1.conj()
        if mat2 is not None and mat2.is_complex():
            mat2 = mat2.conj()
        beta, alpha = ctx.scales
        if isinstance(alpha, complex) or isinstance(beta, complex):  # adjoints conjugate them
            beta, alpha = beta.conjugate(), alpha.conjugate()
        need_bias, need_1, need_2 = ctx.needs_input_grad[:3]
        g = grad * alpha if alpha != 1 else grad
        gbias = (grad * beta if beta != 1 else grad) if need_bias and beta != 0 else None
        g1 = Mm.apply(g, _t(mat2)) if need_1 else None
        g2 = _right_grad(mat1, g, ctx.b_transposed) if need_2 else None
        return gbias, g1, g2


def _addmm_half(bias, mat1, mat2, beta, alpha):
    """beta * bias + alpha * (mat1 @ mat2) for float16 or bfloat16 arrays as PyTorch's kernels
    form it: the product and the sum in float32, rounded once to the operands' dtype."""
    if beta == 1 and alpha == 1 and not isinstance(mat1, np.ndarray):
        out = cuda.addmm(bias, mat1, mat2)  # nn.Linear on the GPU: the sum inside cuBLAS
        if out is not None:
            return out
    out = _wide_product(mat1, mat2)
    if alpha != 1:
        out *= alpha
    if beta != 0:
        bias = bias.astype(np.float32)
        out += bias * beta if beta != 1 else bias
    return out.astype(mat1.dtype)


def _wide_product(a, b):
    """a @ b of half-precision arrays (matrices, a batch of them, or a matrix and a vector)
    left in float32: its float32 sums unrounded."""
    shape = a.shape[:-1] + b.shape[-1:] if b.ndim > 1 else a.shape[:-1]
    return backend_matmul(a, b, out=get_array_module(a).empty(shape, np.float32))


class WideMatmul(Matmul, node_name="MatmulBackward0"):
    """``_wide_product`` on the graph: the gradients come back in the operands' dtype."""

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:
            _save_operands(ctx, a, b)
            ctx.dtype = _FROM_NP[a.dtype]
        return _wide_product(a, b)

    @staticmethod
    def backward(ctx, grad):
        return Matmul.backward(ctx, grad.to(ctx.dtype))


def _rounded_once(input, a: Tensor, b: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * (a @ b) for half-precision ``a`` and ``b``: in float32, rounded
    once, as PyTorch's addmm, baddbmm and addbmm kernels."""
    if isinstance(input, Tensor):
        input = input.float()
    return _scaled_sum(input, WideMatmul.apply(a, b), beta, alpha).to(a.dtype)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2)."""
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"{'mat1' if mat1.ndim != 2 else 'mat2'} must be a matrix, got "
                           f"{mat1.ndim if mat1.ndim != 2 else mat2.ndim}-D tensor")
    _check_matmul(mat1, mat2, "addmm")
    if beta.__class__ is not int or alpha.__class__ is not int:
        beta, alpha = _exact_scales(mat1, beta, alpha)
    if isinstance(input, Tensor) and input._data.dtype == mat1._data.dtype and \
            broadcasts_to(input._data.shape, (mat1._data.shape[0], mat2._data.shape[1])):
        result = Addmm.apply(input, mat1, mat2, beta, alpha)
    else:
        if isinstance(input, Tensor) and input.dtype is not mat2.dtype and not (
                _AutocastFlag.on and is_autocast_enabled(input.device.type)):
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{scalar_name(input.dtype)} and {scalar_name(mat2.dtype)}")
        result = _rounded_once(input, mat1, mat2, beta, alpha) if _dt.is_half(mat1.dtype) else \
            _scaled_sum(input, mm(mat1, mat2), beta, alpha)
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, result)
    return result


def _exact_scales(prod: Tensor, beta, alpha) -> tuple:
    """An integer product keeps its dtype: PyTorch casts beta and alpha to it, truncating."""
    if prod.is_floating_point() or prod.is_complex():
        return beta, alpha
    return int(beta), int(alpha)


def _scaled_sum(input, prod, beta, alpha):
    if beta.__class__ is not int or alpha.__class__ is not int:
        beta, alpha = _exact_scales(prod, beta, alpha)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod
    return prod + (input * beta if beta != 1 else input)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat @ vec)."""
    if _dt.is_half(mat.dtype) and isinstance(input, Tensor) and input.dtype is mat.dtype:
        mv(mat, vec)  # its checks
        result = _addmv_half(input, mat, vec, beta, alpha)
    else:
        result = _scaled_sum(input, mv(mat, vec), beta, alpha)
    return result if out is None else write_result(out, result)


def _addmv_half(input: Tensor, mat: Tensor, vec: Tensor, beta, alpha) -> Tensor:
    """PyTorch's half-precision gemv: beta and alpha rounded to the dtype, the sum formed in
    float32 and rounded once; bfloat16's rounds beta * input first."""
    xp, dtype = input._xp, mat.dtype
    beta, alpha = (float(xp.asarray(s, dtype.np_dtype)) for s in (beta, alpha))
    prod = WideMatmul.apply(mat, vec)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod.to(dtype)
    scaled = input.float() * beta
    if dtype is _dt.bfloat16:
        scaled = scaled.to(dtype).float()
    return (prod + scaled).to(dtype)


@accepts_out
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * sum_i batch1[i] @ batch2[i], the sum as one product
    [A_1 ... A_b] @ [B_1; ...; B_b]: one GEMM, rounded once, in the operands' dtype."""
    if batch1.ndim != 3 or batch2.ndim != 3:
        raise RuntimeError(f"batch{1 if batch1.ndim != 3 else 2} must be a 3D tensor")
    (b, n, k), (b2, k2, m) = batch1.shape, batch2.shape
    if b != b2:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b} and "
                           f"{b2}")
    if k != k2:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{k} and {k2}x{m})")
    if (b and _dt.is_half(batch1.dtype) and isinstance(input, Tensor)
            and input.dtype is batch1.dtype):
        # PyTorch's half kernel: one addmm per batch, each rounded
        for i in range(b):
            input = addmm(input, batch1[i], batch2[i], beta=beta if i == 0 else 1, alpha=alpha)
        return input
    wide = batch1.permute(1, 0, 2).reshape(n, b * k)
    return _scaled_sum(input, mm(wide, batch2.reshape(b * k, m)), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    if batch1.dtype is _dt.bool and batch1._data.size and batch2._data.size:
        raise NotImplementedError('"baddbmm" not implemented for \'Bool\'')
    if _dt.is_half(batch1.dtype) and isinstance(input, Tensor) and input.dtype is batch1.dtype:
        bmm(batch1, batch2)  # its checks
        result = _rounded_once(input, batch1, batch2, beta, alpha)
    else:
        result = _scaled_sum(input, bmm(batch1, batch2), beta, alpha)
    return result if out is None else write_result(out, result)


@accepts_out
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2); for bool tensors, (beta and input) or
    (alpha and vec1 vec2^T)."""
    if vec1.is_floating_point() or vec1.is_complex():
        if _dt.is_half(vec1.dtype):  # PyTorch's half kernel rounds the scales to the dtype first
            beta, alpha = (float(np.asarray(s, vec1.dtype.np_dtype)) for s in (beta, alpha))
        # PyTorch's order, which matters in half precision: (alpha * vec1) * vec2
        prod = outer(vec1 * alpha if alpha != 1 else vec1, vec2)
        return _scaled_sum(input, prod, beta, 1)
    prod = outer(vec1, vec2)
    for name, scale in (("beta", beta), ("alpha", alpha)):
        if isinstance(scale, float):  # PyTorch refuses to truncate them here
            raise RuntimeError(f"For integral input tensors, argument {name} must not be a "
                               "floating point number.")
    if prod.dtype is not _dt.bool:
        return _scaled_sum(input, prod, beta, alpha)
    if not alpha:
        prod = prod.logical_and(False)
    return prod.logical_or(input) if beta else prod


def chain_matmul(*matrices, out=None):
    """Deprecated: ``linalg.multi_dot`` of the matrices given as arguments."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", stacklevel=2)
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    result = matrices[0].clone() if len(matrices) == 1 else multi_dot(list(matrices))
    return result if out is None else write_result(out, result)


@accepts_out
def multi_dot(tensors):
    """The product of the matrices in ``tensors`` (the first may be a row vector and the last a
    column vector, then dropped from the result's shape), in the order that takes the fewest
    scalar multiplications (the matrix-chain order, as PyTorch's)."""
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    for pos, name in ((0, "first"), (n - 1, "last")):
        if tensors[pos].ndim not in (1, 2):
            raise RuntimeError(f"multi_dot(): the {name} tensor must be 1D or 2D but got "
                               f"{tensors[pos].ndim}D")
    mats = list(tensors)
    row, col = mats[0].ndim == 1, mats[-1].ndim == 1
    if row:
        mats[0] = mats[0].unsqueeze(0)
    if col:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i, m in enumerate(mats):
        if m.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {m.ndim}D")
        if m.dtype is not mats[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but "
                               f"tensor 0 is {c_type_name(mats[0].dtype)} and tensor {i} "
                               f"{c_type_name(m.dtype)}")
        if i and mats[i - 1].shape[1] != m.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes "
                               f"{list(tensors[i - 1].shape)} and {list(tensors[i].shape)} "
                               "cannot be multiplied")
    result = _chain_product(mats, _chain_order(mats), 0, n - 1)
    if row:
        result = result.squeeze(0)
    return result.squeeze(-1) if col else result


def _chain_order(mats) -> list:
    """split[i][j]: where the product of mats[i..j] splits in the cheapest order (the classic
    dynamic program over the chain's dims)."""
    n = len(mats)
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain_product(mats, split, i: int, j: int) -> Tensor:
    if i == j:
        return mats[i]
    k = split[i][j]
    return mm(_chain_product(mats, split, i, k), _chain_product(mats, split, k + 1, j))


def tensordot(a: Tensor, b: Tensor, dims=2, *, out=None) -> Tensor:
    if isinstance(dims, int):
        da = list(range(-dims, 0))
        db = list(range(dims))
    else:
        da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if a.dtype is _dt.bool and a._data.size and b._data.size:
        kernel = "dot" if len(da) == a.ndim == b.ndim else "addmm_impl_cpu_"
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    for i, j in zip(da, db):
        if a.shape[i] == b.shape[j]:
            continue
        # a size-1 dim contracts with the other's summed, as PyTorch broadcasts it
        if a.shape[i] == 1:
            b = b.sum(j, keepdim=True, dtype=b.dtype)
        elif b.shape[j] == 1:
            a = a.sum(i, keepdim=True, dtype=a.dtype)
        else:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    da = [wrap_dim(i, a.ndim) for i in da]
    db = [wrap_dim(j, b.ndim) for j in db]
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    res = [c for k, c in enumerate(sa) if k not in da] + [c for k, c in enumerate(sb)
                                                          if k not in db]
    result = einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(res), a, b)
    return result if out is None else write_result(out, result)


def kron(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Kronecker product: the shapes multiply dim by dim (the shorter one padded with 1s)."""
    n = max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    # Interleave dims as (a0, b0, a1, b1, ...), multiply by broadcasting, merge each pair.
    a = input.reshape([d for s in sa for d in (s, 1)])
    b = other.reshape([d for s in sb for d in (1, s)])
    result = (a * b).reshape([x * y for x, y in zip(sa, sb)])
    return result if out is None else write_result(out, result)


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return input.diagonal().sum()


def diag(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    if input.ndim == 1:
        result = diag_embed(input, diagonal, 0, 1)
        return result if out is None else write_result(out, result)
    if input.ndim == 2:
        result = input.diagonal(diagonal).clone()
        return result if out is None else write_result(out, result)
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + str(input.ndim) + "D")


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    from ember.ops.movement import EmbedDiagonal
    n = input.shape[-1] + abs(offset)
    nd = input.ndim + 1
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = list(input.shape[:-1])
    shape = []
    it = iter(rest)
    for k in range(nd):
        shape.append(n if k in (d1, d2) else next(it))
    return EmbedDiagonal.apply(input, tuple(shape), offset, d1, d2)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    return diag(input.reshape(-1), offset)


def _tri_mask(input: Tensor, diagonal: int, lower: bool):
    if input.ndim < 2:
        raise RuntimeError(f"{'tril' if lower else 'triu'}: input tensor must have at least 2 "
                           "dimensions")
    xp = input._xp
    n, m = input._data.shape[-2:]
    mask = xp.tri(n, m, diagonal, dtype=bool)
    return _make(mask if lower else ~xp.tri(n, m, diagonal - 1, dtype=bool))


def tril(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """The lower triangle of each matrix (on and below ``diagonal``); zeros elsewhere."""
    result = where(_tri_mask(input, diagonal, True), input, False if input.dtype.name == "bool"
                   else 0)
    return result if out is None else write_result(out, result)


def triu(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """The upper triangle of each matrix (on and above ``diagonal``); zeros elsewhere."""
    result = where(_tri_mask(input, diagonal, False), input, False if input.dtype.name == "bool"
                   else 0)
    return result if out is None else write_result(out, result)


def cross(input: Tensor, other: Tensor, dim=None, *, out=None) -> Tensor:
    """``torch.cross``: the cross product along ``dim``; without ``dim`` (deprecated) along the
    first dimension of size 3, unlike ``linalg.cross``."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                      "The default value of dim will change to agree with that of linalg.cross "
                      "in a future release.", UserWarning, stacklevel=2)
        dim = next((i for i, s in enumerate(input.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    result = linalg_cross(input, other, dim=dim)
    return result if out is None else write_result(out, result)


@accepts_out
def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """``torch.linalg.cross``: the cross product of 3-vectors along ``dim`` (default the last),
    broadcasting the other dimensions."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. "
                           f"Got {input.shape[d]} and {other.shape[d]}")

    def comp(t, i):
        return t.select(d, i)
    a0, a1, a2 = (comp(input, i) for i in range(3))
    b0, b1, b2 = (comp(other, i) for i in range(3))
    from ember.ops.movement import stack
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


@accepts_out
def matrix_power(input: Tensor, n: int) -> Tensor:
    """``input`` (a square matrix or a batch) to the integer power ``n``."""
    if n == 0:
        eye = _make(input._xp.eye(input.shape[-1], dtype=input._data.dtype))
        # Connected to the graph with a zero gradient, as PyTorch's identity result is.
        return (input * 0).nan_to_num(0.0, 0.0, 0.0) + eye
    if n < 0:
        input, n = inverse(input), -n
    out = input
    for _ in range(n - 1):
        out = matmul(out, input)
    return out
