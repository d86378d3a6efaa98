"""The rest of torch.distributed's data-parallel API on 3 MPI ranks (DeviceMesh on 4): object
messages, subgroups, monitored_barrier, coalesced collectives, Join with DDP and a custom
Joinable, ZeroRedundancyOptimizer, DDP communication hooks (checks in dist_worker_api.py,
oracles computed in one process on every rank)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_api.py"
CHECKS = ["object_lists", "subgroups", "monitored_barrier", "coalesced", "join_counter",
          "ddp_join_uneven_inputs", "ddp_join_divide_by_active_ranks",
          "ddp_join_broadcasts_buffers_from_a_training_rank",
          "join_throw_on_early_termination", "zero_matches_plain_optimizer",
          "zero_bucket_view_and_param_groups", "zero_with_join", "comm_hooks",
          "custom_comm_hook_sees_grad_buckets"]


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 3, CHECKS, tmp_path_factory.mktemp("api3"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_three_ranks(three_ranks, name):
    assert_passed(three_ranks, name)


def test_device_mesh_on_four_ranks(tmp_path):
    results = launch_and_read(WORKER, 4, ["device_mesh"], tmp_path)
    assert_passed(results, "device_mesh")
