"""Tensor methods that delegate to the op modules beyond the core (extra pointwise functions,
in-place forms, statistics, decompositions, spectral ops, functional aliases).

``Tensor`` derives from ``TensorMethods``, so these are ordinary methods; they live here to keep
``ember/_tensor.py`` to the core. The op modules import ``Tensor``, so they are bound by
``bind_ops()``, which ``ember._tensor`` calls once ``Tensor`` exists.
"""
from __future__ import annotations


class TensorMethods:
    """The delegating half of ``Tensor``'s methods (see the module docstring)."""

    __slots__ = ()

    # ------------------------------------------------------------------------------------------
    # Subclassing: the __torch_function__ protocol (ember/overrides.py)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__ != "Tensor" or cls.__module__ != "ember._tensor":
            from ember.overrides import _subclass_defined
            _subclass_defined(cls)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        from ember.overrides import tensor_torch_function
        return tensor_torch_function(cls, func, types, args, kwargs)

    @staticmethod
    def _make_subclass(cls, data, require_grad: bool = False):
        from ember.overrides import make_subclass
        return make_subclass(cls, data, require_grad)

    def as_subclass(self, cls):
        """This tensor's data as an instance of ``cls``, a Tensor subclass (an alias: gradients
        flow back to this tensor)."""
        from ember.overrides import as_subclass
        return as_subclass(self, cls)

    # ------------------------------------------------------------------------------------------
    # Predicates and properties

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.size * self._data.itemsize

    @property
    def output_nr(self) -> int:
        return self._output_nr

    is_ipu = False
    is_maia = False
    is_mkldnn = False
    is_mps = False
    is_mtia = False
    is_nested = False
    is_sparse_csr = False
    is_vulkan = False
    is_xla = False
    is_xpu = False

    def dim_order(self, *, ambiguity_check=False) -> tuple:
        """The dims from outermost to innermost in memory (``(0, 2, 3, 1)`` for channels-last).

        Args:
            ambiguity_check: True to raise ``RuntimeError`` where more than one order fits
                (a size-1 dim, equal strides); a list of memory formats to raise only when the
                tensor is also not laid out in exactly one of them.
        """
        if self.is_sparse:
            raise AttributeError("Can't get dim order on a sparse tensor. Use Tensor.to_dense() "
                                 "to convert to a dense tensor first.")
        return _dim_order(self, ambiguity_check)

    def dequantize(self):
        """A float tensor is its own dequantized form (quantized tensors override this)."""
        return self

    def chalf(self, memory_format=None):
        """``self.to(torch.complex32)``, which ember refuses: NumPy has no complex32 type."""
        from ember.dtypes import complex32
        return self.to(complex32)

    def is_conj(self) -> bool:
        return _runtime.is_conj(self)

    def is_inference(self) -> bool:
        return _runtime.is_inference(self)

    def is_neg(self) -> bool:
        return _runtime.is_neg(self)

    def is_nonzero(self) -> bool:
        return _runtime.is_nonzero(self)

    def is_same_size(self, other) -> bool:
        return _runtime.is_same_size(self, other)

    # ------------------------------------------------------------------------------------------
    # Layouts (ember.sparse)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        return _sparse.to_sparse(self, sparse_dim, layout=layout, blocksize=blocksize,
                                 dense_dim=dense_dim)

    def to_sparse_coo(self):
        return _sparse.to_sparse(self)

    def to_sparse_csr(self, dense_dim=None):
        return _sparse.to_compressed(self, "sparse_csr", None, dense_dim)

    def to_sparse_csc(self, dense_dim=None):
        return _sparse.to_compressed(self, "sparse_csc", None, dense_dim)

    def to_sparse_bsr(self, blocksize, dense_dim=None):
        return _sparse.to_compressed(self, "sparse_bsr", blocksize, dense_dim)

    def to_sparse_bsc(self, blocksize, dense_dim=None):
        return _sparse.to_compressed(self, "sparse_bsc", blocksize, dense_dim)

    def sparse_mask(self, mask):
        return _sparse.sparse_mask(self, mask)

    def sparse_dim(self) -> int:
        """0: a strided tensor has no sparse dims (sparse layouts override these accessors)."""
        return 0

    def dense_dim(self) -> int:
        return self.ndim

    def indices(self):
        raise _sparse.layout_error("indices", self, "sparse coordinate")

    def values(self):
        raise _sparse.layout_error("values", self, "sparse")

    def coalesce(self):
        raise _sparse.layout_error("coalesce", self, "sparse coordinate")

    def is_coalesced(self) -> bool:
        raise _sparse.layout_error("is_coalesced", self, "sparse coordinate")

    def crow_indices(self):
        raise _sparse.layout_error("crow_indices", self, "sparse row compressed")

    def col_indices(self):
        raise _sparse.layout_error("col_indices", self, "sparse row compressed")

    def ccol_indices(self):
        raise _sparse.layout_error("ccol_indices", self, "sparse column compressed")

    def row_indices(self):
        raise _sparse.layout_error("row_indices", self, "sparse column compressed")

    def to_dense(self, dtype=None, *, masked_grad=None):
        """A strided tensor is already dense: itself (converted to ``dtype`` if given)."""
        return self if dtype is None else self.to(dtype)

    def new(self, *args, device=None):
        return Tensor(*args, dtype=self.dtype, device=device or self.device)

    def new_empty_strided(self, size, stride, *, dtype=None, device=None,
                          requires_grad: bool = False):
        return _ops.empty_strided(size, stride, dtype=dtype or self.dtype,
                                  device=device or self.device, requires_grad=requires_grad)

    # ------------------------------------------------------------------------------------------
    # Pointwise (out of place)

    def arccosh(self):
        return _ops.acosh(self)

    def arcsinh(self):
        return _ops.asinh(self)

    def arctanh(self):
        return _ops.atanh(self)

    def conj_physical(self):
        return _ops.conj_physical(self)

    def copysign(self, other):
        return _pw.copysign(self, other)

    def deg2rad(self):
        return _pw.deg2rad(self)

    def frexp(self):
        return _pw.frexp(self)

    def gcd(self, other):
        return _pw.gcd(self, other)

    def heaviside(self, values):
        return _pw.heaviside(self, values)

    def i0(self):
        return _pw.i0(self)

    def igamma(self, other):
        return _pw.igamma(self, other)

    def igammac(self, other):
        return _pw.igammac(self, other)

    def isreal(self):
        return _ops.isreal(self)

    def lcm(self, other):
        return _pw.lcm(self, other)

    def ldexp(self, other):
        return _pw.ldexp(self, other)

    def logaddexp2(self, other):
        return _pw.logaddexp2(self, other)

    def mvlgamma(self, p: int):
        return _pw.mvlgamma(self, p)

    def nextafter(self, other):
        return _pw.nextafter(self, other)

    def polygamma(self, n: int):
        return _ops.polygamma(n, self)

    def positive(self):
        return _pw.positive(self)

    def rad2deg(self):
        return _pw.rad2deg(self)

    def resolve_conj(self):
        return _ops.resolve_conj(self)

    def resolve_neg(self):
        return _ops.resolve_neg(self)

    def sinc(self):
        return _pw.sinc(self)

    # ------------------------------------------------------------------------------------------
    # In place

    def absolute_(self):
        return _inpl.absolute_(self)

    def acos_(self):
        return _inpl.acos_(self)

    def acosh_(self):
        return _inpl.acosh_(self)

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return _inpl.addbmm_(self, batch1, batch2, beta=beta, alpha=alpha)

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        return _inpl.addmv_(self, mat, vec, beta=beta, alpha=alpha)

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        return _inpl.addr_(self, vec1, vec2, beta=beta, alpha=alpha)

    def arccos_(self):
        return _inpl.arccos_(self)

    def arccosh_(self):
        return _inpl.arccosh_(self)

    def arcsin_(self):
        return _inpl.arcsin_(self)

    def arcsinh_(self):
        return _inpl.arcsinh_(self)

    def arctan2_(self, other):
        return _inpl.arctan2_(self, other)

    def arctan_(self):
        return _inpl.arctan_(self)

    def arctanh_(self):
        return _inpl.arctanh_(self)

    def asin_(self):
        return _inpl.asin_(self)

    def asinh_(self):
        return _inpl.asinh_(self)

    def atan2_(self, other):
        return _inpl.atan2_(self, other)

    def atan_(self):
        return _inpl.atan_(self)

    def atanh_(self):
        return _inpl.atanh_(self)

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return _inpl.baddbmm_(self, batch1, batch2, beta=beta, alpha=alpha)

    def bitwise_and_(self, other):
        return _ops.bitwise_and_(self, other)

    def bitwise_left_shift_(self, other):
        return _inpl.bitwise_left_shift_(self, other)

    def bitwise_not_(self):
        return _inpl.bitwise_not_(self)

    def bitwise_or_(self, other):
        return _ops.bitwise_or_(self, other)

    def bitwise_right_shift_(self, other):
        return _inpl.bitwise_right_shift_(self, other)

    def bitwise_xor_(self, other):
        return _ops.bitwise_xor_(self, other)

    def clamp_max_(self, max):  # noqa: A002
        return _inpl.clamp_max_(self, max)

    def clamp_min_(self, min):  # noqa: A002
        return _inpl.clamp_min_(self, min)

    def conj_physical_(self):
        return _inpl.conj_physical_(self)

    def copysign_(self, other):
        return _inpl.copysign_(self, other)

    def cos_(self):
        return _inpl.cos_(self)

    def cosh_(self):
        return _inpl.cosh_(self)

    def cumprod_(self, dim, *, dtype=None):
        return self.copy_(_ops.cumprod(self, dim, dtype=dtype))

    def deg2rad_(self):
        return _inpl.deg2rad_(self)

    def digamma_(self):
        return _inpl.digamma_(self)

    def divide_(self, other, *, rounding_mode=None):
        return self.div_(other, rounding_mode=rounding_mode)

    def eq_(self, other):
        return _inpl.eq_(self, other)

    def erf_(self):
        return _inpl.erf_(self)

    def erfc_(self):
        return _inpl.erfc_(self)

    def erfinv_(self):
        return _inpl.erfinv_(self)

    def exp2_(self):
        return _inpl.exp2_(self)

    def expm1_(self):
        return _inpl.expm1_(self)

    def fill_diagonal_(self, fill_value, wrap: bool = False):
        return _ops.fill_diagonal_(self, fill_value, wrap)

    def fix_(self):
        return _inpl.fix_(self)

    def float_power_(self, exponent):
        return _inpl.float_power_(self, exponent)

    def floor_divide_(self, other):
        return _inpl.floor_divide_(self, other)

    def fmod_(self, other):
        return _inpl.fmod_(self, other)

    def frac_(self):
        return _inpl.frac_(self)

    def gcd_(self, other):
        return _inpl.gcd_(self, other)

    def ge_(self, other):
        return _inpl.ge_(self, other)

    def greater_(self, other):
        return _inpl.greater_(self, other)

    def greater_equal_(self, other):
        return _inpl.greater_equal_(self, other)

    def gt_(self, other):
        return _inpl.gt_(self, other)

    def heaviside_(self, values):
        return _inpl.heaviside_(self, values)

    def hypot_(self, other):
        return _inpl.hypot_(self, other)

    def i0_(self):
        return _inpl.i0_(self)

    def igamma_(self, other):
        return _inpl.igamma_(self, other)

    def igammac_(self, other):
        return _inpl.igammac_(self, other)

    def lcm_(self, other):
        return _inpl.lcm_(self, other)

    def ldexp_(self, other):
        return _inpl.ldexp_(self, other)

    def le_(self, other):
        return _inpl.le_(self, other)

    def less_(self, other):
        return _inpl.less_(self, other)

    def less_equal_(self, other):
        return _inpl.less_equal_(self, other)

    def lgamma_(self):
        return _inpl.lgamma_(self)

    def log10_(self):
        return _inpl.log10_(self)

    def log1p_(self):
        return _inpl.log1p_(self)

    def log2_(self):
        return _inpl.log2_(self)

    def logical_and_(self, other):
        return _inpl.logical_and_(self, other)

    def logical_not_(self):
        return _inpl.logical_not_(self)

    def logical_or_(self, other):
        return _inpl.logical_or_(self, other)

    def logical_xor_(self, other):
        return _inpl.logical_xor_(self, other)

    def logit_(self, eps=None):
        return _inpl.logit_(self, eps)

    def lt_(self, other):
        return _inpl.lt_(self, other)

    def multiply_(self, other):
        return self.mul_(other)

    def mvlgamma_(self, p: int):
        return _inpl.mvlgamma_(self, p)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return _ops.nan_to_num_(self, nan, posinf, neginf)

    def ne_(self, other):
        return _inpl.ne_(self, other)

    def negative_(self):
        return _inpl.negative_(self)

    def nextafter_(self, other):
        return _inpl.nextafter_(self, other)

    def not_equal_(self, other):
        return _inpl.not_equal_(self, other)

    def polygamma_(self, n: int):
        return _inpl.polygamma_(self, n)

    def put_(self, index, source, accumulate: bool = False):
        return _ops.put_(self, index, source, accumulate)

    def rad2deg_(self):
        return _inpl.rad2deg_(self)

    def remainder_(self, other):
        return _inpl.remainder_(self, other)

    def renorm_(self, p, dim: int, maxnorm):
        return _inpl.renorm_(self, p, dim, maxnorm)

    def rsqrt_(self):
        return _inpl.rsqrt_(self)

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *, include_self: bool = True):
        return _ops.scatter_reduce_(self, dim, index, src, reduce, include_self=include_self)

    def sgn_(self):
        return _inpl.sgn_(self)

    def sign_(self):
        return _inpl.sign_(self)

    def sin_(self):
        return _inpl.sin_(self)

    def sinc_(self):
        return _inpl.sinc_(self)

    def sinh_(self):
        return _inpl.sinh_(self)

    def square_(self):
        return _inpl.square_(self)

    def subtract_(self, other, *, alpha=1):
        return self.sub_(other, alpha=alpha)

    def swapaxes_(self, axis0: int, axis1: int):
        return _ops.set_view_inplace_(self, _ops.transpose(self, axis0, axis1))

    def swapdims_(self, dim0: int, dim1: int):
        return _ops.set_view_inplace_(self, _ops.transpose(self, dim0, dim1))

    def tan_(self):
        return _inpl.tan_(self)

    def true_divide_(self, other):
        return self.div_(other)

    def trunc_(self):
        return _inpl.trunc_(self)

    def xlogy_(self, other):
        return _inpl.xlogy_(self, other)

    # ------------------------------------------------------------------------------------------
    # Memory and Python callables (ember/ops/tensor_extras.py)

    def set_(self, source=None, storage_offset: int = 0, size=None, stride=None):
        from ember.ops.tensor_extras import set_
        return set_(self, source, storage_offset, size, stride)

    def is_set_to(self, tensor) -> bool:
        from ember.ops.tensor_extras import is_set_to
        return is_set_to(self, tensor)

    def apply_(self, callable):
        from ember.ops.tensor_extras import apply_
        return apply_(self, callable)

    def map_(self, tensor, callable):
        from ember.ops.tensor_extras import map_
        return map_(self, tensor, callable)

    def map2_(self, x, y, callable):
        from ember.ops.tensor_extras import map2_
        return map2_(self, x, y, callable)

    def module_load(self, other, assign: bool = False):
        from ember.ops.tensor_extras import module_load
        return module_load(self, other, assign)

    def storage_type(self):
        from ember.ops.tensor_extras import storage_type
        return storage_type(self)

    def narrow_copy(self, dim: int, start: int, length: int):
        from ember.ops.view_copies import narrow_copy
        return narrow_copy(self, dim, start, length)

    # ------------------------------------------------------------------------------------------
    # Shapes, scatter views, statistics

    def corrcoef(self):
        return _stats.corrcoef(self)

    def cov(self, *, correction: int = 1, fweights=None, aweights=None):
        return _stats.cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def diagonal_scatter(self, src, offset: int = 0, dim1: int = 0, dim2: int = 1):
        return _reshape.diagonal_scatter(self, src, offset, dim1, dim2)

    def dist(self, other, p=2):
        return _stats.dist(self, other, p)

    def dsplit(self, indices_or_sections):
        return _reshape.dsplit(self, indices_or_sections)

    def histogram(self, bins=100, *, range=None, weight=None, density: bool = False):  # noqa: A002
        return _stats.histogram(self, bins, range=range, weight=weight, density=density)

    def hsplit(self, sections):
        return _ops.hsplit(self, sections)

    def msort(self):
        return _ops.msort(self)

    def nanmedian(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return _ops.nanmedian(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def nanquantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear",
                    axis=None, keepdims=None):
        return _stats.nanquantile(self, q, dim, keepdim, interpolation=interpolation,
                                  axis=axis, keepdims=keepdims)

    def put(self, index, source, accumulate: bool = False):
        return _ops.put(self, index, source, accumulate)

    def quantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear",
                 axis=None, keepdims=None):
        return _stats.quantile(self, q, dim, keepdim, interpolation=interpolation, axis=axis,
                               keepdims=keepdims)

    def renorm(self, p, dim: int, maxnorm):
        return _stats.renorm(self, p, dim, maxnorm)

    def select_scatter(self, src, dim: int, index: int):
        return _reshape.select_scatter(self, src, dim, index)

    def slice_scatter(self, src, dim: int = 0, start=None, end=None, step: int = 1):
        return _reshape.slice_scatter(self, src, dim, start, end, step)

    def as_strided_scatter(self, src, size, stride, storage_offset=None):
        return _reshape.as_strided_scatter(self, src, size, stride, storage_offset)

    def nonzero_static(self, *, size: int, fill_value: int = -1):
        from ember.ops.indexing import nonzero_static
        return nonzero_static(self, size=size, fill_value=fill_value)

    def split_with_sizes(self, split_sizes, dim: int = 0):
        return _reshape.split_with_sizes(self, split_sizes, dim)

    def unique_consecutive(self, return_inverse: bool = False, return_counts: bool = False,
                           dim=None):
        return _ops.unique_consecutive(self, return_inverse, return_counts, dim)

    def unsafe_chunk(self, chunks: int, dim: int = 0):
        return _reshape.unsafe_chunk(self, chunks, dim)

    def unsafe_split(self, split_size, dim: int = 0):
        return _reshape.unsafe_split(self, split_size, dim)

    def unsafe_split_with_sizes(self, split_sizes, dim: int = 0):
        return _reshape.unsafe_split_with_sizes(self, split_sizes, dim)

    def vsplit(self, sections):
        return _ops.vsplit(self, sections)

    # ------------------------------------------------------------------------------------------
    # Linear algebra, spectral, nn

    def adjoint(self):
        return self.mH

    def cholesky(self, upper: bool = False):
        return _decomp.cholesky(self, upper)

    def cholesky_inverse(self, upper: bool = False):
        return _decomp.cholesky_inverse(self, upper)

    def cholesky_solve(self, input2, upper: bool = False):
        return _decomp.cholesky_solve(self, input2, upper)

    def hardshrink(self, lambd: float = 0.5):
        return _nn.hardshrink(self, lambd)

    def istft(self, n_fft: int, hop_length=None, win_length=None, window=None,
              center: bool = True, normalized: bool = False, onesided=None, length=None,
              return_complex: bool = False):
        return _spectral.istft(self, n_fft, hop_length, win_length, window, center, normalized,
                               onesided, length, return_complex)

    def lu(self, pivot: bool = True, get_infos: bool = False):
        return _decomp.legacy_lu(self, pivot, get_infos)

    def lu_solve(self, LU_data, LU_pivots):
        return _decomp.legacy_lu_solve(self, LU_data, LU_pivots)

    def index_reduce(self, dim: int, index, source, reduce: str, *, include_self: bool = True):
        return _ops.index_reduce(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim: int, index, source, reduce: str, *, include_self: bool = True):
        return _ops.index_reduce_(self, dim, index, source, reduce, include_self=include_self)

    def matrix_exp(self):
        return _decomp.matrix_exp(self)

    def pinverse(self, rcond: float = 1e-15):
        return _decomp.pinverse(self, rcond)

    def prelu(self, weight):
        return _nn.prelu(self, weight)

    def qr(self, some: bool = True):
        return _decomp.legacy_qr(self, some)

    def stft(self, n_fft: int, hop_length=None, win_length=None, window=None,
             center: bool = True, pad_mode: str = "reflect", normalized: bool = False,
             onesided=None, return_complex=None, align_to_window=None):
        return _spectral.stft(self, n_fft, hop_length, win_length, window, center, pad_mode,
                              normalized, onesided, return_complex, align_to_window)

    def svd(self, some: bool = True, compute_uv: bool = True):
        return _decomp.svd(self, some, compute_uv)

    def triangular_solve(self, A, upper: bool = True, transpose: bool = False,
                         unitriangular: bool = False):
        return _decomp.triangular_solve(self, A, upper, transpose, unitriangular)

    def vdot(self, other):
        return _ops.vdot(self, other)


