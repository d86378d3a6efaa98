"""ember against PyTorch: compiler-stack names (``torch._inductor.utils``,
``torch._utils.is_compiling``, ``torch._dynamo.compiled_autograd``) and the sparse result of
``torch.mm`` / ``torch.matmul`` on two sparse matrices."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's beta/deprecation notes


def test_compiler_names_exist_in_both():
    import torch._inductor.utils  # noqa: F401 (PyTorch loads it on import)
    for lib in (torch, ember):
        with lib._inductor.utils.fresh_cache():
            pass
        assert callable(lib._utils.is_compiling) and not lib._utils.is_compiling()
        assert lib._dynamo.config.compiled_autograd is False
    with ember._inductor.utils.fresh_inductor_cache():
        pass


def test_compiled_autograd_gradients_match_torch():
    x = np.random.default_rng(0).standard_normal(5)
    grads = []
    for lib, enable in ((torch, torch._dynamo.compiled_autograd._enable),
                        (ember, ember._dynamo.compiled_autograd.enable)):
        t = lib.tensor(x, requires_grad=True)
        t.register_hook(lambda g: g + 10)
        loss = (t * t).sum()
        with enable(lib.compile(backend="eager")):
            loss.backward()
        grads.append(t.grad.detach().numpy())
    np.testing.assert_allclose(grads[1], grads[0])


def _operands(lib, layout):
    a = np.array([[1.0, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 5]])
    b = np.array([[1.0, 0], [0, 2], [4, 0], [0, -1]])
    convert = "to_sparse" if layout == "coo" else "to_sparse_csr"
    return [getattr(lib.tensor(m), convert)().requires_grad_(layout == "coo") for m in (a, b)]


@pytest.mark.parametrize("name", ["mm", "matmul"])
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_sparse_product_matches_torch(name, layout):
    results = []
    for lib in (torch, ember):
        a, b = _operands(lib, layout)
        out = getattr(lib, name)(a, b)
        entry = [str(out.layout).split(".")[-1], out.to_dense().detach().numpy()]
        if layout == "coo":
            entry.append(type(out.grad_fn).__name__)
            out.to_dense().sum().backward()
            entry += [a.grad.to_dense().numpy(), b.grad.to_dense().numpy()]
        results.append(entry)
    expected, got = results
    assert got[0] == expected[0]
    for e, g in zip(expected[1:], got[1:]):
        if isinstance(e, str):
            assert g == e
        else:
            np.testing.assert_allclose(g, e)


def test_mixed_sparse_layouts_raise_like_torch():
    with pytest.raises(RuntimeError) as expected:
        torch.mm(torch.eye(2).to_sparse_csr(), torch.eye(2).to_sparse())
    with pytest.raises(RuntimeError) as got:
        ember.mm(ember.eye(2).to_sparse_csr(), ember.eye(2).to_sparse())
    assert str(got.value) == str(expected.value)
