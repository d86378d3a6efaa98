"""Device names and comparisons against PyTorch's: which types name a device, and that a
device equals only a device, never a string."""
import pytest

import ember

torch = pytest.importorskip("torch")

TYPES = ["cpu", "cuda", "meta", "mps", "xpu", "xla", "hpu", "mtia", "privateuseone", "npu",
         "bogus"]


def named(lib, name):
    try:
        return repr(lib.device(name, 1))
    except RuntimeError:
        return None


@pytest.mark.parametrize("name", TYPES)
def test_device_types_and_comparisons_match_torch(name):
    assert named(ember, name) == named(torch, name)
    for lib in (ember, torch):
        cpu = lib.device("cpu")
        assert [cpu == name, cpu != name, cpu == lib.device("cpu")] == [False, True, True]
