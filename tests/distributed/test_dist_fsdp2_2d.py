"""FSDP2 (``fully_shard``) on 2-d meshes of 4 MPI ranks: HSDP over (replicate, shard) trains
an MLP (SGD, AdamW, clip_grad_norm_) as one process does on the whole batch, with
``(Replicate(), Shard(0))`` parameters and the all-reduce switch; FSDP over tensor-parallel
parameters on (dp, tp) trains a Megatron-style MLP and an attention block likewise, with
PyTorch 2.13's 2-d placements (``_StridedShard`` where FSDP and TP cut the same dimension);
state dicts of 2-d DTensors and of whole tensors round-trip; FSDP1 over tensor-parallel
parameters trains as one process does (checks in dist_worker_fsdp2_2d.py)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_fsdp2_2d.py"
CHECKS = ["hsdp_mlp_sgd_matches_single_process", "hsdp_mlp_adamw_matches_single_process",
          "hsdp_placements_and_all_reduce_switch", "fsdp_tp_placements",
          "fsdp_tp_mlp_matches_single_process",
          "fsdp_tp_attention_block_matches_single_process", "state_dict_round_trip",
          "fsdp1_over_tp_mlp_matches_single_process"]


@pytest.fixture(scope="module")
def four_ranks(tmp_path_factory):
    return launch_and_read(WORKER, 4, CHECKS, tmp_path_factory.mktemp("fsdp2_2d"))


@pytest.mark.parametrize("name", CHECKS)
def test_fsdp2_2d(four_ranks, name):
    assert_passed(four_ranks, name)
