"""torch.distributed.rpc on ember against PyTorch's own (TensorPipe): one script, run by two
processes under ``mp.spawn`` with each library, reports calls, RRefs, the texts of a remote
error and of a timeout, and a distributed backward pass with a DistributedOptimizer step on a
float64 weight owned by the other worker; a second script does the same for RemoteModule (its
outputs, gradients and refusals), ``RRef._get_type``/``backward``, the default timeout and
``retain_graph``; the two reports must agree (numbers to 1e-12)."""
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


REMOTE_MODULE_SCRIPT = '''import json
import os
import pickle
import sys

import numpy as np
import torch
import torch.distributed.autograd as dist_autograd
import torch.distributed.rpc as rpc
import torch.multiprocessing as mp
from torch.distributed.nn import RemoteModule


def set_weights(module_rref):
    module = module_rref.local_value()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(np.linspace(-1.0, 1.0, 12).reshape(3, 4)))
        module.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))


def param_grads(module_rref, context_id):
    grads = dist_autograd.get_gradients(context_id)
    return [grads[p].tolist() for p in module_rref.local_value().parameters()]


def squared_sum(x):
    return (x * x).sum()


def said(error):
    return [type(error).__name__, str(error).splitlines()[0]]


def attempt(fn):
    try:
        fn()
        return "no error"
    except Exception as e:
        return said(e)


def run(rank, port):
    os.environ["MASTER_ADDR"] = "localhost"
    os.environ["MASTER_PORT"] = str(port)
    options = rpc.TensorPipeRpcBackendOptions(rpc_timeout=20)
    rpc.init_rpc(f"worker{rank}", rank=rank, world_size=2, rpc_backend_options=options)
    if rank == 0:
        report = {}
        remote = RemoteModule("worker1/cpu", torch.nn.Linear, args=(4, 3),
                              kwargs={"dtype": torch.float64})
        rpc.rpc_sync("worker1", set_weights, args=(remote.get_module_rref(),))
        report["attrs"] = [remote.on, remote.device, remote.is_device_map_set]
        x = torch.tensor(np.arange(8.0).reshape(2, 4) / 8, requires_grad=True)
        report["forward"] = remote(x).tolist()
        report["forward_async"] = remote.forward_async(x).wait().tolist()
        report["remote_parameters"] = [[p.owner_name(), p.to_here().shape[0]]
                                       for p in remote.remote_parameters()]
        hooked = []
        x.register_post_accumulate_grad_hook(lambda p: hooked.append(p.grad))
        with dist_autograd.context() as context_id:
            loss = (remote(x) ** 2).sum()
            dist_autograd.backward(context_id, [loss], retain_graph=True)
            report["x_grad"] = dist_autograd.get_gradients(context_id)[x].tolist()
            report["param_grads"] = rpc.rpc_sync("worker1", param_grads,
                                                 args=(remote.get_module_rref(), context_id))
            dist_autograd.backward(context_id, [loss])
            report["post_accumulate_grad_hooks_run"] = len(hooked)
            report["second_backward"] = attempt(
                lambda: dist_autograd.backward(context_id, [loss]))
        for name in ("parameters", "named_parameters", "to", "state_dict", "zero_grad"):
            report[name] = attempt(getattr(remote, name))
        report["pickle"] = attempt(lambda: pickle.dumps(remote))
        report["parse"] = attempt(lambda: RemoteModule("a/b/c", torch.nn.ReLU))
        rref = rpc.remote("worker1", torch.add, args=(torch.ones(2), 1))
        report["get_type"] = [rref._get_type().__name__, rpc.RRef([1])._get_type().__name__]
        report["user_backward"] = attempt(rref.backward)
        report["text_backward"] = attempt(rpc.RRef("text").backward)
        y = torch.arange(3.0, requires_grad=True)
        rpc.RRef(squared_sum(y)).backward()
        report["local_backward"] = y.grad.tolist()
        report["timeout"] = [rpc.get_rpc_timeout()]
        rpc._set_rpc_timeout(5)
        report["timeout"].append(rpc.get_rpc_timeout())
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


def reports_of_both(tmp_path, source: str) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of ``source`` run as a script under each."""
    (tmp_path / "script.py").write_text(source)
    theirs = report(subprocess.run([sys.executable, "script.py", str(free_port())], cwd=tmp_path,
                                   capture_output=True, text=True, timeout=120))
    ours = report(run_script(tmp_path, "script.py", str(free_port()), timeout=120))
    assert ours.keys() == theirs.keys()
    return ours, theirs


def test_rpc_and_distributed_autograd_match_pytorch(tmp_path):
    ours, theirs = reports_of_both(tmp_path, SCRIPT)
    for key in ("x_grad", "w_grad", "w_after"):
        np.testing.assert_allclose(ours.pop(key), theirs.pop(key), rtol=1e-12)
    assert ours == theirs


def test_remote_module_and_rref_extras_match_pytorch(tmp_path):
    ours, theirs = reports_of_both(tmp_path, REMOTE_MODULE_SCRIPT)
    for key in ("forward", "forward_async", "x_grad"):
        np.testing.assert_allclose(ours.pop(key), theirs.pop(key), rtol=1e-12)
    for got, want in zip(ours.pop("param_grads"), theirs.pop("param_grads"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert ours == theirs
