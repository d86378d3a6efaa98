"""ember.distributed without starting MPI: lazy imports, errors before init, the NCCL path's
errors when CuPy/NCCL is missing (the NCCL engine itself needs a GPU), Work and ReduceOp."""
import importlib.util
import subprocess
import sys

import pytest
from dist_harness import REPO

import ember
import ember.distributed as dist
from ember import nn


def test_import_ember_never_imports_mpi4py():
    code = ("import sys, ember, ember.nn, ember.utils.data, ember.distributed\n"
            "from ember.nn.parallel import DistributedDataParallel\n"
            "ember.distributed.is_available(); ember.distributed.is_nccl_available()\n"
            "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_without_a_launcher_the_world_is_one_process():
    pytest.importorskip("mpi4py")
    code = ("import os, ember, ember.distributed as dist\n"
            "dist.init_process_group('mpi')\n"
            "t = ember.ones(3)\n"
            "dist.all_reduce(t, op=dist.ReduceOp.AVG)\n"
            "assert dist.get_world_size() == 1 and t.tolist() == [1.0] * 3\n"
            "dist.destroy_process_group()\n"
            "os.environ.update(WORLD_SIZE='2', RANK='1')  # as torchrun would set them\n"
            "try:\n"
            "    dist.init_process_group('gloo')\n"
            "except RuntimeError as e:\n"
            "    assert 'mpiexec -n 2' in str(e), e\n"
            "else:\n"
            "    raise AssertionError('a torchrun-style launch must be refused')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_a_device_mesh_joins_the_world_when_none_was_joined():
    """As PyTorch's: ``init_device_mesh`` (and ``DeviceMesh``) call ``init_process_group()``
    first when the script has not (the tensor-parallel examples rely on it)."""
    pytest.importorskip("mpi4py")
    code = ("import ember.compat, ember.distributed as dist\n"
            "ember.compat.install()\n"
            "from torch.distributed._tensor.device_mesh import init_device_mesh\n"
            "from ember.distributed.device_mesh import DeviceMesh\n"
            "mesh = init_device_mesh('cpu', (1,))\n"
            "assert dist.is_initialized() and mesh.get_rank() == 0\n"
            "dist.destroy_process_group()\n"
            "assert DeviceMesh('cpu', [0]).size() == 1 and dist.is_initialized()\n")
    proc = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_device_id_must_be_an_accelerator_with_an_index():
    """As PyTorch's (the FSDP2 example passes its CPU device and fails there too)."""
    with pytest.raises(ValueError, match="must be an accelerator with an index"):
        dist.init_process_group("gloo", device_id=ember.device("cpu"))
    if not ember.cuda.is_available():
        with pytest.raises(ValueError, match="does not match the current compilation"):
            dist.init_process_group("gloo", device_id=ember.device("cuda:0"))
    assert not dist.is_initialized()


def test_is_available_means_mpi4py_is_installed():
    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)
    assert dist.is_gloo_available() == dist.is_mpi_available() == dist.is_available()
    assert ember.distributed is dist and nn.parallel.DistributedDataParallel is not None


@pytest.mark.parametrize("call", [
    lambda: dist.all_reduce(ember.ones(3)),
    lambda: dist.broadcast(ember.ones(3), src=0),
    lambda: dist.get_rank(),
    lambda: dist.barrier(),
    lambda: dist.new_group([0]),
    lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 1)),
])
def test_use_before_init_says_what_to_call(call):
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        call()


def test_invalid_backend_is_refused():
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("tcp")
    with pytest.raises(ValueError, match="CUDA tensors only"):
        dist.init_process_group("cpu:nccl")
    assert not dist.is_initialized()


@pytest.mark.parametrize("backend", ["nccl", "cpu:gloo,cuda:nccl"])
def test_nccl_without_cupy_says_what_is_missing(backend):
    if ember.cuda.is_available():
        pytest.skip("CuPy and a GPU are present: the NCCL engine itself runs instead")
    assert not dist.is_nccl_available()
    with pytest.raises(RuntimeError, match="CuPy"):
        dist.init_process_group(backend)
    assert not dist.is_initialized()


def test_reduce_op_and_backend_names():
    assert {op.name for op in dist.ReduceOp} >= {"SUM", "PRODUCT", "MIN", "MAX", "AVG"}
    assert dist.ReduceOp.RedOpType.SUM is dist.ReduceOp.SUM
    assert dist.Backend("GLOO") == dist.Backend.GLOO == "gloo"


def test_deprecated_reduce_op_spelling_warns_and_names_the_members():
    with pytest.warns(FutureWarning, match="reduce_op` is deprecated"):
        assert dist.reduce_op.SUM is dist.ReduceOp.SUM
    with pytest.warns(FutureWarning), pytest.raises(AttributeError, match="FOO"):
        _ = dist.reduce_op.FOO


class _Request:
    """A stand-in engine request that completes after ``polls`` tests (or never)."""

    def __init__(self, polls=None, error=None):
        self.polls, self.error = polls, error

    def Test(self):  # noqa: N802
        if self.polls is not None:
            self.polls -= 1
        return self.polls is not None and self.polls <= 0

    def Wait(self):  # noqa: N802
        if self.error:
            raise self.error


def test_work_runs_its_callbacks_once_and_names_failures():
    calls = []
    work = dist.Work("all_reduce", [_Request(polls=2)], result=["out"]).then(
        lambda: calls.append(1))
    assert not work.is_completed()
    assert work.is_completed() and calls == [1]
    assert work.wait() and work.result() == ["out"] and calls == [1]
    with pytest.raises(RuntimeError, match="broadcast failed: boom"):
        dist.Work("broadcast", [_Request(error=ValueError("boom"))]).wait()
    with pytest.raises(RuntimeError, match="recv: timed out"):
        dist.Work("recv", [_Request()]).wait(timeout=0.01)
    with pytest.raises(RuntimeError, match="source_rank"):
        dist.Work("send").source_rank()
