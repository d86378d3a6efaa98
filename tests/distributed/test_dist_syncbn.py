"""SyncBatchNorm on 2 MPI ranks: each rank's half of the batch normalised as the whole batch."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)


def test_sync_batchnorm_two_ranks(tmp_path):
    results = launch_and_read("dist_worker_syncbn.py", 2, ["matches_whole_batch_batchnorm"],
                              tmp_path)
    assert_passed(results, "matches_whole_batch_batchnorm")
