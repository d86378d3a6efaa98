"""Acceptance: the distributed tutorials' code, run by real processes on ember (CPU, "gloo").

Sources (pytorch/tutorials, BSD-3-Clause), code blocks kept verbatim:
- intermediate_source/dist_tuto.rst ("Writing Distributed Applications with PyTorch"): the
  ``run.py`` template (``mp.Process`` per rank, ``init_process`` with MASTER_ADDR/MASTER_PORT),
  blocking and non-blocking point-to-point, the all-reduce in a ``new_group``, the partitioned
  MNIST distributed SGD with ``average_gradients`` and the hand-written ring ``allreduce``;
  and from the tutorial's earlier text (00683b5) the template that forks its ranks
  (``Process`` with the default start method) with the all-reduce cell that spells
  ``dist.reduce_op.SUM``.
- intermediate_source/ddp_tutorial.rst ("Getting Started with Distributed Data Parallel"):
  ``demo_basic`` and ``demo_checkpoint`` under ``mp.spawn``, and ``elastic_ddp.py`` launched
  as ``torchrun --nproc_per_node=2`` (``python -m ember.distributed.run``). ``demo_model_parallel``
  needs two GPUs per process and is not run.
- advanced_source/generic_join.rst: ``Join`` over DDP, over DDP + ``ZeroRedundancyOptimizer``,
  and the tutorial's own ``Counter`` joinable.

A tutorial cell that redefines a function of an earlier one goes before that earlier cell's
``if __name__ == "__main__":`` block (the reader replaces the function; the text is unchanged).
Substitutions, all of them:
- MASTER_PORT ``'29500'`` / ``'12355'`` -> a free port (tests may run side by side).
- dist_tuto's SGD: ``bsz = 128 / float(size)`` -> ``bsz = 128 // size``, as the tutorial's
  linked script (seba-1511/dist_tuto.pth train_dist.py) has it: a float ``batch_size`` is a
  ValueError in PyTorch's DataLoader (checked here too). The tutorial names ``Net`` and its
  imports without giving them: they come from that script, verbatim. MNIST is a small generated
  one on disk (``write_mnist``).
- dist_tuto's ring ``allreduce`` has no driver in the tutorial: a ``run`` of ours calls it, with
  ``size = 3`` in the template's main block so that the ring passes twice. Nor do the other
  collectives it lists (broadcast, reduce, scatter, gather, all_gather, barrier): a ``run`` of
  ours calls each with the arguments in the order the list gives them.
- ddp_tutorial / generic_join, devices only: ``.to(rank)`` -> ``.to("cpu")``,
  ``device_ids=[rank]`` (or ``[device_id]``) -> ``device_ids=None`` (PyTorch refuses device ids
  for CPU modules), ``"nccl"`` -> ``"gloo"`` (the tutorials' own setup uses "gloo" on CPU),
  ``device_id = rank % torch.cuda.device_count()`` -> ``device_id = "cpu"``,
  ``torch.device(f"cuda:{rank}")`` -> ``torch.device("cpu")`` and the Counter worker's
  ``assert torch.cuda.device_count() >= WORLD_SIZE`` is dropped. The ddp_tutorial's main
  block counts GPUs: ours runs its ``run_demo(demo_basic, ...)`` and
  ``run_demo(demo_checkpoint, ...)`` with ``world_size = 2``.
- An observer goes before the tutorial's code (``OBSERVER``): a global optimizer step
  post-hook that saves each rank's parameters, so that the test can compare them.

Oracles: one process replaying the ranks (the averaged gradient is the full-batch one), the
outputs the tutorials print, and (test_tutorials_s12_distributed_vs_torch.py) real PyTorch.
"""
# The tutorials' code is kept verbatim, long lines included.
# ruff: noqa: E501

import copy
import importlib.util
import math
import os
import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from acceptance_runner import _ENTRY, run, write_mnist

import ember

needs_mpi = pytest.mark.skipif(
    shutil.which("mpiexec") is None or importlib.util.find_spec("mpi4py") is None,
    reason="mpi4py or mpiexec is not installed (pip install mpi4py mpich)")

# ---------------------------------------------------------------- dist_tuto.rst
TEMPLATE = '''
"""run.py:"""
#!/usr/bin/env python
import os
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

def run(rank, size):
    """ Distributed function to be implemented later. """
    pass

def init_process(rank, size, fn, backend='gloo'):
    """ Initialize the distributed environment. """
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = '29500'
    dist.init_process_group(backend, rank=rank, world_size=size)
    fn(rank, size)


if __name__ == "__main__":
    size = 2
    processes = []
    mp.set_start_method("spawn")
    for rank in range(size):
        p = mp.Process(target=init_process, args=(rank, size, run))
        p.start()
        processes.append(p)

    for p in processes:
        p.join()
'''

