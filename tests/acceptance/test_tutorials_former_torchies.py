"""Acceptance: the "PyTorch for former Torch users" tensor tutorial runs on ember (its nn
tutorial, in today's version nnft_tutorial.py, is in test_tutorials_s5_former_torchies.py).

Code from pytorch/tutorials beginner_source/former_torchies/tensor_tutorial.py (BSD-3-Clause),
prose and comments removed; otherwise unchanged.
"""
# The tutorials' code is kept verbatim (a tab included).
# ruff: noqa: E501, W291, W293

import numpy as np
from acceptance_runner import run

# former_torchies/tensor_tutorial.py
TENSORS = r"""
import torch
a = torch.empty(5, 7, dtype=torch.float)

a = torch.randn(5, 7, dtype=torch.double)
print(a)
print(a.size())

a.fill_(3.5)

b = a.add(4.0)

print(a, b)

b = a[0, 3]  # select 1st row, 4th column from a

b = a[:, 3:5]  # selects all rows, 4th column and  5th column from a

x = torch.ones(5, 5)
print(x)

z = torch.empty(5, 2)
z[:, 0] = 10
z[:, 1] = 100
print(z)

x.index_add_(1, torch.tensor([4, 0], dtype=torch.long), z)
print(x)

a = torch.ones(5)
print(a)

b = a.numpy()
print(b)

a.add_(1)
print(a)
print(b) 	# see how the numpy array changed in value

import numpy as np
a = np.ones(5)
b = torch.from_numpy(a)
np.add(a, 1, out=a)
print(a)
print(b)  # see how changing the np array changed the torch Tensor automatically

if torch.cuda.is_available():

    a = torch.full((10,), 3, device=torch.device("cuda"))
    print(type(a))
    b = a.to(torch.device("cpu"))
"""

def test_former_torchies_tensors():
    ns = run(TENSORS)
    out = ns["_stdout"]
    assert "torch.Size([5, 7])" in out and "dtype=torch.float64" in out
    # index_add_ along dim 1: column 4 gets z[:, 0] = 10, column 0 gets z[:, 1] = 100
    want = np.ones((5, 5), np.float32)
    want[:, 4] += 10
    want[:, 0] += 100
    np.testing.assert_array_equal(ns["x"].numpy(), want)
    assert "tensor([[101.,   1.,   1.,   1.,  11.]," in out
    # both NumPy bridges share memory
    assert "tensor([2., 2., 2., 2., 2.])\n[2. 2. 2. 2. 2.]" in out
    assert "[2. 2. 2. 2. 2.]\ntensor([2., 2., 2., 2., 2.], dtype=torch.float64)" in out

