import sys

import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(autouse=True)
def _torch_distribution_validation():
    """Real torch.compile turns PyTorch's distribution argument checks off process-wide: keep
    them as they were for the tests after one that compiles (where torch is loaded at all)."""
    torch = sys.modules.get("torch")
    validate = torch.distributions.Distribution._validate_args if torch else __debug__
    yield
    torch = sys.modules.get("torch")  # (perhaps imported by the test)
    if torch is not None:
        torch.distributions.Distribution.set_default_validate_args(validate)


@pytest.fixture
def plain_dispatch_after():
    """For tests whose objects install __torch_function__ dispatch (a tracer-less fx Proxy):
    uninstall it afterwards if it was off before, so that later tests see the plain functions."""
    from ember import overrides
    installed_before = overrides._installed
    yield
    if not installed_before:
        overrides._uninstall()
