"""ReLU's gradient against PyTorch at NaN results and infinite gradients, in every float
dtype and through F.relu, nn.ReLU and Tensor.relu_."""
import pytest

import ember

torch = pytest.importorskip("torch")

VALUES = [float("nan"), -1.0, 0.0, -0.0, 2.0, float("inf"), float("-inf")]
GRADS = [1.0, float("inf"), float("-inf"), float("nan"), 3.0, -2.0, 4.0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("how", ["function", "module", "inplace"])
def test_relu_grad_matches_torch(dtype, how):
    grads = []
    for lib in (torch, ember):
        x = lib.tensor(VALUES, dtype=getattr(lib, dtype), requires_grad=True)
        if how == "function":
            y = lib.nn.functional.relu(x)
        elif how == "module":
            y = lib.nn.ReLU()(x)
        else:
            y = (x * 1).relu_()
        y.backward(lib.tensor(GRADS, dtype=getattr(lib, dtype)))
        grads.append([str(v) for v in x.grad.double().tolist()])
    assert grads[0] == grads[1]
