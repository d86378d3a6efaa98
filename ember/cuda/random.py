"""Per-GPU random state (``ember.cuda.get_rng_state`` and friends). Without a GPU the setters
do nothing, as PyTorch defers them until CUDA starts, and the getters say CUDA is missing."""
from __future__ import annotations

from ember.backend import cuda as _backend


def _generator(device="cuda"):
    from ember import random
    from ember.backend.device import Device
    index = device if isinstance(device, int) else (Device(device).index or 0)
    if not _backend.is_available():
        _backend.cupy()  # raises the clear "CuPy or an NVIDIA GPU is missing" error
    return random.cuda_generator(index)


def get_rng_state(device="cuda"):
    """The random state of one GPU, as a uint8 tensor."""
    return _generator(device).get_state()


def set_rng_state(new_state, device="cuda") -> None:
    if _backend.is_available():
        _generator(device).set_state(new_state)


def get_rng_state_all() -> list:
    return [get_rng_state(i) for i in range(_backend.device_count())]


def set_rng_state_all(new_states) -> None:
    for i, state in enumerate(new_states):
        set_rng_state(state, i)


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator (nothing to do without a GPU)."""
    if _backend.is_available():
        _generator(_backend.current_device_index()).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    for i in range(_backend.device_count()):
        _generator(i).manual_seed(seed)


def seed() -> None:
    """Seed the current GPU's generator with a random number."""
    if _backend.is_available():
        _generator(_backend.current_device_index()).seed()


def seed_all() -> None:
    for i in range(_backend.device_count()):
        _generator(i).seed()


def initial_seed() -> int:
    """The seed of the current GPU's generator."""
    return _generator(_backend.current_device_index()).initial_seed()
