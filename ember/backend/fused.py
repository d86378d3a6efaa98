"""Fused elementwise kernels: an expression over arrays, run as one kernel on NumPy or CuPy.

``evaluate`` computes one expression; ``update`` runs assignments that write arrays in place::

    from ember.backend import fused
    y = fused.evaluate("where(x > 0, x, alpha * expm1(x))", x=x, alpha=1.0)   # ELU
    fused.update("m = m + w * (g - m); p = p - lr * m", m=m, p=p, g=g, w=0.1, lr=0.01)

The language is Python syntax over the operands' names: number literals, ``+ - * / **``, unary
``-``, one comparison (``< <= > >= == !=``), ``& | ~`` on booleans, ``where(cond, a, b)`` and the
functions in ``FUNCTIONS`` (NumPy's names). Operations run in the order Python parses them, each
rounded to the compute dtype, so float32/float64 results equal the same NumPy expression's bit for
bit (transcendental functions may differ in the last bit between CPU and GPU libraries).
``update``'s statements (separated by ``;`` or newlines) run in order for every element, so a
later statement sees the values an earlier one assigned; a target whose name starts with ``_``
is a local (a temporary in the compute dtype, e.g. ``_g = g + p * wd``), any other an operand.

Dtypes follow PyTorch: the compute dtype is the promoted dtype of the floating array operands,
and float16/bfloat16 compute in float32 (as PyTorch's kernels do); Python scalars, NumPy scalars
and number literals are weak, cast to the compute dtype, so float32 in gives float32 out. A
comparison gives bool. Arrays broadcast. ``evaluate``'s ``out`` and ``update``'s targets must have
the full broadcast shape and may be operands too (each element is read before it is written),
but must not otherwise overlap another operand.

Engines (what differs between NumPy and CuPy lives here): CuPy arrays run one
``cupy.ElementwiseKernel`` generated from the source (``cuda_source``, a pure function of the
source and dtypes), cached per source and dtypes (``ember.backend.multi_tensor`` runs the same
per-element code over many tensors in one launch). NumPy arrays run the expression as a sequence
of NumPy ufuncs writing into scratch arrays, over pieces of at most ``BLOCK`` values of
contiguous same-shape operands, so that a piece's arrays stay in the core's cache between the
ufuncs (NumPy's SIMD loops then run at cache speed, and one pass goes through memory) and the
scratch arrays are piece-sized. numexpr, the obvious alternative, was measured slower here:
without Intel's VML its loops are scalar (at 1M float32 values, 6x NumPy's time for a tanh GELU,
1.8x for Adam's step; faster only for a 2-op axpy). CuPy is imported on first use.

A call costs a few microseconds of Python before its ufuncs or its launch, so it pays for
kernels of several operations, not for a single op (``a + b`` stays a plain ufunc).
"""
from __future__ import annotations

import ast
import functools
import math
from typing import Callable, NamedTuple

import numpy as np

from ember.dtypes import np_kind

__all__ = ["BLOCK", "FUNCTIONS", "cuda_source", "evaluate", "prepare_update", "update"]

# name: (number of arguments, NumPy function, CUDA function)
FUNCTIONS = {
    "exp": (1, np.exp, "exp"), "expm1": (1, np.expm1, "expm1"), "log": (1, np.log, "log"),
    "log1p": (1, np.log1p, "log1p"), "log2": (1, np.log2, "log2"),
    "log10": (1, np.log10, "log10"), "sqrt": (1, np.sqrt, "sqrt"),
    "sin": (1, np.sin, "sin"), "cos": (1, np.cos, "cos"), "tan": (1, np.tan, "tan"),
    "sinh": (1, np.sinh, "sinh"), "cosh": (1, np.cosh, "cosh"), "tanh": (1, np.tanh, "tanh"),
    "arcsin": (1, np.arcsin, "asin"), "arccos": (1, np.arccos, "acos"),
    "arctan": (1, np.arctan, "atan"), "arctan2": (2, np.arctan2, "atan2"),
    "abs": (1, np.absolute, "fabs"), "floor": (1, np.floor, "floor"),
    "ceil": (1, np.ceil, "ceil"), "trunc": (1, np.trunc, "trunc"),
    "copysign": (2, np.copysign, "copysign"), "sign": (1, np.sign, "ember_sign"),
    "maximum": (2, np.maximum, "ember_maximum"), "minimum": (2, np.minimum, "ember_minimum"),
    "isnan": (1, np.isnan, "isnan"), "isinf": (1, np.isinf, "isinf"),
    "isfinite": (1, np.isfinite, "isfinite"), "where": (3, None, None),
}
_BOOL_FUNCTIONS = frozenset({"isnan", "isinf", "isfinite"})

