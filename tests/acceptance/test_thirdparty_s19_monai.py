"""MONAI on ember, where MONAI is installed (it is not a test dependency: its package requires
PyTorch; .ci/run installs it without dependencies). Its segmentation networks (UNet, BasicUNet,
SegResNet, AttentionUnet, SwinUNETR, a small DenseNet121), losses (Dice, Dice + cross-entropy,
focal, generalised Dice) with their gradients, metrics (Dice, Hausdorff and its 95th
percentile), array and dictionary transforms through MONAI's Dataset and DataLoader (MetaTensors,
a Tensor subclass), sliding-window inference and a few training steps, run with ``torch``
resolved to ember in a fresh interpreter. The values are checked here against NumPy (the losses'
formulas and finite-difference gradients, the metrics with SciPy's distance transforms, the
transforms' arithmetic, MONAI's NumPy random draws) and closed forms (a UNet's parameter count,
windows that must reproduce the whole-image output).
tests/conformance/test_thirdparty_s19_monai_torchinfo_skorch_vs_torch.py compares every value
with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("monai") is None:  # (importing it would import torch)
    pytest.skip("monai is not installed", allow_module_level=True)
ndimage = pytest.importorskip("scipy.ndimage")

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import numpy as np
    import torch
    from torch import nn
    import monai
    from monai.data import DataLoader, Dataset, decollate_batch
    from monai.inferers import SlidingWindowInferer, sliding_window_inference
    from monai.losses import DiceCELoss, DiceLoss, FocalLoss, GeneralizedDiceLoss
    from monai.metrics import DiceMetric, HausdorffDistanceMetric
    from monai.networks.nets import (AttentionUnet, BasicUNet, DenseNet121, SegResNet, SwinUNETR,
                                     UNet)
    from monai.networks.utils import one_hot
    from monai.transforms import (AsDiscrete, Compose, EnsureChannelFirst, EnsureChannelFirstd,
                                  NormalizeIntensity, RandFlip, RandFlipd, Resize, ScaleIntensity,
                                  ScaleIntensityd)

    monai.utils.set_determinism(seed=0)
    report = {}


    def summary(y):
        """a network output's shape, sums and every 37th value"""
        return {"shape": list(y.shape), "sum": y.sum().item(), "abs_sum": y.abs().sum().item(),
                "sample": out(y.flatten()[::37])}


    # networks, built from one seed each, run in eval mode
    networks = {
        "unet": (lambda: UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8, 16),
                              strides=(2, 2), num_res_units=1), (2, 1, 16, 16)),
        "basic_unet": (lambda: BasicUNet(spatial_dims=2, in_channels=1, out_channels=2,
                                         features=(4, 4, 8, 8, 16, 4)), (1, 1, 32, 32)),
        "segresnet": (lambda: SegResNet(spatial_dims=2, in_channels=1, out_channels=2,
                                        init_filters=8, blocks_down=(1, 1, 1), blocks_up=(1, 1)),
                      (1, 1, 16, 16)),
        "attention_unet": (lambda: AttentionUnet(spatial_dims=2, in_channels=1, out_channels=2,
                                                 channels=(4, 8, 16), strides=(2, 2)),
                           (1, 1, 16, 16)),
        "swin_unetr": (lambda: SwinUNETR(in_channels=1, out_channels=2, feature_size=12,
                                         spatial_dims=2, depths=(1, 1, 1, 1),
                                         num_heads=(1, 1, 1, 1)), (1, 1, 64, 64)),
        "densenet121": (lambda: DenseNet121(spatial_dims=2, in_channels=1, out_channels=3,
                                            init_features=8, growth_rate=4), (1, 1, 32, 32)),
    }
    report["networks"] = {}
    for name, (build, shape) in networks.items():
        torch.manual_seed(0)
        net = build().eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = net(x)
        report["networks"][name] = {
            "params": sum(p.numel() for p in net.parameters()),
            "param_shapes": [list(p.shape) for p in net.parameters()], **summary(y)}

    # losses on logits and integer labels, with the gradient of DiceCELoss
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 6, 6, requires_grad=True)
    labels = torch.randint(0, 3, (2, 1, 6, 6))
    labels[1][labels[1] == 2] = 0  # class 2 absent from the second image: GDL's weight is inf
    losses = {"dice": DiceLoss(to_onehot_y=True, softmax=True),
              "dice_ce": DiceCELoss(to_onehot_y=True, softmax=True),
              "focal": FocalLoss(to_onehot_y=True, gamma=2.0),
              "generalized_dice": GeneralizedDiceLoss(to_onehot_y=True, softmax=True)}
    report["losses"] = {"logits": out(logits), "labels": out(labels)}
    for name, loss_fn in losses.items():
        logits.grad = None
        value = loss_fn(logits, labels)
        value.backward()
        report["losses"][name] = {"value": value.item(), "grad": out(logits.grad)}
    report["losses"]["one_hot"] = out(one_hot(labels, num_classes=3))

    # metrics on argmax predictions against the labels, as one-hot maps
    to_prediction = AsDiscrete(argmax=True, to_onehot=3)
    to_truth = AsDiscrete(to_onehot=3)
    predictions = [to_prediction(p) for p in logits.detach()]
    truths = [to_truth(t) for t in labels]
    dice_metric = DiceMetric(include_background=True, reduction="mean")
    hausdorff = HausdorffDistanceMetric(include_background=False, percentile=95)
    hausdorff_max = HausdorffDistanceMetric(include_background=False)
    for metric in (dice_metric, hausdorff, hausdorff_max):
        metric(y_pred=predictions, y=truths)
    report["metrics"] = {"predictions": out(torch.stack(predictions).argmax(1)),
                         "dice_per_class": out(dice_metric.get_buffer()),
                         "dice": dice_metric.aggregate().item(),
                         "hausdorff95": out(hausdorff.get_buffer()),
                         "hausdorff": out(hausdorff_max.get_buffer())}

    # array transforms on a channel-first image
    image = torch.arange(48, dtype=torch.float32).reshape(1, 6, 8) * 0.5 - 3.0
    image[0, 2, 3] = 17.0
    flipper = RandFlip(prob=0.5, spatial_axis=1)
    flipper.set_random_state(seed=3)
    flips = [out(flipper(image)[0, 0]) for _ in range(6)]
    report["transforms"] = {
        "image": out(image),
        # each on a copy: NormalizeIntensity writes into its input
        "scale": out(ScaleIntensity()(image.clone())),
        "scale_range": out(ScaleIntensity(minv=-1.0, maxv=2.0)(image.clone())),
        "normalize": out(NormalizeIntensity()(image.clone())),
        "normalize_nonzero": out(NormalizeIntensity(nonzero=True)(image.clone())),
        "resize_area": out(Resize((3, 4))(image.clone())),
        "resize_nearest": out(Resize((12, 4), mode="nearest")(image.clone())),
        "flip_first_rows": flips,
        "channel_first": list(EnsureChannelFirst(channel_dim="no_channel")(image[0]).shape),
    }

    # a dictionary pipeline through MONAI's Dataset and DataLoader
    samples = [{"image": torch.full((4, 4), float(i)) + torch.arange(16.0).reshape(4, 4),
                "label": i} for i in range(4)]
    pipeline = Compose([EnsureChannelFirstd(keys="image", channel_dim="no_channel"),
                        ScaleIntensityd(keys="image"),
                        RandFlipd(keys="image", prob=0.5, spatial_axis=0)]).set_random_state(seed=5)
    loader = DataLoader(Dataset(samples, transform=pipeline), batch_size=2, shuffle=False)
    batches = []
    for batch in loader:
        items = decollate_batch(batch)
        batches.append({"image": out(batch["image"]), "label": out(batch["label"]),
                        "decollated": len(items), "item_shape": list(items[0]["image"].shape)})
    report["data"] = batches

    # sliding windows: a pointwise network is the same windowed or whole; a UNet too when one
    # window covers the image
    torch.manual_seed(2)
    pointwise = nn.Sequential(nn.Conv2d(1, 4, 1), nn.Tanh(), nn.Conv2d(4, 2, 1)).eval()
    unet = networks["unet"][0]().eval()
    big = torch.randn(1, 1, 20, 20)
    small = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        gaussian = sliding_window_inference(big, (8, 8), 3, pointwise, overlap=0.25,
                                            mode="gaussian")
        constant = SlidingWindowInferer((8, 8), sw_batch_size=2, overlap=0.5)(big, pointwise)
        covering = sliding_window_inference(small, (16, 16), 1, unet)
        unet_windows = sliding_window_inference(torch.randn(1, 1, 24, 24), (16, 16), 4, unet,
                                                overlap=0.5, mode="gaussian")
        report["sliding_window"] = {
            "pointwise_gaussian_error": (gaussian - pointwise(big)).abs().max().item(),
            "pointwise_constant_error": (constant - pointwise(big)).abs().max().item(),
            "unet_covering_error": (covering - unet(small)).abs().max().item(),
            "unet_windows": summary(unet_windows)}

    # a few training steps of the UNet on a thresholding task with DiceCELoss
    torch.manual_seed(3)
    unet = networks["unet"][0]()
    optimizer = torch.optim.Adam(unet.parameters(), lr=1e-2)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    x = torch.randn(4, 1, 16, 16)
    y = (x > 0.3).long()
    train_losses = []
    for step in range(5):
        optimizer.zero_grad()
        loss = loss_fn(unet(x), y)
        loss.backward()
        optimizer.step()
        train_losses.append(loss.item())
    report["training"] = {"losses": train_losses}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "monai_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("monai"))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _dice(logits, onehot):
    """MONAI's soft Dice loss: 1 - (2 |P G| + 1e-5) / (|P| + |G| + 1e-5) per image and class,
    averaged."""
    p = _softmax(logits)
    overlap = (p * onehot).sum((2, 3))
    return (1 - (2 * overlap + 1e-5) / (p.sum((2, 3)) + onehot.sum((2, 3)) + 1e-5)).mean()