# The tutorial's earlier text (pytorch/tutorials 00683b5): ranks forked by
# ``torch.multiprocessing.Process`` without a start method, and ``dist.reduce_op``.
TEMPLATE_FORK = '''
"""run.py:"""
#!/usr/bin/env python
import os
import torch
import torch.distributed as dist
from torch.multiprocessing import Process

def run(rank, size):
    """ Distributed function to be implemented later. """
    pass

def init_process(rank, size, fn, backend='gloo'):
    """ Initialize the distributed environment. """
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = '29500'
    dist.init_process_group(backend, rank=rank, world_size=size)
    fn(rank, size)


if __name__ == "__main__":
    size = 2
    processes = []
    for rank in range(size):
        p = Process(target=init_process, args=(rank, size, run))
        p.start()
        processes.append(p)

    for p in processes:
        p.join()
'''

ALL_REDUCE_FORK = '''
""" All-Reduce example."""
def run(rank, size):
    """ Simple point-to-point communication. """
    group = dist.new_group([0, 1])
    tensor = torch.ones(1)
    dist.all_reduce(tensor, op=dist.reduce_op.SUM, group=group)
    print('Rank ', rank, ' has data ', tensor[0])
'''

BLOCKING = '''
"""Blocking point-to-point communication."""

def run(rank, size):
    tensor = torch.zeros(1)
    if rank == 0:
        tensor += 1
        # Send the tensor to process 1
        dist.send(tensor=tensor, dst=1)
    else:
        # Receive tensor from process 0
        dist.recv(tensor=tensor, src=0)
    print('Rank ', rank, ' has data ', tensor[0])
'''

NON_BLOCKING = '''
"""Non-blocking point-to-point communication."""

def run(rank, size):
    tensor = torch.zeros(1)
    req = None
    if rank == 0:
        tensor += 1
        # Send the tensor to process 1
        req = dist.isend(tensor=tensor, dst=1)
        print('Rank 0 started sending')
    else:
        # Receive tensor from process 0
        req = dist.irecv(tensor=tensor, src=0)
        print('Rank 1 started receiving')
    req.wait()
    print('Rank ', rank, ' has data ', tensor[0])
'''

ALL_REDUCE = '''
""" All-Reduce example."""
def run(rank, size):
    """ Simple collective communication. """
    group = dist.new_group([0, 1])
    tensor = torch.ones(1)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
    print('Rank ', rank, ' has data ', tensor[0])
'''

# Ours: the tutorial lists the other collectives with their arguments but gives no code; each
# is called here in the order the list gives the arguments.
COLLECTIVES_DRIVER = '''
def run(rank, size):
    out = []
    tensor = torch.tensor([float(rank + 1)])
    dist.broadcast(tensor, 0)
    out.append(tensor.item())
    tensor = torch.tensor([float(rank + 1)])
    dist.reduce(tensor, 0, dist.ReduceOp.PRODUCT)
    out.append(tensor.item() if rank == 0 else None)
    tensor = torch.tensor([float(rank + 1)])
    dist.all_reduce(tensor, dist.ReduceOp.MAX)
    out.append(tensor.item())
    tensor = torch.zeros(1)
    dist.scatter(tensor, [torch.tensor([10.0 * i]) for i in range(size)] if rank == 0 else None, 0)
    out.append(tensor.item())
    gather_list = [torch.zeros(1) for _ in range(size)] if rank == 0 else None
    dist.gather(torch.tensor([float(rank)]), gather_list, 0)
    out.append([t.item() for t in gather_list] if rank == 0 else None)
    tensor_list = [torch.zeros(1) for _ in range(size)]
    dist.all_gather(tensor_list, torch.tensor([2.0 * rank]))
    out.append([t.item() for t in tensor_list])
    dist.barrier()
    print('Rank ', rank, ' collectives ', out)
'''

# The imports and Net of the tutorial's linked script (seba-1511/dist_tuto.pth train_dist.py).
SGD_IMPORTS = '''
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from math import ceil
from random import Random
from torchvision import datasets, transforms
'''

NET = '''
class Net(nn.Module):
    """ Network architecture. """

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x)
'''

PARTITION = '''
""" Dataset partitioning helper """
class Partition(object):

    def __init__(self, data, index):
        self.data = data
        self.index = index

    def __len__(self):
        return len(self.index)

    def __getitem__(self, index):
        data_idx = self.index[index]
        return self.data[data_idx]


class DataPartitioner(object):

    def __init__(self, data, sizes=[0.7, 0.2, 0.1], seed=1234):
        self.data = data
        self.partitions = []
        rng = Random()
        rng.seed(seed)
        data_len = len(data)
        indexes = [x for x in range(0, data_len)]
        rng.shuffle(indexes)

        for frac in sizes:
            part_len = int(frac * data_len)
            self.partitions.append(indexes[0:part_len])
            indexes = indexes[part_len:]

    def use(self, partition):
        return Partition(self.data, self.partitions[partition])
'''

