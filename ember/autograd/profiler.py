"""``ember.autograd.profiler`` (``torch.autograd.profiler``): the older profiler API, a thin
layer over ``ember.profiler``. Only host time is measured (``use_cuda`` adds no device times).

    with ember.autograd.profiler.profile() as prof:
        y = model(x)
    print(prof.key_averages().table(sort_by="self_cpu_time_total"))
"""
from __future__ import annotations

from ember.overrides import TorchFunctionMode
from ember.profiler import profiler as _profiler
from ember.profiler.events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401
from ember.profiler.profiler import record_function  # noqa: F401


class profile(_profiler.profile):
    """Profile the enclosed code when ``enabled``; the results are ``function_events``,
    ``key_averages()`` and ``table()`` (one row per event, as PyTorch's legacy table)."""

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device=None,
                 record_shapes: bool = False, with_flops: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_modules: bool = False, use_kineto: bool = False, use_cpu: bool = True,
                 experimental_config=None, acc_events: bool = False,
                 custom_trace_id_callback=None):
        acts = [_profiler.ProfilerActivity.CPU]
        if use_cuda or use_device == "cuda":
            acts.append(_profiler.ProfilerActivity.CUDA)
        super().__init__(activities=acts, record_shapes=record_shapes,
                         profile_memory=profile_memory, with_stack=with_stack,
                         with_flops=with_flops, with_modules=with_modules, acc_events=acc_events)
        self.enabled = enabled

    def __enter__(self) -> profile:
        if self.enabled:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.stop()

    @property
    def function_events(self) -> EventList:
        return self.events()

    @property
    def self_cpu_time_total(self) -> float:
        return self.events().self_cpu_time_total

    def total_average(self) -> FunctionEventAvg:
        return self.events().total_average()

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False) -> str:
        return self.events().table(sort_by, row_limit, max_src_column_width,
                                   max_name_column_width, max_shapes_column_width, header,
                                   top_level_events_only)

    def __str__(self) -> str:
        return self.table()



class _NvtxRanges(TorchFunctionMode):
    """An NVTX range around each ember function called while active."""

    def __init__(self, record_shapes: bool):
        self.record_shapes = record_shapes

    def __torch_function__(self, func, types, args=(), kwargs=None):
        from ember.cuda import nvtx
        name = getattr(func, "__name__", str(func))
        if self.record_shapes:
            name = f"{name}, sizes = {[list(a.shape) for a in args if hasattr(a, 'shape')]}"
        with nvtx.range(name):
            return func(*args, **(kwargs or {}))


class emit_nvtx:  # noqa: N801 - PyTorch's name
    """``with emit_nvtx():`` opens an NVTX range around every ember function called inside,
    named by the function (``", sizes = [...]"`` appended with ``record_shapes``), for Nsight
    to show. It needs CUDA, as in PyTorch; ``enabled=False`` makes it a no-op."""

    def __init__(self, enabled: bool = True, record_shapes: bool = False):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self._mode: _NvtxRanges | None = None

    def __enter__(self) -> emit_nvtx:
        if self.enabled:
            from ember.backend import cuda
            cuda.cupy()  # raises where there is no GPU
            self._mode = _NvtxRanges(self.record_shapes).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._mode is not None:
            self._mode.__exit__(*exc)
            self._mode = None
