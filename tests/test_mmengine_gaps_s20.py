"""What mmengine needed of ember: ``torch._utils._take_tensors`` (its bucketed all-reduce),
``nn.modules.conv._ConvTransposeMixin`` (imported for isinstance checks) and
``collections.Counter`` in weights-only checkpoints (a MultiStepLR's milestones)."""
from __future__ import annotations

import collections
import io

import numpy as np
import pytest

import ember
from ember import _utils
from ember.nn.modules.conv import _ConvTransposeMixin, _ConvTransposeNd


def test_take_tensors_buckets_each_type_under_the_byte_limit():
    tensors = [ember.zeros(4), ember.zeros(2, dtype=ember.float64), ember.zeros(3),
               ember.zeros(10), ember.zeros(1, dtype=ember.float64), ember.zeros(2)]
    # float32 sizes 16, 12, 40, 8 bytes and float64 16, 8 bytes under a 30-byte limit: a chunk
    # closes when the next tensor would overflow it, an oversized tensor stands alone, and the
    # open chunks come out last, each type in its first tensor's order
    chunks = list(_utils._take_tensors(tensors, 30))
    ids = [[next(i for i, t in enumerate(tensors) if t is c) for c in chunk] for chunk in chunks]
    assert ids == [[0, 2], [3], [5], [1, 4]]
    assert [sum(t.numel() * t.element_size() for t in chunk) for chunk in chunks] == \
        [28, 40, 8, 24]


def test_take_tensors_counts_sparse_indices_and_values():
    sparse = ember.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse()  # 2x2 int64 indices + 2 floats
    chunks = list(_utils._take_tensors([sparse, sparse], 40))
    assert [len(c) for c in chunks] == [1, 1]
    assert [len(c) for c in _utils._take_tensors([sparse, sparse], 80)] == [2]
    assert list(_utils._take_tensors([], 10)) == []


def test_conv_transpose_mixin_is_a_deprecated_transposed_convolution():
    with pytest.warns(FutureWarning, match="deprecated"):
        class Deconv(_ConvTransposeMixin, ember.nn.ConvTranspose2d):
            pass
        layer = Deconv(1, 2, 3)
    assert isinstance(layer, _ConvTransposeNd)
    assert not isinstance(ember.nn.ConvTranspose2d(1, 2, 3), _ConvTransposeMixin)
    x = ember.randn(1, 1, 4, 4)
    with ember.no_grad():
        np.testing.assert_allclose(layer(x).numpy(), ember.nn.functional.conv_transpose2d(
            x, layer.weight, layer.bias).numpy(), rtol=1e-6)


def test_weights_only_load_rebuilds_counters():
    buffer = io.BytesIO()
    milestones = collections.Counter({30: 1, 60: 2})
    ember.save({"milestones": milestones, "w": ember.ones(2)}, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer, weights_only=True)
    assert type(loaded["milestones"]) is collections.Counter
    assert loaded["milestones"] == milestones
