"""Acceptance: prototype tutorials on ``torch.vmap`` and ``torch.masked.MaskedTensor`` run on
ember, compared with PyTorch running the same code where their results are deterministic.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed, otherwise unchanged:
- prototype_source/vmap_recipe.py: a batched ``torch.dot``, a model lifted to batches, and a
  Jacobian from ``vmap`` over a function that calls ``torch.autograd.grad`` (without
  ``retain_graph``) on one graph for every basis vector.
- prototype_source/maskedtensor_overview.py: construction, indexing and printing, masked
  gradients through ``torch.where``, ``as_masked_tensor`` of a division, nan-free sums and
  means, the safe softmax, ``argmin`` and fully masked reductions.
- prototype_source/maskedtensor_advanced_semantics.py: NumPy ``MaskedArray`` against
  MaskedTensor, the mismatched-mask error, ``to_tensor``/``get_mask``, and reductions over a
  random mask (checked against NumPy with the mask drawn).
"""
# The tutorials' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
import pytest
from acceptance_runner import run
from torch_runner import run_torch

import ember

# prototype_source/vmap_recipe.py
VMAP_RECIPE = r'''
import torch
from torch import vmap

torch.dot                            # [D], [D] -> []
batched_dot = torch.vmap(torch.dot)  # [N, D], [N, D] -> [N]
x, y = torch.randn(2, 5), torch.randn(2, 5)
batched_dot(x, y)

batch_size, feature_size = 3, 5
weights = torch.randn(feature_size, requires_grad=True)

def model(feature_vec):
    return feature_vec.dot(weights).relu()

examples = torch.randn(batch_size, feature_size)
result = torch.vmap(model)(examples)
expected = torch.stack([model(example) for example in examples.unbind()])
assert torch.allclose(result, expected)

N = 5
def f(x):
    return x ** 2

x = torch.randn(N, requires_grad=True)
y = f(x)
basis_vectors = torch.eye(N)

jacobian_rows = [torch.autograd.grad(y, x, v, retain_graph=True)[0]
                 for v in basis_vectors.unbind()]
jacobian = torch.stack(jacobian_rows)

def get_vjp(v):
    return torch.autograd.grad(y, x, v)[0]

jacobian_vmap = vmap(get_vjp)(basis_vectors)
assert torch.allclose(jacobian_vmap, jacobian)

def model(sample, weight):
    return torch.dot(sample, weight)

def grad_sample(sample):
    return torch.autograd.functional.vjp(lambda weight: model(sample), weight)[1]
'''

# prototype_source/maskedtensor_overview.py
MASKEDTENSOR_OVERVIEW = r'''
import torch
from torch.masked import masked_tensor, as_masked_tensor
import warnings

warnings.filterwarnings(action='ignore', category=UserWarning)

data = torch.arange(24).reshape(2, 3, 4)
mask = data % 2 == 0

print("data:\n", data)
print("mask:\n", mask)

mt = masked_tensor(data.float(), mask)

print("mt[0]:\n", mt[0])
print("mt[:, :, 2:4]:\n", mt[:, :, 2:4])

x = torch.tensor([-10., -5, 0, 5, 10, 50, 60, 70, 80, 90, 100], requires_grad=True, dtype=torch.float)
y = torch.where(x < 0, torch.exp(x), torch.ones_like(x))
y.sum().backward()
x.grad

x = torch.tensor([-10., -5, 0, 5, 10, 50, 60, 70, 80, 90, 100])
mask = x < 0
mx = masked_tensor(x, mask, requires_grad=True)
my = masked_tensor(torch.ones_like(x), ~mask, requires_grad=True)
y = torch.where(mask, torch.exp(mx), my)
y.sum().backward()
mx.grad

a = torch.randn((), requires_grad=True)
b = torch.tensor(False)
c = torch.ones(())
print("torch.where(b, a/0, c):\n", torch.where(b, a/0, c))
print("torch.autograd.grad(torch.where(b, a/0, c), a):\n", torch.autograd.grad(torch.where(b, a/0, c), a))

a = masked_tensor(torch.randn(()), torch.tensor(True), requires_grad=True)
b = torch.tensor(False)
c = torch.ones(())
print("torch.where(b, a/0, c):\n", torch.where(b, a/0, c))
print("torch.autograd.grad(torch.where(b, a/0, c), a):\n", torch.autograd.grad(torch.where(b, a/0, c), a))

x = torch.tensor([1., 1.], requires_grad=True)
div = torch.tensor([0., 1.])
y = x/div # => y is [inf, 1]
mask = (div != 0)  # => mask is [0, 1]
y[mask].backward()
x.grad

x = torch.tensor([1., 1.], requires_grad=True)
div = torch.tensor([0., 1.])
y = x/div # => y is [inf, 1]
mask = (div != 0) # => mask is [0, 1]
loss = as_masked_tensor(y, mask)
loss.sum().backward()
x.grad

a = torch.tensor([1., 2., float('nan')])
b = torch.tensor(1.0, requires_grad=True)
c = a * b
c1 = torch.nansum(c)
bgrad1, = torch.autograd.grad(c1, b, retain_graph=True)
bgrad1

a = torch.tensor([1., 2., float('nan')])
b = torch.tensor(1.0, requires_grad=True)
mt = masked_tensor(a, ~torch.isnan(a))
c = mt * b
c1 = torch.sum(c)
bgrad1, = torch.autograd.grad(c1, b, retain_graph=True)
bgrad1

data = torch.randn(3, 3)
mask = torch.tensor([[True, False, False], [True, False, True], [False, False, False]])
x = data.masked_fill(~mask, float('-inf'))
mt = masked_tensor(data, mask)
print("x:\n", x)
print("mt:\n", mt)

x.softmax(0)

mt.softmax(0)

x = torch.arange(16).float()
y = x * x.fmod(4)
z = y.masked_fill(y == 0, float('nan'))  # we want to get the mean of y when ignoring the zeros

print("y:\n", y)
print("z:\n", z)

print("y.mean():\n", y.mean())
print("z.nanmean():\n", z.nanmean())
print("torch.mean(masked_tensor(y, y != 0)):\n", torch.mean(masked_tensor(y, y != 0)))

torch.argmin(masked_tensor(y, y != 0))

x = torch.empty(16).fill_(float('nan'))
print("x:\n", x)
print("torch.nanmean(x):\n", torch.nanmean(x))
print("torch.nanmean via maskedtensor:\n", torch.mean(masked_tensor(x, ~torch.isnan(x))))
'''

