"""Random number generators: ``Generator``, ``manual_seed`` and the per-device default state."""
from __future__ import annotations

import contextlib
import os
import pickle

import numpy as np

from ember.backend.device import CPU, Device, get_array_module, meta_array, to_device
from ember.backend.host_random import HostDraws

# PyTorch's seed of a new Generator and of the GPUs' default generators (the CPU's default
# generator starts from a nondeterministic seed, as PyTorch's).
DEFAULT_SEED = 67280421310721


class Generator:
    """A random number generator: ``ember.Generator().manual_seed(0)``.

    A CPU generator is PyTorch's: the same engine and distributions, so a seeded program
    draws PyTorch's numbers (see NOTE [ The CPU generator ] in ``backend/host_random``), and
    ``get_state`` is PyTorch's 5056-byte state. A CUDA generator wraps CuPy's, whose streams
    differ from PyTorch's (Philox) but are reproducible from a seed.
    """

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self._seed = DEFAULT_SEED
        self._draws = self._make(self._seed)

    def _make(self, seed: int):
        if self.device.type == "cuda":
            from ember.backend import cuda
            cp = cuda.cupy()
            return DeviceDraws(cp.random.Generator(cp.random.XORWOW(seed)))
        return HostDraws(seed)

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if not -(1 << 63) <= seed < 1 << 64:  # PyTorch reads it as a C long long or uint64
            raise ValueError("Overflow when unpacking long long")
        if seed < 0:
            seed &= (1 << 64) - 1
        self._seed = seed
        if isinstance(self._draws, HostDraws):
            self._draws.reseed(seed)
        else:
            self._draws = self._make(seed)
        return self

    def seed(self) -> int:
        seed = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        from ember._tensor import _make
        if isinstance(self._draws, HostDraws):
            blob = self._draws.state_bytes(self._seed)
        else:
            blob = pickle.dumps((self._seed, self._draws.generator.bit_generator.state))
        return _make(np.frombuffer(blob, np.uint8).copy())

    def set_state(self, state) -> "Generator":
        blob = np.asarray(state._data, np.uint8).tobytes()
        if isinstance(self._draws, HostDraws):
            self._seed = self._draws.load_state_bytes(blob)
        else:
            self._seed, bit_state = _safe_state(blob)
            self._draws.generator.bit_generator.state = bit_state
        return self

    def draws(self):
        """The stream this generator's tensors draw from (``HostDraws``' methods)."""
        return self._draws

    def xp_rng(self):
        """A CUDA generator's CuPy generator (whose state a CUDA graph's recording holds)."""
        return self._draws.generator


class DeviceDraws:
    """A GPU generator's stream: ``HostDraws``' distributions, drawn by CuPy's generator
    (``generator``) with its own algorithms."""

    def __init__(self, generator):
        self.generator = generator

    def words(self, count: int):
        return self.generator.integers(0, 1 << 32, size=count, dtype=np.uint32)

    def uniform(self, shape, dtype, low: float = 0.0, high: float = 1.0):
        return self.generator.uniform(low, high, shape).astype(dtype)

    def normal(self, shape, dtype, mean: float = 0.0, std: float = 1.0, contiguous=True):
        return (self.generator.standard_normal(shape) * std + mean).astype(dtype)

    def exponential(self, shape, dtype, lambd: float = 1.0):
        return self.generator.exponential(1.0 / lambd, shape).astype(dtype)

    def geometric(self, shape, dtype, p: float):
        return self.generator.geometric(p, shape).astype(dtype)

    def lognormal(self, shape, dtype, mean: float, std: float):
        return self.generator.lognormal(mean, std, shape).astype(dtype)

    def cauchy(self, shape, dtype, median: float, sigma: float):
        return (median + sigma * self.generator.standard_cauchy(shape)).astype(dtype)

    def bernoulli(self, p, shape):
        return self.generator.random(shape) < p

    def integers(self, low: int, high: int, shape, dtype, wide=None):
        return self.generator.integers(low, high, shape).astype(dtype)

    def permutation(self, n: int):
        return self.generator.permutation(n)

    def gamma(self, alpha):
        return self.generator.standard_gamma(alpha).astype(alpha.dtype, copy=False)

    def dirichlet(self, alpha):
        xp = get_array_module(alpha)
        a = alpha.astype(np.float64)
        # Gamma(a) = Gamma(a + 1) * U^(1/a): drawn in logs, small concentrations whose gamma
        # draws all underflow still give a point of the simplex.
        small = a < 1
        log_g = xp.log(self.generator.standard_gamma(xp.where(small, a + 1, a)))
        log_g = xp.where(small, log_g + xp.log(self.generator.random(a.shape)) / a, log_g)
        g = xp.exp(log_g - log_g.max(-1, keepdims=True))
        return (g / g.sum(-1, keepdims=True)).astype(alpha.dtype)

    def poisson(self, rates):
        return self.generator.poisson(rates).astype(rates.dtype)

    def binomial(self, count, prob):
        return self.generator.binomial(count.astype(np.int64), prob).astype(prob.dtype)

    def multinomial(self, rows: np.ndarray, num_samples: int, replacement: bool):
        keys = rows / to_device(self.exponential(rows.shape, np.float64), CPU)
        if not replacement or num_samples == 1:
            return np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
        cumulative = np.cumsum(rows, -1, dtype=np.float64)
        u = to_device(self.uniform((rows.shape[0], num_samples), np.float64), CPU)
        return np.stack([np.searchsorted(c / c[-1], row_u) for c, row_u in zip(cumulative, u)])


