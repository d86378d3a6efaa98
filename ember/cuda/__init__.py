"""``ember.cuda``: device queries and state; every call works (and says no) without a GPU."""
from __future__ import annotations

from ember.backend import cuda as _backend


def is_available() -> bool:
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    return _backend.is_available()


def device_count() -> int:
    return _backend.device_count()


def current_device() -> int:
    return _backend.current_device_index()


def set_device(device) -> None:
    from ember.backend.device import Device
    index = device if isinstance(device, int) else Device(device).index or 0
    _backend.cupy().cuda.Device(index).use()


def get_device_name(device=None) -> str:
    cp = _backend.cupy()
    index = 0 if device is None else (device if isinstance(device, int) else device.index or 0)
    props = cp.cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work; a deferred device check that failed raises here (NOTE
    [ Deferred device checks ] in ember/backend/cuda.py)."""
    if is_available():
        _backend.cupy().cuda.Device().synchronize()
        _backend.raise_deferred()


def is_initialized() -> bool:
    return is_available()


def init() -> None:
    """CUDA starts on first use; this only checks that it can."""
    _backend.cupy()


class _DeviceProperties:
    """What ``get_device_properties`` returns: name, compute capability, memory, SMs."""

    def __init__(self, props: dict):
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else name
        self.major = props["major"]
        self.minor = props["minor"]
        self.total_memory = props["totalGlobalMem"]
        self.multi_processor_count = props["multiProcessorCount"]
        self.is_integrated = bool(props.get("integrated", 0))
        self.is_multi_gpu_board = bool(props.get("isMultiGpuBoard", 0))

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // 2 ** 20}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def _index(device) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from ember.backend.device import Device
    return Device(device).index or 0


def get_device_properties(device=None) -> _DeviceProperties:
    cp = _backend.cupy()
    return _DeviceProperties(cp.cuda.runtime.getDeviceProperties(_index(device)))


def get_device_capability(device=None) -> tuple:
    """(major, minor) compute capability of the GPU."""
    props = get_device_properties(device)
    return props.major, props.minor


def get_arch_list() -> list:
    """The architectures ember's kernels target: CuPy compiles for the GPU at hand."""
    if not is_available():
        return []
    major, minor = get_device_capability()
    return [f"sm_{major}{minor}"]


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the GPU computes in bfloat16 (Ampere, compute capability 8.0, and newer)."""
    if not is_available():
        return False
    return get_device_capability()[0] >= 8


def is_tf32_supported() -> bool:
    return is_bf16_supported()


class OutOfMemoryError(RuntimeError):
    """Raised when the GPU runs out of memory (PyTorch's ``torch.cuda.OutOfMemoryError``)."""


class device:
    """Context manager that makes ``index`` the current CUDA device (-1 or None: no change)."""

    def __init__(self, index):
        from ember.backend.device import Device
        if index is None or isinstance(index, int):
            self.index = -1 if index is None else index
        else:
            self.index = Device(index).index or 0
        self._ctx = None

    def __enter__(self):
        if self.index >= 0:
            self._ctx = _backend.cupy().cuda.Device(self.index)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


class device_of(device):
    """Context manager that makes ``obj``'s GPU current; a no-op for CPU tensors."""

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.is_cuda else -1)


class Stream:
    """A CUDA stream (CuPy's), usable with ``ember.cuda.stream(s)``."""

    def __init__(self, device=None, priority: int = 0):
        self._stream = _backend.cupy().cuda.Stream(non_blocking=True)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def wait_stream(self, other: "Stream") -> None:
        self._stream.wait_event(other._stream.record())

    def query(self) -> bool:
        return self._stream.done

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event


class Event:
    """A CUDA event; ``elapsed_time`` gives milliseconds between two recorded events."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False):
        self._event = _backend.cupy().cuda.Event(block=blocking,
                                                 disable_timing=not enable_timing)

    def record(self, stream: Stream | None = None) -> None:
        self._event.record(None if stream is None else stream._stream)

    def synchronize(self) -> None:
        self._event.synchronize()

    def query(self) -> bool:
        return self._event.done

    def elapsed_time(self, end_event: "Event") -> float:
        return _backend.cupy().cuda.get_elapsed_time(self._event, end_event._event)


def _wrap_stream(cupy_stream) -> Stream:
    s = Stream.__new__(Stream)
    s._stream = cupy_stream
    return s


def current_stream(device=None) -> Stream:
    """The stream ember's GPU work is queued on now."""
    return _wrap_stream(_backend.cupy().cuda.get_current_stream())