# Values per piece on the CPU: a piece's operands and scratch arrays (Adam: 7 x 256 KB for
# float32) stay in the core's cache (2 MB L2) between ufuncs. Adam on 4M float32 values: 35%
# faster than whole arrays with 32K-128K pieces (measured alike); arrays that fit in the cache
# anyway only pay the pieces' extra calls (100K values: +30%), so only larger ones are split.
BLOCK = 1 << 16

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
           ast.BitAnd: "&", ast.BitOr: "|"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!="}
_UFUNCS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide,
           "**": np.power, "&": np.logical_and, "|": np.logical_or, "<": np.less,
           "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
           "!=": np.not_equal}
_WEAK = (float, int, bool)  # NumPy 2 casts these Python scalars to the array's dtype
_RESULT = "return"  # the target of ``evaluate``'s expression (a keyword: never a name)


# ----------------------------------------------------------------------------------------------
# Parsing: the source becomes statements of small trees of tuples, the same for every engine.
#   ("name", n)  ("lit", index)  ("bool", value)  ("ipow", x, exponent)
#   ("bin", op, a, b)  ("neg", a)  ("not", a)  ("cmp", op, a, b)  ("call", f, args...)

class _Program(NamedTuple):
    names: tuple  # operand names, in order of first use (targets included)
    literals: tuple  # the number literals, indexed by the trees' ("lit", i)
    statements: tuple  # (target, tree) pairs; one (_RESULT, tree) for an expression