# prototype_source/maskedtensor_advanced_semantics.py
MASKEDTENSOR_ADVANCED = r'''
import torch
from torch.masked import masked_tensor
import numpy as np
import warnings

warnings.filterwarnings(action='ignore', category=UserWarning)

data = torch.arange(5.)
mask = torch.tensor([True, True, False, True, False])
npm0 = np.ma.masked_array(data.numpy(), (~mask).numpy())
npm1 = np.ma.masked_array(data.numpy(), (mask).numpy())

print("npm0:\n", npm0)
print("npm1:\n", npm1)
print("npm0 + npm1:\n", npm0 + npm1)

mt0 = masked_tensor(data, mask)
mt1 = masked_tensor(data, ~mask)
print("mt0:\n", mt0)
print("mt1:\n", mt1)

try:
    mt0 + mt1
except ValueError as e:
    print ("mt0 + mt1 failed. Error: ", e)

t0 = mt0.to_tensor(0)
t1 = mt1.to_tensor(0)
mt2 = masked_tensor(t0 + t1, mt0.get_mask() & mt1.get_mask())

print("t0:\n", t0)
print("t1:\n", t1)
print("mt2 (t0 + t1):\n", mt2)

data = torch.arange(12, dtype=torch.float).reshape(3, 4)
mask = torch.randint(2, (3, 4), dtype=torch.bool)
mt = masked_tensor(data, mask)

print("data:\n", data)
print("mask:\n", mask)
print("mt:\n", mt)

print("torch.sum:\n", torch.sum(mt, 1))
print("torch.mean:\n", torch.mean(mt, 1))
print("torch.prod:\n", torch.prod(mt, 1))
print("torch.amin:\n", torch.amin(mt, 1))
print("torch.amax:\n", torch.amax(mt, 1))

data0 = torch.arange(10.).reshape(2, 5)
data1 = torch.arange(10.).reshape(2, 5) + 10
mask0 = torch.tensor([[True, True, False, False, False], [False, False, False, True, True]])
mask1 = torch.tensor([[False, False, False, True, True], [True, True, False, False, False]])
npm0 = np.ma.masked_array(data0.numpy(), (mask0).numpy())
npm1 = np.ma.masked_array(data1.numpy(), (mask1).numpy())

print("npm0:", npm0)
print("npm1:", npm1)

print("(npm0 + npm1).sum(0):\n", (npm0 + npm1).sum(0))
print("npm0.sum(0) + npm1.sum(0):\n", npm0.sum(0) + npm1.sum(0))

mt0 = masked_tensor(data0, ~mask0)
mt1 = masked_tensor(data1, ~mask1)

(mt0.to_tensor(0) + mt1.to_tensor(0)).sum(0)
'''


def test_vmap_recipe():
    ns = run(VMAP_RECIPE)
    x = ns["x"].detach().numpy()
    np.testing.assert_allclose(ns["jacobian_vmap"].numpy(), np.diag(2 * x), rtol=1e-6)
    np.testing.assert_allclose(ns["jacobian_vmap"].numpy(), ns["jacobian"].numpy())
    xs, ys = ns["examples"].numpy(), ns["weights"].detach().numpy()
    np.testing.assert_allclose(ns["result"].detach().numpy(), np.maximum(xs @ ys, 0),
                               rtol=1e-5, atol=1e-6)
    a, b = np.random.default_rng(0).standard_normal((2, 4, 5)).astype(np.float32)
    got = ns["batched_dot"](ember.from_numpy(a), ember.from_numpy(b))
    np.testing.assert_allclose(got.numpy(), (a * b).sum(1), rtol=1e-5)


