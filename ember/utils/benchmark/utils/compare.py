"""``Compare``: measurements as tables, one per label, a row per sub_label (or statement) and
thread count, a column per description, in the layout of PyTorch's benchmark tables."""
from __future__ import annotations

import math

from ember.utils.benchmark.utils.common import (
    Measurement,
    select_unit,
    trim_sigfig,
    unit_to_english,
)

_END = "\033[0m\033[0m"
_BEST = "\033[92m\033[1m"  # green, bold
_GOOD = "\033[34m\033[1m"  # blue, bold
_BAD = "\033[2m\033[91m"  # dim red
_VERY_BAD = "\033[31m\033[1m"  # red, bold


def _colored(text: str, value: float, best: float) -> str:
    """Best (within 1% or 100 ns), good (10%), bad (2x) and very bad (5x) against ``best``."""
    if value <= best * 1.01 or value <= best + 100e-9:
        return _BEST + text + _END
    if value <= best * 1.1:
        return _GOOD + text + _END
    if value >= best * 5:
        return _VERY_BAD + text + _END
    if value >= best * 2:
        return _BAD + text + _END
    return text


class _Column:
    """Formats the times of one description: a shared number width and number of decimals
    (one, or as many as the measurements' significant figures support when trimming)."""

    def __init__(self, results: list, scale: float, trim: bool, highlight_warnings: bool):
        present = [m for m in results if m is not None]
        leading = [math.ceil(math.log10(m.median / scale)) for m in present]
        self.decimals = (min(max(m.significant_figures - d, 0) for m, d in zip(present, leading))
                         if trim else 1)
        self.width = max(leading) + self.decimals + (1 if self.decimals else 0)
        self.warn_width = 7 if highlight_warnings and any(m.has_warnings for m in present) else 0
        self.scale = scale
        self.trim = trim

    def format(self, m: Measurement | None) -> str:
        if m is None:
            return " " * len(self._text(1.0, ""))
        value = m.median / self.scale
        if self.trim:
            value = trim_sigfig(value, m.significant_figures)
        note = f" (! {100 * m.iqr / m.median:.0f}%)" if self.warn_width and m.has_warnings else ""
        return self._text(value, note)

    def _text(self, value: float, note: str) -> str:
        return f"{value:>{self.width}.{self.decimals}f}{note:>{self.warn_width}}"


class Compare:
    """Tabulate ``Measurement`` results: ``Compare(results).print()``.

    One table per ``label``; rows are ``sub_label`` (or the statement) grouped by thread count,
    columns are ``description``s; repeated measurements of one task are merged.

    Example::

        >>> results = [Timer("x + x", globals={"x": x}, label="add", sub_label=str(n),
        ...                  description="ember").blocked_autorange() for x, n in cases]
        >>> Compare(results).print()
    """

    def __init__(self, results: list):
        self._results = []
        self._trim = False
        self._colorize = None  # None, "columnwise" or "rowwise"
        self._highlight_warnings = False
        self.extend_results(results)

    def extend_results(self, results: list) -> None:
        for r in results:
            if not isinstance(r, Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self) -> None:
        """Round each time to the digits its measurement supports."""
        self._trim = True

    def colorize(self, rowwise: bool = False) -> None:
        """Color each time against the best of its column within a thread count (or of its
        row)."""
        self._colorize = "rowwise" if rowwise else "columnwise"

    def highlight_warnings(self) -> None:
        """Mark noisy measurements with ``(! XX%)``, XX being the IQR as a % of the median."""
        self._highlight_warnings = True

    def print(self) -> None:
        print(str(self))

    def __str__(self) -> str:
        groups = {}
        for m in Measurement.merge(self._results):
            groups.setdefault(m.label, []).append(m)
        return "\n".join(self._render_table(label, group) for label, group in groups.items())

    # ---------------------------------------------------------------------------------------

    def _render_table(self, label, results: list) -> str:
        unit, scale = select_unit(min(m.median for m in results))
        columns = list(dict.fromkeys(m.description for m in results))
        keys = list(dict.fromkeys((m.num_threads, m.env, m.as_row_name) for m in results))
        keys.sort(key=lambda k: (k[0], k[1] or ""))  # stable: statements keep their order
        grid = {k: [None] * len(columns) for k in keys}
        for m in results:
            grid[(m.num_threads, m.env, m.as_row_name)][columns.index(m.description)] = m
        formats = [_Column([grid[k][j] for k in keys], scale, self._trim,
                           self._highlight_warnings) for j in range(len(columns))]

        envs = {m.env or "" for m in results}
        env_width = max(len(e) for e in envs) if len(envs) > 1 else 0
        text_rows = []
        previous = (None, None)
        for k in keys:
            threads, env = k[0], k[1] or ""
            show_env = len(envs) > 1 and env and (threads, env) != previous  # once per group
            previous = (threads, env)
            name = "  " + (f"({env})" if show_env else "").ljust(env_width + 4) + k[2]
            text_rows.append([name] + [f.format(m) for f, m in zip(formats, grid[k])])
        header = [""] + [c or "" for c in columns]
        widths = [max(len(r[i]) for r in [header] + text_rows) for i in range(len(header))]

        top = "  |  ".join(h.center(w) for h, w in zip(header, widths))
        lines = [top]
        best = self._best(keys, grid, len(columns))
        threads = None
        for k, row in zip(keys, text_rows):
            if k[0] != threads:
                threads = k[0]
                lines.append(f"{threads} threads: ".ljust(len(top), "-"))
            cells = [row[0].ljust(widths[0])]
            for j, (text, w) in enumerate(zip(row[1:], widths[1:])):
                cell = text.center(w)
                m = grid[k][j]
                if self._colorize and m is not None:
                    cell = _colored(cell, m.median, best[(k, j)])
                cells.append(cell)
            lines.append("  |  ".join(cells))

        title = "[" + f" {label or ''} ".center(len(top) - 2, "-") + "]"
        out = f"{title}\n" + "\n".join(lines)
        out += f"\n\nTimes are in {unit_to_english(unit)}s ({unit}).\n"
        if self._highlight_warnings and any(m.has_warnings for m in results):
            out += "(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n"
        return out

    def _best(self, keys: list, grid: dict, n_columns: int) -> dict:
        """The best median each cell is colored against: its row's, or its column's among
        the rows of the same thread count."""
        best = {}
        for k in keys:
            for j in range(n_columns):
                if self._colorize == "rowwise":
                    peers = grid[k]
                else:
                    peers = [grid[o][j] for o in keys if o[0] == k[0]]
                values = [m.median for m in peers if m is not None]
                best[(k, j)] = min(values) if values else None
        return best
