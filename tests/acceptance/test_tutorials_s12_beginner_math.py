"""Acceptance: three small beginner tutorials run on ember and print what PyTorch prints.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed; otherwise unchanged:
- beginner_source/math_behind_training_tutorial.py ("Visualizing the Mathematics Behind Neural
  Network Training"): nn.Linear as a matmul, ReLU's dead neurons, the chain rule checked by
  hand, a walk over ``grad_fn.next_functions``, SGD's step as a subtraction, two fits;
- beginner_source/layer_parameters_tutorial.py: ``parameters()`` / ``named_parameters()``,
  ``numel``, frozen parameters, module reprs;
- beginner_source/linear_regression_tutorial.py: a one-feature regression with SGD.

The printed values that come from random initial weights differ from PyTorch's (ember's
generator is not PyTorch's), so those lines are compared with the numbers masked; everything
else is compared exactly.
"""
# The tutorials' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

from acceptance_runner import run
from torch_runner import run_torch

MATH_BEHIND_TRAINING = r'''
import torch
import torch.nn as nn

torch.manual_seed(42)

layer = nn.Linear(in_features=3, out_features=2)

x = torch.tensor([[1.0, 2.0, 3.0]])

y_layer = layer(x)

y_manual = x @ layer.weight.T + layer.bias

print(f"Layer output:  {y_layer.data}")
print(f"Manual output: {y_manual.data}")
print(f"Match: {torch.allclose(y_layer, y_manual)}")

print(f"Weight matrix W shape: {list(layer.weight.shape)}")
print(layer.weight.data)
print(f"\nBias vector b shape:   {list(layer.bias.shape)}")
print(layer.bias.data)
print(f"\nTotal parameters:      {sum(p.numel() for p in layer.parameters())}")

layer1 = nn.Linear(3, 4, bias=False)
layer2 = nn.Linear(4, 2, bias=False)

y_stacked = layer2(layer1(x))
y_collapsed = x @ (layer2.weight @ layer1.weight).T

print(f"\nTwo layers:    {y_stacked.data}")
print(f"Collapsed:     {y_collapsed.data}")
print(f"Match: {torch.allclose(y_stacked, y_collapsed)}")

x_range = torch.linspace(-3, 3, steps=7)

relu_output = torch.relu(x_range)
print("Input:       ", x_range.tolist())
print("ReLU output: ", relu_output.tolist())

torch.manual_seed(0)
layer_output = torch.randn(100, 8) - 1.0  # shifted negative
after_relu = torch.relu(layer_output)

dead = (after_relu == 0).all(dim=0)
print(f"\nDead neurons: {dead.sum().item()} out of {after_relu.shape[1]}")
print(f"Dead neuron mask: {dead.tolist()}")

x = torch.tensor([2.0], requires_grad=True)
y = x ** 2
z = 3 * y + 1

z.backward()
print(f"x = {x.item()}")
print(f"z = 3x² + 1 = {z.item()}")
print(f"Autograd:  dz/dx = {x.grad.item()}")
print(f"Manual:    dz/dx = 6x = {6 * x.item()}")

x = torch.tensor([[2.0, 1.0]])
W = torch.tensor([[0.5, -0.3],
                   [0.8,  0.2]], requires_grad=True)
b = torch.tensor([0.1, -0.1], requires_grad=True)

y = x @ W.T + b
loss = y.sum()  # backward() needs a scalar; sum is the simplest way

loss.backward()

print(f"\nForward pass:")
print(f"  x    = {x.data}")
print(f"  y    = {y.data}")
print(f"  loss = {loss.item()}")

print(f"\nAutograd gradients:")
print(f"  dL/dW = {W.grad}")
print(f"  dL/db = {b.grad}")

manual_grad_W = torch.ones(2, 1) @ x  # shape: (2, 1) @ (1, 2) -> (2, 2)
manual_grad_b = torch.ones(2)

print(f"\nManual verification:")
print(f"  dL/dW = {manual_grad_W}")
print(f"  dL/db = {manual_grad_b}")
print(f"  W match: {torch.allclose(W.grad, manual_grad_W)}")
print(f"  b match: {torch.allclose(b.grad, manual_grad_b)}")

x = torch.tensor([2.0], requires_grad=True)
y = x ** 2
z = 3 * y + 1

print(f"x.grad_fn = {x.grad_fn}")       # None — leaf tensor
print(f"y.grad_fn = {y.grad_fn}")       # PowBackward0
print(f"z.grad_fn = {z.grad_fn}")       # AddBackward0


def trace_graph(tensor, indent=0):
    """Walk the computational graph from output to inputs."""
    if tensor.grad_fn is not None:
        print(" " * indent + str(tensor.grad_fn))
        for child, _ in tensor.grad_fn.next_functions:
            if child is not None:
                trace_graph_node(child, indent + 2)


def trace_graph_node(node, indent=0):
    """Recursively print graph nodes."""
    print(" " * indent + str(node))
    for child, _ in node.next_functions:
        if child is not None:
            trace_graph_node(child, indent + 2)


print(f"\nComputational graph for z = 3x² + 1:")
trace_graph(z)

with torch.no_grad():
    y_no_graph = x ** 2
print(f"\nWith torch.no_grad():  grad_fn = {y_no_graph.grad_fn}")

y_detached = (x ** 2).detach()
print(f"With .detach():        grad_fn = {y_detached.grad_fn}")

torch.manual_seed(0)

model = nn.Linear(1, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

old_weight = model.weight.data.clone()
old_bias = model.bias.data.clone()

x = torch.tensor([[1.0]])
target = torch.tensor([[3.0]])
prediction = model(x)
loss = nn.functional.mse_loss(prediction, target)

optimizer.zero_grad()
loss.backward()

print(f"Weight gradient: {model.weight.grad.item():.4f}")
print(f"Bias gradient:   {model.bias.grad.item():.4f}")

optimizer.step()

manual_weight = old_weight - 0.1 * model.weight.grad
manual_bias = old_bias - 0.1 * model.bias.grad

print(f"\nWeight after step:  {model.weight.data.item():.4f}")
print(f"Manual computation: {manual_weight.item():.4f}")
print(f"Match: {torch.allclose(model.weight.data, manual_weight)}")

torch.manual_seed(0)

X = torch.linspace(0, 1, 50).unsqueeze(1)
y_true = 3 * X + 1

model = nn.Linear(1, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

print(f"Before training:  W = {model.weight.item():.4f}, "
      f"b = {model.bias.item():.4f}")

for epoch in range(200):
    prediction = model(X)
    loss = nn.functional.mse_loss(prediction, y_true)

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    if (epoch + 1) % 50 == 0:
        print(f"Epoch {epoch+1:3d}  |  Loss: {loss.item():.6f}  |  "
              f"W: {model.weight.item():.4f}  |  "
              f"b: {model.bias.item():.4f}")

print(f"Target:           W = 3.0000, b = 1.0000")

torch.manual_seed(42)

X = torch.randn(100, 3)
y = X @ torch.tensor([2.0, -1.0, 0.5]) + 0.3  # true relationship

model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

for epoch in range(300):
    prediction = model(X).squeeze()

    loss = nn.functional.mse_loss(prediction, y)

    optimizer.zero_grad()
    loss.backward()

    optimizer.step()

print(f"Learned weights: {model.weight.data.squeeze().tolist()}")
print(f"True weights:    [2.0, -1.0, 0.5]")
print(f"Learned bias:    {model.bias.item():.4f}")
print(f"True bias:       0.3000")
'''

