"""ember's ``_utils._take_tensors`` buckets as PyTorch's does, and ember reads a Counter that
PyTorch saved, weights-only (tests/test_mmengine_gaps_s20.py checks them by hand)."""
from __future__ import annotations

import collections
import io

import pytest

import ember
from ember import _utils

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("limit", [1, 12, 30, 64, 1000])
def test_take_tensors_chunks_like_torch(limit):
    shapes = [((4,), "float32"), ((2,), "float64"), ((3,), "float32"), ((10,), "float32"),
              ((1,), "float64"), ((2,), "int64"), ((2,), "float32"), ((5,), "int64")]
    ours = [ember.zeros(s, dtype=getattr(ember, d)) for s, d in shapes]
    theirs = [torch.zeros(s, dtype=getattr(torch, d)) for s, d in shapes]

    def positions(chunks, tensors):
        return [[next(i for i, t in enumerate(tensors) if t is c) for c in chunk]
                for chunk in chunks]

    assert positions(_utils._take_tensors(ours, limit), ours) == \
        positions(torch._utils._take_tensors(theirs, limit), theirs)


def test_ember_loads_a_counter_torch_saved_weights_only():
    buffer = io.BytesIO()
    torch.save({"milestones": collections.Counter([1, 3, 3])}, buffer)
    buffer.seek(0)
    assert ember.load(buffer, weights_only=True)["milestones"] == collections.Counter([1, 3, 3])
