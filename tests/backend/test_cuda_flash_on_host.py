"""The fused attention kernels of ember.backend.cuda_flash, compiled as C++ for the host against
NumPy: each CUDA thread of a block runs as a host thread (barriers for ``__syncthreads``), and
the warp instructions (``mma.sync``, ``ldmatrix.trans``, shuffles) are emulated from PTX's
documented fragment layouts through a per-warp exchange. The Python glue runs with NumPy in
CuPy's place. Checked: outputs and gradients against a float64 NumPy reference, with causal
masking, dropout (the same hash as ``cuda_rows.dropout``), ragged lengths and strided heads."""
import ctypes
import shutil
import subprocess

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import cuda, cuda_flash
from ember.ops.dropout import HashedNoise

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")

_SHIM = r"""
#include <barrier>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
struct ember_dim3 { unsigned int x, y, z; };
static thread_local ember_dim3 threadIdx, blockIdx;
static ember_dim3 blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(threads)
template <class To, class From> static inline To bits_as(From v) {
    To out; std::memcpy(&out, &v, sizeof out); return out; }
static inline float __int_as_float(int v) { return bits_as<float>(v); }
static inline float __uint_as_float(unsigned int v) { return bits_as<float>(v); }
static inline unsigned int __float_as_uint(float v) { return bits_as<unsigned int>(v); }
"""

# After the type prelude (they convert in_t): the warp instructions, emulated.
_INSTRUCTIONS = r"""
static std::barrier<>* block_barrier;
static std::barrier<>* warp_barriers[4];
static unsigned long long exchange[4][32][8];
alignas(16) static unsigned char host_smem[256 * 1024];
static std::mutex atomic_lock;
static inline void __syncthreads() { block_barrier->arrive_and_wait(); }
static inline void sync_warp() { warp_barriers[threadIdx.x / 32]->arrive_and_wait(); }
static inline unsigned char* dynamic_smem() { return host_smem; }
static inline float atomicAdd(float* p, float v) {
    std::lock_guard<std::mutex> hold(atomic_lock); float old = *p; *p = old + v; return old; }
// The copies to shared memory happen at once, so there is nothing to wait for.
static inline void copy16(in_t* dst, const in_t* src, bool valid) {
    if (valid) std::memcpy(dst, src, 16); else std::memset(dst, 0, 16); }
static inline void copies_commit() {}
static inline void copies_wait_all() {}
static inline void copies_wait_prior() {}
static inline unsigned pack2(float lo, float hi) {
    return (unsigned)store(lo) | ((unsigned)store(hi) << 16); }
static inline float exp2_(float x) { return exp2f(x); }
static inline unsigned long long* slot(int lane) { return exchange[threadIdx.x / 32][lane]; }
static inline float shfl_xor(float v, int mask) {
    const int lane = threadIdx.x % 32;
    slot(lane)[0] = __float_as_uint(v);
    sync_warp();
    const float r = __uint_as_float((unsigned)slot(lane ^ mask)[0]);
    sync_warp();
    return r;
}
static inline float half_lo(unsigned long long w) { return load((in_t)(w & 0xffffu)); }
static inline float half_hi(unsigned long long w) { return load((in_t)((w >> 16) & 0xffffu)); }
// m16n8k16: lane 4 g + t holds A rows g, g + 8 at columns 2t, 2t + 1 (a0, a1) and 2t + 8,
// 2t + 9 (a2, a3); B rows 2t, 2t + 1 (b0) and 2t + 8, 2t + 9 (b1) at column g; C rows g,
// g + 8 at columns 2t, 2t + 1.
static inline void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1) {
    const int lane = threadIdx.x % 32;
    for (int i = 0; i < 4; ++i) slot(lane)[i] = a[i];
    slot(lane)[4] = b0;
    slot(lane)[5] = b1;
    sync_warp();
    float A[16][16], B[16][8];
    for (int other = 0; other < 32; ++other) {
        const int g = other / 4, t = other % 4;
        const unsigned long long* r = slot(other);
        const int rows[4] = {g, g + 8, g, g + 8}, cols[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
        for (int i = 0; i < 4; ++i) {
            A[rows[i]][cols[i]] = half_lo(r[i]);
            A[rows[i]][cols[i] + 1] = half_hi(r[i]);
        }
        B[2 * t][g] = half_lo(r[4]);
        B[2 * t + 1][g] = half_hi(r[4]);
        B[2 * t + 8][g] = half_lo(r[5]);
        B[2 * t + 9][g] = half_hi(r[5]);
    }
    sync_warp();
    const int g = lane / 4, t = lane % 4;
    for (int e = 0; e < 4; ++e) {
        const int row = g + (e >> 1) * 8, col = 2 * t + (e & 1);
        float sum = 0.f;
        for (int k = 0; k < 16; ++k) sum += A[row][k] * B[k][col];
        c[e] += sum;
    }
}
static inline void ldsm_x4_trans(unsigned* r, const in_t* row) {
    const int lane = threadIdx.x % 32;
    slot(lane)[0] = (unsigned long long)row;
    sync_warp();
    for (int i = 0; i < 4; ++i) {
        const in_t* r0 = (const in_t*)slot(8 * i + 2 * (lane % 4))[0];
        const in_t* r1 = (const in_t*)slot(8 * i + 2 * (lane % 4) + 1)[0];
        r[i] = (unsigned)r0[lane / 4] | ((unsigned)r1[lane / 4] << 16);
    }
    sync_warp();
}
"""