PARTITION_MNIST = '''
""" Partitioning MNIST """
def partition_dataset():
    dataset = datasets.MNIST('./data', train=True, download=True,
                             transform=transforms.Compose([
                                 transforms.ToTensor(),
                                 transforms.Normalize((0.1307,), (0.3081,))
                             ]))
    size = dist.get_world_size()
    bsz = 128 / float(size)
    partition_sizes = [1.0 / size for _ in range(size)]
    partition = DataPartitioner(dataset, partition_sizes)
    partition = partition.use(dist.get_rank())
    train_set = torch.utils.data.DataLoader(partition,
                                         batch_size=bsz,
                                         shuffle=True)
    return train_set, bsz
'''

SGD = '''
""" Distributed Synchronous SGD Example """
def run(rank, size):
    torch.manual_seed(1234)
    train_set, bsz = partition_dataset()
    model = Net()
    optimizer = optim.SGD(model.parameters(),
                          lr=0.01, momentum=0.5)

    num_batches = ceil(len(train_set.dataset) / float(bsz))
    for epoch in range(10):
        epoch_loss = 0.0
        for data, target in train_set:
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            epoch_loss += loss.item()
            loss.backward()
            average_gradients(model)
            optimizer.step()
        print('Rank ', dist.get_rank(), ', epoch ',
              epoch, ': ', epoch_loss / num_batches)
'''

AVERAGE_GRADIENTS = '''
""" Gradient averaging. """
def average_gradients(model):
    size = float(dist.get_world_size())
    for param in model.parameters():
        dist.all_reduce(param.grad.data, op=dist.ReduceOp.SUM)
        param.grad.data /= size
'''

RING = '''
""" Implementation of a ring-reduce with addition. """
def allreduce(send, recv):
   rank = dist.get_rank()
   size = dist.get_world_size()
   send_buff = send.clone()
   recv_buff = send.clone()
   accum = send.clone()

   left = ((rank - 1) + size) % size
   right = (rank + 1) % size

   for i in range(size - 1):
       if i % 2 == 0:
           # Send send_buff
           send_req = dist.isend(send_buff, right)
           dist.recv(recv_buff, left)
           accum[:] += recv_buff[:]
       else:
           # Send recv_buff
           send_req = dist.isend(recv_buff, right)
           dist.recv(send_buff, left)
           accum[:] += send_buff[:]
       send_req.wait()
   recv[:] = accum[:]
'''

# Ours: the tutorial gives the ring without a caller.
RING_DRIVER = '''
def run(rank, size):
    send = torch.arange(4.0) * (rank + 1)
    recv = torch.zeros(4)
    allreduce(send, recv)
    print('Rank ', rank, ' ring sum ', recv.tolist())
'''

# ---------------------------------------------------------------- ddp_tutorial.rst
DDP_SETUP = '''
import os
import sys
import tempfile
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim
import torch.multiprocessing as mp

from torch.nn.parallel import DistributedDataParallel as DDP

# On Windows platform, the torch.distributed package only
# supports Gloo backend, FileStore and TcpStore.
# For FileStore, set init_method parameter in init_process_group
# to a local file. Example as follow:
# init_method="file:///f:/libtmp/some_file"
# dist.init_process_group(
#    "gloo",
#    rank=rank,
#    init_method=init_method,
#    world_size=world_size)
# For TcpStore, same way as on Linux.

def setup(rank, world_size):
    os.environ['MASTER_ADDR'] = 'localhost'
    os.environ['MASTER_PORT'] = '12355'

    # initialize the process group
    dist.init_process_group("gloo", rank=rank, world_size=world_size)

def cleanup():
    dist.destroy_process_group()
'''

DDP_BASIC = '''
class ToyModel(nn.Module):
    def __init__(self):
        super(ToyModel, self).__init__()
        self.net1 = nn.Linear(10, 10)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))


def demo_basic(rank, world_size):
    print(f"Running basic DDP example on rank {rank}.")
    setup(rank, world_size)

    # create model and move it to GPU with id rank
    model = ToyModel().to(rank)
    ddp_model = DDP(model, device_ids=[rank])

    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.001)

    optimizer.zero_grad()
    outputs = ddp_model(torch.randn(20, 10))
    labels = torch.randn(20, 5).to(rank)
    loss_fn(outputs, labels).backward()
    optimizer.step()

    cleanup()


def run_demo(demo_fn, world_size):
    mp.spawn(demo_fn,
             args=(world_size,),
             nprocs=world_size,
             join=True)
'''

