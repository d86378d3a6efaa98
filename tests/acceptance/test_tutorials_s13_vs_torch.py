"""Acceptance against real PyTorch: the spatial transformer, FGSM, char-RNN classification and
two-layer-net tutorials, run as the tutorial code on ember and on PyTorch from the same weights
and data.

Most of the tutorial code is the text test_tutorials_vision_autograd.py and
test_tutorials_nlp_from_scratch.py already embed (pytorch/tutorials, BSD-3-Clause):
intermediate_source/spatial_transformer_tutorial.py (its model, optimizer, train() and test()),
beginner_source/fgsm_tutorial.py and intermediate_source/char_rnn_classification_tutorial.py;
beginner_source/examples_autograd/two_layer_net_autograd.py and examples_nn/two_layer_net_nn.py
are embedded here, comments removed. Each runs twice, ``torch`` resolved to ember and then to
PyTorch; the ember run's data and weights are loaded into the PyTorch one before the code that
uses them, so both runs must agree to float32 rounding: the STN's affine_grid / grid_sample
forward and backward and an SGD step, every FGSM accuracy, the char-RNN's whole training
trajectory (its examples come from Python's ``random``, seeded alike for both runs) and 500
gradient-descent steps of each two-layer net. torchvision is not installed next to PyTorch here:
the PyTorch FGSM run gets a two-class stand-in whose ``datasets.MNIST`` serves the very images
the ember run read from its IDX files.
"""

import random
import warnings

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run, write_mnist
from test_tutorials_nlp_from_scratch import (
    CHAR_RNN_CLASSIFICATION,
    names_dir,  # noqa: F401 (the data/names fixture)
)
from test_tutorials_vision_autograd import (
    FGSM_ATTACK,
    FGSM_MODEL,
    SPATIAL_TRANSFORMER,
    _pretrain_lenet,
)
from torch_runner import run_torch

import ember

torch = pytest.importorskip("torch")


def _cell(source: str, start: str, stop: str | None = None) -> str:
    """The tutorial text from the line starting with ``start`` up to the one with ``stop``."""
    begin = source.index("\n" + start) + 1
    return source[begin:source.index("\n" + stop, begin) + 1] if stop else source[begin:]


def _load_into_torch(torch_module, ember_module) -> None:
    torch_module.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                  for k, v in ember_module.state_dict().items()})


def _assert_close(ember_tensor, torch_tensor, rtol=1e-5, atol=1e-6) -> None:
    np.testing.assert_allclose(ember_tensor.detach().numpy(), torch_tensor.detach().numpy(),
                               rtol=rtol, atol=atol)


# The STN tutorial's model, optimizer, train() and test(); its MNIST loaders are replaced by a
# loader over the arrays the test makes (the same in both runs).
STN_LOADER = r'''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
device = torch.device("cpu")
test_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.from_numpy(IMAGES), torch.from_numpy(LABELS)),
    batch_size=16)
'''
STN_MODEL = _cell(SPATIAL_TRANSFORMER, "class Net(nn.Module):", "def convert_image_np")


