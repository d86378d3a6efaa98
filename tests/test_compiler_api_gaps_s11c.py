"""The compiler-stack names PyTorch code reaches for (``torch._inductor.utils``,
``torch._utils.is_compiling``, ``torch._dynamo.compiled_autograd``) and the sparse products of
``ember.mm`` / ``ember.matmul`` (SciPy as oracle)."""
import numpy as np
import pytest
import scipy.sparse as sp

import ember


def test_inductor_reachable_and_fresh_cache_is_a_context_manager():
    assert ember._inductor.utils.fresh_inductor_cache is ember._inductor.utils.fresh_cache
    with ember._inductor.utils.fresh_inductor_cache():
        out = ember.compile(lambda x: x + 1)(ember.ones(2))
    np.testing.assert_array_equal(out.numpy(), [2.0, 2.0])
    assert ember._inductor.config.max_autotune is False


def test_utils_is_compiling_is_the_compilers():
    assert ember._utils.is_compiling is ember.compiler.is_compiling
    assert ember.compile(lambda: ember._utils.is_compiling())() is True
    assert ember._utils.is_compiling() is False


def test_compiled_autograd_enable_runs_backward_eagerly():
    x = ember.randn(4, requires_grad=True, dtype=ember.float64)
    x.register_hook(lambda g: g + 10)
    with ember._dynamo.compiled_autograd.enable(ember.compile(backend="aot_eager")):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() + 10)
    ember._dynamo.graph_break()
    assert ember._dynamo.utils.counters["stats"]["unique_graphs"] == 0


def _random_sparse(rng, shape, density=0.4):
    return rng.standard_normal(shape) * (rng.random(shape) < density)


@pytest.mark.parametrize("fn", [ember.mm, ember.matmul], ids=["mm", "matmul"])
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_product_of_two_sparse_matrices_is_sparse(fn, layout):
    rng = np.random.default_rng(0)
    a, b = _random_sparse(rng, (5, 4)), _random_sparse(rng, (4, 6))
    convert = "to_sparse" if layout == "coo" else "to_sparse_csr"
    ta = getattr(ember.tensor(a), convert)()
    tb = getattr(ember.tensor(b), convert)()
    out = fn(ta, tb)
    assert out.layout is (ember.sparse_coo if layout == "coo" else ember.sparse_csr)
    expected = (sp.csr_matrix(a) @ sp.csr_matrix(b)).toarray()
    np.testing.assert_allclose(out.to_dense().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_sparse_product_gradient_matches_the_dense_one():
    rng = np.random.default_rng(1)
    a, b = _random_sparse(rng, (3, 4)), _random_sparse(rng, (4, 2))
    ta = ember.tensor(a).to_sparse().requires_grad_()
    tb = ember.tensor(b).to_sparse().requires_grad_()
    ember.mm(ta, tb).to_dense().sum().backward()
    # d sum(A B) / dA = ones @ B^T and d/dB = A^T @ ones, on the operands' entries (the
    # sparse grad's pattern is PyTorch's, checked in tests/conformance)
    np.testing.assert_allclose(ta.grad.to_dense().numpy()[a != 0], (np.ones((3, 2)) @ b.T)[a != 0])
    np.testing.assert_allclose(tb.grad.to_dense().numpy()[b != 0], (a.T @ np.ones((3, 2)))[b != 0])


def test_sparse_times_dense_stays_dense():
    a = ember.eye(3, dtype=ember.float64).to_sparse()
    out = ember.mm(a, ember.ones(3, 2, dtype=ember.float64))
    assert out.layout is ember.strided
    np.testing.assert_array_equal(out.numpy(), np.ones((3, 2)))
