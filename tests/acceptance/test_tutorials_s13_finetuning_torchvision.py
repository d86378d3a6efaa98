"""Acceptance: the "Finetuning Torchvision Models" tutorial
(beginner_source/finetuning_torchvision_models_tutorial.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed: ``initialize_model``
reshapes the head of each torchvision classifier (resnet, alexnet, vgg11_bn, squeezenet,
densenet, GoogLeNet, inception_v3) built with the deprecated ``pretrained=`` argument;
``train_model`` trains and validates under ``torch.set_grad_enabled(phase == 'train')``, counts
``running_corrects.double()`` and keeps the best ``copy.deepcopy(model.state_dict())``; the
squeezenet run feature-extracts (only ``classifier.1`` learns) and then trains from scratch.
Only the settings at the top are reduced: ``num_epochs`` 15 -> 2 and ``data_dir`` points at a
small ImageFolder of ants and bees the test writes (images stay 224 pixels, as the tutorial's
``input_size``). The ImageNet checkpoint cannot be downloaded here: it is answered with a seeded,
randomly initialised squeezenet's state dict. matplotlib is a stub. Every other model name
builds without weights and takes one feature-extracting step; VGG-11-BN is left out, since
initialising its 133 million parameters alone takes seconds here.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import warnings

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run
from test_tutorials_s10_transfer_learning import _write_hymenoptera

import ember
import ember.hub

SETTINGS = r'''
data_dir = "./data/hymenoptera_data"
model_name = "squeezenet"
num_classes = 2
batch_size = 8
num_epochs = 2
feature_extract = True
'''

IMPORTS = r'''
from __future__ import print_function 
from __future__ import division
import torch
import torch.nn as nn
import torch.optim as optim
import numpy as np
import torchvision
from torchvision import datasets, models, transforms
import matplotlib.pyplot as plt
import time
import os
import copy
print("PyTorch Version: ",torch.__version__)
print("Torchvision Version: ",torchvision.__version__)
'''

HELPERS = r'''
def train_model(model, dataloaders, criterion, optimizer, num_epochs=25, is_inception=False):
    since = time.time()

    val_acc_history = []
    
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = 0.0

    for epoch in range(num_epochs):
        print('Epoch {}/{}'.format(epoch, num_epochs - 1))
        print('-' * 10)

        for phase in ['train', 'val']:
            if phase == 'train':
                model.train()  # Set model to training mode
            else:
                model.eval()   # Set model to evaluate mode

            running_loss = 0.0
            running_corrects = 0

            for inputs, labels in dataloaders[phase]:
                inputs = inputs.to(device)
                labels = labels.to(device)

                optimizer.zero_grad()

                with torch.set_grad_enabled(phase == 'train'):
                    if is_inception and phase == 'train':
                        outputs, aux_outputs = model(inputs)
                        loss1 = criterion(outputs, labels)
                        loss2 = criterion(aux_outputs, labels)
                        loss = loss1 + 0.4*loss2
                    else:
                        outputs = model(inputs)
                        loss = criterion(outputs, labels)

                    _, preds = torch.max(outputs, 1)

                    if phase == 'train':
                        loss.backward()
                        optimizer.step()

                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)

            epoch_loss = running_loss / len(dataloaders[phase].dataset)
            epoch_acc = running_corrects.double() / len(dataloaders[phase].dataset)

            print('{} Loss: {:.4f} Acc: {:.4f}'.format(phase, epoch_loss, epoch_acc))

            if phase == 'val' and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
            if phase == 'val':
                val_acc_history.append(epoch_acc)

        print()

    time_elapsed = time.time() - since
    print('Training complete in {:.0f}m {:.0f}s'.format(time_elapsed // 60, time_elapsed % 60))
    print('Best val Acc: {:4f}'.format(best_acc))

    model.load_state_dict(best_model_wts)
    return model, val_acc_history


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


def initialize_model(model_name, num_classes, feature_extract, use_pretrained=True):
    model_ft = None
    input_size = 0

    if model_name == "resnet":
        """ Resnet18
        """
        model_ft = models.resnet18(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        num_ftrs = model_ft.fc.in_features
        model_ft.fc = nn.Linear(num_ftrs, num_classes)
        input_size = 224

    elif model_name == "alexnet":
        """ Alexnet
        """
        model_ft = models.alexnet(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        num_ftrs = model_ft.classifier[6].in_features
        model_ft.classifier[6] = nn.Linear(num_ftrs,num_classes)
        input_size = 224

    elif model_name == "vgg":
        """ VGG11_bn
        """
        model_ft = models.vgg11_bn(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        num_ftrs = model_ft.classifier[6].in_features
        model_ft.classifier[6] = nn.Linear(num_ftrs,num_classes)
        input_size = 224

    elif model_name == "squeezenet":
        """ Squeezenet
        """
        model_ft = models.squeezenet1_0(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        model_ft.classifier[1] = nn.Conv2d(512, num_classes, kernel_size=(1,1), stride=(1,1))
        model_ft.num_classes = num_classes
        input_size = 224

    elif model_name == "densenet":
        """ Densenet
        """
        model_ft = models.densenet121(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        num_ftrs = model_ft.classifier.in_features
        model_ft.classifier = nn.Linear(num_ftrs, num_classes) 
        input_size = 224
    
    elif model_name == "GoogLeNet":
        """ GoogLeNet or Inception v1
        Be careful, expects (224,224) sized images and has two auxiliary outputs
        """
        model_ft = models.googlenet(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        num_ftrs = model_ft.aux2.fc2.in_features
        model_ft.aux2.fc2 = nn.Linear(num_ftrs, num_classes)
        num_ftrs = model_ft.fc.in_features
        model_ft.fc = nn.Linear(num_ftrs,num_classes)
        input_size = 224

    elif model_name == "inception":
        """ Inception v3 
        Be careful, expects (299,299) sized images and has auxiliary output
        """
        model_ft = models.inception_v3(pretrained=use_pretrained)
        set_parameter_requires_grad(model_ft, feature_extract)
        num_ftrs = model_ft.AuxLogits.fc.in_features
        model_ft.AuxLogits.fc = nn.Linear(num_ftrs, num_classes)
        num_ftrs = model_ft.fc.in_features
        model_ft.fc = nn.Linear(num_ftrs,num_classes)
        input_size = 299

    else:
        print("Invalid model name, exiting...")
        exit()
    
    return model_ft, input_size
'''

MAIN = r'''
model_ft, input_size = initialize_model(model_name, num_classes, feature_extract, use_pretrained=True)

print(model_ft) 

data_transforms = {
    'train': transforms.Compose([
        transforms.RandomResizedCrop(input_size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    ]),
    'val': transforms.Compose([
        transforms.Resize(input_size),
        transforms.CenterCrop(input_size),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    ]),
}

print("Initializing Datasets and Dataloaders...")

image_datasets = {x: datasets.ImageFolder(os.path.join(data_dir, x), data_transforms[x]) for x in ['train', 'val']}
dataloaders_dict = {x: torch.utils.data.DataLoader(image_datasets[x], batch_size=batch_size, shuffle=True, num_workers=4) for x in ['train', 'val']}

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

model_ft = model_ft.to(device)

params_to_update = model_ft.parameters()
print("Params to learn:")
if feature_extract:
    params_to_update = []
    for name,param in model_ft.named_parameters():
        if param.requires_grad == True:
            params_to_update.append(param)
            print("\t",name)
else:
    for name,param in model_ft.named_parameters():
        if param.requires_grad == True:
            print("\t",name)

optimizer_ft = optim.SGD(params_to_update, lr=0.001, momentum=0.9)

criterion = nn.CrossEntropyLoss()

model_ft, hist = train_model(model_ft, dataloaders_dict, criterion, optimizer_ft, num_epochs=num_epochs, is_inception=(model_name=="inception"))

scratch_model,_ = initialize_model(model_name, num_classes, feature_extract=False, use_pretrained=False)
scratch_model = scratch_model.to(device)
scratch_optimizer = optim.SGD(scratch_model.parameters(), lr=0.001, momentum=0.9)
scratch_criterion = nn.CrossEntropyLoss()
_,scratch_hist = train_model(scratch_model, dataloaders_dict, scratch_criterion, scratch_optimizer, num_epochs=num_epochs, is_inception=(model_name=="inception"))

ohist = []
shist = []

ohist = [h.cpu().numpy() for h in hist]
shist = [h.cpu().numpy() for h in scratch_hist]

plt.title("Validation Accuracy vs. Number of Training Epochs")
plt.xlabel("Training Epochs")
plt.ylabel("Validation Accuracy")
plt.plot(range(1,num_epochs+1),ohist,label="Pretrained")
plt.plot(range(1,num_epochs+1),shist,label="Scratch")
plt.ylim((0,1.))
plt.xticks(np.arange(1, num_epochs+1, 1.0))
plt.legend()
plt.show()
'''


def _pretrained_squeezenet() -> dict:
    ember.manual_seed(0)
    return ember.vision.models.squeezenet1_0().state_dict()


@pytest.fixture
def pretend_pretrained(monkeypatch):
    """The squeezenet checkpoint ``pretrained=True`` asks for: a seeded random model's."""
    asked = []

    def load_state_dict_from_url(url, *args, **kwargs):
        asked.append(url)
        return _pretrained_squeezenet()

    monkeypatch.setattr(ember.hub, "load_state_dict_from_url", load_state_dict_from_url)
    return asked