@pytest.mark.filterwarnings("ignore:Default grid_sample and affine_grid behavior")
@pytest.mark.filterwarnings("ignore:size_average and reduce args")
def test_spatial_transformer_matches_torch():
    rng = np.random.default_rng(0)
    images = rng.normal(0, 1, (40, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 40)
    ember.manual_seed(0)
    ns = run(STN_LOADER + STN_MODEL, IMAGES=images, LABELS=labels)
    model = ns["model"]
    # Leave the identity transform the localisation head starts from: rotate, scale and shift.
    with ember.no_grad():
        model.fc_loc[2].weight.normal_(0, 0.05)
        model.fc_loc[2].bias.copy_(ember.tensor([0.8, -0.3, 0.1, 0.4, 0.9, -0.2]))
    tns = run_torch(STN_LOADER + STN_MODEL, IMAGES=images, LABELS=labels)
    tmodel = tns["model"]
    _load_into_torch(tmodel, model)

    # test(): the summed NLL and the accuracy it prints, in eval mode.
    ns["test"]()
    tns["test"]()
    printed = ns["_out"].getvalue()
    assert "Test set: Average loss: " in printed and printed == tns["_out"].getvalue()

    # The spatial transformer, then the whole net, forward and backward (eval mode: dropout off).
    x = ember.tensor(images[:8], requires_grad=True)
    tx = torch.tensor(images[:8], requires_grad=True)
    target = ember.tensor(labels[:8])
    for m in (model, tmodel):
        m.eval()
    _assert_close(model.stn(x), tmodel.stn(tx), atol=1e-5)
    out, tout = model(x), tmodel(tx)
    _assert_close(out, tout, atol=1e-5)
    ns["optimizer"].zero_grad()
    tns["optimizer"].zero_grad()
    ns["F"].nll_loss(out, target).backward()
    tns["F"].nll_loss(tout, torch.from_numpy(labels[:8])).backward()
    _assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-6)
    params = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        _assert_close(p.grad, params[name].grad, rtol=1e-4, atol=1e-6)
    # The tutorial's SGD (lr 0.01) step from those gradients.
    ns["optimizer"].step()
    tns["optimizer"].step()
    for name, p in model.named_parameters():
        _assert_close(p, params[name], rtol=1e-5, atol=1e-6)


TORCHVISION_STAND_IN = r'''
import numpy as np
import torch


class transforms:
    def Compose(steps):
        return None

    def ToTensor():
        return None


class datasets:
    def MNIST(*args, **kwargs):
        arrays = np.load("mnist_t10k.npz")
        return torch.utils.data.TensorDataset(torch.from_numpy(arrays["images"]),
                                              torch.from_numpy(arrays["labels"]))
'''


def test_fgsm_matches_torch(tmp_path, monkeypatch):
    write_mnist(tmp_path / "data", n_train=128, n_test=48)
    (tmp_path / "run" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "run")
    ember.manual_seed(0)
    ns = run(FGSM_MODEL, modules=MATPLOTLIB)
    _pretrain_lenet(ns["Net"], "data/lenet_mnist_model.pth")
    ns = run(FGSM_ATTACK, ns)
    dataset = ns["test_loader"].dataset
    np.savez("mnist_t10k.npz", images=np.stack([x.numpy() for x, _ in dataset]),
             labels=np.array([y for _, y in dataset]))

    # PyTorch reads the checkpoint ember saved and attacks the same 48 images (in another
    # shuffled order, which the accuracies do not depend on).
    modules = {**MATPLOTLIB, "torchvision": TORCHVISION_STAND_IN}
    tns = run_torch(FGSM_MODEL, modules=modules)
    tns = run_torch(FGSM_ATTACK, tns, modules=modules)
    _assert_close(ns["model"].fc2.weight, tns["model"].fc2.weight, rtol=0, atol=0)
    assert ns["accuracies"] == tns["accuracies"]
    assert ns["accuracies"][-1] < ns["accuracies"][0]
    # The attack of one image: the same sign of the same gradient, so the same perturbation.
    arrays = np.load("mnist_t10k.npz")
    image, label = arrays["images"][:1], arrays["labels"][:1]
    x = ember.tensor(image, requires_grad=True)
    ns["F"].nll_loss(ns["model"](x), ember.tensor(label)).backward()
    tx = torch.tensor(image, requires_grad=True)
    tns["F"].nll_loss(tns["model"](tx), torch.from_numpy(label)).backward()
    _assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-7)
    _assert_close(ns["fgsm_attack"](x, 0.1, x.grad), tns["fgsm_attack"](tx, 0.1, tx.grad),
                  rtol=0, atol=1e-6)


# Everything up to the training loop (data, letter tensors, the RNN), then the rest.
CHAR_RNN_SETUP = _cell(CHAR_RNN_CLASSIFICATION, "from io import open", "criterion = nn.NLLLoss()")
CHAR_RNN_TRAINING = _cell(CHAR_RNN_CLASSIFICATION, "criterion = nn.NLLLoss()")


