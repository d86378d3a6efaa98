"""Keyword arguments PyTorch's docstrings list (``out=``, ``layout=``, ``pin_memory=``,
``generator=``, ``memory_format=``, parameter names) are accepted by ember's functions, and
behave as PyTorch's do."""
import inspect
import re
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:torch.* is deprecated in favor:UserWarning"),
              pytest.mark.filterwarnings("ignore:torch.range is deprecated:UserWarning")]

R = np.random.default_rng(0)
P = R.uniform(0.1, 0.9, (2, 3))  # in (0, 1): valid for logit, erfinv, ndtri, ...
Q = R.uniform(0.1, 0.9, (2, 3))
V3, V4 = R.standard_normal(3), R.standard_normal(4)
M34 = R.standard_normal((3, 4))
B1, B2 = R.standard_normal((2, 3, 5)), R.standard_normal((2, 5, 4))
SQ = R.standard_normal((3, 3)) + 3 * np.eye(3)
SPD = SQ @ SQ.T
LOW = np.linalg.cholesky(SPD)
INTS = np.array([[12, 18, 7], [4, 9, 30]])
SMALL = np.array([[1, 2, 3], [0, 1, 2]])
CPLX = P + 1j * Q


def _t(lib, a):
    return lib.tensor(a)


def _lu(lib):
    return lib.linalg.lu_factor(_t(lib, SQ))