DDP_CHECKPOINT = '''
def demo_checkpoint(rank, world_size):
    print(f"Running DDP checkpoint example on rank {rank}.")
    setup(rank, world_size)

    model = ToyModel().to(rank)
    ddp_model = DDP(model, device_ids=[rank])


    CHECKPOINT_PATH = tempfile.gettempdir() + "/model.checkpoint"
    if rank == 0:
        # All processes should see same parameters as they all start from same
        # random parameters and gradients are synchronized in backward passes.
        # Therefore, saving it in one process is sufficient.
        torch.save(ddp_model.state_dict(), CHECKPOINT_PATH)

    # Use a barrier() to make sure that process 1 loads the model after process
    # 0 saves it.
    dist.barrier()
    # configure map_location properly
    map_location = {'cuda:%d' % 0: 'cuda:%d' % rank}
    ddp_model.load_state_dict(
        torch.load(CHECKPOINT_PATH, map_location=map_location))

    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.001)

    optimizer.zero_grad()
    outputs = ddp_model(torch.randn(20, 10))
    labels = torch.randn(20, 5).to(rank)

    loss_fn(outputs, labels).backward()
    optimizer.step()

    # Not necessary to use a dist.barrier() to guard the file deletion below
    # as the AllReduce ops in the backward pass of DDP already served as
    # a synchronization.

    if rank == 0:
        os.remove(CHECKPOINT_PATH)

    cleanup()
'''

# Ours: the tutorial's main block, without its count of GPUs (it needs two).
DDP_MAIN = '''
if __name__ == "__main__":
    world_size = 2
    run_demo(demo_basic, world_size)
    run_demo(demo_checkpoint, world_size)
'''

ELASTIC_DDP = '''
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim

from torch.nn.parallel import DistributedDataParallel as DDP

class ToyModel(nn.Module):
    def __init__(self):
        super(ToyModel, self).__init__()
        self.net1 = nn.Linear(10, 10)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))


def demo_basic():
    dist.init_process_group("nccl")
    rank = dist.get_rank()
    print(f"Start running basic DDP example on rank {rank}.")

    # create model and move it to GPU with id rank
    device_id = rank % torch.cuda.device_count()
    model = ToyModel().to(device_id)
    ddp_model = DDP(model, device_ids=[device_id])

    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(ddp_model.parameters(), lr=0.001)

    optimizer.zero_grad()
    outputs = ddp_model(torch.randn(20, 10))
    labels = torch.randn(20, 5).to(device_id)
    loss_fn(outputs, labels).backward()
    optimizer.step()

if __name__ == "__main__":
    demo_basic()
'''

# ---------------------------------------------------------------- generic_join.rst
JOIN_DDP = '''
import os
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.algorithms.join import Join
from torch.nn.parallel import DistributedDataParallel as DDP

BACKEND = "nccl"
WORLD_SIZE = 2
NUM_INPUTS = 5

def worker(rank):
    os.environ['MASTER_ADDR'] = 'localhost'
    os.environ['MASTER_PORT'] = '29500'
    dist.init_process_group(BACKEND, rank=rank, world_size=WORLD_SIZE)

    model = DDP(torch.nn.Linear(1, 1).to(rank), device_ids=[rank])
    # Rank 1 gets one more input than rank 0
    inputs = [torch.tensor([1]).float() for _ in range(NUM_INPUTS + rank)]

    num_inputs = 0
    with Join([model]):
        for input in inputs:
            num_inputs += 1
            loss = model(input).sum()
            loss.backward()

    print(f"Rank {rank} has exhausted all {num_inputs} of its inputs!")

def main():
    mp.spawn(worker, nprocs=WORLD_SIZE, join=True)

if __name__ == "__main__":
    main()
'''

JOIN_ZERO = '''
from torch.distributed.optim import ZeroRedundancyOptimizer as ZeRO
from torch.optim import Adam

def worker(rank):
    os.environ['MASTER_ADDR'] = 'localhost'
    os.environ['MASTER_PORT'] = '29500'
    dist.init_process_group(BACKEND, rank=rank, world_size=WORLD_SIZE)

    model = DDP(torch.nn.Linear(1, 1).to(rank), device_ids=[rank])
    optim = ZeRO(model.parameters(), Adam, lr=0.01)
    # Rank 1 gets one more input than rank 0
    inputs = [torch.tensor([1]).float() for _ in range(NUM_INPUTS + rank)]

    num_inputs = 0
    # Pass both `model` and `optim` into `Join()`
    with Join([model, optim]):
        for input in inputs:
            num_inputs += 1
            loss = model(input).sum()
            loss.backward()
            optim.step()

    print(f"Rank {rank} has exhausted all {num_inputs} of its inputs!")
'''

