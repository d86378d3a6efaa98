"""Acceptance: "Learn the Basics" Tensors and Autograd tutorials run on ember.

Code from pytorch/tutorials beginner_source/basics/{tensorqs,autogradqs}_tutorial.py
(BSD-3-Clause), prose and comments removed; otherwise unchanged.
"""

import numpy as np
from acceptance_runner import run

import ember

# basics/tensorqs_tutorial.py, run cell by cell.
TENSORQS_CELLS = [
    """
    import torch
    import numpy as np

    data = [[1, 2],[3, 4]]
    x_data = torch.tensor(data)

    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)

    x_ones = torch.ones_like(x_data) # retains the properties of x_data
    print(f"Ones Tensor: \\n {x_ones} \\n")

    x_rand = torch.rand_like(x_data, dtype=torch.float) # overrides the datatype of x_data
    print(f"Random Tensor: \\n {x_rand} \\n")

    shape = (2,3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)

    print(f"Random Tensor: \\n {rand_tensor} \\n")
    print(f"Ones Tensor: \\n {ones_tensor} \\n")
    print(f"Zeros Tensor: \\n {zeros_tensor}")

    tensor = torch.rand(3,4)

    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")

    if torch.cuda.is_available() & (torch.device('cuda').index is not None):
        tensor = tensor.to('cuda')
    """,
    """
    tensor = torch.ones(4, 4)
    print('First row: ', tensor[0])
    print('First column: ', tensor[:, 0])
    print('Last column:', tensor[..., -1])
    tensor[:,1] = 0
    print(tensor)

    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)

    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)

    y3 = torch.rand_like(tensor)
    torch.matmul(tensor, tensor.T, out=y3)

    z1 = tensor * tensor
    z2 = tensor.mul(tensor)

    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)

    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))

    print(tensor, "\\n")
    tensor.add_(5)
    print(tensor)
    """,
    """
    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")

    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")

    n = np.ones(5)
    t = torch.from_numpy(n)

    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    """,
]


def test_tensors_tutorial():
    ns = run(TENSORQS_CELLS[0])
    assert ns["x_data"].dtype == ember.int64 and ns["x_np"].dtype == ember.int64
    assert ns["x_ones"].dtype == ember.int64 and ns["x_rand"].dtype == ember.float32
    out = ns["_stdout"]
    assert "Ones Tensor: \n tensor([[1, 1],\n        [1, 1]]) \n" in out
    assert "Shape of tensor: torch.Size([3, 4])" in out
    assert "Datatype of tensor: torch.float32" in out
    assert "Device tensor is stored on: cpu" in out

    run(TENSORQS_CELLS[1], ns)
    expected = np.ones((4, 4), np.float32)
    expected[:, 1] = 0
    np.testing.assert_array_equal(ns["t1"].numpy(), np.concatenate([expected] * 3, axis=1))
    for name in ("y1", "y2", "y3"):
        np.testing.assert_array_equal(ns[name].numpy(), expected @ expected.T)
    for name in ("z1", "z2", "z3"):
        np.testing.assert_array_equal(ns[name].numpy(), expected * expected)
    assert ns["agg_item"] == 12.0 and isinstance(ns["agg_item"], float)
    np.testing.assert_array_equal(ns["tensor"].numpy(), expected + 5)
    assert "12.0 <class 'float'>" in ns["_stdout"]

    run(TENSORQS_CELLS[2], ns)
    assert "t: tensor([2., 2., 2., 2., 2.])\nn: [2. 2. 2. 2. 2.]" in ns["_stdout"]
    assert "t: tensor([2., 2., 2., 2., 2.], dtype=torch.float64)\nn: [2. 2. 2. 2. 2.]" in (
        ns["_stdout"])


# basics/autogradqs_tutorial.py
AUTOGRADQS = """
import torch

x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")

loss.backward()
print(w.grad)
print(b.grad)

z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)

z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)
"""

JACOBIAN_PRODUCT_CELLS = [
    """
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp+1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\\n{inp.grad}")
    """,
    """
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\\nSecond call\\n{inp.grad}")
    """,
    """
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\\nCall after zeroing gradients\\n{inp.grad}")
    """,
]


def test_autograd_tutorial():
    ns = run(AUTOGRADQS)
    w = ns["w"].detach().numpy().astype(np.float64)
    b = ns["b"].detach().numpy().astype(np.float64)
    # d/dz mean(BCEWithLogits(z, 0)) = sigmoid(z) / 3; z = 1 @ w + b.
    z = w.sum(0) + b
    dz = 1.0 / (1.0 + np.exp(-z)) / 3.0
    np.testing.assert_allclose(ns["b"].grad.numpy(), dz, rtol=1e-5)
    np.testing.assert_allclose(ns["w"].grad.numpy(), np.ones((5, 1)) * dz, rtol=1e-5)
    out = ns["_stdout"].splitlines()
    assert out[0].startswith("Gradient function for z = <AddBackward0 object at")
    assert out[-3:] == ["True", "False", "False"]


def test_autograd_tutorial_loss_grad_fn_name():
    ns = run(AUTOGRADQS)
    assert "Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at" in (
        ns["_stdout"])


def test_autograd_tutorial_jacobian_product():
    ns = run(AUTOGRADQS)
    # v^T J with v = 1 for out = ((inp + 1) ** 2)^T is 2 (inp + 1), accumulated per call.
    expected = 2.0 * (np.eye(4, 5) + 1.0)
    for cell, factor in zip(JACOBIAN_PRODUCT_CELLS, (1, 2, 1)):
        run(cell, ns)
        np.testing.assert_array_equal(ns["inp"].grad.numpy(), factor * expected)
    assert "First call\ntensor([[4., 2., 2., 2., 2.]," in ns["_stdout"]
    assert "Second call\ntensor([[8., 4., 4., 4., 4.]," in ns["_stdout"]
