"""PyTorch's CPU random streams: ``manual_seed(s)`` then ``rand``/``randn``/``randint``/
``randperm``/``bernoulli_``/... give the numbers PyTorch's CPU generator gives.

NOTE [ The CPU generator ]
PyTorch's CPU generator is the 32-bit Mersenne Twister seeded with Matsumoto and Nishimura's
``init_genrand`` (the low 32 bits of the seed), which NumPy's ``MT19937`` runs in C: its
``integers(0, 2**32, dtype=uint32)`` yields the engine's words in order. Each distribution
below turns words into values as ATen's CPU kernels do, element by element in C order:

- a float, half or bfloat16 uniform takes one word and keeps its low 24 bits (a float, rounded
  to the dtype), a double takes two words ``(first << 32 | second)`` and keeps 53;
- ``normal_`` of 16 or more contiguous elements draws them all uniform, then turns each block
  of 16 into normals by Box-Muller (``u[j]`` the radius, ``u[j + 8]`` the angle), redrawing the
  last 16 when the count is not a multiple of 16; fewer elements are drawn one by one in double
  precision, each Box-Muller pair leaving its sine half cached for the next draw;
- integer draws are a word (two words where the range reaches 2^28) modulo the range;
- ``randperm`` is Fisher-Yates with ``word % (n - i)`` (inside-out on 64-bit draws from
  214,748,364 elements); ``multinomial`` divides by exponential draws (without replacement)
  or searches the normalised cumulative sums with double uniforms.

Where PyTorch calls Intel's MKL instead (``bernoulli_`` with a scalar ``p`` on Intel CPUs) its
numbers come from MKL's own generator; ember gives those of PyTorch's portable kernel, which
PyTorch runs on other CPUs. Gamma, Dirichlet, Poisson and binomial draws are rejection loops,
run element by element in ``host_variates`` on double uniforms and double normals (the latter
through the cached sine half, as ``normal_double``); their uniforms are drawn ahead in blocks
and the engine then rewound to just past the last one used (``_ReadAhead``), so the stream is
that of PyTorch's serial kernels.
"""
from __future__ import annotations

import itertools
import math
import operator
import struct
from collections.abc import Callable

import numpy as np
from ml_dtypes import bfloat16 as np_bfloat16

from ember.backend import host_shuffle, host_variates

MT_WORDS = 624
_HALF_WIDE = (np.dtype(np.float16), np.dtype(np_bfloat16))
_TWO_53 = 1 << 53
_INSIDE_OUT_FROM = (2 ** 32 - 1) // 20  # PyTorch's randperm draws 64 bits from here


def seeded_words(seed: int) -> np.ndarray:
    """The engine's 624 state words after ``init_genrand(seed mod 2^32)``."""
    words = np.empty(MT_WORDS, np.uint32)
    x = words[0] = seed & 0xFFFFFFFF
    for j in range(1, MT_WORDS):
        x = words[j] = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
    return words