def _val_accuracy(model, dataset) -> float:
    """The share of validation images whose largest logit is the label (NumPy argmax)."""
    model.eval()
    with ember.no_grad():
        logits = np.stack([model(x.unsqueeze(0))[0].numpy() for x, _ in dataset])
    labels = np.array([y for _, y in dataset])
    return float(np.mean(logits.argmax(1) == labels))


def test_finetuning_squeezenet_feature_extract_and_scratch(tmp_path, monkeypatch,
                                                           pretend_pretrained):
    _write_hymenoptera(tmp_path / "data", n_train=4)
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns = run(IMPORTS + SETTINGS + HELPERS + MAIN, modules=MATPLOTLIB)
    # ``pretrained=`` still works, with torchvision's deprecation warning; only the first
    # model asked for the checkpoint (the scratch one passes pretrained=False).
    assert any("'pretrained' is deprecated" in str(w.message) for w in caught)
    assert pretend_pretrained == [ember.vision.models.SqueezeNet1_0_Weights.IMAGENET1K_V1.url]
    out = ns["_stdout"]
    assert "Params to learn:\n\t classifier.1.weight\n\t classifier.1.bias\n" in out
    assert out.count("Best val Acc: ") == 2 and out.count("train Loss: ") == 4
    assert ns["input_size"] == 224
    assert {k: len(v) for k, v in ns["image_datasets"].items()} == {"train": 4, "val": 4}

    # Each epoch's accuracy is a float64 0-d tensor holding a multiple of 1/4.
    for history in (ns["hist"], ns["scratch_hist"]):
        assert len(history) == 2
        for acc in history:
            assert acc.dtype == ember.float64 and acc.dim() == 0
            assert float(acc) * 4 == pytest.approx(round(float(acc) * 4))
    assert [float(a) for a in ns["ohist"]] == [float(a) for a in ns["hist"]]

    # The returned model carries the best epoch's weights: its validation accuracy,
    # recomputed here, is the best one printed (validation transforms are deterministic).
    model_ft = ns["model_ft"]
    best = max(float(a) for a in ns["hist"])
    assert f"Best val Acc: {best:4f}" in out
    assert _val_accuracy(model_ft, ns["image_datasets"]["val"]) == pytest.approx(best)

    # Feature extraction froze everything but the new head, which kept the checkpoint's weights.
    pretrained = _pretrained_squeezenet()
    for name, p in model_ft.named_parameters():
        if name.startswith("classifier.1."):
            assert p.requires_grad
        else:
            assert not p.requires_grad
            np.testing.assert_array_equal(p.detach().numpy(), pretrained[name].numpy())
    assert tuple(model_ft.classifier[1].weight.shape) == (2, 512, 1, 1)
    assert model_ft.num_classes == 2
    # The scratch model trained every parameter (each has SGD's momentum buffer), from weights
    # other than the checkpoint's; the validation phase's zero_grad() left every .grad None.
    scratch = ns["scratch_model"]
    state = ns["scratch_optimizer"].state
    for p in scratch.parameters():
        assert p.requires_grad and p.grad is None
        assert state[p]["momentum_buffer"].shape == p.shape
    assert len(ns["optimizer_ft"].state) == 2
    assert not np.array_equal(scratch.features[0].weight.detach().numpy(),
                              pretrained["features.0.weight"].numpy())


