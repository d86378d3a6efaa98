"""ember.library against torch.library: the same custom-operator code gives the same schemas,
values, gradients, node names and opcheck verdicts."""
from typing import Optional, Sequence

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_COUNT = iter(range(10_000))


def _define(lib, tag: str):
    """A differentiable op (x * w + shift, with a custom gradient) and a mutating op."""
    n = next(_COUNT)

    @lib.library.custom_op(f"conf{tag}::affine_{n}", mutates_args=())
    def affine(x: lib.Tensor, w: lib.Tensor, shift: float = 0.5) -> lib.Tensor:
        return x * w + shift

    @affine.register_fake
    def _(x, w, shift=0.5):
        return lib.empty_like(x)

    def setup_context(ctx, inputs, output):
        x, w, _ = inputs
        ctx.save_for_backward(x, w)

    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad * w, grad * x, None

    affine.register_autograd(backward, setup_context=setup_context)

    @lib.library.custom_op(f"conf{tag}::square_into_{n}", mutates_args={"out"})
    def square_into(x: lib.Tensor, out: lib.Tensor) -> None:
        out.copy_(x * x)

    return affine, square_into


def _run(lib, tag):
    affine, square_into = _define(lib, tag)
    x = lib.tensor([1.0, 2.0, -3.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    y = affine(x, w)
    y.sum().backward()
    out = lib.zeros(3, dtype=lib.float64)
    square_into(x.detach(), out)
    checks = [lib.library.opcheck(affine, (x.detach().requires_grad_(), w.detach())),
              lib.library.opcheck(square_into, (lib.randn(4), lib.empty(4)))]
    name = type(y.grad_fn).__name__.replace(str(affine).split("::")[1][:-2], "affine")
    return (y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), out.numpy(), name,
            [sorted(c.items()) for c in checks])


def test_custom_ops_match_torch():
    got, want = _run(ember, "e"), _run(torch, "t")
    for g, w in zip(got[:4], want[:4]):
        np.testing.assert_allclose(g, w)
    assert got[4].replace("confe", "conft") == want[4]
    assert got[5] == want[5]


@pytest.mark.parametrize("case", range(4))
def test_infer_schema_matches_torch(case):
    def build(lib):
        T = lib.Tensor

        def a(pic: T, box: Sequence[int], s: float, flag: bool, o: Optional[T] = None) -> T: ...

        def b(input: T, output: T) -> None: ...

        def c(x: T, ys: Sequence[T], k: int = 3, name: str = "n") -> tuple[T, T]: ...

        def d(x: T, y: T, z: T) -> T: ...

        fns = [(a, ()), (b, {"output"}), (c, ()), (d, ("y", "z"))]
        fn, mutated = fns[case]
        return lib.library.infer_schema(fn, mutates_args=mutated)

    assert build(ember) == build(torch)


def test_backward_without_formula_fails_like_torch():
    def run(lib):
        @lib.library.custom_op(f"confnf::twice_{next(_COUNT)}", mutates_args=())
        def twice(x: lib.Tensor) -> lib.Tensor:
            return x * 2

        y = twice(lib.ones(2, requires_grad=True))
        with pytest.raises(RuntimeError) as err:
            y.sum().backward()
        return y.requires_grad, "no autograd formula was registered" in str(err.value)

    assert run(ember) == run(torch) == (True, True)