def _cross_entropy(logits, onehot):
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -(onehot * log_p).sum(1).mean()


def _focal(logits, onehot, gamma=2.0):
    """The sigmoid focal loss: binary cross-entropy scaled by (1 - p_t)^gamma, averaged."""
    bce = logits - logits * onehot - _log_sigmoid(logits)
    return (np.exp(gamma * _log_sigmoid(-logits * (2 * onehot - 1))) * bce).mean()


def _generalized_dice(logits, onehot):
    """Sudre et al.'s loss, class weights 1 / |G_c|^2; an absent class takes the image's
    largest weight."""
    p = _softmax(logits)
    with np.errstate(divide="ignore"):
        weights = 1.0 / onehot.sum((2, 3)) ** 2
    absent = np.isinf(weights)
    weights[absent] = 0.0
    weights = weights + absent * weights.max(1, keepdims=True)
    overlap = (p * onehot).sum((2, 3))
    total = p.sum((2, 3)) + onehot.sum((2, 3))
    return (1 - (2 * (weights * overlap).sum(1) + 1e-5) / ((weights * total).sum(1) + 1e-5)).mean()


LOSSES = {"dice": _dice, "dice_ce": lambda z, g: _dice(z, g) + _cross_entropy(z, g),
          "focal": _focal, "generalized_dice": _generalized_dice}


