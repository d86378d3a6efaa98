"""The text table of ``EventList.table``, in the layout of PyTorch's profiler: right-aligned
columns two spaces apart, dashed rules, and a ``Self CPU time total`` footer."""
from __future__ import annotations

from ember.profiler.events import _format_time

_KB, _MB, _GB = 1024, 1024 ** 2, 1024 ** 3


def _format_memory(nbytes: int) -> str:
    size = abs(nbytes)
    if size >= _GB:
        return f"{nbytes / _GB:.2f} GB"
    if size >= _MB:
        return f"{nbytes / _MB:.2f} MB"
    if size >= _KB:
        return f"{nbytes / _KB:.2f} KB"
    return f"{nbytes} B"


def _percent(part: float, total: float) -> str:
    return f"{100.0 * part / total:.2f}%" if total else "0.00%"


def _flops_unit(max_flops: int) -> tuple:
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if max_flops >= scale:
            return scale, prefix
    return 1, ""


def _clip_name(name: str, limit: int) -> str:
    return name if len(name) < limit - 3 else name[:limit - 3] + "..."


def _clip_path(path: str, width: int) -> str:
    """The end of a long path, which names the file and line, behind "..."."""
    return path if len(path) <= width else "..." + path[len(path) - width + 3:]


def build_table(events, sort_by, row_limit: int, max_src_column_width: int,
                max_name_column_width: int, max_shapes_column_width: int, header,
                top_level_events_only: bool, time_unit, profile_memory: bool,
                with_flops: bool, with_shapes: bool, with_stack: bool) -> str:
    rows = list(events)
    total = sum(e.self_cpu_time_total for e in rows)  # before any filtering, as PyTorch
    # Column widths fit every event, shown or not, as PyTorch's do.
    name_width = min(max((len(e.key) for e in rows), default=0) + 4, max_name_column_width)
    shapes_width = min(max((len(str(e.input_shapes)) for e in rows), default=0) + 4,
                       max_shapes_column_width)
    stack_width = min(max((len(s) for e in rows for s in (e.stack or ())), default=0) + 4,
                      max_src_column_width)
    if sort_by is not None:  # "self_cuda_time_total" and the like name device columns
        key = sort_by.replace("cuda", "device").replace("xpu", "device")
        rows.sort(key=lambda e: getattr(e, key), reverse=True)
    if top_level_events_only:
        rows = [e for e in rows if e.cpu_parent is None]
    if row_limit is not None and row_limit > 0:
        rows = rows[:row_limit]

    def time(us: float) -> str:
        return _format_time(us, time_unit)

    # (header, width, cell of a row)
    columns = [("Name", name_width, lambda e: _clip_name(e.key, max_name_column_width)),
               ("Self CPU %", 12, lambda e: _percent(e.self_cpu_time_total, total)),
               ("Self CPU", 12, lambda e: time(e.self_cpu_time_total)),
               ("CPU total %", 12, lambda e: _percent(e.cpu_time_total, total)),
               ("CPU total", 12, lambda e: time(e.cpu_time_total)),
               ("CPU time avg", 12, lambda e: time(e.cpu_time))]
    if profile_memory:
        columns.append(("CPU Mem", 12, lambda e: _format_memory(e.cpu_memory_usage)))
        columns.append(("Self CPU Mem", 12, lambda e: _format_memory(e.self_cpu_memory_usage)))
    columns.append(("# of Calls", 12, lambda e: str(e.count)))
    if with_shapes:
        columns.append(("Input Shapes", shapes_width,
                        lambda e: str(e.input_shapes)[:shapes_width]))
    if with_stack:
        columns.append(("Source Location", stack_width,
                        lambda e: _clip_path(e.stack[0], stack_width) if e.stack else ""))
    if with_flops:
        scale, prefix = _flops_unit(max((e.flops for e in rows), default=0))
        columns.append((f"Total {prefix}FLOPs", 12,
                        lambda e: f"{e.flops / scale:.3f}" if e.flops else "--"))

    def line(cells) -> str:
        return "".join(f"{cell:>{width}}  " for cell, (_, width, _) in zip(cells, columns))

    rule = "".join("-" * width + "  " for _, width, _ in columns)
    out = []
    if header is not None:
        out += ["=" * len(rule.rstrip()), header]
    if top_level_events_only:
        out += ["=" * len(rule.rstrip()), "This report only display top-level ops statistics"]
    out += [rule, line([h for h, _, _ in columns]), rule]
    for e in rows:
        out.append(line([cell(e) for _, _, cell in columns]))
        if with_stack and e.stack:  # the rest of the stack on rows of its own
            for entry in e.stack[1:]:
                cells = [""] * len(columns)
                cells[[h for h, _, _ in columns].index("Source Location")] = \
                    _clip_path(entry, stack_width)
                out.append(line(cells))
    out.append(rule)
    out.append(f"Self CPU time total: {time(total)}")
    return "\n".join(out) + "\n"
