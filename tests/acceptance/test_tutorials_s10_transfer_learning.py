"""Acceptance: the "Transfer Learning for Computer Vision" tutorial
(beginner_source/transfer_learning_tutorial.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed: an ``ImageFolder`` of
ants and bees with random-resized-crop / flip / resize / center-crop transforms, DataLoaders with
worker processes, ResNet-18 fine-tuned whole and then as a frozen feature extractor (only the new
``fc`` trains), SGD with momentum and ``StepLR``, the best weights kept in a
``TemporaryDirectory`` with ``torch.save``/``torch.load``, and inference on one image read with
PIL. Reduced: crops 224 -> 32 and the resize 256 -> 36 pixels, ``num_epochs`` 25 -> 2,
``num_workers`` 4 -> 2. ``data/hymenoptera_data`` is a small ImageFolder of JPEGs the test writes
(ants reddish, bees bluish). No pretrained weights can be downloaded here:
``weights='IMAGENET1K_V1'`` resolves to the real ``ResNet18_Weights`` entry, whose checkpoint is
answered with a seeded, randomly initialised ResNet-18's state dict. matplotlib is a stub.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import os

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run

import ember
import ember.hub

TRANSFER_LEARNING = r'''
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler
import torch.backends.cudnn as cudnn
import numpy as np
import torchvision
from torchvision import datasets, models, transforms
import matplotlib.pyplot as plt
import time
import os
from PIL import Image
from tempfile import TemporaryDirectory

cudnn.benchmark = True
plt.ion()   # interactive mode

data_transforms = {
    'train': transforms.Compose([
        transforms.RandomResizedCrop(32),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    ]),
    'val': transforms.Compose([
        transforms.Resize(36),
        transforms.CenterCrop(32),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    ]),
}

data_dir = 'data/hymenoptera_data'
image_datasets = {x: datasets.ImageFolder(os.path.join(data_dir, x),
                                          data_transforms[x])
                  for x in ['train', 'val']}
dataloaders = {x: torch.utils.data.DataLoader(image_datasets[x], batch_size=4,
                                             shuffle=True, num_workers=2)
              for x in ['train', 'val']}
dataset_sizes = {x: len(image_datasets[x]) for x in ['train', 'val']}
class_names = image_datasets['train'].classes

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

def imshow(inp, title=None):
    """Display image for Tensor."""
    inp = inp.numpy().transpose((1, 2, 0))
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    inp = std * inp + mean
    inp = np.clip(inp, 0, 1)
    plt.imshow(inp)
    if title is not None:
        plt.title(title)
    plt.pause(0.001)  # pause a bit so that plots are updated


inputs, classes = next(iter(dataloaders['train']))

out = torchvision.utils.make_grid(inputs)

imshow(out, title=[class_names[x] for x in classes])


def train_model(model, criterion, optimizer, scheduler, num_epochs=25):
    since = time.time()

    with TemporaryDirectory() as tempdir:
        best_model_params_path = os.path.join(tempdir, 'best_model_params.pt')
    
        torch.save(model.state_dict(), best_model_params_path)
        best_acc = 0.0

        for epoch in range(num_epochs):
            print(f'Epoch {epoch}/{num_epochs - 1}')
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
                        outputs = model(inputs)
                        _, preds = torch.max(outputs, 1)
                        loss = criterion(outputs, labels)

                        if phase == 'train':
                            loss.backward()
                            optimizer.step()

                    running_loss += loss.item() * inputs.size(0)
                    running_corrects += torch.sum(preds == labels.data)
                if phase == 'train':
                    scheduler.step()

                epoch_loss = running_loss / dataset_sizes[phase]
                epoch_acc = running_corrects.double() / dataset_sizes[phase]

                print(f'{phase} Loss: {epoch_loss:.4f} Acc: {epoch_acc:.4f}')

                if phase == 'val' and epoch_acc > best_acc:
                    best_acc = epoch_acc
                    torch.save(model.state_dict(), best_model_params_path)

            print()

        time_elapsed = time.time() - since
        print(f'Training complete in {time_elapsed // 60:.0f}m {time_elapsed % 60:.0f}s')
        print(f'Best val Acc: {best_acc:4f}')

        model.load_state_dict(torch.load(best_model_params_path))
    return model


def visualize_model(model, num_images=6):
    was_training = model.training
    model.eval()
    images_so_far = 0
    fig = plt.figure()

    with torch.no_grad():
        for i, (inputs, labels) in enumerate(dataloaders['val']):
            inputs = inputs.to(device)
            labels = labels.to(device)

            outputs = model(inputs)
            _, preds = torch.max(outputs, 1)

            for j in range(inputs.size()[0]):
                images_so_far += 1
                ax = plt.subplot(num_images//2, 2, images_so_far)
                ax.axis('off')
                ax.set_title(f'predicted: {class_names[preds[j]]}')
                imshow(inputs.cpu().data[j])

                if images_so_far == num_images:
                    model.train(mode=was_training)
                    return
        model.train(mode=was_training)

model_ft = models.resnet18(weights='IMAGENET1K_V1')
num_ftrs = model_ft.fc.in_features
model_ft.fc = nn.Linear(num_ftrs, 2)

model_ft = model_ft.to(device)

criterion = nn.CrossEntropyLoss()

optimizer_ft = optim.SGD(model_ft.parameters(), lr=0.001, momentum=0.9)

exp_lr_scheduler = lr_scheduler.StepLR(optimizer_ft, step_size=7, gamma=0.1)

model_ft = train_model(model_ft, criterion, optimizer_ft, exp_lr_scheduler,
                       num_epochs=2)

visualize_model(model_ft)

model_conv = torchvision.models.resnet18(weights='IMAGENET1K_V1')
for param in model_conv.parameters():
    param.requires_grad = False

num_ftrs = model_conv.fc.in_features
model_conv.fc = nn.Linear(num_ftrs, 2)

model_conv = model_conv.to(device)

criterion = nn.CrossEntropyLoss()

optimizer_conv = optim.SGD(model_conv.fc.parameters(), lr=0.001, momentum=0.9)

exp_lr_scheduler = lr_scheduler.StepLR(optimizer_conv, step_size=7, gamma=0.1)

model_conv = train_model(model_conv, criterion, optimizer_conv,
                         exp_lr_scheduler, num_epochs=2)

visualize_model(model_conv)

plt.ioff()
plt.show()

def visualize_model_predictions(model,img_path):
    was_training = model.training
    model.eval()

    img = Image.open(img_path)
    img = data_transforms['val'](img)
    img = img.unsqueeze(0)
    img = img.to(device)

    with torch.no_grad():
        outputs = model(img)
        _, preds = torch.max(outputs, 1)

        ax = plt.subplot(2,2,1)
        ax.axis('off')
        ax.set_title(f'Predicted: {class_names[preds[0]]}')
        imshow(img.cpu().data[0])
        
        model.train(mode=was_training)

visualize_model_predictions(
    model_conv,
    img_path='data/hymenoptera_data/val/bees/72100438_73de9f17af.jpg'
)

plt.ioff()
plt.show()
'''


def _write_hymenoptera(root, n_train: int = 8, n_val: int = 4, seed: int = 0) -> None:
    from PIL import Image
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for cls, colour in (("ants", (200, 60, 40)), ("bees", (40, 80, 200))):
            folder = os.path.join(root, "hymenoptera_data", split, cls)
            os.makedirs(folder, exist_ok=True)
            for i in range(n // 2):
                pixels = np.clip(rng.normal(colour, 30, (40, 48, 3)), 0, 255).astype(np.uint8)
                name = "72100438_73de9f17af" if (split, cls, i) == ("val", "bees", 0) else f"{i}"
                Image.fromarray(pixels).save(os.path.join(folder, name + ".jpg"))


@pytest.fixture
def pretend_pretrained(monkeypatch):
    """The ResNet-18 checkpoint the tutorial asks for: a seeded random model's state dict."""
    asked = []

    def load_state_dict_from_url(url, *args, **kwargs):
        asked.append(url)
        ember.manual_seed(0)
        return ember.vision.models.resnet18().state_dict()
    monkeypatch.setattr(ember.hub, "load_state_dict_from_url", load_state_dict_from_url)
    return asked


