"""ember: PyTorch's API in pure Python, on NumPy (CPU) and CuPy (CUDA).

``import ember as torch`` runs PyTorch code: tensors with autograd, ``ember.nn``,
``ember.optim``, ``ember.utils.data`` and the rest, under PyTorch's names.
"""
# The engine first: Tensor imports grad modes, and the ops import Tensor.
from ember import autograd  # noqa: F401  isort: skip
from ember._tensor import DeviceMismatchError, Size, Tensor  # noqa: F401
from ember._tensor_str import get_printoptions, set_printoptions  # noqa: F401
from ember.autograd.grad_mode import (enable_grad, inference_mode,  # noqa: F401
                                      is_grad_enabled, is_inference_mode_enabled, no_grad,
                                      set_grad_enabled)
from ember.backend.device import Device as device  # noqa: F401
from ember.dtypes import (bfloat16, bool, cdouble, cfloat, complex64, complex128,  # noqa: F401
                          double, dtype, float, float16, float32, float64, get_default_dtype,
                          half, int, int8, int16, int32, int64, long, promote_types,
                          set_default_dtype, short, uint8, uint16, uint32, uint64)
from ember.random import (Generator, default_generator, get_rng_state,  # noqa: F401
                          initial_seed, manual_seed, seed, set_rng_state)
from ember._creation import (  # noqa: F401
    arange, as_tensor, asarray, bernoulli, binomial, cartesian_prod, complex, empty,
    empty_like, eye, from_numpy, full, full_like, linspace, logspace, meshgrid, multinomial,
    normal, ones, ones_like, poisson, polar, rand, rand_like, randint, randint_like, randn,
    randn_like, randperm, range, scalar_tensor, tensor, tril_indices, triu_indices, zeros,
    zeros_like, get_default_device, set_default_device)
from ember.ops.compare import (  # noqa: F401
    allclose, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift,
    bitwise_xor, eq, equal, ge, greater, greater_equal, gt, isclose, isfinite, isinf, isnan,
    isneginf, isposinf, isreal, le, less, less_equal, logical_and, logical_not, logical_or,
    logical_xor, lt, ne, not_equal, signbit)
from ember.ops.elementwise import (  # noqa: F401
    add, addcdiv, addcmul, angle, clamp, clamp_, clamp_max, clamp_min, clip, conj, conj_physical,
    div, float_power, floor_divide, fmax, fmin, fmod, imag, lerp, maximum, minimum, mul,
    nan_to_num, nan_to_num_, neg, neg_, negative, pow, real, reciprocal, remainder, resolve_conj,
    resolve_neg, rsub, square, sub, true_divide, where)
from ember.ops.unary import (  # noqa: F401
    abs, abs_, absolute, acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh,
    asin, asinh, atan, atan2, atanh, ceil, ceil_, cos, cosh, digamma, erf, erfc, erfinv, exp,
    exp2, exp_, expm1, fix, floor, floor_, frac, hypot, lgamma, log, log10, log1p, log2, log_,
    logaddexp, logit, polygamma, relu, relu_, round, round_, rsqrt, sgn, sigmoid, sigmoid_, sign,
    sin, sinh, sqrt, sqrt_, tan, tanh, tanh_, trunc, xlogy)
from ember.ops.indexing import (  # noqa: F401
    argwhere, index_put, masked_fill, masked_scatter, masked_select, nonzero, take)
from ember.ops.gather_scatter import (  # noqa: F401
    gather, scatter, scatter_add, scatter_reduce, take_along_dim)
from ember.ops.index_along_dim import (  # noqa: F401
    index_add, index_copy, index_fill, index_select)
from ember.ops.sorting import (  # noqa: F401
    argsort, kthvalue, msort, sort, topk, unique, unique_consecutive)
from ember.ops.linalg import (  # noqa: F401
    addbmm, addmm, addmv, addr, baddbmm, bmm, cdist, chain_matmul, cross, det, diag, diag_embed,
    diagflat, dot, einsum, ger, inner, inverse, kron, logdet, matmul, matrix_power, mm, multi_dot,
    mv, outer, slogdet, tensordot, trace, tril, triu, vdot)
from ember.ops.movement import (  # noqa: F401
    as_strided, atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors,
    broadcast_to, cat, chunk, clone, column_stack, concat, concatenate, diagonal, dstack, expand,
    flatten, flip, fliplr, flipud, hsplit, hstack, moveaxis, movedim, narrow, permute, repeat,
    repeat_interleave, reshape, roll, rot90, select, split, squeeze, stack, swapaxes, swapdims, t,
    tensor_split, tile, transpose, unbind, unflatten, unfold, unsqueeze, vsplit, vstack)