JOIN_COUNTER = '''
import os
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.algorithms.join import Join, Joinable, JoinHook

BACKEND = "nccl"
WORLD_SIZE = 2
NUM_INPUTS = 5

class CounterJoinHook(JoinHook):
    r"""
    Join hook for :class:`Counter`.

    Arguments:
        counter (Counter): the :class:`Counter` object using this hook.
        sync_max_count (bool): whether to sync the max count once all ranks
            join.
    """
    def __init__(
        self,
        counter,
        sync_max_count
    ):
        self.counter = counter
        self.sync_max_count = sync_max_count

    def main_hook(self):
        r"""
        Shadows the counter's all-reduce by all-reducing a dim-1 zero tensor.
        """
        t = torch.zeros(1, device=self.counter.device)
        dist.all_reduce(t)

    def post_hook(self, is_last_joiner: bool):
        r"""
        Synchronizes the max count across all :class:`Counter` s if
        ``sync_max_count=True``.
        """
        if not self.sync_max_count:
            return
        rank = dist.get_rank(self.counter.process_group)
        common_rank = self.counter.find_common_rank(rank, is_last_joiner)
        if rank == common_rank:
            self.counter.max_count = self.counter.count.detach().clone()
        dist.broadcast(self.counter.max_count, src=common_rank)

class Counter(Joinable):
    r"""
    Example :class:`Joinable` that counts the number of training iterations
    that it participates in.
    """
    def __init__(self, device, process_group):
        super(Counter, self).__init__()
        self.device = device
        self.process_group = process_group
        self.count = torch.tensor([0], device=device).float()
        self.max_count = torch.tensor([0], device=device).float()

    def __call__(self):
        r"""
        Counts the number of inputs processed on this iteration by all ranks
        by all-reducing a dim-1 one tensor; increments its own internal count.
        """
        Join.notify_join_context(self)
        t = torch.ones(1, device=self.device).float()
        dist.all_reduce(t)
        self.count += t

    def join_hook(self, **kwargs) -> JoinHook:
        r"""
        Return a join hook that shadows the all-reduce in :meth:`__call__`.

        This join hook supports the following keyword arguments:
            sync_max_count (bool, optional): whether to synchronize the maximum
                count across all ranks once all ranks join; default is ``False``.
        """
        sync_max_count = kwargs.get("sync_max_count", False)
        return CounterJoinHook(self, sync_max_count)

    @property
    def join_device(self) -> torch.device:
        return self.device

    @property
    def join_process_group(self):
        return self.process_group

    def find_common_rank(self, rank, to_consider):
        r"""
        Returns the max rank of the ones to consider over the process group.
        """
        common_rank = torch.tensor([rank if to_consider else -1], device=self.device)
        dist.all_reduce(common_rank, op=dist.ReduceOp.MAX, group=self.process_group)
        common_rank = common_rank.item()
        return common_rank

def worker(rank):
    assert torch.cuda.device_count() >= WORLD_SIZE
    os.environ['MASTER_ADDR'] = 'localhost'
    os.environ['MASTER_PORT'] = '29500'
    dist.init_process_group(BACKEND, rank=rank, world_size=WORLD_SIZE)

    counter = Counter(torch.device(f"cuda:{rank}"), dist.group.WORLD)
    inputs = [torch.tensor([1]).float() for _ in range(NUM_INPUTS + rank)]

    with Join([counter], sync_max_count=True):
        for _ in inputs:
            counter()

    print(f"{int(counter.count.item())} inputs processed before rank {rank} joined!")
    print(f"{int(counter.max_count.item())} inputs processed across all ranks!")

def main():
    mp.spawn(worker, nprocs=WORLD_SIZE, join=True)

if __name__ == "__main__":
    main()
'''

# Ours, before the tutorial's code: after every optimizer step, each rank adds its parameters
# (and those its process started its first step from) to the list in $OBSERVE_DIR/rank<r>.pt.
OBSERVER = '''
import os as _os
import torch as _torch
from torch.optim.optimizer import register_optimizer_step_pre_hook as _pre
from torch.optim.optimizer import register_optimizer_step_post_hook as _post
_start = {}

def _params(optimizer):
    return [p.detach().clone() for g in optimizer.param_groups for p in g["params"]]

def _first(optimizer, args, kwargs):
    _start.setdefault("params", _params(optimizer))

def _save(optimizer, args, kwargs):
    import torch.distributed as _dist
    path = _os.path.join(_os.environ["OBSERVE_DIR"], f"rank{_dist.get_rank()}.pt")
    steps = _torch.load(path) if _os.path.exists(path) else []
    steps.append({"seed": _torch.initial_seed(), "start": _start["params"],
                  "params": _params(optimizer)})
    _torch.save(steps, path)

_pre(_first)
_post(_save)
'''

CPU_DEVICES = [(".to(rank)", '.to("cpu")'), ("device_ids=[rank]", "device_ids=None"),
               ('BACKEND = "nccl"', 'BACKEND = "gloo"')]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def split_main(code: str) -> tuple:
    """(the cell's definitions, its ``if __name__ == "__main__":`` block)."""
    head, main = code.split('if __name__ == "__main__":')
    return head, 'if __name__ == "__main__":' + main