def test_losses_and_gradients_match_numpy(report):
    losses = report["losses"]
    logits = np.array(losses["logits"], dtype=np.float64)
    labels = np.array(losses["labels"])[:, 0]
    onehot = np.eye(3)[labels].transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(losses["one_hot"], onehot)
    for name, loss in LOSSES.items():
        assert np.isclose(losses[name]["value"], loss(logits, onehot), rtol=1e-5), name
        numeric = np.zeros_like(logits)
        for index in np.ndindex(*logits.shape):
            step = np.zeros_like(logits)
            step[index] = 1e-6
            numeric[index] = (loss(logits + step, onehot) - loss(logits - step, onehot)) / 2e-6
        np.testing.assert_allclose(losses[name]["grad"], numeric, atol=2e-6, err_msg=name)


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask ^ ndimage.binary_erosion(mask)


def test_dice_and_hausdorff_metrics_match_numpy(report):
    metrics = report["metrics"]
    predictions = np.array(metrics["predictions"])
    truths = np.array(report["losses"]["labels"])[:, 0]
    dice = np.full((2, 3), np.nan)
    hausdorff = np.full((2, 2), np.nan)
    hausdorff95 = np.full((2, 2), np.nan)
    for b, c in np.ndindex(2, 3):
        predicted, truth = predictions[b] == c, truths[b] == c
        if truth.any():  # an empty truth is ignored (nan)
            dice[b, c] = 2 * (predicted & truth).sum() / (predicted.sum() + truth.sum())
        if c == 0:
            continue
        if not truth.any():  # infinitely far from the prediction; interpolating infs: nan
            hausdorff[b, c - 1], hausdorff95[b, c - 1] = np.inf, np.nan
            continue
        edges_p, edges_t = _surface(predicted), _surface(truth)
        to_truth = ndimage.distance_transform_edt(~edges_t)[edges_p]
        to_prediction = ndimage.distance_transform_edt(~edges_p)[edges_t]
        hausdorff[b, c - 1] = max(to_truth.max(), to_prediction.max())
        hausdorff95[b, c - 1] = max(np.percentile(to_truth, 95),
                                    np.percentile(to_prediction, 95))
    np.testing.assert_allclose(metrics["dice_per_class"], dice, rtol=1e-6)
    per_image = np.nanmean(dice, 1)
    assert np.isclose(metrics["dice"], per_image.mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics["hausdorff"], hausdorff, rtol=1e-6)
    np.testing.assert_allclose(metrics["hausdorff95"], hausdorff95, rtol=1e-6)
    assert np.isinf(hausdorff[1, 1])  # class 2 is absent from the second image


