"""``Measurement`` (the result of a ``Timer``) and ``TaskSpec`` (what was timed)."""
from __future__ import annotations

import math
import textwrap

import numpy as np

_MAX_SIGNIFICANT_FIGURES = 4
_MIN_CONFIDENCE_INTERVAL = 25e-9  # seconds: finer than this, timer noise dominates
_IQR_WARN_THRESHOLD = 0.1  # IQR above this fraction of the median: a noisy measurement
_IQR_GROSS_WARN_THRESHOLD = 0.25

_UNIT_SCALES = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_UNIT_NAMES = {"ns": "nanosecond", "us": "microsecond", "ms": "millisecond", "s": "second"}


def select_unit(t: float) -> tuple:
    """(unit, scale) that shows ``t`` seconds with 1 to 3 integer digits."""
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(math.log10(t) // 3), "s")
    return unit, _UNIT_SCALES[unit]


def unit_to_english(unit: str) -> str:
    return _UNIT_NAMES[unit]


def trim_sigfig(x: float, n: int) -> float:
    """``x`` rounded to ``n`` significant figures (3.14159, 2 -> 3.1)."""
    if n != int(n):
        raise AssertionError("Number of significant figures must be an integer")
    scale = 10.0 ** (math.ceil(math.log10(abs(x))) - n)
    return round(x / scale) * scale


class TaskSpec:
    """What a ``Timer`` runs and how it is labelled; measurements of one spec can be merged."""

    __slots__ = ("stmt", "setup", "global_setup", "label", "sub_label", "description", "env",
                 "num_threads")

    def __init__(self, stmt: str, setup: str, global_setup: str = "", label: str | None = None,
                 sub_label: str | None = None, description: str | None = None,
                 env: str | None = None, num_threads: int = 1):
        self.stmt = stmt
        self.setup = setup
        self.global_setup = global_setup
        self.label = label
        self.sub_label = sub_label
        self.description = description
        self.env = env
        self.num_threads = num_threads

    def _key(self) -> tuple:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other) -> bool:
        return isinstance(other, TaskSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def title(self) -> str:
        """``label: sub_label``, or the statement when there is no label."""
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        if "\n" not in self.stmt:
            return self.stmt + (f": {self.sub_label}" if self.sub_label else "")
        return (f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n"
                f"{textwrap.indent(self.stmt, '  ')}")

    def setup_str(self) -> str:
        if self.setup == "pass" or not self.setup:
            return ""
        if "\n" in self.setup:
            return f"setup:\n{textwrap.indent(self.setup, '  ')}"
        return f"setup: {self.setup}"

    def summarize(self) -> str:
        """Title, description and setup, a blank line after any multi-line section."""
        sections = [s for s in (self.title, self.description or "", self.setup_str()) if s]
        return "\n".join(s + "\n" if "\n" in s else s for s in sections)


class Measurement:
    """Times of ``number_per_run`` executions of a statement, one entry per block.

    ``times`` are per execution (``raw_times / number_per_run``), in seconds; ``median``,
    ``mean`` and ``iqr`` summarize them, ``significant_figures`` is how many digits of the
    median the spread of the middle half supports.
    """

    def __init__(self, number_per_run: int, raw_times: list, task_spec: TaskSpec,
                 metadata: dict | None = None):
        self.number_per_run = number_per_run
        self.raw_times = list(raw_times)
        self.task_spec = task_spec
        self.metadata = metadata

    def __getattr__(self, name: str):
        if name in TaskSpec.__slots__ or name == "title":
            return getattr(self.task_spec, name)
        raise AttributeError(f"'Measurement' object has no attribute '{name}'")

    @property
    def times(self) -> list:
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self) -> float:
        return float(np.median(self.times))

    @property
    def mean(self) -> float:
        return float(np.mean(self.times))

    @property
    def iqr(self) -> float:
        return self._p75 - self._p25

    @property
    def _p25(self) -> float:
        return float(np.percentile(self.times, 25))

    @property
    def _p75(self) -> float:
        return float(np.percentile(self.times, 75))

    @property
    def has_warnings(self) -> bool:
        return not self.meets_confidence(_IQR_WARN_THRESHOLD)

    def _warning(self) -> str:
        if self.meets_confidence(_IQR_WARN_THRESHOLD):
            return ""
        why = ("This suggests significant environmental influence."
               if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD)
               else "This could indicate system fluctuation.")
        return (f"  WARNING: Interquartile range is {100 * self.iqr / self.median:.1f}% of the "
                f"median measurement.\n           {why}")

    @property
    def significant_figures(self) -> int:
        """Digits of the median that a 90% confidence interval of the middle half supports
        (1 to 4)."""
        times = sorted(self.times)
        n = len(times)
        middle = times[n // 4:int(math.ceil(3 * n / 4))]
        ci = 1.645 * float(np.std(middle)) / math.sqrt(len(middle))
        ci = max(ci, _MIN_CONFIDENCE_INTERVAL)
        digits = int(math.floor(math.log10(self.median / ci)))
        return min(max(digits, 1), _MAX_SIGNIFICANT_FIGURES)

    @property
    def env(self) -> str | None:
        return self.task_spec.env

    @property
    def as_row_name(self) -> str:
        return self.sub_label or self.stmt or "[Unknown]"

    def meets_confidence(self, threshold: float = _IQR_WARN_THRESHOLD) -> bool:
        return self.iqr / self.median < threshold

    @staticmethod
    def merge(measurements) -> list:
        """One Measurement per task spec, pooling the per-execution times of repeats."""
        grouped = {}
        for m in measurements:
            grouped.setdefault(m.task_spec, []).append(m)
        merged = []
        for spec, group in grouped.items():
            times = [t for m in group for t in m.times]
            merged.append(Measurement(1, times, spec, group[0].metadata))
        return merged

    def __repr__(self) -> str:
        unit, scale = select_unit(self.median)
        n = len(self.raw_times)
        lines = [super().__repr__(), self.task_spec.summarize()]
        if n > 1:
            lines.append(f"  Median: {self.median / scale:.2f} {unit}")
        else:
            lines.append(f"  {self.median / scale:.2f} {unit}")
        if n >= 4:
            lines.append(f"  IQR:    {self.iqr / scale:.2f} {unit} "
                         f"({self._p25 / scale:.2f} to {self._p75 / scale:.2f})")
        runs = "runs per measurement," if n > 1 else "runs ,"
        threads = self.num_threads
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} {runs} "
                     f"{threads} thread{'s' if threads > 1 else ''}")
        if self.has_warnings:
            lines.append(self._warning())
        return "\n".join(lines)
