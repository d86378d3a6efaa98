"""``repr(tensor)`` laid out as PyTorch lays it out, and ``set_printoptions``."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Set how tensors print (PyTorch's options and defaults)."""
    if profile == "default":
        PRINT_OPTS.__init__()
    elif profile == "short":
        PRINT_OPTS.__init__(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        PRINT_OPTS.__init__(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    return dict(PRINT_OPTS.__dict__)


class _Formatter:
    def __init__(self, values: np.ndarray):
        self.kind = values.dtype.kind
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        if self.kind != "f":
            strs = [self._plain(v) for v in values.reshape(-1).tolist()]
            self.max_width = max((len(s) for s in strs), default=1)
            return
        vals = values.astype(np.float64).reshape(-1)
        finite = vals[np.isfinite(vals) & (vals != 0)]
        absf = np.abs(finite)
        if finite.size:
            self.int_mode = bool(np.all(finite == np.ceil(finite)))
            lo, hi = absf.min(), absf.max()
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode
        self.max_width = max((len(self._float(v)) for v in vals.tolist()), default=1)

    def _plain(self, v) -> str:
        return str(v)

    def _float(self, v: float) -> str:
        p = PRINT_OPTS.precision
        if self.sci_mode:
            return f"{v:.{p}e}"
        if self.int_mode:
            s = f"{v:.0f}"
            return s if math.isinf(v) or math.isnan(v) else s + "."
        return f"{v:.{p}f}"

    def width(self) -> int:
        return self.max_width

    def format(self, v) -> str:
        s = self._float(v) if self.kind == "f" else self._plain(v)
        return (self.max_width - len(s)) * " " + s


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements that a summarized print shows (edge items of every dim)."""
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * e:
        a = np.concatenate([a[:e], a[-e:]])
    return np.stack([_summarized(x) for x in a]) if a.ndim > 1 else a


def _vector_str(a, indent, summarize, fmt) -> str:
    element_length = fmt.width() + 2
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element_length)))
    e = PRINT_OPTS.edgeitems
    values = a.tolist()
    if summarize and len(values) > 2 * e:
        data = [fmt.format(v) for v in values[:e]] + [" ..."] + [fmt.format(v)
                                                                  for v in values[-e:]]
    else:
        data = [fmt.format(v) for v in values]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(a, indent, summarize, fmt) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        slices = ([_nested_str(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."]
                  + [_nested_str(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        slices = [_nested_str(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _complex_str(a, indent, summarize) -> str:
    real = _Formatter(_summarized(a.real) if summarize else a.real)
    imag = _Formatter(_summarized(a.imag) if summarize else a.imag)

    class _C:
        def width(self):
            return real.width() + imag.width() + 2

        def format(self, v):
            im = imag.format(abs(v.imag)).lstrip()
            sign = "-" if v.imag < 0 or (v.imag == 0 and math.copysign(1, v.imag) < 0) else "+"
            return (real.format(v.real) + sign + im + "j").rjust(self.width())
    return _nested_str(a, indent, summarize, _C())


def _add_suffixes(tensor_str: str, suffixes, indent: int, force_newline: bool) -> str:
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
            force_newline = False
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t) -> str:
    from ember import dtypes as _dt
    prefix = "tensor("
    indent = len(prefix)
    data = t._data if isinstance(t._data, np.ndarray) else t._data.get()
    if data.dtype.kind == "V" or t.dtype in (_dt.bfloat16, _dt.float16):
        data = data.astype(np.float32)
    suffixes = []
    if t.is_cuda:
        suffixes.append(f"device='{t.device}'")
    default = (_dt.get_default_dtype(), _dt.get_default_dtype().to_complex(), _dt.int64,
               _dt.bool)
    if data.size == 0 and data.shape != (0,):
        suffixes.append(f"size={tuple(data.shape)}")
        body = "[]"
        if t.dtype is not _dt.get_default_dtype():
            suffixes.append(f"dtype={t.dtype!r}")
    else:
        if data.size == 0:
            body = "[]"
            if t.dtype is not _dt.get_default_dtype():
                suffixes.append(f"dtype={t.dtype!r}")
        else:
            summarize = data.size > PRINT_OPTS.threshold
            if data.dtype.kind == "c":
                body = _complex_str(data, indent, summarize)
            else:
                fmt = _Formatter(_summarized(data) if summarize else data)
                body = _nested_str(data, indent, summarize, fmt)
            if t.dtype not in default:
                suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent, force_newline=False)
