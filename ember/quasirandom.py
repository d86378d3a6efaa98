"""``torch.quasirandom``: the Sobol low-discrepancy sequence.

Point ``k`` of a Sobol sequence is the XOR of the direction numbers picked by the bits of
``k``'s Gray code (plus a digital shift when scrambled), over 30-bit integers. The direction
numbers are Joe & Kuo's, taken from SciPy (``scipy.stats.qmc.Sobol``, which builds the same
table as PyTorch), so unscrambled points equal PyTorch's bit for bit.

Scrambling follows PyTorch's: the shift bits and then the lower-triangular scrambling matrices
are drawn as ``randint(2, ...)`` from a generator seeded with ``seed`` (without a seed, from the
default generator), which draws PyTorch's numbers, and each direction number is multiplied by
its dimension's matrix over GF(2). Scrambled points therefore equal PyTorch's for the same seed
(or the same global state) too.
"""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._creation import from_numpy
from ember._tensor import Tensor

_CHUNK = 1024  # dimensions scrambled at once: bounds the (chunk, 30, 30) matrices in memory


def _direction_numbers(dimension: int, bits: int) -> np.ndarray:
    """The ``(dimension, bits)`` unscrambled direction numbers, as integers of ``bits`` bits."""
    from scipy.stats import qmc  # SciPy loads only when an engine is made
    # SciPy keeps the table it builds from Joe & Kuo's numbers in ``_sv``
    return qmc.Sobol(dimension, scramble=False, bits=bits)._sv.astype(np.int64)


def _scramble(sv: np.ndarray, seed: int | None, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's linear matrix scrambling and digital shift: the scrambled direction numbers
    and the shift (the first point)."""
    from ember.random import CPU, Generator, generator_for
    rng = generator_for(CPU) if seed is None else Generator().manual_seed(seed).draws()
    dimension = sv.shape[0]
    shift = (rng.integers(0, 2, (dimension, bits), np.int64) << np.arange(bits)).sum(1)
    msb_first = bits - 1 - np.arange(bits)  # bit i of a vector is bit (bits-1-i) of the int
    out = np.empty_like(sv)
    for lo in range(0, dimension, _CHUNK):
        hi = min(lo + _CHUNK, dimension)
        ltm = np.tril(rng.integers(0, 2, (hi - lo, bits, bits), np.int64))
        ltm[:, np.arange(bits), np.arange(bits)] = 1
        v = (sv[lo:hi, :, None] >> msb_first) & 1  # (dim, j, i)
        # sums of at most 30 ones: exact in float32, where matmul is fast
        prod = ltm.astype(np.float32) @ v.transpose(0, 2, 1).astype(np.float32)
        out[lo:hi] = ((prod.astype(np.int64) & 1) << msb_first[:, None]).sum(1)
    return out, shift


class SobolEngine:
    """An engine drawing (optionally scrambled) Sobol points in ``[0, 1)^dimension``.

    Args:
        dimension: dimensionality of the points, 1 to ``SobolEngine.MAXDIM``.
        scramble: whether to scramble the sequence (default False).
        seed: seed of the scrambling (default None: a fresh random seed).

    Example::

        >>> engine = SobolEngine(dimension=3)
        >>> engine.draw(3)
        tensor([[0.0000, 0.0000, 0.0000],
                [0.5000, 0.5000, 0.5000],
                [0.7500, 0.2500, 0.2500]])
    """

    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension: int, scramble: bool = False, seed: int | None = None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError("Supported range of dimensionality for SobolEngine is "
                             f"[1, {self.MAXDIM}]")
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        sv = _direction_numbers(dimension, self.MAXBIT)
        shift = np.zeros(dimension, np.int64)
        if scramble:
            sv, shift = _scramble(sv, seed, self.MAXBIT)
        self._shift = shift
        self._sv_t = np.ascontiguousarray(sv.T)  # (bit, dimension): rows gather fast
        # PyTorch keeps the first point in the default dtype of the engine's creation
        first = shift * 2.0 ** -self.MAXBIT
        self._first_point = first.astype(_dt.get_default_dtype().np_dtype).astype(np.float64)
        self.num_generated = 0

    def _points(self, start: int, n: int) -> np.ndarray:
        """Points ``start`` to ``start + n - 1`` as float64 (exact: 30-bit numerators)."""
        gray = start ^ (start >> 1)
        first = self._shift.copy()
        for b in range(gray.bit_length()):
            if gray >> b & 1:
                first ^= self._sv_t[b]
        # consecutive Gray codes differ in one bit, the lowest set bit of the later index:
        # each point is the previous one XOR one direction number, a running XOR
        k = np.arange(start + 1, start + n, dtype=np.int64)
        quasi = np.empty((n, self.dimension), np.int64)
        quasi[:1] = first
        quasi[1:] = self._sv_t[np.log2(k & -k).astype(np.int64)]
        np.bitwise_xor.accumulate(quasi, axis=0, out=quasi)
        points = quasi * 2.0 ** -self.MAXBIT
        if start == 0 and n:
            points[0] = self._first_point
        return points

    def draw(self, n: int = 1, out: Tensor | None = None,
             dtype: _dt.dtype | None = None) -> Tensor:
        """The next ``n`` points, as an ``(n, dimension)`` tensor of ``dtype`` (the default
        floating-point dtype unless given); written into ``out`` when given."""
        dtype = _dt.get_default_dtype() if dtype is None else dtype
        if self.num_generated == 0 and n < 1:  # PyTorch's first draw always takes one point
            raise RuntimeError(f"Trying to create tensor with negative dimension {n - 1}: "
                               f"[{n - 1}, {self.dimension}]")
        if dtype not in (_dt.float32, _dt.float64) and (self.num_generated or n > 1):
            from ember.ops._util import scalar_name
            raise NotImplementedError(
                f"\"_sobol_engine_draw\" not implemented for '{scalar_name(dtype)}'")
        result = from_numpy(self._points(self.num_generated, n)).to(dtype)
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m: int, out: Tensor | None = None,
                   dtype: _dt.dtype | None = None) -> Tensor:
        """The next ``2**m`` points; the balance properties of Sobol points need the total
        drawn to stay a power of 2, so anything else raises ValueError."""
        n = 2 ** m
        total_n = self.num_generated + n
        if total_n & (total_n - 1):
            raise ValueError("The balance properties of Sobol' points require n to be a power "
                             f"of 2. {self.num_generated} points have been previously "
                             f"generated, then: n={self.num_generated}+2**{m}={total_n}. If "
                             "you still want to do this, please use 'SobolEngine.draw()' "
                             "instead.")
        return self.draw(n, out=out, dtype=dtype)

    def reset(self) -> "SobolEngine":
        """Go back to the first point of the sequence."""
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> "SobolEngine":
        """Skip the next ``n`` points."""
        self.num_generated += n
        return self

    def __repr__(self) -> str:
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"
