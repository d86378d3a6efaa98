"""Symbolic sizes while exporting: expressions over the symbols of dynamic dims (``s0``,
``s1``, ...), their value ranges, and the ``SymInt``/``SymFloat``/``SymBool`` values that user
code sees in place of ints when it reads a dynamic size or calls ``.item()``.

NOTE [ Sizes while exporting ]
Export runs the program on the real example inputs, so every size has a real value (its
*hint*). A size that depends on a dynamic dim is also a graph node (``sym_size.int(x, 0)``,
arithmetic on it) so that the exported program reads it at run time, and an expression over
the dims' symbols, so that a Python decision on it (``if x.shape[0] > 16``) can be checked
against the dims' ranges: a decision true over the whole range needs nothing, any other one
becomes a runtime assertion in the graph (and an export error when it narrows a ``Dim`` the
user declared). A size whose expression ember cannot derive is *opaque*: still read at run
time, never baked in. ``.item()`` gives an *unbacked* value: usable in arithmetic and as an
argument, but any Python decision on it raises ``GuardOnDataDependentSymNode``.
"""
from __future__ import annotations

import itertools
import math
import operator
from typing import Any, Callable

__all__ = ["Expr", "ValueRanges", "SymInt", "SymFloat", "SymBool", "int_oo"]

int_oo = math.inf  # prints as ``int_oo``, as PyTorch's unbounded size
_uids = itertools.count()


class Expr:
    """A size expression: ``sym`` (a dim's symbol), ``const``, ``add``, ``mul``, ``floordiv``,
    ``mod``, ``opaque`` (a size ember cannot express, printed as its hint) or ``unbacked`` (a
    data-dependent value, ``u0``)."""

    __slots__ = ("op", "args")

    def __init__(self, op: str, *args) -> None:
        self.op = op
        self.args = args

    @staticmethod
    def symbol(name: str) -> "Expr":
        return Expr("sym", name)

    @staticmethod
    def opaque(hint: Any) -> "Expr":
        return Expr("opaque", next(_uids), hint)

    @staticmethod
    def unbacked(index: int) -> "Expr":
        return Expr("unbacked", index)

    # -- structure -----------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self.op == other.op and self.args == other.args

    def __hash__(self) -> int:
        return hash((self.op, self.args))

    def free_symbols(self) -> set[str]:
        """The names of the dim symbols in this expression."""
        if self.op == "sym":
            return {self.args[0]}
        return set().union(*(a.free_symbols() for a in self.args if isinstance(a, Expr)))

    def has(self, op: str) -> bool:
        """Whether a sub-expression has this ``op``."""
        return self.op == op or any(isinstance(a, Expr) and a.has(op) for a in self.args)

    # -- evaluation ------------------------------------------------------------------------------

    def bounds(self, ranges: dict[str, "ValueRanges"]) -> tuple[float, float]:
        """An interval holding every value the expression takes over ``ranges``."""
        if self.op == "sym":
            vr = ranges.get(self.args[0])
            return (0, int_oo) if vr is None else (vr.lower, vr.upper)
        if self.op == "const":
            return self.args[0], self.args[0]
        if self.op in ("opaque", "unbacked"):
            return -int_oo, int_oo
        (alo, ahi), (blo, bhi) = (_bounds(a, ranges) for a in self.args)
        if self.op == "add":
            return alo + blo, ahi + bhi
        if self.op == "mul":
            products = [_mul(x, y) for x in (alo, ahi) for y in (blo, bhi)]
            return min(products), max(products)
        if self.op == "floordiv" and blo == bhi and blo > 0:
            return _floordiv(alo, blo), _floordiv(ahi, blo)
        if self.op == "mod" and blo == bhi and blo > 0:
            return 0, blo - 1
        return -int_oo, int_oo

    def evaluate(self, env: dict[str, int]) -> int:
        """The value for the symbol values in ``env``."""
        if self.op == "sym":
            return env[self.args[0]]
        if self.op == "const":
            return self.args[0]
        if self.op in ("opaque", "unbacked"):
            raise ValueError(f"{self} has no value outside the program")
        a, b = (x.evaluate(env) if isinstance(x, Expr) else x for x in self.args)
        return _BINARY[self.op](a, b)

    # -- printing --------------------------------------------------------------------------------

    def __str__(self) -> str:
        if self.op == "sym":
            return self.args[0]
        if self.op == "const":
            return str(self.args[0])
        if self.op == "opaque":
            return str(self.args[1])
        if self.op == "unbacked":
            return f"u{self.args[0]}"
        a, b = self.args
        if self.op == "add":
            if b.op == "const" and b.args[0] < 0:
                return f"{a} - {-b.args[0]}"
            return f"{a} + {b}"
        if self.op == "mul":
            return f"{_paren(a)}*{_paren(b)}"
        if self.op == "floordiv":
            return f"(({a})//{b})"
        if self.op in _RELATIONS:
            return _RELATIONS[self.op].format(a, b)
        if self.op == "truediv":
            return f"{_paren(a)}/{_paren(b)}"
        if self.op == "pow":
            return f"{_paren(a)}**{_paren(b)}"
        return f"Mod({a}, {b})"

    __repr__ = __str__


def _bounds(e: Any, ranges) -> tuple[float, float]:
    return e.bounds(ranges) if isinstance(e, Expr) else (e, e)


def _mul(x: float, y: float) -> float:
    return 0 if x == 0 or y == 0 else x * y  # 0 * inf is 0 for sizes


def _floordiv(x: float, y: float) -> float:
    return x if math.isinf(x) else x // y


def _paren(e: Expr) -> str:
    return f"({e})" if e.op == "add" else str(e)