from ember.ops.nn import (  # noqa: F401
    log_softmax, softmax)
from ember.ops.reduce import (  # noqa: F401
    all, amax, amin, aminmax, any, argmax, argmin, bincount, bucketize, count_nonzero, cummax,
    cummin, cumprod, cumsum, diff, gradient, histc, logcumsumexp, logsumexp, max, mean, median,
    min, mode, nanmean, nanmedian, nansum, norm, prod, searchsorted, std, std_mean, sum, var,
    var_mean)
from ember._creation import empty_permuted, empty_strided, frombuffer  # noqa: F401
from ember.ops.compare import isin  # noqa: F401
from ember.ops.conversion import detach, detach_  # noqa: F401
from ember.ops.fill import fill, fill_, zero_  # noqa: F401
from ember.ops.indexing import index_put_, nonzero_static, put  # noqa: F401
from ember.ops.decomposition import (cholesky, cholesky_inverse, cholesky_solve,  # noqa: F401
                                     lu_unpack, matrix_exp, pinverse, svd, triangular_solve)
from ember.ops.decomposition import legacy_lu as lu  # noqa: F401
from ember.ops.decomposition import legacy_lu_solve as lu_solve  # noqa: F401
from ember.ops.decomposition import legacy_qr as qr  # noqa: F401
from ember.ops.inplace_forms import (  # noqa: F401
    acos_, acosh_, addmv_, arccos_, arccosh_, arcsin_, arcsinh_, arctan_, arctanh_, asin_,
    asinh_, atan_, atanh_, clamp_max_, clamp_min_, clip_, conj_physical_, cos_, cosh_, deg2rad_,
    erf_, erfc_, exp2_, expm1_, fix_, frac_, gcd_, i0_, lcm_, ldexp_, log1p_, log2_, log10_,
    logit_, negative_, rad2deg_, reciprocal_, rsqrt_, sin_, sinc_, sinh_, square_, tan_, trunc_,
    xlogy_)
from ember.ops.nn_aliases import (  # noqa: F401
    alpha_dropout, alpha_dropout_, batch_norm, bilinear, binary_cross_entropy_with_logits, celu,
    celu_, cosine_embedding_loss, cosine_similarity, ctc_loss, dropout, dropout_, embedding,
    feature_alpha_dropout, feature_alpha_dropout_, feature_dropout, feature_dropout_, group_norm,
    hardshrink, hinge_embedding_loss, instance_norm, kl_div, layer_norm, margin_ranking_loss,
    pairwise_distance, pdist, poisson_nll_loss, prelu, rms_norm, rrelu, rrelu_, selu, selu_,
    threshold, threshold_, triplet_margin_loss)
from ember.ops.pointwise_extra import (  # noqa: F401
    copysign, deg2rad, divide, frexp, gcd, heaviside, i0, igamma, igammac, lcm, ldexp,
    logaddexp2, multiply, mvlgamma, nextafter, positive, rad2deg, sinc, subtract)
from ember.ops.reshaping import (  # noqa: F401
    as_strided_scatter, block_diag, combinations, diagonal_scatter, dsplit, ravel, row_stack,
    select_scatter, slice_scatter, split_with_sizes, unravel_index, unsafe_chunk, unsafe_split,
    unsafe_split_with_sizes, vander, view_as_complex, view_as_real)
from ember.ops.spectral import (bartlett_window, blackman_window, hamming_window,  # noqa: F401
                                hann_window, istft, kaiser_window, stft)
from ember.ops.statistics import histogramdd  # noqa: F401
from ember.ops.statistics import (corrcoef, cov, cumulative_trapezoid, dist,  # noqa: F401
                                  histogram, nanquantile, quantile, renorm, trapezoid, trapz)
from ember.ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d,  # noqa: F401,E402
                            conv_transpose2d, conv_transpose3d)
from ember.ops.pooling import (avg_pool1d, max_pool1d, max_pool1d_with_indices,  # noqa: F401,E402
                               max_pool2d, max_pool3d)
from ember.ops.adaptive_pooling import (adaptive_avg_pool1d,  # noqa: F401,E402
                                        adaptive_max_pool1d)
from ember.ops.resizing import pixel_shuffle, pixel_unshuffle  # noqa: F401,E402
from ember import accelerator, amp, backends, cuda, linalg, return_types  # noqa: F401,E402
from ember import fft  # noqa: F401,E402
from ember import sparse  # noqa: F401,E402
from ember.ops.view_copies import (  # noqa: F401,E402
    adjoint, alias_copy, as_strided_copy, constant_pad_nd, detach_copy, diagonal_copy,
    expand_copy, frobenius_norm, narrow_copy, nuclear_norm, permute_copy, resize_as_,
    select_copy, slice_copy, split_copy, split_with_sizes_copy, squeeze_copy, t_copy,
    transpose_copy, unbind_copy, unfold_copy, unsqueeze_copy, view_as_complex_copy,
    view_as_real_copy, view_copy)
