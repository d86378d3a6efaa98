"""Fused attention for CUDA (FlashAttention's algorithm): softmax(Q K^T * scale) V without the
(L, S) scores in device memory, as CuPy ``RawKernel``s on the tensor cores.

The materialised path writes the scores, reads them back for the softmax, writes the weights,
applies dropout, and the backward makes the same passes again: at L = S = 512 with 16 heads
and batch 32, each pass is 270 MB in bfloat16. Here a thread block holds a tile of queries
(forward) or keys (backward) and walks the other side in tiles, keeping the scores in
registers: the forward keeps a running maximum and sum per row (the online softmax) and
stores each row's log-sum-exp; the backward recomputes the probabilities from it.

Each warp multiplies 16-row slices with ``mma.sync`` (m16n8k16, bfloat16 or float16 in,
float32 accumulate). The accumulator's layout is PTX's: lane ``4 g + t`` holds rows ``g`` and
``g + 8``, columns ``2 t`` and ``2 t + 1`` of each 8-column tile, which is also the layout of
an A operand, so probabilities go from one product into the next without shared memory.
Operands whose rows run along the product's k dimension load through ``ldmatrix.trans``.
Tiles come into shared memory by ``cp.async``, the next one while the current one is used.
The backward accumulates dq in float32 with atomic adds (each key tile adds its part).

Dropout draws the keep mask of element (b, h, i, j) from the hash that ``cuda_rows.dropout``
uses, at the C-order index of (B, H, L, S): the same seed gives the same mask as the
materialised noise, and the backward draws it again.

The kernels' C is apart from the few device instructions they use (``_DEVICE``), so that a
test can compile them for the host with those instructions emulated.
"""
from __future__ import annotations

import functools

import ml_dtypes
import numpy as np

from ember.backend import cuda
from ember.backend.cuda_rows import DRAW, HALF_CONVERSIONS, type_prelude

TILE = 64  # queries per forward block and keys per backward block; the step along the other side
THREADS = 128  # four warps, each owning 16 rows of the block's tile
_MMA_TYPES = {"bfloat16": "bf16", "float16": "f16"}
_HALF_DTYPES = frozenset(np.dtype(getattr(ml_dtypes, name, name)) for name in _MMA_TYPES)

# The instructions the kernels take from the device: tensor-core products, a transposing
# shared-memory load, asynchronous copies to shared memory, warp shuffles, packed conversions,
# the fast exp2 and the dynamic shared memory.
_DEVICE = r"""
#define MMA_TYPE "{mma_type}"
__device__ __forceinline__ void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1) {{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." MMA_TYPE "." MMA_TYPE ".f32 "
                 "{{%0, %1, %2, %3}}, {{%4, %5, %6, %7}}, {{%8, %9}}, {{%0, %1, %2, %3}};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}}
__device__ __forceinline__ unsigned shared_address(const void* p) {{
    unsigned address;
    asm("{{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }}"
        : "=r"(address) : "l"(p));
    return address;
}}
// Four 8x8 matrices, transposed: lanes 8i..8i+7 give the rows of matrix i, and each lane
// gets, of matrix i, rows 2 (lane % 4) and 2 (lane % 4) + 1 at column lane / 4.
__device__ __forceinline__ void ldsm_x4_trans(unsigned* r, const in_t* row) {{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {{%0, %1, %2, %3}}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(row)));
}}
// 16 bytes from global to shared memory, in the background (zeros where !valid).
__device__ __forceinline__ void copy16(in_t* dst, const in_t* src, bool valid) {{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(shared_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}}
__device__ __forceinline__ void copies_commit() {{ asm volatile("cp.async.commit_group;\n" ::); }}
// Wait for this thread's committed copies: all, or all but the last group.
__device__ __forceinline__ void copies_wait_all() {{ asm volatile("cp.async.wait_group 0;\n" ::); }}
__device__ __forceinline__ void copies_wait_prior() {{
    asm volatile("cp.async.wait_group 1;\n" ::);
}}
__device__ __forceinline__ float shfl_xor(float v, int mask) {{
    return __shfl_xor_sync(0xffffffffu, v, mask);
}}
// Two floats rounded to the storage type, lo in the low half.
__device__ __forceinline__ unsigned pack2(float lo, float hi) {{
    unsigned r;
    asm("cvt.rn." MMA_TYPE "x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}}
__device__ __forceinline__ float exp2_(float x) {{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}}
extern __shared__ __align__(16) unsigned char ember_smem_[];
__device__ __forceinline__ unsigned char* dynamic_smem() {{ return ember_smem_; }}
"""

