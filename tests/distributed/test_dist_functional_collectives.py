"""ember.distributed._functional_collectives on 2 and 3 MPI ranks: values against NumPy
oracles, gradients against the analytic ones (the checks are in
dist_worker_functional_collectives.py; each rank reports, each check is a test)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_functional_collectives.py"
CHECKS = ["all_reduce_values_and_group_forms", "subgroup", "all_reduce_gradient",
          "all_gather_and_gradient", "reduce_scatter_and_gradient", "all_to_all_and_gradient",
          "coalesced_and_gradient", "broadcast_and_permute", "async_collective_tensor"]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 2, CHECKS, tmp_path_factory.mktemp("two"), backend="gloo")


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 3, CHECKS, tmp_path_factory.mktemp("three"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_two_ranks(two_ranks, name):
    assert_passed(two_ranks, name)


@pytest.mark.parametrize("name", CHECKS)
def test_on_three_ranks(three_ranks, name):
    assert_passed(three_ranks, name)
