"""Acceptance: milesial/Pytorch-UNet (github.com/milesial/Pytorch-UNet, GPL-3.0 licence,
(c) 2019 milesial) runs unchanged on ember.

``unet/unet_parts.py`` (commit 07debeb9f2621b53ed513e5ab8a0307b4da57767) and
``utils/dice_score.py`` (commit c0147f140e90572f4f6d2a8aa486df834f63bc59) are kept verbatim:
``DoubleConv`` (Conv2d, BatchNorm2d, in-place ReLU), ``Down`` (MaxPool2d), ``Up`` in both modes
(``Upsample(mode='bilinear', align_corners=True)`` or ``ConvTranspose2d``) whose ``F.pad``
amounts are one-element tensors built by ``torch.tensor([...])``, ``OutConv``, and the Dice
coefficient / loss (``torch.dot``, ``sets_sum.item()``, Python ``sum`` over tensors). The stored
``unet/unet_model.py`` belongs to a later ``Up`` (its channel counts do not fit this one), so the
test assembles a three-level U-Net from the parts itself, and trains it as ``train.py`` does:
``CrossEntropyLoss`` plus ``dice_loss`` of the softmax against ``F.one_hot(...).permute``,
RMSprop with momentum and weight decay, ``ReduceLROnPlateau('max')`` stepped on the
``evaluate.py`` Dice score, on odd image sizes so that ``Up`` pads. Everything is compared
with real PyTorch from the same weights and batches.
"""

# The project's code is kept verbatim, long lines included.
# ruff: noqa: E501

import numpy as np
import pytest
from acceptance_runner import _sibling_modules, run

# unet/unet_parts.py at commit 07debeb9f2621b53ed513e5ab8a0307b4da57767
UNET_PARTS = r'''""" Parts of the U-Net model """

import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """Downscaling with maxpool then double conv"""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(in_channels, out_channels)
        )

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upscaling then double conv"""

    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()

        # if bilinear, use the normal convolutions to reduce the number of channels
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels // 2, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels , in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)


    def forward(self, x1, x2):
        x1 = self.up(x1)
        # input is CHW
        diffY = torch.tensor([x2.size()[2] - x1.size()[2]])
        diffX = torch.tensor([x2.size()[3] - x1.size()[3]])

        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2,
                        diffY // 2, diffY - diffY // 2])
        # if you have padding issues, see
        # https://github.com/HaiyongJiang/U-Net-Pytorch-Unstructured-Buggy/commit/0e854509c2cea854e247a9c615f175f76fbb2e3a
        # https://github.com/xiaopeng-liao/Pytorch-UNet/commit/8ebac70e633bac59fc22bb5195e513d5832fb3bd
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super(OutConv, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.conv(x)
'''

# utils/dice_score.py at commit c0147f140e90572f4f6d2a8aa486df834f63bc59
DICE_SCORE = r'''import torch
from torch import Tensor


def dice_coeff(input: Tensor, target: Tensor, reduce_batch_first: bool = False, epsilon=1e-6):
    # Average of Dice coefficient for all batches, or for a single mask
    assert input.size() == target.size()
    if input.dim() == 2 and reduce_batch_first:
        raise ValueError(f'Dice: asked to reduce batch but got tensor without batch dimension (shape {input.shape})')

    if input.dim() == 2 or reduce_batch_first:
        inter = torch.dot(input.reshape(-1), target.reshape(-1))
        sets_sum = torch.sum(input) + torch.sum(target)
        if sets_sum.item() == 0:
            sets_sum = 2 * inter

        return (2 * inter + epsilon) / (sets_sum + epsilon)
    else:
        # compute and average metric for each batch element
        dice = sum(
            dice_coeff(input[i, ...], target[i, ...])
            for i in range(input.shape[0])
        )

        return dice / input.shape[0]


def multiclass_dice_coeff(input: Tensor, target: Tensor, reduce_batch_first: bool = False, epsilon=1e-6):
    # Average of Dice coefficient for all classes
    assert input.size() == target.size()
    dice = sum(
        dice_coeff(
            input[:, channel, ...],
            target[:, channel, ...],
            reduce_batch_first,
            epsilon,
        )
        for channel in range(input.shape[1])
    )

    return dice / input.shape[1]


def dice_loss(input: Tensor, target: Tensor, multiclass: bool = False):
    # Dice loss (objective to minimize) between 0 and 1
    assert input.size() == target.size()
    fn = multiclass_dice_coeff if multiclass else dice_coeff
    return 1 - fn(input, target, reduce_batch_first=True)
'''

# The harness: a three-level U-Net from the parts (unet_model.py's pattern, smaller), one
# training step as train.py takes it and the Dice score as evaluate.py computes it.
HARNESS = r"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from unet_parts import DoubleConv, Down, Up, OutConv
from dice_score import dice_loss, multiclass_dice_coeff, dice_coeff


class SmallUNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear):
        super().__init__()
        self.n_classes = n_classes
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, 8)
        self.down1 = Down(8, 16)
        self.down2 = Down(16, 32 // factor)
        self.up1 = Up(32, 16, bilinear)
        self.up2 = Up(16, 8, bilinear)
        self.outc = OutConv(8 // factor, n_classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x = self.up1(self.down2(x2), x2)
        return self.outc(self.up2(x, x1))


def train_step(model, optimizer, images, true_masks):
    model.train()
    criterion = nn.CrossEntropyLoss()
    masks_pred = model(images)
    loss = criterion(masks_pred, true_masks)
    loss += dice_loss(
        F.softmax(masks_pred, dim=1).float(),
        F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float(),
        multiclass=True
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


@torch.inference_mode()
def evaluate(model, images, mask_true):
    model.eval()
    mask_pred = model(images)
    mask_true = F.one_hot(mask_true, model.n_classes).permute(0, 3, 1, 2).float()
    mask_pred = F.one_hot(mask_pred.argmax(dim=1), model.n_classes).permute(0, 3, 1, 2).float()
    return multiclass_dice_coeff(mask_pred[:, 1:], mask_true[:, 1:], reduce_batch_first=False)
"""


def _sides(torch):
    modules = {"unet_parts": UNET_PARTS, "dice_score": DICE_SCORE}
    ns = run(HARNESS, modules=modules)
    ref = {"__name__": "unet_harness"}
    with _sibling_modules(modules, print):  # the same sources as plain modules on real PyTorch
        exec(compile(HARNESS, "<harness>", "exec"), ref)
    assert ref["torch"] is torch
    return ns, ref


@pytest.mark.parametrize("bilinear", [True, False])
def test_unet_training_matches_torch(bilinear):
    torch = pytest.importorskip("torch")
    ns, ref = _sides(torch)
    et = ns["torch"]
    et.manual_seed(0)
    model = ns["SmallUNet"](3, 3, bilinear)
    ref_model = ref["SmallUNet"](3, 3, bilinear)
    ref_model.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                               for k, v in model.state_dict().items()})
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 3, 11, 9)).astype(np.float32)  # odd sizes: Up pads
    masks = rng.integers(0, 3, (2, 11, 9))
    results = []
    for side, lib, m in ((ns, et, model), (ref, torch, ref_model)):
        for name, p in m.named_parameters():
            # A bias right before BatchNorm gets a rounding-noise gradient that RMSprop would
            # normalise into a full step of arbitrary sign, on either side: frozen.
            if name.endswith(("double_conv.0.bias", "double_conv.3.bias")):
                p.requires_grad_(False)
        opt = lib.optim.RMSprop(m.parameters(), lr=1e-3, weight_decay=1e-8, momentum=0.9,
                                foreach=True)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, 'max', patience=0)
        losses, scores = [], []
        for _ in range(3):
            losses.append(side["train_step"](m, opt, lib.tensor(images), lib.tensor(masks)))
            score = side["evaluate"](m, lib.tensor(images), lib.tensor(masks))
            sched.step(score)
            scores.append(float(score))
        grads = {n: p.grad.numpy().copy() for n, p in m.named_parameters() if p.requires_grad}
        m.eval()
        out = m(lib.tensor(images)).detach().numpy()
        results.append((losses, scores, opt.param_groups[0]["lr"], grads, out,
                        {k: v.numpy() for k, v in m.state_dict().items()}))
    (losses, scores, lr, grads, out, state), (r_losses, r_scores, r_lr, r_grads, r_out, r_state) = results
    np.testing.assert_allclose(losses, r_losses, rtol=1e-5)
    for name in r_grads:
        np.testing.assert_allclose(grads[name], r_grads[name], atol=1e-5, err_msg=name)
    for name in r_state:  # parameters, BatchNorm running statistics, num_batches_tracked
        # RMSprop divides by the root of the running square: an element whose gradient is
        # rounding noise moves by up to lr (1e-3) either way, hence atol on the lr scale
        np.testing.assert_allclose(state[name], r_state[name], rtol=1e-4, atol=3e-4, err_msg=name)
    np.testing.assert_allclose(out, r_out, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scores, r_scores, rtol=1e-5)
    assert lr == r_lr


def test_dice_coefficients_match_torch():
    """dice_coeff on single masks, batches and empty masks (the ``sets_sum.item() == 0``
    branch), multiclass_dice_coeff and dice_loss, with gradients, agree with PyTorch."""
    torch = pytest.importorskip("torch")
    ns, ref = _sides(torch)
    et = ns["torch"]
    rng = np.random.default_rng(1)
    probs = rng.random((2, 3, 5, 4)).astype(np.float32)
    target = (rng.random((2, 3, 5, 4)) > 0.5).astype(np.float32)
    vals = []
    for side, lib in ((ns, et), (ref, torch)):
        x = lib.tensor(probs, requires_grad=True)
        t = lib.tensor(target)
        loss = side["dice_loss"](x, t, multiclass=True) + side["dice_loss"](x[:, 0], t[:, 0])
        loss.backward()
        zero = lib.zeros(5, 4)
        vals.append([side["dice_coeff"](x[0, 0], t[0, 0]).item(),
                     side["dice_coeff"](x[:, 1], t[:, 1]).item(),
                     side["multiclass_dice_coeff"](x, t).item(),
                     side["dice_coeff"](zero, zero).item(),
                     loss.item(), x.grad.numpy()])
        with pytest.raises(ValueError, match="asked to reduce batch"):
            side["dice_coeff"](zero, zero, reduce_batch_first=True)
    for a, b in zip(*vals):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
