"""``torch.Stream`` and ``torch.Event``: device-generic streams and events.

A CUDA device gets ``ember.cuda.Stream`` / ``ember.cuda.Event``. The CPU runs every op at once
in order, so its single stream (id 0, device index -1, as PyTorch reports) is always done, and
like PyTorch's CPU backend it records no events.
"""
from __future__ import annotations

from ember.backend.device import Device

_CPU_TYPE = 0  # PyTorch's DeviceType enum value of the CPU, which ``device_type`` reports


def _device(device) -> Device:
    if device is None:
        from ember.accelerator import current_accelerator
        return current_accelerator() or Device("cpu")
    return Device(device)


def _no_events() -> RuntimeError:
    return RuntimeError("cpu backend doesn't support events.")


class Stream:
    """An in-order queue of work on ``device`` (the current accelerator, else the CPU).

    Example::

        >>> with ember.Stream("cpu") as s:
        ...     y = ember.ones(3) * 2
        >>> s.query()
        True
    """

    def __new__(cls, device=None, *, priority: int = 0):
        dev = _device(device)
        if dev.type == "cuda":
            from ember import cuda
            return cuda.Stream(dev, priority=priority)
        self = super().__new__(cls)
        self.device = Device("cpu")
        self.device_type = _CPU_TYPE
        self.device_index = -1
        self.stream_id = 0
        return self

    def query(self) -> bool:
        """Whether all work queued on the stream is done: always, on the CPU."""
        return True

    def synchronize(self) -> None:
        """Wait for the stream's work (nothing to wait for on the CPU)."""

    def is_capturing(self) -> bool:
        return False

    def wait_event(self, event) -> None:
        """Make future work wait for ``event`` (work on the CPU never waits)."""

    def wait_stream(self, stream) -> None:
        raise _no_events()

    def record_event(self, event=None):
        raise _no_events()

    @property
    def native_handle(self):
        raise RuntimeError("Backend doesn't support getting stream native handle.")

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and other.device == self.device and \
            other.stream_id == self.stream_id

    def __hash__(self) -> int:
        return hash((self.device_type, self.device_index, self.stream_id))

    def __repr__(self) -> str:
        return (f"torch.Stream device_type={self.device.type}, "
                f"device_index={self.device_index}, stream_id={self.stream_id}")


class Event:
    """A marker in a stream, to wait on or to time work between two events.

    Args:
        device: the event's device (the current accelerator, else the CPU).
        enable_timing: whether ``elapsed_time`` may measure time from this event.
        blocking, interprocess: accepted and ignored, as in PyTorch.
    """

    def __new__(cls, device=None, *, enable_timing: bool = False, blocking: bool = False,
                interprocess: bool = False):
        dev = _device(device)
        if dev.type == "cuda":
            from ember import cuda
            return cuda.Event(enable_timing=enable_timing, blocking=blocking,
                              interprocess=interprocess)
        self = super().__new__(cls)
        self.device = Device("cpu")
        self.event_id = 0
        self._flag = int(enable_timing)
        return self

    def query(self) -> bool:
        return True

    def record(self, stream=None) -> None:
        raise _no_events()

    def synchronize(self) -> None:
        """Wait until the event completes (at once on the CPU)."""

    def wait(self, stream=None) -> None:
        """Make ``stream`` wait for the event (nothing to wait for on the CPU)."""

    def elapsed_time(self, end_event: "Event") -> float:
        if not (self._flag and end_event._flag):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise ValueError("Both events must be recorded before calculating elapsed time.")

    def ipc_handle(self):
        raise NotImplementedError("torch.Event ipc is not supported yet, please open an issue "
                                  "if you need this!")

    def __repr__(self) -> str:
        return (f"torch.Event device_type={self.device.type}, device_index=-1, "
                f"event_flag={self._flag}, event_id={self.event_id}")
