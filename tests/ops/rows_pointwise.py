"""Op-table rows: pointwise ops (arithmetic, math functions, comparisons, logic, bitwise)."""
from __future__ import annotations

import numpy as np
import scipy.special as sp
from samples import (
    BOOL,
    F32,
    F64,
    FIXED,
    FLOAT,
    I8,
    I32,
    I64,
    INT,
    NUM,
    U8,
    OpInfo,
    S,
    arr,
    binary_samples,
    fixed,
    m,
    nc,
    reflected_samples,
    sliced,
    unary_samples,
)

POS = (0.5, 3.0)
UNIT = (-0.9, 0.9)


def _unary(name, ref, domain=(-2.0, 2.0), dtypes=FLOAT + (I64,), **kw):
    return OpInfo(name, m(name), ref, unary_samples(domain), dtypes, tags=("unary", domain),
                  **kw)


def _binary(name, ref, domain=(-2.0, 2.0), other_domain=None, dtypes=FLOAT, scalars=True, **kw):
    return OpInfo(name, m(name), ref, binary_samples(domain, other_domain, scalars=scalars),
                  dtypes,
                  tags=("binary", domain, other_domain or domain), **kw)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _rounded_div(rounding):
    def ref(a, b):
        q = rounding(np.true_divide(a, b))
        return q.astype(np.result_type(a, b)) if np.result_type(a, b).kind in "iu" else q
    return ref


def _frac(x):
    return x - np.trunc(x)


UNARY = [
    _unary("neg", np.negative, dtypes=NUM + (I8,)),
    _unary("abs", np.abs, dtypes=NUM + (I8,)),
    _unary("exp", np.exp),
    _unary("exp2", np.exp2),
    _unary("expm1", np.expm1),
    _unary("log", np.log, POS),
    _unary("log2", np.log2, POS),
    _unary("log10", np.log10, POS),
    _unary("log1p", np.log1p, POS),
    _unary("sqrt", np.sqrt, POS),
    _unary("rsqrt", lambda x: 1 / np.sqrt(x), POS),
    _unary("reciprocal", lambda x: 1 / x, POS),
    _unary("square", np.square, dtypes=NUM),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tan", np.tan, (-1.2, 1.2)),
    _unary("asin", np.arcsin, UNIT, dtypes=FLOAT),
    _unary("acos", np.arccos, UNIT, dtypes=FLOAT),
    _unary("atan", np.arctan),
    _unary("sinh", np.sinh),
    _unary("cosh", np.cosh),
    _unary("tanh", np.tanh),
    _unary("asinh", np.arcsinh),
    _unary("acosh", np.arccosh, (1.2, 3.0)),
    _unary("atanh", np.arctanh, UNIT, dtypes=FLOAT),
    _unary("sigmoid", _sigmoid, (-6.0, 6.0)),
    _unary("logit", lambda x: np.log(x / (1 - x)), (0.05, 0.95), dtypes=FLOAT),
    _unary("relu", lambda x: np.maximum(x, 0).astype(x.dtype), dtypes=NUM),
    _unary("erf", sp.erf),
    _unary("erfc", sp.erfc),
    _unary("erfinv", sp.erfinv, UNIT, dtypes=FLOAT),
    _unary("lgamma", sp.gammaln, POS),
    _unary("digamma", sp.digamma, POS),
    OpInfo("polygamma", lambda lib, x: lib.polygamma(2, x), lambda x: sp.polygamma(2, x),
           unary_samples(POS), FLOAT),
    _unary("floor", np.floor, (-3.0, 3.0), dtypes=NUM),
    _unary("ceil", np.ceil, (-3.0, 3.0), dtypes=NUM),
    _unary("round", np.round, (-3.0, 3.0), dtypes=NUM),
    _unary("trunc", np.trunc, (-3.0, 3.0), dtypes=NUM),
    _unary("frac", _frac, (-3.0, 3.0), dtypes=FLOAT),
    _unary("sign", np.sign, dtypes=NUM),
    _unary("sgn", np.sign, dtypes=NUM),
    OpInfo("round_decimals", lambda lib, x: lib.round(x, decimals=2),
           lambda x: np.round(x, 2), unary_samples((-3.0, 3.0)), FLOAT),
    OpInfo("sigmoid_extreme", m("sigmoid"), _sigmoid,
           lambda dt, rng: [S(np.array([-100.0, -20.0, 0.0, 20.0, 100.0], dt))], FLOAT,
           grad=False),
]


