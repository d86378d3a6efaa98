"""Acceptance: "Learning PyTorch with Examples" runs on ember.

Code from pytorch/tutorials beginner_source/examples_{tensor,autograd,nn}/*.py (BSD-3-Clause),
prose and comments removed, iteration counts reduced; otherwise unchanged.
"""

import math

import numpy as np
from acceptance_runner import require, run

import ember

ITERS = 300


def numpy_warmup(a, b, c, d, iters, lr=1e-6):
    """The numpy warm-up (examples_tensor/polynomial_numpy.py) loop, from given weights."""
    x = np.linspace(-math.pi, math.pi, 2000)
    y = np.sin(x)
    for _ in range(iters):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        grad_y_pred = 2.0 * (y_pred - y)
        a -= lr * grad_y_pred.sum()
        b -= lr * (grad_y_pred * x).sum()
        c -= lr * (grad_y_pred * x ** 2).sum()
        d -= lr * (grad_y_pred * x ** 3).sum()
    return np.array([a, b, c, d])


def poly_loss(coefs):
    x = np.linspace(-math.pi, math.pi, 2000)
    a, b, c, d = coefs
    return float(((a + b * x + c * x ** 2 + d * x ** 3 - np.sin(x)) ** 2).sum())


def initial_weights(seed, n=4):
    """The values the tutorials' ``torch.randn(())`` calls draw after ``manual_seed(seed)``."""
    ember.manual_seed(seed)
    return [ember.randn(()).item() for _ in range(n)]


# examples_tensor/polynomial_tensor.py
POLYNOMIAL_TENSOR = """
import math
import torch

dtype = torch.float
device = torch.device("cpu")

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

a = torch.randn((), device=device, dtype=dtype)
b = torch.randn((), device=device, dtype=dtype)
c = torch.randn((), device=device, dtype=dtype)
d = torch.randn((), device=device, dtype=dtype)

learning_rate = 1e-6
for t in range(ITERS):
    y_pred = a + (b * x) + (c * x.pow(2)) + (d * x.pow(3))

    loss = (y_pred - y).pow(2).sum().item()
    if t % 100 == 99:
        print(t, loss)

    grad_y_pred = -2.0 * (y - y_pred)
    grad_a = grad_y_pred.sum()
    grad_b = torch.matmul(input=grad_y_pred, other=x).sum()
    grad_c = torch.matmul(input=grad_y_pred, other=x.pow(2)).sum()
    grad_d = torch.matmul(input=grad_y_pred, other=x.pow(3)).sum()

    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d

print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
"""


def test_polynomial_tensor_matches_numpy_warmup():
    start = initial_weights(1)
    ember.manual_seed(1)
    ns = run(POLYNOMIAL_TENSOR, ITERS=ITERS)
    got = np.array([ns[k].item() for k in "abcd"])
    expected = numpy_warmup(*start, ITERS)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    assert ns["a"].dtype == ember.float32
    assert "Result: y = " in ns["_stdout"]


# examples_autograd/polynomial_autograd.py (the version that resets ``.grad = None``: the
# newest revision assigns ``a.grad = 0.``, which real PyTorch rejects with a TypeError).
POLYNOMIAL_AUTOGRAD = """
import torch
import math

dtype = torch.float
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
torch.set_default_device(device)

x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)

a = torch.randn((), dtype=dtype, requires_grad=True)
b = torch.randn((), dtype=dtype, requires_grad=True)
c = torch.randn((), dtype=dtype, requires_grad=True)
d = torch.randn((), dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(ITERS):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3

    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())

    loss.backward()

    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad

        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
"""


def test_polynomial_autograd_matches_numpy_warmup():
    start = initial_weights(2)
    ember.manual_seed(2)
    try:
        ns = run(POLYNOMIAL_AUTOGRAD, ITERS=ITERS)
    finally:
        ember.set_default_device(None)
    got = np.array([ns[k].item() for k in "abcd"])
    np.testing.assert_allclose(got, numpy_warmup(*start, ITERS), rtol=1e-3, atol=1e-4)
    assert all(ns[k].is_leaf and ns[k].requires_grad for k in "abcd")


