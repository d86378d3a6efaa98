"""ember's hand-written CUDA kernels (CuPy ``RawKernel``s): attention's softmax and layer
norm, each direction one kernel in which a thread block owns a row; and dropout, whose keep
mask is a hash of a seed and the element's index, so that the backward draws it again instead
of storing it.

Composed of CuPy calls, each is many passes over memory: attention's softmax over
(N, heads, L, S) scores is about ten each way (scale, max, subtract, exp, sum, divide, the
dropout product, the casts), layer norm about eight; at transformer sizes those passes, not the
matrix products, hold the GPU. Here a block reads its row (again from cache where a second
look is needed), reduces in registers and shared memory, and writes its results once.

Half-precision rows compute in float32 (as PyTorch's kernels do) and attention keeps its
probabilities in float32, like ember's CPU path, so both devices agree to rounding. The half
types travel as 16-bit integers converted in registers, which needs no CUDA header.
"""
from __future__ import annotations

import functools

import ml_dtypes
import numpy as np

from ember.backend import cuda
from ember.backend.device import convert

_THREADS = 128  # per row: a multiple of the warp size

# The half types' bodies of load(unsigned short x) -> float and store(float v) -> unsigned
# short, in registers (no CUDA header); ember's other RawKernels (cuda_conv) use them too.
HALF_CONVERSIONS = {
    "bfloat16": ("return __uint_as_float(((unsigned int)x) << 16);",
                 # round to nearest even; NaN stays a (quiet) NaN
                 "unsigned int b = __float_as_uint(v);\n"
                 "    if ((b & 0x7fffffffu) > 0x7f800000u)\n"
                 "        return (unsigned short)((b >> 16) | 0x40u);\n"
                 "    b += 0x7fffu + ((b >> 16) & 1u);\n"
                 "    return (unsigned short)(b >> 16);"),
    "float16": ('float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x)); return f;',
                'unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v)); return h;'),
}
# Per storage dtype: the C type the kernels see, their compute type, and its conversions.
_TYPES = {
    "float32": ("float", "float", "return x;", "return v;"),
    "float64": ("double", "double", "return x;", "return v;"),
    **{name: ("unsigned short", "float", *body) for name, body in HALF_CONVERSIONS.items()},
}

_TYPE_PRELUDE = """
typedef {storage} in_t;
typedef {compute} acc_t;
__device__ __forceinline__ acc_t load(in_t x) {{ {load} }}
__device__ __forceinline__ in_t store(acc_t v) {{ {store} }}
"""


def type_prelude(storage: str, compute: str, load: str = "return x;",
                 store: str = "return v;") -> str:
    """The kernels' storage type ``in_t``, compute type ``acc_t`` and the ``load``/``store``
    between them (shared with ember's other RawKernels, cuda_conv)."""
    return _TYPE_PRELUDE.format(storage=storage, compute=compute, load=load, store=store)


_PRELUDE = """
__device__ __forceinline__ acc_t neg_inf() {{ return {neg_inf}; }}
__device__ __forceinline__ acc_t exp_(acc_t x) {{ return {exp}(x); }}
__device__ __forceinline__ acc_t sqrt_(acc_t x) {{ return {sqrt}(x); }}
"""

