"""``_StridedShard`` and ``compute_local_shape_and_global_offset`` without a process group: a
rank's local shape and offset must describe the rows and columns it holds, found by cutting
index arrays as torch.chunk cuts (NumPy oracle)."""
import itertools

import numpy as np
import pytest

from ember.distributed.tensor import Replicate, Shard
from ember.distributed.tensor._utils import compute_local_shape_and_global_offset
from ember.distributed.tensor.placement_types import _StridedShard


class Mesh:
    """What the function asks of a mesh: this rank's coordinate and the dimension sizes."""

    def __init__(self, shape, coordinate):
        self.shape, self.coordinate = shape, coordinate

    def get_coordinate(self):
        return self.coordinate

    def size(self, dim):
        return self.shape[dim]


def chunk(indices, parts, index):
    step = -(-len(indices) // parts)
    return indices[min(index * step, len(indices)):min((index + 1) * step, len(indices))]


def held(size, mesh_shape, coordinate, placements, dim):
    """The global indices along ``dim`` that the rank holds, cut placement by placement."""
    indices = np.arange(size)
    for mesh_dim, p in enumerate(placements):
        if isinstance(p, _StridedShard) and p.dim == dim:
            parts = [chunk(c, mesh_shape[mesh_dim], coordinate[mesh_dim])
                     for c in (chunk(indices, p.split_factor, k) for k in range(p.split_factor))]
            indices = np.concatenate(parts)
        elif isinstance(p, Shard) and p.dim == dim:
            indices = chunk(indices, mesh_shape[mesh_dim], coordinate[mesh_dim])
    return indices


def test_strided_shard_is_a_placement_not_a_shard():
    s = _StridedShard(1, split_factor=2)
    assert s == _StridedShard(1, sf=2) and s != Shard(1) and not s.is_shard()
    assert repr(s) == "_StridedShard(dim=1, sf=2)" and str(s) == "_S(1, 2)"
    assert len({s, _StridedShard(1, sf=2), Shard(1)}) == 2
    with pytest.raises(TypeError, match="both split_factor and sf"):
        _StridedShard(0, split_factor=2, sf=3)


@pytest.mark.parametrize("mesh_shape", [(3,), (2, 2)])
def test_local_shape_and_offset(mesh_shape):
    choices = [Replicate(), Shard(0), Shard(1), _StridedShard(0, split_factor=2)]
    for shape in [(7, 5), (8, 4), (2, 3)]:
        for placements in itertools.product(choices, repeat=len(mesh_shape)):
            for coordinate in itertools.product(*[range(n) for n in mesh_shape]):
                got = compute_local_shape_and_global_offset(shape, Mesh(mesh_shape, coordinate),
                                                            placements)
                rows = [held(n, mesh_shape, coordinate, placements, d)
                        for d, n in enumerate(shape)]
                assert got[0] == tuple(len(r) for r in rows)
                assert got[1] == tuple(int(r[0]) if len(r) else n for r, n in zip(rows, shape))


def test_rank_outside_the_mesh():
    assert compute_local_shape_and_global_offset((4,), Mesh((2,), None), [Shard(0)]) == ((0,), ())
    got = compute_local_shape_and_global_offset((5, 2), Mesh((2,), (1,)), [Shard(0)],
                                                skip_offset=True)
    assert got == ((2, 2), ())