def _shift_samples(dt, rng):
    return [S(arr(rng, (3, 4), dt, (0, 9)), arr(rng, (3, 4), dt, (0, 3))),
            S(arr(rng, (3, 4), dt, (0, 9)), 2)]


def _divisor_samples(dt, rng):
    """Divisors kept away from zero, of both signs."""
    sign = np.where(arr(rng, (3, 4), BOOL), 1, -1).astype(dt)
    return [S(arr(rng, (3, 4), dt, (-5, 5)), sign * arr(rng, (3, 4), dt, (1, 3))),
            S(arr(rng, (2, 3, 4), dt, (-5, 5)), arr(rng, (4,), dt, (1, 3))),
            S(nc(rng, (3, 4), dt, (-5, 5)), 3),
            S(arr(rng, (), dt, (-5, 5)), -2)]


BINARY = [
    _binary("add", np.add, dtypes=NUM + (U8, BOOL)),
    _binary("sub", np.subtract, dtypes=NUM + (U8,)),
    _binary("mul", np.multiply, dtypes=NUM + (U8, BOOL)),
    _binary("div", np.true_divide, other_domain=POS, dtypes=NUM),
    _binary("true_divide", np.true_divide, other_domain=POS, dtypes=NUM),
    OpInfo("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=2), lambda a, b: a + 2 * b,
           binary_samples(), NUM),
    OpInfo("sub_alpha", lambda lib, a, b: lib.sub(a, b, alpha=0.5), lambda a, b: a - 0.5 * b,
           binary_samples(), FLOAT),
    OpInfo("div_floor", lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
           _rounded_div(np.floor), _divisor_samples, NUM, grad=False),
    OpInfo("div_trunc", lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
           _rounded_div(np.trunc), _divisor_samples, NUM, grad=False),
    OpInfo("floor_divide", m("floor_divide"), _rounded_div(np.floor), _divisor_samples,
           NUM, grad=False),
    OpInfo("remainder", m("remainder"), np.remainder, _divisor_samples, NUM),
    OpInfo("fmod", m("fmod"), np.fmod, _divisor_samples, NUM),
    _binary("atan2", np.arctan2, dtypes=FLOAT, scalars=False),
    _binary("maximum", np.maximum, dtypes=NUM, scalars=False),
    _binary("minimum", np.minimum, dtypes=NUM, scalars=False),
    OpInfo("fmax", m("fmax"), np.fmax, lambda dt, rng: binary_samples()(dt, rng)[:6], NUM),
    OpInfo("fmin", m("fmin"), np.fmin, lambda dt, rng: binary_samples()(dt, rng)[:6], NUM),
    OpInfo("hypot", m("hypot"), np.hypot, lambda dt, rng: binary_samples()(dt, rng)[:6],
           FLOAT),
    _binary("pow", np.power, POS, (-2.0, 2.0)),
    OpInfo("pow_scalar", lambda lib, x, e: lib.pow(x, e), np.power,
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 2), S(arr(rng, (3, 4), dt), 3),
                            S(arr(rng, (3, 4), dt, POS), 0.5), S(arr(rng, (3, 4), dt, POS), -1),
                            S(arr(rng, (3, 4), dt), 0), S(nc(rng, (2, 3), dt), 2),
                            S(arr(rng, (), dt, POS), -1.5)], FLOAT),
    OpInfo("pow_int", lambda lib, x, e: lib.pow(x, e), np.power,
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (-3, 3)), 2),
                            S(arr(rng, (3, 4), dt, (-3, 3)), arr(rng, (3, 4), dt, (0, 3)))],
           (I32, I64), grad=False),
    OpInfo("pow_int_float", lambda lib, x, e: lib.pow(x, e), np.power,
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (1, 4)), 0.5)], (I64,), grad=False),
    OpInfo("rpow", lambda lib, b, x: lib.pow(b, x), np.power,
           lambda dt, rng: [S(2.0, arr(rng, (3, 4), dt)), S(0.5, nc(rng, (2, 3), dt))],
           FLOAT),
    OpInfo("float_power", m("float_power"), lambda a, b: np.power(a.astype(F64), b),
           binary_samples(POS)),
]


def _op(sym):
    return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide,
            "//": _rounded_div(np.floor), "%": np.remainder,
            "**": np.power, "&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor,
            "<<": np.left_shift, ">>": np.right_shift, "==": np.equal, "!=": np.not_equal,
            "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}[sym]


def _operator(sym):
    code = compile(f"lambda lib, a, b: a {sym} b", "<op>", "eval")
    return eval(code)


