"""Which dtypes the elementwise ops accept, swept against PyTorch: for bool, integer, half,
float and complex operands, in the out-of-place, in-place (``x.op_()``) and ``out=`` forms,
torch and ember must both raise the same exception type, or both give equal values of one
dtype. ``out=`` gets a tensor of the input's dtype, so castability refusals are covered."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

DTYPES = ("bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64",
          "complex64")
_FIRST = {"b": [True, False, True, False], "u": [0, 1, 2, 3], "i": [-2, 0, 1, 3],
          "f": [-1.5, 0.0, 0.5, 2.0], "c": [1 + 1j, 0, 0.5 - 2j, -1.5 + 0.5j]}
# second operands: no zero divisors apart from bool's False
_SECOND = {"b": [True, True, False, True], "u": [1, 2, 3, 1], "i": [2, -1, 1, 3],
           "f": [0.5, -2.0, 1.5, 3.0], "c": [0.5 - 1j, 2, 1.5j, -1 + 0.5j]}
_THIRD = {"b": [True, False, True, True], "u": [3, 1, 2, 2], "i": [1, 2, -3, 1],
          "f": [1.0, 0.25, -1.0, 2.5], "c": [1j, 0.5, 1 - 1j, 2]}
_NUMBERS = (2, 2.5)
# away from the poles, where torch's float32 polygamma gives large finite values, SciPy inf
_POSITIVE = {"b": [True, False, True, False], "u": [1, 2, 3, 4], "i": [1, 2, 3, 4],
             "f": [0.5, 1.0, 1.5, 2.0], "c": [1 + 1j, 0.5, 2 - 1j, 1.5j]}
_VALUES = {"polygamma": _POSITIVE}

UNARY = ("abs", "absolute", "acos", "arccos", "acosh", "arccosh", "angle", "asin", "arcsin",
         "asinh", "arcsinh", "atan", "arctan", "atanh", "arctanh", "ceil", "conj_physical", "cos",
         "cosh", "deg2rad", "digamma", "erf", "erfc", "erfinv", "exp", "exp2", "expm1", "fix",
         "floor", "frac", "i0", "lgamma", "log", "log10", "log1p", "log2", "logit", "neg",
         "negative", "positive", "rad2deg", "reciprocal", "round", "rsqrt", "sgn", "sigmoid",
         "sign", "sin", "sinc", "sinh", "sqrt", "square", "tan", "tanh", "trunc", "nan_to_num",
         "frexp", "polygamma", "mvlgamma", "bitwise_not", "logical_not", "signbit", "relu")
BINARY = ("add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
          "floor_divide", "remainder", "fmod", "pow", "float_power", "atan2", "arctan2", "hypot",
          "xlogy", "logaddexp", "logaddexp2", "maximum", "minimum", "fmax", "fmin", "copysign",
          "ldexp", "gcd", "lcm", "heaviside", "nextafter", "igamma", "igammac", "xlog1py",
          "logical_and", "logical_or", "logical_xor", "eq", "ne", "lt", "le", "gt", "ge",
          "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
          "bitwise_right_shift")
TERNARY = ("addcmul", "addcdiv", "lerp", "clamp")
_NO_OUT = ("frexp", "positive", "relu")
_SPECIAL = ("xlog1py",)  # torch.special only, without a Tensor method
_EXTRA_ARGS = {"polygamma": (1,), "mvlgamma": (1,)}  # polygamma's n comes first

# {"op form": why} for the differences left; form is "op", "inplace" or "out"
KNOWN: dict = {}


def _kind(name: str) -> str:
    return {"bool": "b", "uint8": "u"}.get(name, name[0] if name[0] in "ic" else "f")


def _pair(values, name: str):
    t = torch.tensor(values[_kind(name)], dtype=getattr(torch, name))
    if name == "bfloat16":
        return t, ember.tensor(t.float().numpy()).to(ember.bfloat16)
    return t, ember.tensor(t.numpy().copy())


def _run(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args), None
        except Exception as exc:  # noqa: BLE001 - the exception itself is compared
            return None, exc


def _numpy(x) -> np.ndarray:
    x = x.detach()
    if isinstance(x, torch.Tensor):
        return x.to(torch.complex128 if x.is_complex() else torch.float64).numpy()
    return x.to(ember.complex128 if x.is_complex() else ember.float64).numpy()


def _compare(label: str, run, torch_args, ember_args):
    """None if ``run`` on torch's and on ember's operands agrees, else what differs."""
    expected, t_exc = _run(run, torch, *torch_args)
    got, e_exc = _run(run, ember, *ember_args)
    if t_exc is not None or e_exc is not None:
        if type(t_exc) is type(e_exc):
            return None
        said = [f"{type(x).__name__}({str(x)[:90]})" if x is not None else "ok"
                for x in (t_exc, e_exc)]
        return f"{label}: torch {said[0]}, ember {said[1]}"
    if isinstance(expected, tuple):
        expected, got = expected[0], got[0]
    t_dtype, e_dtype = str(expected.dtype).split(".")[-1], str(got.dtype).split(".")[-1]
    if t_dtype != e_dtype:
        return f"{label}: dtype torch {t_dtype}, ember {e_dtype}"
    tol = 2e-2 if t_dtype in ("float16", "bfloat16") else 1e-5
    a, b = _numpy(expected), _numpy(got)
    if a.shape != b.shape or not np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True):
        return f"{label}: values torch {a.tolist()}, ember {b.tolist()}"
    return None


def _fn(module, name: str):
    return getattr(module.special if name in _SPECIAL else module, name)


def _caller(name: str, form: str):
    """``run(module, x, *others)``: the op in ``form`` on torch's or ember's operands."""
    extra = _EXTRA_ARGS.get(name, ())

    def run(module, x, *others):
        if form == "inplace":
            return getattr(x.clone(), name + "_")(*others, *extra)
        kw = {"out": module.empty(0, dtype=x.dtype)} if form == "out" else {}
        if name == "polygamma":
            return module.polygamma(*extra, x, **kw)
        return _fn(module, name)(x, *others, *extra, **kw)
    return run


def _operands(values):
    for d in DTYPES:
        yield d, _pair(values, d)
    for n in _NUMBERS:
        yield repr(n), (n, n)


def _check_unary(name: str, form: str) -> list:
    run = _caller(name, form)
    found = []
    for d in DTYPES:
        t, e = _pair(_VALUES.get(name, _FIRST), d)
        found.append(_compare(f"{name} {d}", run, (t,), (e,)))
    return [f for f in found if f]


def _check_binary(name: str, form: str) -> list:
    run = _caller(name, form)
    found = []
    for d in DTYPES:
        t, e = _pair(_FIRST, d)
        for d2, (t2, e2) in _operands(_SECOND):
            if not isinstance(t2, torch.Tensor):
                _, exc = _run(_fn(torch, name), t, t2)
                if isinstance(exc, TypeError):  # torch takes no number here
                    continue
            found.append(_compare(f"{name} {d} {d2}", run, (t, t2), (e, e2)))
    return [f for f in found if f]


def _check_ternary(name: str, form: str) -> list:
    """addcmul/addcdiv/lerp/clamp over dtype triples; lerp's weight and clamp's bounds may be
    numbers too (clamp's both or neither)."""
    run = _caller(name, form)
    found = []
    for d in DTYPES:
        t, e = _pair(_FIRST, d)
        for d2, (t2, e2) in _operands(_SECOND):
            for d3, (t3, e3) in _operands(_THIRD):
                numbers = isinstance(t2, (int, float)) + isinstance(t3, (int, float))
                if numbers and not (name == "clamp" and numbers == 2
                                    or name == "lerp" and d3 == "2.5" and numbers == 1):
                    continue
                found.append(_compare(f"{name} {d} {d2} {d3}", run, (t, t2, t3),
                                      (e, e2, e3)))
    return [f for f in found if f]


def _params():
    for names, check in ((UNARY, _check_unary), (BINARY, _check_binary),
                         (TERNARY, _check_ternary)):
        for name in names:
            for form in ("op", "inplace", "out"):
                if form == "inplace" and not hasattr(torch.Tensor, name + "_"):
                    continue
                if form == "out" and name in _NO_OUT:
                    continue
                key = f"{name} {form}"
                marks = [pytest.mark.xfail(reason=KNOWN[key], strict=True)] \
                    if key in KNOWN else []
                yield pytest.param(check, name, form, id=key.replace(" ", "-"), marks=marks)


@pytest.mark.parametrize("check,name,form", list(_params()))
def test_dtype_refusals_match_torch(check, name, form):
    found = check(name, form)
    assert not found, f"{len(found)} cases differ:\n" + "\n".join(found[:8])


if __name__ == "__main__":  # print every difference, for triage
    for p in _params():
        check, name, form = p.values
        for line in check(name, form):
            print(form, line)
