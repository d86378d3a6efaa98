"""torch.distributed.rpc on ember against PyTorch's own (TensorPipe): one script, run by two
processes under ``mp.spawn`` with each library, reports calls, RRefs, the texts of a remote
error and of a timeout, and a distributed backward pass with a DistributedOptimizer step on a
float64 weight owned by the other worker; the two reports must agree (numbers to 1e-12)."""
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mpi4py")
if not torch.distributed.rpc.is_available():
    pytest.skip("this PyTorch build has no RPC", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
from acceptance_runner import run_script  # noqa: E402

SCRIPT = '''import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed.autograd as dist_autograd
import torch.distributed.rpc as rpc
import torch.multiprocessing as mp
from torch.distributed.optim import DistributedOptimizer

HELD = {}


def fail(message):
    raise ValueError(message)


def own_weight():
    HELD["w"] = torch.nn.Parameter(torch.tensor(np.linspace(-1.0, 1.0, 12).reshape(4, 3)))
    return rpc.RRef(HELD["w"])


def forward(x):
    return (x @ HELD["w"]).tanh()


def weight_grad(context_id):
    return dist_autograd.get_gradients(context_id)[HELD["w"]]


def weight():
    return HELD["w"].detach().clone()


def said(error):
    return [type(error).__name__, str(error).splitlines()[0]]


def run(rank, port):
    os.environ["MASTER_ADDR"] = "localhost"
    os.environ["MASTER_PORT"] = str(port)
    options = rpc.TensorPipeRpcBackendOptions(rpc_timeout=20)
    rpc.init_rpc(f"worker{rank}", rank=rank, world_size=2, rpc_backend_options=options)
    if rank == 0:
        report = {"add": rpc.rpc_sync("worker1", torch.add, args=(torch.ones(2), 3)).tolist()}
        try:
            rpc.rpc_sync("worker1", fail, args=("boom",))
        except Exception as e:
            report["remote_error"] = said(e)
        rref = rpc.remote("worker1", torch.mul, args=(torch.ones(2), 2))
        report["to_here"] = rref.to_here().tolist()
        report["owner"] = [repr(rref.owner()), rref.owner_name(), rref.is_owner()]
        try:
            rref.local_value()
        except Exception as e:
            report["local_value_error"] = type(e).__name__
        try:
            rpc.rpc_sync(1, time.sleep, args=(0.5,), timeout=0.1)
        except Exception as e:
            report["timeout"] = said(e)
        w_rref = rpc.rpc_sync("worker1", own_weight)
        x = torch.tensor(np.arange(8.0).reshape(2, 4) / 8, requires_grad=True)
        opt = DistributedOptimizer(torch.optim.SGD, [w_rref], lr=0.1)
        with dist_autograd.context() as context_id:
            loss = (rpc.rpc_sync("worker1", forward, args=(x,)) ** 2).sum()
            dist_autograd.backward(context_id, [loss])
            report["x_grad"] = dist_autograd.get_gradients(context_id)[x].tolist()
            report["x.grad"] = x.grad
            report["w_grad"] = rpc.rpc_sync("worker1", weight_grad, args=(context_id,)).tolist()
            opt.step(context_id)
        report["w_after"] = rpc.rpc_sync("worker1", weight).tolist()
        try:
            dist_autograd.get_gradients(context_id)
        except Exception as e:
            report["stale_context"] = said(e)
        print(json.dumps(report), flush=True)
    rpc.shutdown()


if __name__ == "__main__":
    mp.spawn(run, args=(int(sys.argv[1]),), nprocs=2, join=True)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(done) -> dict:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_rpc_and_distributed_autograd_match_pytorch(tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    theirs = report(subprocess.run([sys.executable, "script.py", str(free_port())], cwd=tmp_path,
                                   capture_output=True, text=True, timeout=120))
    ours = report(run_script(tmp_path, "script.py", str(free_port()), timeout=120))
    assert ours.keys() == theirs.keys()
    for key in ("x_grad", "w_grad", "w_after"):
        np.testing.assert_allclose(ours.pop(key), theirs.pop(key), rtol=1e-12)
    assert ours == theirs