class HostDraws:
    """A CPU generator's stream: the engine, the cached normal, and PyTorch's distributions."""

    def __init__(self, seed: int):
        self._engine = np.random.MT19937()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self._engine.state = {"bit_generator": "MT19937",
                              "state": {"key": seeded_words(seed), "pos": MT_WORDS}}
        self._next_normal: float | None = None  # a double Box-Muller draw's cached sine half
        self._next_float_normal: float | None = None  # kept only to round-trip a state

    # -- the engine ---------------------------------------------------------------------------

    def words(self, count: int) -> np.ndarray:
        """The engine's next ``count`` 32-bit words."""
        return self._engine.random_raw(count).astype(np.uint32)

    def words64(self, count: int) -> np.ndarray:
        """``count`` 64-bit draws, each two words: ``first << 32 | second``."""
        pairs = self.words(2 * count).astype(np.uint64).reshape(count, 2)
        return (pairs[:, 0] << np.uint64(32)) | pairs[:, 1]

    # -- continuous ---------------------------------------------------------------------------

    def unit(self, count: int, dtype) -> np.ndarray:
        """``count`` uniforms on [0, 1) as ``dtype`` draws them, in float32 (double for
        float64: the distributions' accumulate type)."""
        dtype = np.dtype(dtype)
        if dtype == np.float64:
            return (self.words64(count) & np.uint64(_TWO_53 - 1)) * (1.0 / _TWO_53)
        kept = self.words(count) & np.uint32((1 << 24) - 1)
        return kept.astype(np.float32) * np.float32(2.0 ** -24)

    def uniform(self, shape, dtype, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """``uniform_(low, high)``: ``u * (high - low) + low`` with the bounds in ``dtype``,
        multiplied and added with one rounding (a fused multiply-add, as PyTorch's build)."""
        dtype = np.dtype(dtype)
        x = self.unit(math.prod(shape), dtype)
        lo, hi = dtype.type(low), dtype.type(high)
        if (lo, hi) != (0, 1):
            span = float(hi - lo)  # rounded to dtype first, as C++ subtracts there
            if x.dtype == np.float64:
                x = _fused_multiply_add(x, span, float(lo))
            else:  # a float product is exact in double: one rounding to float after the add
                x = (x.astype(np.float64) * span + float(lo)).astype(np.float32)
        out = x.astype(dtype, copy=False).reshape(shape)
        if dtype in _HALF_WIDE:  # a draw rounded up to ``high`` becomes ``low``, as PyTorch's
            out[out == hi] = lo
        return out

    def normal(self, shape, dtype, mean: float = 0.0, std: float = 1.0,
               contiguous: bool = True) -> np.ndarray:
        """``normal_(mean, std)`` into a tensor of ``shape`` and ``dtype``."""
        dtype = np.dtype(dtype)
        count = math.prod(shape)
        if count >= 16 and contiguous:
            return self._normal_fill(count, dtype, mean, std).reshape(shape)
        return (self.normal_doubles(count) * std + mean).astype(dtype).reshape(shape)

    def _normal_fill(self, count: int, dtype, mean: float, std: float) -> np.ndarray:
        work = np.float64 if dtype == np.float64 else np.float32
        full = count - count % 16
        # half and bfloat16 draw whole blocks only before the last 16; float and double draw
        # every element first, the last partial block's draws being overwritten
        u = self.unit(full if dtype in _HALF_WIDE else count, dtype).astype(work, copy=False)
        if count % 16:
            tail = self.unit(16, dtype).astype(work, copy=False)
        out = np.empty(count, work)
        _box_muller_16(u[:full], out[:full], mean, std)
        if count % 16:
            _box_muller_16(tail, out[count - 16:], mean, std)
        return out.astype(dtype, copy=False)

    def normal_doubles(self, count: int) -> np.ndarray:
        """``count`` draws of ``normal_double``, the Box-Muller pairs computed together."""
        out = np.empty(count)
        start = 0
        if count and self._next_normal is not None:
            out[0], self._next_normal, start = self._next_normal, None, 1
        pairs = (count - start + 1) // 2
        u = self.unit(2 * pairs, np.float64)
        radius = np.sqrt(-2.0 * np.log1p(-u[1::2]))
        theta = 2.0 * math.pi * u[0::2]
        both = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1).reshape(-1)
        out[start:] = both[:count - start]
        if (count - start) % 2:  # the last pair's sine half waits for the next draw
            self._next_normal = float(both[-1])
        return out

    def normal_double(self, uniform: Callable[[], float] | None = None) -> float:
        """One standard normal in double precision (the serial kernel's Box-Muller pair), its
        uniforms from ``uniform()`` (by default this stream's next double uniforms)."""
        if self._next_normal is not None:
            value, self._next_normal = self._next_normal, None
            return value
        u1, u2 = self.unit(2, np.float64).tolist() if uniform is None else (uniform(), uniform())
        radius = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        self._next_normal = radius * math.sin(theta)
        return radius * math.cos(theta)

    def exponential(self, shape, dtype, lambd: float = 1.0) -> np.ndarray:
        u = self.unit(math.prod(shape), np.float64)
        return (-1.0 / lambd * np.log1p(-u)).astype(dtype).reshape(shape)

    def geometric(self, shape, dtype, p: float) -> np.ndarray:
        u = self.unit(math.prod(shape), np.float64)
        with np.errstate(divide="ignore"):
            return np.ceil(np.log(u) / math.log1p(-p)).astype(dtype).reshape(shape)

    def lognormal(self, shape, dtype, mean: float, std: float) -> np.ndarray:
        z = self.normal_doubles(math.prod(shape))
        return np.exp(z * std + mean).astype(dtype).reshape(shape)

    def cauchy(self, shape, dtype, median: float, sigma: float) -> np.ndarray:
        u = self.unit(math.prod(shape), np.float64)
        return (median + sigma * np.tan(math.pi * (u - 0.5))).astype(dtype).reshape(shape)

    # -- by rejection, element by element in C order (see host_variates) ---------------------

    def gamma(self, alpha: np.ndarray) -> np.ndarray:
        """``_standard_gamma``: Gamma(``alpha``, 1) draws in ``alpha``'s dtype (its steps in
        float for a float ``alpha``, as PyTorch's), kept from the dtype's smallest normal up."""
        out = self._gammas(alpha, alpha.dtype != np.float64).astype(alpha.dtype)
        return np.maximum(out, np.finfo(alpha.dtype).tiny)

    def dirichlet(self, alpha: np.ndarray) -> np.ndarray:
        """``_sample_dirichlet``: double gamma draws (from the smallest double up) divided by
        their sums over the last axis, rounded to ``alpha``'s dtype and kept in (0, 1)."""
        gammas = np.maximum(self._gammas(alpha, False), np.finfo(np.float64).tiny)
        shares = (gammas / gammas.sum(-1, keepdims=True)).astype(alpha.dtype)
        one = alpha.dtype.type(1)
        return np.clip(shares, np.finfo(alpha.dtype).tiny, np.nextafter(one, 0 * one))

    def _gammas(self, alpha: np.ndarray, single: bool) -> np.ndarray:
        values = alpha.astype(np.float64).ravel().tolist()
        with _ReadAhead(self, 3 * len(values)) as stream:
            uniform = stream.uniform
            normal = stream.normal
            drawn = [host_variates.gamma(a, single, uniform, normal) for a in values]
        return np.array(drawn, np.float64).reshape(alpha.shape)

    def poisson(self, rates: np.ndarray) -> np.ndarray:
        """``poisson``: draws of Poisson(``rates``) in ``rates``' dtype."""
        values = rates.astype(np.float64)
        if not (values >= 0).all():
            raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
        # a product of uniforms takes about rate + 1 of them, the rejection about 2.5
        expected = int(np.where(values < 10, values + 1, 2.5).sum())
        with _ReadAhead(self, expected) as stream:
            uniform = stream.uniform
            drawn = [host_variates.poisson(rate, uniform) for rate in values.ravel().tolist()]
        return np.array(drawn, np.float64).astype(rates.dtype).reshape(rates.shape)

    def binomial(self, count: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """``binomial``: draws of Binomial(``count``, ``prob``) (broadcast together) in
        ``prob``'s dtype (its steps in float for a float ``prob``, as PyTorch's)."""
        count, prob = np.broadcast_arrays(count.astype(prob.dtype), prob)
        single = prob.dtype != np.float64
        pairs = zip(count.astype(np.float64).ravel().tolist(),
                    prob.astype(np.float64).ravel().tolist())
        with _ReadAhead(self, 3 * prob.size) as stream:
            uniform = stream.uniform
            drawn = [host_variates.binomial(n, p, single, uniform) for n, p in pairs]
        return np.array(drawn, np.float64).astype(prob.dtype).reshape(prob.shape)

    # -- discrete -----------------------------------------------------------------------------

    def bernoulli(self, p, shape) -> np.ndarray:
        """True with probability ``p`` (a number, or an array that broadcasts to ``shape``):
        a double uniform per element for a number or float64 ``p``, else a float one."""
        count = math.prod(shape)
        if isinstance(p, np.ndarray) and p.dtype != np.float64:
            u = self.unit(count, np.float32).reshape(shape)
            return u < p.astype(np.float32, copy=False)
        return self.unit(count, np.float64).reshape(shape) < p

    def integers(self, low: int, high: int, shape, dtype, wide: bool | None = None
                 ) -> np.ndarray:
        """``random_(low, high)``: a word modulo the range, plus ``low``; two words where the
        range reaches 2^28 (keeping the modulo's skew small), or as ``wide`` says (``random_()``
        over a dtype's whole range takes two for int64 and double only)."""
        span = high - low
        dtype = np.dtype(dtype)
        count = math.prod(shape)
        if wide is None:
            wide = span >= 1 << 28
        if not wide:  # the common case: one word modulo the range (a whole word for 2^32)
            words = self.words(count)
            drawn = (words % np.uint32(span) if span < 1 << 32 else words).astype(np.int64) + low
            return drawn.astype(dtype, copy=False).reshape(shape)
        drawn = (self.words64(count) % np.uint64(span) + np.uint64(low % (1 << 64))).view(np.int64)
        return drawn.astype(dtype, copy=False).reshape(shape)

    def permutation(self, n: int) -> np.ndarray:
        """``randperm(n)``: Fisher-Yates, swapping position ``i`` with ``i + word % (n - i)``
        for ``i < n - 1``; from ``n = (2^32 - 1) // 20`` the inside-out shuffle on 64-bit
        draws, ``r[i] = r[z]`` then ``r[z] = i`` with ``z = draw % (i + 1)``, as ATen's
        ``randperm_cpu``. Both replayed as array passes (see ``host_shuffle``)."""
        if n <= 1:  # no swaps, no draws
            return np.arange(n, dtype=np.int64)
        if n < _INSIDE_OUT_FROM:
            steps = np.arange(n - 1, dtype=np.uint32)
            targets = np.empty(n, np.intp)
            targets[:-1] = self.words(n - 1) % (np.uint32(n) - steps) + steps
            targets[-1] = n - 1
            return host_shuffle.swap_forward(targets)
        picks = self.words64(n) % np.arange(1, n + 1, dtype=np.uint64)
        return host_shuffle.inside_out(picks.astype(np.intp))

    def multinomial(self, rows: np.ndarray, num_samples: int, replacement: bool) -> np.ndarray:
        """Category indices, ``num_samples`` per row of the 2-D non-negative ``rows``."""
        if not replacement or num_samples == 1:
            # argmax / top-k of p / q with q ~ Exp(1): the Gumbel trick, one draw per entry
            q = self.exponential(rows.shape, rows.dtype)
            with np.errstate(divide="ignore", invalid="ignore"):
                keys = rows / q
            return np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
        work = np.float32 if rows.dtype in _HALF_WIDE else rows.dtype
        out = np.empty((rows.shape[0], num_samples), np.int64)
        for r, row in enumerate(rows.astype(work, copy=False)):
            cumulative = np.add.accumulate(row)
            cumulative /= cumulative[-1]
            cumulative[-1] = 1
            u = self.unit(num_samples, np.float64)
            out[r] = np.searchsorted(cumulative.astype(np.float64), u, side="left")
        return out

    # -- state --------------------------------------------------------------------------------

    def state_bytes(self, seed: int) -> bytes:
        """PyTorch's 5056-byte ``CPUGeneratorImplState``: seed, ``left``, ``seeded``, ``next``,
        the 624 words (as uint64), the legacy normal fields and the float normal cache."""
        state = self._engine.state["state"]
        pos = int(state["pos"])
        following = 0 if pos == MT_WORDS else pos  # a fresh seed's engine reads as PyTorch's
        left = MT_WORDS + 1 - pos if pos else 1
        normal_y = self._next_normal if self._next_normal is not None else 0.0
        return b"".join([
            struct.pack("<QiiQ", seed & (2 ** 64 - 1), left, 1, following),
            np.asarray(state["key"], np.uint64).astype("<u8").tobytes(),
            struct.pack("<dddi4x", 0.0, normal_y, 0.0, self._next_normal is not None),
            struct.pack("<f?3x", self._next_float_normal or 0.0,
                        self._next_float_normal is not None)])

    def load_state_bytes(self, blob: bytes) -> int:
        """Set the engine from PyTorch's state layout (see ``state_bytes``); returns the seed."""
        if len(blob) != STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_BYTES} but "
                               f"found the input RNG state size to be {len(blob)}")
        seed, left, seeded, following = struct.unpack_from("<QiiQ", blob, 0)
        words = np.frombuffer(blob, "<u8", MT_WORDS, 24)
        _, normal_y, _, normal_valid = struct.unpack_from("<dddi", blob, 24 + 8 * MT_WORDS)
        float_normal, float_valid = struct.unpack_from("<f?", blob, STATE_BYTES - 8)
        if not (seeded and 0 < left <= MT_WORDS and following <= MT_WORDS):
            raise RuntimeError("Invalid mt19937 state")
        pos = MT_WORDS if left == 1 else following
        self._engine.state = {"bit_generator": "MT19937",
                              "state": {"key": words.astype(np.uint32), "pos": pos}}
        self._next_normal = normal_y if normal_valid else None
        self._next_float_normal = float_normal if float_valid else None
        return seed


