"""``torch.distributed._tensor``, DTensor's old package name that PyTorch keeps (and libraries
such as opacus still import from): its names and submodules are the new package's. The
behaviour of ``implicit_replication`` on a mesh runs on MPI ranks (dist_worker_dtensor.py)."""
import importlib

import ember.distributed.tensor as new


def test_old_package_name_aliases_the_new_one():
    old = importlib.import_module("ember.distributed._tensor")
    assert old.DTensor is new.DTensor and old.Shard is new.Shard
    for submodule in ("experimental", "placement_types", "_utils"):
        assert (importlib.import_module(f"ember.distributed._tensor.{submodule}")
                is importlib.import_module(f"ember.distributed.tensor.{submodule}"))
    from ember.distributed._tensor.experimental import implicit_replication
    assert implicit_replication is new.experimental.implicit_replication
