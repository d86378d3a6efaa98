"""Acceptance: "Combining Distributed DataParallel with Distributed RPC Framework", run by real
processes on ember.

Source (BSD-3-Clause): pytorch/tutorials advanced_source/rpc_ddp_tutorial.rst, which is
pytorch/examples distributed/rpc/ddp_rpc/main.py: a master, a parameter server holding an
``nn.EmbeddingBag`` as a ``RemoteModule``, and two trainers whose DDP-wrapped ``nn.Linear``
(on a process group of the two trainers alone, next to RPC's world of four) trains with the
remote embedding through distributed autograd and a ``DistributedOptimizer``. The code is
kept verbatim but for the substitutions listed, all of them:
- Ports ``29500`` (the trainers' process group) and ``29501`` (RPC) -> free ports.
- Devices (PyTorch without CUDA refuses them as ember does): ``.cuda(device)``,
  ``.cuda(self.device)`` and ``.cuda(rank)`` -> nothing, ``device_ids=[device]`` -> none.
- The trainers call ``init_process_group`` after ``init_rpc`` rather than before: ember's
  process group and RPC share one MPI world, which ``init_rpc`` (all four processes) starts;
  the trainers' group is then made inside it (NOTE [ A process group inside a larger world ]).
  So that no trainer runs ``_run_trainer`` before its group exists, the master first asks each
  trainer ``dist.is_initialized`` until it says so.
- Sizes: 100 epochs -> 2, 10 batches per epoch -> 3.
- The epoch's line also prints the trainer's name, its DDP layer's weight norm and first bias
  (the check: DDP averages the gradients in the distributed-autograd context, so both
  trainers, which draw different batches, keep equal parameters).
"""
# The example's code is kept verbatim, long lines included.
# ruff: noqa: E501

import importlib.util
import re
import shutil

import pytest
from test_pytorch_examples_rpc import free_port, run_example, substitute

pytestmark = pytest.mark.skipif(
    shutil.which("mpiexec") is None or importlib.util.find_spec("mpi4py") is None,
    reason="mpi4py or mpiexec is not installed (pip install mpi4py mpich)")

DDP_RPC_MAIN = '''import random

import torch
import torch.distributed as dist
import torch.distributed.autograd as dist_autograd
import torch.distributed.rpc as rpc
import torch.multiprocessing as mp
import torch.optim as optim
from torch.distributed.nn import RemoteModule
from torch.distributed.optim import DistributedOptimizer
from torch.distributed.rpc import RRef
from torch.distributed.rpc import TensorPipeRpcBackendOptions
from torch.nn.parallel import DistributedDataParallel as DDP

NUM_EMBEDDINGS = 100
EMBEDDING_DIM = 16


class HybridModel(torch.nn.Module):
    r"""
    The model consists of a sparse part and a dense part.
    1) The dense part is an nn.Linear module that is replicated across all trainers using DistributedDataParallel.
    2) The sparse part is a Remote Module that holds an nn.EmbeddingBag on the parameter server.
    This remote model can get a Remote Reference to the embedding table on the parameter server.
    """

    def __init__(self, remote_emb_module, device):
        super(HybridModel, self).__init__()
        self.remote_emb_module = remote_emb_module
        self.fc = DDP(torch.nn.Linear(16, 8).cuda(device), device_ids=[device])
        self.device = device

    def forward(self, indices, offsets):
        emb_lookup = self.remote_emb_module.forward(indices, offsets)
        return self.fc(emb_lookup.cuda(self.device))


def _run_trainer(remote_emb_module, rank):
    r"""
    Each trainer runs a forward pass which involves an embedding lookup on the
    parameter server and running nn.Linear locally. During the backward pass,
    DDP is responsible for aggregating the gradients for the dense part
    (nn.Linear) and distributed autograd ensures gradients updates are
    propagated to the parameter server.
    """

    # Setup the model.
    model = HybridModel(remote_emb_module, rank)

    # Retrieve all model parameters as rrefs for DistributedOptimizer.

    # Retrieve parameters for embedding table.
    model_parameter_rrefs = model.remote_emb_module.remote_parameters()

    # model.fc.parameters() only includes local parameters.
    # NOTE: Cannot call model.parameters() here,
    # because this will call remote_emb_module.parameters(),
    # which supports remote_parameters() but not parameters().
    for param in model.fc.parameters():
        model_parameter_rrefs.append(RRef(param))

    # Setup distributed optimizer
    opt = DistributedOptimizer(optim.SGD, model_parameter_rrefs, lr=0.05,)

    criterion = torch.nn.CrossEntropyLoss()

    def get_next_batch(rank):
        for _ in range(10):
            num_indices = random.randint(20, 50)
            indices = torch.LongTensor(num_indices).random_(0, NUM_EMBEDDINGS)

            # Generate offsets.
            offsets = []
            start = 0
            batch_size = 0
            while start < num_indices:
                offsets.append(start)
                start += random.randint(1, 10)
                batch_size += 1

            offsets_tensor = torch.LongTensor(offsets)
            target = torch.LongTensor(batch_size).random_(8).cuda(rank)
            yield indices, offsets_tensor, target

    # Train for 100 epochs
    for epoch in range(100):
        # create distributed autograd context
        for indices, offsets, target in get_next_batch(rank):
            with dist_autograd.context() as context_id:
                output = model(indices, offsets)
                loss = criterion(output, target)

                # Run distributed backward pass
                dist_autograd.backward(context_id, [loss])

                # Tun distributed optimizer
                opt.step(context_id)

                # Not necessary to zero grads as each iteration creates a different
                # distributed autograd context which hosts different grads
        print("Training done for epoch {}".format(epoch))


def run_worker(rank, world_size):
    r"""
    A wrapper function that initializes RPC, calls the function, and shuts down
    RPC.
    """

    # We need to use different port numbers in TCP init_method for init_rpc and
    # init_process_group to avoid port conflicts.
    rpc_backend_options = TensorPipeRpcBackendOptions()
    rpc_backend_options.init_method = "tcp://localhost:29501"

    # Rank 2 is master, 3 is ps and 0 and 1 are trainers.
    if rank == 2:
        rpc.init_rpc(
            "master",
            rank=rank,
            world_size=world_size,
            rpc_backend_options=rpc_backend_options,
        )

        remote_emb_module = RemoteModule(
            "ps",
            torch.nn.EmbeddingBag,
            args=(NUM_EMBEDDINGS, EMBEDDING_DIM),
            kwargs={"mode": "sum"},
        )

        # Run the training loop on trainers.
        futs = []
        for trainer_rank in [0, 1]:
            trainer_name = "trainer{}".format(trainer_rank)
            fut = rpc.rpc_async(
                trainer_name, _run_trainer, args=(remote_emb_module, rank)
            )
            futs.append(fut)

        # Wait for all training to finish.
        for fut in futs:
            fut.wait()
    elif rank <= 1:
        # Initialize process group for Distributed DataParallel on trainers.
        dist.init_process_group(
            backend="gloo", rank=rank, world_size=2, init_method="tcp://localhost:29500"
        )

        # Initialize RPC.
        trainer_name = "trainer{}".format(rank)
        rpc.init_rpc(
            trainer_name,
            rank=rank,
            world_size=world_size,
            rpc_backend_options=rpc_backend_options,
        )

        # Trainer just waits for RPCs from master.
    else:
        rpc.init_rpc(
            "ps",
            rank=rank,
            world_size=world_size,
            rpc_backend_options=rpc_backend_options,
        )
        # parameter server do nothing
        pass

    # block until all rpcs finish
    rpc.shutdown()


if __name__ == "__main__":
    # 2 trainers, 1 parameter server, 1 master.
    world_size = 4
    mp.spawn(run_worker, args=(world_size,), nprocs=world_size, join=True)
'''

