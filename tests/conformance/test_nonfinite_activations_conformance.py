"""Activations, clamps and selections against PyTorch at NaN, +-inf and +-0, forward and x.grad,
with inf and NaN upstream gradients, in every float dtype, through the functional, module and
in-place forms. Where PyTorch's backward selects ("grad where condition, else 0"), an inf or NaN
gradient at a dropped position gives 0, and a NaN input goes to the branch PyTorch's condition
sends it to.

Non-finite values and zeros must match exactly (NaN == NaN, the sign of inf and of zero);
finite non-zero values to a tolerance (the kernels round differently). PyTorch's own answer at an
element can depend on whether its vectorized or its scalar loop computed it (the sign of
maximum(-0.0, 0.0), gelu(inf) in float32, hardtanh's gradient at NaN in float64): each element
is also computed alone and in a long vector, and only what all three layouts agree on is checked.
"""
import math

import pytest

import ember

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
VALUES = [NAN, -1.0, 0.0, -0.0, 2.0, 7.0, INF, -INF, -3.0, 3.0, 0.5, -0.5, 6.0, 1.0, -2.5]
GRADS = [1.0, INF, -INF, NAN, 3.0, INF, 4.0, 5.0, INF, -INF, NAN, INF, INF, NAN, -INF]
DTYPES = ["float16", "bfloat16", "float32", "float64"]
RTOL = {"float16": 4e-3, "bfloat16": 2e-2, "float32": 1e-5, "float64": 1e-7}


def _F(lib):
    return lib.nn.functional


def _zeros(lib, x):
    return lib.zeros_like(x)


