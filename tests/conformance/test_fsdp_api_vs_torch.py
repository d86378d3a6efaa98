"""ember.distributed.fsdp's API against torch.distributed.fsdp's, without starting MPI (the
multi-process behaviour is in tests/distributed/test_dist_fsdp.py): signatures, enum members,
option fields, wrap policies' decisions."""
import dataclasses
import functools
import inspect

import pytest

torch = pytest.importorskip("torch")
tfsdp = pytest.importorskip("torch.distributed.fsdp")

from ember import nn  # noqa: E402
from ember.distributed import fsdp  # noqa: E402
from ember.distributed.fsdp import wrap  # noqa: E402

FSDP = fsdp.FullyShardedDataParallel
TFSDP = tfsdp.FullyShardedDataParallel


def _parameters(fn):
    return [(p.name, p.kind, p.default if p.default is not p.empty and
             isinstance(p.default, (bool, int, float, str, type(None))) else "<object>")
            for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", ["__init__", "clip_grad_norm_", "summon_full_params",
                                  "state_dict_type", "set_state_dict_type",
                                  "get_state_dict_type", "fsdp_modules", "no_sync"])
def test_methods_have_torchs_signature(name):
    assert _parameters(getattr(FSDP, name)) == _parameters(getattr(TFSDP, name))


@pytest.mark.parametrize("name", ["size_based_auto_wrap_policy", "transformer_auto_wrap_policy",
                                  "lambda_auto_wrap_policy", "always_wrap_policy", "wrap",
                                  "enable_wrap"])
def test_wrap_functions_have_torchs_signature(name):
    ours, theirs = getattr(wrap, name), getattr(tfsdp.wrap, name)
    assert [p[:2] for p in _parameters(ours)] == [p[:2] for p in _parameters(theirs)]


@pytest.mark.parametrize("name", ["ShardingStrategy", "BackwardPrefetch", "StateDictType"])
def test_enums_have_torchs_members(name):
    ours, theirs = getattr(fsdp, name), getattr(tfsdp, name)
    assert [(m.name, m.value) for m in ours] == [(m.name, m.value) for m in theirs]


@pytest.mark.parametrize("name", ["MixedPrecision", "CPUOffload", "FullStateDictConfig",
                                  "ShardedStateDictConfig", "LocalStateDictConfig",
                                  "OptimStateDictConfig", "FullOptimStateDictConfig",
                                  "ShardedOptimStateDictConfig", "LocalOptimStateDictConfig",
                                  "StateDictSettings"])
def test_options_have_torchs_fields(name):
    def fields(cls):
        return [(f.name, f.default if isinstance(f.default, (bool, type(None))) else "<object>")
                for f in dataclasses.fields(cls) if not f.name.startswith("_module")]
    assert fields(getattr(fsdp, name)) == fields(getattr(tfsdp, name))


def test_size_based_policy_decides_as_torchs():
    for ours, theirs in ((nn.Linear(3, 4), torch.nn.Linear(3, 4)),
                         (nn.ModuleList([nn.Linear(3, 4)]), torch.nn.ModuleList([])),
                         (nn.MultiheadAttention(4, 2), torch.nn.MultiheadAttention(4, 2))):
        for recurse in (True, False):
            for numel in (5, 500):
                mine = functools.partial(wrap.size_based_auto_wrap_policy, min_num_params=100)
                torchs = functools.partial(tfsdp.wrap.size_based_auto_wrap_policy,
                                           min_num_params=100)
                assert mine(module=ours, recurse=recurse, nonwrapped_numel=numel) == \
                    torchs(module=theirs, recurse=recurse, nonwrapped_numel=numel)
