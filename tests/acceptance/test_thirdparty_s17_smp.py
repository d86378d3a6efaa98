"""segmentation-models-pytorch on ember, where it is installed (it is not a test dependency: its
package requires PyTorch and timm; .ci/run installs it without dependencies). Unet, FPN,
DeepLabV3Plus and Linknet on smp's own ResNet-18 encoder (built on torchvision's ResNet, here
ember.vision's) and on timm's (``tu-resnet18``) run forward; a Unet trains a few SGD steps on
DiceLoss + FocalLoss; smp.metrics scores its predictions; the model goes through
save_pretrained / from_pretrained in a temporary folder. All with ``torch`` resolved to ember
in a fresh interpreter, no weights downloaded; the losses and metrics are recomputed here in
NumPy from the reported logits and masks.
tests/conformance/test_thirdparty_s17_smp_x_transformers_vs_torch.py compares every value with
real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

for _library in ("segmentation_models_pytorch", "timm"):
    if importlib.util.find_spec(_library) is None:  # (importing it would import torch)
        pytest.skip(f"{_library} is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import json
    import tempfile
    import torch
    import segmentation_models_pytorch as smp
    from segmentation_models_pytorch.losses import DiceLoss, FocalLoss, JaccardLoss

    # tiny tensors: one thread, as threads would spin on work too small to share (CI runs two
    # tests at once on two cores)
    torch.set_num_threads(1)
    report = {"forward": {}}
    torch.manual_seed(0)
    image = torch.randn(1, 3, 32, 32)
    for arch in ["Unet", "FPN", "DeepLabV3Plus", "Linknet"]:
        for encoder in ["resnet18", "tu-resnet18"]:
            torch.manual_seed(0)
            model = getattr(smp, arch)(encoder_name=encoder, encoder_weights=None, classes=2)
            with torch.no_grad():
                y = model.eval()(image)
            report["forward"][f"{arch}/{encoder}"] = {
                "shape": list(y.shape), "mean": y.mean().item(), "std": y.std().item(),
                "corner": y[0, :, :2, :2].flatten().tolist()}

    torch.manual_seed(1)
    images = torch.randn(4, 3, 32, 32)
    masks = (images[:, :1] + 0.3 * images[:, 1:2] > 0).float()
    model = smp.Unet("resnet18", encoder_weights=None, encoder_depth=3, classes=1,
                     decoder_channels=(16, 8, 8))
    dice, focal, jaccard = DiceLoss("binary"), FocalLoss("binary"), JaccardLoss("binary")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    report["train"] = []
    for step in range(4):
        logits = model(images)
        loss = dice(logits, masks) + focal(logits, masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        report["train"].append([loss.item(), jaccard(logits, masks).item()])

    model.eval()
    with torch.no_grad():
        logits = model(images)
    report["masks"] = masks.long().flatten().tolist()
    report["logits"] = logits.flatten().tolist()
    report["eval_losses"] = {"dice": dice(logits, masks).item(),
                             "focal": focal(logits, masks).item(),
                             "jaccard": jaccard(logits, masks).item()}
    predictions = (logits.sigmoid() > 0.5).long()
    report["predictions"] = predictions.flatten().tolist()
    tp, fp, fn, tn = smp.metrics.get_stats(predictions, masks.long(), mode="binary")
    report["stats"] = [s.flatten().tolist() for s in (tp, fp, fn, tn)]
    report["metrics"] = {
        "iou": smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro").item(),
        "f1": smp.metrics.f1_score(tp, fp, fn, tn, reduction="micro").item(),
        "iou_imagewise": smp.metrics.iou_score(tp, fp, fn, tn,
                                               reduction="micro-imagewise").item()}
    class_pred = torch.randint(0, 3, (2, 8, 8))
    class_target = torch.randint(0, 3, (2, 8, 8))
    stats = smp.metrics.get_stats(class_pred, class_target, mode="multiclass", num_classes=3)
    report["multiclass"] = {"pred": class_pred.flatten().tolist(),
                            "target": class_target.flatten().tolist(),
                            "iou_macro": smp.metrics.iou_score(*stats, reduction="macro").item()}

    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        loaded = smp.from_pretrained(folder).eval()
        with torch.no_grad():
            report["round_trip"] = [type(loaded).__name__, torch.equal(loaded(images), logits)]
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "smp_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("smp"))


def test_architectures_run_forward_on_both_encoders(report):
    assert len(report["forward"]) == 8
    for name, out in report["forward"].items():
        assert out["shape"] == [1, 2, 32, 32], name
        assert np.isfinite(out["mean"]) and out["std"] > 0, name
    # the same seed draws different weights for different encoders
    assert report["forward"]["Unet/resnet18"] != report["forward"]["Unet/tu-resnet18"]


def test_training_lowers_the_losses(report):
    losses = np.array(report["train"])
    assert np.all(np.isfinite(losses))
    assert np.all(np.diff(losses[:, 0]) < 0) and losses[-1, 1] < losses[0, 1]


def test_losses_match_numpy(report):
    logits = np.array(report["logits"], np.float64).reshape(4, -1)
    masks = np.array(report["masks"], np.float64).reshape(4, -1)
    probs = 1 / (1 + np.exp(-logits))
    # binary mode: one class, summed over batch and pixels; a class absent from the masks
    # would count zero
    intersection, cardinality = (probs * masks).sum(), (probs + masks).sum()
    losses = report["eval_losses"]
    assert np.isclose(losses["dice"], 1 - 2 * intersection / cardinality, rtol=1e-5)
    assert np.isclose(losses["jaccard"], 1 - intersection / (cardinality - intersection),
                      rtol=1e-5)
    bce = np.logaddexp(0, logits) - masks * logits
    assert np.isclose(losses["focal"], ((1 - np.exp(-bce)) ** 2 * bce).mean(), rtol=1e-4)


def test_metrics_match_numpy(report):
    logits = np.array(report["logits"]).reshape(4, -1)
    predictions = np.array(report["predictions"]).reshape(4, -1)
    masks = np.array(report["masks"]).reshape(4, -1)
    decided = np.abs(logits) > 1e-6  # sigmoid(x) > 0.5 is x > 0 away from float32's rounding
    assert np.array_equal(predictions[decided], (logits[decided] > 0).astype(int))
    tp = (predictions & masks).sum(1)
    fp, fn = (predictions & ~masks & 1).sum(1), (~predictions & masks & 1).sum(1)
    tn = masks.shape[1] - tp - fp - fn
    assert report["stats"] == [tp.tolist(), fp.tolist(), fn.tolist(), tn.tolist()]
    metrics = report["metrics"]
    assert np.isclose(metrics["iou"], tp.sum() / (tp + fp + fn).sum(), rtol=1e-6)
    assert np.isclose(metrics["f1"], 2 * tp.sum() / (2 * tp + fp + fn).sum(), rtol=1e-6)
    assert np.isclose(metrics["iou_imagewise"], (tp / (tp + fp + fn)).mean(), rtol=1e-6)
    multiclass = report["multiclass"]
    pred, target = np.array(multiclass["pred"]), np.array(multiclass["target"])
    ious = [((pred == c) & (target == c)).sum() / ((pred == c) | (target == c)).sum()
            for c in range(3)]
    assert np.isclose(multiclass["iou_macro"], np.mean(ious), rtol=1e-6)


def test_save_and_load_round_trip(report):
    assert report["round_trip"] == ["Unet", True]
