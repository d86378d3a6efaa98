"""The ember.cuda names added for API coverage, on a machine without a GPU: they import
without CuPy, report "no GPU" quietly where PyTorch does, and raise clearly otherwise."""
import pytest

import ember

pytestmark = pytest.mark.skipif(ember.cuda.is_available(), reason="a GPU is present")


def test_memory_queries_are_zero_or_empty():
    c = ember.cuda
    assert c.memory_reserved() == c.max_memory_reserved() == c.memory_cached() == 0
    assert c.max_memory_cached() == 0
    assert c.memory_stats() == {}
    assert "no GPU" in c.memory_summary()
    assert c.memory_snapshot() == []
    c.reset_max_memory_allocated()
    c.reset_max_memory_cached()
    c.reset_peak_memory_stats()
    c.empty_cache()
    c.ipc_collect()
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        c.mem_get_info()


def test_rng_setters_are_deferred_and_getters_raise():
    c = ember.cuda
    c.seed()
    c.seed_all()
    c.manual_seed(0)
    c.manual_seed_all(0)
    c.set_rng_state_all([])
    assert c.get_rng_state_all() == []
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        c.get_rng_state()
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        c.initial_seed()


def test_device_queries():
    c = ember.cuda
    assert c.is_bf16_supported() is False
    assert c.get_arch_list() == []
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        c.get_device_properties(0)
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        c.get_device_capability()
    with c.device_of(ember.zeros(1)):  # a CPU tensor: no device switch
        pass
    with c.device(-1):
        pass


def test_nvtx_is_a_no_op_without_cupy():
    nvtx = ember.cuda.nvtx
    assert nvtx.range_push("step") == -1
    assert nvtx.range_pop() == -1
    nvtx.mark("event")
    with nvtx.range("epoch {}", 1):
        pass

    @nvtx.range("forward")
    def f(x):
        return x + 1

    assert f(1) == 2


def test_legacy_types_and_errors():
    c = ember.cuda
    assert repr(c.FloatTensor) == "<class 'torch.cuda.FloatTensor'>"
    assert not isinstance(ember.zeros(1), c.FloatTensor)
    assert isinstance(ember.zeros(1), ember.FloatTensor)
    assert issubclass(c.OutOfMemoryError, RuntimeError)
    assert ember.OutOfMemoryError is c.OutOfMemoryError
    assert c.StreamContext(None).__enter__() is None
    with c.stream(None):
        pass
