"""The CUDA API where there is no GPU: quick, clear answers instead of crashes."""
import time

import numpy as np
import pytest

import ember


def test_is_available_is_false_quickly_without_cupy_or_gpu():
    t0 = time.perf_counter()
    available = ember.cuda.is_available()
    assert time.perf_counter() - t0 < 1.0
    if available:
        pytest.skip("a GPU is present")
    assert ember.cuda.device_count() == 0
    assert ember.cuda.memory_allocated() == 0
    assert ember.cuda.max_memory_allocated() == 0


def test_moving_to_cuda_without_gpu_raises_clear_error():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        ember.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        ember.zeros(2, device="cuda")


def test_device_mismatch_error_is_both_type_and_runtime_error():
    assert issubclass(ember.DeviceMismatchError, TypeError)
    assert issubclass(ember.DeviceMismatchError, RuntimeError)


def test_device_objects():
    d = ember.device("cuda:1")
    assert (d.type, d.index) == ("cuda", 1)
    assert str(d) == "cuda:1" and repr(d) == "device(type='cuda', index=1)"
    assert ember.device("cpu") != "cpu"  # as PyTorch's: a device equals only a device
    assert ember.ones(1).device == ember.device("cpu")
    with pytest.raises(RuntimeError):
        ember.device("tpu")


def test_dlpack_round_trip_on_cpu_shares_memory():
    a = np.arange(6.0)
    t = ember.from_dlpack(a)
    a[0] = 42.0
    assert t[0].item() == 42.0
    back = np.from_dlpack(t)
    t.add_(1)
    assert back[1] == 2.0


def test_a_gpu_first_used_after_manual_seed_gets_that_seed(monkeypatch):
    """ember.manual_seed seeds GPUs that are initialised later too (checked with host
    generators standing in for CuPy's)."""
    from ember import random
    monkeypatch.setattr(random.Generator, "_make",
                        lambda self, seed: random.DeviceDraws(
                            np.random.Generator(np.random.PCG64(seed))))
    monkeypatch.setattr(random, "_cuda_generators", {})
    monkeypatch.setattr(random, "_cuda_seed", random.DEFAULT_SEED)
    assert random.cuda_generator(0).initial_seed() == random.DEFAULT_SEED
    state = random.default_generator.get_state()
    try:
        ember.manual_seed(7)
        assert random.cuda_generator(0).initial_seed() == 7  # made before: reseeded
        assert random.cuda_generator(3).initial_seed() == 7  # made after: seeded alike
        first = random.cuda_generator(3).xp_rng().random(4)
        ember.manual_seed(7)
        np.testing.assert_array_equal(random.cuda_generator(3).xp_rng().random(4), first)
    finally:
        random.default_generator.set_state(state)