_KERNELS = r"""
__device__ __forceinline__ acc_t combine(acc_t a, acc_t b, bool is_max) {
    if (!is_max) return a + b;
    return (a != a || a > b) ? a : b;  // NaN wins, as NumPy's max
}

// The reduction of v over the block; every thread gets it (each warp reduces the warps'
// partial results itself, so no broadcast step is needed).
__device__ acc_t block_reduce(acc_t v, acc_t* partial, bool is_max) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1)
        v = combine(v, __shfl_xor_sync(0xffffffffu, v, offset), is_max);
    __syncthreads();  // the previous reduction's readers are done with `partial`
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < warps ? partial[lane] : (is_max ? neg_inf() : (acc_t)0);
    for (int offset = 16; offset > 0; offset >>= 1)
        v = combine(v, __shfl_xor_sync(0xffffffffu, v, offset), is_max);
    return v;
}

// probs = softmax(scores * scale) along rows of n; weights = probs * noise (or probs).
extern "C" __global__ void ember_softmax_forward(
        const in_t* scores, const in_t* noise, acc_t* probs, in_t* weights, int n,
        acc_t scale, int has_noise) {
    __shared__ acc_t partial[32];
    const long long base = (long long)blockIdx.x * n;
    const in_t* row = scores + base;
    acc_t m = neg_inf();
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        m = combine(m, load(row[j]) * scale, true);
    m = block_reduce(m, partial, true);
    acc_t total = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        total += exp_(load(row[j]) * scale - m);
    total = block_reduce(total, partial, false);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        acc_t p = exp_(load(row[j]) * scale - m) / total;
        probs[base + j] = p;
        weights[base + j] = store(has_noise ? p * load(noise[base + j]) : p);
    }
}

// d scores = p * (d - sum(d * p)) * scale, d = d weights * noise (or d weights), written
// over d weights.
extern "C" __global__ void ember_softmax_backward(
        in_t* grad, const in_t* noise, const acc_t* probs, int n, acc_t scale,
        int has_noise) {
    __shared__ acc_t partial[32];
    const long long base = (long long)blockIdx.x * n;
    acc_t dot = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        acc_t d = load(grad[base + j]);
        if (has_noise) d *= load(noise[base + j]);
        dot += d * probs[base + j];
    }
    dot = block_reduce(dot, partial, false);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        acc_t d = load(grad[base + j]);
        if (has_noise) d *= load(noise[base + j]);
        grad[base + j] = store(probs[base + j] * (d - dot) * scale);
    }
}

// y = x * (draw >= threshold ? scale : 0) over n contiguous elements (x = 1 without has_x:
// the noise itself); the seed's two 32-bit words are read on the device, so drawing them
// needs no synchronisation.
extern "C" __global__ void ember_dropout(
        const in_t* x, in_t* y, const unsigned int* seed_words, long long n,
        unsigned int threshold, acc_t scale, int has_x) {
    const unsigned long long seed =
        ((unsigned long long)seed_words[0] << 32) | seed_words[1];
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        const acc_t noise = draw(seed, (unsigned long long)i) >= threshold ? scale : (acc_t)0;
        y[i] = store(has_x ? load(x[i]) * noise : noise);
    }
}

// Layer norm over rows of n: y = (x - mean) * rstd (* weight) (+ bias); mean and rstd kept.
extern "C" __global__ void ember_layer_norm_forward(
        const in_t* x, const in_t* weight, const in_t* bias, in_t* y, acc_t* mean_out,
        acc_t* rstd_out, int n, acc_t eps, int has_weight, int has_bias) {
    __shared__ acc_t partial[32];
    const long long base = (long long)blockIdx.x * n;
    acc_t total = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        total += load(x[base + j]);
    const acc_t mean = block_reduce(total, partial, false) / n;
    acc_t squares = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const acc_t d = load(x[base + j]) - mean;
        squares += d * d;
    }
    const acc_t rstd = (acc_t)1 / sqrt_(block_reduce(squares, partial, false) / n + eps);
    if (threadIdx.x == 0) {
        mean_out[blockIdx.x] = mean;
        rstd_out[blockIdx.x] = rstd;
    }
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        acc_t v = (load(x[base + j]) - mean) * rstd;
        if (has_weight) v *= load(weight[j]);
        if (has_bias) v += load(bias[j]);
        y[base + j] = store(v);
    }
}

// Its backward: with g = grad (* weight) and xhat = (x - mean) * rstd,
// grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat)); grad * xhat into grad_xhat (for the
// weight's gradient, a sum over rows) when want_xhat.
extern "C" __global__ void ember_layer_norm_backward(
        const in_t* grad, const in_t* x, const in_t* weight, const acc_t* mean_in,
        const acc_t* rstd_in, in_t* grad_x, in_t* grad_xhat, int n, int has_weight,
        int want_xhat) {
    __shared__ acc_t partial[32];
    const long long base = (long long)blockIdx.x * n;
    const acc_t mean = mean_in[blockIdx.x], rstd = rstd_in[blockIdx.x];
    acc_t sum_g = 0, sum_gx = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        acc_t g = load(grad[base + j]);
        if (has_weight) g *= load(weight[j]);
        sum_g += g;
        sum_gx += g * ((load(x[base + j]) - mean) * rstd);
    }
    const acc_t mean_g = block_reduce(sum_g, partial, false) / n;
    const acc_t mean_gx = block_reduce(sum_gx, partial, false) / n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const acc_t dy = load(grad[base + j]);
        const acc_t g = has_weight ? dy * load(weight[j]) : dy;
        const acc_t xhat = (load(x[base + j]) - mean) * rstd;
        grad_x[base + j] = store(rstd * (g - mean_g - xhat * mean_gx));
        if (want_xhat) grad_xhat[base + j] = store(dy * xhat);
    }
}
"""


