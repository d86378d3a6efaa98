"""``ember.profiler.kineto_available`` (False: ember's profiler is its own) and
``ember.autograd.profiler.emit_nvtx``: an NVTX range around each function inside, which
needs a GPU as PyTorch's does, and does nothing when disabled."""
import pytest

import ember
from ember.autograd.profiler import _NvtxRanges, emit_nvtx


def test_kineto_is_not_available():
    assert ember.profiler.kineto_available() is False


def test_emit_nvtx_disabled_is_a_no_op_and_enabled_needs_a_gpu():
    with emit_nvtx(enabled=False):
        assert (ember.ones(2) + 1).tolist() == [2.0, 2.0]
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            with emit_nvtx():
                pass


def test_nvtx_ranges_name_each_call(monkeypatch):
    names = []
    monkeypatch.setattr(ember.cuda.nvtx, "range_push", names.append)
    monkeypatch.setattr(ember.cuda.nvtx, "range_pop", lambda: None)
    x = ember.ones(2, 3)
    with _NvtxRanges(record_shapes=True):
        ember.add(x, 1)
    assert names == ["add, sizes = [[2, 3]]"]
