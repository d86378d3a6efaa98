"""Ranks started without an MPI launcher, as PyTorch's tutorials start them.

``python dist_worker_spawn.py MODE PORT OUTDIR``:
  ddp:   the ddp_tutorial's ``demo_basic`` (mp.spawn, MASTER_ADDR/MASTER_PORT, "gloo", one SGD
         step of DDP(ToyModel) on CPU); each rank saves its parameters to OUTDIR/rankR.npz
  tuto:  dist_tuto's ``init_process`` with mp.Process; each rank writes its all_reduce result
  fail:  rank 1 raises after init (tcp:// init_method); prints what mp.spawn raised
  abort: forked mp.Process ranks; rank 1 calls MPI_Abort while rank 0 waits for it; prints the
         exit codes
  shm:   forked mp.Process ranks (which end without MPI_Finalize); rank 0 writes the MPICH
         shared-memory segments it has mapped to OUTDIR/segments.txt
"""
import os
import sys

import numpy as np

import ember as torch
import ember.distributed as dist
import ember.multiprocessing as mp
import ember.nn as nn
import ember.optim as optim
from ember.nn.parallel import DistributedDataParallel as DDP


class ToyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.net1 = nn.Linear(10, 10)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))


def setup(rank, world_size, port):
    os.environ["MASTER_ADDR"] = "localhost"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)


def demo_basic(rank, world_size, port, out):
    setup(rank, world_size, port)
    torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    model = ToyModel().double()
    ddp_model = DDP(model)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.1)
    torch.manual_seed(100 + rank)
    inputs = torch.randn(20, 10, dtype=torch.float64)
    labels = torch.randn(20, 5, dtype=torch.float64)
    optimizer.zero_grad()
    loss_fn(ddp_model(inputs), labels).backward()
    optimizer.step()
    np.savez(os.path.join(out, f"rank{rank}.npz"),
             **{name: p.detach().numpy() for name, p in model.named_parameters()})
    dist.destroy_process_group()


def run(rank, size, out):
    tensor = torch.ones(1) * (rank + 1)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(f"{dist.get_rank()} {dist.get_world_size()} {tensor.item()}\n")


def init_process(rank, size, fn, port, out, backend="gloo"):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(backend, rank=rank, world_size=size)
    fn(rank, size, out)
    dist.destroy_process_group()


def fail(rank, world_size, port):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    if rank == 1:
        raise ValueError("rank 1 gives up")
    dist.all_reduce(torch.ones(2))  # rank 0 waits here for a rank that is gone


def abort(rank, size, out):
    from mpi4py import MPI
    if rank == 1:
        MPI.COMM_WORLD.Abort(3)
    dist.recv(torch.zeros(1), src=1)  # waits for a rank that aborts: the job must end


def segments(rank, size, out):
    dist.barrier()  # both ranks have attached to the job's segment
    if rank == 0:
        with open("/proc/self/maps") as maps, open(os.path.join(out, "segments.txt"), "w") as f:
            f.write("\n".join({line.split()[-1] for line in maps if "/dev/shm/mpich_" in line}))
    dist.barrier()


def forked(fn, port, out):
    processes = [mp.Process(target=init_process, args=(rank, 2, fn, port, out))
                 for rank in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return [p.exitcode for p in processes]


if __name__ == "__main__":
    mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
    if mode == "ddp":
        mp.spawn(demo_basic, args=(2, port, out), nprocs=2, join=True)
    elif mode == "tuto":
        mp.set_start_method("spawn")
        processes = []
        for rank in range(2):
            p = mp.Process(target=init_process, args=(rank, 2, run, port, out))
            p.start()
            processes.append(p)
        for p in processes:
            p.join()
        sys.exit(max(p.exitcode for p in processes))
    elif mode == "abort":
        print("exit codes", forked(abort, port, out))
    elif mode == "shm":
        sys.exit(max(forked(segments, port, out)))
    else:
        try:
            mp.spawn(fail, args=(2, port), nprocs=2)
        except mp.ProcessRaisedException as e:
            print(f"raised by process {e.error_index}: {e}")
