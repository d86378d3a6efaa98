"""torch.distributed.nn.functional on 3 MPI ranks: every collective's values and the
gradients its backward sends to each rank's input (checks in dist_worker_nn_functional.py,
derived by hand)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

CHECKS = ["all_reduce", "all_gather", "broadcast_and_reduce", "gather_and_scatter",
          "reduce_scatter", "all_to_all", "all_to_all_single_uneven"]


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return launch_and_read("dist_worker_nn_functional.py", 3, CHECKS,
                           tmp_path_factory.mktemp("dist_nn"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_three_ranks(three_ranks, name):
    assert_passed(three_ranks, name)
