"""DistributedDataParallel on 2 and 3 MPI ranks: training on a split batch matches
single-process training on the whole batch (float64), plus no_sync, unused parameters,
buffers, errors, DistributedSampler; and the MNIST example under mpiexec."""
import os
import subprocess
import sys

import pytest
from dist_harness import REPO, assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

CHECKS = ["matches_single_process_training", "matches_with_many_buckets",
          "construction_broadcasts_rank0_state", "buffers_broadcast_each_forward",
          "no_sync_accumulates_then_averages", "find_unused_parameters",
          "unused_parameters_error_names_them", "eval_forward_without_backward_is_fine",
          "errors", "distributed_sampler"]


@pytest.fixture(scope="module", params=[2, 3])
def ranks(request, tmp_path_factory):
    return launch_and_read("dist_worker_ddp.py", request.param, CHECKS,
                           tmp_path_factory.mktemp(f"ddp{request.param}"))


@pytest.mark.parametrize("name", CHECKS)
def test_ddp(ranks, name):
    assert_passed(ranks, name)


def test_mnist_ddp_example_trains(tmp_path):
    from ember.examples import mnist
    if not any(mnist._has_files(source) for source in mnist._candidate_sources()):
        pytest.skip("no local MNIST copy")
    cmd = [mpiexec(), "-n", "2", sys.executable, "-m", "ember.examples.mnist_ddp",
           "--limit-train", "512", "--limit-test", "500", "--epochs", "1", "--no-progress",
           "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "over 2 ranks" in proc.stdout and "epoch 1: train loss" in proc.stdout
    import ember
    state = ember.load(str(tmp_path / "out" / "lenet5_mnist_ddp.pt"))
    assert state["conv1.weight"].shape == (6, 1, 5, 5)  # the unwrapped model's keys
