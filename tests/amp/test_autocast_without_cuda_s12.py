"""A CUDA autocast region on a machine without CUDA warns and runs with autocast off, as
PyTorch's does (``torch.cuda.amp.autocast()`` in CPU-only scripts, e.g. the "Accelerating
PyTorch with CUDA" tutorial)."""

import pytest

import ember

pytestmark = pytest.mark.skipif(ember.cuda.is_available(), reason="the machine has CUDA")

MESSAGE = "CUDA is not available or torch_xla is imported. Disabling autocast."


def test_cuda_autocast_without_cuda_is_off():
    with pytest.warns(UserWarning, match=MESSAGE):
        region = ember.autocast("cuda")
    assert region.enabled is False
    with region:
        assert not ember.is_autocast_enabled("cuda")
    with pytest.warns(FutureWarning), pytest.warns(UserWarning, match=MESSAGE):
        legacy = ember.cuda.amp.autocast()
    with legacy:
        assert not ember.is_autocast_enabled("cuda")


def test_disabled_or_cpu_regions_do_not_warn(recwarn):
    with ember.autocast("cuda", enabled=False):
        pass
    with ember.autocast("cpu"):
        assert ember.is_autocast_enabled("cpu")
    assert not [w for w in recwarn if MESSAGE in str(w.message)]