STATE_BYTES = 5056


class _ReadAhead:
    """Double uniforms and normals for the serial samplers, one at a time, from blocks of
    uniforms drawn ahead; on exit the engine is rewound to just past the last uniform used,
    so the draws are those of drawing one at a time."""

    def __init__(self, draws: HostDraws, expected: int):
        self._draws = draws
        self._engine = draws._engine
        self._block = max(16, expected)
        self._current = iter(())  # the current block's values not yet used
        self._current_size = 0
        self._state_before = None  # the engine's, before the current block
        # a chained iterator's __next__: the cheapest call that Python offers per uniform
        self.uniform = itertools.chain.from_iterable(self._blocks()).__next__

    def _blocks(self):
        while True:
            self._state_before = self._engine.state
            values = self._draws.unit(self._block, np.float64).tolist()
            self._block *= 2
            self._current, self._current_size = iter(values), len(values)
            yield self._current

    def __enter__(self) -> "_ReadAhead":
        return self

    def __exit__(self, *exc) -> None:
        used = self._current_size - operator.length_hint(self._current)
        if used < self._current_size:
            self._engine.state = self._state_before
            self._engine.random_raw(2 * used, output=False)  # two words a uniform

    def normal(self) -> float:
        return self._draws.normal_double(self.uniform)