_BINARY: dict[str, Callable] = {"add": operator.add, "mul": operator.mul,
                                "floordiv": operator.floordiv, "mod": operator.mod,
                                "truediv": operator.truediv, "pow": operator.pow,
                                "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
                                "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_RELATIONS = {"eq": "Eq({}, {})", "ne": "Ne({}, {})", "lt": "{} < {}", "le": "{} <= {}",
              "gt": "{} > {}", "ge": "{} >= {}"}


def const(v: int) -> Expr:
    return Expr("const", v)


def as_expr(v: Any) -> Expr:
    """``v`` (an int, an Expr or a Sym value) as an Expr."""
    if isinstance(v, Expr):
        return v
    if isinstance(v, _SymValue):
        return v.expr
    return const(v)


def combine(op: str, a: Any, b: Any) -> Expr:
    """``a op b`` with constants folded and ``x + 0``, ``1 * x`` simplified."""
    a, b = as_expr(a), as_expr(b)
    if a.op == "const" and b.op == "const":
        return const(_BINARY[op](a.args[0], b.args[0]))
    if op == "add" and b.op == "const" and b.args[0] == 0:
        return a
    if op == "add" and a.op == "const" and a.args[0] == 0:
        return b
    if op == "mul" and a.op == "const" and a.args[0] == 1:
        return b
    if op == "mul" and b.op == "const" and b.args[0] == 1:
        return a
    if op == "mul" and b.op == "const" and a.op != "const":
        a, b = b, a  # 2*s0, as PyTorch prints
    if op == "mul" and a.op == "const" and b.op == "mul" and b.args[0].op == "const":
        return combine("mul", a.args[0] * b.args[0].args[0], b.args[1])
    if (op == "floordiv" and b.op == "const" and b.args[0] and a.op == "mul"
            and a.args[0].op == "const" and a.args[0].args[0] % b.args[0] == 0):
        return combine("mul", a.args[0].args[0] // b.args[0], a.args[1])  # (2*s0)//2 = s0
    return Expr(op, a, b)


class ValueRanges:
    """The range ``[lower, upper]`` of a symbol; prints as ``VR[2, int_oo]``."""

    def __init__(self, lower: float, upper: float) -> None:
        self.lower = lower
        self.upper = upper

    def __contains__(self, v: int) -> bool:
        return self.lower <= v <= self.upper

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValueRanges) and (self.lower, self.upper) == (
            other.lower, other.upper)

    def __hash__(self) -> int:
        return hash((self.lower, self.upper))

    def __repr__(self) -> str:
        def show(v):
            return "int_oo" if v == int_oo else "-int_oo" if v == -int_oo else str(v)
        return f"VR[{show(self.lower)}, {show(self.upper)}]"


# ------------------------------------------------------------------------------------------------
# The values user code holds


class _SymValue:
    """A number known while exporting (``hint``) that is also a graph node and an expression
    (see NOTE [ Sizes while exporting ]); arithmetic records nodes through ``tracer``."""

    __slots__ = ("tracer", "node", "expr", "hint")

    def __init__(self, tracer, node, expr: Expr, hint: Any) -> None:
        self.tracer = tracer
        self.node = node
        self.expr = expr
        self.hint = hint

    def _binary(self, fn: Callable, other: Any, reverse: bool = False):
        if not isinstance(other, (int, float, _SymValue)):
            return NotImplemented
        return self.tracer.sym_binary(fn, other, self) if reverse else \
            self.tracer.sym_binary(fn, self, other)

    def __add__(self, o): return self._binary(operator.add, o)
    def __radd__(self, o): return self._binary(operator.add, o, True)
    def __sub__(self, o): return self._binary(operator.sub, o)
    def __rsub__(self, o): return self._binary(operator.sub, o, True)
    def __mul__(self, o): return self._binary(operator.mul, o)
    def __rmul__(self, o): return self._binary(operator.mul, o, True)
    def __floordiv__(self, o): return self._binary(operator.floordiv, o)
    def __rfloordiv__(self, o): return self._binary(operator.floordiv, o, True)
    def __truediv__(self, o): return self._binary(operator.truediv, o)
    def __rtruediv__(self, o): return self._binary(operator.truediv, o, True)
    def __mod__(self, o): return self._binary(operator.mod, o)
    def __pow__(self, o): return self._binary(operator.pow, o)
    def __eq__(self, o): return self._binary(operator.eq, o)
    def __ne__(self, o): return self._binary(operator.ne, o)
    def __lt__(self, o): return self._binary(operator.lt, o)
    def __le__(self, o): return self._binary(operator.le, o)
    def __gt__(self, o): return self._binary(operator.gt, o)
    def __ge__(self, o): return self._binary(operator.ge, o)
    def __neg__(self): return self._binary(operator.mul, -1)
    def __hash__(self): return id(self)

    def __bool__(self) -> bool:
        return bool(self.tracer.guard(self, "bool"))

    def __index__(self) -> int:
        return self.tracer.guard(self, "int")

    def __int__(self) -> int:
        return int(self.tracer.guard(self, "int"))

    def __float__(self) -> float:
        return float(self.tracer.guard(self, "float"))

    def __repr__(self) -> str:
        return str(self.expr)


class SymInt(_SymValue):
    """``torch.SymInt``: an int that export tracks symbolically."""


class SymFloat(_SymValue):
    """``torch.SymFloat``: a float from ``.item()`` while exporting."""


class SymBool(_SymValue):
    """``torch.SymBool``: the result of comparing symbolic sizes."""


def sym_class(value: Any) -> type:
    """The Sym class that stands for a value of this Python type."""
    if isinstance(value, bool):
        return SymBool
    return SymInt if isinstance(value, int) else SymFloat
