"""Training-step time of issue 3's CPU workloads on ember and on PyTorch, in one run.

Each step is zero_grad, forward, loss, backward, optimizer step. The same code builds both
models (it takes the library as an argument). Prints median ms per step and ember/torch.
Usage: python bench/bench_nn.py [--repeat 3] [--only cifar --only lenet] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def mlp(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    return model, lib.randn(128, 784), lib.randint(0, 10, (128,)), "sgd"


def lenet(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120),
                          nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return model, lib.randn(64, 1, 32, 32), lib.randint(0, 10, (64,)), "sgd"


def cifar_cnn(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4096, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, lib.randn(64, 3, 32, 32), lib.randint(0, 10, (64,)), "sgd"


def lstm_lm(lib):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10000, 256)
            self.rnn = nn.LSTM(256, 256, num_layers=2)
            self.out = nn.Linear(256, 10000)

        def forward(self, x):
            h, _ = self.rnn(self.emb(x))
            return self.out(h).reshape(-1, 10000)
    tokens = lib.randint(0, 10000, (35, 20))
    return LM(), tokens, lib.randint(0, 10000, (35 * 20,)), "sgd"


def transformer(lib, width: int = 256, heads: int = 4, seq: int = 128, batch: int = 16):
    nn = lib.nn

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(width, heads, batch_first=True)
            self.head = nn.Linear(width, 10)

        def forward(self, x):
            return self.head(self.layer(x).mean(1))
    return Enc(), lib.randn(batch, seq, width), lib.randint(0, 10, (batch,)), "adam"


WORKLOADS = [("MLP 784-256-256-10, batch 128", mlp, 20),
             ("LeNet-5 32x32, batch 64", lenet, 10),
             ("CIFAR CNN, batch 64", cifar_cnn, 4),
             ("2-layer LSTM 256, seq 35, batch 20", lstm_lm, 2),
             ("TransformerEncoderLayer 256/4, seq 128, batch 16, Adam", transformer, 2)]


def step_time(lib, build, steps: int) -> float:
    lib.manual_seed(0)
    model, x, y, opt_name = build(lib)
    opt = (lib.optim.Adam(model.parameters(), lr=1e-3) if opt_name == "adam"
           else lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    loss_fn = lib.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    # The other library's idle thread pools keep spinning on the cores after its last step
    # (OpenBLAS's for about 0.1 s): let them go to sleep first, so each library runs alone.
    time.sleep(0.25)
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the workloads whose name contains TEXT (any case); "
                             "may be given more than once")
    parser.add_argument("--threads", type=int, default=None,
                        help="run both libraries on this many threads (OpenBLAS's pool, set "
                             "before NumPy loads, and PyTorch's); default: each its own")
    args = parser.parse_args()
    only = [o.lower() for o in args.only]
    if args.threads:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import torch

    import ember
    import ember.optim  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, OpenBLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    print(f"{'workload':<56}{'ember ms':>10}{'torch ms':>10}{'ratio':>8}")
    for name, build, steps in WORKLOADS:
        if only and not any(o in name.lower() for o in only):
            continue
        times = {"ember": [], "torch": []}
        for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
            times["ember"].append(step_time(ember, build, steps))
            times["torch"].append(step_time(torch, build, steps))
        e, t = statistics.median(times["ember"]), statistics.median(times["torch"])
        print(f"{name:<56}{e * 1e3:10.2f}{t * 1e3:10.2f}{e / t:8.2f}", flush=True)


if __name__ == "__main__":
    main()