def _fused_multiply_add(a: np.ndarray, b: float, c: float) -> np.ndarray:
    """``a * b + c`` rounded once, as the FMA instruction PyTorch's double kernels compile to:
    the product split exactly into two doubles (Dekker), the sum into two (Knuth)."""
    if abs(b) > 2.0 ** 995:  # Dekker's split overflows: scale by a power of two, exactly
        return _fused_multiply_add(a, b * 2.0 ** -64, c * 2.0 ** -64) * 2.0 ** 64

    def halves(v):
        t = v * 134217729.0  # 2^27 + 1: splits a double into two 26-bit halves
        high = t - (t - v)
        return high, v - high
    product = a * b
    (ah, al), (bh, bl) = halves(a), halves(np.float64(b))
    product_error = ((ah * bh - product) + ah * bl + al * bh) + al * bl
    total = product + c
    part = total - product
    sum_error = (product - (total - part)) + (c - part)
    return total + (sum_error + product_error)


def _box_muller_16(u: np.ndarray, out: np.ndarray, mean: float, std: float) -> None:
    """Blocks of 16 uniforms into 16 normals: ``u[j]`` gives the radius, ``u[j + 8]`` the
    angle, cosine halves to ``j`` and sine halves to ``j + 8`` (in ``u``'s precision)."""
    blocks = u.reshape(-1, 2, 8)
    t = u.dtype.type
    radius = np.sqrt(t(-2) * np.log(t(1) - blocks[:, 0]))
    theta = (t(2 * math.pi) * blocks[:, 1])
    normals = out.reshape(-1, 2, 8)
    normals[:, 0] = radius * np.cos(theta) * t(std) + t(mean)
    normals[:, 1] = radius * np.sin(theta) * t(std) + t(mean)