# Dropout's draw for an element: shared with the fused attention kernels (cuda_flash), which
# draw the same mask for the same seed.
DRAW = r"""
// Dropout's draw for element i: splitmix64's output function of the seed and the index, a
// counter-based generator (any element's draw without the others'), high 32 bits.
__device__ __forceinline__ unsigned int draw(unsigned long long seed, unsigned long long i) {
    unsigned long long z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (unsigned int)((z ^ (z >> 31)) >> 32);
}
"""

KERNEL_NAMES = ("softmax_forward", "softmax_backward", "layer_norm_forward",
                "layer_norm_backward", "dropout")


def source(dtype_name: str) -> str:
    """The CUDA C of the kernels ``ember_<name>`` (``KERNEL_NAMES``) for storage dtype
    ``dtype_name``."""
    storage, compute, load, store = _TYPES[dtype_name]
    double = compute == "double"
    return type_prelude(storage, compute, load, store) + _PRELUDE.format(
        neg_inf="__longlong_as_double(0xfff0000000000000LL)" if double
        else "__int_as_float(0xff800000)",
        exp="exp" if double else "expf", sqrt="sqrt" if double else "sqrtf") + DRAW + _KERNELS


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    """The kernels for a storage dtype (keyed by the dtype itself: its ``name`` is slower)."""
    module = cuda.cupy().RawModule(code=source(dtype.name))
    return {name: module.get_function(f"ember_{name}") for name in KERNEL_NAMES}


_SUPPORTED = frozenset(np.dtype(ml_dtypes.bfloat16 if name == "bfloat16" else name)
                       for name in _TYPES)


def supports(scores) -> bool:
    """Whether these kernels take ``scores``' dtype."""
    return scores.dtype in _SUPPORTED


def softmax_forward(scores, scale: float, noise):
    """``(probs, weights)`` of (..., S) ``scores``: softmax(scores * scale) along the last
    axis (float32 for half-precision scores), and that times ``noise`` (dropout's scaled keep
    mask, of the scores' shape and dtype) or cast, in the scores' dtype."""
    cp = cuda.cupy()
    scores = cp.ascontiguousarray(scores)
    forward = _kernels(scores.dtype)["softmax_forward"]
    compute = _compute_dtype(scores)
    probs = cp.empty(scores.shape, compute)
    weights = cp.empty_like(scores)
    n = scores.shape[-1]
    rows = scores.size // n if n else 0
    if rows:
        has_noise = noise is not None
        noise = cp.ascontiguousarray(noise, scores.dtype) if has_noise else scores
        forward((rows,), (_THREADS,), (scores, noise, probs, weights, np.int32(n),
                                       compute(scale), np.int32(has_noise)))
    return probs, weights


def softmax_backward(grad, probs, scale: float, noise):
    """The scores' gradient from the weights' ``grad`` (C-contiguous; overwritten and
    returned), ``probs`` and ``noise`` of :func:`softmax_forward`."""
    backward = _kernels(grad.dtype)["softmax_backward"]
    n = grad.shape[-1]
    rows = grad.size // n if n else 0
    if rows:
        has_noise = noise is not None
        noise = cuda.cupy().ascontiguousarray(noise, grad.dtype) if has_noise else grad
        backward((rows,), (_THREADS,), (grad, noise, probs, np.int32(n),
                                        probs.dtype.type(scale), np.int32(has_noise)))
    return grad


def _compute_dtype(x):
    return np.float64 if x.dtype == np.float64 else np.float32


def layer_norm_forward(x, weight, bias, eps: float):
    """Layer norm of each row of the (rows, n) array ``x``: ``(y, mean, rstd)``, y in x's
    dtype, mean and rstd (rows,) in the compute dtype. ``weight``/``bias``: (n,) or None."""
    cp = cuda.cupy()
    x = cp.ascontiguousarray(x)
    rows, n = x.shape
    compute = _compute_dtype(x)
    y = cp.empty_like(x)
    mean = cp.empty(rows, compute)
    rstd = cp.empty(rows, compute)
    if rows and n:
        weight_arg = x if weight is None else cp.ascontiguousarray(weight)
        bias_arg = x if bias is None else cp.ascontiguousarray(bias)
        _kernels(x.dtype)["layer_norm_forward"](
            (rows,), (_THREADS,), (x, weight_arg, bias_arg, y, mean, rstd, np.int32(n),
                                   compute(eps), np.int32(weight is not None),
                                   np.int32(bias is not None)))
    return y, mean, rstd


