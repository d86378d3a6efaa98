"""view_as_real of 0-d and strided complex tensors: a view (writes go through), its
(real, imaginary) axis last, with the input's strides doubled, and differentiable."""
import numpy as np
import pytest

import ember

BASE = np.arange(24).reshape(4, 6) * (1 - 2j)
CASES = {  # name: (the tensor, the same values in NumPy)
    "0-d": lambda: (ember.tensor(1 + 2j), np.array(1 + 2j)),
    "transposed": lambda: (ember.tensor(BASE).t(), BASE.T),
    "stepped": lambda: (ember.tensor(BASE)[:, ::2], BASE[:, ::2]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_strides_and_write_through(case):
    z, array = CASES[case]()
    r = ember.view_as_real(z)
    np.testing.assert_array_equal(r.numpy(), np.stack([array.real, array.imag], -1))
    assert r.stride() == tuple(2 * s for s in z.stride()) + (1,)
    r[..., 1] = 0.0
    assert (z.imag == 0).all()


def test_gradient_of_a_transposed_view():
    z = ember.tensor(np.arange(12).reshape(3, 4) * (1 + 1j), requires_grad=True)
    weights = np.arange(24.0).reshape(4, 3, 2)
    (ember.view_as_real(z.t()) * ember.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(),
                                  (weights[..., 0] + 1j * weights[..., 1]).T)
