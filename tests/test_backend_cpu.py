import sys

import pytest

from ember.backend.cpu import tune_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_allocator_tuning_is_accepted_by_glibc():
    import ctypes
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018  (raises where not glibc)
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert tune_allocator() is True