from ember.sparse import mm as spmm  # noqa: F401,E402  (torch.spmm: sparse @ dense)
from ember.sparse import mm as dsmm  # noqa: F401,E402  (torch.dsmm: sparse @ dense, dense)
from ember.sparse import sparse_coo_tensor  # noqa: F401,E402
from ember.ops.index_along_dim import index_reduce  # noqa: F401,E402
from ember.sparse import (sparse_bsc_tensor, sparse_bsr_tensor,  # noqa: F401,E402
                          sparse_compressed_tensor, sparse_csc_tensor, sparse_csr_tensor)
from ember._sparse_compressed import (_convert_indices_from_coo_to_csr,  # noqa: F401,E402
                                      _convert_indices_from_csr_to_coo)
from ember.backend import cpu as _cpu_backend  # noqa: E402

_cpu_backend.tune_allocator()
_cpu_backend.silence_float_warnings()
from ember.amp import autocast  # noqa: F401,E402
from ember.amp import GradScaler  # noqa: F401,E402
from ember._stream import Event, Stream  # noqa: F401,E402
from ember._jit_types import (  # noqa: F401,E402  (TorchScript's type objects)
    AnyType, BoolType, ComplexType, DeviceObjType, DictType, FloatType, IntType, ListType,
    NoneType, NumberType, OptionalType, PyObjectType, StreamObjType, StringType, SymBoolType,
    SymIntType, TensorType, TupleType, Type, UnionType)
from ember._accessors import (  # noqa: F401,E402
    ccol_indices_copy, col_indices_copy, crow_indices_copy, indices_copy, int_repr,
    q_per_channel_axis, q_per_channel_scales, q_per_channel_zero_points, q_scale, q_zero_point,
    row_indices_copy, slice_inverse, values_copy)
from ember.compiler import compile  # noqa: F401,E402  (torch.compile: runs eagerly)
from ember.runtime import (  # noqa: F401,E402
    are_deterministic_algorithms_enabled, clear_autocast_cache,
    get_autocast_cpu_dtype, get_autocast_dtype, get_autocast_gpu_dtype,
    get_deterministic_debug_mode, get_device, get_float32_matmul_precision, get_num_interop_threads,
    get_num_threads, is_anomaly_check_nan_enabled, is_anomaly_enabled,
    is_autocast_cache_enabled, is_autocast_cpu_enabled, is_autocast_enabled, is_conj,
    is_deterministic_algorithms_warn_only_enabled, is_inference, is_neg, is_nonzero,
    is_same_size, is_signed, is_storage, is_warn_always_enabled, newaxis, set_anomaly_enabled,
    set_autocast_cache_enabled, set_autocast_cpu_dtype, set_autocast_cpu_enabled,
    set_autocast_dtype, set_autocast_enabled, set_autocast_gpu_dtype,
    set_default_tensor_type, set_deterministic_debug_mode, set_flush_denormal,
    set_float32_matmul_precision, set_num_interop_threads, set_num_threads, set_warn_always,
    typename, use_deterministic_algorithms)
from ember.cuda import OutOfMemoryError  # noqa: F401,E402
from ember.ops.api_gaps import (  # noqa: F401,E402
    cond, from_file, get_device_module, hash_tensor, is_distributed, sym_float, sym_int, sym_ite,
    sym_max, sym_min, sym_not, sym_sqrt, sym_sum, while_loop)
from ember.ops.api_gaps import sym_constrain_range, sym_constrain_range_for_size  # noqa: F401,E402
from ember.ops.native_nn import embedding_renorm_  # noqa: F401,E402
from ember.ops.householder import geqrf, orgqr, ormqr  # noqa: F401,E402
from ember.ops.lowrank import lobpcg, pca_lowrank, svd_lowrank  # noqa: F401,E402
from ember.ops.native_nn import (  # noqa: F401,E402
    affine_grid_generator, channel_shuffle, conv_tbc, convolution, embedding_bag, grid_sampler,
    grid_sampler_2d, grid_sampler_3d, gru, gru_cell, lstm, lstm_cell, native_batch_norm,
    native_channel_shuffle, native_dropout, native_group_norm, native_layer_norm, native_norm,
    norm_except_dim, rnn_relu, rnn_relu_cell, rnn_tanh, rnn_tanh_cell, segment_reduce)