def default_stream(device=None) -> Stream:
    """The GPU's default (null) stream."""
    return _wrap_stream(_backend.cupy().cuda.Stream.null)


def set_stream(stream: Stream) -> None:
    """Make ``stream`` current (prefer the ``stream`` context manager)."""
    if stream is not None:
        stream._stream.use()


class StreamContext:
    """Context manager that makes ``s`` the current stream (None: no change)."""

    def __init__(self, s: Stream | None):
        self.s = s

    def __enter__(self):
        if self.s is not None:
            self.s._stream.__enter__()
        return self.s

    def __exit__(self, *exc) -> None:
        if self.s is not None:
            self.s._stream.__exit__(*exc)


def stream(s: Stream | None) -> StreamContext:
    """``with ember.cuda.stream(s):`` queues the block's GPU work on ``s``."""
    return StreamContext(s)


from ember._creation import CUDA_LEGACY_TYPES as _LEGACY  # noqa: E402
from ember.cuda import nvtx  # noqa: E402,F401
from ember.cuda.graphs import (  # noqa: E402,F401
    CUDAGraph,
    graph,
    graph_pool_handle,
    is_current_stream_capturing,
    make_graphed_callables,
)
from ember.cuda.memory import (  # noqa: E402,F401
    empty_cache,
    ipc_collect,
    max_memory_allocated,
    max_memory_cached,
    max_memory_reserved,
    mem_get_info,
    memory_allocated,
    memory_cached,
    memory_reserved,
    memory_snapshot,
    memory_stats,
    memory_summary,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_max_memory_cached,
    reset_peak_memory_stats,
    set_per_process_memory_fraction,
)
from ember.cuda.random import (  # noqa: E402,F401
    get_rng_state,
    get_rng_state_all,
    initial_seed,
    manual_seed,
    manual_seed_all,
    seed,
    seed_all,
    set_rng_state,
    set_rng_state_all,
)
from ember.ops.tensor_extras import CUDA_LEGACY_STORAGES as _STORAGES  # noqa: E402

BFloat16Tensor = _LEGACY["BFloat16Tensor"]
BoolTensor = _LEGACY["BoolTensor"]
ByteTensor = _LEGACY["ByteTensor"]
CharTensor = _LEGACY["CharTensor"]
DoubleTensor = _LEGACY["DoubleTensor"]
FloatTensor = _LEGACY["FloatTensor"]
HalfTensor = _LEGACY["HalfTensor"]
IntTensor = _LEGACY["IntTensor"]
LongTensor = _LEGACY["LongTensor"]
ShortTensor = _LEGACY["ShortTensor"]

BFloat16Storage = _STORAGES["BFloat16Storage"]
BoolStorage = _STORAGES["BoolStorage"]
ByteStorage = _STORAGES["ByteStorage"]
CharStorage = _STORAGES["CharStorage"]
ComplexDoubleStorage = _STORAGES["ComplexDoubleStorage"]
ComplexFloatStorage = _STORAGES["ComplexFloatStorage"]
DoubleStorage = _STORAGES["DoubleStorage"]
FloatStorage = _STORAGES["FloatStorage"]
HalfStorage = _STORAGES["HalfStorage"]
IntStorage = _STORAGES["IntStorage"]
LongStorage = _STORAGES["LongStorage"]
ShortStorage = _STORAGES["ShortStorage"]


def __getattr__(name: str):
    if name == "default_generators":  # one per GPU, made when first asked for (none without)
        from ember import random
        return tuple(random.cuda_generator(i) for i in range(device_count()))
    raise AttributeError(f"module 'ember.cuda' has no attribute {name!r}")


from ember.cuda import amp  # noqa: E402,F401  (the older spelling of ember.amp)
