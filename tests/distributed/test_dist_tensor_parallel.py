"""torch.distributed.tensor.parallel and DTensor's sharding rules for matrix products, views and
nn ops, on 2 MPI ranks (the 2-d mesh on 4): placements, values and gradients against the whole
tensors; a Megatron-style MLP and an attention block trained tensor-parallel against the same
model trained in one process (checks in dist_worker_tensor_parallel.py)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_tensor_parallel.py"
CHECKS = ["matmul_rules", "view_rules", "nn_rules", "parameter_of_dtensor", "megatron_mlp",
          "attention_block", "sequence_parallel_and_prepare_styles"]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 2, CHECKS, tmp_path_factory.mktemp("tp2"))


@pytest.fixture(scope="module")
def four_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 4, ["two_dim_mesh_rules", "tensor_parallel_on_submesh"],
                           tmp_path_factory.mktemp("tp4"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_two_ranks(two_ranks, name):
    assert_passed(two_ranks, name)


@pytest.mark.parametrize("name", ["two_dim_mesh_rules", "tensor_parallel_on_submesh"])
def test_two_dim_mesh_on_four_ranks(four_ranks, name):
    assert_passed(four_ranks, name)