@pytest.mark.usefixtures("names_dir")
def test_char_rnn_classification_matches_torch():
    ember.manual_seed(0)
    ns = run(CHAR_RNN_SETUP, modules=MATPLOTLIB)
    tns = run_torch(CHAR_RNN_SETUP, modules=MATPLOTLIB)
    assert ns["all_categories"] == tns["all_categories"]
    _load_into_torch(tns["rnn"], ns["rnn"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's F.tanh deprecation note, where it has one
        for names, runner in ((ns, run), (tns, run_torch)):
            random.seed(1)  # the same names, in the same order, for both runs
            runner(CHAR_RNN_TRAINING, names, modules=MATPLOTLIB, N_ITERS=300)
    # 300 manual-SGD steps, the loss reported every 100, then 100 evaluations: the same
    # trajectory to float32 rounding, and the same confusion matrix and predictions.
    np.testing.assert_allclose(ns["all_losses"], tns["all_losses"], rtol=1e-4)
    params = dict(tns["rnn"].named_parameters())
    for name, p in ns["rnn"].named_parameters():
        _assert_close(p, params[name], rtol=1e-3, atol=1e-5)
    _assert_close(ns["confusion"], tns["confusion"], rtol=0, atol=0)
    predictions = ns["_stdout"].split("> Dovesky")[1]
    assert predictions == tns["_stdout"].split("> Dovesky")[1]


# beginner_source/examples_autograd/two_layer_net_autograd.py and
# examples_nn/two_layer_net_nn.py (the versions before the polynomial ones), comments removed.
TWO_LAYER_NET_AUTOGRAD = r'''
import torch

dtype = torch.float
device = torch.device("cpu")

N, D_in, H, D_out = 64, 1000, 100, 10

x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)

w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(500):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)

    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())

    loss.backward()

    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad

        w1.grad.zero_()
        w2.grad.zero_()
'''

TWO_LAYER_NET_NN = r'''
import torch

N, D_in, H, D_out = 64, 1000, 100, 10

x = torch.randn(N, D_in)
y = torch.randn(N, D_out)

model = torch.nn.Sequential(
    torch.nn.Linear(D_in, H),
    torch.nn.ReLU(),
    torch.nn.Linear(H, D_out),
)

loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-4
for t in range(500):
    y_pred = model(x)

    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    model.zero_grad()

    loss.backward()

    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
'''


def _losses(printed: str) -> np.ndarray:
    return np.array([float(line.split()[1]) for line in printed.splitlines()])


@pytest.mark.parametrize("source, tensors", [(TWO_LAYER_NET_AUTOGRAD, ("x", "y", "w1", "w2")),
                                             (TWO_LAYER_NET_NN, ("x", "y"))],
                         ids=["autograd", "nn"])
def test_two_layer_net_matches_torch(source, tensors):
    # The data and initial weights come from ember's generator; PyTorch trains from copies.
    setup, loop = source.split("learning_rate = ")
    ember.manual_seed(0)
    ns = run(setup)
    copies = {name: torch.tensor(ns[name].detach().numpy(), requires_grad=ns[name].requires_grad)
              for name in tensors}
    tns = run_torch(setup)
    tns.update(copies)
    if "model" in ns:
        _load_into_torch(tns["model"], ns["model"])
    ns = run("learning_rate = " + loop, ns)
    tns = run_torch("learning_rate = " + loop, tns)
    # 500 steps of gradient descent: the losses printed every 100 steps and the final weights.
    # Once the fit is close, a loss is a sum of squared float32 roundings of unit-sized
    # predictions: compared to 1e-5 absolute there.
    losses = _losses(ns["_stdout"])
    assert len(losses) == 5 and losses[-1] < losses[0] / 10
    np.testing.assert_allclose(losses, _losses(tns["_stdout"]), rtol=1e-4, atol=1e-5)
    if "model" in ns:
        pairs = zip(ns["model"].parameters(), tns["model"].parameters())
    else:
        pairs = ((ns["w1"], tns["w1"]), (ns["w2"], tns["w2"]))
    for p, tp in pairs:
        _assert_close(p, tp, rtol=1e-3, atol=1e-5)