def test_vmap_recipe_matches_pytorch_jacobian_shapes():
    torch_ns = run_torch(VMAP_RECIPE)
    ns = run(VMAP_RECIPE)
    assert tuple(ns["jacobian_vmap"].shape) == tuple(torch_ns["jacobian_vmap"].shape) == (5, 5)
    assert ns["result"].requires_grad == torch_ns["result"].requires_grad


def test_maskedtensor_overview():
    ns = run(MASKEDTENSOR_OVERVIEW)
    out = ns["_stdout"]
    assert "mt[0]:\n MaskedTensor(\n  [\n    [  0.0000,       --,   2.0000,       --]," in out
    assert "torch.mean(masked_tensor(y, y != 0)):\n MaskedTensor( 16.6667, True)" in out
    assert "torch.nanmean via maskedtensor:\n MaskedTensor(--, False)" in out
    mx = ns["mx"]
    grad = mx.grad
    np.testing.assert_array_equal(grad.get_mask().numpy(), np.arange(11) < 2)
    np.testing.assert_allclose(grad.get_data().numpy()[:2], np.exp([-10.0, -5.0]), rtol=1e-6)
    x = ns["x"]
    assert ember.isnan(x).all()
    softmax = ns["mt"].softmax(0)
    data, mask = ns["data"].numpy(), ns["mask"].numpy()
    np.testing.assert_array_equal(softmax.get_mask().numpy(), mask)
    for j in (0, 2):
        col = np.exp(data[mask[:, j], j])
        np.testing.assert_allclose(softmax.get_data().numpy()[mask[:, j], j], col / col.sum(),
                                   rtol=1e-5)
    y = ns["y"]
    assert int(ember.argmin(ember.masked.masked_tensor(y, y != 0)).get_data()) == 1


def test_maskedtensor_overview_matches_pytorch():
    ours, theirs = run(MASKEDTENSOR_OVERVIEW)["_stdout"], run_torch(MASKEDTENSOR_OVERVIEW)["_stdout"]
    # Compared: what comes before the first torch.randn draw, the printed ``torch.where``
    # results, and everything from ``y:`` on. (The ``autograd.grad`` of a MaskedTensor input is
    # the xfail below.)
    where = "torch.where(b, a/0, c):\n"
    assert ours.split(where)[0] == theirs.split(where)[0]
    assert [part.split("\n")[0] for part in ours.split(where)[1:]] == \
        [part.split("\n")[0] for part in theirs.split(where)[1:]]
    assert ours.split("\ny:\n", 1)[1] == theirs.split("\ny:\n", 1)[1]


@pytest.mark.xfail(reason="ember.autograd.grad of a MaskedTensor input answers a plain tensor "
                   "(ember/masked); PyTorch answers a MaskedTensor", strict=False)
def test_maskedtensor_overview_grads_are_masked():
    ns = run(MASKEDTENSOR_OVERVIEW)
    assert isinstance(ns["bgrad1"], ember.masked.MaskedTensor)
    assert "torch.autograd.grad(torch.where(b, a/0, c), a):\n (MaskedTensor(--, False),)" \
        in ns["_stdout"]


def test_maskedtensor_advanced_semantics():
    ns = run(MASKEDTENSOR_ADVANCED)
    out = ns["_stdout"]
    assert "mt0 + mt1 failed. Error:  Input masks must match." in out
    np.testing.assert_array_equal(ns["mt2"].get_mask().numpy(), np.zeros(5, bool))
    data, mask = ns["data"].numpy(), ns["mask"].numpy()
    masked = np.ma.masked_array(data, ~mask)
    mt = ns["mt"]
    for reduce, oracle in ((ember.sum, masked.sum), (ember.mean, masked.mean),
                           (ember.prod, masked.prod), (ember.amin, masked.min),
                           (ember.amax, masked.max)):
        got = reduce(mt, 1)
        want = oracle(1)
        np.testing.assert_array_equal(got.get_mask().numpy(), mask.any(1))
        rows = mask.any(1)
        np.testing.assert_allclose(got.get_data().numpy()[rows], np.ma.getdata(want)[rows],
                                   rtol=1e-6)
    np.testing.assert_array_equal(ns["mt0"].to_tensor(0).numpy() + ns["mt1"].to_tensor(0).numpy(),
                                  np.where(~ns["mask0"].numpy(), ns["data0"].numpy(), 0)
                                  + np.where(~ns["mask1"].numpy(), ns["data1"].numpy(), 0))


def test_maskedtensor_advanced_semantics_matches_pytorch():
    ours, theirs = run(MASKEDTENSOR_ADVANCED), run_torch(MASKEDTENSOR_ADVANCED)
    head = "data:\n"
    assert ours["_stdout"].split(head)[0] == theirs["_stdout"].split(head)[0]
    tail = "npm0: "
    assert ours["_stdout"].split(tail)[1] == theirs["_stdout"].split(tail)[1]
