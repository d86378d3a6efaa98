"""Conformance: torchvision's reference training scripts (the acceptance test's upstream files
and substitutions) on ember against real PyTorch with real torchvision
(``python -m tests.conformance.real_torchvision train.py ...``).

The scripts seed nothing: the sampler's order, ``RandomResizedCrop`` / ``RandomResize``
draws and the weight initialisation come from unseeded global generators (torch's and
Python's ``random``), so two training runs differ even on one library, and seeding would mean
editing the scripts. What is deterministic is evaluating a given checkpoint (the validation
transforms are fixed resizes and crops), so the comparison is crosswise: ember trains epoch
0, PyTorch resumes ember's checkpoint (model, optimizer and scheduler state) and trains epoch
1; the other library then evaluates each checkpoint, through the scripts' own code, and must
print the evaluation the training library printed after that epoch (classification with
``--test-only --resume``; segmentation, whose ``--test-only`` runs before ``--resume`` in this
version, through a driver calling the script's ``get_dataset`` / ``get_transform`` /
``evaluate``, run under both libraries, which also compares each validation image's logits).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.acceptance.script_report import REAL_TORCHVISION
from tests.acceptance.test_torchvision_references_s18 import (
    CLASSIFICATION_SUBSTITUTIONS,
    EMBER,
    SEGMENTATION_SUBSTITUTIONS,
    classification_args,
    classification_evaluations,
    make_image_folder,
    make_voc,
    needs,
    run_reference,
    segmentation_args,
    segmentation_evaluations,
    training_losses,
    write_references,
)
from tests.conformance.real_torchvision import real_torchvision

# Evaluates ``--resume`` with the segmentation script's own functions (beside it, run with
# the script's arguments), then prints each validation image's logit sum and absolute sum.
SEGMENTATION_EVALUATION = '''
import json

import torch
import torchvision

import train

args = train.parse_args()
dataset, num_classes = train.get_dataset(args.data_path, args.dataset, "val",
                                         train.get_transform(train=False))
loader = torch.utils.data.DataLoader(dataset, batch_size=1, collate_fn=train.utils.collate_fn)
model = torchvision.models.segmentation.__dict__[args.model](num_classes=num_classes,
                                                             weights_backbone=None)
model.load_state_dict(torch.load(args.resume, map_location="cpu")["model"])
print(train.evaluate(model, loader, torch.device("cpu"), num_classes))
with torch.no_grad():
    logits = [model(image)["out"].double() for image, _ in loader]
print(json.dumps([[float(x.sum()), float(x.abs().sum())] for x in logits]))
'''


# ``-m tests.conformance.real_torchvision`` runs from the repository root (the module puts the
# script's folder first on sys.path, as ``python train.py`` would); ember's runs from the
# scripts' folder.
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_under(prefix: tuple[str, ...], script: Path, *args) -> str:
    cwd = REPO_ROOT if prefix == REAL_TORCHVISION else script.parent
    return run_reference(prefix, script, *args, cwd=cwd)


@pytest.fixture(autouse=True)
def _real_torchvision():
    real_torchvision()


def assert_same_classification_evaluation(got: dict, expected: dict) -> None:
    # the loss is printed to 4 decimals; it comes from float32 logits of a ResNet-18 whose
    # batch-norm statistics saw one tiny epoch, so the two libraries' float32 convolutions
    # round apart by up to ~1e-4 relative (1.3e-4 seen on a CI machine): relative agreement
    # to 1e-3, far tighter than any wrongly loaded checkpoint would give;
    # the accuracies are counts of 4 images
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-3, abs=2e-4)
    assert (got["acc1"], got["acc5"]) == (expected["acc1"], expected["acc5"])


def assert_same_segmentation_evaluation(got: dict, expected: dict) -> None:
    # printed to 1 decimal; nan where a class is in neither prediction nor truth
    assert got["global"] == pytest.approx(expected["global"], abs=0.11)
    assert len(got["iou"]) == len(expected["iou"])
    for g, e in zip(got["iou"], expected["iou"]):
        assert (math.isnan(g) and math.isnan(e)) or g == pytest.approx(e, abs=0.11)


def test_classification_checkpoints_evaluate_alike(tmp_path):
    needs("PIL")
    scripts = write_references("classification", CLASSIFICATION_SUBSTITUTIONS,
                               tmp_path / "classification")
    script = scripts / "train.py"
    data = make_image_folder(tmp_path / "images")
    output = tmp_path / "out"
    # ember trains epoch 0; PyTorch resumes its checkpoint (model, SGD momentum, StepLR) and
    # trains epoch 1 at lr / 10
    first = run_under(EMBER, script, *classification_args(data, output, 1))
    resumed = run_under(REAL_TORCHVISION, script, *classification_args(
        data, output, 2, "--resume", output / "checkpoint.pth"))
    assert list(training_losses(resumed)) == [1] and "lr: 0.005" in resumed
    (after_first,) = classification_evaluations(first)
    (after_second,) = classification_evaluations(resumed)

    for checkpoint, evaluator, expected in (("model_0.pth", REAL_TORCHVISION, after_first),
                                            ("model_1.pth", EMBER, after_second)):
        log = run_under(evaluator, script, *classification_args(
            data, tmp_path / "unused", 2, "--resume", output / checkpoint, "--test-only"))
        (evaluation,) = classification_evaluations(log)
        assert_same_classification_evaluation(evaluation, expected)


def test_segmentation_checkpoints_evaluate_alike(tmp_path):
    needs("PIL", "pycocotools")
    scripts = write_references("segmentation", SEGMENTATION_SUBSTITUTIONS,
                               tmp_path / "segmentation")
    (scripts / "evaluate_checkpoint.py").write_text(SEGMENTATION_EVALUATION)
    data = make_voc(tmp_path / "voc")
    output = tmp_path / "out"
    # ember trains epoch 0; PyTorch resumes its checkpoint (model, SGD, LambdaLR) for epoch 1
    first = run_under(EMBER, scripts / "train.py", *segmentation_args(data, output, 1))
    resumed = run_under(REAL_TORCHVISION, scripts / "train.py", *segmentation_args(
        data, output, 2, "--resume", output / "model_0.pth"))
    assert list(training_losses(resumed)) == [1]
    (after_first,) = segmentation_evaluations(first)
    (after_second,) = segmentation_evaluations(resumed)

    for checkpoint, expected in (("model_0.pth", after_first), ("model_1.pth", after_second)):
        logits = {}
        for name, prefix in (("ember", EMBER), ("torch", REAL_TORCHVISION)):
            log = run_under(prefix, scripts / "evaluate_checkpoint.py", *segmentation_args(
                data, tmp_path / "unused", 1, "--resume", output / checkpoint))
            (evaluation,) = segmentation_evaluations(log)
            assert_same_segmentation_evaluation(evaluation, expected)
            logits[name] = json.loads(log.strip().splitlines()[-1])
        # float32 rounding scales with each image's absolute logit sum, not its signed sum
        ours, theirs = np.array(logits["ember"]), np.array(logits["torch"])
        np.testing.assert_allclose(ours[:, 1], theirs[:, 1], rtol=1e-4)
        np.testing.assert_array_less(np.abs(ours[:, 0] - theirs[:, 0]), 1e-4 * theirs[:, 1])
