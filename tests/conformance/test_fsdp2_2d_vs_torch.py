"""FSDP2 on 2-d meshes against real PyTorch on 4 ranks (fsdp2_2d_script.py run with PyTorch
over gloo and with ember over MPI): HSDP's ``(Replicate(), Shard(0))`` parameters and FSDP
over tensor parallelism's ``(_StridedShard, Shard)`` / ``(Shard, Shard)`` /
``(Shard, Replicate)`` ones, their local shapes, and one SGD step's gradients and parameters
(local shards and whole values)."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.conformance.gloo_vs_mpi import reports_on_both  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def test_fsdp2_on_2d_meshes_matches_torch(tmp_path):
    reports = reports_on_both(os.path.join(HERE, "fsdp2_2d_script.py"), tmp_path, world_size=4)
    for rank, (ours, theirs) in enumerate(reports):
        assert ours.keys() == theirs.keys()
        for name, want in theirs.items():
            got = ours[name]
            where = f"rank {rank}: {name}"
            assert got["placements"] == want["placements"], where
            assert got["local_shape"] == want["local_shape"], where
            np.testing.assert_allclose(got["local"], want["local"], rtol=1e-12, atol=1e-14,
                                       err_msg=where)
            np.testing.assert_allclose(got["value"], want["value"], rtol=1e-12, atol=1e-14,
                                       err_msg=where)
