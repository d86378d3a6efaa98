"""Acceptance: the "Neural Transfer Using PyTorch" tutorial (advanced_source/neural_style_tutorial.py)
runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed: content and Gram-matrix
style losses as transparent modules inserted into a copy of VGG-19's ``features`` (walked with
``children()``, rebuilt with ``add_module`` and sliced with ``model[:(i + 1)]``), and the input
image itself optimised by ``optim.LBFGS`` with a closure that clamps ``input_img.data`` in place.
Reduced: ``imsize`` 128 -> 32 pixels and ``num_steps`` 300 -> 20 (one L-BFGS step of up to 20
evaluations). ``data/images/neural-style/{picasso,dancing}.jpg`` are small JPEGs the test writes.
No pretrained VGG-19 can be downloaded here: ``models.vgg19(pretrained=True)`` is answered with
VGG-19's real feature layers (``make_layers`` of configuration "E") holding seeded random weights
(the classifier, which the tutorial never uses, is left out). matplotlib is a stub.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import types

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run

import ember

NEURAL_STYLE = r'''
from __future__ import print_function

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from PIL import Image
import matplotlib.pyplot as plt

import torchvision.transforms as transforms
import torchvision.models as models

import copy

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

imsize = 512 if torch.cuda.is_available() else 32  # use small size if no gpu

loader = transforms.Compose([
    transforms.Resize(imsize),  # scale imported image
    transforms.ToTensor()])  # transform it into a torch tensor


def image_loader(image_name):
    image = Image.open(image_name)
    image = loader(image).unsqueeze(0)
    return image.to(device, torch.float)


style_img = image_loader("./data/images/neural-style/picasso.jpg")
content_img = image_loader("./data/images/neural-style/dancing.jpg")

assert style_img.size() == content_img.size(), \
    "we need to import style and content images of the same size"

unloader = transforms.ToPILImage()  # reconvert into PIL image

plt.ion()

def imshow(tensor, title=None):
    image = tensor.cpu().clone()  # we clone the tensor to not do changes on it
    image = image.squeeze(0)      # remove the fake batch dimension
    image = unloader(image)
    plt.imshow(image)
    if title is not None:
        plt.title(title)
    plt.pause(0.001) # pause a bit so that plots are updated


plt.figure()
imshow(style_img, title='Style Image')

plt.figure()
imshow(content_img, title='Content Image')

class ContentLoss(nn.Module):

    def __init__(self, target,):
        super(ContentLoss, self).__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input

def gram_matrix(input):
    a, b, c, d = input.size()  # a=batch size(=1)

    features = input.view(a * b, c * d)  # resize F_XL into \hat F_XL

    G = torch.mm(features, features.t())  # compute the gram product

    return G.div(a * b * c * d)

class StyleLoss(nn.Module):

    def __init__(self, target_feature):
        super(StyleLoss, self).__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input

cnn = models.vgg19(pretrained=True).features.to(device).eval()

cnn_normalization_mean = torch.tensor([0.485, 0.456, 0.406]).to(device)
cnn_normalization_std = torch.tensor([0.229, 0.224, 0.225]).to(device)

class Normalization(nn.Module):
    def __init__(self, mean, std):
        super(Normalization, self).__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std

content_layers_default = ['conv_4']
style_layers_default = ['conv_1', 'conv_2', 'conv_3', 'conv_4', 'conv_5']

def get_style_model_and_losses(cnn, normalization_mean, normalization_std,
                               style_img, content_img,
                               content_layers=content_layers_default,
                               style_layers=style_layers_default):
    cnn = copy.deepcopy(cnn)

    normalization = Normalization(normalization_mean, normalization_std).to(device)

    content_losses = []
    style_losses = []

    model = nn.Sequential(normalization)

    i = 0  # increment every time we see a conv
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = 'conv_{}'.format(i)
        elif isinstance(layer, nn.ReLU):
            name = 'relu_{}'.format(i)
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = 'pool_{}'.format(i)
        elif isinstance(layer, nn.BatchNorm2d):
            name = 'bn_{}'.format(i)
        else:
            raise RuntimeError('Unrecognized layer: {}'.format(layer.__class__.__name__))

        model.add_module(name, layer)

        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module("content_loss_{}".format(i), content_loss)
            content_losses.append(content_loss)

        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module("style_loss_{}".format(i), style_loss)
            style_losses.append(style_loss)

    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break

    model = model[:(i + 1)]

    return model, style_losses, content_losses

input_img = content_img.clone()

plt.figure()
imshow(input_img, title='Input Image')

def get_input_optimizer(input_img):
    optimizer = optim.LBFGS([input_img.requires_grad_()])
    return optimizer

def run_style_transfer(cnn, normalization_mean, normalization_std,
                       content_img, style_img, input_img, num_steps=20,
                       style_weight=1000000, content_weight=1):
    """Run the style transfer."""
    print('Building the style transfer model..')
    model, style_losses, content_losses = get_style_model_and_losses(cnn,
        normalization_mean, normalization_std, style_img, content_img)
    optimizer = get_input_optimizer(input_img)

    print('Optimizing..')
    run = [0]
    while run[0] <= num_steps:

        def closure():
            input_img.data.clamp_(0, 1)

            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0

            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss

            style_score *= style_weight
            content_score *= content_weight

            loss = style_score + content_score
            loss.backward()

            run[0] += 1
            if run[0] % 50 == 0:
                print("run {}:".format(run))
                print('Style Loss : {:4f} Content Loss: {:4f}'.format(
                    style_score.item(), content_score.item()))
                print()

            return style_score + content_score

        optimizer.step(closure)

    input_img.data.clamp_(0, 1)

    return input_img

output = run_style_transfer(cnn, cnn_normalization_mean, cnn_normalization_std,
                            content_img, style_img, input_img)

plt.figure()
imshow(output, title='Output Image')

plt.ioff()
plt.show()
'''


def _write_jpegs(folder):
    from PIL import Image
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    stripes = np.zeros((40, 40, 3), np.uint8)
    stripes[::4] = (230, 180, 20)  # the "style": horizontal stripes
    Image.fromarray(stripes).save(folder / "picasso.jpg")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / "dancing.jpg")


@pytest.fixture
def vgg19_features(monkeypatch):
    """``models.vgg19(pretrained=True)`` answered by VGG-19's feature layers, random weights."""
    from ember.vision import models
    from ember.vision.models import vgg
    calls = []

    def vgg19(**kwargs):
        calls.append(kwargs)
        ember.manual_seed(0)
        return types.SimpleNamespace(features=vgg.make_layers(vgg.cfgs["E"]))

    monkeypatch.setattr(models, "vgg19", vgg19)
    return calls