def substitute(code: str, pairs) -> str:
    for old, new in pairs:
        assert old in code, old
        code = code.replace(old, new)
    return code


def with_port(code: str, port: int) -> str:
    return re.sub(r"os.environ\['MASTER_PORT'\] = '\d+'",
                  f"os.environ['MASTER_PORT'] = '{port}'", code)


def dist_tuto_script(*cells: str, size: int = 2, template: str = TEMPLATE) -> str:
    head, main = split_main(template)
    if size != 2:
        main = substitute(main, [("size = 2", f"size = {size}")])
    return with_port(head + "".join(cells) + main, free_port())


def sgd_script() -> str:
    mnist = substitute(PARTITION_MNIST, [("bsz = 128 / float(size)", "bsz = 128 // size")])
    return dist_tuto_script(SGD_IMPORTS, NET, PARTITION, mnist, SGD, AVERAGE_GRADIENTS)


def ddp_script() -> str:
    code = DDP_SETUP + substitute(DDP_BASIC, CPU_DEVICES[:2])
    code += substitute(DDP_CHECKPOINT, CPU_DEVICES[:2]) + DDP_MAIN
    return OBSERVER + with_port(code, free_port())


def elastic_script() -> str:
    return OBSERVER + substitute(ELASTIC_DDP, [
        ('"nccl"', '"gloo"'), ("device_id = rank % torch.cuda.device_count()", 'device_id = "cpu"'),
        ("device_ids=[device_id]", "device_ids=None")])


def join_script(zero: bool = False) -> str:
    head, main = split_main(substitute(JOIN_DDP, CPU_DEVICES))
    if zero:
        head += substitute(JOIN_ZERO, CPU_DEVICES[:2])
    return OBSERVER + with_port(head + main, free_port())


def counter_script() -> str:
    code = substitute(JOIN_COUNTER, CPU_DEVICES[2:] + [
        ("    assert torch.cuda.device_count() >= WORLD_SIZE\n", ""),
        ('torch.device(f"cuda:{rank}")', 'torch.device("cpu")')])
    return with_port(code, free_port())


def run_tutorial(folder, code: str, *args: str, python=None, launcher=(), timeout=90):
    """Write ``code`` to folder/tutorial.py and run it as ``python tutorial.py args`` with
    torch = ember (``python`` given: that interpreter's own torch, no alias); ``launcher`` goes
    between the interpreter and the script (``-m ember.distributed.run ...``)."""
    folder.mkdir(exist_ok=True)
    (folder / "tutorial.py").write_text(code)
    env = dict(os.environ, OBSERVE_DIR=str(folder), TMPDIR=str(folder), OMP_NUM_THREADS="1")
    env.pop("PYTHONUNBUFFERED", None)  # each rank's prints come out whole, at its exit
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if python is not None:
        cmd = [python, *launcher, "tutorial.py", *args]
    else:
        entry = folder / "_run_on_ember.py"
        entry.write_text(_ENTRY.format(runner_dir=os.path.dirname(os.path.abspath(__file__))))
        env.update(PYTHONPATH=os.pathsep.join([str(folder), root]),
                   EMBER_EXAMPLE_SCRIPT=str(folder / "tutorial.py"))
        cmd = [sys.executable, *launcher, str(entry), *args]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=timeout)


def lines(proc, sentence: str | None = None) -> list:
    """The sorted lines the ranks printed; or every match of the ``sentence`` pattern, where a
    launcher may let two ranks' prints run into one line."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if sentence is not None:
        return sorted(re.findall(sentence, proc.stdout))
    return sorted(line for line in proc.stdout.splitlines() if line.strip())


def observed(folder, size: int = 2) -> list:
    """Each rank's list of what OBSERVER saved, one entry per optimizer step."""
    return [ember.load(folder / f"rank{r}.pt") for r in range(size)]


# ---------------------------------------------------------------- tests: dist_tuto
# What each deterministic script prints (sorted lines); the tutorials state these results.
SCRIPTS = {
    "blocking": lambda: dist_tuto_script(BLOCKING),
    "non_blocking": lambda: dist_tuto_script(NON_BLOCKING),
    "all_reduce": lambda: dist_tuto_script(ALL_REDUCE),
    "all_reduce_fork": lambda: dist_tuto_script(ALL_REDUCE_FORK, template=TEMPLATE_FORK),
    "collectives": lambda: dist_tuto_script(COLLECTIVES_DRIVER),
    "ring": lambda: dist_tuto_script(RING, RING_DRIVER, size=3),
    "join_ddp": lambda: join_script(),
    "join_zero": lambda: join_script(zero=True),
    "join_counter": lambda: counter_script(),
}
RING_SUM = [float(v) for v in np.arange(4.0) * (1 + 2 + 3)]
JOIN_LINES = ["Rank 0 has exhausted all 5 of its inputs!",
              "Rank 1 has exhausted all 6 of its inputs!"]
