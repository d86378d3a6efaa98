"""``repr(tensor)`` laid out as PyTorch lays it out, and ``set_printoptions``.

PyTorch's rules, which this module follows:
- one width for all elements, measured over the nonzero finite values only (so ``nan``, ``inf``
  and zeros never widen a column);
- floats whose nonzero finite values are all integers print as ``3.``; otherwise with
  ``precision`` decimals; scientific notation when max/min > 1000, max > 1e8, or (non-integer
  values only) min < 1e-4;
- tensors with more than ``threshold`` elements show ``edgeitems`` at each end of every dim;
- rows wrap at ``linewidth`` columns; suffixes (dtype, grad_fn, ...) wrap the same way.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Set how tensors print (PyTorch's options, profiles and defaults).

    Args:
        precision: digits after the decimal point (default 4).
        threshold: element count above which a tensor is summarized (default 1000).
        edgeitems: items shown at each end of a summarized dim (default 3).
        linewidth: characters per line (default 80).
        profile: ``"default"``, ``"short"`` or ``"full"``.
        sci_mode: force scientific notation on (True) or off (False); None decides per tensor.
    """
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
    """The current print options as a dict."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager: ``set_printoptions(**kwargs)`` inside the block only."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Chooses one notation and width for every element of ``values``."""

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = flat.astype(np.float64)
        nonzero_finite = vals[np.isfinite(vals) & (vals != 0)]
        if nonzero_finite.size == 0:
            return
        absv = np.abs(nonzero_finite)
        lo, hi = float(absv.min()), float(absv.max())
        p = PRINT_OPTS.precision
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode
        elif self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # The width is measured in the notation that will be printed.
        if self.sci_mode:
            widths = [len(f"{v:.{p}e}") for v in nonzero_finite.tolist()]
        elif self.int_mode:
            widths = [len(f"{v:.0f}") + 1 for v in nonzero_finite.tolist()]
        else:
            widths = [len(f"{v:.{p}f}") for v in nonzero_finite.tolist()]
        self.max_width = max(self.max_width, *widths)

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating:
            p = PRINT_OPTS.precision
            if self.sci_mode:
                s = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    s += "."
            else:
                s = f"{value:.{p}f}"
        else:
            s = str(value)
        return (self.max_width - len(s)) * " " + s


def _complex_value(value: complex, real_fmt: _Formatter, imag_fmt: _Formatter) -> str:
    real_str = real_fmt.format(value.real)
    imag_str = (imag_fmt.format(value.imag) + "j").lstrip()
    if imag_str[0] in "+-":  # negative values and -0.0 carry their sign already
        return real_str + imag_str
    return real_str + "+" + imag_str


def _format_value(value, fmt1: _Formatter, fmt2: _Formatter | None) -> str:
    if fmt2 is None:
        return fmt1.format(value)
    return _complex_value(complex(value), fmt1, fmt2)


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows (``edgeitems`` at both ends of every dim)."""
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:e], a[-e:]]) if a.shape[0] > 2 * e else a
    if not e:
        return a[(slice(0, 0),) * a.ndim]
    rows = list(range(e)) + list(range(a.shape[0] - e, a.shape[0])) \
        if a.shape[0] > 2 * e else range(a.shape[0])
    return np.stack([_summarized(a[i]) for i in rows])


def _vector_str(a, indent: int, summarize: bool, fmt1, fmt2) -> str:
    element_length = fmt1.width() + 2
    if fmt2 is not None:
        element_length += fmt2.width() + 1  # the imaginary part and its "j"
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element_length)))
    e = PRINT_OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = ([_format_value(v, fmt1, fmt2) for v in a[:e].tolist()] + [" ..."]
                + [_format_value(v, fmt1, fmt2) for v in a[-e:].tolist()])
    else:
        data = [_format_value(v, fmt1, fmt2) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(a, indent: int, summarize: bool, fmt1, fmt2=None) -> str:
    if a.ndim == 0:
        return _format_value(a.item(), fmt1, fmt2)
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt1, fmt2)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        slices = ([_nested_str(a[i], indent + 1, summarize, fmt1, fmt2) for i in range(e)]
                  + ["..."]
                  + [_nested_str(a[i], indent + 1, summarize, fmt1, fmt2)
                     for i in range(n - e, n)])
    else:
        slices = [_nested_str(a[i], indent + 1, summarize, fmt1, fmt2) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _body(data: np.ndarray, indent: int) -> str:
    summarize = data.size > PRINT_OPTS.threshold
    shown = _summarized(data) if summarize else data
    if data.dtype.kind == "c":
        return _nested_str(data, indent, summarize, _Formatter(shown.real),
                           _Formatter(shown.imag))
    return _nested_str(data, indent, summarize, _Formatter(shown))


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


def dtype_implied(t) -> bool:
    """Whether ``repr`` leaves ``t``'s dtype unsaid: the default float and complex, int64, bool."""
    from ember import dtypes as _dt
    default = _dt.get_default_dtype()
    return t.dtype in (default, default.to_complex(), _dt.int64, _dt.bool)


def autograd_suffix(t) -> list:
    """``grad_fn=<...>`` or ``requires_grad=True``, as ``repr`` ends."""
    if t.grad_fn is not None:
        return [f"grad_fn=<{type(t.grad_fn).__name__}>"]
    return ["requires_grad=True"] if t.requires_grad else []


def _host_values(t) -> np.ndarray:
    """``t``'s values as a host array in a dtype NumPy formats (half types widened)."""
    from ember import dtypes as _dt
    data = t._data if isinstance(t._data, np.ndarray) else t._data.get()
    if data.dtype.kind == "V" or t.dtype in (_dt.bfloat16, _dt.float16):
        data = data.astype(np.float32)
    return data


def _tensor_str(t, indent: int) -> str:
    """The values part of ``repr(t)`` (``[[1., 2.], ...]``), continuation lines indented by
    ``indent``; ``[]`` for an empty tensor."""
    data = _host_values(t)
    return "[]" if data.size == 0 else _body(data, indent)


def tensor_repr(t) -> str:
    """``repr(t)``: ``tensor([...], dtype=..., grad_fn=<...>)`` as PyTorch prints it."""
    from ember import dtypes as _dt
    from ember.overrides import _plain
    # a subclass taking part in __torch_function__ prints its own name, as in PyTorch
    prefix = "tensor(" if _plain(type(t)) else f"{type(t).__name__}("
    indent = len(prefix)
    if t.device.type == "meta":  # no values to show: PyTorch prints the size instead
        suffixes = ["device='meta'", f"size={tuple(t.shape)}"]
        if t.dtype is not _dt.get_default_dtype():  # no values imply it either
            suffixes.append(f"dtype={t.dtype!r}")
        return _add_suffixes(prefix + "...", suffixes + autograd_suffix(t), indent,
                             force_newline=False)
    data = _host_values(t)
    suffixes = []
    if t.is_cuda:
        suffixes.append(f"device='{t.device}'")
    default_dtype = _dt.get_default_dtype()
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if t.dtype is not default_dtype:
            suffixes.append(f"dtype={t.dtype!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(data.shape)}")
        if not dtype_implied(t):
            suffixes.append(f"dtype={t.dtype!r}")
        body = _tensor_str(t, indent)
    suffixes += autograd_suffix(t)
    return _add_suffixes(prefix + body, suffixes, indent, force_newline=False)
