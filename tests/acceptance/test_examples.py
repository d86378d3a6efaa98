"""Acceptance: pytorch/examples ``regression`` and ``time_sequence_prediction`` run on ember.

Code from pytorch/examples regression/main.py and time_sequence_prediction/{train,
generate_sine_wave}.py (BSD-3-Clause, the latter two embedded in
test_pytorch_examples_s13_time_sequence.py); sizes and steps are reduced.
"""

import re
import sys

import numpy as np
import pytest
from acceptance_runner import require, require_attrs, run
from test_pytorch_examples_s13_time_sequence import (
    MATPLOTLIB_AGG,
    TIME_SEQUENCE,
    write_sine_waves,
)

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


def test_time_sequence_prediction(tmp_path, monkeypatch):
    """time_sequence_prediction/train.py, whole, on 5 waves of 25 steps (the example uses 100 of
    1000) for 1 LBFGS step; test_pytorch_examples_s13_time_sequence.py compares it with PyTorch."""
    require_attrs("ember.nn", "LSTMCell")
    require("ember.optim")
    require_attrs("ember.optim", "LBFGS")
    write_sine_waves(tmp_path, 5, 25)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # the data file holds a NumPy array
    monkeypatch.setattr(sys, "argv", ["train.py", "--device", "cpu", "--steps", "1"])
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        ns = run(TIME_SEQUENCE, __name__="__main__", modules=MATPLOTLIB_AGG)
    assert ns["y"].shape == (3, 24 + 1000)
    losses = [float(x) for x in re.findall(r"^loss: (\S+)$", ns["_stdout"], re.M)]
    assert losses[-1] < 0.5 * losses[0]