# A grid launch: blocks one after another, each block's threads as host threads; the
# arguments come as 8-byte slots (pointers, integers, float bits), unpacked by type.
_LAUNCHER = r"""
template <class T> static T from_slot(unsigned long long s) {
    if constexpr (std::is_same_v<T, float>) return bits_as<float>((unsigned)s);
    else return (T)s;
}
template <class... A, std::size_t... I>
static void call(void (*kernel)(A...), const unsigned long long* s, std::index_sequence<I...>) {
    kernel(from_slot<A>(s[I])...);
}
template <class... A>
static void launch(void (*kernel)(A...), unsigned gx, unsigned gy, unsigned threads,
                   const unsigned long long* slots) {
    blockDim = {threads, 1, 1};
    gridDim = {gx, gy, 1};
    for (unsigned by = 0; by < gy; ++by)
        for (unsigned bx = 0; bx < gx; ++bx) {
            std::barrier<> block(threads), w0(32), w1(32), w2(32), w3(32);
            block_barrier = &block;
            warp_barriers[0] = &w0; warp_barriers[1] = &w1;
            warp_barriers[2] = &w2; warp_barriers[3] = &w3;
            std::vector<std::thread> team;
            for (unsigned i = 0; i < threads; ++i)
                team.emplace_back([&, i] {
                    threadIdx = {i, 0, 0};
                    blockIdx = {bx, by, 0};
                    call(kernel, slots, std::index_sequence_for<A...>{});
                });
            for (auto& member : team) member.join();
        }
}
extern "C" void host_launch(int which, unsigned gx, unsigned gy, unsigned threads,
                            const unsigned long long* slots) {
    if (which == 0) launch(ember_flash_forward, gx, gy, threads, slots);
    if (which == 1) launch(ember_flash_delta, gx, gy, threads, slots);
    if (which == 2) launch(ember_flash_backward, gx, gy, threads, slots);
}
"""

_HOST_FLOAT16 = ("_Float16 h; std::memcpy(&h, &x, 2); return (float)h;",
                 "_Float16 h = (_Float16)v; unsigned short b; std::memcpy(&b, &h, 2); return b;")
BF16 = np.dtype(ml_dtypes.bfloat16)


def _slot(arg) -> int:
    if isinstance(arg, np.ndarray):
        return arg.ctypes.data
    if isinstance(arg, np.float32):
        return int(np.array(arg).view(np.uint32))
    return int(arg) & (1 << 64) - 1


class _HostKernel:
    def __init__(self, library, which: int):
        self.library, self.which = library, which

    def __call__(self, grid, block, args, shared_mem=0):
        assert shared_mem <= 256 * 1024
        grid = tuple(grid) + (1,) * (2 - len(grid))
        slots = (ctypes.c_ulonglong * len(args))(*[_slot(a) for a in args])
        self.library.host_launch(self.which, grid[0], grid[1], block[0], slots)


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("cuda_flash")
    libraries = {}

    def kernels(dtype, head_dim: int):
        dtype_name = np.dtype(dtype).name
        key = (dtype_name, head_dim)
        if key not in libraries:
            src, lib = build / f"{dtype_name}_{head_dim}.cpp", build / f"{dtype_name}_{head_dim}.so"
            with pytest.MonkeyPatch.context() as mp:
                mp.setitem(cuda_flash.HALF_CONVERSIONS, "float16", _HOST_FLOAT16)
                src.write_text(_SHIM + cuda_flash.source(dtype_name, head_dim, _INSTRUCTIONS)
                               + _LAUNCHER)
            done = subprocess.run(["g++", "-std=c++20", "-O2", "-shared", "-fPIC", "-pthread",
                                   "-o", str(lib), str(src)], capture_output=True, text=True)
            if done.returncode and dtype_name == "float16" and "_Float16" in done.stderr:
                pytest.skip("this g++ has no _Float16 (GCC 12 has)")
            assert done.returncode == 0, done.stderr[-3000:]
            library = ctypes.CDLL(str(lib))
            libraries[key] = {name: _HostKernel(library, i)
                              for i, name in enumerate(cuda_flash.KERNEL_NAMES)}
        return libraries[key]
    return kernels


