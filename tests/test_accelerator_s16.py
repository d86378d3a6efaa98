"""``ember.accelerator``, PyTorch's device-generic API: on a machine without a GPU every
device call raises PyTorch's RuntimeError; with one, it answers for the current CUDA device."""
import pytest

import ember

A = ember.accelerator
NO_DEVICE = "Cannot access accelerator device when none is available."
DEVICE_CALLS = [
    ("current_device_index", ()), ("current_device_idx", ()), ("set_device_index", (0,)),
    ("set_device_idx", (0,)), ("current_stream", ()), ("synchronize", ()), ("empty_cache", ()),
    ("empty_host_cache", ()), ("memory_allocated", ()), ("max_memory_allocated", ()),
    ("memory_reserved", ()), ("max_memory_reserved", ()), ("memory_stats", ()),
    ("reset_accumulated_memory_stats", ()), ("reset_peak_memory_stats", ()),
    ("get_memory_info", ()), ("get_device_capability", ())]
has_gpu = ember.cuda.is_available()


def test_availability_agrees_with_cuda():
    assert A.is_available() == has_gpu
    assert A.device_count() == ember.cuda.device_count()
    assert A.current_accelerator() == (ember.device("cuda") if has_gpu else None)


@pytest.mark.skipif(has_gpu, reason="a GPU is usable here")
@pytest.mark.filterwarnings("ignore:Use `:FutureWarning")
@pytest.mark.parametrize("name,args", DEVICE_CALLS)
def test_device_calls_raise_without_an_accelerator(name, args):
    with pytest.raises(RuntimeError, match=NO_DEVICE):
        getattr(A, name)(*args)


@pytest.mark.skipif(has_gpu, reason="a GPU is usable here")
def test_device_index_context_without_an_accelerator():
    with A.device_index(None):  # None: nothing to switch
        pass
    with pytest.raises(RuntimeError, match=NO_DEVICE):
        with A.device_index(0):
            pass


@pytest.mark.cuda
@pytest.mark.skipif(not has_gpu, reason="needs a GPU")
def test_device_calls_on_the_gpu():
    assert A.current_device_index() == ember.cuda.current_device()
    with A.device_index(0):
        x = ember.ones(1024, device="cuda")
        assert A.memory_allocated() >= x.nbytes
        assert A.max_memory_allocated() >= A.memory_allocated()
        A.synchronize()
    free, total = A.get_memory_info()
    assert 0 < free <= total
    assert ember.float32 in A.get_device_capability()["supported_dtypes"]
    with pytest.raises(ValueError, match="doesn't match the current accelerator"):
        A.memory_allocated("cpu")


def test_cpu_device_module_streams_and_events():
    cpu = ember.cpu
    assert cpu.is_initialized() and cpu.is_available() and cpu.device_count() == 1
    default = cpu.current_stream()
    side = cpu.Stream()
    with cpu.stream(side):
        assert cpu.current_stream() is side
        with cpu.stream(None):  # None: no change
            assert cpu.current_stream() is side
    assert cpu.current_stream() is default
    event = cpu.Event()
    event.record(side)
    side.wait_event(event)
    assert event.query()


def test_cpu_capabilities_agree_with_numpy():
    from numpy._core._multiarray_umath import __cpu_features__ as numpy_features
    capabilities = ember.cpu.get_capabilities()
    assert capabilities["num_logical_cores"] >= 1
    for numpy_name, name in (("SSE42", "sse4_2"), ("AVX512BW", "avx512_bw"), ("FMA3", "fma3")):
        if numpy_name in numpy_features:  # x86 only
            assert capabilities[name] == numpy_features[numpy_name]
