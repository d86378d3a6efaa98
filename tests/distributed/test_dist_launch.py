"""Starting ranks as PyTorch programs do: ``python -m ember.distributed.run`` (torchrun) and
``ember.distributed.launch`` start them through mpiexec with torchrun's variables; ranks made by
``mp.spawn`` / ``mp.Process`` meet at MASTER_ADDR:MASTER_PORT (the tutorials' pattern); a
failing rank fails the job instead of leaving the others waiting."""
import ast
import copy
import importlib.util
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from dist_harness import REPO, mpiexec

import ember
from ember import nn
from ember.distributed import run as dist_run

HERE = os.path.dirname(os.path.abspath(__file__))
needs_mpi = pytest.mark.skipif(
    mpiexec() is None or importlib.util.find_spec("mpi4py") is None,
    reason="mpi4py or mpiexec is not installed (pip install mpi4py mpich)")


def _python(args, timeout=60):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reports(tmp_path, n=2):
    return [ast.literal_eval((tmp_path / f"rank{r}.txt").read_text()) for r in range(n)]


@needs_mpi
def test_run_starts_ranks_with_torchrun_variables(tmp_path):
    proc = _python(["-m", "ember.distributed.run", "--standalone", "--nnodes", "1",
                    "--nproc_per_node=2", os.path.join(HERE, "dist_worker_run.py"),
                    str(tmp_path), "--lr", "0.1"])
    assert proc.returncode == 0, proc.stderr
    for rank, report in enumerate(_reports(tmp_path)):
        assert report["rank"] == rank and report["size"] == 2
        env = report["env"]
        assert env["RANK"] == env["LOCAL_RANK"] == str(rank)
        assert env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == "2"
        assert env["MASTER_ADDR"] == "localhost" and int(env["MASTER_PORT"]) > 0
        assert report["sum"] == [3.0, 3.0]  # 1 + 2 from MPI's all_reduce
        assert report["args"] == ["--lr", "0.1"] and report["elastic"]


@needs_mpi
def test_run_fails_when_a_rank_fails(tmp_path):
    proc = _python(["-m", "ember.distributed.run", "--nproc-per-node", "2", "--master-port",
                    str(_free_port()), os.path.join(HERE, "dist_worker_run.py"), str(tmp_path),
                    "fail"])
    assert proc.returncode != 0
    assert "the job failed" in proc.stderr


@needs_mpi
@pytest.mark.parametrize("use_env", [False, True])
def test_launch_passes_the_local_rank(tmp_path, use_env):
    proc = _python(["-m", "ember.distributed.launch", *(["--use-env"] if use_env else []),
                    "--nproc_per_node=2", "--master_port", str(_free_port()),
                    os.path.join(HERE, "dist_worker_run.py"), str(tmp_path), "x"])
    assert proc.returncode == 0, proc.stderr
    assert "deprecated" in proc.stderr
    for rank, report in enumerate(_reports(tmp_path)):
        assert report["local"] == ([] if use_env else [f"--local-rank={rank}"])
        assert report["args"] == ["x"] and report["env"]["LOCAL_RANK"] == str(rank)


def test_run_command_sets_each_ranks_variables():
    args = dist_run.parse_args(["--nproc_per_node=3", "--master_addr", "10.0.0.1",
                                "--master_port", "1234", "-m", "pkg.train", "--epochs", "2"])
    cmd = dist_run.command(args)
    sets = " ".join(cmd[1:]).split(" : ")
    assert len(sets) == 3
    for rank, part in enumerate(sets):
        assert f"-env RANK {rank} -env LOCAL_RANK {rank}" in part
        assert part.endswith("-m mpi4py -m pkg.train --epochs 2")
    assert "-genv WORLD_SIZE 3" in sets[0] and "-genv MASTER_ADDR 10.0.0.1" in sets[0]
    assert "-genv MASTER_PORT 1234" in sets[0]