def _dim_order(t, ambiguity_check) -> tuple:
    """``Tensor.dim_order``: PyTorch's stride order, with its ambiguity rules."""
    from ember import memory_format
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    if not isinstance(ambiguity_check, (bool, list)) or not all(
            isinstance(f, memory_format) for f in formats):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                        "formats.")
    sizes, strides = tuple(t.shape), t.stride()
    several = 1 in sizes or any(a == b for a, b in zip(strides, strides[1:]))
    if (ambiguity_check is True or isinstance(ambiguity_check, list)) and several and sum(
            t.is_contiguous(memory_format=f) for f in formats) != 1:
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact "
                           "one of the given memory formats.")
    if t.ndim < 2:
        return tuple(range(t.ndim))
    from ember import channels_last
    contiguous = t.is_contiguous()
    if contiguous != t.is_contiguous(memory_format=channels_last):
        return tuple(range(t.ndim)) if contiguous else (0, *range(2, t.ndim), 1)

    def inner_first(a: int, b: int) -> int:
        """1 if dim ``a`` lies inside ``b`` in memory, -1 if outside, 0 if undecided (a zero
        stride, or equal strides over sizes that do not order them)."""
        if strides[a] == 0 or strides[b] == 0:
            return 0
        if strides[a] == strides[b]:
            return 0 if sizes[a] == 0 or (sizes[b] != 0 and sizes[b] >= sizes[a]) else 1
        return -1 if strides[b] > strides[a] else 1

    # Insertion sort from innermost to outermost that leaves undecided pairs in place.
    order = list(reversed(range(t.ndim)))
    for i in range(1, t.ndim):
        moving = i
        for j in reversed(range(i)):
            side = inner_first(order[j], order[moving])
            if side > 0:
                order[j], order[moving] = order[moving], order[j]
                moving = j
            elif side < 0:
                break
    if ambiguity_check and any(inner_first(a, b) != -1 for a, b in zip(order, order[1:])):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(reversed(order))


def bind_ops() -> None:
    """Import the op modules the methods above delegate to (they need ``Tensor`` to exist)."""
    global Tensor, _ops, _runtime, _decomp, _inpl, _nn, _pw, _reshape, _spectral, _stats
    global _sparse
    from ember import ops as _ops
    from ember import runtime as _runtime
    from ember import sparse as _sparse
    from ember._tensor import Tensor
    from ember.ops import decomposition as _decomp
    from ember.ops import inplace_forms as _inpl
    from ember.ops import nn_aliases as _nn
    from ember.ops import pointwise_extra as _pw
    from ember.ops import reshaping as _reshape
    from ember.ops import spectral as _spectral
    from ember.ops import statistics as _stats
