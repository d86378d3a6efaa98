"""Double backward through binary ops whose operands were promoted (float32 with float64, real
with complex): the second derivative reaches the promoted operand, as in PyTorch."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

OPS = {
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a.abs() ** b if not a.is_complex() else a ** b,
}
PAIRS = [("float64", "float32"), ("float32", "float64"), ("complex128", "float64"),
         ("float32", "complex64")]


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("dtypes", PAIRS, ids=lambda p: "-".join(p))
def test_second_derivative_reaches_the_other_operand(op, dtypes):
    rng = np.random.default_rng(0)
    values = [rng.uniform(0.5, 1.5, 3) + (1j * rng.uniform(0.5, 1.5, 3) if "complex" in d else 0)
              for d in dtypes]
    results = []
    for lib in (torch, ember):
        a, b = (lib.tensor(v, dtype=getattr(lib, d), requires_grad=True)
                for v, d in zip(values, dtypes))
        out = OPS[op](a, b)
        out = lib.view_as_real(out) if out.is_complex() else out
        (ga,) = lib.autograd.grad(out.sum(), [a], create_graph=True)
        assert ga.requires_grad
        ga = lib.view_as_real(ga) if ga.is_complex() else ga
        (gb,) = lib.autograd.grad(ga.sum(), [b])
        results.append((str(ga.dtype).split(".")[-1], str(gb.dtype).split(".")[-1],
                        ga.detach().resolve_conj().numpy(), gb.resolve_conj().numpy()))
    (tda, tdb, tga, tgb), (eda, edb, ega, egb) = results
    assert (eda, edb) == (tda, tdb)
    np.testing.assert_allclose(ega, tga, rtol=1e-5)
    np.testing.assert_allclose(egb, tgb, rtol=1e-5)


def test_power_with_a_complex_number_exponent():
    results = []
    for lib in (torch, ember):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad(lib.view_as_real(x.pow(1 + 0.5j)).sum(), [x], create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), [x])
        ints = lib.tensor([1, 2]) ** (1 + 1j)
        results.append((str(ints.dtype).split(".")[-1], g.detach().numpy(), gg.numpy()))
    assert results[1][0] == results[0][0] == "complex64"
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)
    np.testing.assert_allclose(results[1][2], results[0][2], rtol=1e-5)