def layer_norm_backward(grad, x, weight, mean, rstd, want_xhat: bool):
    """``(grad_x, grad * xhat or None)`` for :func:`layer_norm_forward`'s (rows, n) ``x``;
    the second summed over rows is the weight's gradient."""
    cp = cuda.cupy()
    grad, x = cp.ascontiguousarray(grad), cp.ascontiguousarray(x)
    rows, n = x.shape
    grad_x = cp.empty_like(x)
    grad_xhat = cp.empty_like(x) if want_xhat else None
    if rows and n:
        _kernels(x.dtype)["layer_norm_backward"](
            (rows,), (_THREADS,), (grad, x, x if weight is None else cp.ascontiguousarray(weight),
                                   mean, rstd, grad_x, x if grad_xhat is None else grad_xhat,
                                   np.int32(n), np.int32(weight is not None),
                                   np.int32(want_xhat)))
    return grad_x, grad_xhat


_DROPOUT_BLOCKS = 4096  # a grid-stride loop covers larger arrays


def dropout(x, threshold, scale, seed_words, shape=None, dtype=None):
    """``x * noise`` in x's dtype, noise being ``scale`` where the element's draw (a hash of
    ``seed_words``, two uint32 on the device, and its C-order index) is at least ``threshold``
    (a uint32) and 0 elsewhere; with ``x`` None, the noise itself, of ``shape`` and ``dtype``.
    The same seed gives the same mask for any array of that shape."""
    cp = cuda.cupy()
    if x is not None:
        x = cp.ascontiguousarray(x)
        shape, dtype = x.shape, x.dtype
    out = cp.empty(shape, dtype)
    if out.size:
        blocks = min((out.size + _THREADS - 1) // _THREADS, _DROPOUT_BLOCKS)
        compute = _compute_dtype(out)
        _kernels(out.dtype)["dropout"](
            (blocks,), (_THREADS,), (out if x is None else x, out, seed_words,
                                     np.int64(out.size), np.uint32(threshold),
                                     compute(scale), np.int32(x is not None)))
    return out


_CAST = """
extern "C" __global__ void ember_cast(const in_t* x, out_t* y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        y[i] = store_out(load(x[i]));
}
"""
_CAST_STORE = "__device__ __forceinline__ out_t store_out(float v) {{ {body} }}\n"


def cast_source(source_name: str, target_name: str) -> str:
    """The CUDA C of ``ember_cast`` from storage dtype ``source_name`` to ``target_name``."""
    storage, _, load, _ = _TYPES[source_name]
    out_storage, _, _, store = _TYPES[target_name]
    return (type_prelude(storage, "float", load) + f"typedef {out_storage} out_t;\n"
            + _CAST_STORE.format(body=store) + _CAST)


_CASTS = frozenset({"float32", "bfloat16", "float16"})


@functools.lru_cache(maxsize=None)
def _cast_kernel(source_dtype, target_dtype):
    """The kernel casting a contiguous ``source_dtype`` array to ``target_dtype`` (float32 and
    the half types), or None for other pairs."""
    if source_dtype == target_dtype or not {source_dtype.name, target_dtype.name} <= _CASTS:
        return None
    return cuda.cupy().RawKernel(cast_source(source_dtype.name, target_dtype.name),
                                 "ember_cast")


def cast(x, dtype):
    """``x.astype(dtype)`` for a CuPy array: between float32 and the half types, one launch of
    ember's kernel, whose call costs the host less than CuPy's elementwise machinery (autocast
    makes dozens of these casts per step); other dtypes and layouts through ``astype``."""
    kernel = _cast_kernel(x.dtype, dtype) if x.flags.c_contiguous else None
    if kernel is None:
        return convert(x, dtype)
    out = cuda.cupy().empty(x.shape, dtype)
    if out.size:
        blocks = min((out.size + 255) // 256, _DROPOUT_BLOCKS)
        kernel((blocks,), (256,), (x, out, np.int64(out.size)))
    return out