# examples_autograd/polynomial_custom_function.py
POLYNOMIAL_CUSTOM_FUNCTION = """
import torch
import math


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


dtype = torch.float
device = torch.device("cpu")

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

learning_rate = 5e-6
for t in range(ITERS):
    P3 = LegendrePolynomial3.apply

    y_pred = a + b * P3(c + d * x)

    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())

    loss.backward()

    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad

        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f'Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)')
"""


def legendre_numpy(a, b, c, d, iters, lr=5e-6):
    """Gradient descent on y = a + b * P3(c + d x) with the closed-form gradients."""
    x = np.linspace(-math.pi, math.pi, 2000)
    y = np.sin(x)
    for _ in range(iters):
        u = c + d * x
        p3 = 0.5 * (5 * u ** 3 - 3 * u)
        g = 2.0 * (a + b * p3 - y)
        gu = g * b * 1.5 * (5 * u ** 2 - 1)
        a, b, c, d = (a - lr * g.sum(), b - lr * (g * p3).sum(), c - lr * gu.sum(),
                      d - lr * (gu * x).sum())
    return np.array([a, b, c, d])


def test_polynomial_custom_function_matches_closed_form():
    ns = run(POLYNOMIAL_CUSTOM_FUNCTION, ITERS=ITERS)
    got = np.array([ns[k].item() for k in "abcd"])
    np.testing.assert_allclose(got, legendre_numpy(0.0, -1.0, 0.0, 0.3, ITERS), rtol=2e-3,
                               atol=1e-4)
    # The user Function's backward is P3'(x) = 1.5 (5x^2 - 1).
    fn = ns["LegendrePolynomial3"]
    x = ember.tensor([-1.5, 0.2, 2.0], dtype=ember.float64, requires_grad=True)
    fn.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * (5 * x.detach().numpy() ** 2 - 1))
    assert ember.autograd.gradcheck(fn.apply, (x,))


# examples_nn/polynomial_nn.py
POLYNOMIAL_NN = """
import torch
import math

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)

loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
for t in range(ITERS):
    y_pred = model(xx)

    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    model.zero_grad()

    loss.backward()

    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]

print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
"""  # noqa: E501


def _linear_start(seed):
    """Linear(3, 1)'s initial weight and bias after ``manual_seed(seed)``."""
    ember.manual_seed(seed)
    lin = ember.nn.Linear(3, 1)
    return [lin.bias.item(), *lin.weight.detach().numpy().ravel().tolist()]


def test_polynomial_nn_matches_numpy_warmup():
    start = _linear_start(3)
    ember.manual_seed(3)
    ns = run(POLYNOMIAL_NN, ITERS=ITERS)
    assert ns["xx"].shape == (2000, 3)
    lin = ns["linear_layer"]
    got = np.array([lin.bias.item(), *lin.weight.detach().numpy().ravel()])
    np.testing.assert_allclose(got, numpy_warmup(*start, ITERS), rtol=1e-3, atol=1e-4)
    assert "Result: y = " in ns["_stdout"]


# examples_nn/polynomial_optim.py
POLYNOMIAL_OPTIM = """
import torch
import math

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
for t in range(ITERS):
    y_pred = model(xx)

    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    optimizer.zero_grad()

    loss.backward()

    optimizer.step()


linear_layer = model[0]
"""


def test_polynomial_optim_matches_numpy_warmup():
    require("ember.optim")
    start = _linear_start(4)
    ember.manual_seed(4)
    ns = run(POLYNOMIAL_OPTIM, ITERS=ITERS)
    lin = ns["linear_layer"]
    got = np.array([lin.bias.item(), *lin.weight.detach().numpy().ravel()])
    np.testing.assert_allclose(got, numpy_warmup(*start, ITERS), rtol=1e-3, atol=1e-4)


# examples_nn/polynomial_module.py
POLYNOMIAL_MODULE = """
import torch
import math


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3'


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

model = Polynomial3()

criterion = torch.nn.MSELoss(reduction='sum')
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
for t in range(ITERS):
    y_pred = model(x)

    loss = criterion(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f'Result: {model.string()}')
"""  # noqa: E501


