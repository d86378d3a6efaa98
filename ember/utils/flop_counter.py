"""``torch.utils.flop_counter``: the floating-point operations of the matrix products,
convolutions and attention that code runs, per module.

ember has no ATen operators to intercept, so ``FlopCounterMode`` is a ``__torch_function__``
mode that counts the public functions that do this work (``linear``, ``matmul``, ``mm``,
``addmm``, ``bmm``, ``baddbmm``, ``conv*``, ``conv_transpose*``,
``scaled_dot_product_attention``), with PyTorch's formulas: a product of an ``m x k`` and a
``k x n`` matrix is ``2mkn``; a matrix-vector product is not counted, as in PyTorch. The counts
are keyed by the function's name. A backward pass run inside the mode adds, under the same
name and modules, what PyTorch's backward kernels count: a product's or convolution's forward
count once per operand that needs a gradient (its gradient is a product or convolution of the
same size), attention's twice. ``einsum`` is not counted: PyTorch's count follows the
contraction path it picks. PyTorch counts attention only where it runs an unfused or a GPU
kernel (its CPU flash kernel counts 0); ember always counts it, ``2 * batch * L * S * (E + Ev)``.
"""
from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any

from ember.overrides import TorchFunctionMode
from ember.utils.module_tracker import ModuleTracker

__all__ = ["FlopCounterMode"]


def _argument(args: tuple, kwargs: dict, index: int, name: str):
    return args[index] if len(args) > index else kwargs.get(name)


def _broadcast(a: tuple, b: tuple) -> tuple:
    width = max(len(a), len(b))
    a, b = (1,) * (width - len(a)) + a, (1,) * (width - len(b)) + b
    return tuple(max(x, y) for x, y in zip(a, b))


def _product_flops(a, b) -> int:
    """``a @ b``: 2mkn per pair of matrices over the broadcast batch; 0 for a matrix-vector or
    dot product (PyTorch counts no ``mv``/``dot``)."""
    if b.ndim < 2:
        return 0
    a_shape = (1,) + tuple(a.shape) if a.ndim == 1 else tuple(a.shape)
    (m, k), n = a_shape[-2:], b.shape[-1]
    return 2 * math.prod(_broadcast(a_shape[:-2], tuple(b.shape[:-2]))) * m * k * n


def _matmul(args, kwargs, out) -> int:
    return _product_flops(_argument(args, kwargs, 0, "input"), _argument(args, kwargs, 1, "other"))


def _rmatmul(args, kwargs, out) -> int:  # Tensor.__rmatmul__(self, other) is other @ self
    return _product_flops(args[1], args[0])


def _added_product(args, kwargs, out) -> int:  # addmm / baddbmm(input, a, b): a @ b
    return _product_flops(args[1], args[2])


def _linear(args, kwargs, out) -> int:
    x, weight = _argument(args, kwargs, 0, "input"), _argument(args, kwargs, 1, "weight")
    if weight.ndim < 2:
        return 0
    return 2 * math.prod(x.shape[:-1]) * x.shape[-1] * weight.shape[0]


def _convolution(transposed: bool):
    def flops(args, kwargs, out) -> int:
        """2 flops per weight element per output position (input position when transposed),
        per sample."""
        x, weight = _argument(args, kwargs, 0, "input"), _argument(args, kwargs, 1, "weight")
        batched = x.ndim == weight.ndim
        positions = (x if transposed else out).shape[2 if batched else 1:]
        return 2 * (x.shape[0] if batched else 1) * math.prod(positions) * weight.numel()
    return flops


def _attention(args, kwargs, out) -> int:
    q, k, v = (_argument(args, kwargs, i, name) for i, name in enumerate(("query", "key",
                                                                           "value")))
    return 2 * math.prod(q.shape[:-2]) * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])


def _operands_needing_grad(*operands) -> int:
    return sum(bool(getattr(t, "requires_grad", False)) for t in operands)


def _product_backward(a_index: int, a_name: str, b_index: int, b_name: str):
    """A product's backward: one product of the forward's size per operand needing a grad."""
    def times(args, kwargs) -> int:
        return _operands_needing_grad(_argument(args, kwargs, a_index, a_name),
                                      _argument(args, kwargs, b_index, b_name))
    return times


def _attention_backward(args, kwargs) -> int:
    """PyTorch's attention backward kernels: four products, twice the forward's work."""
    return 2


_FORMULAS = {"mm": _matmul, "bmm": _matmul, "matmul": _matmul, "__matmul__": _matmul,
             "__rmatmul__": _rmatmul, "addmm": _added_product, "baddbmm": _added_product,
             "linear": _linear, "scaled_dot_product_attention": _attention,
             **{f"conv{d}d": _convolution(False) for d in (1, 2, 3)},
             **{f"conv_transpose{d}d": _convolution(True) for d in (1, 2, 3)}}

