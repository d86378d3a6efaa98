"""Ultralytics YOLO on ember, where ultralytics is installed (it is not a test dependency: its
package requires PyTorch; .ci/run installs it without dependencies, with opencv-python-headless
and polars, which its data pipeline and trainer import; its optional FLOPs counter
ultralytics-thop is left out, as it installs over thop's ``thop`` module). Its README paths, offline
(``YOLO_OFFLINE``, no weights: the model is built from its packaged yaml) at 64x64: a YOLOv8n
built by ``YOLO("yolov8n.yaml")``, its raw forward pass, ``predict`` on random images, one epoch
of ``train`` (with validation) on a synthetic four-image detection dataset written in YOLO's
format, and the saved ``best.pt`` (the whole model pickled by ``torch.save``) reloaded with
``weights_only=False`` as ultralytics loads it, run with ``torch`` resolved to ember in a fresh
interpreter. Predictions are checked here against the raw outputs decoded in NumPy.
tests/conformance/test_thirdparty_s20_ultralytics_vs_torch.py compares the numbers with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

for _module in ("ultralytics", "cv2", "polars"):  # (importing ultralytics would import torch)
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import os
    import pathlib
    import tempfile

    work = pathlib.Path(tempfile.mkdtemp())
    os.environ["YOLO_OFFLINE"] = "1"  # no online checks, downloads or analytics
    os.environ["YOLO_CONFIG_DIR"] = str(work / "config")  # its settings file, not the user's

    import cv2
    import numpy as np
    import torch
    from ultralytics import YOLO

    rng = np.random.default_rng(0)
    report = {}

    # the model from its yaml, and its backbone's features (the head's inputs) on a fixed input
    # (its untrained head predicts constants: the last convolutions start at zero)
    torch.manual_seed(0)
    model = YOLO("yolov8n.yaml")
    net = model.model.eval()
    report["parameters"] = sum(p.numel() for p in net.parameters())
    features = []
    net.model[-1].register_forward_pre_hook(lambda module, args: features.extend(args[0]))
    torch.manual_seed(1)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        raw = net(x)[0]
    report["forward"] = {"shape": list(raw.shape), "scores_max": raw[0, 4:].max().item(),
                         "features": [{"shape": list(f.shape), "sum": f.sum().item(),
                                       "head": out(f[0, :3, 0, :3])} for f in features]}

    # one epoch on a synthetic dataset: a red rectangle (class 0) on a grey background
    data = work / "data"
    for split in ("train", "val"):
        (data / "images" / split).mkdir(parents=True)
        (data / "labels" / split).mkdir(parents=True)
        for i in range(4):
            image = np.full((64, 64, 3), 40, np.uint8)
            x0, y0 = rng.integers(4, 30, 2)
            w, h = rng.integers(16, 30, 2)
            image[y0:y0 + h, x0:x0 + w] = (60, 60, 200)
            cv2.imwrite(str(data / "images" / split / f"{i}.png"), image)
            (data / "labels" / split / f"{i}.txt").write_text(
                f"0 {(x0 + w / 2) / 64} {(y0 + h / 2) / 64} {w / 64} {h / 64}\\n")
    (data / "data.yaml").write_text(
        f"path: {data}\\ntrain: images/train\\nval: images/val\\nnames:\\n  0: box\\n")

    losses = []
    torch.manual_seed(0)
    trained = YOLO("yolov8n.yaml")
    trained.add_callback("on_train_batch_end",
                         lambda trainer: losses.append(out(trainer.loss_items)))
    trained.train(data=str(data / "data.yaml"), epochs=1, imgsz=64, batch=2, workers=0,
                  device="cpu", amp=False, plots=False, val=True, seed=0, verbose=False,
                  project=str(work / "runs"), name="train", exist_ok=True)
    weights = work / "runs" / "train" / "weights"
    report["train"] = {"losses": losses, "saved": sorted(p.name for p in weights.iterdir())}

    # best.pt: the whole (EMA, half-precision) model pickled, loaded as ultralytics loads it
    checkpoint = torch.load(weights / "best.pt", map_location="cpu", weights_only=False)
    saved = checkpoint["model"]
    report["checkpoint"] = {
        "keys": sorted(checkpoint), "model_class": type(saved).__name__,
        "dtype": str(next(saved.parameters()).dtype),
        "args_imgsz": checkpoint["train_args"]["imgsz"], "names": out(saved.names),
        "parameters": sum(p.numel() for p in saved.parameters())}
    reloaded = YOLO(str(weights / "best.pt"))
    report["checkpoint"]["task"] = reloaded.task

    # predict with the trained model on two random images (a low threshold: after two steps it
    # scores ~1e-3), beside its raw output on each (a 64x64 image is not letterboxed); the
    # five best only, whose scores are well apart (lower ones tie to float32 rounding)
    images = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    results = reloaded.predict(images, imgsz=64, conf=1e-6, max_det=5, device="cpu",
                               verbose=False)
    report["predict"] = []
    for image, result in zip(images, results):
        rgb = torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            raw = reloaded.model(rgb)[0][0]
        report["predict"].append({"xyxy": out(result.boxes.xyxy), "xywh": out(result.boxes.xywh),
                                  "conf": out(result.boxes.conf), "cls": out(result.boxes.cls),
                                  "orig_shape": list(result.orig_shape), "raw": out(raw)})
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "ultralytics_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("ultralytics"))


def test_model_from_yaml_and_its_raw_output(report):
    assert report["parameters"] == 3_157_200  # YOLOv8n with 80 classes, as its summary says
    forward = report["forward"]
    # 4 box coordinates + 80 class scores for 8x8 + 4x4 + 2x2 anchors (strides 8, 16, 32)
    assert forward["shape"] == [1, 84, 84] and 0 < forward["scores_max"] < 1
    assert [f["shape"] for f in forward["features"]] == [[1, 64, 8, 8], [1, 128, 4, 4],
                                                         [1, 256, 2, 2]]
    assert all(math.isfinite(f["sum"]) for f in forward["features"])


def _best_detection(raw: np.ndarray) -> tuple:
    """(xyxy, score, class) of the best-scoring anchor of a raw (4 + classes, anchors) output
    (xywh boxes, class probabilities): the detection NMS keeps first."""
    boxes, scores = raw[:4].T, raw[4:].T
    best = scores.max(1).argmax()
    centre, size = boxes[best, :2], boxes[best, 2:]
    return (np.concatenate([centre - size / 2, centre + size / 2]), scores[best].max(),
            scores[best].argmax())


def test_predictions_are_the_decoded_raw_outputs(report):
    for prediction in report["predict"]:
        xyxy, xywh = np.array(prediction["xyxy"]), np.array(prediction["xywh"])
        conf, cls = np.array(prediction["conf"]), np.array(prediction["cls"])
        raw = np.array(prediction["raw"])
        assert prediction["orig_shape"] == [64, 64] and raw.shape == (4 + 1, 84)
        assert len(xyxy) == 5 and xyxy.shape == (len(conf), 4) == xywh.shape
        assert np.all(np.diff(conf) <= 0) and np.all(conf >= 1e-6)
        assert np.all(cls == 0)  # the one class it was trained on
        assert np.all((xyxy >= 0) & (xyxy <= 64))  # clipped to the image
        np.testing.assert_allclose(xywh[:, :2], (xyxy[:, :2] + xyxy[:, 2:]) / 2, atol=1e-4)
        np.testing.assert_allclose(xywh[:, 2:], xyxy[:, 2:] - xyxy[:, :2], atol=1e-4)
        # a 64x64 image is not letterboxed: the first detection is the best raw box, clipped
        box, score, _ = _best_detection(raw)
        np.testing.assert_allclose(xyxy[0], np.clip(box, 0, 64), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(conf[0], score, rtol=1e-5)


def test_training_runs_an_epoch_with_finite_losses(report):
    train = report["train"]
    # 4 images in batches of 2: two steps, each with its box, class and DFL losses
    assert len(train["losses"]) == 2
    losses = np.array([[step[name] for name in ("box_loss", "cls_loss", "dfl_loss")]
                       for step in train["losses"]])
    assert np.all(np.isfinite(losses)) and np.all(losses > 0)
    assert train["saved"] == ["best.pt", "last.pt"]


def test_saved_checkpoint_reloads(report):
    checkpoint = report["checkpoint"]
    assert {"model", "train_args", "date", "version"} <= set(checkpoint["keys"])
    assert checkpoint["model_class"] == "DetectionModel" and checkpoint["task"] == "detect"
    assert checkpoint["dtype"] == "torch.float16"  # ultralytics saves its EMA in half precision
    assert checkpoint["args_imgsz"] == 64 and checkpoint["names"] == {"0": "box"}
    assert checkpoint["parameters"] == 3_011_043  # one class: its training summary's count
