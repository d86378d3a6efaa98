"""Process-wide settings PyTorch exposes at ``torch.*``: thread pools, determinism, matmul
precision, ``compile``, anomaly and autocast switches, and small tensor predicates.

ember is eager and runs on NumPy/CuPy, so several of these only record the setting (PyTorch's
getters then return what was set); the thread counts really drive the BLAS pool when
``threadpoolctl`` is installed (it is a dependency; without it they are recorded only).
"""
from __future__ import annotations

import os

from ember import dtypes as _dt
from ember._tensor import Tensor

# ``x[:, torch.newaxis]``, as in NumPy.
newaxis = None

# ---------------------------------------------------------------------------------------------
# Threads


class _Threads:
    intra = None  # None: whatever the BLAS pool uses now
    interop = None
    limiter = None  # the threadpoolctl limiter holding the current limit


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def set_num_threads(num: int) -> None:
    """Set the number of threads of intra-op parallelism (ember's BLAS thread pool)."""
    if not isinstance(num, int) or num <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    tpc = _threadpoolctl()
    if tpc is not None:
        _Threads.limiter = tpc.threadpool_limits(limits=num, user_api="blas")
    _Threads.intra = num


def get_num_threads() -> int:
    """The number of threads used for intra-op parallelism (the BLAS pool's size)."""
    tpc = _threadpoolctl()
    if tpc is not None:
        counts = [info["num_threads"] for info in tpc.threadpool_info()
                  if info.get("user_api") == "blas"]
        if counts:
            return max(counts)
    return _Threads.intra or os.cpu_count() or 1


def set_num_interop_threads(num: int) -> None:
    """Set the number of inter-op threads; PyTorch allows it once, before any parallel work.
    ember runs ops one after another, so the value is only recorded."""
    if not isinstance(num, int) or num <= 0:
        raise RuntimeError("Expected a positive number of threads")
    if _Threads.interop is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                           "has started or set_num_interop_threads called")
    _Threads.interop = num


def get_num_interop_threads() -> int:
    return _Threads.interop or os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# Determinism and matmul precision (NumPy's kernels are deterministic; the flags are recorded)