# (namespace, name, args(lib), kwargs): one call each of the functions that gained ``out=``.
OUT_CASES = [
    ("torch", "addbmm", lambda L: (_t(L, M34), _t(L, B1), _t(L, B2)), {}),
    ("torch", "addcdiv", lambda L: (_t(L, P), _t(L, Q), _t(L, P + 1)), {"value": 0.5}),
    ("torch", "addr", lambda L: (_t(L, M34), _t(L, V3), _t(L, V4)), {}),
    ("torch", "bitwise_left_shift", lambda L: (_t(L, INTS), _t(L, SMALL)), {}),
    ("torch", "bitwise_right_shift", lambda L: (_t(L, INTS), _t(L, SMALL)), {}),
    ("torch", "bitwise_xor", lambda L: (_t(L, INTS), _t(L, SMALL)), {}),
    ("torch", "bitwise_not", lambda L: (_t(L, INTS),), {}),
    ("torch", "cholesky", lambda L: (_t(L, SPD),), {}),
    ("torch", "cholesky_inverse", lambda L: (_t(L, LOW),), {}),
    ("torch", "cholesky_solve", lambda L: (_t(L, M34[:, :2]), _t(L, LOW)), {}),
    ("torch", "column_stack", lambda L: ([_t(L, P), _t(L, Q)],), {}),
    ("torch", "dstack", lambda L: ([_t(L, P), _t(L, Q)],), {}),
    ("torch", "hstack", lambda L: ([_t(L, P), _t(L, Q)],), {}),
    ("torch", "vstack", lambda L: ([_t(L, P), _t(L, Q)],), {}),
    ("torch", "row_stack", lambda L: ([_t(L, P), _t(L, Q)],), {}),
    ("torch", "complex", lambda L: (_t(L, P), _t(L, Q)), {}),
    ("torch", "polar", lambda L: (_t(L, P), _t(L, Q)), {}),
    ("torch", "conj_physical", lambda L: (_t(L, CPLX),), {}),
    ("torch", "sgn", lambda L: (_t(L, CPLX),), {}),
    *[("torch", name, lambda L: (_t(L, P), _t(L, Q)), {}) for name in (
        "copysign", "fmax", "fmin", "float_power", "heaviside", "nextafter", "logaddexp2",
        "igamma", "igammac")],
    ("torch", "ldexp", lambda L: (_t(L, P), _t(L, SMALL)), {}),
    ("torch", "gcd", lambda L: (_t(L, INTS), _t(L, SMALL + 2)), {}),
    ("torch", "lcm", lambda L: (_t(L, INTS), _t(L, SMALL + 2)), {}),
    *[("torch", name, lambda L: (_t(L, P),), {}) for name in (
        "cosh", "sinh", "tan", "deg2rad", "digamma", "erfc", "erfinv", "exp2", "i0", "lgamma",
        "logit", "signbit", "sinc", "isneginf", "isposinf")],
    ("torch", "inverse", lambda L: (_t(L, SQ),), {}),
    ("torch", "matrix_power", lambda L: (_t(L, SQ), 3), {}),
    ("torch", "mvlgamma", lambda L: (_t(L, P + 1), 2), {}),
    ("torch", "polygamma", lambda L: (1, _t(L, P)), {}),
    ("torch", "renorm", lambda L: (_t(L, M34), 2, 0, 1.0), {}),
    ("torch", "nonzero", lambda L: (_t(L, SMALL),), {}),
    ("torch", "cummin", lambda L: (_t(L, M34), 1), {}),
    ("torch", "frexp", lambda L: (_t(L, M34),), {}),
    ("torch", "histogram", lambda L: (_t(L, V4),), {"bins": 3}),
    ("torch", "triangular_solve", lambda L: (_t(L, M34[:, :2]), _t(L, LOW.T)), {}),
    ("torch", "lu_unpack", lambda L: tuple(_lu(L)), {}),
    ("torch", "lu_solve", lambda L: (_t(L, M34[:, :2]), *_lu(L)), {}),
    ("torch", "logspace", lambda L: (0, 2, 5), {}),
    ("torch", "range", lambda L: (0, 4), {}),
    ("linalg", "matrix_power", lambda L: (_t(L, SQ), 2), {}),
    ("linalg", "lu", lambda L: (_t(L, SQ),), {}),
    *[("special", name, lambda L: (_t(L, P),), {}) for name in (
        "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr",
        "erfc", "erfcx", "erfinv", "exp2", "gammaln", "i0", "i0e", "i1", "i1e", "log_ndtr",
        "logit", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
        "modified_bessel_k1", "ndtr", "ndtri", "psi", "scaled_modified_bessel_k0",
        "scaled_modified_bessel_k1", "sinc", "spherical_bessel_j0")],
    *[("special", name, lambda L: (_t(L, P), _t(L, Q)), {}) for name in (
        "gammainc", "gammaincc", "xlog1py")],
    ("special", "zeta", lambda L: (_t(L, P + 1.5), _t(L, Q)), {}),
    ("special", "multigammaln", lambda L: (_t(L, P + 1), 2), {}),
    ("special", "polygamma", lambda L: (2, _t(L, P)), {}),
    *[("fft", name, lambda L: (_t(L, M34),), {}) for name in (
        "fft", "ifft", "rfft", "ihfft", "fft2", "ifft2", "rfft2", "ihfft2", "fftn", "ifftn",
        "rfftn", "ihfftn")],
    *[("fft", name, lambda L: (_t(L, M34 + 1j * M34[::-1]),), {}) for name in (
        "hfft", "irfft", "hfft2", "irfft2", "hfftn", "irfftn")],
    ("fft", "fftfreq", lambda L: (5,), {}),
    ("fft", "rfftfreq", lambda L: (6,), {"d": 0.5}),
]


def _ns(lib, namespace):
    return lib if namespace == "torch" else getattr(lib, namespace)


def _empty_like(lib, r):
    if isinstance(r, tuple):
        return tuple(_empty_like(lib, x) for x in r)
    return lib.empty(tuple(r.shape), dtype=getattr(lib, str(r.dtype).split(".")[1]))


def _assert_same(e, t):
    if isinstance(t, tuple):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            _assert_same(a, b)
        return
    assert str(e.dtype) == str(t.dtype)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("namespace,name,args,kwargs", OUT_CASES,
                         ids=[f"{c[0]}.{c[1]}" for c in OUT_CASES])