_KERNELS = r"""
#define PITCH (HEAD_DIM + 8)  // a (64, HEAD_DIM) tile's row pitch in shared memory
#define DS_PITCH (TILE + 8)   // the (64, 64) d-scores tile's
#define THREADS 128
__device__ __forceinline__ float pos_inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }
__device__ __forceinline__ unsigned lds32(const in_t* p) { return *(const unsigned*)p; }
__device__ __forceinline__ void zero(float (*acc)[4], int tiles) {
    for (int n = 0; n < tiles; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
}

// Start copying rows [row0, row0 + 64) of a (rows, HEAD_DIM) matrix with row stride `stride`
// into `tile` (zeros past the last row); copies_commit() closes the group.
__device__ void fetch_tile(in_t* tile, const in_t* src, long long stride, int row0, int rows) {
    const int pieces = HEAD_DIM / 8;  // 16 bytes each
#pragma unroll
    for (int i = threadIdx.x; i < TILE * pieces; i += THREADS) {
        const int r = i / pieces, c = (i - r * pieces) * 8;
        const bool valid = row0 + r < rows;
        copy16(tile + r * PITCH + c, src + (long long)(valid ? row0 + r : 0) * stride + c, valid);
    }
}

// A operands of a warp's 16 rows of a tile, for each 16-wide slice of HEAD_DIM.
__device__ __forceinline__ void load_rows(unsigned (*frag)[4], const in_t* rows, int g, int t) {
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
        const in_t* p = rows + g * PITCH + kk * 16 + 2 * t;
        frag[kk][0] = lds32(p);
        frag[kk][1] = lds32(p + 8 * PITCH);
        frag[kk][2] = lds32(p + 8);
        frag[kk][3] = lds32(p + 8 * PITCH + 8);
    }
}

// acc (16 x 64) = a warp's 16 rows (A operands) times the 64 rows of `tile`, transposed.
__device__ __forceinline__ void mma_rows_t(float (*acc)[4], const unsigned (*a)[4],
                                           const in_t* tile, int g, int t) {
    zero(acc, TILE / 8);
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; ++kk)
#pragma unroll
        for (int n = 0; n < TILE / 8; ++n) {
            const in_t* p = tile + (n * 8 + g) * PITCH + kk * 16 + 2 * t;
            mma16816(acc[n], a[kk], lds32(p), lds32(p + 8));
        }
}

// acc (16 x HEAD_DIM) += a (16 x 16, registers) times rows [k0, k0 + 16) of a tile.
__device__ __forceinline__ void mma_rows(float (*acc)[4], const unsigned* a, const in_t* tile,
                                         int k0, int lane) {
#pragma unroll
    for (int n = 0; n < HEAD_DIM / 16; ++n) {
        unsigned b[4];
        ldsm_x4_trans(b, tile + (k0 + (lane & 15)) * PITCH + n * 16 + (lane >> 4) * 8);
        mma16816(acc[2 * n], a, b[0], b[1]);
        mma16816(acc[2 * n + 1], a, b[2], b[3]);
    }
}

// The A operand of columns [16 kk, 16 kk + 16) of a 16 x 64 accumulator.
__device__ __forceinline__ void as_operand(unsigned* a, const float (*acc)[4], int kk) {
    a[0] = pack2(acc[2 * kk][0], acc[2 * kk][1]);
    a[1] = pack2(acc[2 * kk][2], acc[2 * kk][3]);
    a[2] = pack2(acc[2 * kk + 1][0], acc[2 * kk + 1][1]);
    a[3] = pack2(acc[2 * kk + 1][2], acc[2 * kk + 1][3]);
}

__device__ __forceinline__ unsigned long long seed_of(const unsigned int* words) {
    return ((unsigned long long)words[0] << 32) | words[1];
}

// out = softmax(q k^T * scale) v per (batch, head), rows of q in tiles of 64 per block
// (blockIdx.x), (batch, head) = blockIdx.y; lse (batch * heads, q_len) gets each row's
// log2-sum-exp2 of the scores times scale_log2 (scale * log2(e)). Strides are in elements;
// the last dimension is contiguous. Dropout when threshold > 0: element (i, j) is kept with
// keep_scale where draw(seed, ((b * heads + h) * q_len + i) * k_len + j) >= threshold.
// The next key tile is copied in while this one is used (two buffers each for k and v).
extern "C" __global__ void __launch_bounds__(THREADS) ember_flash_forward(
        const in_t* q, const in_t* k, const in_t* v, in_t* out, float* lse,
        int heads, int q_len, int k_len,
        long long q_batch, long long q_head, long long q_row,
        long long k_batch, long long k_head, long long k_row,
        long long v_batch, long long v_head, long long v_row,
        long long o_batch, long long o_head, long long o_row,
        float scale_log2, int causal, const unsigned int* seed_words, unsigned int threshold,
        float keep_scale) {
    in_t* sQ = (in_t*)dynamic_smem();
    in_t* sK = sQ + TILE * PITCH;      // two tiles
    in_t* sV = sK + 2 * TILE * PITCH;  // two tiles
    const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads, q0 = blockIdx.x * TILE;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    q += b * q_batch + h * q_head;
    k += b * k_batch + h * k_head;
    v += b * v_batch + h * v_head;
    out += b * o_batch + h * o_head;
    const unsigned long long seed = threshold ? seed_of(seed_words) : 0ull;
    const int rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    const int k_end = causal && q0 + TILE < k_len ? q0 + TILE : k_len;
    const int tiles = (k_end + TILE - 1) / TILE;

    fetch_tile(sQ, q, q_row, q0, q_len);
    copies_commit();
    fetch_tile(sK, k, k_row, 0, k_len);
    fetch_tile(sV, v, v_row, 0, k_len);
    copies_commit();
    copies_wait_prior();
    __syncthreads();
    unsigned qf[HEAD_DIM / 16][4];
    load_rows(qf, sQ + warp * 16 * PITCH, g, t);
    float o[HEAD_DIM / 8][4];
    zero(o, HEAD_DIM / 8);
    float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.f, 0.f};

    for (int i = 0; i < tiles; ++i) {
        const int k0 = i * TILE;
        const in_t* kt = sK + (i & 1) * TILE * PITCH;
        const in_t* vt = sV + (i & 1) * TILE * PITCH;
        if (i + 1 < tiles) {
            fetch_tile(sK + ((i + 1) & 1) * TILE * PITCH, k, k_row, k0 + TILE, k_len);
            fetch_tile(sV + ((i + 1) & 1) * TILE * PITCH, v, v_row, k0 + TILE, k_len);
            copies_commit();
            copies_wait_prior();
        } else {
            copies_wait_all();
        }
        __syncthreads();
        float s[TILE / 8][4];
        mma_rows_t(s, qf, kt, g, t);
        float top[2] = {neg_inf(), neg_inf()};
#pragma unroll
        for (int n = 0; n < TILE / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int col = k0 + n * 8 + 2 * t + (e & 1);
                float x = s[n][e] * scale_log2;
                if (col >= k_len || (causal && col > rows[e >> 1])) x = neg_inf();
                s[n][e] = x;
                top[e >> 1] = fmaxf(top[e >> 1], x);
            }
        float ref[2], sum[2] = {0.f, 0.f};
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            top[r] = fmaxf(top[r], shfl_xor(top[r], 1));
            top[r] = fmaxf(top[r], shfl_xor(top[r], 2));
            const float m_new = fmaxf(m[r], top[r]);
            ref[r] = m_new == neg_inf() ? 0.f : m_new;  // every score so far masked
            const float alpha = exp2_(m[r] - ref[r]);
            m[r] = m_new;
            l[r] *= alpha;
#pragma unroll
            for (int n = 0; n < HEAD_DIM / 8; ++n) {
                o[n][2 * r] *= alpha;
                o[n][2 * r + 1] *= alpha;
            }
        }
#pragma unroll
        for (int n = 0; n < TILE / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float p = exp2_(s[n][e] - ref[e >> 1]);
                sum[e >> 1] += p;
                s[n][e] = p;
                if (threshold) {
                    const unsigned long long index =
                        ((unsigned long long)bh * q_len + rows[e >> 1]) * k_len
                        + (k0 + n * 8 + 2 * t + (e & 1));
                    s[n][e] = draw(seed, index) >= threshold ? p * keep_scale : 0.f;
                }
            }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            sum[r] += shfl_xor(sum[r], 1);
            sum[r] += shfl_xor(sum[r], 2);
            l[r] += sum[r];
        }
#pragma unroll
        for (int kk = 0; kk < TILE / 16; ++kk) {
            unsigned a[4];
            as_operand(a, s, kk);
            mma_rows(o, a, vt, kk * 16, lane);
        }
        __syncthreads();  // this tile's buffers are free for the one after next
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        if (rows[r] >= q_len) continue;
        const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;  // a row with every key masked: zeros
        in_t* dst = out + rows[r] * o_row + 2 * t;
#pragma unroll
        for (int n = 0; n < HEAD_DIM / 8; ++n)
            *(unsigned*)(dst + n * 8) = pack2(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
        if (t == 0)
            lse[(long long)bh * q_len + rows[r]] = l[r] > 0.f ? m[r] + log2f(l[r]) : pos_inf();
    }
}

// delta (batch * heads, q_len) = rowsum(dout * out) in float32, a warp per row.
extern "C" __global__ void ember_flash_delta(
        const in_t* out, const in_t* dout, float* delta, int heads, int q_len, long long total,
        long long o_batch, long long o_head, long long o_row,
        long long d_batch, long long d_head, long long d_row) {
    const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= total) return;
    const int lane = threadIdx.x & 31;
    const long long bh = row / q_len, i = row - bh * q_len, b = bh / heads, h = bh - b * heads;
    out += b * o_batch + h * o_head + i * o_row;
    dout += b * d_batch + h * d_head + i * d_row;
    float sum = 0.f;
    for (int d = lane; d < HEAD_DIM; d += 32) sum += load(out[d]) * load(dout[d]);
    for (int offset = 16; offset > 0; offset >>= 1) sum += shfl_xor(sum, offset);
    if (lane == 0) delta[row] = sum;
}

// The gradients of ember_flash_forward, keys in tiles of 64 per block (blockIdx.x), queries
// walked in tiles of 64 (the next tile's q and dout copied in while this one is used): dk,
// dv written (strided, like k and v); dq accumulated in float32 (batch * heads, q_len,
// HEAD_DIM), which the caller zeroes and casts.
extern "C" __global__ void __launch_bounds__(THREADS) ember_flash_backward(
        const in_t* q, const in_t* k, const in_t* v, const in_t* dout, const float* lse,
        const float* delta, float* dq, in_t* dk, in_t* dv,
        int heads, int q_len, int k_len,
        long long q_batch, long long q_head, long long q_row,
        long long k_batch, long long k_head, long long k_row,
        long long v_batch, long long v_head, long long v_row,
        long long d_batch, long long d_head, long long d_row,
        long long dk_batch, long long dk_head, long long dk_row,
        long long dv_batch, long long dv_head, long long dv_row,
        float scale, float scale_log2, int causal, const unsigned int* seed_words,
        unsigned int threshold, float keep_scale) {
    in_t* sK = (in_t*)dynamic_smem();
    in_t* sV = sK + TILE * PITCH;
    in_t* sQ = sV + TILE * PITCH;      // two tiles
    in_t* sO = sQ + 2 * TILE * PITCH;  // dout, two tiles
    in_t* sS = sO + 2 * TILE * PITCH;  // d scores, (query, key)
    float* sL = (float*)(sS + TILE * DS_PITCH);
    float* sD = sL + TILE;
    const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads, k0 = blockIdx.x * TILE;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    q += b * q_batch + h * q_head;
    k += b * k_batch + h * k_head;
    v += b * v_batch + h * v_head;
    dout += b * d_batch + h * d_head;
    dk += b * dk_batch + h * dk_head;
    dv += b * dv_batch + h * dv_head;
    const unsigned long long seed = threshold ? seed_of(seed_words) : 0ull;
    const int keys[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};
    // Causal: queries before this tile's first key see none of its keys.
    const int first = causal ? k0 : 0;

    fetch_tile(sK, k, k_row, k0, k_len);
    fetch_tile(sV, v, v_row, k0, k_len);
    copies_commit();
    if (first < q_len) {
        fetch_tile(sQ, q, q_row, first, q_len);
        fetch_tile(sO, dout, d_row, first, q_len);
    }
    copies_commit();
    copies_wait_prior();
    __syncthreads();
    unsigned kf[HEAD_DIM / 16][4], vf[HEAD_DIM / 16][4];
    load_rows(kf, sK + warp * 16 * PITCH, g, t);
    load_rows(vf, sV + warp * 16 * PITCH, g, t);
    float dk_acc[HEAD_DIM / 8][4], dv_acc[HEAD_DIM / 8][4];
    zero(dk_acc, HEAD_DIM / 8);
    zero(dv_acc, HEAD_DIM / 8);

    for (int i = 0, q0 = first; q0 < q_len; ++i, q0 += TILE) {
        const in_t* qt = sQ + (i & 1) * TILE * PITCH;
        const in_t* ot = sO + (i & 1) * TILE * PITCH;
        if (q0 + TILE < q_len) {
            fetch_tile(sQ + ((i + 1) & 1) * TILE * PITCH, q, q_row, q0 + TILE, q_len);
            fetch_tile(sO + ((i + 1) & 1) * TILE * PITCH, dout, d_row, q0 + TILE, q_len);
            copies_commit();
            copies_wait_prior();
        } else {
            copies_wait_all();
        }
        for (int j = threadIdx.x; j < TILE; j += THREADS) {
            const bool in = q0 + j < q_len;
            sL[j] = in ? lse[(long long)bh * q_len + q0 + j] : pos_inf();
            sD[j] = in ? delta[(long long)bh * q_len + q0 + j] : 0.f;
        }
        __syncthreads();
        // This warp's 16 keys against the tile's 64 queries: scores^T and d weights^T.
        float st[TILE / 8][4], dpt[TILE / 8][4];
        mma_rows_t(st, kf, qt, g, t);
        mma_rows_t(dpt, vf, ot, g, t);
        // st -> dropped probabilities (for dv), dpt -> d scores times scale (for dk, dq).
#pragma unroll
        for (int n = 0; n < TILE / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int col = n * 8 + 2 * t + (e & 1), query = q0 + col, key = keys[e >> 1];
                float p = exp2_(st[n][e] * scale_log2 - sL[col]);
                if (key >= k_len || (causal && key > query)) p = 0.f;
                float z = 1.f;
                if (threshold)
                    z = draw(seed, ((unsigned long long)bh * q_len + query) * k_len + key)
                        >= threshold ? keep_scale : 0.f;
                st[n][e] = p * z;
                dpt[n][e] = p * (dpt[n][e] * z - sD[col]) * scale;
            }
#pragma unroll
        for (int kk = 0; kk < TILE / 16; ++kk) {
            unsigned a[4];
            as_operand(a, st, kk);
            mma_rows(dv_acc, a, ot, kk * 16, lane);
            as_operand(a, dpt, kk);
            mma_rows(dk_acc, a, qt, kk * 16, lane);
        }
#pragma unroll
        for (int n = 0; n < TILE / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; e += 2) {  // (query, key) and (query + 1, key)
                in_t* dst = sS + (n * 8 + 2 * t) * DS_PITCH + warp * 16 + g + (e >> 1) * 8;
                const unsigned both = pack2(dpt[n][e], dpt[n][e + 1]);
                dst[0] = (in_t)(both & 0xffffu);
                dst[DS_PITCH] = (in_t)(both >> 16);
            }
        __syncthreads();
        // dq for this warp's 16 queries of the tile: d scores (16 x 64 keys) times k.
        float dq_acc[HEAD_DIM / 8][4];
        zero(dq_acc, HEAD_DIM / 8);
#pragma unroll
        for (int kk = 0; kk < TILE / 16; ++kk) {
            const in_t* p = sS + (warp * 16 + g) * DS_PITCH + kk * 16 + 2 * t;
            const unsigned a[4] = {lds32(p), lds32(p + 8 * DS_PITCH), lds32(p + 8),
                                   lds32(p + 8 * DS_PITCH + 8)};
            mma_rows(dq_acc, a, sK, kk * 16, lane);
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int query = q0 + warp * 16 + g + 8 * r;
            if (query >= q_len) continue;
            float* dst = dq + ((long long)bh * q_len + query) * HEAD_DIM + 2 * t;
#pragma unroll
            for (int n = 0; n < HEAD_DIM / 8; ++n) {
                atomicAdd(dst + n * 8, dq_acc[n][2 * r]);
                atomicAdd(dst + n * 8 + 1, dq_acc[n][2 * r + 1]);
            }
        }
        __syncthreads();  // this tile's buffers, d scores, lse and delta are free
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        if (keys[r] >= k_len) continue;
        in_t* pk = dk + keys[r] * dk_row + 2 * t;
        in_t* pv = dv + keys[r] * dv_row + 2 * t;
#pragma unroll
        for (int n = 0; n < HEAD_DIM / 8; ++n) {
            *(unsigned*)(pk + n * 8) = pack2(dk_acc[n][2 * r], dk_acc[n][2 * r + 1]);
            *(unsigned*)(pv + n * 8) = pack2(dv_acc[n][2 * r], dv_acc[n][2 * r + 1]);
        }
    }
}
"""