LAYER_PARAMETERS = r"""
from torch import nn

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits

model = NeuralNetwork()
print(model)

print([param.shape for param in model.parameters()])

for name, param in model.named_parameters():
    print(name, param.shape)

layer = nn.Linear(28*28, 512)

for name, param in layer.named_parameters():
    print(name, param.size())

for name, param in model.named_parameters():
    print(f'{name=}, {param.size()=}, {param.numel()=}')

print(f'Total model params: {sum(p.numel() for p in model.parameters()):,}')

print(f'Total model trainable params: {sum(p.numel() for p in model.parameters() if p.requires_grad):,}')

for name, param in model.named_parameters():
    if name == 'linear_relu_stack.0.weight':
        param.requires_grad = False
    print(f'{name=}, {param.size()=}, {param.numel()=}, {param.requires_grad=}')
print(f'Total model trainable params: {sum(p.numel() for p in model.parameters() if p.requires_grad):,}')

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels=1, out_channels=32, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels=32, out_channels=64, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(2, 2)),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 12 * 12, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.classifier(x)
        return x

cnn_model = CNN()
print(cnn_model)
print('-'*72)
for name, param in cnn_model.named_parameters():
    print(f'{name=}, {param.size()=}, {param.numel()=}, {param.requires_grad=}')
print('-'*72)
print(f'Total model trainable params: {sum(p.numel() for p in cnn_model.parameters() if p.requires_grad):,}')

import numpy as np

for name, param in cnn_model.named_parameters():
    print(f'{name=}, {param.size()=}, {np.prod(param.size())=} == {param.numel()=}')
"""

LINEAR_REGRESSION = r'''
from torch import nn
import torch
from torch import tensor

x_data = tensor([[1.0], [7.0], [3.0], [5.0]])
y_data = tensor([[2.0], [3.0], [7.0], [7.0]])

class Model(nn.Module):
    def __init__(self):
        """
        Initialize the model type. We also initialize with the 'Linear' layer -- set
        our input and output size to 1, since each dataset the x/y values are 1 to 1.
        """
        super(Model, self).__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x):
        """
        Define our forward pass function. This function uses our input data as defined
        above with x as its input -- it returns the predicted value of Y.
        Read more regarding forward and backward functions at https://pytorch.org/tutorials/beginner/pytorch_with_examples.html
        """
        y_pred = self.linear(x)
        return y_pred


model = Model()

criterion = torch.nn.MSELoss(reduction='sum')

optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

for epoch in range(100):
    y_pred = model(x_data)
    optimizer.zero_grad()
    
    loss = criterion(y_pred, y_data)

    loss.backward()
    optimizer.step()


x = tensor([[5.0]])
y_pred = model(x)
print("Prediction:", y_pred.data[0][0])
'''


