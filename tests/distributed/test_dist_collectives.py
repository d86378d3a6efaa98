"""ember.distributed's collectives and messages on 2 and 3 MPI ranks, against NumPy oracles
(the checks are in dist_worker_collectives.py; each rank reports, each check is a test)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_collectives.py"
CHECKS = ["ranks", "all_reduce_ops", "all_reduce_bool_bitwise_bfloat16",
          "all_reduce_async_and_version", "broadcast", "reduce", "all_gather", "reduce_scatter",
          "gather_scatter", "all_to_all", "send_recv", "objects_and_barrier", "new_group",
          "local_errors"]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    # "gloo" is ember's alias for MPI on the CPU: the same checks hold.
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


def test_debug_detail_names_the_mismatched_op(tmp_path):
    results = launch_and_read(WORKER, 2, ["debug_mismatch"], tmp_path,
                              env={"TORCH_DISTRIBUTED_DEBUG": "DETAIL"})
    assert_passed(results, "debug_mismatch")
