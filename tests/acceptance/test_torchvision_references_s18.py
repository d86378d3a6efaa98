"""Acceptance: torchvision's reference training scripts (``references/classification`` and
``references/segmentation`` of pytorch/vision, BSD-3-Clause) run unchanged on ember.

The scripts are stored verbatim under ``data/vision_references/`` (upstream commits in its
README), written into ``tmp_path`` and run in a fresh interpreter under the alias
(``python -m ember.compat train.py ...``, cwd the scripts' folder, so ``import utils`` finds
their sibling). Classification trains ``resnet18`` on a two-class ImageFolder (SGD, StepLR,
top-1/top-5 accuracy, ``MetricLogger`` of ``SmoothedValue`` medians), saves ``model_N.pth`` and
``checkpoint.pth``, resumes from a checkpoint (model, optimizer and scheduler state) and
evaluates it with ``--test-only``. Segmentation trains ``lraspp_mobilenet_v3_large`` on a
VOC-layout dataset (``VOCSegmentation``, the scripts' paired transforms, ``LambdaLR``
poly schedule, ``cross_entropy(ignore_index=255)``, ``ConfusionMatrix`` from ``bincount``) and
resumes from its ``model_0.pth``.

Substituted text (each unavoidable, nothing else changes):

* classification ``train.py``: the hard-coded 224/256 image sizes (``RandomResizedCrop(224)``,
  ``Resize(256)``, ``CenterCrop(224)``) become 32/36/32, since this version has no option for
  them and 224-pixel images would take minutes here;
* segmentation ``train.py``: the hard-coded ``base_size = 520`` / ``crop_size = 480`` become
  40 / 32 (same reason), and the model builder also gets ``weights_backbone=None``: with
  ``pretrained=False`` alone, torchvision's builders still download ImageNet backbone weights.

Environment: the checkpoints hold the ``argparse.Namespace`` of the run, which PyTorch's
default ``torch.load(weights_only=True)`` refuses, so the runs set
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, PyTorch's own switch for such older scripts (ember reads
it too).
"""
from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REFERENCES = Path(__file__).parent / "data" / "vision_references"

CLASSIFICATION_SUBSTITUTIONS = {
    "train.py": [("transforms.RandomResizedCrop(224)", "transforms.RandomResizedCrop(32)"),
                 ("transforms.Resize(256)", "transforms.Resize(36)"),
                 ("transforms.CenterCrop(224)", "transforms.CenterCrop(32)")],
}
SEGMENTATION_SUBSTITUTIONS = {
    "train.py": [("base_size = 520", "base_size = 40"), ("crop_size = 480", "crop_size = 32"),
                 ("pretrained=args.pretrained)",
                  "pretrained=args.pretrained, weights_backbone=None)")],
}
# Each run under ember, in a fresh interpreter from the scripts' folder.
EMBER = ("-m", "ember.compat")
# VOC's 21 classes; the masks draw a few of them, with the 255 "ignore" border VOC has.
VOC_CLASSES = 21


def needs(*modules: str) -> None:
    """Skip where a module the scripts import is not installed."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


def write_references(kind: str, substitutions: dict, folder: Path) -> Path:
    """The upstream ``references/<kind>`` files as ``.py`` files in ``folder``, with the
    listed substitutions (each must match exactly once)."""
    folder.mkdir(parents=True)
    for stored in sorted((REFERENCES / kind).glob("*.py.txt")):
        name = stored.name[:-len(".txt")]
        text = stored.read_text()
        for old, new in substitutions.get(name, []):
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (folder / name).write_text(text)
    return folder


def make_image_folder(root: Path, train_per_class: int = 4, val_per_class: int = 2) -> Path:
    """A two-class ImageFolder of 40x40 RGB PNGs (``train/`` and ``val/``): reddish and
    bluish noise, so a few steps can tell them apart."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, name in enumerate(("blue", "red")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 120, (40, 40, 3))
                pixels[..., 2 if label == 0 else 0] += 120
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")
    return root


