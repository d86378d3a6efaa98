"""Pipeline parallelism (ember.distributed.pipelining) on 2 and 4 MPI ranks: one step of
GPipe, 1F1B, Interleaved 1F1B and Looped BFS over an MLP and the tutorial's transformer,
split by hand or by ``pipeline``, gives the unsplit model's loss, output and gradients."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

CHECKS = ["gpipe_mlp", "1f1b_mlp", "interleaved_1f1b_mlp", "looped_bfs_mlp",
          "stages_on_one_rank_hand_over_locally", "transformer_gpipe_and_1f1b",
          "optimizer_step_then_next_step", "sum_loss_without_scaling", "eval_runs_forward_only",
          "tracer_split_matches", "declared_shapes_are_checked", "errors",
          "pipelines_in_subgroups"]
# Four ranks on a two-core machine: the schedules' message patterns only.
CHECKS_4 = ["gpipe_mlp", "1f1b_mlp", "interleaved_1f1b_mlp", "looped_bfs_mlp",
            "transformer_gpipe_and_1f1b", "tracer_split_matches", "errors",
            "pipelines_in_subgroups"]


@pytest.fixture(scope="module", params=[2, 4])
def ranks(request, tmp_path_factory):
    names = CHECKS if request.param == 2 else CHECKS_4
    return request.param, launch_and_read("dist_worker_pipelining.py", request.param, names,
                                          tmp_path_factory.mktemp(f"pp{request.param}"))


@pytest.mark.parametrize("name", CHECKS)
def test_pipelining(ranks, name):
    size, results = ranks
    if size == 4 and name not in CHECKS_4:
        pytest.skip("run on 2 ranks only")
    assert_passed(results, name)
