"""Random number generators: ``Generator``, ``manual_seed`` and the per-device default state."""
from __future__ import annotations

import contextlib
import os
import pickle

import numpy as np

from ember.backend.device import CPU, Device, meta_array

# PyTorch's default seed, so that a fresh process starts from a known state.
DEFAULT_SEED = 67280421310721


class Generator:
    """A random number generator: ``ember.Generator().manual_seed(0)``.

    CPU generators wrap NumPy's PCG64; CUDA generators wrap CuPy's. The streams differ from
    PyTorch's (which uses other engines), but seeding makes every run reproducible.
    """

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self._seed = DEFAULT_SEED
        self._rng = self._make(self._seed)

    def _make(self, seed: int):
        if self.device.type == "cuda":
            from ember.backend import cuda
            return cuda.cupy().random.Generator(cuda.cupy().random.XORWOW(seed))
        return np.random.Generator(np.random.PCG64(seed))

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1
        self._seed = seed
        self._rng = self._make(seed)
        return self

    def seed(self) -> int:
        seed = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        from ember._tensor import _make
        blob = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return _make(np.frombuffer(blob, np.uint8).copy())

    def set_state(self, state) -> "Generator":
        self._seed, bit_state = _safe_state(np.asarray(state._data, np.uint8).tobytes())
        self._rng.bit_generator.state = bit_state
        return self

    def xp_rng(self):
        """The array module's generator behind this one."""
        return self._rng


def _safe_state(blob: bytes):
    """Unpickle a generator state: plain containers and numbers only, never code."""
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
_cuda_generators: dict = {}
_cuda_seed = DEFAULT_SEED  # the seed of CUDA generators made from now on
# CUDA cannot be used in a forked child (a DataLoader worker): the child starts without the
# parent's CUDA generators, so that seeding it (as every worker does) never touches the GPU.
os.register_at_fork(after_in_child=_cuda_generators.clear)


class _MetaDraws:
    """The generator of the meta device: each draw is a data-free meta array of the shape and
    dtype NumPy's draw would have, so nothing is computed or allocated and no generator's
    state advances (a huge model initialised on meta costs nothing)."""

    @staticmethod
    def _draw(size, dtype, *params) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(p) for p in params)) if size is None else size
        return meta_array((shape,) if isinstance(shape, int) else tuple(shape), dtype)

    def random(self, size=None, dtype=np.float64, out=None):
        return self._draw(size, dtype)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._draw(size, dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._draw(size, np.float64, low, high)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._draw(size, np.float64, loc, scale)

    def lognormal(self, mean=0.0, sigma=1.0, size=None):
        return self._draw(size, np.float64, mean, sigma)

    def exponential(self, scale=1.0, size=None):
        return self._draw(size, np.float64, scale)

    def standard_cauchy(self, size=None):
        return self._draw(size, np.float64)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._draw(size, dtype, low, high)

    def geometric(self, p, size=None):
        return self._draw(size, np.int64, p)

    def binomial(self, n, p, size=None):
        return self._draw(size, np.int64, n, p)

    def poisson(self, lam=1.0, size=None):
        return self._draw(size, np.int64, lam)

    def permutation(self, x):
        return self._draw(x if isinstance(x, int) else len(x), np.int64)


_meta_draws = _MetaDraws()


def generator_for(device: Device, generator: Generator | None = None):
    """The NumPy/CuPy generator to draw from for a tensor on ``device`` (for a meta tensor,
    one that draws nothing, whatever ``generator`` is given)."""
    if device.type == "cpu":
        return default_generator.xp_rng() if generator is None else generator.xp_rng()
    if device.type == "meta":
        return _meta_draws
    if generator is not None:
        return generator.xp_rng()
    return cuda_generator(device.index or 0).xp_rng()


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
