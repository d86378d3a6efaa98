"""Acceptance: pytorch/examples ``regression`` and ``time_sequence_prediction`` run on ember.

Code from pytorch/examples regression/main.py and time_sequence_prediction/{train,
generate_sine_wave}.py (BSD-3-Clause); the file-based data set is replaced by the same sine
waves made in memory, and sizes/steps are reduced.
"""

import numpy as np
from acceptance_runner import require, require_attrs, run

import ember

# regression/main.py (stops at loss < 1e-3 on its own; a cap on batches keeps a failing run short).
# The update uses ``param.data.add_`` as the example's revisions do, except one whose bare
# ``param.add_`` on a leaf raises in real PyTorch as well.
REGRESSION = """
from __future__ import print_function
from itertools import count

import torch
import torch.nn.functional as F

POLY_DEGREE = 4
W_target = torch.randn(POLY_DEGREE, 1) * 5
b_target = torch.randn(1) * 5


def make_features(x):
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE+1)], 1)


def f(x):
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    result = 'y = '
    for i, w in enumerate(W):
        result += '{:+.2f} x^{} '.format(w, i + 1)
    result += '{:+.2f}'.format(b[0])
    return result


def get_batch(batch_size=32):
    random = torch.randn(batch_size)
    x = make_features(random)
    y = f(x)
    return x, y


fc = torch.nn.Linear(W_target.size(0), 1)

for batch_idx in count(1):
    batch_x, batch_y = get_batch()

    fc.zero_grad()

    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    loss = output.item()

    output.backward()

    for param in fc.parameters():
        param.data.add_(-0.1 * param.grad)

    if loss < 1e-3 or batch_idx >= MAX_BATCHES:
        break

print('Loss: {:.6f} after {} batches'.format(loss, batch_idx))
print('==> Learned function:\\t' + poly_desc(fc.weight.view(-1), fc.bias))
print('==> Actual function:\\t' + poly_desc(W_target.view(-1), b_target))
"""


def test_regression_example_fits_polynomial():
    ember.manual_seed(0)
    ns = run(REGRESSION, MAX_BATCHES=3000)
    assert ns["loss"] < 1e-3, (ns["loss"], ns["batch_idx"])
    fc = ns["fc"]
    np.testing.assert_allclose(fc.weight.detach().numpy().ravel(),
                               ns["W_target"].numpy().ravel(), atol=0.1)
    np.testing.assert_allclose(fc.bias.item(), ns["b_target"].item(), atol=0.1)
    out = ns["_stdout"]
    assert "==> Learned function:\ty = " in out and " x^4 " in out


def test_regression_poly_desc_formats_tensors():
    ns = run(REGRESSION, MAX_BATCHES=1)
    w = ember.tensor([1.0, -2.5])
    assert ns["poly_desc"](w, ember.tensor([0.25])) == "y = +1.00 x^1 -2.50 x^2 +0.25"


# time_sequence_prediction/generate_sine_wave.py, kept in memory instead of traindata.pt
GENERATE_SINE_WAVE = """
import numpy as np
import torch

np.random.seed(2)

T = 20
L = 1000
N = 100

x = np.empty((N, L), "int64")
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype("float64")
"""

# time_sequence_prediction/train.py (model and training loop; plotting left out)
TIME_SEQUENCE = """
import torch
import torch.nn as nn
import torch.optim as optim
import numpy as np

class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)
        self.dummy_param = nn.Parameter(torch.empty(0))

    def forward(self, input, future = 0):
        outputs = []
        device = self.dummy_param.device
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):# if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


device = torch.device(device_name)
np.random.seed(0)
torch.manual_seed(0)
data = torch.from_numpy(data).to(device)
input = data[3:, :-1]
target = data[3:, 1:]
test_input = data[:3, :-1]
test_target = data[:3, 1:]
seq = Sequence().to(device).double()
criterion = nn.MSELoss().to(device)
optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
losses = []
for i in range(STEPS):
    print('STEP: ', i)
    def closure():
        optimizer.zero_grad()
        out = seq(input)
        loss = criterion(out, target)
        print('loss:', loss.item())
        losses.append(loss.item())
        loss.backward()
        return loss
    optimizer.step(closure)
    with torch.no_grad():
        future = 1000
        pred = seq(test_input, future=future)
        loss = criterion(pred[:, :-future], test_target)
        print('test loss:', loss.item())
        y = pred.cpu().detach().numpy()
"""


def test_time_sequence_prediction():
    require_attrs("ember.nn", "LSTMCell")
    require("ember.optim")
    require_attrs("ember.optim", "LBFGS")
    ns = run(GENERATE_SINE_WAVE)
    # Small sizes: 5 waves of 25 steps (the example uses 100 of 1000), 1 LBFGS step.
    ns["data"] = ns["data"][:5, :25]
    run(TIME_SEQUENCE.replace("future = 1000", "future = 10"), ns, device_name="cpu", STEPS=1)
    assert ns["y"].shape == (3, 24 + 10)
    assert ns["losses"][-1] < 0.5 * ns["losses"][0]
