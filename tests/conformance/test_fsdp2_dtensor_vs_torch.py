"""FSDP2 and DTensor against real PyTorch: the API surface of ``fully_shard``, FSDPModule and
the policies; ``_StridedShard``; ``compute_local_shape_and_global_offset`` over meshes, shapes,
placements and coordinates; and on 2 ranks the placements and values of DTensor ops and
gradients, and an FSDP2 step with and without mixed precision (dtensor_placements_script.py
run with PyTorch over gloo and with ember over MPI)."""
import inspect
import itertools
import os

import pytest

torch = pytest.importorskip("torch")

import ember.distributed.fsdp as efsdp  # noqa: E402
from ember.distributed._composable import fsdp as ecomposable  # noqa: E402
from ember.distributed.tensor import Replicate, Shard  # noqa: E402
from ember.distributed.tensor._utils import compute_local_shape_and_global_offset  # noqa: E402
from ember.distributed.tensor.placement_types import _StridedShard  # noqa: E402
from tests.conformance.gloo_vs_mpi import reports_on_both  # noqa: E402
from tests.distributed.test_dtensor_utils import Mesh  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def test_fully_shard_api_surface():
    import torch.distributed._composable.fsdp as tcomposable
    import torch.distributed.fsdp as tfsdp
    ours = inspect.signature(efsdp.fully_shard).parameters
    theirs = inspect.signature(tfsdp.fully_shard).parameters
    assert list(ours) == [n for n in theirs if n != "dp_mesh_dims"]
    for name in ours:
        assert ours[name].kind == theirs[name].kind, name
    assert ours["reshard_after_forward"].default is theirs["reshard_after_forward"].default
    for name in ("reshard", "unshard", "set_is_last_backward", "set_requires_gradient_sync",
                 "set_requires_all_reduce", "set_reshard_after_forward",
                 "set_reshard_after_backward", "set_modules_to_forward_prefetch",
                 "set_modules_to_backward_prefetch", "set_gradient_divide_factor",
                 "reset_iter_state"):
        assert hasattr(tfsdp.FSDPModule, name) and hasattr(efsdp.FSDPModule, name), name
        ours_m = inspect.signature(getattr(efsdp.FSDPModule, name)).parameters
        theirs_m = inspect.signature(getattr(tfsdp.FSDPModule, name)).parameters
        assert list(ours_m) == list(theirs_m), name
    for cls in ("MixedPrecisionPolicy", "CPUOffloadPolicy"):
        assert getattr(efsdp, cls)() == getattr(efsdp, cls)()
        ours_f = {k: v for k, v in vars(getattr(efsdp, cls)()).items()}
        theirs_f = {k: v for k, v in vars(getattr(tfsdp, cls)()).items()}
        assert ours_f.keys() == theirs_f.keys()
    assert issubclass(efsdp.CPUOffloadPolicy, efsdp.OffloadPolicy)
    for name in ("fully_shard", "FSDPModule", "MixedPrecisionPolicy", "CPUOffloadPolicy",
                 "OffloadPolicy", "register_fsdp_forward_method"):
        assert hasattr(tcomposable, name) and hasattr(ecomposable, name), name


def test_strided_shard_matches_torch():
    from torch.distributed.tensor import Shard as TShard
    from torch.distributed.tensor.placement_types import _StridedShard as TStrided
    for ours, theirs in [(_StridedShard(1, split_factor=2), TStrided(1, split_factor=2)),
                         (_StridedShard(0, sf=3), TStrided(0, sf=3))]:
        assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
        assert ours.is_shard() == theirs.is_shard() and ours.split_factor == theirs.split_factor
        assert (ours == Shard(ours.dim)) == (theirs == TShard(theirs.dim))
        assert isinstance(ours, Shard) == isinstance(theirs, TShard)
    with pytest.raises(TypeError, match="both split_factor and sf"):
        _StridedShard(0, split_factor=2, sf=2)


def _theirs(placement):
    from torch.distributed.tensor import Replicate as TReplicate
    from torch.distributed.tensor import Shard as TShard
    from torch.distributed.tensor.placement_types import _StridedShard as TStrided
    if isinstance(placement, _StridedShard):
        return TStrided(placement.dim, split_factor=placement.split_factor)
    return TShard(placement.dim) if placement.is_shard() else TReplicate()


@pytest.mark.parametrize("mesh_shape", [(2,), (3,), (2, 2), (2, 3)])
def test_compute_local_shape_and_global_offset_matches_torch(mesh_shape):
    from torch.distributed.tensor._utils import _compute_local_shape_and_global_offset
    choices = [Replicate(), Shard(0), Shard(1), _StridedShard(0, split_factor=2)]
    for shape in [(8, 6), (7, 5), (3, 2), (1, 4)]:
        for placements in itertools.product(choices, repeat=len(mesh_shape)):
            for coordinate in itertools.product(*[range(n) for n in mesh_shape]):
                mesh = Mesh(mesh_shape, coordinate)
                want = _compute_local_shape_and_global_offset(
                    shape, mesh_shape, list(coordinate), [_theirs(p) for p in placements])
                got = compute_local_shape_and_global_offset(shape, mesh, placements)
                assert got == want, (shape, placements, coordinate)


def test_dtensor_ops_and_gradients_match_torch(tmp_path):
    script = os.path.join(HERE, "dtensor_placements_script.py")
    for ours, theirs in reports_on_both(script, tmp_path):
        assert ours.keys() == theirs.keys()
        for name, want in theirs.items():
            rel = 1e-5 if name.startswith("fsdp_mp") else 1e-10  # float32 compute
            assert ours[name]["placements"] == want["placements"], name
            assert ours[name]["value"] == pytest.approx(want["value"], rel=rel, abs=1e-12), name
