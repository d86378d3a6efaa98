"""``ember.profiler.profile`` and its helpers, under ``torch.profiler``'s names.

    with ember.profiler.profile(record_shapes=True) as prof:
        with ember.profiler.record_function("model_inference"):
            model(inputs)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

What is recorded: every call into an ember op (named like ATen's ops, ``aten::mm``,
``aten::relu``, ...), autograd's backward nodes (``MmBackward0``), ``record_function`` ranges,
and with ``with_modules`` each ``nn.Module`` call. Only host time is measured: CUDA activity is
accepted, but device (kernel) time is not recorded. Recording costs nothing when no profiler
is active (see NOTE [ Zero cost when not profiling ] in ``ember/profiler/_tracer.py``).
"""
from __future__ import annotations

import enum
import functools
import os
import socket
import sys
import time
from typing import Callable, Iterable

from ember.profiler import _tracer
from ember.profiler.events import EventList, FunctionEvent


class ProfilerActivity(enum.Enum):
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


def supported_activities() -> set:
    """CPU always; CUDA when ember sees a GPU (host time only: kernels are not timed)."""
    from ember import cuda
    acts = {ProfilerActivity.CPU}
    if cuda.is_available():
        acts.add(ProfilerActivity.CUDA)
    return acts


class ProfilerAction(enum.Enum):
    """What the profiler does at a step: nothing, warm up, record, or record and then hand
    the trace to ``on_trace_ready``."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0,
             skip_first: int = 0, skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """The action for each step: after ``skip_first`` steps, cycles of ``wait`` idle steps,
    ``warmup`` steps and ``active`` recorded steps (the last one saves the trace), ``repeat``
    times (0: forever). ``skip_first_wait`` skips the first cycle's wait.

    Example::

        >>> s = ember.profiler.schedule(wait=1, warmup=1, active=2)
        >>> [s(i).name for i in range(4)]
        ['NONE', 'WARMUP', 'RECORD', 'RECORD_AND_SAVE']
    """
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")
    if warmup == 0:
        import warnings
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)
    cycle = wait + warmup + active

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Invalid step: {step}")
        step -= skip_first
        if step < 0:
            return ProfilerAction.NONE
        if skip_first_wait:
            step += wait
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _record_always(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False) -> Callable:
    """An ``on_trace_ready`` that writes ``<dir_name>/<worker>.<ns>.pt.trace.json[.gz]`` (the
    time in nanoseconds), the files TensorBoard's profiler plugin reads. ``worker_name``
    defaults to host and pid."""
    def handler(prof: profile) -> None:
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json"
        if use_gzip:
            name += ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, name))

    return handler


class record_function:
    """Label a region: its time appears as its own row (``Self CPU`` excludes the ops inside,
    ``CPU total`` includes them) and as a range in the trace. A context manager or a decorator;
    free when no profiler is active.

    Example::

        >>> with ember.profiler.record_function("preprocess"):
        ...     y = x * 2
    """

    def __init__(self, name: str, args: str | None = None):
        self.name = name
        self.args = args
        self._event = None
        self._collector = None

    def __enter__(self) -> record_function:
        collector = _tracer.active()
        if collector is not None:
            self._collector = collector
            self._event = _tracer.open_range(collector, self.name, sys._getframe(1))
        return self

    def __exit__(self, *exc) -> None:
        if self._event is not None:
            _tracer.close_range(self._collector, self._event)
            self._event = self._collector = None

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapped


class profile:
    """Profile the ops run inside the context (or between ``start()`` and ``stop()``).

    Args:
        activities: ``ProfilerActivity`` values; CPU is what is measured (CUDA is accepted,
            device time is not recorded).
        schedule: step -> ``ProfilerAction`` (see ``ember.profiler.schedule``); without one,
            everything between start and stop is recorded.
        on_trace_ready: called with the profiler when a recording cycle ends.
        record_shapes: keep each op's input shapes (``key_averages(group_by_input_shape=True)``).
        profile_memory: bytes of the tensors each op allocates (``CPU Mem`` columns).
        with_stack: the Python call site of each op (``group_by_stack_n``, ``export_stacks``).
        with_flops: floating-point operations of matrix products, convolutions, add and mul.
        with_modules: a range per ``nn.Module`` call, named ``nn.Module: <Class>_<n>``.
        acc_events: keep the events of every cycle rather than only the last one's.

    Example::

        >>> with ember.profiler.profile() as prof:
        ...     y = x @ x
        >>> print(prof.key_averages().table(sort_by="self_cpu_time_total"))
    """

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False,
                 experimental_config=None, execution_trace_observer=None,
                 acc_events: bool = False, use_cuda: bool | None = None,
                 custom_trace_id_callback=None):
        # experimental_config, execution_trace_observer and custom_trace_id_callback configure
        # Kineto, which ember does not have: accepted so PyTorch code runs unchanged.
        acts = set(activities) if activities is not None else supported_activities()
        if use_cuda:
            acts.add(ProfilerActivity.CUDA)
        self.activities = acts
        self.schedule = schedule if schedule is not None else _record_always
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = self.schedule(0)
        self._collector = None
        self._step_range = None
        self._events = EventList()
        self._base_ns = (0, 0)  # the last cycle's clocks, for trace timestamps
        # the trace's top-level flags, as PyTorch's traces record the options they were taken with
        self._metadata = {name: 1 for name, on in (("with_stack", with_stack),
                                                   ("profile_memory", profile_memory),
                                                   ("record_shapes", record_shapes)) if on}

    # ---------------------------------------------------------------------------------------
    # Lifecycle

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._enter_action(self.current_action)

    def stop(self) -> None:
        self._leave_action(self.current_action, None)

    def step(self) -> None:
        """Mark the end of a training step: the schedule may start or end recording."""
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._leave_action(previous, self.current_action)
        self._enter_action(self.current_action, previous)

    def _recording(self, action) -> bool:
        return action in (ProfilerAction.WARMUP, ProfilerAction.RECORD,
                          ProfilerAction.RECORD_AND_SAVE)

    def _enter_action(self, action, previous=None) -> None:
        if self._recording(action) and self._collector is None:
            self._collector = _tracer.Collector(self.record_shapes, self.profile_memory,
                                                self.with_stack, self.with_flops,
                                                self.with_modules)
            self._collector.start()
        if (self._collector is not None and previous is ProfilerAction.WARMUP
                and action is not ProfilerAction.WARMUP):
            self._collector.events.clear()  # warm-up steps are not part of the result
        if self._collector is not None and self.record_steps and action is not \
                ProfilerAction.WARMUP:
            self._step_range = _tracer.open_range(self._collector,
                                                  f"ProfilerStep#{self.step_num}", None)

    def _leave_action(self, action, following) -> None:
        """End the step's range; end the cycle where the action saves, or at the stop."""
        collector = self._collector
        if collector is None:
            return
        if self._step_range is not None:
            _tracer.close_range(collector, self._step_range)
            self._step_range = None
        saves = action is ProfilerAction.RECORD_AND_SAVE or (
            action is ProfilerAction.RECORD and following not in (ProfilerAction.RECORD,
                                                                  ProfilerAction.RECORD_AND_SAVE))
        if saves or following is None or not self._recording(following):
            collector.stop()
            self._collector = None
            if saves:
                self._finish(collector)

    def _finish(self, collector) -> None:
        events = _to_function_events(collector)
        if self.acc_events:
            self._events.extend(events)
        else:
            self._events = events
        self._base_ns = collector.base_ns
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ---------------------------------------------------------------------------------------
    # Results

    def events(self) -> EventList:
        """Every recorded event of the last cycle, in start order."""
        return self._event_list(self._events)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events grouped by name (and shapes / stack), summed: print with ``.table()``."""
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path: str) -> None:
        """Write the last cycle's events as Chrome trace JSON (gzipped for ``*.gz``)."""
        self.events().export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        self.events().export_stacks(path, metric)

    def add_metadata(self, key: str, value: str) -> None:
        """An entry of the Chrome trace's top-level object."""
        self._metadata[key] = value

    def add_metadata_json(self, key: str, value: str) -> None:
        import json
        self._metadata[key] = json.loads(value)

    def _event_list(self, events) -> EventList:
        return EventList(events, profile_memory=self.profile_memory, with_flops=self.with_flops,
                         base_ns=self._base_ns, metadata=self._metadata)


def _to_function_events(collector) -> EventList:
    """FunctionEvents of the finished raw events, parents and children linked, start order;
    absorbed events give their children and their own bytes to their parent."""
    raw = [e for e in collector.events if e.end_ns is not None]
    raw.sort(key=lambda e: e.start_ns)
    for r in raw:
        if r.absorbed and _kept_parent(r) is not None:
            _kept_parent(r).self_memory += r.self_memory
    made = {}
    out = []
    for r in raw:
        if r.absorbed:
            continue
        parent = _kept_parent(r)
        e = FunctionEvent(len(out) + 1, r.name, r.thread, r.start_ns / 1000, r.end_ns / 1000,
                          r.kind, r.input_shapes, r.stack, r.memory, r.self_memory, r.flops)
        made[id(r)] = e
        if parent is not None and id(parent) in made:
            e.set_cpu_parent(made[id(parent)])
            made[id(parent)].append_cpu_child(e)
        out.append(e)
    return EventList(out, profile_memory=collector.profile_memory,
                     with_flops=collector.with_flops, base_ns=collector.base_ns)


def _kept_parent(raw):
    parent = raw.parent
    while parent is not None and parent.absorbed:
        parent = parent.parent
    return parent
