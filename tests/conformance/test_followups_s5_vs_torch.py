"""Follow-ups checked against PyTorch: xlogy/xlog1py gradients and promotion, the incomplete
gamma functions' gradient, cholesky_solve's full factor gradient, quantized activations, the
lazy quantization packages and the deprecated ``testing.assert_allclose``."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

NAN, INF = float("nan"), float("inf")


def _grads(lib, fn, *values, dtypes=None):
    """fn's output and the gradients of its sum for float64 leaves made from ``values``."""
    dtypes = dtypes or [lib.float64] * len(values)
    leaves = [lib.tensor(v, dtype=d, requires_grad=True) for v, d in zip(values, dtypes)]
    out = fn(*leaves)
    out.sum().backward()
    return [out.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves]


def _same(ours, theirs, **kw):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, equal_nan=True, **kw)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_family_gradients_match_torch_at_the_edges(name):
    x = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.5]
    y = [3.0, 0.0, -1.0, -2.0, NAN, 0.0, INF, 0.5]
    ours = _grads(ember, getattr(ember.special, name), x, y)
    theirs = _grads(torch, getattr(torch.special, name), x, y)
    _same(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_family_promotes_before_the_log(name):
    x, y = [1.5, 0.0, 2.0], [0.1, 0.3, 7.0]
    dtypes = ("float64", "float32")
    ours = _grads(ember, getattr(ember.special, name), x, y,
                  dtypes=[getattr(ember, d) for d in dtypes])
    theirs = _grads(torch, getattr(torch.special, name), x, y,
                    dtypes=[getattr(torch, d) for d in dtypes])
    assert ours[0].dtype == theirs[0].dtype == np.float64
    _same(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("case", [
    lambda lib: lib.xlogy(lib.tensor([1.5, 0.0]), 0.1),
    lambda lib: lib.xlogy(2, lib.tensor([3.0], dtype=lib.float64)),
    lambda lib: lib.xlogy(lib.tensor([2]), lib.tensor([3])),
    lambda lib: lib.xlogy(lib.tensor([2.0]), lib.tensor(0.1, dtype=lib.float64)),
    lambda lib: lib.special.xlog1py(lib.tensor([2.0], dtype=lib.float16), 3.0),
])
def test_xlogy_result_dtype_and_value_match_torch(case):
    ours, theirs = case(ember), case(torch)
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=1e-6)


def test_xlogy_gradient_by_a_number_input():
    ours = _grads(ember, lambda y: ember.xlogy(2.0, y), [3.0, 0.5])
    theirs = _grads(torch, lambda y: torch.xlogy(2.0, y), [3.0, 0.5])
    _same(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_gradient_in_x_matches_torch(name):
    a = [1.5, 2.0, 0.5, 0.0, 3.0]
    x = [0.5, 3.0, 0.0, 2.0, -1.0]

    def run(lib):
        fn = getattr(lib.special, name)
        return _grads(lib, lambda xs: fn(lib.tensor(a, dtype=lib.float64), xs), x)

    _same(run(ember), run(torch), rtol=1e-10)


@pytest.mark.parametrize(("lib_name", "name"), [("igamma", "igamma"), ("igammac", "igammac")])
def test_incomplete_gamma_refuses_the_gradient_in_a_as_torch(lib_name, name):
    for lib in (ember, torch):
        a = lib.tensor([1.5, 2.0], dtype=lib.float64, requires_grad=True)
        out = getattr(lib, lib_name)(a, lib.tensor([0.5, 3.0], dtype=lib.float64))
        assert type(out.grad_fn).__name__ == name.capitalize() + "Backward0"
        with pytest.raises(NotImplementedError, match=f"'{name}: input' is not implemented"):
            out.sum().backward()


def test_gamma_distribution_cdf_has_a_gradient():
    def run(lib):
        rate = lib.tensor([3.0, 0.5], dtype=lib.float64, requires_grad=True)
        value = lib.tensor([0.5, 2.0], dtype=lib.float64, requires_grad=True)
        concentration = lib.tensor([2.0, 1.5], dtype=lib.float64)
        cdf = lib.distributions.Gamma(concentration, rate).cdf(value)
        cdf.sum().backward()
        return cdf.detach().numpy(), rate.grad.numpy(), value.grad.numpy()

    _same(run(ember), run(torch), rtol=1e-10)


def _spd(rng, *batch, n=3):
    m = rng.standard_normal((*batch, n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("junk", [False, True], ids=["triangular", "other-triangle-filled"])
def test_cholesky_solve_factor_gradient_is_full_as_torch(upper, junk):
    rng = np.random.default_rng(3)
    a, b = _spd(rng, 2), rng.standard_normal((3, 2))
    weight = rng.standard_normal((2, 3, 2))
    factor = np.linalg.cholesky(a)
    if upper:
        factor = np.swapaxes(factor, -1, -2)
    if junk:  # torch reads one triangle but differentiates the factor as given
        factor = factor + (np.tril(np.ones((3, 3)), -1) if upper else np.triu(np.ones((3, 3)), 1))

    def run(lib):
        w = lib.tensor(weight)
        return _grads(lib, lambda x, f: lib.cholesky_solve(x, f, upper) * w, b, factor)

    _same(run(ember), run(torch), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_gradient_matches_torch(upper):
    rng = np.random.default_rng(4)
    factor = np.linalg.cholesky(_spd(rng))
    factor = factor.T if upper else factor
    weight = rng.standard_normal((3, 3))

    def run(lib):
        return _grads(lib, lambda f: lib.cholesky_inverse(f, upper) * lib.tensor(weight), factor)

    _same(run(ember), run(torch), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [
    lambda lib: lib.cholesky_solve(lib.zeros(3, 3), lib.eye(2)),
    lambda lib: lib.cholesky_solve(lib.zeros(3), lib.eye(3)),
    lambda lib: lib.cholesky_solve(lib.zeros(3, 2), lib.eye(3, dtype=lib.float64)),
    lambda lib: lib.cholesky_solve(lib.zeros(3, 2, dtype=lib.complex64), lib.eye(3)),
])
def test_cholesky_solve_argument_errors_match_torch(case):
    messages = []
    for lib in (ember, torch):
        with pytest.raises(RuntimeError) as info:
            case(lib)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


QUANTIZED_ACTIVATIONS = {
    "relu": lambda F, nn, q: F.relu(q),
    "relu-inplace": lambda F, nn, q: F.relu(q.clone(), inplace=True),
    "relu_": lambda F, nn, q: F.relu_(q.clone()),
    "relu6": lambda F, nn, q: F.relu6(q),
    "relu6-inplace": lambda F, nn, q: F.relu6(q.clone(), inplace=True),
    "hardtanh": lambda F, nn, q: F.hardtanh(q),
    "hardtanh-range": lambda F, nn, q: F.hardtanh(q, -0.5, 1.0),
    "hardtanh_": lambda F, nn, q: F.hardtanh_(q.clone(), -0.33, 0.41),
    "ReLU": lambda F, nn, q: nn.ReLU()(q),
    "ReLU6": lambda F, nn, q: nn.ReLU6()(q),
    "Hardtanh": lambda F, nn, q: nn.Hardtanh(-2.0, 2.0)(q),
}


@pytest.mark.parametrize("name", sorted(QUANTIZED_ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
def test_quantized_activations_stay_quantized_as_torch(name, dtype):
    values = [-3.0, -0.5, 0.0, 0.7, 2.0, 7.5, 11.0]
    fn = QUANTIZED_ACTIVATIONS[name]
    outs = []
    for lib, F in ((ember, EF), (torch, TF)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch deprecates its quantized tensors
            q = lib.quantize_per_tensor(lib.tensor(values), 0.05, 10, getattr(lib, dtype))
        out = fn(F, lib.nn, q)
        assert out.is_quantized
        outs.append((str(out.dtype), out.int_repr().tolist(), out.q_scale(), out.q_zero_point()))
    assert outs[0] == outs[1]


def test_quantization_packages_are_attributes_after_import():
    code = ("import sys, ember\n"
            "assert 'ember.nn.quantized' not in sys.modules  # lazily\n"
            "assert ember.backends.quantized.engine in ember.backends.quantized.supported_engines\n"
            "print(ember.nn.quantized.Linear.__name__, ember.nn.quantized.dynamic.Linear.__name__,"
            " ember.nn.intrinsic.ConvReLU2d.__name__, ember.nn.qat.Linear.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [torch.nn.quantized.Linear.__name__,
                                  torch.nn.quantized.dynamic.Linear.__name__,
                                  torch.nn.intrinsic.ConvReLU2d.__name__,
                                  torch.nn.qat.Linear.__name__]
    with pytest.raises(AttributeError):
        ember.nn.no_such_package  # noqa: B018


ALLCLOSE_CASES = [
    lambda L: ((L.tensor([1.0]), L.tensor([1.00005])), {}),
    lambda L: ((L.tensor([1.0]), L.tensor([1.0002])), {}),
    lambda L: ((L.tensor([1.0], dtype=L.float64), L.tensor([1.000005], dtype=L.float64)), {}),
    lambda L: ((L.tensor([1.0], dtype=L.float64), L.tensor([1.00002], dtype=L.float64)), {}),
    lambda L: ((L.tensor([1.0], dtype=L.float16), L.tensor([1.0015])), {}),
    lambda L: ((L.tensor([1.0]), [1.00005]), {}),
    lambda L: (([1.0, 2.0], [1.0, 2.0]), {}),
    lambda L: ((1.0, 1.00005), {}),
    lambda L: ((L.tensor([1]), L.tensor([1.0])), {}),
    lambda L: ((L.tensor([1, 2]), L.tensor([1, 3])), {}),
    lambda L: ((L.tensor([NAN]), L.tensor([NAN])), {}),
    lambda L: ((L.tensor([NAN]), L.tensor([NAN])), {"equal_nan": False}),
    lambda L: ((L.tensor([1.0]), L.tensor([1.5])), {"rtol": 0.6, "atol": 0.0}),
    lambda L: ((L.tensor([1.0]), L.tensor([1.5])), {"rtol": 0.6}),
    lambda L: ((L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0, 3.0])), {}),
]


@pytest.mark.parametrize("i", range(len(ALLCLOSE_CASES)))
def test_assert_allclose_passes_and_fails_as_torch(i):
    outcomes = []
    for lib in (ember, torch):
        args, kwargs = ALLCLOSE_CASES[i](lib)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                lib.testing.assert_allclose(*args, **kwargs)
                outcome = "ok"
            except (AssertionError, ValueError) as exc:
                outcome = type(exc).__name__
        assert [w.category for w in caught] == [FutureWarning]
        outcomes.append(outcome)
    assert outcomes[0] == outcomes[1]


def test_assert_allclose_uses_the_message_given():
    for lib in (ember, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            with pytest.raises(AssertionError, match="^boom$"):
                lib.testing.assert_allclose(lib.tensor([1.0]), lib.tensor([2.0]), msg="boom")