def test_polynomial_module_matches_numpy_warmup():
    require("ember.optim")
    start = initial_weights(5)
    ember.manual_seed(5)
    ns = run(POLYNOMIAL_MODULE, ITERS=ITERS)
    model = ns["model"]
    assert [n for n, _ in model.named_parameters()] == ["a", "b", "c", "d"]
    got = np.array([getattr(model, k).item() for k in "abcd"])
    np.testing.assert_allclose(got, numpy_warmup(*start, ITERS), rtol=1e-3, atol=1e-4)


# examples_nn/dynamic_net.py
DYNAMIC_NET = """
import random
import torch
import math


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x ** exp
        return y

    def string(self):
        return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3 + {self.e.item()} x^4 ? + {self.e.item()} x^5 ?'


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

model = DynamicNet()

criterion = torch.nn.MSELoss(reduction='sum')
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
for t in range(ITERS):
    y_pred = model(x)

    loss = criterion(y_pred, y)
    if t % 2000 == 1999:
        print(t, loss.item())

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f'Result: {model.string()}')
"""  # noqa: E501


def test_dynamic_net_loss_decreases():
    require("ember.optim")
    import random

    random.seed(0)
    ember.manual_seed(6)
    first = run(DYNAMIC_NET, ITERS=1)
    random.seed(0)
    ember.manual_seed(6)
    ns = run(DYNAMIC_NET, ITERS=ITERS)
    model, x, y = ns["model"], ns["x"], ns["y"]
    with ember.no_grad():
        # Fixed degree-3 part only: the degree varies per call by design.
        def cubic(m):
            return ((m.a + m.b * x + m.c * x ** 2 + m.d * x ** 3 - y) ** 2).sum().item()

        assert cubic(model) < cubic(first["model"])


def test_numpy_warmup_oracle_converges():
    # The oracle itself: the tutorial's numpy loop lowers the loss of its random start.
    rng = np.random.default_rng(0)
    start = rng.standard_normal(4)
    assert poly_loss(numpy_warmup(*start, 2000)) < min(poly_loss(start), 50.0)



# examples_tensor/two_layer_net_tensor.py (the tutorial's earlier revision), 50 steps
TWO_LAYER_NET_TENSOR = """
import torch


dtype = torch.float
device = torch.device("cpu")

N, D_in, H, D_out = 64, 1000, 100, 10

x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)

w1 = torch.randn(D_in, H, device=device, dtype=dtype)
w2 = torch.randn(H, D_out, device=device, dtype=dtype)

learning_rate = 1e-6
for t in range(50):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)

    loss = (y_pred - y).pow(2).sum().item()
    print(t, loss)

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)

    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2
"""

# examples_autograd/two_layer_net_custom_function.py, 50 steps
TWO_LAYER_NET_CUSTOM_FUNCTION = """
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


dtype = torch.float
device = torch.device("cpu")

N, D_in, H, D_out = 64, 1000, 100, 10

x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)

w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(50):
    relu = MyReLU.apply

    y_pred = relu(x.mm(w1)).mm(w2)

    loss = (y_pred - y).pow(2).sum()
    print(t, loss.item())

    loss.backward()

    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad

        w1.grad.zero_()
        w2.grad.zero_()
"""


def test_two_layer_net_autograd_equals_manual_backprop():
    ember.manual_seed(7)
    manual = run(TWO_LAYER_NET_TENSOR)
    ember.manual_seed(7)
    auto = run(TWO_LAYER_NET_CUSTOM_FUNCTION)
    losses = [float(line.split()[1]) for line in manual["_stdout"].splitlines()]
    assert losses[-1] < 0.5 * losses[0]
    # Same draws, same updates: the custom-Function autograd run retraces the hand-written one.
    for name in ("w1", "w2"):
        np.testing.assert_allclose(auto[name].detach().numpy(), manual[name].numpy(),
                                   rtol=1e-4, atol=1e-4)
    assert auto["w1"].is_leaf and auto["w1"].grad is not None
