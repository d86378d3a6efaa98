"""torch.distributed.tensor's DTensor on 3 MPI ranks (the 2-d mesh on 4): distribute_tensor,
from_local, to_local, full_tensor and redistribute over Shard, Replicate, Partial and
_StridedShard placements, uneven shards included; pointwise, foreach and reduction ops with
their placements; plain tensors inside implicit_replication; autograd through ops and
conversions; optimizers and clip_grad_norm_ on DTensor parameters (checks in
dist_worker_dtensor.py, NumPy oracles)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_dtensor.py"
CHECKS = ["distribute_and_gather_1d", "from_local_and_redistribute",
          "partial_reduces_on_redistribute", "metadata_and_ops_without_rules", "pointwise_ops",
          "reductions", "autograd", "optimizers_and_clip_grad_norm"]


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 3, CHECKS, tmp_path_factory.mktemp("dtensor3"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_three_ranks(three_ranks, name):
    assert_passed(three_ranks, name)


def test_two_dim_mesh_on_four_ranks(tmp_path):
    results = launch_and_read(WORKER, 4, ["two_dim_mesh"], tmp_path)
    assert_passed(results, "two_dim_mesh")
