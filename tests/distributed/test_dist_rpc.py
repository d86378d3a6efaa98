"""torch.distributed.rpc, distributed autograd and DistributedOptimizer on 3 MPI ranks: calls,
RRefs, remote exceptions, async_execution, timeouts, gradients and optimizer steps equal to the
same model's in one process, RemoteModule, RRef reference counting, RRef.backward and
_get_type, retain_graph, DDP averaging inside distributed autograd, graceful shutdown (checks
in dist_worker_rpc.py)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_rpc.py"
CHECKS = ["values", "rrefs", "remote_exceptions", "async_execution", "timeouts",
          "dist_autograd_matches_local", "distributed_optimizer_matches_local",
          "remote_module", "rref_counting", "rref_extras", "dist_autograd_retain_graph",
          "ddp_in_dist_autograd", "graceful_shutdown"]


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 3, CHECKS, tmp_path_factory.mktemp("rpc3"), timeout=120)


@pytest.mark.parametrize("name", CHECKS)
def test_on_three_ranks(three_ranks, name):
    assert_passed(three_ranks, name)


def test_require_initialized_decorator_refuses_before_init_rpc():
    """PyTorch's ``rpc.api._require_initialized`` (PyG wraps its RPC helpers with it)."""
    from ember.distributed.rpc import api

    @api._require_initialized
    def call(x):
        """a docstring kept by the wrapper"""
        return x

    assert call.__doc__ == "a docstring kept by the wrapper"
    with pytest.raises(RuntimeError, match="RPC has not been initialized"):
        call(1)