def test_array_transforms_match_numpy(report):
    transforms = report["transforms"]
    image = np.array(transforms["image"])
    low, high = image.min(), image.max()
    np.testing.assert_allclose(transforms["scale"], (image - low) / (high - low), rtol=1e-6)
    np.testing.assert_allclose(transforms["scale_range"], (image - low) / (high - low) * 3 - 1,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(transforms["normalize"], (image - image.mean()) / image.std(),
                               rtol=1e-5, atol=1e-6)
    nonzero = image != 0
    normalized = image.copy()
    normalized[nonzero] = (image[nonzero] - image[nonzero].mean()) / image[nonzero].std()
    np.testing.assert_allclose(transforms["normalize_nonzero"], normalized, rtol=1e-5, atol=1e-6)
    # area: means of 2x2 blocks; nearest: rows repeated, every second column
    np.testing.assert_allclose(transforms["resize_area"],
                               image.reshape(1, 3, 2, 4, 2).mean((2, 4)), rtol=1e-6)
    np.testing.assert_array_equal(transforms["resize_nearest"],
                                  np.repeat(image, 2, axis=1)[:, :, ::2])
    # RandFlip draws one uniform number per call from its NumPy RandomState
    flipped = np.random.RandomState(3).rand(6) < 0.5
    for row, flip in zip(transforms["flip_first_rows"], flipped):
        np.testing.assert_array_equal(row, image[0, 0, ::-1] if flip else image[0, 0])
    assert transforms["channel_first"] == [1, 6, 8]


def test_dictionary_pipeline_through_the_data_loader(report):
    scaled = np.arange(16.0).reshape(4, 4) / 15
    labels = []
    for batch in report["data"]:
        assert batch["decollated"] == 2 and batch["item_shape"] == [1, 4, 4]
        labels += batch["label"]
        for item in np.array(batch["image"])[:, 0]:
            assert np.allclose(item, scaled) or np.allclose(item, scaled[::-1])
    assert labels == [0, 1, 2, 3]


def test_networks_give_their_output_shapes(report):
    shapes = {"unet": [2, 2, 16, 16], "basic_unet": [1, 2, 32, 32],
              "segresnet": [1, 2, 16, 16], "attention_unet": [1, 2, 16, 16],
              "swin_unetr": [1, 2, 64, 64], "densenet121": [1, 3]}
    for name, shape in shapes.items():
        network = report["networks"][name]
        assert network["shape"] == shape, name
        assert network["params"] == sum(int(np.prod(s)) for s in network["param_shapes"])
        assert np.isfinite(network["sum"]) and network["abs_sum"] > 0, name
    # UNet(channels=(4, 8, 16)) with one residual unit per level: closed-form parameter count
    assert report["networks"]["unet"]["params"] == _unet_params()


def _unet_params() -> int:
    """MONAI's UNet(2-D, 1 -> 2 channels, channels (4, 8, 16), strides (2, 2), one residual
    unit): residual units of a 3x3 conv and a one-weight PReLU (the instance norms have no
    affine weights), with a 3x3 residual conv where they stride, a 1x1 one where only the
    width changes; up blocks a transposed 3x3 conv + PReLU then a residual unit, the last one
    a bare conv."""
    def conv(c_in, c_out, k):  # a transposed conv has as many weights
        return c_out * c_in * k * k + c_out

    down = (conv(1, 4, 3) + 1 + conv(1, 4, 3)) + (conv(4, 8, 3) + 1 + conv(4, 8, 3))
    bottom = conv(8, 16, 3) + 1 + conv(8, 16, 1)
    up = (conv(16 + 8, 4, 3) + 1) + (conv(4, 4, 3) + 1)
    last = (conv(4 + 4, 2, 3) + 1) + conv(2, 2, 3)
    return down + bottom + up + last


def test_sliding_windows_agree_with_the_whole_image(report):
    windows = report["sliding_window"]
    assert windows["pointwise_gaussian_error"] < 1e-6
    assert windows["pointwise_constant_error"] < 1e-6
    assert windows["unet_covering_error"] < 1e-6
    assert windows["unet_windows"]["shape"] == [1, 2, 24, 24]


def test_training_reduces_the_loss(report):
    losses = report["training"]["losses"]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.85 * losses[0]
