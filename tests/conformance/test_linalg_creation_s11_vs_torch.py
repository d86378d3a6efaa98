"""Session 11, against real PyTorch: norms of empty inputs, amin/amax/aminmax argument errors,
half-precision addmm-style products rounded once, half-precision linspace/logspace values,
matrix_exp in half precision, and sort's order among ties on short rows."""
import itertools
import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

HALF = ("float16", "bfloat16")


def _run(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` as comparable data, or the error's type and message."""
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 (the finding)
        return type(exc).__name__, str(exc)
    outs = out if isinstance(out, tuple) else (out,)
    return [(tuple(o.shape), str(o.dtype).rsplit(".", 1)[-1],
             o.detach().to(o.dtype if o.is_complex() else ember.float64 if isinstance(
                 o, ember.Tensor) else torch.float64).numpy().tolist()) for o in outs]


def _same(want, got, message: bool = True):
    if isinstance(want, tuple):  # an error
        assert isinstance(got, tuple), f"no error; torch: {want}"
        assert got[0] == want[0], (want, got)
        if message:
            assert got[1] == want[1]
        return
    assert want == got


def _tensor(lib, data, dtype: str):
    if dtype in HALF:  # from float32: a double rounds to half through float in PyTorch only
        return lib.tensor(np.asarray(data, np.float32)).to(getattr(lib, dtype))
    return lib.tensor(np.asarray(data), dtype=getattr(lib, dtype))


def _np(t) -> np.ndarray:
    return t.detach().float().numpy() if t.dtype in (torch.bfloat16, ember.bfloat16) else \
        t.detach().numpy()


# ---------------------------------------------------------------------------------------------
# Norms of empty inputs


SHAPES = [(0,), (0, 3), (3, 0), (2, 0, 3), (0, 0)]
ORDS = [-2, -1, -0.5, 0, 0.5, 1, 2, 3, math.inf, -math.inf, "fro", "nuc"]
DIMS = [None, 0, -1, (0, 1), (-2, -1), [0]]


def _norm_cases():
    for shape, p, dim in itertools.product(SHAPES, ORDS, DIMS):
        if isinstance(dim, tuple) and len(shape) < 2:
            continue
        yield shape, p, dim


@pytest.mark.parametrize("how", ["torch.norm", "Tensor.norm", "linalg.norm", "vector_norm",
                                 "matrix_norm"])
def test_norms_of_empty_inputs_match_torch(how):
    for shape, p, dim in _norm_cases():
        for keepdim in (False, True):
            want, got = (_run(_norm, lib, how, shape, p, dim, keepdim) for lib in (torch, ember))
            # argument-parser TypeErrors are worded by PyTorch's generated bindings
            _same(want, got, message=not (isinstance(want, tuple) and want[0] == "TypeError"))


def _norm(lib, how: str, shape, p, dim, keepdim: bool):
    x = lib.zeros(shape)
    if how == "torch.norm":
        return lib.norm(x, p, dim, keepdim)
    if how == "Tensor.norm":
        return x.norm(p=p, dim=dim, keepdim=keepdim)
    if how == "linalg.norm":
        return lib.linalg.norm(x, p, dim, keepdim)
    if how == "vector_norm":
        return lib.linalg.vector_norm(x, p, dim, keepdim)
    return lib.linalg.matrix_norm(x, p, dim if dim is not None else (-2, -1), keepdim)


def test_negative_norm_of_empty_dim_names_the_dim_as_written():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="-1 norm on the dimension -2because"):
            lib.zeros(0, 3).norm(p=-1, dim=-2)
        with pytest.raises(RuntimeError, match="-0.5 norm on an empty tensor"):
            lib.zeros(0).norm(p=-0.5)


def test_nuclear_and_frobenius_norms_over_other_dims_match_torch():
    x = np.arange(24.0).reshape(2, 3, 4)
    for p, dim in itertools.product(("nuc", "fro"), (None, 0, (0, 1), (2, 0), (0, 1, 2))):
        want = _run(torch.norm, torch.tensor(x), p, dim)
        got = _run(ember.norm, ember.tensor(x), p, dim)
        if isinstance(want, tuple):
            _same(want, got)
        else:
            np.testing.assert_allclose(got[0][2], want[0][2], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# amin / amax / aminmax argument errors


@pytest.mark.parametrize("name", ["amin", "amax"])
def test_amin_amax_errors_match_torch(name):
    shapes = [(0,), (0, 3), (3, 0), (2, 0, 3), (), (3,), (2, 3)]
    dims = [(), -1, 0, 1, -2, (0, 1), (0, 0), (-1, 1), (1, -1), [0, -2], 5, -5, (0, 5), None,
            (5, 1), (1, 1), (0, -1)]
    for shape, dim in itertools.product(shapes, dims):
        for keyword in (False, True):
            args, kwargs = ((), {"dim": dim}) if keyword else ((dim,), {})
            _same(*(_run(getattr(lib, name), lib.zeros(shape), *args, **kwargs)
                    for lib in (torch, ember)))


def test_aminmax_errors_match_torch():
    for shape, dim in itertools.product([(0,), (0, 3), (3, 0), (), (3,), (2, 0, 3)],
                                        [None, -1, 0, 1, -2, 5, (0, 1)]):
        _same(*(_run(lib.aminmax, lib.zeros(shape), dim=dim) for lib in (torch, ember)))


def test_max_and_min_of_empty_name_themselves():
    for lib, fn in itertools.product((torch, ember), ("max", "min")):
        with pytest.raises(RuntimeError, match=f"^{fn}\\(\\): Expected reduction dim to be"):
            getattr(lib, fn)(lib.zeros(0))


# ---------------------------------------------------------------------------------------------
# Half-precision products: beta * input + alpha * product in float32, rounded once


SCALES = [(1, 1), (0.3, 1.7), (0.5, -2.1), (0, 1.3), (2.2, 1), (1, 0.7)]


def _half_inputs(seed: int, dtype: str, *shapes):
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal(s) * 3 for s in shapes]
    return [_tensor(torch, d, dtype) for d in data], [_tensor(ember, d, dtype) for d in data]


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("op, shapes", [
    ("addmm", [(7, 5), (7, 11), (11, 5)]),
    ("addmm", [(5,), (7, 11), (11, 5)]),
    ("baddbmm", [(4, 7, 5), (4, 7, 11), (4, 11, 5)]),
    ("addbmm", [(7, 5), (4, 7, 11), (4, 11, 5)]),
    ("addr", [(7, 5), (7,), (5,)]),
    ("addmv", [(7,), (7, 11), (11,)]),
])
def test_half_products_round_as_torch(op, shapes, dtype):
    for seed, (beta, alpha) in enumerate(SCALES):
        t_args, e_args = _half_inputs(seed, dtype, *shapes)
        want = getattr(torch, op)(*t_args, beta=beta, alpha=alpha)
        got = getattr(ember, op)(*e_args, beta=beta, alpha=alpha)
        assert str(got.dtype) == str(want.dtype)
        if op == "addmv" and dtype == "float16":  # PyTorch's fp16 gemv sums in its own order
            np.testing.assert_allclose(_np(got), _np(want), rtol=1e-3, atol=1e-3)
        else:
            np.testing.assert_array_equal(_np(got), _np(want))


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("x_shape", [(7, 11), (3, 7, 11)])
def test_half_linear_with_bias_rounds_as_torch(dtype, x_shape):
    t_args, e_args = _half_inputs(0, dtype, x_shape, (5, 11), (5,))
    want = torch.nn.functional.linear(*t_args)
    got = ember.nn.functional.linear(*e_args)
    np.testing.assert_array_equal(_np(got), _np(want))


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("op, shapes", [
    ("addmm", [(7, 5), (7, 11), (11, 5)]),
    ("baddbmm", [(4, 7, 5), (4, 7, 11), (4, 11, 5)]),
    ("addbmm", [(7, 5), (4, 7, 11), (4, 11, 5)]),
    ("addmv", [(7,), (7, 11), (11,)]),
    ("addr", [(7, 5), (7,), (5,)]),
])
def test_half_product_gradients_match_torch(op, shapes, dtype):
    t_args, e_args = _half_inputs(1, dtype, *shapes)
    t_args = [a.requires_grad_() for a in t_args]
    e_args = [a.requires_grad_() for a in e_args]
    want = getattr(torch, op)(*t_args, beta=0.5, alpha=1.5)
    got = getattr(ember, op)(*e_args, beta=0.5, alpha=1.5)
    g = np.random.default_rng(2).standard_normal(tuple(want.shape))
    t_grads = torch.autograd.grad(want, t_args, _tensor(torch, g, dtype))
    e_grads = ember.autograd.grad(got, e_args, _tensor(ember, g, dtype))
    tol = 1e-2 if dtype == "float16" else 8e-2  # gradients rounded in half precision: an ulp
    for w, e in zip(t_grads, e_grads):
        assert str(e.dtype) == str(w.dtype)
        np.testing.assert_allclose(_np(e), _np(w), rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# linspace / logspace values


ENDS = [(4.3, -3), (-2.0, 50), (0, 123.4), (1e-3, -3000), (-7.77, 4), (1000.5, 1), (3, 7)]
STEPS = [0, 1, 2, 3, 7, 16, 17, 33, 50, 100, 1000, 5000]


def _ends(lib, start, end, wrap: int):
    """Numbers, a tensor start, or both ends as 0-d tensors."""
    return (lib.tensor(start) if wrap == 1 else start), (lib.tensor(end) if wrap >= 1 else end)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int64",
                                   "int16"])
def test_linspace_values_match_torch_exactly(dtype):
    for (start, end), steps, wrap in itertools.product(ENDS, STEPS, (0, 1, 2)):
        want, got = (_run(lib.linspace, *_ends(lib, start, end, wrap), steps,
                          dtype=getattr(lib, dtype)) for lib in (torch, ember))
        _same(want, got, message=False)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int64",
                                   "uint8"])
def test_logspace_values_match_torch_exactly(dtype):
    for (start, end), steps, base, wrap in itertools.product(
            ENDS[:5], STEPS[:10], (10.0, 2.0, 1.7, -2.0), (0, 2)):
        if base < 0 and dtype in ("int64", "uint8"):
            continue  # NaN cast to an integer: undefined in C
        if start < 0 and dtype == "uint8" and steps != 1:
            continue
        want, got = (_run(lib.logspace, *_ends(lib, start, end, wrap), steps, base,
                          dtype=getattr(lib, dtype)) for lib in (torch, ember))
        if isinstance(want, list):
            np.testing.assert_array_equal(np.asarray(got[0][2]), np.asarray(want[0][2]))
        else:
            _same(want, got)


def test_logspace_single_step_is_base_to_the_unrounded_start():
    for dtype in ("int64", "float16"):
        want = torch.logspace(4.3, -3, 1, dtype=getattr(torch, dtype))
        got = ember.logspace(4.3, -3, 1, dtype=getattr(ember, dtype))
        assert got.tolist() == want.tolist()
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="cannot be converted"):
            lib.logspace(4.3, -3, 1, -2.0, dtype=lib.int64)


# ---------------------------------------------------------------------------------------------
# matrix_exp in half precision


@pytest.mark.parametrize("dtype", HALF)
def test_matrix_exp_half_is_the_float32_result_rounded(dtype):
    """PyTorch's CPU half kernel is wrong here (NaN for exp(0.01 I) in float16; values 1e30
    off in bfloat16): ember returns the float32 result, rounded."""
    a = np.random.default_rng(0).standard_normal((3, 4, 4)) * 2
    got = ember.linalg.matrix_exp(_tensor(ember, a, dtype))
    assert got.dtype is getattr(ember, dtype)
    want = torch.linalg.matrix_exp(torch.tensor(a, dtype=torch.float32)).to(
        getattr(torch, dtype))
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-2, atol=1e-2)
    assert torch.linalg.matrix_exp(torch.eye(2, dtype=torch.float16) * 0.01).isnan().all()


# ---------------------------------------------------------------------------------------------
# sort's order among ties: PyTorch's stable=False sort is stable on rows of up to 16


@pytest.mark.parametrize("dtype", ["int64", "float32", "float16", "uint8", "bool"])
def test_sort_ties_on_short_rows_match_torch(dtype):
    rng = np.random.default_rng(0)
    for n, descending in itertools.product((1, 2, 5, 9, 16), (False, True)):
        x = rng.integers(0, 3, (4, n))
        t = torch.tensor(x).to(getattr(torch, dtype))
        e = ember.tensor(x).to(getattr(ember, dtype))
        want = torch.sort(t, descending=descending).indices
        got = ember.sort(e, descending=descending).indices
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(ember.argsort(e, descending=descending).numpy(),
                                      torch.argsort(t, descending=descending).numpy())