@pytest.mark.parametrize("argv", [["--nnodes", "2"], ["--max-restarts", "3"]])
def test_run_refuses_what_it_cannot_do(argv):
    with pytest.raises(ValueError):
        dist_run.command(dist_run.parse_args([*argv, "script.py"]))


def _ddp_oracle():
    """One process, the whole batch: rank 0's initial model, the mean of both ranks' gradients."""
    ember.manual_seed(0)
    from dist_worker_spawn import ToyModel
    model = ToyModel().double()
    grads = []
    for rank in range(2):
        ember.manual_seed(100 + rank)
        inputs = ember.randn(20, 10, dtype=ember.float64)
        labels = ember.randn(20, 5, dtype=ember.float64)
        replica = copy.deepcopy(model)
        nn.MSELoss()(replica(inputs), labels).backward()
        grads.append({name: p.grad.numpy() for name, p in replica.named_parameters()})
    return {name: p.detach().numpy() - 0.1 * (grads[0][name] + grads[1][name]) / 2
            for name, p in model.named_parameters()}


@needs_mpi
def test_mp_spawn_ddp_tutorial_demo_basic_matches_one_process(tmp_path):
    proc = _python([os.path.join(HERE, "dist_worker_spawn.py"), "ddp", str(_free_port()),
                    str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    expected = _ddp_oracle()
    for rank in range(2):
        got = np.load(tmp_path / f"rank{rank}.npz")
        for name, value in expected.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=1e-12)


@needs_mpi
def test_mp_process_dist_tuto_all_reduce(tmp_path):
    proc = _python([os.path.join(HERE, "dist_worker_spawn.py"), "tuto", str(_free_port()),
                    str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    for rank in range(2):
        assert (tmp_path / f"rank{rank}.txt").read_text().split() == [str(rank), "2", "3.0"]


@needs_mpi
def test_mp_spawn_failure_reaches_the_parent():
    proc = _python([os.path.join(HERE, "dist_worker_spawn.py"), "fail", str(_free_port())])
    assert proc.returncode == 0, proc.stderr
    assert "raised by process 1" in proc.stdout and "rank 1 gives up" in proc.stdout


@needs_mpi
def test_mp_process_rank_that_aborts_ends_the_job():
    # like mpiexec, the rendezvous stops every rank: rank 0 would wait for rank 1 forever
    proc = _python([os.path.join(HERE, "dist_worker_spawn.py"), "abort", str(_free_port())])
    assert proc.returncode == 0, proc.stderr
    assert "exit codes [-15, -15]" in proc.stdout, proc.stdout + proc.stderr


@needs_mpi
@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_forked_ranks_leave_no_shared_memory_behind(tmp_path):
    # a forked rank ends without MPI_Finalize; a stale segment would be read by a later job
    # whose KVS name hashes alike (see NOTE [ Rendezvous without mpiexec ])
    proc = _python([os.path.join(HERE, "dist_worker_spawn.py"), "shm", str(_free_port()),
                    str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    ours = (tmp_path / "segments.txt").read_text().split()
    assert ours  # the job had a segment (two ranks on one node share memory)
    for _ in range(100):  # the server removes it once both ranks are gone
        if not any(map(os.path.exists, ours)):
            break
        time.sleep(0.05)
    assert not any(map(os.path.exists, ours)), ours


def test_rendezvous_names_each_job_apart():
    from ember.distributed._rendezvous import _Store
    assert _Store(2).kvsname != _Store(2).kvsname


def test_world_without_master_address_says_what_is_missing():
    code = ("import os, ember.distributed as dist\n"
            "os.environ.pop('MASTER_ADDR', None)\n"
            "try:\n"
            "    dist.init_process_group('gloo', rank=0, world_size=2)\n"
            "except ValueError as e:\n"
            "    assert 'MASTER_ADDR' in str(e), e\n"
            "else:\n"
            "    raise AssertionError('no error')\n")
    proc = _python(["-c", code])
    assert proc.returncode == 0, proc.stderr