KERNEL_NAMES = ("forward", "delta", "backward")


def _prelude(dtype_name: str) -> str:
    load, store = HALF_CONVERSIONS[dtype_name]
    return type_prelude("unsigned short", "float", load, store)


def _body(head_dim: int) -> str:
    return f"#define HEAD_DIM {head_dim}\n#define TILE {TILE}\n" + DRAW + _KERNELS


def source(dtype_name: str, head_dim: int, instructions: str | None = None) -> str:
    """The C of the kernels ``ember_flash_<name>`` (``KERNEL_NAMES``) for storage dtype
    ``dtype_name`` (bfloat16 or float16) and ``head_dim``. ``instructions`` defines
    ``mma16816``, ``ldsm_x4_trans``, ``shfl_xor`` and ``dynamic_smem``: by default the CUDA
    ones; a host build of the kernels passes emulations."""
    if instructions is None:
        instructions = _DEVICE.format(mma_type=_MMA_TYPES[dtype_name])
    return _prelude(dtype_name) + instructions + _body(head_dim)


def shared_bytes(name: str, head_dim: int) -> int:
    """Dynamic shared memory of a kernel's block."""
    tile = TILE * (head_dim + 8) * 2
    if name == "forward":  # q; k and v, two each
        return 5 * tile
    if name == "backward":  # k, v; q and dout, two each; d scores; lse and delta
        return 6 * tile + TILE * (TILE + 8) * 2 + 2 * TILE * 4
    return 0