def make_voc(root: Path, train: int = 4, val: int = 2) -> Path:
    """A VOC2012 segmentation layout (``VOCdevkit/VOC2012``: JPEG images, palette-PNG class
    masks with a 255 border, ``ImageSets/Segmentation/{train,val}.txt``) of 40x48 images, each
    a bright rectangle of one class on a dark background."""
    from PIL import Image
    rng = np.random.default_rng(1)
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    for split, count in (("train", train), ("val", val)):
        names = [f"{split}_{i}" for i in range(count)]
        for i, name in enumerate(names):
            image = rng.integers(0, 60, (40, 48, 3))
            mask = np.zeros((40, 48), dtype=np.uint8)
            top, left = rng.integers(4, 16, 2)
            mask[top:top + 16, left:left + 20] = 1 + i % 3
            image[mask > 0] += 150
            mask[[0, -1], :] = 255
            Image.fromarray(image.astype(np.uint8)).save(voc / "JPEGImages" / f"{name}.jpg")
            palette = Image.fromarray(mask, mode="P")
            palette.putpalette([v for c in range(256) for v in (c * 37 % 256, c * 91 % 256, c)])
            palette.save(voc / "SegmentationClass" / f"{name}.png")
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")
    return root


def run_reference(prefix: tuple[str, ...], script: Path, *args: str, cwd: Path) -> str:
    """stdout of ``python <prefix> script args`` (a fresh interpreter, from ``cwd``)."""
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
    done = subprocess.run([sys.executable, *prefix, str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def classification_args(data: Path, output: Path, epochs: int, *extra: str) -> list[str]:
    return ["--data-path", data, "--model", "resnet18", "--device", "cpu", "--epochs", epochs,
            "--batch-size", 4, "--workers", 0, "--lr", 0.05, "--lr-step-size", 1,
            "--print-freq", 1, "--output-dir", output, *extra]


def segmentation_args(data: Path, output: Path, epochs: int, *extra: str) -> list[str]:
    return ["--data-path", data, "--dataset", "voc", "--model", "lraspp_mobilenet_v3_large",
            "--device", "cpu", "--epochs", epochs, "--batch-size", 2, "--workers", 0,
            "--lr", 0.02, "--print-freq", 1, "--output-dir", output, *extra]


_NUMBER = r"(-?[\d.]+(?:e[-+]?\d+)?|nan|inf)"


def training_losses(log: str) -> dict[int, list[float]]:
    """Per epoch, the losses ``MetricLogger`` printed for each step (the window medians)."""
    losses: dict[int, list[float]] = {}
    for epoch, loss in re.findall(r"Epoch: \[(\d+)\].*?loss: " + _NUMBER, log):
        losses.setdefault(int(epoch), []).append(float(loss))
    return losses


def classification_evaluations(log: str) -> list[dict[str, float]]:
    """Each evaluation's first-batch loss and its top-1/top-5 accuracy (%)."""
    losses = [float(v) for v in re.findall(r"Test:.*?loss: \S+ \(" + _NUMBER + r"\)", log)]
    accuracies = re.findall(r"\* Acc@1 " + _NUMBER + " Acc@5 " + _NUMBER, log)
    assert len(losses) == len(accuracies), log
    return [{"loss": loss, "acc1": float(a1), "acc5": float(a5)}
            for loss, (a1, a5) in zip(losses, accuracies)]


def segmentation_evaluations(log: str) -> list[dict]:
    """Each printed ``ConfusionMatrix``: global pixel accuracy, per-class IoU and mean IoU (%)."""
    found = re.findall(r"global correct: " + _NUMBER + r"\naverage row correct: (\[.*?\])\n"
                       r"IoU: (\[.*?\])\nmean IoU: " + _NUMBER, log)
    return [{"global": float(g), "iou": [float(v) for v in re.findall(_NUMBER, iou)],
             "mean_iou": float(mean)} for g, _, iou, mean in found]


def check_classification_evaluation(evaluation: dict[str, float]) -> None:
    assert math.isfinite(evaluation["loss"]) and evaluation["loss"] >= 0
    # 4 validation images: accuracies are multiples of 25%; 2 classes are always in the top 5
    assert evaluation["acc1"] in (0.0, 25.0, 50.0, 75.0, 100.0)
    assert evaluation["acc5"] == 100.0


def check_segmentation_evaluation(evaluation: dict) -> None:
    assert 0.0 <= evaluation["global"] <= 100.0
    assert len(evaluation["iou"]) == VOC_CLASSES
    # classes absent from both prediction and truth give nan (0 / 0), as upstream prints
    present = [v for v in evaluation["iou"] if not math.isnan(v)]
    assert present and all(0.0 <= v <= 100.0 for v in present)


def test_classification_train_resume_and_test_only(tmp_path):
    needs("PIL")
    scripts = write_references("classification", CLASSIFICATION_SUBSTITUTIONS,
                               tmp_path / "classification")
    data = make_image_folder(tmp_path / "images")
    output = tmp_path / "out"

    first = run_reference(EMBER, scripts / "train.py", *classification_args(data, output, 1),
                          cwd=scripts)
    assert sorted(p.name for p in output.iterdir()) == ["checkpoint.pth", "model_0.pth"]
    resumed = run_reference(EMBER, scripts / "train.py", *classification_args(
        data, output, 2, "--resume", output / "checkpoint.pth"), cwd=scripts)
    assert (output / "model_1.pth").exists()

    # 8 images in batches of 4: two steps an epoch, the resumed run starting at epoch 1
    assert {e: len(v) for e, v in training_losses(first).items()} == {0: 2}
    assert {e: len(v) for e, v in training_losses(resumed).items()} == {1: 2}
    for losses in (*training_losses(first).values(), *training_losses(resumed).values()):
        assert all(math.isfinite(v) and v >= 0 for v in losses)
    # StepLR(step_size=1, gamma=0.1) carried over from the checkpoint: epoch 1 runs at lr/10
    assert re.search(r"Epoch: \[1\].*?lr: 0\.005\d*\s", resumed)
    (after_first,) = classification_evaluations(first)
    (after_second,) = classification_evaluations(resumed)
    for evaluation in (after_first, after_second):
        check_classification_evaluation(evaluation)

    # --test-only of the last checkpoint reproduces the evaluation printed after training
    tested = run_reference(EMBER, scripts / "train.py", *classification_args(
        data, output, 2, "--resume", output / "model_1.pth", "--test-only"), cwd=scripts)
    assert "Start training" not in tested
    (evaluation,) = classification_evaluations(tested)
    assert evaluation == pytest.approx(after_second, rel=1e-4, abs=1e-3)


def test_segmentation_train_and_resume(tmp_path):
    needs("PIL", "pycocotools")
    scripts = write_references("segmentation", SEGMENTATION_SUBSTITUTIONS,
                               tmp_path / "segmentation")
    data = make_voc(tmp_path / "voc")
    output = tmp_path / "out"

    first = run_reference(EMBER, scripts / "train.py", *segmentation_args(data, output, 1),
                          cwd=scripts)
    resumed = run_reference(EMBER, scripts / "train.py", *segmentation_args(
        data, output, 2, "--resume", output / "model_0.pth"), cwd=scripts)
    assert sorted(p.name for p in output.iterdir()) == ["model_0.pth", "model_1.pth"]

    # 4 images in batches of 2 (drop_last): two steps an epoch, resumed at epoch 1
    assert {e: len(v) for e, v in training_losses(first).items()} == {0: 2}
    assert {e: len(v) for e, v in training_losses(resumed).items()} == {1: 2}
    for losses in (*training_losses(first).values(), *training_losses(resumed).values()):
        assert all(math.isfinite(v) and v >= 0 for v in losses)
    # the poly schedule resumed after step 2, now of 2 epochs x 2 steps: the lr logged after
    # steps 3 and 4 is 0.02 * (1 - step / 4) ** 0.9
    lrs = [float(v) for v in re.findall(r"Epoch: \[1\].*?lr: " + _NUMBER, resumed)]
    assert lrs == pytest.approx([0.02 * (1 - 3 / 4) ** 0.9, 0.0], abs=1e-12)
    for log in (first, resumed):
        (evaluation,) = segmentation_evaluations(log)
        check_segmentation_evaluation(evaluation)
