"""FullyShardedDataParallel on 2 MPI ranks: training on a split batch matches single-process
training on the whole batch (float64) for FULL_SHARD, SHARD_GRAD_OP and NO_SHARD, flat and with
nested auto-wrapped units; no_sync, clip_grad_norm_, full state dicts, summon_full_params,
sync_module_states, mixed precision, wrap policies, activation-checkpoint wrappers inside units,
ShardedGradScaler, errors."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

CHECKS = ["optim_state_dict_round_trip",
          "full_shard_matches_single_process", "shard_grad_op_matches_single_process",
          "no_shard_matches_single_process", "nested_units_match_single_process",
          "use_orig_params_matches_single_process",
          "transformer_policy_and_module_wrap_policy",
          "activation_checkpointing_inside_units", "apply_activation_checkpointing_to_units",
          "sharded_grad_scaler_skips_when_any_rank_overflows",
          "full_shard_frees_between_forward_and_backward", "no_sync_accumulates_then_reduces",
          "gradient_accumulation_without_no_sync", "clip_grad_norm_matches_single_process",
          "full_state_dict_keys_and_round_trip", "state_dict_of_a_plain_module_holding_units",
          "ignored_modules_keep_their_parameters", "frozen_unit_trains_the_rest",
          "summon_full_params_writeback",
          "sync_module_states_broadcasts_rank0", "mixed_precision", "eval_forward_and_wrap_api",
          "errors", "torch_compat_import"]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return launch_and_read("dist_worker_fsdp.py", 2, CHECKS, tmp_path_factory.mktemp("fsdp"))


@pytest.mark.parametrize("name", CHECKS)
def test_fsdp(ranks, name):
    assert_passed(ranks, name)