@functools.lru_cache(maxsize=None)
def _kernels(dtype, head_dim: int):
    cp = cuda.cupy()
    code = source(dtype.name, head_dim)
    kernels = {}
    for name in KERNEL_NAMES:
        kernel = cp.RawKernel(code, f"ember_flash_{name}")
        if shared_bytes(name, head_dim) > 48 * 1024:  # beyond the default, by opting in
            kernel.max_dynamic_shared_size_bytes = shared_bytes(name, head_dim)
        kernels[name] = kernel
    return kernels


def supports(*arrays) -> bool:
    """Whether the kernels take these (B, H, L, D) arrays: bfloat16 or float16 on a GPU with
    bfloat16 tensor cores (compute capability 8.0+), one head dim D that is a multiple of 16
    up to 128, the last dimension contiguous, the other strides and the data 16-byte aligned
    (the kernels copy rows in 16-byte pieces)."""
    first = arrays[0]
    if first.dtype not in _HALF_DTYPES or first.ndim != 4:
        return False
    head_dim = first.shape[-1]
    if head_dim % 16 or not 16 <= head_dim <= 128:
        return False
    for a in arrays:
        if a.dtype != first.dtype or a.ndim != 4 or a.shape[-1] != head_dim:
            return False
        if a.strides[-1] != a.itemsize or a.data.ptr % 16:
            return False
        if any(s % 16 for s in a.strides[:-1]):
            return False
    return _tensor_cores(first.device.id)