PG_THEN_RPC = '''        # Initialize process group for Distributed DataParallel on trainers.
        dist.init_process_group(
            backend="gloo", rank=rank, world_size=2, init_method="tcp://localhost:29500"
        )

        # Initialize RPC.
        trainer_name = "trainer{}".format(rank)
        rpc.init_rpc(
            trainer_name,
            rank=rank,
            world_size=world_size,
            rpc_backend_options=rpc_backend_options,
        )
'''
RPC_THEN_PG = '''        # Initialize RPC.
        trainer_name = "trainer{}".format(rank)
        rpc.init_rpc(
            trainer_name,
            rank=rank,
            world_size=world_size,
            rpc_backend_options=rpc_backend_options,
        )

        # Initialize process group for Distributed DataParallel on trainers.
        dist.init_process_group(
            backend="gloo", rank=rank, world_size=2, init_method="tcp://localhost:29500"
        )
'''

WAIT_FOR_TRAINERS_GROUP = """        # Run the training loop on trainers.
        for trainer_rank in [0, 1]:
            while not rpc.rpc_sync("trainer{}".format(trainer_rank), dist.is_initialized):
                pass
"""


def test_ddp_with_rpc_tutorial(tmp_path):
    code = substitute(
        DDP_RPC_MAIN, (PG_THEN_RPC, RPC_THEN_PG, 1), ("29500", str(free_port()), 1),
        ("29501", str(free_port()), 1),
        ("DDP(torch.nn.Linear(16, 8).cuda(device), device_ids=[device])",
         "DDP(torch.nn.Linear(16, 8))", 1),
        ("emb_lookup.cuda(self.device)", "emb_lookup", 1), (".random_(8).cuda(rank)", ".random_(8)", 1),
        ("        # Run the training loop on trainers.\n", WAIT_FOR_TRAINERS_GROUP, 1),
        ("for epoch in range(100):", "for epoch in range(2):", 1),
        ("for _ in range(10):", "for _ in range(3):", 1),
        ('print("Training done for epoch {}".format(epoch))',
         'print("Training done for epoch {} {} {!r} {!r}".format(epoch, rpc.get_worker_info().name, '
         'model.fc.module.weight.norm().item(), model.fc.module.bias[0].item()))', 1))
    out = run_example(tmp_path, {"main.py": code}, "main.py", timeout=120)
    # (one print per line, but the trainers' lines may interleave with the newlines)
    said = sorted(re.findall(r"Training done for epoch (\d) (trainer\d) ([-0-9.e]+) ([-0-9.e]+)", out))
    assert [s[:2] for s in said] == [(f"{e}", f"trainer{t}") for e in (0, 1) for t in (0, 1)], out
    layer = [s[2:] for s in said]
    assert layer[0] != layer[2], out  # the layer trained
    assert layer[0] == layer[1] and layer[2] == layer[3], out  # and stayed equal on both trainers