from ember.ops.removed import eig, lstsq, matrix_rank, solve, symeig  # noqa: F401,E402
from ember.ops.tensor_extras import (  # noqa: F401,E402
    BFloat16Storage, BoolStorage, ByteStorage, CharStorage, ComplexDoubleStorage,
    ComplexFloatStorage, DoubleStorage, FloatStorage, HalfStorage, IntStorage, LongStorage,
    ShortStorage)
from ember.dtypes import qint8, qint32, quint4x2, quint8  # noqa: F401,E402
from ember.dtypes import (float8_e4m3fn, float8_e4m3fnuz, float8_e5m2,  # noqa: F401,E402
                          float8_e5m2fnuz, float8_e8m0fnu)
from ember._float8 import _scaled_mm  # noqa: F401,E402
from ember.dtypes import (  # noqa: F401,E402  (dtype objects only: NumPy cannot hold these)
    bits1x8, bits2x4, bits4x2, bits8, bits16, chalf, complex32, float4_e2m1fn_x2, int1, int2,
    int3, int4, int5, int6, int7, uint1, uint2, uint3, uint4, uint5, uint6, uint7)
from ember._quantized import (  # noqa: F401,E402
    _make_per_channel_quantized_tensor, _make_per_tensor_quantized_tensor, dequantize,
    per_channel_affine, per_channel_affine_float_qparams, per_channel_symmetric,
    per_tensor_affine, per_tensor_symmetric, qscheme, quantize_per_channel, quantize_per_tensor,
    quantize_per_tensor_dynamic)
from ember._fake_quantize import (  # noqa: F401,E402
    _fake_quantize_learnable_per_channel_affine, _fake_quantize_learnable_per_tensor_affine,
    fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine)
from ember.ops.random_variates import (_dirichlet_grad, _sample_dirichlet,  # noqa: F401,E402
                                       _standard_gamma, _standard_gamma_grad)
from ember import _C, overrides  # noqa: F401,E402  (the __torch_function__ protocol)
from math import e, inf, nan, pi  # noqa: F401,E402


def save(obj, f, *args, **kwargs) -> None:
    """Save ``obj`` (tensors, state_dicts, containers) in PyTorch's checkpoint format,
    atomically; the arguments are ``ember.serialization.save``'s (loaded on first use)."""
    from ember import serialization
    return serialization.save(obj, f, *args, **kwargs)


def load(f, *args, **kwargs):
    """Load what ``save`` (or ``torch.save``) wrote, never running code from the file; the
    arguments are ``ember.serialization.load``'s (loaded on first use)."""
    from ember import serialization
    return serialization.load(f, *args, **kwargs)


class layout:
    """Memory layout of a tensor; ember tensors are strided."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return "torch." + self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")
jagged = layout("jagged")  # torch.nested's packed-values layout
sparse_csr, sparse_csc, sparse_bsr, sparse_bsc = (
    layout(name) for name in ("sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"))


class memory_format:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return "torch." + self.name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

from ember.storage import StorageBase, TypedStorage, UntypedStorage  # noqa: F401,E402
preserve_format = memory_format("preserve_format")

from ember._creation import (BFloat16Tensor, BoolTensor, ByteTensor,  # noqa: F401,E402
                             CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                             LongTensor, ShortTensor)


class _DLPackCapsule:
    """A bare DLPack capsule (``to_dlpack``'s result) as the producer object that NumPy's and
    CuPy's ``from_dlpack`` take; the capsule is tried on the CPU first, then on CUDA."""

    def __init__(self, capsule, device_type: int):
        self.capsule, self.device_type = capsule, device_type

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self) -> tuple:
        return (self.device_type, 0)