# name: (function, module factory or None, in-place function or None); x is a float tensor.
OPS = {
    "relu": (lambda L, x: _F(L).relu(x), lambda L: L.nn.ReLU(), lambda L, x: x.relu_()),
    "relu6": (lambda L, x: _F(L).relu6(x), lambda L: L.nn.ReLU6(),
              lambda L, x: _F(L).relu6(x, inplace=True)),
    "hardtanh": (lambda L, x: _F(L).hardtanh(x, -1.0, 3.0), lambda L: L.nn.Hardtanh(),
                 lambda L, x: _F(L).hardtanh_(x)),
    "threshold": (lambda L, x: _F(L).threshold(x, 1.0, 20.0),
                  lambda L: L.nn.Threshold(0.0, 0.0),
                  lambda L, x: _F(L).threshold_(x, 0.5, -4.0)),
    "clamp": (lambda L, x: L.clamp(x, 0, 3), None, lambda L, x: x.clamp_(-1, 2)),
    "clamp_min": (lambda L, x: L.clamp(x, min=0), None, lambda L, x: x.clamp_min_(1.0)),
    "clamp_max": (lambda L, x: L.clamp_max(x, 1.0), None, lambda L, x: x.clamp_max_(0.0)),
    "clamp_tensor": (lambda L, x: L.clamp(x, _zeros(L, x), L.full_like(x, 3.0)), None, None),
    "clamp_tensor_nan": (lambda L, x: L.clamp(x, min=L.full_like(x, NAN)), None, None),
    "elu": (lambda L, x: _F(L).elu(x), lambda L: L.nn.ELU(2.0),
            lambda L, x: _F(L).elu_(x)),
    "celu": (lambda L, x: _F(L).celu(x, 0.5), lambda L: L.nn.CELU(),
             lambda L, x: _F(L).celu(x, inplace=True)),
    "selu": (lambda L, x: _F(L).selu(x), lambda L: L.nn.SELU(),
             lambda L, x: _F(L).selu(x, inplace=True)),
    "hardswish": (lambda L, x: _F(L).hardswish(x), lambda L: L.nn.Hardswish(),
                  lambda L, x: _F(L).hardswish(x, inplace=True)),
    "hardsigmoid": (lambda L, x: _F(L).hardsigmoid(x), lambda L: L.nn.Hardsigmoid(),
                    lambda L, x: _F(L).hardsigmoid(x, inplace=True)),
    "hardshrink": (lambda L, x: _F(L).hardshrink(x), lambda L: L.nn.Hardshrink(1.0), None),
    "softshrink": (lambda L, x: _F(L).softshrink(x), lambda L: L.nn.Softshrink(1.0), None),
    "leaky_relu": (lambda L, x: _F(L).leaky_relu(x, 0.25), lambda L: L.nn.LeakyReLU(),
                   lambda L, x: _F(L).leaky_relu_(x, 0.5)),
    "rrelu_eval": (lambda L, x: _F(L).rrelu(x), lambda L: L.nn.RReLU().eval(), None),
    "prelu": (lambda L, x: _F(L).prelu(x, L.tensor([0.25], dtype=x.dtype)), None, None),
    "softplus": (lambda L, x: _F(L).softplus(x), lambda L: L.nn.Softplus(2.0, 5.0), None),
    "logsigmoid": (lambda L, x: _F(L).logsigmoid(x), lambda L: L.nn.LogSigmoid(), None),
    "silu": (lambda L, x: _F(L).silu(x), lambda L: L.nn.SiLU(),
             lambda L, x: _F(L).silu(x, inplace=True)),
    "mish": (lambda L, x: _F(L).mish(x), lambda L: L.nn.Mish(),
             lambda L, x: _F(L).mish(x, inplace=True)),
    "gelu": (lambda L, x: _F(L).gelu(x), lambda L: L.nn.GELU(), None),
    "gelu_tanh": (lambda L, x: _F(L).gelu(x, approximate="tanh"),
                  lambda L: L.nn.GELU(approximate="tanh"), None),
    "sigmoid": (lambda L, x: L.sigmoid(x), lambda L: L.nn.Sigmoid(), lambda L, x: x.sigmoid_()),
    "tanh": (lambda L, x: L.tanh(x), lambda L: L.nn.Tanh(), lambda L, x: x.tanh_()),
    "softsign": (lambda L, x: _F(L).softsign(x), lambda L: L.nn.Softsign(), None),
    "tanhshrink": (lambda L, x: _F(L).tanhshrink(x), lambda L: L.nn.Tanhshrink(), None),
    "abs": (lambda L, x: L.abs(x), None, lambda L, x: x.abs_()),
    "sign": (lambda L, x: L.sign(x), None, lambda L, x: x.sign_()),
    "floor": (lambda L, x: L.floor(x), None, lambda L, x: x.floor_()),
    "maximum": (lambda L, x: L.maximum(x, _zeros(L, x)), None, None),
    "minimum": (lambda L, x: L.minimum(x, _zeros(L, x)), None, None),
    "maximum_tie": (lambda L, x: L.maximum(x, x.detach() * 1), None, None),
    "fmax": (lambda L, x: L.fmax(x, _zeros(L, x)), None, None),
    "fmin": (lambda L, x: L.fmin(x, L.full_like(x, NAN)), None, None),
    "where": (lambda L, x: L.where(x > 0, x, _zeros(L, x)), None, None),
    "masked_fill": (lambda L, x: x.masked_fill(x < 0, 0.0), None,
                    lambda L, x: x.masked_fill_(x > 2, 1.0)),
    "max_dim": (lambda L, x: (L.stack([x, x * 0.5], -1)).max(-1)[0], None, None),
    "max_pool1d": (lambda L, x: _F(L).max_pool1d(x.reshape(1, 1, -1), 1).reshape(-1),
                   None, None),
}

# The sign of a zero result is not compared: NumPy's clip with array bounds gives clamp(-0.0,
# 0.0) = 0.0 (PyTorch -0.0), and PyTorch's fmax(-0.0, 0.0) is 0.0 in bfloat16 only.
SIGN_FREE = {"clamp_tensor", "fmax"}

