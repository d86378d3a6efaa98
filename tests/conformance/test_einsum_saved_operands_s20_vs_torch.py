"""einsum's saved operands against PyTorch's: the same in-place writes after an einsum are
allowed (an operand no gradient needs) or refused (one a gradient needs), and the gradients
through a Runge-Kutta-like stage buffer agree."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _stage_buffer_gradient(lib) -> np.ndarray:
    """d/d(source) of two einsum stages read from a buffer written in between (torchode's
    explicit Runge-Kutta step)."""
    source = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    weights = lib.tensor([0.5, -2.0])
    stages = lib.zeros(2, 2)
    stages[0] = source[0] * 2
    stages[1] = lib.einsum("j,jf->f", weights[:1], stages[:1]) + source[1]
    lib.einsum("j,jf->f", weights, stages).pow(2).sum().backward()
    return source.grad.detach().numpy()


def test_stage_buffer_gradients_match_torch():
    np.testing.assert_allclose(_stage_buffer_gradient(ember), _stage_buffer_gradient(torch),
                               rtol=1e-6)


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_writing_into_a_needed_operand_raises(lib):
    a = lib.ones(3, requires_grad=True)
    b = lib.tensor([1.0, 2.0, 3.0])
    out = lib.einsum("i,i->", a, b)
    b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()
