"""Recording a worker's failure for its launcher (``torch.distributed.elastic.multiprocessing
.errors``): ``@record`` on a script's entry point writes the exception that ends it, with its
traceback, as JSON to the file named by ``TORCHELASTIC_ERROR_FILE`` (when the launcher set
one), then re-raises it. A launcher reads such files back as ``ProcessFailure`` and reports
them with ``ChildFailedError``.

Example::

    from torch.distributed.elastic.multiprocessing.errors import record

    @record
    def main():
        ...
"""
from __future__ import annotations

import faulthandler
import functools
import json
import os
import signal
import socket
import time
import traceback
import warnings
from datetime import datetime
from typing import Any, Callable

__all__ = ["ChildFailedError", "ErrorHandler", "ProcessFailure", "get_error_handler", "record"]

_NOT_AVAILABLE = "<N/A>"
_ERRORS_DOC = "https://pytorch.org/docs/stable/elastic/errors.html"


class ProcessFailure:
    """A failed worker: its ``local_rank``, ``pid``, ``exitcode`` (negative: killed by that
    signal) and the ``error_file`` it may have written with ``@record``. ``message`` is the
    file's message (a dict holding the traceback under ``extraInfo.py_callstack``), else a
    description of the exit; ``timestamp`` the failure's time in seconds since the epoch."""

    def __init__(self, local_rank: int, pid: int, exitcode: int, error_file: str) -> None:
        self.local_rank, self.pid, self.exitcode = local_rank, pid, exitcode
        self.error_file = error_file
        self.error_file_data: dict = {"message": ""}
        self.message: Any = ""
        self.timestamp = int(time.time())
        if os.path.isfile(error_file):
            try:
                with open(error_file) as f:
                    self.error_file_data = json.load(f)
                message = self.error_file_data["message"]
                self.message = message
                self.timestamp = int(message["extraInfo"]["timestamp"]
                                     if isinstance(message, dict)
                                     else self.error_file_data.get("timestamp", 0))
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise RuntimeError(f"{error_file}: not an error file written by @record "
                                   f"({type(e).__name__}: {e})") from e
        else:
            self.error_file = _NOT_AVAILABLE
        if not self.message:
            self.message = (f"Signal {-exitcode} ({self.signal_name()}) received by PID {pid}"
                            if exitcode < 0 else f"To enable traceback see: {_ERRORS_DOC}")

    def signal_name(self) -> str:
        if self.exitcode < 0:
            try:
                return signal.Signals(-self.exitcode).name
            except ValueError:
                return _NOT_AVAILABLE
        return _NOT_AVAILABLE

    def timestamp_isoformat(self) -> str:
        return datetime.fromtimestamp(self.timestamp).isoformat(sep="_")

    def __repr__(self) -> str:
        return (f"ProcessFailure(local_rank={self.local_rank}, pid={self.pid}, "
                f"exitcode={self.exitcode}, error_file={self.error_file!r})")


class ChildFailedError(Exception):
    """Workers of the job ``name`` failed: ``failures`` maps each failed global rank to its
    ProcessFailure. Its message names the first failure (the root cause) and its traceback,
    then the others."""

    def __init__(self, name: str, failures: dict) -> None:
        if not failures:
            raise ValueError("ChildFailedError needs at least one failure")
        self.name, self.failures = name, failures
        super().__init__(self.format_msg())

    def get_first_failure(self) -> tuple[int, ProcessFailure]:
        rank = min(self.failures, key=lambda r: self.failures[r].timestamp)
        return rank, self.failures[rank]

    def format_msg(self, boarder_delim: str = "=", section_delim: str = "-") -> str:
        root_rank, _ = self.get_first_failure()
        sections = {rank: _format_failure(i, rank, failure)
                    for i, (rank, failure) in enumerate(self.failures.items())}
        title = f"{self.name} FAILED"
        width = min(60, max([len(title)] + [len(line) for text in sections.values()
                                            for line in text.split("\n")]))
        others = [text for rank, text in sections.items() if rank != root_rank]
        return "\n".join([boarder_delim * width, title, section_delim * width, "Failures:",
                          "\n".join(others) or "  <NO_OTHER_FAILURES>", section_delim * width,
                          "Root Cause (first observed failure):", sections[root_rank],
                          boarder_delim * width])


def _format_failure(index: int, rank: int, failure: ProcessFailure) -> str:
    message = failure.message
    if isinstance(message, dict):
        message = message.get("extraInfo", {}).get("py_callstack",
                                                   message.get("message", _NOT_AVAILABLE))
    name = failure.signal_name()
    return "\n".join([
        f"[{index}]:", f"  time      : {failure.timestamp_isoformat()}",
        f"  host      : {socket.getfqdn()}", f"  rank      : {rank} (local_rank: "
        f"{failure.local_rank})",
        f"  exitcode  : {failure.exitcode} (pid: {failure.pid})",
        f"  error_file: {failure.error_file}",
        f"  traceback : {message}".replace("\n", "\n  ") if name == _NOT_AVAILABLE
        else f"  traceback : Signal {-failure.exitcode} ({name}) received by PID {failure.pid}"])


class ErrorHandler:
    """Writes a worker's failure where its launcher looks for it: the file named by the
    ``TORCHELASTIC_ERROR_FILE`` environment variable (nothing is written without one)."""

    def _get_error_file_path(self) -> str | None:
        return os.environ.get("TORCHELASTIC_ERROR_FILE")

    def initialize(self) -> None:
        """Dump every thread's stack on a fatal signal (``faulthandler``)."""
        try:
            faulthandler.enable(all_threads=True)
        except Exception as e:  # (sys.stderr may be gone or not a file)
            warnings.warn(f"Unable to enable fault handler. {type(e).__name__}: {e}",
                          stacklevel=2)

    def record_exception(self, e: BaseException) -> None:
        """Write ``e`` (message, traceback of the exception being handled, time) as JSON."""
        path = self._get_error_file_path()
        if path:
            data = {"message": {"message": f"{type(e).__name__}: {e}", "extraInfo": {
                "py_callstack": traceback.format_exc(), "timestamp": str(int(time.time()))}}}
            with open(path, "w") as f:
                json.dump(data, f)

    def dump_error_file(self, rootcause_error_file: str, error_code: int = 0) -> None:
        """Copy a child's error file into this process's own (``error_code``, if given,
        recorded in its message as the child's exit code: a child killed by a signal could
        not)."""
        with open(rootcause_error_file) as f:
            rootcause = json.load(f)
        if error_code and isinstance(rootcause.get("message"), dict):
            rootcause["message"]["errorCode"] = error_code
        path = self._get_error_file_path()
        if path:
            if os.path.isfile(path):
                os.remove(path)
            with open(path, "w") as f:
                json.dump(rootcause, f)


def get_error_handler() -> ErrorHandler:
    return ErrorHandler()


def record(fn: Callable, error_handler: ErrorHandler | None = None) -> Callable:
    """Decorate a worker's entry point: an exception that ends it is written for the launcher
    (see ErrorHandler) and re-raised; a ChildFailedError passes its root cause's file up; a
    ``SystemExit(0)`` returns None."""
    handler = error_handler or get_error_handler()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        handler.initialize()
        try:
            return fn(*args, **kwargs)
        except SystemExit as e:
            if e.code == 0:
                return None
            raise
        except ChildFailedError as e:
            _, failure = e.get_first_failure()
            if failure.error_file != _NOT_AVAILABLE:
                handler.dump_error_file(failure.error_file, failure.exitcode)
            raise
        except Exception as e:
            handler.record_exception(e)
            raise
    return wrapper
