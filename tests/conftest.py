import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def plain_dispatch_after():
    """For tests whose objects install __torch_function__ dispatch (a tracer-less fx Proxy):
    uninstall it afterwards if it was off before, so that later tests see the plain functions."""
    from ember import overrides
    installed_before = overrides._installed
    yield
    if not installed_before:
        overrides._uninstall()
