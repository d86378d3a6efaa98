"""tanh's and sigmoid's half-precision gradients bit for bit against PyTorch's CPU kernels
(float32 arithmetic rounded once for bfloat16, and for float16 tanh; float16 arithmetic for
float16 sigmoid)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_gradients_match_torch(name, dtype):
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((2, 4096)).astype(np.float32) * 2
    grads = []
    for lib in (ember, torch):
        t = lib.tensor(x).to(getattr(lib, dtype)).requires_grad_()
        getattr(lib, name)(t).backward(lib.tensor(g).to(getattr(lib, dtype)))
        grads.append(t.grad.float().numpy())
    np.testing.assert_array_equal(*grads)
