"""Hogwild training: several processes update one LeNet-5 in shared memory, lock-free.

    python -m ember.examples.mnist_hogwild [--num-processes 2] [--epochs 1] [--data ./data]

As PyTorch's ``mnist_hogwild`` example: ``model.share_memory()`` puts the parameters in
shared memory, each process builds its own optimizer and DataLoader over the same data and
steps the shared weights; the main process then evaluates the model they trained together.
"""
from __future__ import annotations

import argparse

import ember
import ember.multiprocessing as mp
import ember.nn.functional as F
from ember.utils.data import DataLoader


def train(rank: int, args, model, dataset) -> None:
    """One hogwild worker: SGD on ``model`` (shared) over its own shuffle of ``dataset``."""
    from ember import optim
    ember.manual_seed(args.seed + rank)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    model.train()
    for _ in range(args.epochs):
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()


def run(args, model, train_set) -> None:
    """Train ``model`` (moved to shared memory) with ``args.num_processes`` processes."""
    model.share_memory()
    ctx = mp.get_context(args.start_method)
    processes = []
    for rank in range(args.num_processes):
        p = ctx.Process(target=train, args=(rank, args, model, train_set))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"hogwild worker {p.pid} failed with exit code {p.exitcode}")


def parse_args(argv: list | None = None):
    parser = argparse.ArgumentParser(description="ember MNIST hogwild example")
    parser.add_argument("--data", default="./data")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--start-method", default="fork", choices=["fork", "spawn",
                                                                   "forkserver"])
    return parser.parse_args(argv)


def main(argv: list | None = None) -> float:
    """Train with hogwild, print and return the test accuracy (in %)."""
    from ember.examples.mnist import evaluate, load_split, prepare_data
    from ember.vision.models import LeNet5
    args = parse_args(argv)
    ember.manual_seed(args.seed)
    prepare_data(args.data)
    train_set = load_split(args.data, True, args.limit_train)
    test_set = load_split(args.data, False)
    model = LeNet5(padding=2)
    run(args, model, train_set)
    loss, accuracy = evaluate(model, DataLoader(test_set, batch_size=1000))
    print(f"hogwild ({args.num_processes} processes): test loss {loss:.4f}, "
          f"accuracy {accuracy:.2f}%")
    return accuracy


if __name__ == "__main__":
    main()
