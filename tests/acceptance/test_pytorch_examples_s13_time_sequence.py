"""Acceptance: pytorch/examples ``time_sequence_prediction/train.py`` and ``regression/main.py``
run unchanged on ember and agree with real PyTorch.

- time_sequence_prediction/train.py (BSD-3-Clause), the revision with ``--device``: two
  ``LSTMCell`` layers and a ``Linear`` in float64 (``.double()``) learn sine waves with
  ``optim.LBFGS`` (a closure evaluated up to 20 times per step), then predict 1000 steps ahead
  under ``no_grad`` and plot them. Its data file ``traindata.pt`` holds a NumPy array, which
  ``torch.load``'s safe default (weights_only, since PyTorch 2.6) refuses in both libraries; the
  test sets PyTorch's documented ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` instead of editing the
  call. generate_sine_wave.py runs unchanged; the test keeps 8 of its 100 waves, 40 of their
  1000 steps, and passes ``--device cpu --steps 2`` on the command line. Each layer's
  initial weights, drawn by ember, are replayed into PyTorch's layers (``reset_parameters``
  patched in the test), so the two runs must agree on every closure loss, every test loss and
  the 1000-step forecasts that are plotted.
- regression/main.py (BSD-3-Clause; test_examples.py fits its polynomial): the latest stored
  revision updates with a bare ``param.add_`` on a leaf Parameter, which raises in PyTorch, and
  must raise the same in ember.

matplotlib is a stub whose ``plot`` keeps its arguments.
"""
# The examples' code is kept verbatim, long lines included.
# ruff: noqa: E501

import contextlib
import pickle
import re
import sys

import numpy as np
import pytest
from acceptance_runner import PLOT_STUB, run
from torch_runner import record_initial_weights, replay_initial_weights, run_torch

import ember

TIME_SEQUENCE = r'''
from __future__ import print_function
import argparse
import torch
import torch.nn as nn
import torch.optim as optim
import numpy as np
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

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


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=15, help='steps to run')
    parser.add_argument('--device', type=str, default='cuda', help='training device. cuda, mps, or cpu.')
    opt = parser.parse_args()
    # training device
    device_name = opt.device
    if device_name == 'cuda' and not torch.cuda.is_available():
        print('cuda is not available')
        exit(-1)
    elif device_name == 'mps' and not torch.backends.mps.is_available():
        print('mps is not available')
        exit(-1)
    device = torch.device(device_name)
    # set random seed to 0
    np.random.seed(0)
    torch.manual_seed(0)
    # load data and make training set
    data = torch.from_numpy(torch.load('traindata.pt')).to(device)
    input = data[3:, :-1]
    target = data[3:, 1:]
    test_input = data[:3, :-1]
    test_target = data[:3, 1:]
    # build the model
    seq = Sequence().to(device).double()
    criterion = nn.MSELoss().to(device)
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    #begin to train
    for i in range(opt.steps):
        print('STEP: ', i)
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            print('loss:', loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            future = 1000
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print('test loss:', loss.item())
            y = pred.cpu().detach().numpy()
        # draw the result
        plt.figure(figsize=(30,10))
        plt.title('Predict future values for time sequences\n(Dashlines are predicted values)', fontsize=30)
        plt.xlabel('x', fontsize=20)
        plt.ylabel('y', fontsize=20)
        plt.xticks(fontsize=20)
        plt.yticks(fontsize=20)
        def draw(yi, color):
            plt.plot(np.arange(input.size(1)), yi[:input.size(1)], color, linewidth = 2.0)
            plt.plot(np.arange(input.size(1), input.size(1) + future), yi[input.size(1):], color + ':', linewidth = 2.0)
        draw(y[0], 'r')
        draw(y[1], 'g')
        draw(y[2], 'b')
        plt.savefig('predict%d.pdf'%i)
        plt.close()
'''

GENERATE_SINE_WAVE = r'''
import numpy as np
import torch

np.random.seed(2)

T = 20
L = 1000
N = 100

x = np.empty((N, L), "int64")
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype("float64")
torch.save(data, open("traindata.pt", "wb"))
'''