OPERATORS = [
    OpInfo(f"op{sym}", _operator(sym), _op(sym),
           _divisor_samples if sym in ("//", "%") else binary_samples(
               POS if sym == "**" else (-2.0, 2.0), POS if sym in ("/",) else None),
           NUM if sym not in ("**",) else FLOAT, grad=sym not in ("//",))
    for sym in ("+", "-", "*", "/", "//", "%", "**")
] + [
    OpInfo(f"rop{sym}", _operator(sym), _op(sym),
           reflected_samples(POS if sym in ("/", "//", "%", "**") else (-2.0, 2.0)),
           NUM if sym not in ("**",) else FLOAT, grad=sym not in ("//", "%"))
    for sym in ("+", "-", "*", "/", "//", "%", "**")
] + [
    OpInfo(f"op{sym}", _operator(sym), _op(sym), binary_samples(), NUM + (BOOL,), grad=False)
    for sym in ("==", "!=", "<", "<=", ">", ">=")
] + [
    OpInfo(f"op{sym}", _operator(sym), _op(sym), binary_samples(), INT + (BOOL,), grad=False)
    for sym in ("&", "|", "^")
] + [
    OpInfo(f"op{sym}", _operator(sym), _op(sym), _shift_samples, INT, grad=False)
    for sym in ("<<", ">>")
] + [
    OpInfo("op_neg", lambda lib, a: -a, np.negative, unary_samples(), NUM),
    OpInfo("op_abs", lambda lib, a: abs(a), np.abs, unary_samples(), NUM),
    OpInfo("op_invert", lambda lib, a: ~a, np.invert, unary_samples(), INT + (BOOL,),
           grad=False),
]