EXPECTED = {
    "blocking": ["Rank  0  has data  tensor(1.)", "Rank  1  has data  tensor(1.)"],
    "non_blocking": ["Rank  0  has data  tensor(1.)", "Rank  1  has data  tensor(1.)",
                     "Rank 0 started sending", "Rank 1 started receiving"],
    "all_reduce": ["Rank  0  has data  tensor(2.)", "Rank  1  has data  tensor(2.)"],
    "all_reduce_fork": ["Rank  0  has data  tensor(2.)", "Rank  1  has data  tensor(2.)"],
    "collectives": ["Rank  0  collectives  [1.0, 2.0, 2.0, 0.0, [0.0, 1.0], [0.0, 2.0]]",
                    "Rank  1  collectives  [1.0, None, 2.0, 10.0, None, [0.0, 2.0]]"],
    "ring": [f"Rank  {r}  ring sum  {RING_SUM}" for r in range(3)],
    "join_ddp": JOIN_LINES,
    "join_zero": JOIN_LINES,
    "join_counter": ["10 inputs processed before rank 0 joined!",
                     "11 inputs processed across all ranks!",
                     "11 inputs processed across all ranks!",
                     "11 inputs processed before rank 1 joined!"],
}


@needs_mpi
@pytest.mark.parametrize("name", ["blocking", "non_blocking", "all_reduce", "all_reduce_fork",
                                  "collectives", "ring"])
def test_dist_tuto_communication(tmp_path, name):
    assert lines(run_tutorial(tmp_path, SCRIPTS[name]())) == EXPECTED[name]


def test_dist_tuto_float_batch_size_is_refused_as_by_pytorch():
    ns = run(SGD_IMPORTS.replace("from torchvision import datasets, transforms", "") + PARTITION)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        ember.utils.data.DataLoader(ns["Partition"](list(range(8)), [0, 1]),
                                    batch_size=128 / float(2), shuffle=True)


def _sgd_replay(folder) -> list:
    """One process replays both ranks: each epoch, rank r's loss and gradient on its partition
    from the ranks' common random state, then one SGD step with the mean gradient."""
    ns = run("import torch.distributed as dist\n" + SGD_IMPORTS + NET + PARTITION)
    torch, F = ember, ns["F"]
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        torch.manual_seed(1234)
        dataset = ns["datasets"].MNIST('./data', train=True, download=True,
                                       transform=ns["transforms"].Compose([
                                           ns["transforms"].ToTensor(),
                                           ns["transforms"].Normalize((0.1307,), (0.3081,))]))
        parts = ns["DataPartitioner"](dataset, [0.5, 0.5])
        loaders = [torch.utils.data.DataLoader(parts.use(r), batch_size=64, shuffle=True)
                   for r in range(2)]
        model = ns["Net"]()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
        losses = []
        for _epoch in range(10):
            state = torch.get_rng_state()
            replicas, epoch_loss = [], [0.0, 0.0]
            for r in range(2):
                torch.set_rng_state(state)
                replica = copy.deepcopy(model)
                steps = []
                for data, target in loaders[r]:
                    replica.zero_grad()
                    loss = F.nll_loss(replica(data), target)
                    epoch_loss[r] += loss.item()
                    loss.backward()
                    steps.append([p.grad.clone() for p in replica.parameters()])
                replicas.append(steps)
            assert len(replicas[0]) == 1, "one batch per epoch keeps the replay exact"
            for p, g0, g1 in zip(model.parameters(), replicas[0][0], replicas[1][0]):
                p.grad = (g0 + g1) / 2.0
            optimizer.step()
            n = math.ceil(len(loaders[0].dataset) / 64.0)
            losses.append([epoch_loss[0] / n, epoch_loss[1] / n])
        return losses
    finally:
        os.chdir(cwd)


@needs_mpi
@pytest.mark.filterwarnings("ignore:Implicit dimension choice")  # the script's log_softmax(x)
def test_dist_tuto_distributed_sgd_matches_one_process(tmp_path):
    write_mnist(tmp_path / "data", n_train=128, n_test=8)
    out = lines(run_tutorial(tmp_path, sgd_script()))
    got = {}
    for line in out:
        rank, epoch, loss = re.fullmatch(r"Rank\s+(\d)\s+, epoch\s+(\d+)\s+:\s+(\S+)", line).groups()
        got[int(rank), int(epoch)] = float(loss)
    expected = _sgd_replay(tmp_path)
    for epoch, pair in enumerate(expected):
        for rank in range(2):
            assert got[rank, epoch] == pytest.approx(pair[rank], rel=1e-5, abs=1e-6)
    # one step an epoch at lr 0.01 barely trains: a ten-way cross-entropy near log(10)
    assert all(abs(loss - np.log(10)) < 0.3 for pair in expected for loss in pair), expected


