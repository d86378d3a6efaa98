"""FSDP2 (``fully_shard``) on 2 MPI ranks (uneven shards on 3): training an MLP and a
transformer block with each layer and the root sharded matches single-process training on
the whole batch in float64 (SGD, AdamW, clip_grad_norm_, reshard_after_forward True and
False); the sharded DTensor parameters and FSDPModule's methods; gradient accumulation
without sync; frozen parameters; mixed precision; state dicts of DTensors and full tensors;
register_fsdp_forward_method, ignored parameters; a model built on the meta device
(``to_empty``, ``reset_parameters`` on DTensors, full state dicts loaded with ``assign=True``
or DCP's ``set_model_state_dict``); the torch import paths (checks in dist_worker_fsdp2.py)."""
import pytest
from dist_harness import assert_passed, launch_and_read, mpiexec

pytest.importorskip("mpi4py")
if mpiexec() is None:
    pytest.skip("mpiexec is not installed (pip install mpich)", allow_module_level=True)

WORKER = "dist_worker_fsdp2.py"
CHECKS = ["mlp_sgd_matches_single_process", "mlp_adamw_matches_single_process",
          "transformer_block_matches_single_process", "frozen_parameter_trains_the_rest",
          "sharded_parameters_and_api",
          "root_keeps_parameters_gathered", "gradient_accumulation_without_sync",
          "mixed_precision", "state_dict_round_trip", "forward_method_and_ignored_params",
          "meta_device_init_and_full_state_loads", "torch_compat_import"]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return launch_and_read(WORKER, 2, CHECKS, tmp_path_factory.mktemp("fsdp2"))


@pytest.mark.parametrize("name", CHECKS)
def test_fsdp2(ranks, name):
    assert_passed(ranks, name)


def test_uneven_shards_on_three_ranks(tmp_path):
    results = launch_and_read(WORKER, 3, ["uneven_shards_on_three_ranks"], tmp_path)
    assert_passed(results, "uneven_shards_on_three_ranks")