# PyTorch's in-place ELU family computes the gradient from the result, whose half-precision
# rounding leaves a residue where the slope is 0 (x = -inf): ember gives the exact 0 there.
RESULT_RESIDUE = {"elu", "celu", "selu"}

CASES = [(name, form) for name, forms in OPS.items()
         for form, fn in zip(("function", "module", "inplace"), forms) if fn is not None]


def _run(lib, name: str, form: str, dtype: str, values, grads):
    """(forward, x.grad) as lists of floats; both keep x's dtype."""
    fn = OPS[name][("function", "module", "inplace").index(form)]
    dt = getattr(lib, dtype)
    x = lib.tensor(values, dtype=dt, requires_grad=True)
    if form == "function":
        y = fn(lib, x)
    elif form == "module":
        y = fn(lib)(x)
    else:
        y = fn(lib, x * 1)
    y.backward(lib.tensor(grads, dtype=dt))
    grad = x.grad if x.grad is not None else lib.zeros_like(x)
    assert y.dtype == dt and grad.dtype == dt
    return y.detach().double().tolist(), grad.double().tolist()


def _torch_layouts(name: str, form: str, dtype: str):
    """PyTorch's forward and gradient per element, None where its layouts disagree."""
    full = _run(torch, name, form, dtype, VALUES, GRADS)
    out = ([], [])
    for i, (v, g) in enumerate(zip(VALUES, GRADS)):
        alone = _run(torch, name, form, dtype, [v], [g])
        wide = _run(torch, name, form, dtype, [v] * 40, [g] * 40)
        for k in (0, 1):
            seen = {repr(full[k][i]), repr(alone[k][0]), repr(wide[k][0]), repr(wide[k][-1])}
            out[k].append(full[k][i] if len(seen) == 1 else None)
    return out


def _same(want: float, got: float, dtype: str, signed_zero: bool) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or want == 0:
        return got == want and (not signed_zero or math.copysign(1, got) == math.copysign(1, want))
    return math.isclose(got, want, rel_tol=RTOL[dtype], abs_tol=RTOL[dtype] / 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,form", CASES)
def test_matches_torch_at_nonfinite_values(name, form, dtype):
    want = _torch_layouts(name, form, dtype)
    got = _run(ember, name, form, dtype, VALUES, GRADS)
    bad = []
    for what, w, g in zip(("forward", "grad"), want, got):
        for i, (wv, gv) in enumerate(zip(w, g)):
            residue = (what == "grad" and form == "inplace" and name in RESULT_RESIDUE
                       and VALUES[i] == -INF and dtype in ("float16", "bfloat16"))
            if wv is not None and not residue and not _same(wv, gv, dtype,
                                                            name not in SIGN_FREE):
                bad.append(f"{what} at x={VALUES[i]}, grad={GRADS[i]}: torch {wv}, ember {gv}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["max", "min", "amax_rows", "amin_rows", "max_rows"])
def test_reductions_select_their_gradient(reduction, dtype):
    """max()/min() select the gradient (NaNs and ties share it; an inf gradient leaves the
    others 0), as max(dim) does; amax/amin multiply it by the ties, as PyTorch: an inf gradient
    gives NaN to the others, and a NaN row NaN throughout."""
    rows = [[NAN, 1.0, 1.0], [1.0, 1.0, -2.0], [-0.0, 0.0, -INF], [2.0, INF, 3.0]]
    rows += [[NAN, 0.0, NAN]] if reduction in ("max", "min") else []
    results = []
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        x = lib.tensor(rows, dtype=dt, requires_grad=True)
        if reduction in ("max", "min"):
            y = getattr(x, reduction)()
            y.backward(lib.tensor(INF, dtype=dt))
        else:
            fn = getattr(x, reduction.split("_")[0])
            y = fn(1)[0] if reduction == "max_rows" else fn(1)
            y.backward(lib.tensor([INF, 5.0, -INF, 2.0], dtype=dt))
        results.append([repr(v) for v in x.grad.double().flatten().tolist()])
    assert results[0] == results[1]