# ``import matplotlib.pyplot as plt`` must find the pyplot stub, not an attribute of the parent.
MATPLOTLIB_AGG = {"matplotlib": "def use(backend):\n    pass\n", "matplotlib.pyplot": PLOT_STUB}
WAVES, STEPS = 8, 40
INIT_LAYERS = ("LSTMCell", "Linear")


def write_sine_waves(folder, waves: int, steps: int) -> np.ndarray:
    """Run generate_sine_wave.py in ``folder``, then keep only the first ``waves`` of its 100
    waves and their first ``steps`` of 1000 steps in the ``traindata.pt`` it wrote."""
    with contextlib.chdir(folder):
        run(GENERATE_SINE_WAVE)
    data = ember.load(folder / "traindata.pt", weights_only=False)[:waves, :steps]
    ember.save(data, folder / "traindata.pt")
    return data


@pytest.fixture
def sine_waves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return write_sine_waves(tmp_path, WAVES, STEPS)


def _losses(out: str, kind: str) -> np.ndarray:
    return np.array([float(x) for x in re.findall(rf"^{kind}: (\S+)$", out, re.M)])


def test_time_sequence_prediction_matches_pytorch(sine_waves, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    monkeypatch.setattr(sys, "argv", ["train.py", "--device", "cpu", "--steps", "2"])
    initial = []
    record_initial_weights(monkeypatch, INIT_LAYERS, initial)
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        ours = run(TIME_SEQUENCE, __name__="__main__", modules=MATPLOTLIB_AGG)
    assert [len(w) for w in initial] == [4, 4, 2]  # two LSTMCells, then the Linear
    replay_initial_weights(monkeypatch, INIT_LAYERS, initial)
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        theirs = run_torch(TIME_SEQUENCE, __name__="__main__", modules=MATPLOTLIB_AGG)

    assert ours["seq"].lstm1.weight_ih.dtype == ember.float64
    for kind in ("loss", "test loss"):
        mine, expected = _losses(ours["_stdout"], kind), _losses(theirs["_stdout"], kind)
        assert len(mine) == len(expected) > 0, kind
        np.testing.assert_allclose(mine, expected, rtol=1e-7, err_msg=kind)
    train_losses = _losses(ours["_stdout"], "loss")
    assert train_losses[-1] < 0.1 * train_losses[0]
    # each step draws three waves: 39 fitted points, then 1000 forecast ones
    plots, expected_plots = ours["plt"].plots, theirs["plt"].plots
    assert len(plots) == len(expected_plots) == 2 * 3 * 2
    assert [len(p[1]) for p in plots[:2]] == [STEPS - 1, 1000]
    assert [p[2] for p in plots[:6]] == ["r", "r:", "g", "g:", "b", "b:"]
    for mine, expected in zip(plots, expected_plots):
        np.testing.assert_array_equal(mine[0], expected[0])
        np.testing.assert_allclose(mine[1], expected[1], rtol=1e-6, atol=1e-9)


def test_time_sequence_prediction_data_file_is_refused_by_default(sine_waves, monkeypatch):
    """Without the switch, loading the NumPy array fails as it does in PyTorch 2.6+."""
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    monkeypatch.setattr(sys, "argv", ["train.py", "--device", "cpu", "--steps", "1"])
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        run(TIME_SEQUENCE, __name__="__main__", modules=MATPLOTLIB_AGG)
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        run_torch(TIME_SEQUENCE, __name__="__main__", modules=MATPLOTLIB_AGG)


def test_time_sequence_prediction_default_device_needs_cuda(sine_waves, monkeypatch):
    if ember.cuda.is_available():
        pytest.skip("a CUDA device is present: the default --device cuda would train on it")
    monkeypatch.setattr(sys, "argv", ["train.py"])
    with pytest.raises(SystemExit) as exit_info:
        run(TIME_SEQUENCE, __name__="__main__", modules=MATPLOTLIB_AGG)
    assert exit_info.value.code == -1


def test_regression_revision_updating_a_leaf_in_place_fails_as_in_pytorch():
    from test_examples import REGRESSION  # that file imports this one
    bare = REGRESSION.replace("param.data.add_(", "param.add_(")
    message = "a leaf Variable that requires grad is being used in an in-place operation"
    with pytest.raises(RuntimeError, match=message):
        run(bare, MAX_BATCHES=1)
    with pytest.raises(RuntimeError, match=message):
        run_torch(bare, MAX_BATCHES=1)
