"""Profiler results: ``FunctionEvent`` (one timed range), ``FunctionEventAvg`` (a row of
``key_averages``) and ``EventList`` with PyTorch's ``table`` and Chrome trace export.

Times are in microseconds, as in PyTorch. ember measures host (CPU) time only: the device
columns PyTorch shows for CUDA activity are not produced, and ``device_time_total`` is 0.
"""
from __future__ import annotations

import gzip
import json
import os
import socket


class Interval:
    """A time range in microseconds."""

    __slots__ = ("start", "end")

    def __init__(self, start: float, end: float):
        self.start = start
        self.end = end

    def elapsed_us(self) -> float:
        return self.end - self.start


class _Times:
    """The time, memory and flops fields shared by events and their averages."""

    cpu_time_total = 0.0
    self_cpu_time_total = 0.0
    cpu_memory_usage = 0
    self_cpu_memory_usage = 0
    flops = 0
    count = 0
    device_time_total = 0.0
    self_device_time_total = 0.0
    device_memory_usage = 0
    self_device_memory_usage = 0

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def cuda_time_total(self) -> float:
        return self.device_time_total

    @property
    def self_cuda_time_total(self) -> float:
        return self.self_device_time_total

    @property
    def cpu_time_str(self) -> str:
        return _format_time(self.cpu_time)

    @property
    def cpu_time_total_str(self) -> str:
        return _format_time(self.cpu_time_total)

    @property
    def self_cpu_time_total_str(self) -> str:
        return _format_time(self.self_cpu_time_total)


class FunctionEvent(_Times):
    """One recorded op call or ``record_function`` range."""

    def __init__(self, id: int, name: str, thread: int, start_us: float, end_us: float,  # noqa: A002
                 kind: str = "cpu_op", input_shapes=None, stack=None,
                 cpu_memory_usage: int = 0, self_cpu_memory_usage: int = 0, flops: int = 0):
        self.id = id
        self.name = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us)
        self.kind = kind
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.stack = stack if stack is not None else []
        self.cpu_memory_usage = cpu_memory_usage
        self.self_cpu_memory_usage = self_cpu_memory_usage
        self.flops = flops
        self.count = 1
        self.cpu_children = []
        self.cpu_parent = None
        self.device_type = "CPU"

    key = property(lambda self: self.name)
    is_user_annotation = property(lambda self: self.kind == "user_annotation")
    is_python_function = property(lambda self: self.kind == "python_function")

    @property
    def cpu_time_total(self) -> float:
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    def append_cpu_child(self, child: FunctionEvent) -> None:
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent: FunctionEvent) -> None:
        self.cpu_parent = parent

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_str} "
                f"start_us={self.time_range.start:.3f} end_us={self.time_range.end:.3f} "
                f"cpu_children={[c.id for c in self.cpu_children]} thread={self.thread} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg(_Times):
    """The events of one key (name, and input shapes or stack when grouped by them), summed."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.flops = 0
        self.input_shapes = None
        self.stack = None
        self.is_user_annotation = False
        self.cpu_parent = None
        self.cpu_children = None

    def add(self, other) -> FunctionEventAvg:
        if self.key is None:  # the first event names the row
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.stack = other.stack
            self.is_user_annotation = other.is_user_annotation
            self.cpu_parent = other.cpu_parent
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        self.flops += other.flops
        return self

    def __iadd__(self, other) -> FunctionEventAvg:
        return self.add(other)

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of events (or of averages) that prints as PyTorch's profiler table."""

    def __init__(self, *args, profile_memory: bool = False, with_flops: bool = False,
                 base_ns: tuple = (0, 0), metadata: dict | None = None):
        super().__init__(*args)
        self._profile_memory = profile_memory
        self._with_flops = with_flops
        self._base_ns = base_ns
        self._metadata = metadata or {}
        self._grouped_by_shape = False  # set on key_averages' results: the table's columns
        self._stack_n = 0

    def _like(self, events) -> EventList:
        return EventList(events, profile_memory=self._profile_memory,
                         with_flops=self._with_flops, base_ns=self._base_ns,
                         metadata=self._metadata)

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """One ``FunctionEventAvg`` per op name (and input shapes / top ``group_by_stack_n``
        stack frames when asked), in order of first appearance."""
        rows = {}
        for e in self:
            name = "ProfilerStep*" if e.name.startswith("ProfilerStep#") else e.name
            key = (name,
                   str(e.input_shapes) if group_by_input_shape else None,
                   tuple(e.stack[:group_by_stack_n]) if group_by_stack_n > 0 else None)
            row = rows.get(key)
            if row is None:
                row = rows[key] = FunctionEventAvg()
            row.add(e)
            row.key = name
        averages = self._like(rows.values())
        averages._grouped_by_shape = group_by_input_shape
        averages._stack_n = group_by_stack_n
        return averages

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """PyTorch's profiler table: one row per event (or average), sorted descending by the
        attribute ``sort_by`` (``"self_cpu_time_total"``, ``"cpu_time_total"``, ``"count"``,
        ``"cpu_memory_usage"``, ...), then ``Self CPU time total``."""
        from ember.profiler._table import build_table
        return build_table(self, sort_by=sort_by, row_limit=row_limit,
                           max_src_column_width=max_src_column_width,
                           max_name_column_width=max_name_column_width,
                           max_shapes_column_width=max_shapes_column_width, header=header,
                           top_level_events_only=top_level_events_only, time_unit=time_unit,
                           profile_memory=self._profile_memory, with_flops=self._with_flops,
                           with_shapes=self._grouped_by_shape, with_stack=self._stack_n > 0)

    def __str__(self) -> str:
        return self.table()

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (``chrome://tracing``, Perfetto,
        TensorBoard's profiler plugin); gzip-compressed when ``path`` ends in ``.gz``."""
        trace = chrome_trace(self, path, self._base_ns, self._metadata)
        text = json.dumps(trace)
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "wt") as f:
            f.write(text)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Collapsed stacks (``frame;frame;op value`` per line) for flame graph tools;
        needs ``with_stack=True``."""
        with open(path, "w") as f:
            for e in self:
                if e.stack:
                    frames = ";".join(reversed([s.replace(";", "") for s in e.stack]))
                    f.write(f"{frames};{e.name} {int(getattr(e, metric))}\n")


def chrome_trace(events, name: str, base_ns: tuple, metadata: dict) -> dict:
    """The Chrome trace document of ``events`` (``ph: X`` ranges on wall-clock microseconds)."""
    pid = os.getpid()
    offset_us = (base_ns[0] - base_ns[1]) / 1000  # perf counter -> epoch
    trace = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
              "args": {"name": "python"}}]
    for tid in sorted({e.thread for e in events}):
        trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                      "args": {"name": f"thread {tid} (python)"}})
    for i, e in enumerate(events):
        args = {"External id": e.id, "Ev Idx": i}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.flops:
            args["flops"] = e.flops
        trace.append({"ph": "X", "cat": e.kind, "name": e.name, "pid": pid, "tid": e.thread,
                      "ts": round(e.time_range.start + offset_us, 3),
                      "dur": round(e.time_range.elapsed_us(), 3), "args": args})
    doc = {"schemaVersion": 1, "deviceProperties": [], "host_name": socket.gethostname(),
           "displayTimeUnit": "ms", "baseTimeNanoseconds": base_ns[0],
           "traceEvents": trace, "traceName": str(name)}
    doc.update(metadata)
    return doc


def _format_time(time_us: float, unit: str | None = None) -> str:
    if unit == "s" or unit is None and time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if unit == "ms" or unit is None and time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"