def test_out_writes_into_preallocated_tensor(namespace, name, args, kwargs):
    expected = getattr(_ns(torch, namespace), name)(*args(torch), **kwargs)
    expected = tuple(expected) if isinstance(expected, tuple) else expected
    t_out, e_out = _empty_like(torch, expected), _empty_like(ember, expected)
    t_res = getattr(_ns(torch, namespace), name)(*args(torch), **kwargs, out=t_out)
    e_res = getattr(_ns(ember, namespace), name)(*args(ember), **kwargs, out=e_out)
    assert "out" in inspect.signature(getattr(_ns(ember, namespace), name)).parameters
    if isinstance(e_out, tuple):
        assert all(r is o for r, o in zip(e_res, e_out))
    else:
        assert e_res is e_out
    _assert_same(e_out, tuple(t_out) if isinstance(t_out, tuple) else t_out)
    _assert_same(e_out, tuple(t_res) if isinstance(t_res, tuple) else t_res)


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_out_resizes_with_warning_and_refuses_lossy_casts(lib):
    x = lib.tensor(P)
    out = lib.empty(5, dtype=lib.float64)
    with pytest.warns(UserWarning, match="was resized"):
        assert lib.sinh(x, out=out) is out
    assert tuple(out.shape) == (2, 3)
    np.testing.assert_allclose(out.numpy(), np.sinh(P))
    empty = lib.empty(0, dtype=lib.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lib.special.ndtr(x, out=empty)  # an empty out is resized silently
    with pytest.raises(RuntimeError, match="can't be cast"):
        lib.sinh(x, out=lib.empty(2, 3, dtype=lib.int64))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        lib.sinh(lib.tensor(P, requires_grad=True), out=lib.empty(2, 3, dtype=lib.float64))


@pytest.mark.parametrize("name,args", [
    ("randint", (0, 10, (3, 4))), ("randperm", (7,)), ("multinomial", None)])
def test_out_of_random_factories(name, args):
    for lib in (torch, ember):
        a = (lib.tensor([0.2, 0.3, 0.5]), 4, True) if args is None else args
        out = lib.empty(0, dtype=lib.int64)
        assert getattr(lib, name)(*a, out=out) is out
        assert out.dtype == lib.int64
        if name == "randperm":
            assert sorted(out.tolist()) == list(range(7))
        else:
            assert 0 <= int(out.min()) and int(out.max()) < (10 if name == "randint" else 3)


FACTORIES = [
    ("zeros", lambda L: (2, 3), {}), ("ones", lambda L: ((2, 3),), {}),
    ("full", lambda L: ((2, 3), 1.5), {}), ("eye", lambda L: (3,), {}),
    ("arange", lambda L: (5,), {}), ("linspace", lambda L: (0, 1, 5), {}),
    ("logspace", lambda L: (0, 1, 5), {}), ("range", lambda L: (0, 3), {}),
    ("tril_indices", lambda L: (3, 3), {}), ("triu_indices", lambda L: (3, 4, 1), {}),
    ("zeros_like", lambda L: (_t(L, P),), {}), ("ones_like", lambda L: (_t(L, P),), {}),
    ("full_like", lambda L: (_t(L, P), 7), {}),
]
SHAPE_ONLY = [
    ("empty", lambda L: (2, 3), {}), ("empty_like", lambda L: (_t(L, P),), {}),
    ("rand", lambda L: (2, 3), {}), ("randn", lambda L: (2, 3), {}),
    ("randint", lambda L: (0, 5, (2, 3)), {}), ("randperm", lambda L: (4,), {}),
    ("rand_like", lambda L: (_t(L, P),), {}), ("randn_like", lambda L: (_t(L, P),), {}),
    ("randint_like", lambda L: (_t(L, P), 5), {}),
]


@pytest.mark.parametrize("name,args,kwargs", FACTORIES + SHAPE_ONLY,
                         ids=[c[0] for c in FACTORIES + SHAPE_ONLY])
def test_factories_accept_strided_layout(name, args, kwargs):
    t = getattr(torch, name)(*args(torch), layout=torch.strided, **kwargs)
    e = getattr(ember, name)(*args(ember), layout=ember.strided, **kwargs)
    assert "layout" in inspect.signature(getattr(ember, name)).parameters
    assert tuple(e.shape) == tuple(t.shape) and str(e.dtype) == str(t.dtype)
    if (name, args, kwargs) in FACTORIES:
        np.testing.assert_allclose(e.numpy(), t.numpy())



@pytest.mark.parametrize("name,args,kwargs", FACTORIES + SHAPE_ONLY,
                         ids=[c[0] for c in FACTORIES + SHAPE_ONLY])
def test_factories_with_sparse_layout_do_what_torch_does(name, args, kwargs):
    try:
        t = getattr(torch, name)(*args(torch), layout=torch.sparse_coo, **kwargs)
    except (RuntimeError, NotImplementedError) as exc:  # torch has no such sparse kernel
        with pytest.raises(type(exc)):
            getattr(ember, name)(*args(ember), layout=ember.sparse_coo, **kwargs)
        return
    e = getattr(ember, name)(*args(ember), layout=ember.sparse_coo, **kwargs)
    assert e.layout is ember.sparse_coo and e._nnz() == t._nnz() == 0
    assert tuple(e.shape) == tuple(t.shape) and str(e.dtype) == str(t.dtype)
    np.testing.assert_array_equal(e.to_dense().numpy(), t.to_dense().numpy())


@pytest.mark.parametrize("name,args", [
    ("rand", (2, 3)), ("randn", (2, 3)), ("randperm", (5,))])
def test_pin_memory_false_is_accepted(name, args):
    e = getattr(ember, name)(*args, pin_memory=False)
    t = getattr(torch, name)(*args, pin_memory=False)
    assert tuple(e.shape) == tuple(t.shape) and str(e.dtype) == str(t.dtype)
    np.testing.assert_allclose(ember.hamming_window(8, pin_memory=False).numpy(),
                               torch.hamming_window(8, pin_memory=False).numpy(), rtol=1e-6)


@pytest.mark.parametrize("like,plain", [
    (lambda x, g: ember.rand_like(x, generator=g),
     lambda x, g: ember.rand(x.shape, generator=g, dtype=x.dtype)),
    (lambda x, g: ember.randn_like(x, generator=g),
     lambda x, g: ember.randn(x.shape, generator=g, dtype=x.dtype)),
    (lambda x, g: ember.randint_like(x, 3, 9, generator=g),
     lambda x, g: ember.randint(3, 9, x.shape, generator=g, dtype=x.dtype)),
])
def test_like_factories_draw_from_the_generator(like, plain):
    x = ember.tensor(P)
    g = ember.Generator()
    g.manual_seed(5)
    drawn = like(x, g)
    g.manual_seed(5)
    assert ember.equal(drawn, plain(x, g))
    assert drawn.dtype == x.dtype


def test_like_factories_generator_in_torch_too():
    x = torch.tensor(P)
    g = torch.Generator().manual_seed(5)
    a = torch.rand_like(x, generator=g)
    g.manual_seed(5)
    assert torch.equal(a, torch.rand(x.shape, generator=g, dtype=x.dtype))


def test_randint_like_memory_format():
    for lib in (torch, ember):
        x = lib.zeros(2, 3, 4, 5)
        r = lib.randint_like(x, 0, 4, memory_format=lib.channels_last)
        assert r.is_contiguous(memory_format=lib.channels_last)
        assert not r.is_contiguous()


def test_parameter_names_match_torch():
    a, b = torch.tensor(V3), ember.tensor(V3)
    np.testing.assert_allclose(ember.dot(b, tensor=b).item(), torch.dot(a, tensor=a).item())
    assert str(ember.promote_types(type1=ember.int32, type2=ember.float16)) == str(
        torch.promote_types(type1=torch.int32, type2=torch.float16))


# Keywords PyTorch's docstrings give but its own bindings reject (checked below): ember keeps
# what works with PyTorch (``broadcast_to(x, size=)``, ``hsplit(x, sections=)``, no ``out=`` on
# std_mean, var_mean, histogramdd).
DOC_ONLY = {
    ("linalg", "householder_product"): lambda: torch.linalg.householder_product(
        A=torch.ones(3, 2), tau=torch.ones(2)),
    ("torch", "broadcast_to"): lambda: torch.broadcast_to(torch.ones(2), shape=(2, 2)),
    ("torch", "hsplit"): lambda: torch.hsplit(torch.ones(4), indices_or_sections=2),
    ("torch", "vsplit"): lambda: torch.vsplit(torch.ones(4, 2), indices_or_sections=2),
    ("torch", "to_dlpack"): lambda: torch.utils.dlpack.to_dlpack(tensor=torch.ones(2)),
    ("torch", "true_divide"): lambda: torch.true_divide(dividend=torch.ones(2),
                                                        divisor=torch.ones(2)),
    ("torch", "unsafe_split"): lambda: torch.unsafe_split(tensor=torch.ones(2),
                                                          split_size_or_sections=1),
    ("linalg", "matrix_power"): lambda: torch.linalg.matrix_power(A=torch.eye(2), n=2),
    ("torch", "std_mean"): lambda: torch.std_mean(torch.ones(2), 0, out=(torch.ones(()),) * 2),
    ("torch", "var_mean"): lambda: torch.var_mean(torch.ones(2), 0, out=(torch.ones(()),) * 2),
    ("torch", "histogramdd"): lambda: torch.histogramdd(
        torch.ones(3, 2), 2, out=(torch.ones(0), [torch.ones(0)] * 2)),
}


def _doc_params(name, f):
    sigs = re.findall(r"^" + re.escape(name) + r"\((.*?)\)\s*->", (f.__doc__ or "").strip(),
                      re.M)
    found = set()
    for s in sigs:
        for p in s.split(","):
            p = p.strip().split("=")[0].strip().lstrip("*")
            if p and p != "self" and re.match(r"^\w+$", p):
                found.add(p)
    return found


def _missing_keywords():
    """(namespace, name) of each function whose documented PyTorch keywords ember lacks."""
    missing = set()
    for ns, tm, em in (("torch", torch, ember), ("F", torch.nn.functional, ember.nn.functional),
                       ("linalg", torch.linalg, ember.linalg),
                       ("special", torch.special, ember.special), ("fft", torch.fft, ember.fft)):
        for k in sorted(dir(tm)):
            tf, ef = getattr(tm, k), getattr(em, k, None)
            if k.startswith("_") or ef is None or not callable(tf) or inspect.isclass(tf):
                continue
            params = _doc_params(k, tf)
            try:
                ep = inspect.signature(ef).parameters
            except (TypeError, ValueError):
                continue
            if not params or any(v.kind == v.VAR_KEYWORD for v in ep.values()):
                continue
            miss = {p for p in params if p not in ep}
            if any(v.kind == v.VAR_POSITIONAL for v in ep.values()):
                miss -= {"size", "tensors", "inputs", "operands"}
            if miss:
                missing.add((ns, k))
    return missing


def test_documented_keywords_are_accepted():
    assert _missing_keywords() <= set(DOC_ONLY)


@pytest.mark.parametrize("key", sorted(DOC_ONLY), ids=lambda k: ".".join(k))
def test_doc_only_names_are_rejected_by_torch_itself(key):
    with pytest.raises(TypeError):
        DOC_ONLY[key]()