def _safe_state(blob: bytes):
    """Unpickle a GPU generator state: plain containers and numbers only, never code."""
    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "numpy" and name in ("ndarray", "dtype") or \
                    module in ("numpy.core.multiarray", "numpy._core.multiarray") and \
                    name in ("_reconstruct", "scalar"):
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"generator state refers to {module}.{name}")
    import io
    return _Restricted(io.BytesIO(blob)).load()


default_generator = Generator()
default_generator.seed()  # as PyTorch's: a fresh process starts from a nondeterministic seed
_cuda_generators: dict = {}
_cuda_seed = DEFAULT_SEED  # the seed of CUDA generators made from now on
# CUDA cannot be used in a forked child (a DataLoader worker): the child starts without the
# parent's CUDA generators, so that seeding it (as every worker does) never touches the GPU.
os.register_at_fork(after_in_child=_cuda_generators.clear)


class _MetaDraws:
    """The stream of the meta device: each draw is a data-free meta array of the shape and
    dtype the draw would have, so nothing is computed or allocated and no generator's state
    advances (a huge model initialised on meta costs nothing)."""

    @staticmethod
    def _draw(shape, dtype):
        return meta_array((shape,) if isinstance(shape, int) else tuple(shape), dtype)

    def uniform(self, shape, dtype, *bounds):
        return self._draw(shape, dtype)

    def normal(self, shape, dtype, *params, contiguous=True):
        return self._draw(shape, dtype)

    def exponential(self, shape, dtype, *params):
        return self._draw(shape, dtype)

    geometric = lognormal = cauchy = exponential

    def bernoulli(self, p, shape):
        return self._draw(shape, np.bool_)

    def integers(self, low, high, shape, dtype, wide=None):
        return self._draw(shape, dtype)

    def permutation(self, n):
        return self._draw(n, np.int64)

    def words(self, count):
        return self._draw(count, np.uint32)

    def gamma(self, alpha):
        return self._draw(alpha.shape, alpha.dtype)

    dirichlet = poisson = gamma

    def binomial(self, count, prob):
        return self._draw(np.broadcast_shapes(count.shape, prob.shape), prob.dtype)

    def __getattr__(self, name):  # any other draw: float64, its parameters' broadcast shape
        def draw(*params, size=None, **kwargs):
            shape = np.broadcast_shapes(*(np.shape(p) for p in params)) if size is None \
                else size
            return self._draw(shape, np.float64)
        return draw


_meta_draws = _MetaDraws()


def generator_for(device: Device, generator: Generator | None = None):
    """The stream (``HostDraws``' methods) to draw from for a tensor on ``device`` (for a meta
    tensor, one that draws nothing, whatever ``generator`` is given)."""
    if device.type == "cpu":
        return default_generator.draws() if generator is None else generator.draws()
    if device.type == "meta":
        return _meta_draws
    if generator is not None:
        return generator.draws()
    return cuda_generator(device.index or 0).draws()


def cuda_generator(index: int) -> Generator:
    """GPU ``index``'s default generator, made on first use with the seed that
    ``manual_seed`` last gave (as PyTorch seeds a GPU that is initialised later)."""
    gen = _cuda_generators.get(index)
    if gen is None:
        gen = _cuda_generators[index] = Generator(Device("cuda", index)).manual_seed(_cuda_seed)
    return gen


def manual_seed(seed: int) -> Generator:
    """Seed every default generator (CPU and CUDA, also those of GPUs first used later)."""
    global _cuda_seed
    default_generator.manual_seed(seed)
    _cuda_seed = seed
    for gen in _cuda_generators.values():
        gen.manual_seed(seed)
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str | None = None):
    """Run a block with the RNG states saved on entry and restored on exit.

    Example::

        with ember.random.fork_rng():
            noise = ember.rand(3)   # the draws after the block repeat these
    """
    if not enabled:
        yield
        return
    cuda_indices = list(_cuda_generators) if devices is None else [
        Device(d).index or 0 if not isinstance(d, int) else d for d in devices]
    cpu_state = default_generator.get_state()
    cuda_states = {i: _cuda_generators[i].get_state() for i in cuda_indices
                   if i in _cuda_generators}
    try:
        yield
    finally:
        default_generator.set_state(cpu_state)
        for i, state in cuda_states.items():
            _cuda_generators[i].set_state(state)


__all__ = ["Generator", "fork_rng", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "CPU"]
