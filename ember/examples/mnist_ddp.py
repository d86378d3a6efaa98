"""Train LeNet-5 on MNIST data-parallel, one process per rank, launched by MPI.

    mpiexec -n 2 python -m ember.examples.mnist_ddp [--epochs 1] [--limit-train 2000]
                                                    [--batch-size 64] [--backend mpi] ...

Each rank reads its shard of the training set (``DistributedSampler``) and trains a replica
wrapped in ``DistributedDataParallel``, which averages the gradients, so the replicas stay
equal; one step sees ``batch-size`` images per rank. The data, the loss and the evaluation
are ``ember.examples.mnist``'s. Rank 0 evaluates, prints, and writes the checkpoint
(the unwrapped model's state_dict) to ``--out``.
"""
from __future__ import annotations

import os
import time

import ember
import ember.distributed as dist
from ember.examples.mnist import evaluate, load_split, prepare_data, train_epoch, training_parser
from ember.nn.parallel import DistributedDataParallel
from ember.utils.data import DataLoader, DistributedSampler
from ember.vision.models import LeNet5


def main(argv: list | None = None) -> list:
    """Parse options, train on every rank, and return the per-epoch history (on every rank)."""
    parser = training_parser("Train LeNet-5 on MNIST with ember, data-parallel (launch with "
                             "mpiexec -n N)", 1, "./mnist-ddp-run", "images per rank and step")
    parser.add_argument("--backend", default="mpi", help="mpi (or gloo), nccl")
    args = parser.parse_args(argv)

    from ember import optim
    dist.init_process_group(args.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if rank == 0:
        prepare_data(args.data)  # links files in: once, before anyone reads them
    dist.barrier()
    ember.manual_seed(args.seed)
    train_set = load_split(args.data, True, args.limit_train)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    test_loader = DataLoader(load_split(args.data, False, args.limit_test),
                             batch_size=args.test_batch_size)

    # MPI moves host memory; NCCL moves GPU memory, so only the NCCL run trains on the GPU.
    device = args.device if args.backend == "nccl" else "cpu"
    model = DistributedDataParallel(LeNet5(padding=2).to(device))
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    if rank == 0:
        print(f"LeNet-5 on MNIST over {world} ranks ({dist.get_backend()}): {len(train_set)} "
              f"training images, {len(sampler)} per rank, batch {args.batch_size} per rank",
              flush=True)
    history = []
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        start = time.perf_counter()
        local = train_epoch(model, train_loader, optimizer, epoch,
                            progress=rank == 0 and not args.no_progress, device=device)
        seconds = time.perf_counter() - start
        train_loss = ember.tensor([local], dtype=ember.float64)
        dist.all_reduce(train_loss, op=dist.ReduceOp.AVG)
        entry = {"epoch": epoch, "train_loss": train_loss.item(), "seconds": seconds}
        if rank == 0:
            entry["test_loss"], entry["test_acc"] = evaluate(model.module, test_loader, device)
            print(f"epoch {epoch}: train loss {entry['train_loss']:.4f}, test loss "
                  f"{entry['test_loss']:.4f}, test accuracy {entry['test_acc']:.2f}%, "
                  f"{seconds:.1f} s", flush=True)
        history.append(entry)

    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        checkpoint = os.path.join(args.out, "lenet5_mnist_ddp.pt")
        ember.save(model.module.state_dict(), checkpoint)
        print(f"checkpoint: {checkpoint}", flush=True)
    dist.destroy_process_group()
    return history


if __name__ == "__main__":
    main()