@functools.lru_cache(maxsize=None)
def _tensor_cores(device_id: int) -> bool:
    """Whether the GPU has bfloat16 tensor cores (compute capability 8.0+)."""
    return int(cuda.cupy().cuda.Device(device_id).compute_capability) >= 80


def _strides(a) -> list:
    """(batch, head, row) strides in elements, as the kernels take them."""
    return [np.int64(s // a.itemsize) for s in a.strides[:3]]


def _dropout_args(noise, unused):
    """The kernels' (seed_words, threshold, keep_scale) for a ``HashedNoise``, or for None
    a threshold of 0 (keep all) and any device array (``unused``) for the unread seed."""
    if noise is None:
        return [unused, np.uint32(0), np.float32(1.0)]
    return [noise.seed, np.uint32(noise.threshold), np.float32(noise.scale)]


def forward(q, k, v, out, scale: float, causal: bool, noise=None):
    """Write softmax(q k^T * scale) v into ``out`` (all (B, H, L or S, D), see ``supports``)
    and return the rows' log2-sum-exp2 (B * H, L) float32 for :func:`backward`; ``noise``: a
    ``HashedNoise`` of shape (B, H, L, S) for dropout on the weights, or None."""
    cp = cuda.cupy()
    batch, heads, q_len, head_dim = q.shape
    k_len = k.shape[2]
    lse = cp.empty((batch * heads, q_len), np.float32)
    if lse.size == 0:
        return lse
    if k_len == 0:
        out[...] = 0
        lse[...] = np.inf
        return lse
    grid = ((q_len + TILE - 1) // TILE, batch * heads)
    args = [q, k, v, out, lse, np.int32(heads), np.int32(q_len), np.int32(k_len),
            *_strides(q), *_strides(k), *_strides(v), *_strides(out),
            np.float32(scale * np.log2(np.e)), np.int32(causal), *_dropout_args(noise, lse)]
    _kernels(q.dtype, head_dim)["forward"](
        grid, (THREADS,), tuple(args), shared_mem=shared_bytes("forward", head_dim))
    return lse


def backward(q, k, v, out, grad, lse, dq, dk, dv, scale: float, causal: bool, noise=None):
    """Write the gradients of :func:`forward`'s output (``grad``, like ``out``) with respect
    to q, k and v into ``dq``, ``dk`` and ``dv`` (each shaped and strided like the input)."""
    cp = cuda.cupy()
    batch, heads, q_len, head_dim = q.shape
    k_len = k.shape[2]
    if q_len == 0 or k_len == 0 or batch * heads == 0:
        dq[...] = 0
        dk[...] = 0
        dv[...] = 0
        return
    kernels = _kernels(q.dtype, head_dim)
    rows = batch * heads * q_len
    delta = cp.empty((batch * heads, q_len), np.float32)
    warps = THREADS // 32
    kernels["delta"](((rows + warps - 1) // warps,), (THREADS,),
                     (out, grad, delta, np.int32(heads), np.int32(q_len), np.int64(rows),
                      *_strides(out), *_strides(grad)))
    dq_sum = cp.zeros((batch * heads, q_len, head_dim), np.float32)
    grid = ((k_len + TILE - 1) // TILE, batch * heads)
    args = [q, k, v, grad, lse, delta, dq_sum, dk, dv,
            np.int32(heads), np.int32(q_len), np.int32(k_len),
            *_strides(q), *_strides(k), *_strides(v), *_strides(grad), *_strides(dk),
            *_strides(dv), np.float32(scale), np.float32(scale * np.log2(np.e)),
            np.int32(causal), *_dropout_args(noise, lse)]
    kernels["backward"](grid, (THREADS,), tuple(args),
                        shared_mem=shared_bytes("backward", head_dim))
    dq[...] = dq_sum.reshape(q.shape)