# ---------------------------------------------------------------- tests: ddp_tutorial
DEMO_LINES = sorted([f"Running basic DDP example on rank {r}." for r in range(2)]
                    + [f"Running DDP checkpoint example on rank {r}." for r in range(2)])
ELASTIC_LINES = [f"Start running basic DDP example on rank {r}." for r in range(2)]
ELASTIC_SENTENCE = r"Start running basic DDP example on rank \d+\."


def torchrun_args() -> list:
    return ["--nnodes=1", "--nproc_per_node=2", f"--master_port={free_port()}"]


def _ddp_replay(seeds: list) -> list:
    """One process: DDP's first step. Each rank builds its model and then draws its inputs from
    its own generator (its process's seed, nondeterministic as PyTorch's); DDP broadcasts rank
    0's model and averages the ranks' gradients; one SGD step."""
    ns = run(DDP_SETUP + DDP_BASIC)
    drawn = []
    for seed in seeds:
        ember.manual_seed(seed)
        drawn.append((ns["ToyModel"](), ember.randn(20, 10), ember.randn(20, 5)))
    model = drawn[0][0]
    loss = sum(ember.nn.MSELoss()(model(x), y) for _, x, y in drawn) / len(drawn)
    loss.backward()
    return [(p - 0.001 * p.grad).detach() for p in model.parameters()]


def _check_ddp_steps(folder, steps: int):
    ranks = observed(folder)
    assert [len(rank) for rank in ranks] == [steps] * len(ranks)
    for step in zip(*ranks):  # the same DDP step on each rank
        want = _ddp_replay([rank_step["seed"] for rank_step in step])
        for rank_step in step:
            for got, expected in zip(rank_step["params"], want):
                np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


@needs_mpi
def test_ddp_tutorial_demos_with_mp_spawn(tmp_path):
    # one job after the other on the one MASTER_PORT, as the tutorial's main block runs them
    assert lines(run_tutorial(tmp_path, ddp_script())) == DEMO_LINES
    _check_ddp_steps(tmp_path, 2)
    assert not (tmp_path / "model.checkpoint").exists()  # rank 0 removed it


@needs_mpi
def test_ddp_tutorial_elastic_ddp_with_torchrun(tmp_path):
    launcher = ["-m", "ember.distributed.run", *torchrun_args()]
    out = lines(run_tutorial(tmp_path, elastic_script(), launcher=launcher), ELASTIC_SENTENCE)
    assert out == ELASTIC_LINES
    _check_ddp_steps(tmp_path, 1)


# ---------------------------------------------------------------- tests: generic_join
@needs_mpi
@pytest.mark.parametrize("name", ["join_ddp", "join_counter"])
def test_generic_join(tmp_path, name):
    assert lines(run_tutorial(tmp_path, SCRIPTS[name]())) == EXPECTED[name]


# The gradients ZeRO's Adam steps with (no zero_grad in the loop): DDP averages the ranks'
# accumulated gradients, k at the k-th input while both train; at rank 1's sixth input the
# joined rank 0 all-reduces zeros, (6 + 0) / 2 = 3. The weight is rank 0's shard, which its
# join hook steps with its own last gradient (5); the bias is rank 1's (3).
ZERO_JOIN_GRADS = ([1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 5, 3])


def zero_join_updates() -> list:
    """One process: Adam(lr=0.01) over each parameter's gradient sequence; its update."""
    updates = []
    for grads in ZERO_JOIN_GRADS:
        p = ember.zeros(1, requires_grad=True)
        optimizer = ember.optim.Adam([p], lr=0.01)
        for g in grads:
            p.grad = ember.tensor([float(g)])
            optimizer.step()
        updates.append(p.detach().numpy().copy())
    return updates


def check_zero_join_updates(ranks):
    """Every rank moved the weight and the bias as the one-process replay does (``ranks``:
    what OBSERVER saved, ember's or PyTorch's tensors)."""
    for rank in ranks:
        last = rank[-1]
        assert len(last["params"]) == 2
        for start, end, want in zip(last["start"], last["params"], zero_join_updates()):
            np.testing.assert_allclose(np.ravel(np.asarray(end) - np.asarray(start)), want,
                                       rtol=1e-5, atol=1e-7)


@needs_mpi
def test_generic_join_with_ddp_and_zero(tmp_path):
    assert lines(run_tutorial(tmp_path, SCRIPTS["join_zero"]())) == EXPECTED["join_zero"]
    check_zero_join_updates(observed(tmp_path))
