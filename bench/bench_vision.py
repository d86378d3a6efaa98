"""torchvision workloads on ember.vision and on real torchvision (under PyTorch) in one run,
printing ratios ember/torch:

1. ResNet-18 inference, batch 8 x 3 x 224 x 224;
2. a RetinaNet-ResNet50-FPN training step (two 256 x 256 images with boxes, SGD): the
   detection transform, anchors, matching, focal and box losses, backbone and heads forward
   and backward (no NMS or RoIAlign, whose compiled torchvision kernels do not load on a CPU
   PyTorch: tests/conformance/real_torchvision.py stands in Python kernels, which would time
   the stand-ins);
3. a transforms.v2 detection pipeline per sample (photometric distort, zoom out, IoU crop,
   flip, resize, sanitize) on a 3 x 300 x 400 uint8 image with 8 boxes.

The same code runs on both libraries: it takes the (torch, torchvision) pair as arguments.
Usage: python bench/bench_vision.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def resnet_inference(lib, vision, repeat: int) -> float:
    lib.manual_seed(0)
    model = vision.models.resnet18().eval()
    x = lib.randn(8, 3, 224, 224)

    def run():
        with lib.no_grad():
            model(x)
    return best_time(run, repeat)


def retinanet_step(lib, vision, repeat: int) -> float:
    lib.manual_seed(0)
    model = vision.models.detection.retinanet_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=5, min_size=256, max_size=256).train()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01)
    images = [lib.rand(3, 256, 256) for _ in range(2)]
    targets = [{"boxes": lib.tensor([[10.0, 20.0, 100.0, 120.0], [50.0, 60.0, 200.0, 230.0]]),
                "labels": lib.tensor([1, 3])} for _ in range(2)]

    def run():
        loss = sum(model(images, targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return best_time(run, repeat)


def detection_pipeline(lib, vision, repeat: int, samples: int = 20) -> float:
    v2, tv_tensors = vision.transforms.v2, vision.tv_tensors
    pipeline = v2.Compose([v2.RandomPhotometricDistort(p=1.0), v2.RandomZoomOut(fill=0),
                           v2.RandomIoUCrop(), v2.RandomHorizontalFlip(p=1.0),
                           v2.Resize((320, 320)), v2.SanitizeBoundingBoxes(),
                           v2.ToDtype(lib.float32, scale=True)])
    lib.manual_seed(0)
    image = tv_tensors.Image(lib.randint(0, 256, (3, 300, 400), dtype=lib.uint8))
    corners = lib.rand(8, 2) * lib.tensor([300.0, 200.0])
    boxes = tv_tensors.BoundingBoxes(lib.cat([corners, corners + 40], 1), format="XYXY",
                                     canvas_size=(300, 400))
    labels = lib.arange(8)

    def run():
        lib.manual_seed(1)
        for _ in range(samples):
            pipeline(image, {"boxes": boxes, "labels": labels})
    return best_time(run, repeat) / samples


WORKLOADS = {"resnet18 inference (batch 8, 224 px)": resnet_inference,
             "RetinaNet-R50-FPN train step (2 x 256 px)": retinanet_step,
             "v2 detection pipeline (per sample)": detection_pipeline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch

    import ember
    import ember.vision.transforms.v2  # noqa: F401
    from tests.conformance.real_torchvision import load
    load()  # real torchvision, its compiled ops stood in for
    import torchvision
    import torchvision.transforms.v2  # noqa: F401
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'workload':46s} {'ember':>10s} {'torch':>10s} {'ratio':>7s}")
    ratios = []
    for name, workload in WORKLOADS.items():
        ours = workload(ember, ember.vision, args.repeat)
        theirs = workload(torch, torchvision, args.repeat)
        ratios.append(ours / theirs)
        print(f"{name:46s} {ours * 1e3:8.1f}ms {theirs * 1e3:8.1f}ms {ours / theirs:6.2f}x")
    print(f"geometric mean ratio: {statistics.geometric_mean(ratios):.2f}x")


if __name__ == "__main__":
    main()
