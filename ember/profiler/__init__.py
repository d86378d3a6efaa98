"""``ember.profiler`` (``torch.profiler``): time ember's ops, ``record_function`` ranges and
modules; print PyTorch's table or write Chrome / TensorBoard traces.

Only host (CPU) time is measured; ``ProfilerActivity.CUDA`` is accepted but kernel time on the
device is not recorded. Nothing is hooked while no profiler is active.
"""
from ember.profiler.events import EventList, FunctionEvent, FunctionEventAvg
from ember.profiler.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    supported_activities,
    tensorboard_trace_handler,
)

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "ProfilerAction",
           "ProfilerActivity", "kineto_available", "profile", "record_function", "schedule",
           "supported_activities", "tensorboard_trace_handler"]


def kineto_available() -> bool:
    """Whether the profiler runs on Kineto, PyTorch's tracing library: never in ember, whose
    profiler is its own."""
    return False
