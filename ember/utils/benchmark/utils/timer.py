"""``Timer``: ``timeit.Timer`` with ember's thread count pinned, and results as
``Measurement`` objects that ``Compare`` can tabulate."""
from __future__ import annotations

import contextlib
import enum
import textwrap
import timeit
from typing import Callable

from ember.utils.benchmark.utils.common import Measurement, TaskSpec

_BLOCK_TIME = 0.01  # seconds: a block long enough that timer resolution does not matter


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


def _dedent(code: str) -> str:
    """Indented triple-quoted code as written inside a function: dedented, without its first
    newline and trailing whitespace, as PyTorch's Timer stores it (and shows it in reprs)."""
    code = textwrap.dedent(code)
    return (code[1:] if code.startswith("\n") else code).rstrip()


class Timer:
    """Time ``stmt`` after running ``setup``, with ember's intra-op thread pool set to
    ``num_threads`` for the measurement. ``torch`` and ``ember`` are both names for ember in
    the statement's globals, so PyTorch's benchmark statements run unchanged.

    Args:
        stmt: the code to time. setup: code run once before. Both may be indented
            (triple-quoted inside a function): they are dedented. global_setup: unused for
            Python statements. timer: the clock (``timeit.default_timer``).
        globals: names the code sees. label, sub_label, description: how ``Compare`` groups
            the result (table, row and column). env: a tag for A/B runs.
        num_threads: ember's thread count while timing (restored after).
        language: ``"python"`` only (ember has no C++ front end).

    Example::

        >>> t = Timer("x @ x", globals={"x": ember.randn(64, 64)})
        >>> m = t.blocked_autorange(min_run_time=0.2)
        >>> m.median  # seconds per execution
    """

    def __init__(self, stmt: str = "pass", setup: str = "pass", global_setup: str = "",
                 timer: Callable[[], float] = timeit.default_timer, globals: dict | None = None,
                 label: str | None = None, sub_label: str | None = None,
                 description: str | None = None, env: str | None = None,
                 num_threads: int = 1, language: Language | str = Language.PYTHON):
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError("ember.utils.benchmark.Timer runs Python statements only")
        import ember
        stmt, setup = _dedent(stmt), _dedent(setup)
        names = dict(globals or {})
        names.setdefault("torch", ember)
        names.setdefault("ember", ember)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                   label=label, sub_label=sub_label, description=description,
                                   env=env, num_threads=num_threads)
        self._timer = timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=names)

    @contextlib.contextmanager
    def _pinned_threads(self):
        import ember
        previous = ember.get_num_threads()
        ember.set_num_threads(self._task_spec.num_threads)
        try:
            yield
        finally:
            ember.set_num_threads(previous)

    def _time(self, number: int) -> float:
        return self._timer.timeit(number)  # garbage collection off, as timeit does

    def timeit(self, number: int = 1000000) -> Measurement:
        """One block of ``number`` executions."""
        with self._pinned_threads():
            self._time(number=max(int(number // 100), 2))  # warm up
            return Measurement(number, [self._time(number)], self._task_spec)

    def repeat(self, repeat: int = -1, number: int = -1) -> None:
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback: Callable | None = None) -> None:
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _block_size(self) -> int:
        """The smallest power of ten of executions that takes at least ``_BLOCK_TIME``."""
        number = 1
        while self._time(number) < _BLOCK_TIME:
            number *= 10
        return number

    def blocked_autorange(self, callback: Callable[[int, float], None] | None = None,
                          min_run_time: float = 0.2) -> Measurement:
        """Blocks of a fixed number of executions (each about 10 ms or more) until
        ``min_run_time`` seconds have been spent; one time per block."""
        with self._pinned_threads():
            number = self._block_size()
            times = []
            total = 0.0
            while total < min_run_time or not times:
                t = self._time(number)
                if callback is not None:
                    callback(number, t)
                times.append(t)
                total += t
        return Measurement(number, times, self._task_spec)

    def adaptive_autorange(self, threshold: float = 0.1, *, min_run_time: float = 0.01,
                           max_run_time: float = 10.0,
                           callback: Callable[[int, float], None] | None = None
                           ) -> Measurement:
        """Blocks until the IQR is below ``threshold`` times the median (after at least
        ``min_run_time`` and 3 blocks) or ``max_run_time`` seconds have been spent."""
        with self._pinned_threads():
            number = self._block_size()
            times = []
            total = 0.0
            while total < max_run_time:
                t = self._time(number)
                if callback is not None:
                    callback(number, t)
                times.append(t)
                total += t
                if total >= min_run_time and len(times) > 3:
                    if Measurement(number, times, self._task_spec).meets_confidence(threshold):
                        break
        return Measurement(number, times, self._task_spec)
