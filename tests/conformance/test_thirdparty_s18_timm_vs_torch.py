"""timm on ember against the same script on real PyTorch with real torchvision (which timm
imports; tests/conformance/real_torchvision.py stands in for its compiled ops): the script of
tests/acceptance/test_thirdparty_s15_timm.py run under both in fresh interpreters. PyTorch's
random streams give both the same initial weights and data, so the eight architectures' outputs
and the training run's losses, learning rate and accuracy agree to float32 rounding."""
from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("torch")
if importlib.util.find_spec("torchvision") is None:
    pytest.skip("torchvision is not installed (timm needs it under PyTorch)",
                allow_module_level=True)

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_timm_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s15_timm", tmp_path)
    assert_reports_close(got, expected, rtol=1e-4, atol=1e-5)