COMPARE = [
    OpInfo(name, m(name), ref, binary_samples((-2, 2)), NUM + (BOOL,), grad=False)
    for name, ref in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                      ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal))
] + [
    OpInfo(name, m(name), ref, binary_samples((-2, 2), scalars=False), NUM + (BOOL,),
           grad=False)
    for name, ref in (("logical_and", np.logical_and), ("logical_or", np.logical_or),
                      ("logical_xor", np.logical_xor))
] + [
    OpInfo("logical_not", m("logical_not"), np.logical_not, unary_samples(), NUM + (BOOL,),
           grad=False),
    OpInfo("isnan", m("isnan"), np.isnan,
           lambda dt, rng: [S(np.array([1.0, np.nan, np.inf, -np.inf], dt))], FLOAT,
           grad=False),
    OpInfo("isinf", m("isinf"), np.isinf,
           lambda dt, rng: [S(np.array([1.0, np.nan, np.inf, -np.inf], dt))], FLOAT,
           grad=False),
    OpInfo("isfinite", m("isfinite"), np.isfinite,
           lambda dt, rng: [S(np.array([1.0, np.nan, np.inf, -np.inf], dt))], FLOAT,
           grad=False),
] + [
    OpInfo(name, m(name), ref, binary_samples(), INT + (BOOL,), grad=False)
    for name, ref in (("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                      ("bitwise_xor", np.bitwise_xor))
] + [
    OpInfo("bitwise_not", m("bitwise_not"), np.invert, unary_samples(), INT + (BOOL,),
           grad=False),
    OpInfo("bitwise_left_shift", m("bitwise_left_shift"), np.left_shift, _shift_samples, INT,
           grad=False),
    OpInfo("bitwise_right_shift", m("bitwise_right_shift"), np.right_shift, _shift_samples,
           INT, grad=False),
]


def _clamp_samples(dt, rng):
    x = arr(rng, (3, 4), dt, (-3, 3))
    lo = arr(rng, (3, 4), dt, (-1.5, -0.2))
    hi = arr(rng, (1, 4), dt, (0.2, 1.5))
    out = [S(x, -1, 1), S(x, None, 1), S(x, -1, None),
           S(nc(rng, (3, 4), dt, (-3, 3)), -1, 2),
           S(arr(rng, (), dt, (-3, 3)), -1, 1)]
    if dt.kind == "f":
        out += [S(x, lo, hi), S(x, lo, None), S(x, None, hi), S(x, -0.5, 0.75),
                S(arr(rng, (2, 3, 4), dt, (-3, 3)), lo, hi)]
    return out


def _where_samples(dt, rng):
    return [S(arr(rng, (3, 4), BOOL), arr(rng, (3, 4), dt), arr(rng, (3, 4), dt)),
            S(arr(rng, (3, 1), BOOL), arr(rng, (1, 4), dt), arr(rng, (3, 4), dt)),
            S(arr(rng, (3, 4), BOOL), nc(rng, (3, 4), dt), arr(rng, (), dt)),
            S(arr(rng, (3, 4), BOOL), arr(rng, (3, 4), dt), 0.0 if dt.kind == "f" else 0)]


def _ternary(dt, rng, domain2=(-2.0, 2.0)):
    return [S(arr(rng, (3, 4), dt), arr(rng, (3, 4), dt), arr(rng, (3, 4), dt, domain2)),
            S(arr(rng, (3, 1), dt), arr(rng, (4,), dt), arr(rng, (1, 4), dt, domain2)),
            S(nc(rng, (3, 4), dt), arr(rng, (), dt), sliced(rng, (3, 4), dt, domain2))]


def _lerp_samples(dt, rng):
    out = _ternary(dt, rng)
    out.append(S(arr(rng, (3, 4), dt), arr(rng, (3, 4), dt), 0.3))
    return out


SELECT = [
    OpInfo("clamp", m("clamp"), lambda x, lo, hi: np.clip(x, lo, hi), _clamp_samples, NUM),
    OpInfo("clamp_kw", lambda lib, x, lo, hi: x.clamp(min=lo, max=hi),
           lambda x, lo, hi: np.clip(x, lo, hi), _clamp_samples, FLOAT),
    OpInfo("clamp_min", m("clamp_min"), np.maximum,
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 0.1), S(arr(rng, (3, 4), dt),
                                                             arr(rng, (4,), dt))], FLOAT),
    OpInfo("clamp_max", m("clamp_max"), np.minimum,
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 0.1), S(arr(rng, (3, 4), dt),
                                                             arr(rng, (4,), dt))], FLOAT),
    OpInfo("clamp_int_float_bound", m("clamp"), lambda x, lo, hi: np.clip(x, lo, hi),
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (-4, 4)), -1.5, 2.5)], (I32, I64),
           grad=False),
    OpInfo("where", m("where"), np.where, _where_samples, NUM),
    OpInfo("lerp", m("lerp"), lambda a, b, w: a + w * (b - a), _lerp_samples, FLOAT),
    OpInfo("addcmul", lambda lib, a, b, c: lib.addcmul(a, b, c, value=0.5),
           lambda a, b, c: a + 0.5 * b * c, _ternary, FLOAT),
    OpInfo("addcmul_default", m("addcmul"), lambda a, b, c: a + b * c, _ternary, FLOAT),
    OpInfo("addcdiv", lambda lib, a, b, c: lib.addcdiv(a, b, c, value=-2),
           lambda a, b, c: a - 2 * b / c, lambda dt, rng: _ternary(dt, rng, POS), FLOAT),
]


def _promotion_samples(rng):
    """Mixed-dtype operands: the result dtype follows PyTorch's promotion rules."""
    return [S(arr(rng, (3,), I32), 1.5), S(arr(rng, (3,), U8), arr(rng, (3,), I8)),
            S(arr(rng, (3,), F32), arr(rng, (), F64)), S(arr(rng, (3,), I32),
                                                          arr(rng, (3,), I32, POS)),
            S(arr(rng, (3,), BOOL), 2), S(arr(rng, (3,), BOOL), arr(rng, (3,), F32)),
            S(arr(rng, (3,), I64), arr(rng, (), F32)), S(arr(rng, (), I64), arr(rng, (3,), I32)),
            S(arr(rng, (3,), F32), arr(rng, (3,), F64)),
            S(arr(rng, (3,), I32), arr(rng, (3,), I64)), S(arr(rng, (3,), I8), True)]


PROMOTION = [
    OpInfo(f"promote_{name}", m(name), ref, fixed(_promotion_samples), FIXED, grad=False)
    for name, ref in (("add", np.add), ("mul", np.multiply), ("eq", np.equal))
] + [
    OpInfo("promote_maximum", m("maximum"), np.maximum,
           fixed(lambda rng: [s for s in _promotion_samples(rng)
                              if isinstance(s.args[1], np.ndarray)]), FIXED, grad=False)
] + [
    OpInfo("promote_div", m("div"), np.true_divide,
           fixed(lambda rng: [s for s in _promotion_samples(rng)
                              if not (isinstance(s.args[1], (bool, int)))]), FIXED, grad=False),
]

ROWS = UNARY + BINARY + OPERATORS + COMPARE + SELECT + PROMOTION