def from_dlpack(ext_tensor, *, device=None, copy=None) -> Tensor:  # noqa: F811 (torch.device)
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, ...) or a
    DLPack capsule (an unversioned capsule gives a read-only tensor on the CPU); on
    ``device`` if given (moved, so copied, where the data is elsewhere). ``copy=True`` always
    copies; ``copy=False`` never does, and refuses a move."""
    from ember.backend.device import Device
    shared = _shared_from_dlpack(ext_tensor)
    moves = device is not None and shared.device != Device(device)
    if moves and copy is False:
        raise BufferError(f"from_dlpack: the data is on {shared.device}, and copy=False "
                          f"forbids moving it to {Device(device)}")
    if moves:
        return shared.to(device)
    return shared.clone() if copy else shared


def _shared_from_dlpack(ext_tensor) -> Tensor:
    import numpy
    from ember._tensor import _make
    if type(ext_tensor).__name__ == "PyCapsule":
        try:
            return _make(numpy.from_dlpack(_DLPackCapsule(ext_tensor, 1)))
        except (BufferError, RuntimeError, TypeError):  # not host memory
            return _make(cuda._backend.cupy().from_dlpack(_DLPackCapsule(ext_tensor, 2)))
    device_type = ext_tensor.__dlpack_device__()[0] if hasattr(ext_tensor, "__dlpack_device__") \
        else 1
    if device_type == 1:  # kDLCPU
        return _make(numpy.from_dlpack(ext_tensor))
    return _make(cuda._backend.cupy().from_dlpack(ext_tensor))


def to_dlpack(input: Tensor):  # noqa: A002
    """A DLPack capsule sharing ``input``'s memory (consumed once, by ``from_dlpack``): a
    DLPack 1.0 capsule, which keeps the memory writable where it is consumed (NumPy imports
    the older, unversioned capsules read-only)."""
    return input.detach()._data.__dlpack__(max_version=(1, 0))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:  # noqa: A002
    return input.is_complex()


def numel(input: Tensor) -> int:  # noqa: A002
    return input.numel()


def result_type(tensor1, tensor2):
    from ember.dtypes import result_type as _result_type
    return _result_type(tensor1, tensor2)


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``ember.func.vmap`` (``torch.vmap``), loaded on first use."""
    from ember.func import vmap as func_vmap
    return func_vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


def can_cast(from_, to) -> bool:
    return from_._category <= to._category


def finfo(type=None):  # noqa: A002
    from ember.dtypes import finfo_np
    return finfo_np(type or get_default_dtype())


def iinfo(type):  # noqa: A002
    import numpy
    return numpy.iinfo(type.np_dtype)


def _assert(condition, message: str) -> None:
    """``torch._assert``: Python's ``assert`` as a function, so ``ember.fx`` can record it."""
    assert condition, message


from ember.version import __version__ as __version__  # noqa: E402  (the PyTorch release)

# Heavier packages load on first use (``ember.optim``, ``ember.legacy``, ...), keeping
# ``import ember`` fast; ``import ember.optim`` works as usual.
_LAZY_SUBMODULES = ("nn", "optim", "utils", "legacy", "multiprocessing", "vision",
                    "serialization", "storage", "distributions", "testing", "examples", "onnx",
                    "distributed", "func", "special", "jit", "xpu", "mps", "hub", "cpu",
                    "profiler", "functional", "signal", "compiler", "__future__")
_LAZY_SUBMODULES += ("ao", "quantization")
_LAZY_SUBMODULES += ("fx",)  # torch.fx: symbolic tracing, graphs, interpreters
_LAZY_SUBMODULES += ("library",)  # torch.library: custom operators
_LAZY_SUBMODULES += ("futures",)  # torch.futures
_LAZY_SUBMODULES += ("export",)  # torch.export
_LAZY_SUBMODULES += ("masked",)  # torch.masked
_LAZY_SUBMODULES += ("nested",)  # torch.nested
_LAZY_SUBMODULES += ("quasirandom",)  # torch.quasirandom: SobolEngine
_LAZY_SUBMODULES += ("_dynamo", "_higher_order_ops", "_logging")  # compiler-stack namespaces
_LAZY_SUBMODULES += ("_inductor", "_utils")  # torch._inductor, torch._utils
_LAZY_SUBMODULES += ("version", "torch_version")  # torch.version, torch.torch_version
_LAZY_SUBMODULES += ("__config__",)  # torch.__config__: show(), parallel_info()
_LAZY_SUBMODULES += ("_functorch", "_guards")  # torch._functorch, torch._guards

# torch's top-level names whose code loads with a lazy submodule
_NAMES_ELSEWHERE = {"PyTorchFileReader": "ember.serialization.file_reader",
                    "ScriptModule": "ember._C", "SymInt": "ember.export._symbolic",
                    "SymFloat": "ember.export._symbolic", "SymBool": "ember.export._symbolic",
                    "Future": "ember.futures", "Tag": "ember.library"}


def __getattr__(name: str):
    if name == "torch":  # torch.torch is torch itself (code writes ``torch.torch.Tensor``)
        import sys
        return sys.modules[__name__]
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"ember.{name}")
    if name in _NAMES_ELSEWHERE:
        import importlib
        return getattr(importlib.import_module(_NAMES_ELSEWHERE[name]), name)
    if name.startswith("_foreach_"):  # torch._foreach_*: the multi-tensor ops, on first use
        from ember import _foreach
        if hasattr(_foreach, name):
            return getattr(_foreach, name)
    raise AttributeError(f"module 'ember' has no attribute '{name}'")