# torchvision's documented parameter counts of the 1000-class ImageNet models, and the size of
# the 1000-way head that initialize_model replaces by a 2-way one.
def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _googlenet_aux(n_in: int) -> int:
    # InceptionAux: a 1x1 conv to 128 channels (no bias) with batch norm, fc1 2048->1024, fc2.
    return 128 * n_in + 2 * 128 + _linear(2048, 1024) + _linear(1024, 1000)


RESHAPED = {
    # name: (documented count, replaced heads, new heads, trainable names)
    "resnet": (11_689_512, [_linear(512, 1000)], [_linear(512, 2)], ["fc"]),
    "alexnet": (61_100_840, [_linear(4096, 1000)], [_linear(4096, 2)], ["classifier.6"]),
    "squeezenet": (1_248_424, [512 * 1000 + 1000], [512 * 2 + 2], ["classifier.1"]),
    "densenet": (7_978_856, [_linear(1024, 1000)], [_linear(1024, 2)], ["classifier"]),
    # Built without weights, GoogLeNet keeps both auxiliary heads (the documented count has
    # none); the tutorial reshapes aux2 only, so aux1 stays a frozen 1000-way head.
    "GoogLeNet": (6_624_904 + _googlenet_aux(512) + _googlenet_aux(528),
                  [_linear(1024, 1000)] * 2, [_linear(1024, 2)] * 2, ["aux2.fc2", "fc"]),
    "inception": (27_161_264, [_linear(768, 1000), _linear(2048, 1000)],
                  [_linear(768, 2), _linear(2048, 2)], ["AuxLogits.fc", "fc"]),
}


