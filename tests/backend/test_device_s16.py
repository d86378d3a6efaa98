"""ember.device as PyTorch's: a device equals only another device (``device("cpu") == "cpu"``
is False), and every device type PyTorch names can be named (libraries compare with
``device("mps")`` or ``"npu"``), though ember holds arrays only on cpu, cuda and meta."""
import pytest

import ember


def test_device_equals_only_devices():
    cpu = ember.device("cpu")
    assert cpu == ember.device("cpu") and cpu != ember.device("cpu", 0)
    assert cpu != ember.device("meta")
    assert not cpu == "cpu" and not cpu == "npu" and cpu != "npu"
    assert not cpu == 0 and not cpu == None  # noqa: E711 - the comparison is the test
    assert ember.zeros(1).device in {ember.device("cpu")}


def test_other_device_types_are_named_but_hold_no_tensors():
    mps = ember.device("mps")
    assert repr(mps) == "device(type='mps')" and str(ember.device("xpu:1")) == "xpu:1"
    assert mps == ember.device("mps") and mps != ember.device("cpu")
    with pytest.raises(RuntimeError, match="device type at start of device string: npu"):
        ember.device("npu")
    with pytest.raises(RuntimeError, match="no arrays on device mps"):
        ember.zeros(2, device="mps")
    with pytest.raises(RuntimeError, match="no arrays on device xla"):
        ember.ones(2).to("xla")
