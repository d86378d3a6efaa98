"""Process-wide settings at ember.* (threads, determinism, matmul precision, compile, anomaly
and autocast switches) and the small tensor predicates."""
import pytest

import ember
from ember import runtime


@pytest.fixture
def restore():
    saved = (runtime._Flags.deterministic, runtime._Flags.warn_only,
             runtime._Flags.matmul_precision, ember.get_default_dtype(),
             runtime._Threads.interop)
    threads = ember.get_num_threads()
    yield
    (runtime._Flags.deterministic, runtime._Flags.warn_only, runtime._Flags.matmul_precision,
     dtype, runtime._Threads.interop) = saved
    ember.set_default_dtype(dtype)
    ember.set_num_threads(threads)


def test_num_threads_round_trip(restore):
    ember.set_num_threads(1)
    assert ember.get_num_threads() == 1
    ember.set_num_threads(2)
    assert ember.get_num_threads() in (1, 2)  # capped by the BLAS pool on small machines
    with pytest.raises(RuntimeError):
        ember.set_num_threads(0)


def test_num_threads_limits_the_blas_pool(restore):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy as np
    np.ones((2, 2)) @ np.ones((2, 2))  # load the BLAS library
    ember.set_num_threads(1)
    counts = [i["num_threads"] for i in threadpoolctl.threadpool_info()
              if i["user_api"] == "blas"]
    assert counts and max(counts) == 1


def test_interop_threads_set_once(restore):
    runtime._Threads.interop = None
    ember.set_num_interop_threads(3)
    assert ember.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError):
        ember.set_num_interop_threads(2)


def test_determinism_and_precision_flags(restore):
    ember.use_deterministic_algorithms(True, warn_only=True)
    assert ember.are_deterministic_algorithms_enabled()
    assert ember.is_deterministic_algorithms_warn_only_enabled()
    assert ember.get_deterministic_debug_mode() == 1
    ember.set_deterministic_debug_mode("default")
    assert not ember.are_deterministic_algorithms_enabled()
    ember.set_float32_matmul_precision("high")
    assert ember.get_float32_matmul_precision() == "high"
    with pytest.raises(RuntimeError):
        ember.set_float32_matmul_precision("fast")


def test_compile_is_the_identity_in_every_form():
    def f(x):
        return x * 2

    model = ember.nn.Linear(2, 2)
    assert ember.compile(f).__wrapped__ is f  # runs f as compiled code (ember.compiler)
    compiled = ember.compile(model, mode="max-autotune", fullgraph=True, dynamic=False)
    assert compiled._orig_mod is model

    @ember.compile
    def g(x):
        return x + 1

    @ember.compile(mode="reduce-overhead", backend="inductor")
    def h(x):
        return x - 1

    assert g(1) == 2 and h(1) == 0


def test_set_default_tensor_type(restore):
    ember.set_default_tensor_type("torch.DoubleTensor")
    assert ember.get_default_dtype() is ember.float64
    ember.set_default_tensor_type(ember.FloatTensor)
    assert ember.get_default_dtype() is ember.float32
    with pytest.raises(TypeError):
        ember.set_default_tensor_type(ember.LongTensor)


def test_predicates():
    assert ember.typename(ember.zeros(1, dtype=ember.float64)) == "torch.DoubleTensor"
    assert ember.typename(ember.nn.Linear(1, 1)).endswith("Linear")
    assert ember.is_nonzero(ember.tensor([1.5]))
    assert not ember.is_nonzero(ember.tensor(0))
    with pytest.raises(RuntimeError):
        ember.is_nonzero(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        ember.is_nonzero(ember.tensor([]))
    assert ember.is_same_size(ember.zeros(2, 3), ember.ones(2, 3))
    assert not ember.is_same_size(ember.zeros(2, 3), ember.ones(3, 2))
    assert ember.is_signed(ember.zeros(1)) and not ember.is_signed(ember.zeros(1).bool())
    assert not ember.is_conj(ember.zeros(1)) and not ember.is_neg(ember.zeros(1))
    assert not ember.is_inference(ember.zeros(1))
    assert ember.newaxis is None


def test_anomaly_switch_drives_detect_anomaly_state():
    from ember.autograd.anomaly_mode import _State
    before = (_State.enabled, _State.check_nan)
    try:
        ember.set_anomaly_enabled(True, check_nan=False)
        assert ember.is_anomaly_enabled() and _State.enabled
        assert not ember.is_anomaly_check_nan_enabled()
    finally:
        _State.enabled, _State.check_nan = before
    assert ember.is_anomaly_enabled() is before[0]


def test_autocast_switches_drive_ember_amp():
    from ember.amp import autocast_mode
    assert not ember.is_autocast_enabled("cpu")
    try:
        ember.set_autocast_dtype("cpu", ember.float16)
        ember.set_autocast_enabled("cpu", True)
        assert ember.is_autocast_enabled("cpu") and ember.is_autocast_cpu_enabled()
        assert ember.get_autocast_dtype("cpu") is ember.float16
        a = ember.ones(2, 2)
        assert (a @ a).dtype is ember.float16  # ops see the switch
        with ember.autocast("cpu", enabled=False):
            assert not ember.is_autocast_enabled("cpu")
        ember.set_autocast_enabled("cpu", False)
        assert (a @ a).dtype is ember.float32
    finally:
        ember.set_autocast_enabled("cpu", False)
        runtime._Autocast.dtype.clear()
        autocast_mode._State.active[:] = [
            e for e in autocast_mode._State.active if e is not runtime._Autocast.base.get("cpu")]
        runtime._Autocast.base.clear()
        autocast_mode._sync_flag()
    assert ember.get_autocast_dtype("cpu") is ember.bfloat16
    assert ember.get_autocast_gpu_dtype() is ember.float16
    assert ember.is_autocast_cache_enabled()