@pytest.mark.parametrize("model_name", list(RESHAPED))
def test_initialize_model_reshapes_each_head(model_name):
    ns = run(IMPORTS + HELPERS, modules=MATPLOTLIB)
    ember.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretrained=False is deprecated; weights-less init
        model, input_size = ns["initialize_model"](model_name, 2, True, use_pretrained=False)
    assert input_size == (299 if model_name == "inception" else 224)
    documented, old_heads, new_heads, trainable = RESHAPED[model_name]
    total = sum(p.numel() for p in model.parameters())
    assert total == documented - sum(old_heads) + sum(new_heads)
    learn = [n for n, p in model.named_parameters() if p.requires_grad]
    assert learn == [f"{prefix}.{kind}" for prefix in trainable for kind in ("weight", "bias")]

    # A feature-extracting step in train mode: the loss (with train_model's 0.4-weighted
    # auxiliary term where the model has one) reaches only the reshaped heads. Small inputs keep
    # it fast, except for Inception v3, whose auxiliary head needs the full 299 pixels.
    model.train()
    size = input_size if model_name == "inception" else 75
    x = ember.randn(2, 3, size, size)
    labels = ember.tensor([0, 1])
    cross_entropy = ember.nn.functional.cross_entropy
    out = model(x)
    if model_name == "GoogLeNet":
        out, aux2, aux1 = out
        assert tuple(aux2.shape) == (2, 2) and tuple(aux1.shape) == (2, 1000)
        loss = cross_entropy(out, labels) + 0.4 * cross_entropy(aux2, labels)
    elif model_name == "inception":
        out, aux = out  # what train_model unpacks when is_inception
        assert tuple(aux.shape) == (2, 2)
        loss = cross_entropy(out, labels) + 0.4 * cross_entropy(aux, labels)
    else:
        loss = cross_entropy(out, labels)
    assert tuple(out.shape) == (2, 2)
    loss.backward()
    with_grad = [n for n, p in model.named_parameters() if p.grad is not None]
    assert with_grad == learn