def _masked(text: str) -> str:
    """``text`` with object addresses and numbers (and the padding before them) masked, for
    the lines whose values come from random weights."""
    text = re.sub(r"0x[0-9a-f]+", "ADDR", text)
    return re.sub(r"\s*-?\d+(\.\d+)?(e[+-]?\d+)?", "#", text)


def test_math_behind_training_checks_hold():
    out = run(MATH_BEHIND_TRAINING)["_stdout"]
    lines = out.splitlines()
    assert out.count("Match: True") == 3 and "Match: False" not in out
    assert "Input:        [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]" in lines
    assert "ReLU output:  [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]" in lines
    assert "Autograd:  dz/dx = 12.0" in lines and "Manual:    dz/dx = 6x = 12.0" in lines
    assert "z = 3x² + 1 = 13.0" in lines
    assert "  dL/dW = tensor([[2., 1.]," in lines and "  dL/db = tensor([1., 1.])" in lines
    assert "  W match: True" in lines and "  b match: True" in lines
    assert "x.grad_fn = None" in lines
    # the graph walk: Add -> Mul -> Pow -> AccumulateGrad, indented two spaces a level
    graph = lines[lines.index("Computational graph for z = 3x² + 1:") + 1:][:4]
    names = [re.match(r"( *)<(\w+) object at 0x[0-9a-f]+>$", g).groups() for g in graph]
    assert names == [("", "AddBackward0"), ("  ", "MulBackward0"), ("    ", "PowBackward0"),
                     ("      ", "AccumulateGrad")]
    assert "With torch.no_grad():  grad_fn = None" in lines
    assert "With .detach():        grad_fn = None" in lines
    # the fits converge towards y = 3x + 1 and w = [2, -1, 0.5], b = 0.3
    last_epoch = [line for line in lines if line.startswith("Epoch 200")][0]
    w, b = (float(v) for v in re.findall(r"[Wb]: (-?\d+\.\d+)", last_epoch))
    assert abs(w - 3) < 0.3 and abs(b - 1) < 0.15  # PyTorch's run: W 2.8637, b 1.0732
    learned = [line for line in lines if line.startswith("Learned weights:")][0]
    weights = [float(v) for v in re.findall(r"-?\d+\.\d+", learned)]
    assert all(abs(v - t) < 0.05 for v, t in zip(weights, [2.0, -1.0, 0.5], strict=True))


def test_math_behind_training_prints_what_torch_prints():
    ours = run(MATH_BEHIND_TRAINING)["_stdout"]
    theirs = run_torch(MATH_BEHIND_TRAINING)["_stdout"]  # skips without PyTorch
    assert _masked(ours) == _masked(theirs)
    # the lines that do not depend on the random weights agree to the digit
    exact = ("Input", "ReLU", "x =", "z =", "Autograd", "Manual:", "  x ", "  y ", "  loss",
             "  dL", "  W match", "  b match", "x.grad_fn", "With", "Target", "True")
    pick = [line for line in theirs.splitlines() if line.startswith(exact)]
    assert pick and pick == [line for line in ours.splitlines() if line.startswith(exact)]


def test_layer_parameters_counts():
    out = run(LAYER_PARAMETERS)["_stdout"]
    lines = out.splitlines()
    assert "Total model params: 669,706" in lines
    assert lines.count("Total model trainable params: 669,706") == 1
    assert "Total model trainable params: 268,298" in lines
    assert "Total model trainable params: 1,199,882" in lines
    assert ("name='linear_relu_stack.0.weight', param.size()=torch.Size([512, 784]), "
            "param.numel()=401408, param.requires_grad=False") in lines
    assert ("name='classifier.1.weight', param.size()=torch.Size([128, 9216]), "
            "np.prod(param.size())=np.int64(1179648) == param.numel()=1179648") in lines
    assert "    (1): ReLU(inplace=True)" in lines


def test_layer_parameters_prints_what_torch_prints():
    ours = run(LAYER_PARAMETERS)["_stdout"]
    assert ours == run_torch(LAYER_PARAMETERS)["_stdout"]  # skips without PyTorch


def test_linear_regression_fits_and_prints_a_scalar():
    ns = run(LINEAR_REGRESSION)
    assert re.fullmatch(r"Prediction: tensor\(-?\d+\.\d{4}\)\n", ns["_stdout"])
    # least squares on the four points: y = 0.15 x + 4.15, a summed squared error of 20.3;
    # 100 SGD steps from nn.Linear's initial range come close to it
    assert 20.3 < float(ns["loss"]) < 22
    assert ns["y_pred"].shape == (1, 1)
    assert abs(float(ns["y_pred"]) - 4.9) < 0.2


def test_linear_regression_matches_torch_format():
    ours = run(LINEAR_REGRESSION)["_stdout"]
    theirs = run_torch(LINEAR_REGRESSION)["_stdout"]  # skips without PyTorch
    assert _masked(ours) == _masked(theirs)