def _total_loss(ns, image):
    model, style_losses, content_losses = ns["get_style_model_and_losses"](
        ns["cnn"], ns["cnn_normalization_mean"], ns["cnn_normalization_std"], ns["style_img"],
        ns["content_img"])
    with ember.no_grad():
        model(image)
    return (1000000 * sum(sl.loss.item() for sl in style_losses)
            + sum(cl.loss.item() for cl in content_losses))


def test_neural_style_transfer(tmp_path, monkeypatch, vgg19_features):
    _write_jpegs(tmp_path / "data" / "images" / "neural-style")
    monkeypatch.chdir(tmp_path)
    ns = run(NEURAL_STYLE, modules=MATPLOTLIB)
    assert vgg19_features == [{"pretrained": True}]
    assert "Optimizing.." in ns["_stdout"]
    output, content = ns["output"], ns["content_img"]
    assert tuple(output.shape) == (1, 3, 32, 32) and output is ns["input_img"]
    assert output.requires_grad and float(output.min()) >= 0 and float(output.max()) <= 1
    # The truncated model ends at the last loss module: conv_5's style loss.
    model, style_losses, content_losses = ns["get_style_model_and_losses"](
        ns["cnn"], ns["cnn_normalization_mean"], ns["cnn_normalization_std"], ns["style_img"],
        content)
    names = [name for name, _ in model.named_children()]
    assert names[-1] == "style_loss_5" and "content_loss_4" in names
    assert len(style_losses) == 5 and len(content_losses) == 1
    # gram_matrix against NumPy.
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 5)).astype(np.float32)
    f = x.reshape(3, 20)
    np.testing.assert_allclose(ns["gram_matrix"](ember.tensor(x)).numpy(), f @ f.T / 60,
                               rtol=1e-5)
    # L-BFGS lowered the weighted style + content loss of the image it optimised.
    assert _total_loss(ns, output.detach()) < 0.5 * _total_loss(ns, content)