@pytest.fixture
def on_host(monkeypatch, host_build):
    """cuda_flash's glue with NumPy for CuPy and the host build for its kernels."""
    monkeypatch.setattr(cuda, "cupy", lambda: np)
    monkeypatch.setattr(cuda_flash, "_kernels", host_build)


def _draws(seed: int, index):
    """cuda_rows' dropout draw (splitmix64's output function), in NumPy."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (index.astype(np.uint64) + np.uint64(1)) \
            * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((z ^ (z >> np.uint64(31))) >> np.uint64(32)).astype(np.uint32)


def _reference(q, k, v, grad, scale, causal, keep):
    """out, dq, dk, dv in float64: softmax(q k^T scale) with the weights times ``keep``."""
    q, k, v, grad = (a.astype(np.float64) for a in (q, k, v, grad))
    scores = q @ k.swapaxes(-1, -2) * scale
    if causal:
        length, source = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((length, source), bool)), scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = (probs * keep) @ v
    dv = (probs * keep).swapaxes(-1, -2) @ grad
    dp = (grad @ v.swapaxes(-1, -2)) * keep
    ds = probs * (dp - (dp * probs).sum(-1, keepdims=True))
    return out, ds @ k * scale, ds.swapaxes(-1, -2) @ q * scale, dv


def _packed_heads(rng, dtype, length, batch, heads, head_dim):
    """q, k, v as (batch, heads, length, head_dim) strided views of one packed projection
    (length, batch, 3 * heads * head_dim), as multi-head attention makes them."""
    width = heads * head_dim
    packed = rng.standard_normal((length, batch, 3 * width)).astype(dtype)
    split = packed.reshape(length, batch, 3, heads, head_dim)
    return [split[:, :, i].transpose(1, 2, 0, 3) for i in range(3)]


@pytest.mark.parametrize("dtype_name, head_dim, q_len, k_len, causal, p", [
    ("bfloat16", 32, 70, 70, False, 0.0),
    ("bfloat16", 64, 64, 130, False, 0.3),
    ("float16", 16, 100, 37, False, 0.0),
    ("float16", 32, 90, 90, True, 0.2),
    ("bfloat16", 48, 65, 65, True, 0.0),
])
def test_flash_attention_matches_reference(on_host, dtype_name, head_dim, q_len, k_len,
                                           causal, p):
    rng = np.random.default_rng(head_dim + q_len)
    dtype = BF16 if dtype_name == "bfloat16" else np.dtype(np.float16)
    batch, heads = 2, 2
    q, _, _ = _packed_heads(rng, dtype, q_len, batch, heads, head_dim)
    _, k, v = _packed_heads(rng, dtype, k_len, batch, heads, head_dim)
    grad = rng.standard_normal((q_len, batch, heads, head_dim)).astype(dtype).transpose(1, 2, 0, 3)
    scale = 1 / np.sqrt(head_dim)
    shape = (batch, heads, q_len, k_len)
    noise, keep = None, np.ones(shape)
    if p:
        seed = int(rng.integers(0, 1 << 63))
        words = np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)
        threshold = np.uint32(round(p * (1 << 32)))
        noise = HashedNoise(shape, dtype, threshold, np.float32(1 / (1 - p)), words)
        index = np.arange(np.prod(shape), dtype=np.uint64).reshape(shape)
        keep = (_draws(seed, index) >= threshold) / (1 - p)

    out = np.zeros((batch, heads, q_len, head_dim), dtype)
    lse = cuda_flash.forward(q, k, v, out, scale, causal, noise)
    dq, dk, dv = (np.full(a.shape, np.nan, dtype) for a in (q, k, v))
    cuda_flash.backward(q, k, v, out, grad, lse, dq, dk, dv, scale, causal, noise)

    want = _reference(q, k, v, grad, scale, causal, keep)
    for name, got, expected in zip(("out", "dq", "dk", "dv"), (out, dq, dk, dv), want):
        got = got.astype(np.float64)
        tolerance = (3e-2 if dtype_name == "bfloat16" else 4e-3) * np.abs(expected).max()
        assert np.abs(got - expected).max() <= tolerance, name
    logits = q.astype(np.float64) @ k.astype(np.float64).swapaxes(-1, -2) * scale
    if causal:
        logits = np.where(np.tril(np.ones((q_len, k_len), bool)), logits, -np.inf)
    top = logits.max(-1)
    lse_want = (top + np.log(np.exp(logits - top[..., None]).sum(-1))) / np.log(2)
    np.testing.assert_allclose(lse.reshape(lse_want.shape), lse_want, rtol=1e-3, atol=1e-3)


def test_flash_attention_without_keys_gives_zeros(on_host):
    q = np.ones((1, 1, 3, 16), BF16)
    k = v = np.ones((1, 1, 0, 16), BF16)
    out = np.full((1, 1, 3, 16), np.nan, BF16)
    lse = cuda_flash.forward(q, k, v, out, 0.25, False)
    assert (out.astype(np.float32) == 0).all() and np.isinf(lse).all()
    grads = [np.full(a.shape, np.nan, BF16) for a in (q, k, v)]
    cuda_flash.backward(q, k, v, out, out, lse, *grads, 0.25, False)
    assert all((g.astype(np.float32) == 0).all() for g in grads)


def test_flash_attention_of_an_empty_batch(on_host):
    q = k = v = out = np.ones((0, 2, 5, 16), BF16)
    lse = cuda_flash.forward(q, k, v, out, 0.25, False)
    assert lse.shape == (0, 5)
    cuda_flash.backward(q, k, v, out, out, lse, q.copy(), k.copy(), v.copy(), 0.25, False)


def test_source_compiles_for_the_gpu_with_nvcc(tmp_path):
    """The CUDA build (real instructions) compiles without register spills at head dim 64."""
    if shutil.which("nvcc") is None:
        pytest.skip("needs nvcc")
    for dtype_name in ("bfloat16", "float16"):
        src = tmp_path / f"{dtype_name}.cu"
        src.write_text(cuda_flash.source(dtype_name, 64))
        done = subprocess.run(["nvcc", "-arch=sm_90", "-cubin", "-Xptxas", "-v", "-o",
                               str(tmp_path / f"{dtype_name}.cubin"), str(src)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "spill stores" in done.stderr and " 0 bytes spill stores" in done.stderr
        assert all(f"ember_flash_{name}" in done.stderr for name in cuda_flash.KERNEL_NAMES)


@pytest.fixture
def flash_on_host(monkeypatch, host_build):
    """ember's attention ops taking their CUDA branch on CPU tensors, run by the host build
    (NumPy in CuPy's place)."""
    from ember.ops import attention
    monkeypatch.setattr(cuda_flash, "_kernels", host_build)
    monkeypatch.setattr(cuda, "cupy", lambda: np)
    monkeypatch.setattr(attention, "_on_flash_kernels", lambda xp, *arrays: True)
    monkeypatch.setattr(attention, "_flash_inputs", lambda q, k, v: (q, k, v))
    return attention


def _grads_of(fn, *inputs):
    leaves = [t.detach().requires_grad_() for t in inputs]
    out = fn(*leaves)
    out.backward(ember.ones_like(out))
    return [out.detach()] + [t.grad for t in leaves]


def test_packed_self_attention_runs_the_fused_kernels(flash_on_host):
    """MultiheadAttention's packed core through the fused kernels against its composed
    float64 form: the heads' strides, the output's layout and the packed gradient."""
    rng = np.random.default_rng(0)
    qkv = ember.tensor(rng.standard_normal((33, 2, 3 * 64)).astype(BF16))
    got = _grads_of(lambda t: flash_on_host.packed_self_attention(t, 2), qkv)
    assert got[0].dtype == ember.bfloat16 and got[1].dtype == ember.bfloat16
    want = _grads_of(lambda t: flash_on_host._composed_self_attention(t, None, 2, 1 / 32 ** 0.5,
                                                                      None), qkv.double())
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.double().numpy(), w.numpy(), atol=3e-2 * w.abs().max().item())


def test_sdpa_runs_the_fused_kernels(flash_on_host):
    """scaled_dot_product_attention (causal) through the fused kernels: output in the query's
    memory layout, and the gradients of all three inputs."""
    rng = np.random.default_rng(1)
    q, k, v = (ember.tensor(rng.standard_normal((2, 40, 3, 32)).astype(BF16)).transpose(1, 2)
               for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.transpose(1, 2).is_contiguous()

    def sdpa(a, b, c):
        out = F.scaled_dot_product_attention(a, b, c, is_causal=True)
        assert type(out.grad_fn).__name__ == "ScaledDotProductFlashAttentionBackward0"
        return out
    got = _grads_of(sdpa, q, k, v)
    want = _grads_of(lambda a, b, c: flash_on_host._composed_attention(a, b, c, 32 ** -0.5, True),
                     q.double(), k.double(), v.double())
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.double().numpy(), w.numpy(), atol=3e-2 * w.abs().max().item())