class _Flags:
    deterministic = False
    warn_only = False
    fill_uninitialized_memory = True  # torch.utils.deterministic's flag
    matmul_precision = "highest"
    warn_always = False


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms (ember's CPU kernels always are)."""
    _Flags.deterministic = bool(mode)
    _Flags.warn_only = bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _Flags.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _Flags.warn_only


def set_deterministic_debug_mode(debug_mode) -> None:
    """0/"default", 1/"warn", 2/"error", as PyTorch's."""
    names = {"default": 0, "warn": 1, "error": 2}
    mode = names[debug_mode] if isinstance(debug_mode, str) else int(debug_mode)
    if mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {mode}")
    use_deterministic_algorithms(mode > 0, warn_only=mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _Flags.deterministic:
        return 0
    return 1 if _Flags.warn_only else 2


def set_float32_matmul_precision(precision: str) -> None:
    """"highest", "high" or "medium" (TF32/bfloat16 matmuls in PyTorch; recorded here)."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision}. Expected one of highest, high, "
                           "medium")
    _Flags.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _Flags.matmul_precision


def set_warn_always(b: bool) -> None:
    _Flags.warn_always = bool(b)


def is_warn_always_enabled() -> bool:
    return _Flags.warn_always


def set_flush_denormal(mode: bool) -> bool:
    """PyTorch returns False where the CPU cannot flush denormals; NumPy never does."""
    return False


# ---------------------------------------------------------------------------------------------
# Types and small predicates


def set_default_tensor_type(t) -> None:
    """Old scripts' spelling of ``set_default_dtype`` ("torch.DoubleTensor" or the class)."""
    from ember._tensor import _dtype_from_type_string
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    if "cuda" in name:
        from ember import _creation
        _creation.set_default_device("cuda")
    dtype = _dtype_from_type_string(name)
    if not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _dt.set_default_dtype(dtype)


def typename(obj) -> str:
    """"torch.FloatTensor" for a tensor; the qualified class name for anything else."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    if not hasattr(obj, "__qualname__"):
        module = type(obj).__module__
    if module in ("", "builtins"):
        return qualname
    return f"{module}.{qualname}"


def is_nonzero(input: Tensor) -> bool:
    """The truth of a one-element tensor; raises for empty or larger tensors."""
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input: Tensor) -> bool:
    return input.dtype.name not in ("bool", "uint8", "uint16", "uint32", "uint64")


def is_conj(input: Tensor) -> bool:
    """ember conjugates eagerly, so no tensor carries a lazy conjugate bit."""
    return False


def is_neg(input: Tensor) -> bool:
    """ember negates eagerly, so no tensor carries a lazy negative bit."""
    return False


def is_inference(input: Tensor) -> bool:
    """Whether ``input`` was made under ``inference_mode`` (ember records no such flag)."""
    return bool(getattr(input, "_inference", False))


def get_device(input: Tensor) -> int:
    """The GPU index of ``input``, or -1 for a CPU tensor."""
    return input.get_device()


def is_storage(obj) -> bool:
    from ember.storage import TypedStorage, UntypedStorage
    return isinstance(obj, (TypedStorage, UntypedStorage))


# ---------------------------------------------------------------------------------------------
# Anomaly mode (the state ember.autograd.detect_anomaly keeps)


def is_anomaly_enabled() -> bool:
    from ember.autograd.anomaly_mode import _State
    return _State.enabled


def is_anomaly_check_nan_enabled() -> bool:
    from ember.autograd.anomaly_mode import _State
    return _State.check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    from ember.autograd.anomaly_mode import _State
    _State.enabled, _State.check_nan = bool(enabled), bool(check_nan)


# ---------------------------------------------------------------------------------------------
# Autocast state (ember.amp keeps a stack of active (device_type, dtype) contexts; a global
# switch is an entry at the bottom of that stack, so contexts still override it)


class _Autocast:
    base: dict = {}  # device_type -> the bottom entry this module inserted
    dtype: dict = {}  # device_type -> dtype set by set_autocast_dtype
    cache = True


def _default_autocast_dtype(device_type: str):
    return _Autocast.dtype.get(device_type,
                               _dt.float16 if device_type == "cuda" else _dt.bfloat16)


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on for ``device_type`` (CUDA when not given, as in PyTorch)."""
    from ember.amp.autocast_mode import is_autocast_enabled as _enabled
    return _enabled(device_type)


def set_autocast_enabled(device_type, enabled=None) -> None:
    """``set_autocast_enabled(device_type, enabled)``, or ``(enabled)`` for CUDA."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    from ember.amp import autocast_mode
    active = autocast_mode._State.active
    old = _Autocast.base.pop(device_type, None)
    if old is not None:
        active[:] = [e for e in active if e is not old]
    entry = (device_type, _default_autocast_dtype(device_type) if enabled else None)
    _Autocast.base[device_type] = entry
    active.insert(0, entry)
    autocast_mode._sync_flag()


def get_autocast_dtype(device_type: str):
    from ember.amp.autocast_mode import _State
    for dev, dtype in reversed(_State.active):
        if dev == device_type and dtype is not None:
            return dtype
    return _default_autocast_dtype(device_type)


def set_autocast_dtype(device_type: str, dtype) -> None:
    _Autocast.dtype[device_type] = _dt.to_dtype(dtype)
    if is_autocast_enabled(device_type) and device_type in _Autocast.base:
        set_autocast_enabled(device_type, True)


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype) -> None:
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype) -> None:
    set_autocast_dtype("cuda", dtype)


def is_autocast_cache_enabled() -> bool:
    return _Autocast.cache


def set_autocast_cache_enabled(enabled: bool) -> None:
    _Autocast.cache = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop the weight casts autocast has cached (``torch.clear_autocast_cache``)."""
    from ember.amp.autocast_mode import clear_autocast_cache as clear
    clear()