def test_transfer_learning(tmp_path, monkeypatch, pretend_pretrained):
    _write_hymenoptera(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(1)
    ns = run(TRANSFER_LEARNING, modules=MATPLOTLIB)
    assert pretend_pretrained == [ember.vision.models.ResNet18_Weights.IMAGENET1K_V1.url] * 2
    assert ns["class_names"] == ["ants", "bees"]
    assert ns["dataset_sizes"] == {"train": 8, "val": 4}
    out = ns["_stdout"]
    assert out.count("Best val Acc: ") == 2 and out.count("train Loss: ") == 4
    assert list(ns["out"].shape[:1]) == [3]  # make_grid of a batch of 4 RGB images
    losses = [float(line.split()[2]) for line in out.splitlines() if line.startswith("train Loss")]
    assert all(np.isfinite(losses))
    # The frozen feature extractor kept the "pretrained" weights; only fc trained (2 epochs of
    # SGD from a fresh layer) and StepLR has not decayed yet after 2 of its 7 epochs.
    ember.manual_seed(0)
    pretrained = ember.vision.models.resnet18().state_dict()
    model_conv = ns["model_conv"]
    for name, p in model_conv.named_parameters():
        if not name.startswith("fc."):
            assert not p.requires_grad
            np.testing.assert_array_equal(p.detach().numpy(), pretrained[name].numpy())
    assert model_conv.fc.weight.requires_grad
    assert ns["optimizer_conv"].param_groups[0]["lr"] == pytest.approx(0.001)
    assert ns["exp_lr_scheduler"].last_epoch == 2
    # Fine-tuning moved the backbone away from the checkpoint (the colours are easy to learn:
    # the training loss falls from the first epoch to the second).
    conv1 = ns["model_ft"].conv1.weight.detach().numpy()
    assert not np.array_equal(conv1, pretrained["conv1.weight"].numpy())
    assert losses[1] < losses[0]