# how many times its forward count a function's backward adds (given its arguments)
_BACKWARD_TIMES = {
    **dict.fromkeys(("mm", "bmm"), _product_backward(0, "input", 1, "mat2")),
    **dict.fromkeys(("matmul", "__matmul__"), _product_backward(0, "input", 1, "other")),
    "__rmatmul__": _product_backward(0, "self", 1, "other"),
    **dict.fromkeys(("addmm", "baddbmm"), _product_backward(1, "mat1", 2, "mat2")),
    **dict.fromkeys(("linear", *(f"conv{d}d" for d in (1, 2, 3)),
                     *(f"conv_transpose{d}d" for d in (1, 2, 3))),
                    _product_backward(0, "input", 1, "weight")),
    "scaled_dot_product_attention": _attention_backward}


class FlopCounterMode(TorchFunctionMode):
    """``with FlopCounterMode() as counter:`` counts the FLOPs of the code inside, in total
    (``get_total_flops()``) and per module (``get_flop_counts()``: module name -> {function
    name: flops}, ``"Global"`` for all). On exit it prints a table of the modules down to
    ``depth`` levels when ``display``.

    Args:
        mods: ignored (modules are found as they run), with PyTorch's deprecation warning.
        depth: how deep the printed table goes.
        display: print the table on exit.
        custom_mapping: extra formulas, ``{function name: f(args, kwargs, output) -> flops}``.
    """

    def __init__(self, mods=None, depth: int = 2, display: bool = True,
                 custom_mapping: dict | None = None):
        if mods is not None:
            warnings.warn("mods argument is not needed anymore, you can stop passing it",
                          stacklevel=2)
        self.depth = depth
        self.display = display
        self.flop_counts: dict = defaultdict(lambda: defaultdict(int))
        self.formulas = {**_FORMULAS, **(custom_mapping or {})}
        self.mod_tracker = ModuleTracker()
        self._active = False  # a backward pass adds its counts only while the mode is on

    def get_total_flops(self) -> int:
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self) -> dict[str, dict[Any, int]]:
        """Module name -> {function name: flops}."""
        return {module: dict(counts) for module, counts in self.flop_counts.items()}

    def get_table(self, depth: int | None = None) -> str:
        """The modules down to ``depth`` levels (this mode's depth by default), sorted by
        name, each with its FLOPs and share of the total and then each function's; the
        "Global" row first unless one module holds all the FLOPs."""
        depth = self.depth if depth is None else depth
        total = self.get_total_flops()

        def rows(module: str, level: int) -> list:
            counts = self.flop_counts[module]
            pad = "  " * level
            return [(pad + module, sum(counts.values()))] + [
                (f"{pad}  - {name}", flops) for name, flops in counts.items()]

        table = []
        for module in sorted(m for m in self.flop_counts if m != "Global"):
            level = module.count(".") + 1
            if depth is None or level <= depth:
                table += rows(module, level)
        if "Global" in self.flop_counts and not any(
                sum(c.values()) >= total for m, c in self.flop_counts.items() if m != "Global"):
            table = rows("Global", 0) + table
        lines = [("Module", "FLOP", "% Total")] + [
            (name, f"{flops:,}", f"{100 * flops / total:.2f}%" if total else "0%")
            for name, flops in table or [("Global", 0)]]
        widths = [max(len(line[i]) for line in lines) for i in range(3)]
        return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}"
                         for a, b, c in lines)

    def __enter__(self) -> FlopCounterMode:
        self.flop_counts.clear()
        self._active = True
        self.mod_tracker.__enter__()
        super().__enter__()
        return self

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self._active = False
        self.mod_tracker.__exit__(*exc)
        if self.display:
            print(self.get_table(self.depth))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = self.formulas.get(getattr(func, "__name__", None))
        if formula is not None:
            flops = formula(args, kwargs, out)
            modules = set(self.mod_tracker.parents)
            self._count(func.__name__, flops, modules)
            grad_fn = getattr(out, "grad_fn", None)
            times = _BACKWARD_TIMES.get(func.__name__)
            if grad_fn is not None and times is not None and flops:
                backward_flops = flops * times(args, kwargs)
                grad_fn.register_prehook(
                    lambda grads: self._count(func.__name__, backward_flops, modules)
                    if self._active else None)
        return out

    def _count(self, name: str, flops: int, modules: set) -> None:
        for module in modules:
            self.flop_counts[module][name] += flops