@functools.lru_cache(maxsize=None)
def _parse(source: str) -> _Program:
    names: list = []
    literals: list = []

    def fail(node):
        raise ValueError(f"fused source {source!r}: unsupported {ast.unparse(node)!r}")

    local: set = set()

    def name(node) -> str:
        if node.id in FUNCTIONS:
            fail(node)
        if node.id.startswith("_"):
            if node.id not in local:
                raise ValueError(f"fused source {source!r}: {node.id} is read before it is "
                                 "assigned")
        elif node.id not in names:
            names.append(node.id)
        return node.id

    def lower(node) -> tuple:
        if isinstance(node, ast.Name):
            return ("name", name(node))
        if isinstance(node, ast.Constant) and type(node.value) is bool:
            return ("bool", node.value)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            literals.append(node.value)
            return ("lit", len(literals) - 1)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            right = node.right
            if (isinstance(node.op, ast.Pow) and isinstance(right, ast.Constant)
                    and type(right.value) is int):
                return ("ipow", lower(node.left), right.value)  # NumPy squares x ** 2 exactly
            return ("bin", _BINARY[type(node.op)], lower(node.left), lower(right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return ("neg", lower(node.operand))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return ("not", lower(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return ("cmp", _COMPARE[type(node.ops[0])], lower(node.left),
                    lower(node.comparators[0]))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in FUNCTIONS and not node.keywords
                and len(node.args) == FUNCTIONS[node.func.id][0]):
            return ("call", node.func.id, *[lower(a) for a in node.args])
        fail(node)

    try:
        statements = ((_RESULT, lower(ast.parse(source, mode="eval").body)),)
    except SyntaxError:
        try:
            body = ast.parse(source, mode="exec").body
        except SyntaxError as e:
            raise ValueError(f"fused source {source!r}: {e.msg}") from None
        statements = []
        for node in body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                fail(node)
            tree = lower(node.value)
            target = node.targets[0].id
            if target.startswith("_"):
                local.add(target)
            statements.append((name(node.targets[0]), tree))
        statements = tuple(statements)
    return _Program(tuple(names), tuple(literals), statements)


def _targets(program: _Program) -> list:
    """The operands that statements assign, in order."""
    return list(dict.fromkeys(t for t, _ in program.statements if t[0] != "_" and t != _RESULT))


def _reads(t: tuple, name: str) -> int:
    """How many times the tree ``t`` reads ``name``."""
    if t[0] == "name":
        return int(t[1] == name)
    return sum(_reads(a, name) for a in t[1:] if isinstance(a, tuple))


def _is_bool(t: tuple, bools: set) -> bool:
    """Whether the value of ``t`` is boolean; ``bools`` names the boolean operands and locals."""
    kind = t[0]
    if kind == "name":
        return t[1] in bools
    if kind in ("bool", "cmp", "not"):
        return True
    if kind == "bin":
        return t[1] in ("&", "|")
    if kind == "call":
        if t[1] == "where":
            return _is_bool(t[3], bools) and _is_bool(t[4], bools)
        return t[1] in _BOOL_FUNCTIONS
    return False


def _result_dtype(dtypes) -> np.dtype:
    """The promoted dtype of the non-boolean array operands (float32 when there are none);
    ``dtypes`` holds None for scalars."""
    floats = [d for d in map(np.dtype, filter(None, dtypes)) if d.kind != "b"]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float32)
    if np_kind(dtype) != "f":
        raise TypeError(f"fused expressions take floating-point arrays, not {dtype}")
    return dtype


def _compute_dtype(dtypes) -> np.dtype:
    """The dtype the arithmetic runs in: the result dtype, at least float32."""
    dtype = _result_dtype(dtypes)
    return dtype if dtype.itemsize >= 4 else np.dtype(np.float32)


# ----------------------------------------------------------------------------------------------
# NumPy arrays: a sequence of ufuncs over cache-sized pieces.

class _HostPlan(NamedTuple):
    compute: np.dtype
    result: np.dtype | None  # of ``evaluate``'s expression; None for ``update``
    arrays: tuple  # the operands' registers that hold arrays
    scalars: tuple  # ... that hold scalars meeting a float array in each op they are in
    typed: tuple  # ... that hold the other scalars
    targets: tuple  # ... that ``update`` assigns
    constants: tuple  # registers after the operands and the result: literals, cast
    temps: tuple  # the dtypes of the scratch registers, after the constants
    code: tuple  # (function, input registers, output register)


def _where(c, a, b, out) -> None:
    np.copyto(out, b)
    np.copyto(out, a, where=c)


def _copy(x, out) -> None:
    np.copyto(out, x)


def _host_plan(source: str, dtypes: tuple) -> _HostPlan:
    """Compile ``source`` for operands of ``dtypes`` (None for a scalar) into register code.

    Registers: the operands, the result of ``evaluate``, the constants, the scratch arrays. A
    node's value goes to a scratch register of its dtype, reusing an input's when it is scratch
    (a ufunc may write over its input); a statement's root op writes its target directly.
    Operands of another float dtype than the compute dtype are first copied into scratch.
    """
    program = _parse(source)
    names = program.names
    compute = _compute_dtype(dtypes)
    boolean = np.dtype(np.bool_)
    bools = {n for n, d in zip(names, dtypes) if d is not None and d.kind == "b"}
    constants = [compute.type(v) for v in program.literals]
    temps: list = []
    free: dict = {}  # dtype: scratch registers not in use
    code: list = []
    reads: dict = {}  # operand or local: the scratch register holding it in compute dtype
    upcast = {n for n, d in zip(names, dtypes) if d is not None and d.kind != "b" and d != compute}

    def constant(value) -> tuple:
        constants.append(value)
        return ("c", len(constants) - 1)

    def dtype_of(tree: tuple) -> np.dtype:
        return boolean if _is_bool(tree, bools) else compute

    def scratch(dtype) -> tuple:
        if free.get(dtype):
            return free[dtype].pop()
        temps.append(dtype)
        return ("t", len(temps) - 1)

    spare: dict = {}  # the statement's target register: reads of its old value still to run

    def release(register: tuple) -> None:
        if register in spare:
            spare[register] -= 1
            if spare[register] > 0:
                return
            # The old value is dead: until the statement ends the register is scratch, so that
            # b = b * momentum + g runs b *= momentum in place (less memory traffic).
            free.setdefault(compute, []).append(register)
        elif register[0] == "t" and register not in reads.values():  # reads' are in use
            free.setdefault(temps[register[1]], []).append(register)

    def gen(t: tuple, out: tuple | None = None) -> tuple:
        kind = t[0]
        if kind == "name":
            if t[1] in reads:
                return reads[t[1]]
            if t[1] not in upcast:
                return ("v", names.index(t[1]))
            reads[t[1]] = scratch(compute)
            code.append((_copy, (("v", names.index(t[1])),), reads[t[1]]))
            return reads[t[1]]
        if kind == "lit":
            return ("c", t[1])
        if kind == "bool":
            return constant(np.bool_(t[1]))
        if kind == "ipow":
            fn, args = np.power, (gen(t[1]), constant(compute.type(t[2])))
            if t[2] == 2:
                fn, args = np.square, args[:1]
        elif kind in ("bin", "cmp"):
            fn, args = _UFUNCS[t[1]], (gen(t[2]), gen(t[3]))
        elif kind == "neg":
            fn, args = np.negative, (gen(t[1]),)
        elif kind == "not":
            fn, args = np.logical_not, (gen(t[1]),)
        elif t[1] == "where":
            fn, args = _where, tuple(gen(a) for a in t[2:])
        else:
            fn, args = FUNCTIONS[t[1]][1], tuple(gen(a) for a in t[2:])
        dtype = dtype_of(t)
        if fn is _where:  # it writes its output before it has read all its inputs
            value = scratch(dtype)
        for a in args:
            release(a)
        if fn is not _where:
            reuse = [a for a in args if a in free.get(dtype, ())]
            if out is not None:
                value = out
            elif reuse:
                value = reuse[0]
                free[dtype].remove(value)
            else:
                value = scratch(dtype)
        code.append((fn, args, value))
        return value

    for target, tree in program.statements:
        if target.startswith("_"):  # a local: its value stays in a scratch register
            value = gen(tree)
            if value[0] != "t" or value in reads.values():
                code.append((_copy, (value,), scratch(dtype_of(tree))))
                value = code[-1][2]
            old = reads.get(target)
            reads[target] = value
            if old is not None and old != value:
                release(old)
            if _is_bool(tree, bools):
                bools.add(target)
            continue
        register = ("r",) if target == _RESULT else ("v", names.index(target))
        if target != _RESULT and target not in upcast:
            spare[register] = _reads(tree, target)
        value = gen(tree, register)
        if value != register:
            code.append((_copy, (value,), register))
            release(value)
        if spare.pop(register, None) is not None and register in free.get(compute, ()):
            free[compute].remove(register)
        if target in reads:  # the operand changed: a later read copies it again
            free.setdefault(compute, []).append(reads.pop(target))

    offsets = {"v": 0, "r": len(names), "c": len(names) + 1,
               "t": len(names) + 1 + len(constants)}

    def index(register: tuple) -> int:
        return offsets[register[0]] + (register[1] if len(register) > 1 else 0)

    code = tuple((fn, tuple(map(index, args)), index(out)) for fn, args, out in code)
    result = None
    if program.statements[0][0] == _RESULT:
        result = boolean if _is_bool(program.statements[0][1], bools) else _result_dtype(dtypes)
    targets = tuple(names.index(t) for t in _targets(program))
    if any(dtypes[i] is None for i in targets):
        raise TypeError(f"fused source {source!r}: a target must be an array")
    scalars = {i for i, d in enumerate(dtypes) if d is None}
    floats = {i for i, d in enumerate(dtypes) if d is not None and d.kind != "b"}
    floats.update(index(("t", i)) for i, d in enumerate(temps) if d == compute)
    typed = {a for _, args, _ in code if floats.isdisjoint(args) for a in args if a in scalars}
    return _HostPlan(compute, result, tuple(i for i, d in enumerate(dtypes) if d is not None),
                     tuple(sorted(scalars - typed)), tuple(sorted(typed)), targets,
                     tuple(constants), tuple(temps), code)


_host_plans: dict = {}


def _bind_host(source: str, values: list, out, block: int):
    """Check and bind ``source`` on NumPy ``values`` (in the order of its names): a callable
    that runs it in pieces of ``block`` values (0: whole arrays) and returns ``out``, the
    result register (None for ``update``; allocated here if ``evaluate`` gave none)."""
    key = (source, *[v.dtype if isinstance(v, np.ndarray) else None for v in values])
    plan = _host_plans.get(key)
    if plan is None:
        plan = _host_plans[key] = _host_plan(source, key[1:])
    # Python scalars are weak in NumPy 2: an op with a float array operand (of the compute
    # dtype, as all are) casts them to it first, as casting them here would. Other scalars (in
    # ops between scalars, or NumPy scalars of another dtype) are cast to the compute dtype.
    cast = plan.compute.type
    for i in plan.scalars:
        if type(values[i]) not in _WEAK:
            values[i] = cast(values[i])
    for i in plan.typed:
        values[i] = cast(values[i])
    shapes = {values[i].shape for i in plan.arrays}
    same = len(shapes) == 1
    shape = shapes.pop() if same else np.broadcast_shapes(*shapes)
    for i in plan.targets:
        if values[i].shape != shape:
            raise ValueError(f"fused: the target {_parse(source).names[i]!r} must have the "
                             f"operands' broadcast shape {shape}")
    if plan.result is not None:
        if out is None:
            out = np.empty(shape, plan.result)
        elif out.shape != shape or out.dtype != plan.result:
            raise ValueError(f"fused: out is {out.dtype} of shape {out.shape}, the result "
                             f"{plan.result} of shape {shape}")
    size = math.prod(shape)
    regs = [*values, out, *plan.constants]
    pieces = 0 < block < size and same and (out is None or out.flags.c_contiguous) and all(
        values[i].flags.c_contiguous for i in plan.arrays)

    def run():
        if pieces:
            _run_pieces(plan, regs, size, block)
        else:  # scratch allocated only now, so that bound kernels waiting to run hold none
            _run_code(plan.code, regs + [np.empty(shape, d) for d in plan.temps])
        return out

    return run


def _run_pieces(plan: _HostPlan, values: list, size: int, block: int) -> None:
    """Run the code on pieces of at most ``block`` values of contiguous same-shape arrays."""
    flat = [v.reshape(-1) if isinstance(v, np.ndarray) and v.ndim else None for v in values]
    pieces = -(-size // block)  # of equal sizes, so no piece is a tiny remainder
    temps = [np.empty(-(-size // pieces), d) for d in plan.temps]
    lo = 0
    for i in range(1, pieces + 1):
        hi = i * size // pieces
        regs = [v if f is None else f[lo:hi] for v, f in zip(values, flat)]
        regs += [t[:hi - lo] for t in temps]
        _run_code(plan.code, regs)
        lo = hi


def _run_code(code: tuple, regs: list) -> None:
    for fn, args, out in code:
        if len(args) == 1:
            fn(regs[args[0]], out=regs[out])
        elif len(args) == 2:
            fn(regs[args[0]], regs[args[1]], out=regs[out])
        else:
            fn(*[regs[a] for a in args], out=regs[out])


# ----------------------------------------------------------------------------------------------
# CuPy arrays: one ElementwiseKernel per source and dtypes.

_CTYPES = {"float32": "float", "float64": "double"}
_PREAMBLE = """\
template <typename T> __device__ T ember_maximum(T a, T b) { return (a != a || a > b) ? a : b; }
template <typename T> __device__ T ember_minimum(T a, T b) { return (a != a || a < b) ? a : b; }
template <typename T> __device__ T ember_sign(T x) { return x > 0 ? T(1) : (x < 0 ? T(-1) : x); }
"""


@functools.lru_cache(maxsize=None)
def cuda_source(source: str, **dtypes: str | None) -> tuple[str, str, str, str]:
    """The CUDA kernel of ``source`` (an expression, or ``update``'s statements):
    ``(in_params, out_params, operation, preamble)`` for ``cupy.ElementwiseKernel``.

    A pure function of its arguments. Operand ``n`` is the kernel parameter ``x_n``; an
    expression's result is ``y``; the targets of statements are output parameters (read and
    written in place).

    Args:
        source: what ``evaluate`` or ``update`` takes.
        dtypes: each operand's NumPy dtype name (``"float32"``, ``"bool"``, ...), or None for a
            scalar (passed in the compute dtype).

    Example::

        >>> cuda_source("a * 0.5 + s", a="float32", s=None)[2]
        'y = ((x_a * 0.5f) + x_s);'
    """
    program = _parse(source)
    missing = set(program.names) - set(dtypes)
    if missing:
        raise TypeError(f"fused source {source!r}: no dtype for {sorted(missing)}")
    storage = _result_dtype([dtypes[n] for n in program.names]).name
    compute = _compute_dtype([dtypes[n] for n in program.names]).name
    if storage not in ("float16", "float32", "float64"):
        raise TypeError(f"fused kernels on CUDA take float16/32/64 arrays, not {storage}")
    ctype = _CTYPES[compute]
    bools = {n for n in program.names if dtypes[n] == "bool"}

    def emit(t: tuple) -> str:
        kind = t[0]
        if kind == "name":
            if t[1].startswith("_"):
                return f"v{t[1]}"
            dtype = dtypes[t[1]]
            if dtype in (None, "bool", compute):
                return f"x_{t[1]}"
            return f"(({ctype}) x_{t[1]})"  # float16 computes in float; float32 with double
        if kind == "lit":
            return _cuda_literal(program.literals[t[1]], ctype)
        if kind == "bool":
            return "true" if t[1] else "false"
        if kind == "ipow":
            base = emit(t[1])
            if t[2] == 2:
                return f"({base} * {base})"
            return f"pow({base}, {_cuda_literal(t[2], ctype)})"
        if kind == "bin" and t[1] == "**":
            return f"pow({emit(t[2])}, {emit(t[3])})"
        if kind in ("bin", "cmp"):
            op = {"&": "&&", "|": "||"}.get(t[1], t[1])
            return f"({emit(t[2])} {op} {emit(t[3])})"
        if kind == "neg":
            return f"(-{emit(t[1])})"
        if kind == "not":
            return f"(!{emit(t[1])})"
        if t[1] == "where":
            return f"({emit(t[2])} ? {emit(t[3])} : {emit(t[4])})"
        return f"{FUNCTIONS[t[1]][2]}({', '.join(emit(a) for a in t[2:])})"

    def typed(dtype: str, name: str) -> str:
        return f"{dtype or compute} {name}"

    lines = []
    outputs = ""
    local: set = set()
    for target, tree in program.statements:
        value = emit(tree)
        dtype = "bool" if _is_bool(tree, bools) else storage
        if target.startswith("_"):
            if _is_bool(tree, bools):
                bools.add(target)
            declare = "" if target in local else ("bool " if dtype == "bool" else ctype + " ")
            local.add(target)
            lines.append(f"{declare}v{target} = {value};")
            continue
        if target == _RESULT:
            outputs = typed(dtype, "y")
            name = "y"
        else:
            dtype, name = dtypes[target], f"x_{target}"
        if dtype == "float16":
            value = f"float16({value})"
        lines.append(f"{name} = {value};")
    targets = _targets(program)
    if targets:
        outputs = ", ".join(typed(dtypes[n], f"x_{n}") for n in targets)
    inputs = ", ".join(typed(dtypes[n], f"x_{n}") for n in program.names if n not in targets)
    operation = "\n".join(lines)
    return inputs, outputs, operation, _PREAMBLE if "ember_" in operation else ""


def _cuda_literal(value, ctype: str) -> str:
    if not np.isfinite(value):
        raise ValueError(f"fused: a literal must be finite, not {value}")
    if ctype == "double":
        return repr(float(value))
    return str(np.float32(value)) + "f"


_cuda_kernels: dict = {}


def _bind_cuda(source: str, values: list, out):
    dtypes = tuple(None if isinstance(v, (int, float, np.generic)) else v.dtype for v in values)
    entry = _cuda_kernels.get((source, dtypes))
    if entry is None:
        entry = _cuda_kernels[source, dtypes] = _cuda_kernel(source, dtypes)
    kernel, cast, order = entry
    values = [v if d is not None else cast(v) for v, d in zip(values, dtypes)]
    if order is None:  # evaluate: the output is allocated by CuPy or given
        return functools.partial(kernel, *values) if out is None else functools.partial(
            kernel, *values, out)
    return functools.partial(kernel, *[values[i] for i in order])


def _cuda_kernel(source: str, dtypes: tuple) -> tuple:
    """The ElementwiseKernel of ``source`` for operands of ``dtypes``, the scalars' type, and
    for statements the order of its arguments (inputs, then targets)."""
    from ember.backend import cuda

    program = _parse(source)
    code = cuda_source(source, **{n: None if d is None else d.name
                                  for n, d in zip(program.names, dtypes)})
    kernel = cuda.cupy().ElementwiseKernel(*code[:3], name="ember_fused", preamble=code[3])
    order = None
    if program.statements[0][0] != _RESULT:
        targets = _targets(program)
        order = [i for i, n in enumerate(program.names) if n not in targets]
        order += [program.names.index(t) for t in targets]
    return kernel, _compute_dtype(dtypes).type, order


# ----------------------------------------------------------------------------------------------

def _bind(source: str, operands: dict, out, block: int | None, expression: bool):
    program = _parse(source)
    if (program.statements[0][0] == _RESULT) != expression:
        raise ValueError(f"fused.evaluate takes an expression, fused.update assignments: "
                         f"{source!r}")
    try:
        values = [operands[n] for n in program.names]
    except KeyError as e:
        raise NameError(f"fused source {source!r} names {e.args[0]!r}, which is not given"
                        ) from None
    for v in values:
        if isinstance(v, np.ndarray):
            return _bind_host(source, values, out, BLOCK if block is None else block)
        if hasattr(v, "__cuda_array_interface__"):
            return _bind_cuda(source, values, out)
    raise TypeError(f"fused source {source!r} needs at least one array operand")


def evaluate(expression: str, out=None, **operands):
    """Evaluate the elementwise ``expression`` over ``operands`` as one fused kernel.

    Args:
        expression: Python syntax over the operand names (see the module docstring).
        out: optional array for the result, of its shape and dtype; may be an operand.
        operands: the arrays (NumPy or CuPy, not both) and scalars the expression names.

    Returns:
        ``out``, or a new array of the operands' broadcast shape and the result's dtype.

    Example::

        >>> x = np.array([-1.0, 2.0], np.float32)
        >>> evaluate("where(x > 0, x, 0.1 * x)", x=x)
        array([-0.1,  2. ], dtype=float32)
    """
    return _bind(expression, operands, out, None, True)()


def update(statements: str, *, block: int | None = None, **operands) -> None:
    """Run the assignments ``statements`` (``name = expression``, separated by ``;`` or
    newlines) for every element, writing the assigned operands in place, as one fused kernel.

    Args:
        statements: the assignments; each target is an array operand of the broadcast shape.
        block: NumPy arrays only: values per piece (default ``BLOCK``; 0: whole arrays, fewer
            and longer ufunc calls, for threads that would otherwise hand the GIL over often).
        operands: the arrays (NumPy or CuPy, not both) and scalars the statements name.

    Example::

        >>> m, g = np.zeros(3, np.float32), np.ones(3, np.float32)
        >>> update("m = m + 0.1 * (g - m)", m=m, g=g); m
        array([0.1, 0.1, 0.1], dtype=float32)
    """
    _bind(statements, operands, None, block, False)()


def prepare_update(statements: str, *, block: int | None = None, **operands) -> Callable:
    """``update`` in two halves: check and bind now (Python work), run later by calling the
    result (on NumPy arrays: only ufuncs, which release the GIL, so that a caller can do the
    Python work of many updates in one thread and run them in several).

    Example::

        >>> run = prepare_update("m = m * 0.5", m=np.ones(2)); run(); run()
    """
    return _bind(statements, operands, None, block, False)
