"""The main job's workload on ember and on PyTorch in one run, printing ratios ember/torch:

1. LeNet-5 training steps (batch 64, 1x28x28, SGD with momentum), with the epoch time
   extrapolated to MNIST's 938 batches;
2. DataLoader throughput over a 60000 x 1 x 28 x 28 TensorDataset, batch 64, shuffled, with
   num_workers 0 and 2 (issue 5's workload).

The same code runs on both libraries: it takes the library module as an argument.
Usage: python bench/bench_training.py [--steps 40]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def lenet(lib):
    nn, F = lib.nn, lib.nn.functional

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(400, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
    return LeNet5()


def train_steps(lib, steps: int) -> float:
    lib.manual_seed(0)
    model = lenet(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = lib.randn(64, 1, 28, 28)
    y = lib.randint(0, 10, (64,))
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def loader_epoch(lib, workers: int) -> float:
    from_data = lib.utils.data
    images = lib.randn(60000, 1, 28, 28)
    labels = lib.randint(0, 10, (60000,))
    loader = from_data.DataLoader(from_data.TensorDataset(images, labels), batch_size=64,
                                  shuffle=True, num_workers=workers)
    t0 = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch

    import ember
    import ember.optim  # noqa: F401
    import ember.utils.data  # noqa: F401
    rows = []
    step = {"ember": [], "torch": []}
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        step["ember"].append(train_steps(ember, args.steps))
        step["torch"].append(train_steps(torch, args.steps))
    e, t = statistics.median(step["ember"]), statistics.median(step["torch"])
    rows.append(("LeNet-5 step, batch 64", e * 1e3, t * 1e3, "ms"))
    rows.append(("  extrapolated epoch (938 steps)", e * 938, t * 938, "s"))
    for workers in (0, 2):
        times = {"ember": [], "torch": []}
        for _ in range(args.repeat):
            times["ember"].append(loader_epoch(ember, workers))
            times["torch"].append(loader_epoch(torch, workers))
        rows.append((f"DataLoader epoch, {workers} workers", statistics.median(times["ember"]),
                     statistics.median(times["torch"]), "s"))
    print(f"{'workload':<36}{'ember':>10}{'torch':>10}  unit{'ember/torch':>13}")
    for name, ev, tv, unit in rows:
        print(f"{name:<36}{ev:10.3f}{tv:10.3f}  {unit:<4}{ev / tv:13.2f}")


if __name__ == "__main__":
    main()
